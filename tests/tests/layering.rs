//! The layout keeps one direction (issue 24): a crate below never depends on
//! one above, and no two source files of a crate import each other. Read
//! from the tree itself, so a new import that closes a loop fails here with
//! the two files named, not in a later review.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crates from the bottom up; each may depend only on those before it.
const LAYERS: [&str; 4] = ["screening", "virtual-patient", "device", "host"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The workspace crates `krate` depends on for building (not for its tests).
fn workspace_deps(krate: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(repo().join(krate).join("Cargo.toml")).unwrap();
    let manifest: toml::Table = text.parse().unwrap();
    let mut deps = BTreeSet::new();
    let mut tables = vec![manifest.get("dependencies")];
    if let Some(targets) = manifest.get("target").and_then(|t| t.as_table()) {
        tables.extend(targets.values().map(|t| t.get("dependencies")));
    }
    for table in tables.into_iter().flatten().filter_map(|t| t.as_table()) {
        deps.extend(
            table
                .keys()
                .filter(|k| LAYERS.contains(&k.as_str()))
                .cloned(),
        );
    }
    deps
}

#[test]
fn no_crate_depends_on_one_above_it() {
    for (i, krate) in LAYERS.iter().enumerate() {
        for dep in workspace_deps(krate) {
            let at = LAYERS.iter().position(|l| *l == dep).unwrap();
            assert!(at < i, "{krate} depends on {dep}, which sits above it");
        }
    }
    // The kiosk and the clinic share only the library below them.
    assert!(!workspace_deps("host").contains("device"));
}

/// The module path of a source file below `src` (`record/chain.rs` is
/// `["record", "chain"]`, `lib.rs` is `[]`).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("lib" | "main" | "mod")
    ) {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file that counts for layering: no comments (doc links are
/// not imports) and no unit-test module at the bottom.
fn code(text: &str) -> String {
    let text = text
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::a::b` and `super::c` path in `code`, made absolute from
/// `module`, as the longest prefix that names a file of the crate.
fn imports(module: &[String], code: &str, files: &BTreeSet<Vec<String>>) -> BTreeSet<Vec<String>> {
    let mut found = BTreeSet::new();
    let bytes = code.as_bytes();
    for start in ["crate::", "super::"] {
        for (at, _) in code.match_indices(start) {
            let before = at.checked_sub(1).map(|i| bytes[i] as char);
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let path: String = code[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let mut segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            let mut full: Vec<String> = Vec::new();
            if segs.first() == Some(&"crate") {
                segs.remove(0);
            } else {
                full = module[..module.len().saturating_sub(1)].to_vec();
                segs.remove(0);
                while segs.first() == Some(&"super") {
                    full.pop();
                    segs.remove(0);
                }
            }
            full.extend(segs.iter().map(|s| s.to_string()));
            if let Some(k) = (1..=full.len()).rev().find(|&k| files.contains(&full[..k])) {
                found.insert(full[..k].to_vec());
            }
        }
    }
    found.remove(module);
    found
}

#[test]
fn no_two_files_of_a_crate_import_each_other() {
    let mut loops = Vec::new();
    for krate in LAYERS {
        let src = repo().join(krate).join("src");
        let mut paths = Vec::new();
        rust_files(&src, &mut paths);
        let files: BTreeMap<Vec<String>, PathBuf> = paths
            .into_iter()
            .map(|p| (module_of(&src, &p), p))
            .collect();
        let names: BTreeSet<Vec<String>> = files.keys().cloned().collect();
        let edges: BTreeMap<&Vec<String>, BTreeSet<Vec<String>>> = files
            .iter()
            .map(|(m, p)| {
                (
                    m,
                    imports(m, &code(&std::fs::read_to_string(p).unwrap()), &names),
                )
            })
            .collect();
        for (a, targets) in &edges {
            for b in targets {
                if a.as_slice() < b.as_slice() && edges.get(b).is_some_and(|t| t.contains(*a)) {
                    loops.push(format!("{krate}: {} <-> {}", a.join("/"), b.join("/")));
                }
            }
        }
    }
    assert!(loops.is_empty(), "files that import each other: {loops:#?}");
}

#[test]
fn the_check_sees_a_loop() {
    let files: BTreeSet<Vec<String>> = [vec!["a".to_string()], vec!["b".to_string()]].into();
    let a = imports(&["a".into()], "use super::b::Thing;", &files);
    let b = imports(&["b".into()], "fn f() { crate::a::g() }", &files);
    assert!(a.contains(&vec!["b".to_string()]) && b.contains(&vec!["a".to_string()]));
    assert!(imports(&["a".into()], "// see [`super::b`]", &files).contains(&vec!["b".to_string()]));
    assert!(imports(&["a".into()], &code("// see [`super::b`]"), &files).is_empty());
}
