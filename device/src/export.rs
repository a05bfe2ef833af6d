//! `kiosk export DIR`: unacknowledged records onto a removable drive, for
//! clinics without a network.
//!
//! First the clinic's acknowledgement left on the drive by `clinic import`
//! is read (and checked against the pinned host key and the kiosk's own
//! chain) so records the clinic holds are not exported again; then the
//! remaining records go to `DIR/synkinesis/<device id>/records.sealed`,
//! sealed to the paired clinic's key (only that clinic can read them), with a
//! manifest signed by the kiosk that names the sealed file's SHA-256. A kiosk
//! that is not paired exports nothing: it has no key to seal to.

use screening::durable::write_atomic;
use screening::record::bundle::{
    seal_records, BundleFile, Manifest, SignedManifest, ACK_FILE, BUNDLE_ROOT, BUNDLE_VERSION,
    MANIFEST_FILE, PLAIN_RECORDS_FILE, RECORDS_FILE,
};
use screening::record::wire::SignedAck;
use screening::record::DeviceId;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::{info, warn};

use crate::record_store::{RecordStore, StoreError};
use crate::sync::PairedHost;

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// Writing to or reading from the drive failed.
    #[error("bundle folder {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The store refused (log I/O, bad acknowledgement).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No clinic key to seal the records to.
    #[error("this kiosk is not paired with a clinic, so its records cannot be sealed for one: run `kiosk pair --host-key HEX` with the clinic's key (`clinic identity`) first; nothing was written")]
    NotPaired,
    /// The pairing file holds no usable key.
    #[error("the paired clinic key is not usable ({0}): pair again with `kiosk pair --host-key HEX`; nothing was written")]
    BadPairing(String),
}

/// What an export did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportReport {
    /// The device folder written.
    pub folder: PathBuf,
    /// Records written.
    pub records: u64,
    /// First and last sequence written.
    pub range: Option<(u64, u64)>,
    /// Acknowledgement read from the drive: highest sequence, if it moved the cursor.
    pub ack_applied: Option<u64>,
}

/// The folder on the drive mounted at `dir` for `device`.
pub fn device_folder(dir: &Path, device: DeviceId) -> PathBuf {
    dir.join(BUNDLE_ROOT).join(device.to_hex())
}

/// Reads the clinic's acknowledgement on the drive (if any), then writes
/// the unacknowledged records and a signed manifest.
pub fn export(
    store: &mut RecordStore,
    paired: Option<&PairedHost>,
    dir: &Path,
) -> Result<ExportReport, ExportError> {
    let host_key = paired
        .ok_or(ExportError::NotPaired)?
        .key()
        .map_err(|e| ExportError::BadPairing(e.to_string()))?;
    let folder = device_folder(dir, store.device());
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ExportError::Io { path, source }
    };
    std::fs::create_dir_all(&folder).map_err(io_err(&folder))?;

    let mut ack_applied = None;
    let ack_path = folder.join(ACK_FILE);
    if ack_path.exists() {
        let bytes = std::fs::read(&ack_path).map_err(io_err(&ack_path))?;
        match SignedAck::decode(&bytes) {
            Ok(ack) => {
                if store.apply_ack(&ack, &host_key)? {
                    ack_applied = store.acknowledged_through();
                }
            }
            Err(e) => {
                warn!(path = %ack_path.display(), "acknowledgement file unreadable, ignored: {e}")
            }
        }
    }

    let records = store.unacknowledged(usize::MAX, usize::MAX)?;
    let range = records.first().zip(records.last()).map(|(a, b)| {
        let seq = |r: &screening::record::SignedRecord| {
            r.decode_unverified().map(|r| r.sequence).unwrap_or(0)
        };
        (seq(a), seq(b))
    });
    let file =
        seal_records(&host_key, &records).map_err(|e| ExportError::BadPairing(e.to_string()))?;
    let records_path = folder.join(RECORDS_FILE);
    write_atomic(&records_path, &file, 0o644).map_err(io_err(&records_path))?;
    let manifest = Manifest {
        version: BUNDLE_VERSION,
        device: store.device(),
        first_sequence: range.map_or(0, |r| r.0),
        last_sequence: range.map_or(0, |r| r.1),
        records: records.len() as u64,
        created_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0),
        files: vec![BundleFile::describe(RECORDS_FILE, &file)],
    };
    let signed = SignedManifest::sign(manifest, store.identity().signing_key());
    let manifest_path = folder.join(MANIFEST_FILE);
    let text = serde_json::to_vec_pretty(&signed).expect("manifest encodes");
    write_atomic(&manifest_path, &text, 0o644).map_err(io_err(&manifest_path))?;
    // An earlier version's plain records file would give away what the
    // sealed one hides; the manifest no longer names it.
    let plain = folder.join(PLAIN_RECORDS_FILE);
    if plain.exists() {
        std::fs::remove_file(&plain).map_err(io_err(&plain))?;
    }
    info!(folder = %folder.display(), records = records.len(), ?range, "bundle written");
    Ok(ExportReport {
        folder,
        records: records.len() as u64,
        range,
        ack_applied,
    })
}
