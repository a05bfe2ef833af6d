//! `clinic import DIR`: USB bundles into the database, through the same
//! [`crate::ingest`] path as HTTP sync, then a host-signed acknowledgement
//! file back onto the drive for the kiosk's next export.
//!
//! For each `DIR/synkinesis/<device>/`: the manifest must be signed by an
//! enrolled kiosk and list exactly the records file, whose SHA-256 and
//! length must match and which must open with this clinic's key; a swapped,
//! damaged or foreign file refuses the whole bundle (nothing stored) with a
//! `warn` line and a security event.

use ed25519_dalek::SigningKey;
use screening::durable::write_atomic;
use screening::record::bundle::{
    open_records, SignedManifest, ACK_FILE, BUNDLE_ROOT, MANIFEST_FILE,
};
use screening::record::seal::ClinicSecret;
use screening::record::DeviceId;
use std::path::{Path, PathBuf};
use tracing::{info, warn};

use crate::ingest::{acknowledge, ingest, now_ms, IngestError, Via};
use crate::store::security::{SecurityEvent, SecurityKind};
use crate::store::{Store, StoreError};

/// Records per ingest transaction during an import.
const CHUNK: usize = 1000;

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The drive could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// No bundle folder on the drive.
    #[error("no `{BUNDLE_ROOT}` folder in {0}: is this the kiosk's export folder?")]
    NoBundles(PathBuf),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What happened to one kiosk's bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleOutcome {
    /// The bundle folder.
    pub folder: PathBuf,
    /// The kiosk, if the manifest named one.
    pub device: Option<DeviceId>,
    /// Records newly stored.
    pub stored: u64,
    /// Records already held.
    pub duplicates: u64,
    /// Why the bundle (or its rest) was refused.
    pub refused: Option<String>,
    /// Whether an acknowledgement file was written.
    pub acknowledged: bool,
}

/// Imports every bundle under `dir`. `progress` shows a bar per bundle.
pub fn import(
    store: &mut Store,
    host_key: &SigningKey,
    dir: &Path,
    progress: bool,
) -> Result<Vec<BundleOutcome>, ImportError> {
    let root = dir.join(BUNDLE_ROOT);
    if !root.is_dir() {
        return Err(ImportError::NoBundles(dir.to_path_buf()));
    }
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ImportError::Io { path, source }
    };
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&root)
        .map_err(io_err(&root))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    let clinic = ClinicSecret::for_bundles(host_key);
    let mut out = Vec::new();
    for folder in folders {
        out.push(import_bundle(store, host_key, &clinic, &folder, progress)?);
    }
    Ok(out)
}

fn refuse(mut outcome: BundleOutcome, reason: String) -> BundleOutcome {
    warn!(folder = %outcome.folder.display(), device = ?outcome.device, %reason, "bundle refused, nothing stored from it");
    outcome.refused = Some(reason);
    outcome
}

/// [`refuse`] for a bundle refused before any of its records was read, with
/// a security event (refused records have theirs from [`ingest`]).
fn refuse_bundle(
    store: &mut Store,
    outcome: BundleOutcome,
    reason: String,
) -> Result<BundleOutcome, ImportError> {
    store.record_security_event(&SecurityEvent {
        at_ms: now_ms(),
        kind: SecurityKind::BundleRefused,
        subject: outcome
            .device
            .map_or_else(|| outcome.folder.display().to_string(), |d| d.to_string()),
        address: "usb".into(),
        detail: reason.clone(),
    })?;
    Ok(refuse(outcome, reason))
}

fn import_bundle(
    store: &mut Store,
    host_key: &SigningKey,
    clinic: &ClinicSecret,
    folder: &Path,
    progress: bool,
) -> Result<BundleOutcome, ImportError> {
    let mut outcome = BundleOutcome {
        folder: folder.to_path_buf(),
        device: None,
        stored: 0,
        duplicates: 0,
        refused: None,
        acknowledged: false,
    };
    let manifest_path = folder.join(MANIFEST_FILE);
    let manifest: SignedManifest = match std::fs::read(&manifest_path) {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(m) => m,
            Err(e) => {
                return refuse_bundle(store, outcome, format!("manifest does not parse: {e}"))
            }
        },
        Err(e) => return refuse_bundle(store, outcome, format!("no readable manifest: {e}")),
    };
    let device = manifest.manifest.device;
    outcome.device = Some(device);
    let Some(dev) = store.device(device)? else {
        return refuse_bundle(store, outcome, format!("kiosk {device} is not enrolled"));
    };
    if let Err(e) = manifest.verify(&dev.key) {
        return refuse_bundle(store, outcome, e.to_string());
    }
    let entry = match manifest.records_file() {
        Ok(f) => f,
        Err(e) => return refuse_bundle(store, outcome, e.to_string()),
    };
    let records_path = folder.join(&entry.name);
    let bytes = match std::fs::read(&records_path) {
        Ok(b) => b,
        Err(e) => return refuse_bundle(store, outcome, format!("{}: {e}", records_path.display())),
    };
    if !entry.matches(&bytes) {
        let e = screening::record::bundle::BundleError::FileMismatch {
            name: entry.name.clone(),
        };
        return refuse_bundle(store, outcome, e.to_string());
    }
    let records = match open_records(clinic, &bytes) {
        Ok(r) => r,
        Err(e) => return refuse_bundle(store, outcome, e.to_string()),
    };
    let bar = progress.then(|| {
        let bar = indicatif::ProgressBar::new(records.len() as u64);
        bar.set_message(format!("kiosk {device}"));
        bar
    });
    let mut head = store.chain_head(dev.row_id)?;
    for chunk in records.chunks(CHUNK) {
        let report = match ingest(store, device, chunk, Via::Usb) {
            Ok(r) => r,
            Err(IngestError::UnknownDevice(d)) => {
                return Ok(refuse(outcome, format!("kiosk {d} is not enrolled")))
            }
            Err(IngestError::Store(e)) => return Err(e.into()),
        };
        outcome.stored += u64::from(report.stored);
        outcome.duplicates += u64::from(report.duplicates);
        head = report.head;
        if let Some(bar) = &bar {
            bar.inc(chunk.len() as u64);
        }
        if let Some(e) = report.refused {
            outcome.refused = Some(e.to_string());
            break;
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let ack_path = folder.join(ACK_FILE);
    write_atomic(
        &ack_path,
        &acknowledge(device, head, host_key).encode(),
        0o644,
    )
    .map_err(|source| ImportError::Io {
        path: ack_path.clone(),
        source,
    })?;
    outcome.acknowledged = true;
    info!(device = %device, stored = outcome.stored, duplicates = outcome.duplicates,
          acked = ?head.map(|h| h.0), "bundle imported");
    Ok(outcome)
}
