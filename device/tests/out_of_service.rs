//! A kiosk that cannot screen says so on its panel and stays there: here its
//! record log is damaged (a byte flipped inside the first or the last saved
//! record, the log cut to its header, or deleted). `kiosk run` must draw the service screen with the
//! reason and the technician's action, keep running instead of exiting into
//! a systemd restart loop, and leave the log byte for byte as it was.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use device::record_store::RecordStore;
use screening::record::RecordBody;

/// How a saved log is damaged before the kiosk starts.
#[derive(Debug, Clone, Copy)]
enum Damage {
    /// A byte flipped inside the first saved record (valid records follow).
    FirstRecord,
    /// A byte flipped inside the last saved record: it must not be taken
    /// for an unfinished write and cut.
    LastRecord,
    /// The log cut back to its header.
    Truncated,
    /// The log deleted.
    Deleted,
}

/// A store with three saved records, then `damage` done to it. Returns the
/// log's bytes afterwards (`None`: no log file).
fn damaged_store(data: &Path, damage: Damage) -> Option<Vec<u8>> {
    let mut store = RecordStore::open(data).expect("new store");
    for _ in 0..3 {
        store.append(RecordBody::example()).expect("append");
    }
    let record = |i| {
        store
            .log()
            .get(i)
            .expect("read")
            .expect("present")
            .to_bytes()
    };
    let (first, last) = (record(0), record(2));
    drop(store);
    let path = data.join("records.log");
    let mut bytes = std::fs::read(&path).unwrap();
    let find = |r: &[u8], bytes: &[u8]| {
        bytes
            .windows(r.len())
            .position(|w| w == r)
            .expect("the record is in the log")
    };
    match damage {
        Damage::FirstRecord => {
            let at = find(&first, &bytes);
            bytes[at + first.len() / 2] ^= 0x40;
        }
        Damage::LastRecord => {
            let at = find(&last, &bytes);
            bytes[at + last.len() / 2] ^= 0x40;
        }
        Damage::Truncated => bytes.truncate(8),
        Damage::Deleted => {
            std::fs::remove_file(&path).unwrap();
            return None;
        }
    }
    std::fs::write(&path, &bytes).unwrap();
    Some(bytes)
}

/// Kills the kiosk however the test ends.
struct Running(Child);

