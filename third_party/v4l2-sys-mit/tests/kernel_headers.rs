//! The committed bindings against the kernel headers a C compiler sees.
//!
//! bindgen's own layout tests only compare the Rust structs with the numbers
//! bindgen wrote down when it ran; they cannot notice that the headers have
//! moved on. Here every `v4l2_*` struct and union size, alignment and named
//! field offset, and every integer `V4L2_*` macro in a bindings file, becomes
//! a C `_Static_assert` that the target's C compiler checks against
//! `<linux/videodev2.h>` (`-fsyntax-only`: nothing is linked or run, so the
//! ARM files are checked on this machine with Debian's cross compilers).

use std::path::PathBuf;
use std::process::Command;

/// Rust keywords bindgen escapes with a trailing underscore (`type` -> `type_`).
const ESCAPED: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "if", "impl", "in",
    "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "static", "struct", "super", "trait", "true", "try", "type", "typeof", "unsafe",
    "unsized", "use", "virtual", "where", "while", "yield",
];
/// The integer types bindgen gives `#define`d numbers (strings get `&[u8; N]`).
const INTEGERS: &[&str] = &["u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64"];

#[derive(Default)]
struct Layout {
    union: bool,
    size: Option<u64>,
    align: Option<u64>,
    offsets: Vec<(String, u64)>,
}

