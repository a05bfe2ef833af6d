//! Where the kiosk keeps its screenings: identity, boot counter, record log
//! and the clinic's acknowledgement cursor, in one data folder.
//!
//! ```text
//! DATA/identity.key     Ed25519 secret (0600)
//! DATA/boot-counter     starts so far
//! DATA/records.log      the chain (see record_log)
//! DATA/acknowledged     highest sequence the paired clinic acknowledged, and its hash
//! DATA/paired-host.json the clinic's pinned public key (see sync)
//! ```
//!
//! [`RecordStore::append`] is what the session calls: it stamps the chain
//! header (sequence, previous hash, clock, boot counter, uptime), signs,
//! appends and returns only once the record is durable.

use ed25519_dalek::VerifyingKey;
use screening::durable::write_atomic;
use screening::record::wire::SignedAck;
use screening::record::{DeviceId, FormatError, Record, RecordBody, RecordHash, SignedRecord};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tracing::{info, warn};

use crate::identity::{self, Identity, IdentityError};
use crate::record_log::{LogError, OpenReport, RecordLog};

/// Record log file name inside the data folder.
pub const LOG_FILE: &str = "records.log";
/// Acknowledgement cursor file name inside the data folder.
pub const ACK_FILE: &str = "acknowledged";

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Identity or boot counter.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The record log.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The session's body breaks a format rule.
    #[error("record not written: {0}")]
    Format(#[from] FormatError),
    /// The acknowledgement cursor file.
    #[error("acknowledgement cursor {path}: {reason}")]
    Cursor {
        /// The cursor file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// An acknowledgement that does not match this kiosk's chain.
    #[error("the clinic acknowledged record {sequence} with a hash this kiosk never wrote ({detail}); nothing marked as synced")]
    AckMismatch {
        /// The acknowledged sequence.
        sequence: u64,
        /// What differs.
        detail: String,
    },
    /// The host's acknowledgement signature or device did not check.
    #[error("acknowledgement refused: {0}")]
    AckRefused(#[from] screening::record::wire::WireError),
}

/// The kiosk's record store.
#[derive(Debug)]
pub struct RecordStore {
    dir: PathBuf,
    identity: Identity,
    log: RecordLog,
    boot_counter: u64,
    started: Instant,
    acked: Option<(u64, RecordHash)>,
    open_report: OpenReport,
}

impl RecordStore {
    /// Opens the store in `data_dir` (created if needed), making the
    /// identity on first start, counting this start, verifying the log.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::Cursor {
            path: data_dir.to_path_buf(),
            reason: format!("cannot create the data folder: {e}"),
        })?;
        let identity = Identity::open_or_create(data_dir)?;
        let boot_counter = identity::bump_boot_counter(data_dir)?;
        let (log, open_report) = RecordLog::open(&data_dir.join(LOG_FILE), identity.public_key())?;
        let mut store = RecordStore {
            dir: data_dir.to_path_buf(),
            identity,
            log,
            boot_counter,
            started: Instant::now(),
            acked: None,
            open_report,
        };
        store.acked = store.read_cursor()?;
        if let Some((seq, _)) = store.acked {
            if seq >= store.log.len() {
                // Records the clinic holds were cut from the log (damage after sync).
                // Appending would fork the chain the clinic holds: refuse loudly.
                return Err(StoreError::Cursor {
                    path: store.dir.join(ACK_FILE),
                    reason: format!(
                        "the clinic acknowledged record {seq} but the log holds only {} records; \
                         the log lost synced records — do not append, call for help",
                        store.log.len()
                    ),
                });
            }
        }
        info!(device = %store.device(), records = store.log.len(), boot = boot_counter,
              acked = ?store.acknowledged_through(), "record store open");
        Ok(store)
    }

    /// Stamps, signs and appends one screening; returns once durable.
    pub fn append(&mut self, body: RecordBody) -> Result<SignedRecord, StoreError> {
        let wall_time_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let record = Record::new(
            self.device(),
            self.log.len(),
            self.log.last_hash(),
            wall_time_ms,
            self.boot_counter,
            self.started.elapsed().as_millis() as u64,
            body,
        );
        let signed = SignedRecord::sign(&record, self.identity.signing_key())?;
        self.log.append(&signed)?;
        Ok(signed)
    }

    /// The kiosk's identity.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The kiosk's device id.
    pub fn device(&self) -> DeviceId {
        self.identity.device()
    }

    /// The underlying log.
    pub fn log(&self) -> &RecordLog {
        &self.log
    }

    /// What opening the log found (torn tail cut, …).
    pub fn open_report(&self) -> &OpenReport {
        &self.open_report
    }

    /// Records written so far (= next sequence number).
    pub fn len(&self) -> u64 {
        self.log.len()
    }

    /// Whether no record was written yet.
    pub fn is_empty(&self) -> bool {
        self.log.is_empty()
    }

    /// This start's boot counter.
    pub fn boot_counter(&self) -> u64 {
        self.boot_counter
    }

    /// Highest sequence the paired clinic acknowledged.
    pub fn acknowledged_through(&self) -> Option<u64> {
        self.acked.map(|(s, _)| s)
    }

    /// First sequence not yet acknowledged.
    pub fn first_unacknowledged(&self) -> u64 {
        self.acked.map_or(0, |(s, _)| s + 1)
    }

    /// Records not yet acknowledged.
    pub fn unacknowledged_count(&self) -> u64 {
        self.log.len() - self.first_unacknowledged()
    }

    /// Up to `max_records` unacknowledged records within `max_bytes`.
    pub fn unacknowledged(
        &self,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Vec<SignedRecord>, StoreError> {
        Ok(self
            .log
            .read_range(self.first_unacknowledged(), max_records, max_bytes)?)
    }

    /// Applies a host acknowledgement after checking its signature against
    /// the pinned `host_key` and its hash against this kiosk's own record.
    /// Returns whether the cursor moved forward.
    pub fn apply_ack(
        &mut self,
        ack: &SignedAck,
        host_key: &VerifyingKey,
    ) -> Result<bool, StoreError> {
        let ack = ack.verify(host_key, self.device())?;
        let Some(seq) = ack.stored_through else {
            return Ok(false);
        };
        let mine = self.log.get(seq)?.ok_or_else(|| StoreError::AckMismatch {
            sequence: seq,
            detail: format!("this kiosk has written only {} records", self.log.len()),
        })?;
        if mine.hash() != ack.stored_hash {
            return Err(StoreError::AckMismatch {
                sequence: seq,
                detail: format!(
                    "clinic holds {}, kiosk wrote {}",
                    ack.stored_hash,
                    mine.hash()
                ),
            });
        }
        if self.acked.is_some_and(|(s, _)| s >= seq) {
            return Ok(false);
        }
        self.write_cursor(seq, ack.stored_hash)?;
        self.acked = Some((seq, ack.stored_hash));
        Ok(true)
    }

    /// Crash drill only: see [`RecordLog::set_split_writes`].
    #[doc(hidden)]
    pub fn set_split_writes(&mut self, pause: Option<std::time::Duration>) {
        self.log.set_split_writes(pause);
    }

    fn cursor_path(&self) -> PathBuf {
        self.dir.join(ACK_FILE)
    }

    fn read_cursor(&self) -> Result<Option<(u64, RecordHash)>, StoreError> {
        let path = self.cursor_path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(StoreError::Cursor {
                    path,
                    reason: e.to_string(),
                })
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        let parsed = text.trim().split_once(' ').and_then(|(s, h)| {
            let seq = s.parse::<u64>().ok()?;
            let mut hash = [0u8; 32];
            hex::decode_to_slice(h, &mut hash).ok()?;
            Some((seq, RecordHash(hash)))
        });
        let Some((seq, hash)) = parsed else {
            return Err(StoreError::Cursor {
                path,
                reason: "does not hold `SEQUENCE HASH`".into(),
            });
        };
        match self.log.get(seq)? {
            Some(r) if r.hash() != hash => {
                warn!(
                    seq,
                    "acknowledgement cursor names a record this log does not hold"
                );
                Err(StoreError::AckMismatch {
                    sequence: seq,
                    detail: "cursor file disagrees with the log".into(),
                })
            }
            _ => Ok(Some((seq, hash))),
        }
    }

    fn write_cursor(&self, seq: u64, hash: RecordHash) -> Result<(), StoreError> {
        let path = self.cursor_path();
        write_atomic(
            &path,
            format!("{seq} {}\n", hash.to_hex()).as_bytes(),
            0o644,
        )
        .map_err(|e| StoreError::Cursor {
            path,
            reason: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use screening::record::wire::{Ack, WIRE_VERSION};

    #[test]
    fn append_signs_chains_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = RecordStore::open(dir.path()).unwrap();
        let a = store.append(RecordBody::example()).unwrap();
        let b = store.append(RecordBody::example()).unwrap();
        let device = store.device();
        drop(store);
        let store = RecordStore::open(dir.path()).unwrap();
        assert_eq!(store.device(), device);
        assert_eq!(store.boot_counter(), 2);
        let rb = b.decode_unverified().unwrap();
        assert_eq!((rb.sequence, rb.prev_hash), (1, a.hash()));
        assert_eq!(store.unacknowledged(10, usize::MAX).unwrap(), vec![a, b]);
    }

    #[test]
    fn acks_are_checked_against_host_key_and_own_chain() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = RecordStore::open(dir.path()).unwrap();
        let recs: Vec<_> = (0..3)
            .map(|_| store.append(RecordBody::example()).unwrap())
            .collect();
        let host = SigningKey::from_bytes(&[42; 32]);
        let device = store.device();
        let ack = |seq: u64, hash| {
            SignedAck::sign(
                Ack {
                    version: WIRE_VERSION,
                    device,
                    stored_through: Some(seq),
                    stored_hash: hash,
                    issued_ms: 0,
                },
                &host,
            )
        };
        let good = ack(1, recs[1].hash());
        let wrong_hash = ack(1, recs[2].hash());
        let beyond = ack(7, recs[2].hash());
        let rogue = SigningKey::from_bytes(&[43; 32]);
        assert!(matches!(
            store.apply_ack(&good, &rogue.verifying_key()),
            Err(StoreError::AckRefused(_))
        ));
        assert!(matches!(
            store.apply_ack(&wrong_hash, &host.verifying_key()),
            Err(StoreError::AckMismatch { .. })
        ));
        assert!(matches!(
            store.apply_ack(&beyond, &host.verifying_key()),
            Err(StoreError::AckMismatch { .. })
        ));
        assert_eq!(store.acknowledged_through(), None);
        assert!(store.apply_ack(&good, &host.verifying_key()).unwrap());
        assert!(
            !store
                .apply_ack(&ack(0, recs[0].hash()), &host.verifying_key())
                .unwrap(),
            "never backwards"
        );
        assert_eq!(store.unacknowledged(10, usize::MAX).unwrap(), recs[2..]);
        drop(store);
        let store = RecordStore::open(dir.path()).unwrap();
        assert_eq!(store.acknowledged_through(), Some(1));
    }
}
