//! Out of service: what the kiosk does when it cannot screen at all. It
//! says so on its own panel, in plain words with what the technician
//! should do, tells systemd it is up (so it is not restarted into a blank
//! panel ten times and given up on), and stays there, screening nobody and
//! changing nothing, until it is stopped. A camera that does not open is
//! the one failure that clears by itself (a USB camera enumerating after
//! the kiosk started at boot, or plugged back in): the kiosk asks it again
//! every [`CAMERA_RETRY`] and goes back into service when it answers.

use std::time::Duration;

use tracing::error;

use crate::camera::CameraError;
use crate::display::Display;
use crate::record_log::LogError;
use crate::record_store::StoreError;
use crate::screens::{self, Screen};
use crate::watchdog::{Heartbeat, NotifySocket};

/// Why the kiosk is out of service, for the panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfService {
    /// What failed, as the error chain says it.
    pub reason: String,
    /// What the technician should do about that kind of failure.
    pub action: &'static str,
}

/// The record log or the kiosk's keys cannot be trusted or opened.
const DATA_ACTION: &str = "Do not delete or move the kiosk's data folder: it holds saved \
     screenings. Copy it somewhere safe and call the technician.";
/// A model file is missing, altered or unreadable.
const MODELS_ACTION: &str = "The screening models are missing or altered. Reinstall the kiosk \
     package, then restart the kiosk.";
/// The camera is not there or not usable.
const CAMERA_ACTION: &str = "Check that the camera is plugged in. The kiosk starts by itself \
     as soon as the camera answers.";

/// How often a kiosk out of service for its camera asks the camera again.
pub const CAMERA_RETRY: Duration = Duration::from_secs(2);
/// Anything else.
const OTHER_ACTION: &str = "Call the technician and give them this message.";
/// A screening could not be saved: the card is full or failing.
const STORAGE_ACTION: &str = "The kiosk's storage is full or failing. Free space on its card, \
     or call the technician. The kiosk goes on by itself once it can save again.";

/// How often a kiosk out of service for its storage tries a write again.
pub const STORAGE_RETRY: Duration = Duration::from_secs(5);
/// Bytes the storage probe writes: more than a screening's record, its
/// saved mark and the ack cursor together.
const PROBE_BYTES: usize = 64 * 1024;

impl OutOfService {
    /// Reads what kind of failure `error` is from its chain.
    pub fn of(error: &anyhow::Error) -> OutOfService {
        let action = error
            .chain()
            .find_map(|cause| {
                if cause.is::<StoreError>() || cause.is::<LogError>() {
                    Some(DATA_ACTION)
                } else if cause.is::<screening::model::ModelError>()
                    || cause.is::<screening::face::FaceError>()
                    || cause.is::<screening::classifier::ClassifierError>()
                {
                    Some(MODELS_ACTION)
                } else if cause.is::<CameraError>() {
                    Some(CAMERA_ACTION)
                } else {
                    None
                }
            })
            .unwrap_or(OTHER_ACTION);
        OutOfService {
            reason: format!("{error:#}"),
            action,
        }
    }
}

impl OutOfService {
    /// Whether this failure may clear without a technician: the camera.
    pub fn clears_by_itself(&self) -> bool {
        self.action == CAMERA_ACTION
    }

    /// A screening that could not be saved, for `why`.
    pub fn storage(why: &dyn std::fmt::Display) -> OutOfService {
        OutOfService {
            reason: format!("the last screening could not be saved: {why}"),
            action: STORAGE_ACTION,
        }
    }
}

/// Whether the data folder takes a write again: a probe file of
/// [`PROBE_BYTES`], synced, then removed. It says nothing about the record
/// log itself, which the kiosk reopens (and so checks) before it screens.
pub fn storage_accepts(data_dir: &std::path::Path) -> bool {
    use std::io::Write;
    let probe = data_dir.join(".storage-probe.tmp");
    let written = std::fs::File::create(&probe).and_then(|mut f| {
        f.write_all(&[0u8; PROBE_BYTES])?;
        f.sync_all()
    });
    let _ = std::fs::remove_file(&probe);
    written.is_ok()
}

/// Shows `why` on `display`, logs it, and tells systemd the kiosk is up but
/// out of service, for a failure that may clear ([`OutOfService::clears_by_itself`]).
pub fn show_until_cleared(
    display: &mut impl Display,
    why: &OutOfService,
    notify: Option<&NotifySocket>,
) {
    error!(reason = %why.reason, "kiosk out of service until this clears");
    show(display, why);
    if let Some(socket) = notify {
        let status = why.reason.lines().next().unwrap_or_default();
        let _ = socket.notify(&format!("READY=1\nSTATUS=Out of service: {status}"));
    }
}

/// Waits `period`, beating `heartbeat`: the loop is alive, and meant to be idle.
pub fn idle(period: Duration, heartbeat: &Heartbeat) {
    let step = Duration::from_millis(500);
    let mut left = period;
    while !left.is_zero() {
        heartbeat.beat();
        let nap = left.min(step);
        std::thread::sleep(nap);
        left -= nap;
    }
}

/// Shows `why` on `display` and stays there until the process is stopped,
/// beating `heartbeat` (the loop is alive, and meant to be idle).
pub fn stay(
    display: &mut impl Display,
    why: &OutOfService,
    notify: Option<&NotifySocket>,
    heartbeat: &Heartbeat,
) -> ! {
    error!(reason = %why.reason, "kiosk out of service");
    show(display, why);
    if let Some(socket) = notify {
        // One line of STATUS for `systemctl status kiosk`.
        let status = why.reason.lines().next().unwrap_or_default();
        let _ = socket.notify(&format!("READY=1\nSTATUS=Out of service: {status}"));
    }
    loop {
        idle(Duration::from_secs(60), heartbeat);
    }
}

/// Draws the service screen; a display that fails now is only logged (there
/// is nowhere else to show it).
pub fn show(display: &mut impl Display, why: &OutOfService) {
    let screen = Screen::Service {
        reason: &why.reason,
        action: why.action,
    };
    display.set_title(&screen.name());
    let _ = screens::draw(&screen, display);
    if let Err(e) = display.flush() {
        error!("the service screen could not be shown either: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn the_action_follows_the_kind_of_failure() {
        let log = anyhow::Error::new(StoreError::Log(LogError::Locked {
            path: "/var/lib/kiosk/records.log".into(),
        }))
        .context("opening the record store in /var/lib/kiosk");
        let why = OutOfService::of(&log);
        assert_eq!(why.action, DATA_ACTION);
        assert!(
            why.reason.starts_with("opening the record store"),
            "{}",
            why.reason
        );
        assert!(
            why.reason.contains("in use by another kiosk process"),
            "{}",
            why.reason
        );

        let camera: anyhow::Result<()> = Err(CameraError::Disconnected {
            device: "/dev/video0".into(),
            detail: "open: No such device".into(),
        })
        .context("opening the camera /dev/video0");
        assert_eq!(OutOfService::of(&camera.unwrap_err()).action, CAMERA_ACTION);
        assert_eq!(
            OutOfService::of(&anyhow::anyhow!("disk full")).action,
            OTHER_ACTION
        );
    }
}