/// The first `<digits>usize` on this line or the next few.
fn usize_after(lines: &[&str], from: usize) -> u64 {
    lines[from..]
        .iter()
        .take(4)
        .find_map(|l| {
            let t = l.trim().trim_end_matches(',');
            t.strip_suffix("usize")?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no usize literal after line {}", from + 1))
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    let end = s[start..].find(close)? + start;
    Some(&s[start..end])
}

/// The C11 assertions a bindings file implies, one per line.
fn assertions(bindings: &str) -> Vec<String> {
    let lines: Vec<&str> = bindings.lines().collect();
    let mut layouts: Vec<(String, Layout)> = Vec::new();
    let mut constants = Vec::new();
    let mut current: Option<usize> = None;
    for (i, line) in lines.iter().enumerate() {
        if let Some(name) = between(line, "fn bindgen_test_layout_", "()") {
            let public = name.starts_with("v4l2_") && !name.contains("__bindgen");
            current = public.then(|| {
                let union = bindings.contains(&format!("pub union {name} {{"));
                layouts.push((
                    name.to_string(),
                    Layout {
                        union,
                        ..Layout::default()
                    },
                ));
                layouts.len() - 1
            });
        } else if line.starts_with('}') {
            current = None;
        } else if let Some(at) = current {
            let layout = &mut layouts[at].1;
            if line.contains("::std::mem::size_of::<") {
                layout.size = Some(usize_after(&lines, i + 1));
            } else if line.contains("::std::mem::align_of::<") {
                layout.align = Some(usize_after(&lines, i + 1));
            } else if let Some(field) = between(line, "addr_of!((*ptr).", ")") {
                if !field.starts_with("__bindgen") && !field.starts_with('_') {
                    layout
                        .offsets
                        .push((field.to_string(), usize_after(&lines, i)));
                }
            }
        }
        if let Some(rest) = line.strip_prefix("pub const V4L2_") {
            // pub const V4L2_NAME: u32 = 123;
            let (name, rest) = rest.split_once(": ").expect("a typed constant");
            let (ty, value) = rest.split_once(" = ").expect("a constant with a value");
            if !INTEGERS.contains(&ty) {
                continue;
            }
            let value = value.trim_end_matches(';');
            let (cast, suffix) = if ty.starts_with('i') {
                ("long long", "LL")
            } else {
                ("unsigned long long", "ULL")
            };
            constants.push(format!(
                "#ifdef V4L2_{name}\n_Static_assert(({cast})(V4L2_{name}) == {value}{suffix}, \
                 \"V4L2_{name} is {value}\");\n#endif"
            ));
        }
    }
    let mut out = Vec::new();
    for (name, l) in &layouts {
        let kind = if l.union { "union" } else { "struct" };
        let ty = format!("{kind} {name}");
        let size = l
            .size
            .unwrap_or_else(|| panic!("{name}: no size in its layout test"));
        out.push(format!(
            "_Static_assert(sizeof({ty}) == {size}, \"size of {name} is {size}\");"
        ));
        if let Some(align) = l.align {
            out.push(format!(
                "_Static_assert(_Alignof({ty}) == {align}, \"alignment of {name} is {align}\");"
            ));
        }
        for (field, offset) in &l.offsets {
            let c_field = field
                .strip_suffix('_')
                .filter(|f| ESCAPED.contains(f))
                .unwrap_or(field);
            out.push(format!(
                "_Static_assert(offsetof({ty}, {c_field}) == {offset}, \
                 \"offset of {name}.{c_field} is {offset}\");"
            ));
        }
    }
    out.extend(constants);
    out
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `compiler -fsyntax-only` over the assertions with the V4L2 header.
fn compile(asserts: &[String], compiler: &str, tag: &str) -> std::process::Output {
    let dir = std::env::temp_dir().join(format!("v4l2-layout-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join("check.c");
    let source = format!(
        "#include <stddef.h>\n#include <linux/videodev2.h>\n{}\n",
        asserts.join("\n")
    );
    std::fs::write(&c, source).unwrap();
    let out = Command::new(compiler)
        .args(["-std=gnu11", "-fsyntax-only"])
        .arg(&c)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {compiler}: {e}"));
    let _ = std::fs::remove_dir_all(&dir);
    out
}

fn bindings(file: &str) -> String {
    std::fs::read_to_string(crate_dir().join("src/bindings").join(file))
        .unwrap_or_else(|e| panic!("src/bindings/{file}: {e}"))
}

/// Checks `bindings/<file>.rs` with `compiler`; panics with the compiler's
/// words when an assertion fails. Returns how many held.
fn check(file: &str, compiler: &str) -> usize {
    let asserts = assertions(&bindings(file));
    let layouts = asserts.iter().filter(|a| a.contains("\"size of ")).count();
    assert!(
        layouts > 100,
        "{file}: only {layouts} v4l2 layouts found: did bindgen's test format change?"
    );
    let out = compile(&asserts, compiler, file);
    assert!(
        out.status.success(),
        "src/bindings/{file} disagrees with the kernel headers {compiler} sees \
         (regenerate with third_party/v4l2-sys-mit/regenerate.sh):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    asserts.len()
}

/// The C compiler to check with: `V4L2_CHECK_CC` when set, else `default`.
fn compiler(default: &str) -> String {
    std::env::var("V4L2_CHECK_CC").unwrap_or_else(|_| default.to_string())
}

#[test]
#[cfg(target_arch = "x86_64")]
fn x86_64_bindings_match_this_machines_kernel_headers() {
    // gcc and linux-libc-dev come with the toolchain on every machine that builds Rust here.
    let n = check("x86_64.rs", &compiler("cc"));
    eprintln!("x86_64: {n} assertions hold");
}

#[test]
#[ignore = "needs Debian's aarch64 cross compiler and headers (.ci/install-deps.sh cross); CI runs it"]
fn aarch64_bindings_match_debians_arm64_kernel_headers() {
    let n = check("aarch64.rs", &compiler("aarch64-linux-gnu-gcc"));
    eprintln!("aarch64: {n} assertions hold");
}

#[test]
#[ignore = "needs Debian's armhf cross compiler and headers (.ci/install-deps.sh cross); CI runs it"]
fn armv7_bindings_match_debians_armhf_kernel_headers() {
    let n = check("arm.rs", &compiler("arm-linux-gnueabihf-gcc"));
    eprintln!("armv7: {n} assertions hold");
}

#[test]
#[cfg(target_arch = "x86_64")]
fn a_wrong_size_is_caught() {
    // The check must be able to fail: one layout off by four bytes.
    let good = bindings("x86_64.rs");
    let broken = good.replacen(
        "::std::mem::size_of::<v4l2_format>(),\n        208usize",
        "::std::mem::size_of::<v4l2_format>(),\n        212usize",
        1,
    );
    assert_ne!(broken, good, "the v4l2_format size line moved");
    let out = compile(&assertions(&broken), &compiler("cc"), "broken");
    assert!(
        !out.status.success(),
        "a wrong v4l2_format size was not caught"
    );
    let words = String::from_utf8_lossy(&out.stderr);
    assert!(words.contains("size of v4l2_format is 212"), "{words}");
}