impl Running {
    /// `kiosk run --config CONFIG`, logging warnings only.
    fn kiosk(config: &Path) -> Running {
        Running(
            Command::new(env!("CARGO_BIN_EXE_kiosk"))
                .args(["run", "--config"])
                .arg(config)
                .env("KIOSK_LOG", "warn")
                .spawn()
                .expect("kiosk starts"),
        )
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_damaged_log_puts_the_kiosk_out_of_service_on_its_panel_and_leaves_the_log_alone() {
    out_of_service_for(Damage::FirstRecord);
}

#[test]
fn damage_to_the_last_saved_record_is_not_cut_as_a_torn_write() {
    out_of_service_for(Damage::LastRecord);
}

#[test]
fn a_truncated_or_deleted_log_is_noticed_and_no_new_chain_is_started() {
    out_of_service_for(Damage::Truncated);
    out_of_service_for(Damage::Deleted);
}

/// Starts `kiosk run` on a store with `damage` and checks the service
/// screen, that it stays, and that the log is as the damage left it.
/// `KIOSK_SCREENSHOTS=DIR` keeps each service screen as `DIR/<damage>.png`.
fn out_of_service_for(damage: Damage) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let screens = dir.path().join("screens");
    let before = damaged_store(&data, damage);
    let config = dir.path().join("kiosk.toml");
    std::fs::write(
        &config,
        format!(
            "[display]\nkind = \"png\"\ndir = {:?}\n\n[storage]\ndata_dir = {:?}\n",
            screens, data
        ),
    )
    .unwrap();
    let mut kiosk = Running::kiosk(&config);
    let shown = screens.join("01-out-of-service.png");
    let started = Instant::now();
    while !shown.exists() {
        if let Some(status) = kiosk.0.try_wait().unwrap() {
            panic!("the kiosk exited ({status}) instead of showing the service screen");
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no service screen after two minutes"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // It stays: a technician, not a restart loop, deals with it.
    std::thread::sleep(Duration::from_secs(2));
    assert!(kiosk.0.try_wait().unwrap().is_none(), "the kiosk exited");
    let picture = image::open(&shown).expect("a PNG").into_rgb8();
    let red = picture
        .pixels()
        .filter(|p| p.0 == [0xC0, 0x1C, 0x28])
        .count();
    assert!(
        red * 2 > picture.pixels().len(),
        "the service screen is drawn"
    );
    assert_eq!(
        std::fs::read(data.join("records.log")).ok(),
        before,
        "{damage:?}: the damaged log is left as it was (and a deleted one is not recreated)"
    );
    if let Some(keep) = std::env::var_os("KIOSK_SCREENSHOTS") {
        let to = Path::new(&keep).join(format!("out-of-service-{damage:?}.png").to_lowercase());
        std::fs::copy(&shown, to).expect("copy the screenshot");
    }
    // Nothing was screened.
    let files: Vec<_> = std::fs::read_dir(&screens).unwrap().collect();
    assert_eq!(files.len(), 1, "only the service screen was drawn");
}

/// The first PNG under `screens` whose name is not `skip`, waiting at most
/// two minutes while the kiosk keeps running.
fn wait_for_screen(kiosk: &mut Running, screens: &Path, skip: &[&str]) -> std::path::PathBuf {
    let started = Instant::now();
    loop {
        if let Some(status) = kiosk.0.try_wait().unwrap() {
            panic!("the kiosk exited ({status})");
        }
        let found = std::fs::read_dir(screens).ok().and_then(|entries| {
            let mut names: Vec<_> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    let name = p.file_name().unwrap().to_string_lossy().into_owned();
                    name.ends_with(".png") && !skip.contains(&name.as_str())
                })
                .collect();
            names.sort();
            names.into_iter().next()
        });
        if let Some(path) = found {
            return path;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no new screen after two minutes"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_camera_that_answers_late_brings_the_kiosk_back_into_service() {
    // A camera that is not there when the kiosk starts (a USB camera still
    // enumerating at boot, or unplugged): here a replay folder with no
    // picture yet. The kiosk says so, keeps asking, and screens once a
    // picture arrives, without a restart.
    let dir = tempfile::tempdir().unwrap();
    let (data, screens, frames) = (
        dir.path().join("data"),
        dir.path().join("screens"),
        dir.path().join("frames"),
    );
    std::fs::create_dir_all(&frames).unwrap();
    let config = dir.path().join("kiosk.toml");
    std::fs::write(
        &config,
        format!(
            "[camera]\nsource = \"replay\"\npath = {frames:?}\n\n[display]\nkind = \"png\"\ndir = {screens:?}\n\n\
             [input]\nkind = \"automatic\"\n\n[storage]\ndata_dir = {data:?}\n"
        ),
    )
    .unwrap();
    let mut kiosk = Running::kiosk(&config);
    let shown = wait_for_screen(&mut kiosk, &screens, &[]);
    assert!(
        shown.ends_with("01-out-of-service.png"),
        "{}",
        shown.display()
    );
    // Still out of service a few retries later, and drawn once, not per retry.
    std::thread::sleep(Duration::from_secs(5));
    assert!(kiosk.0.try_wait().unwrap().is_none(), "the kiosk exited");
    assert_eq!(std::fs::read_dir(&screens).unwrap().count(), 1);

    let face = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/grace_hopper.jpg");
    std::fs::copy(face, frames.join("frame-0001.jpg")).unwrap();
    let next = wait_for_screen(&mut kiosk, &screens, &["01-out-of-service.png"]);
    assert!(
        !next.to_string_lossy().contains("out-of-service"),
        "back in service: {}",
        next.display()
    );
}

/// The kiosk's standard error, collected as it comes.
fn collect(stderr: std::process::ChildStderr) -> std::sync::Arc<std::sync::Mutex<String>> {
    use std::io::BufRead;
    let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = text.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let mut t = sink.lock().unwrap();
            t.push_str(&line);
            t.push('\n');
        }
    });
    text
}

