//! A kiosk that cannot screen says so on its panel and stays there: here its
//! record log is damaged (a byte flipped inside a saved record, with valid
//! records after it). `kiosk run` must draw the service screen with the
//! reason and the technician's action, keep running instead of exiting into
//! a systemd restart loop, and leave the log byte for byte as it was.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use device::record_store::RecordStore;
use screening::record::RecordBody;

/// A store with three saved records, then one byte of the first flipped.
fn damaged_store(data: &Path) -> Vec<u8> {
    let mut store = RecordStore::open(data).expect("new store");
    for _ in 0..3 {
        store.append(RecordBody::example()).expect("append");
    }
    let first = store
        .log()
        .get(0)
        .expect("read")
        .expect("present")
        .to_bytes();
    drop(store);
    let path = data.join("records.log");
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes
        .windows(first.len())
        .position(|w| w == first.as_slice())
        .expect("the first record is in the log");
    bytes[at + first.len() / 2] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    bytes
}

/// Kills the kiosk however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_damaged_log_puts_the_kiosk_out_of_service_on_its_panel_and_leaves_the_log_alone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let screens = dir.path().join("screens");
    let before = damaged_store(&data);
    let config = dir.path().join("kiosk.toml");
    std::fs::write(
        &config,
        format!(
            "[display]\nkind = \"png\"\ndir = {:?}\n\n[storage]\ndata_dir = {:?}\n",
            screens, data
        ),
    )
    .unwrap();
    let mut kiosk = Running(
        Command::new(env!("CARGO_BIN_EXE_kiosk"))
            .args(["run", "--config"])
            .arg(&config)
            .env("KIOSK_LOG", "warn")
            .spawn()
            .expect("kiosk starts"),
    );
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
        std::fs::read(data.join("records.log")).unwrap(),
        before,
        "the damaged log is left as it was"
    );
    // Nothing was screened.
    let files: Vec<_> = std::fs::read_dir(&screens).unwrap().collect();
    assert_eq!(files.len(), 1, "only the service screen was drawn");
}
