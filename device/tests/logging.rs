//! The kiosk's log lines as the journal stores them: under systemd stderr
//! is a socket or a pipe, not a terminal, and escape codes there would be
//! printed literally by `journalctl`.

use std::process::Command;

#[test]
fn logs_to_a_pipe_carry_no_colour_codes() {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(["identity", "--data"])
        .arg(data.path())
        .env("KIOSK_LOG", "info")
        .output()
        .expect("kiosk runs");
    assert!(out.status.success(), "{out:?}");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("INFO"), "an info line is logged: {log}");
    assert!(!log.contains('\u{1b}'), "no escape codes: {log:?}");
}