/// Waits until `text` holds `needle` after byte `from`; the offset after it.
fn wait_for_line(
    kiosk: &mut Running,
    text: &std::sync::Mutex<String>,
    needle: &str,
    from: usize,
) -> usize {
    let started = Instant::now();
    loop {
        if let Some(at) = text.lock().unwrap()[from..].find(needle) {
            return from + at + needle.len();
        }
        if let Some(status) = kiosk.0.try_wait().unwrap() {
            panic!(
                "the kiosk exited ({status}) before `{needle}`:\n{}",
                text.lock().unwrap()
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no `{needle}` after two minutes:\n{}",
            text.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_full_card_puts_the_kiosk_out_of_service_until_it_can_save_again() {
    // A full card, as the kiosk meets it: a write that fails part way. The
    // process's file-size limit stands in for the card (writes past it fail
    // with EFBIG; SIGXFSZ is ignored so they fail instead of killing it),
    // set just above the log as it is, and raised once the kiosk is out of
    // service, as a technician freeing space would.
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        let mut store = RecordStore::open(&data).unwrap();
        store.append(RecordBody::example()).unwrap();
    }
    let log = data.join("records.log");
    let before = std::fs::read(&log).unwrap();
    let config = dir.path().join("kiosk.toml");
    std::fs::write(
        &config,
        format!(
            "[display]\nkind = \"terminal\"\n\n[input]\nkind = \"automatic\"\n\n\
             [protocol]\nsettle_ms = 200\nresult_timeout_s = 1\n\n[storage]\ndata_dir = {data:?}\n"
        ),
    )
    .unwrap();
    // Room for the small state files, not for another record. `rlim_t` is
    // 32 bits on armv7 and 64 on the others.
    let limit = (before.len() + 200) as libc::rlim_t;
    let mut command = Command::new(env!("CARGO_BIN_EXE_kiosk"));
    command
        .args(["run", "--config"])
        .arg(&config)
        .env("KIOSK_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: limit,
                rlim_max: libc::RLIM_INFINITY,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().expect("kiosk starts");
    let text = collect(child.stderr.take().unwrap());
    let mut kiosk = Running(child);
    let at = wait_for_line(&mut kiosk, &text, "record NOT saved", 0);
    let at = wait_for_line(
        &mut kiosk,
        &text,
        "kiosk out of service until this clears",
        at,
    );
    let said = text.lock().unwrap()[at..].to_string();
    assert!(said.contains("could not be saved"), "{said}");
    // Out of service, and the log exactly as it was: the failed append was
    // cut back, nothing saved is touched.
    std::thread::sleep(Duration::from_secs(2));
    assert!(kiosk.0.try_wait().unwrap().is_none(), "the kiosk exited");
    assert_eq!(std::fs::read(&log).unwrap(), before, "the log is as it was");
    assert!(
        !text.lock().unwrap()[at..].contains("record saved"),
        "no screening while out of service"
    );

    // Space again: the kiosk reopens its log and screens, and saves.
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: a plain syscall on the child's pid.
    let rc = unsafe {
        libc::prlimit(
            kiosk.0.id() as libc::pid_t,
            libc::RLIMIT_FSIZE,
            &unlimited,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(
        rc,
        0,
        "raising the child's limit: {}",
        std::io::Error::last_os_error()
    );
    let at = wait_for_line(&mut kiosk, &text, "back in service", at);
    wait_for_line(&mut kiosk, &text, "record saved", at);
    drop(kiosk);
    let store = RecordStore::open(&data).expect("the log opens");
    assert!(
        store.len() >= 2,
        "a screening saved after the card had room"
    );
    assert!(std::fs::read(&log).unwrap().starts_with(&before));
}
