//! `kiosk run`: the kiosk proper. Assembles the parts the configuration
//! names ([`crate::parts`]) and runs screenings one after another until it
//! is stopped, syncing with the paired clinic between them.

use anyhow::Result;
use std::time::Duration;
use tracing::{error, info, warn};

use crate::archive::SignedArchive;
use crate::camera::Camera;
use crate::config::Config;
use crate::display::{AnyDisplay, Display};
use crate::parts::{self, KioskParts, Unassembled};
use crate::record_store::RecordStore;
use crate::service::{self, OutOfService};
use crate::session::{Session, SessionEnd};
use crate::sync::PairedHost;
use crate::watchdog::{self, Beating, NotifySocket};

/// Runs screenings until `limit` have completed (forever when `None`).
pub fn run(config: &Config, limit: Option<usize>) -> Result<()> {
    let notify = NotifySocket::from_env();
    let heartbeat = watchdog::start(notify.clone(), watchdog::watchdog_period_from_env());
    // Without a display there is nowhere to say what is wrong: that failure
    // alone ends the process. Any later one puts the kiosk out of service on
    // its own panel (`crate::service`), so a nurse sees why it will not
    // screen, and systemd does not restart it into a blank panel.
    let display = parts::open_display_waiting(&config.display, parts::DISPLAY_APPEARS_WITHIN)?;
    let mut out_for: Option<String> = None;
    let camera_wait = |display: &mut AnyDisplay, error: &anyhow::Error| {
        let why = OutOfService::of(error);
        if !why.clears_by_itself() {
            return false;
        }
        // Drawn and logged once per reason, not every retry.
        if out_for.as_deref() != Some(why.reason.as_str()) {
            service::show_until_cleared(display, &why, notify.as_ref());
            out_for = Some(why.reason);
        }
        service::idle(service::CAMERA_RETRY, &heartbeat);
        true
    };
    let KioskParts {
        models,
        camera,
        mut display,
        mut store,
    } = match KioskParts::assemble_waiting_for_camera(display, config, camera_wait) {
        Ok(parts) => parts,
        Err(unassembled) => {
            let Unassembled { mut display, error } = *unassembled;
            service::stay(
                &mut display,
                &OutOfService::of(&error),
                notify.as_ref(),
                &heartbeat,
            )
        }
    };
    let mut camera = Beating::new(camera, heartbeat.clone());
    let name = format!("kiosk {}", store.device().short());
    let (camera_name, display_name) = (camera.describe(), display.describe());
    info!(camera = %camera_name, display = %display_name, "kiosk ready");
    if let Some(socket) = &notify {
        // STATUS= clears an out-of-service line the camera wait left.
        if let Err(e) = socket.notify("READY=1\nSTATUS=") {
            warn!("could not tell systemd the kiosk is ready: {e}");
        }
    }
    sync_between_screenings(config, &mut store);
    let mut done = 0usize;
    while limit.is_none_or(|l| done < l) {
        let mut input = Beating::new(parts::open_input(&config.input)?, heartbeat.clone());
        let mut archive = SignedArchive {
            store: &mut store,
            model: models.evidence.clone(),
        };
        let opts = parts::session_options(config, name.clone(), models.rule);
        match Session::new(
            &mut camera,
            &mut display,
            &mut input,
            &models.stage,
            &mut archive,
            opts,
        )
        .with_classifier(models.classifier.as_ref())
        .with_series_model(models.series_model.as_ref())
        .run()
        {
            Ok(SessionEnd::Completed { screening, saved }) => {
                info!(
                    outcome = screening.decision.outcome.name(),
                    saved = saved.is_ok(),
                    "screening finished"
                );
                done += 1;
                if let Err(why) = &saved {
                    // The result screen said "NOT SAVED"; screening on would
                    // lose the next one too. Out of service until a write
                    // goes through, then the log is reopened (and checked):
                    // a failed append leaves it refusing writes.
                    drop(store);
                    store =
                        wait_for_storage(config, &mut display, why, notify.as_ref(), &heartbeat);
                }
                sync_between_screenings(config, &mut store);
            }
            Ok(SessionEnd::Cancelled) => info!("screening cancelled"),
            Err(e) => {
                // The display itself failed: nothing can be shown, so stop and let systemd restart us.
                error!("{e}");
                return Err(e.into());
            }
        }
    }
    Ok(())
}

/// Shows the storage service screen until the data folder takes a write,
/// then reopens the record store; a store that does not reopen keeps the
/// kiosk out of service for good.
fn wait_for_storage(
    config: &Config,
    display: &mut AnyDisplay,
    why: &dyn std::fmt::Display,
    notify: Option<&NotifySocket>,
    heartbeat: &watchdog::Heartbeat,
) -> RecordStore {
    service::show_until_cleared(display, &OutOfService::storage(why), notify);
    loop {
        service::idle(service::STORAGE_RETRY, heartbeat);
        if service::storage_accepts(&config.storage.data_dir) {
            break;
        }
    }
    match parts::open_store(&config.storage.data_dir) {
        Ok(store) => {
            info!("the data folder takes writes again: back in service");
            if let Some(socket) = notify {
                let _ = socket.notify("STATUS=");
            }
            store
        }
        Err(error) => service::stay(display, &OutOfService::of(&error), notify, heartbeat),
    }
}

/// Pushes unacknowledged records to the paired clinic, if the kiosk is
/// paired with an address and automatic sync is on. A failure is logged and
/// left for next time: the records stay in the log until a verified ack.
fn sync_between_screenings(config: &Config, store: &mut RecordStore) {
    if !config.sync.automatic || store.unacknowledged_count() == 0 {
        return;
    }
    let paired = match PairedHost::load(&config.storage.data_dir) {
        Ok(Some(paired)) => paired,
        Ok(None) => return,
        Err(e) => {
            warn!("automatic sync skipped: {e}");
            return;
        }
    };
    // Paired without an address: only USB export reaches that clinic.
    let Ok(url) = paired.address(None) else {
        return;
    };
    let timeout = Duration::from_secs(config.sync.timeout_s);
    match crate::sync::sync_paired(store, &paired, &url, timeout) {
        Ok(r) => info!(
            %url,
            sent = r.sent,
            stored = r.stored,
            remaining = r.remaining,
            "records synced with the clinic"
        ),
        Err(e) => {
            warn!("automatic sync with {url} failed; retrying after the next screening: {e}")
        }
    }
}
