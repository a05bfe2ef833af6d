//! Pushing unacknowledged records to the paired clinic, in bounded batches.
//!
//! The kiosk pins the clinic's Ed25519 public key at pairing
//! (`kiosk pair --host-key HEX --url URL`). Before sending anything it asks
//! the server to sign a fresh nonce ([`Hello`]) and sends nothing unless the
//! pinned key signed it; every acknowledgement is host-signed too and is
//! checked against the kiosk's own record hash before the cursor moves.
//! Every batch is signed by the kiosk's key over the single-use challenge of
//! the clinic's last answer, so the clinic answers nobody else about this
//! kiosk and no captured request can be replayed.
//! Batches and answers are sealed ([`screening::record::seal`]) to the
//! X25519 key the pinned host key signed in its hello answer, so records and
//! patient references cross the clinic LAN encrypted even over plain HTTP:
//! see docs/ARCHITECTURE.md ("Records and sync").
//!
//! A sync run stops at the first failure; the log is durable and the cursor
//! only moves on a verified ack, so the next run resumes where this one
//! stopped, and records the host already holds come back as duplicates.

use ed25519_dalek::VerifyingKey;
use screening::durable::write_atomic;
use screening::record::seal::Session;
use screening::record::wire::{
    Hello, HelloAnswer, SyncBatch, SyncResponse, HELLO_PATH, MAX_BATCH_BYTES, MAX_BATCH_RECORDS,
    SYNC_PATH,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tracing::{info, warn};

use crate::record_store::{RecordStore, StoreError};

/// Pairing file name inside the data folder.
pub const PAIRED_HOST_FILE: &str = "paired-host.json";

/// Why a sync run stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The kiosk was never paired with a clinic.
    #[error(
        "this kiosk is not paired with a clinic: run `kiosk pair --host-key HEX --url URL` first"
    )]
    NotPaired,
    /// Paired, but with no address to reach the clinic at.
    #[error("no clinic address: give --url or pair with --url")]
    NoAddress,
    /// The pairing file is unreadable or malformed.
    #[error("pairing file {path}: {reason}")]
    Pairing {
        /// The pairing file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The network or server failed; try again later.
    #[error("transport: {0}")]
    Transport(#[from] TransportError),
    /// The server is not the paired clinic.
    #[error("the server did not prove it holds the paired clinic key; nothing was sent")]
    NotPairedHost,
    /// The server's answer does not decode.
    #[error("malformed answer from the clinic: {0}")]
    Malformed(String),
    /// The store refused (bad ack, I/O).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The clinic refused a record (gap, fork, …): retrying will not help.
    #[error("the clinic refused a record: {0}")]
    Refused(String),
    /// The clinic answered but its acknowledgement did not move forward.
    #[error("the clinic acknowledged nothing new for a non-empty batch; stopping")]
    NoProgress,
}

/// Why one request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// No answer (connection refused, reset, timed out, cut short).
    #[error("no answer from {url}: {reason}")]
    Unreachable {
        /// Where.
        url: String,
        /// What happened.
        reason: String,
    },
    /// An HTTP error status with the server's message.
    #[error("HTTP {status} from {url}: {message}")]
    Status {
        /// Where.
        url: String,
        /// The status code.
        status: u16,
        /// The body, as text (truncated).
        message: String,
    },
}

/// How records reach the clinic: HTTP in the field, in-process in tests.
pub trait SyncTransport {
    /// Sends a [`Hello`] and returns the answer's bytes.
    fn hello(&mut self, body: &[u8]) -> Result<Vec<u8>, TransportError>;
    /// Sends an encoded [`SyncBatch`] and returns the response's bytes.
    fn push(&mut self, body: &[u8]) -> Result<Vec<u8>, TransportError>;
}

/// Why a pinned clinic key is not usable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostKeyError {
    /// Not 64 hex digits.
    #[error("host key is not 64 hex characters: {0}")]
    NotHex(hex::FromHexError),
    /// 32 bytes that are no Ed25519 public key.
    #[error("host key is not an Ed25519 public key: {0}")]
    NotEd25519(ed25519_dalek::SignatureError),
}

/// The clinic this kiosk sends to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairedHost {
    /// The clinic's Ed25519 public key, hex.
    pub host_key: String,
    /// Base URL of `clinic serve`, e.g. `http://clinic.local:8470`.
    pub url: Option<String>,
}

impl PairedHost {
    /// Where to reach the clinic: `url` when given, else the address saved
    /// at pairing.
    pub fn address(&self, url: Option<String>) -> Result<String, SyncError> {
        url.or_else(|| self.url.clone()).ok_or(SyncError::NoAddress)
    }

    /// The pinned key.
    pub fn key(&self) -> Result<VerifyingKey, HostKeyError> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(self.host_key.trim(), &mut bytes).map_err(HostKeyError::NotHex)?;
        VerifyingKey::from_bytes(&bytes).map_err(HostKeyError::NotEd25519)
    }

    /// Reads the pairing in `data_dir` (`None` if never paired).
    pub fn load(data_dir: &Path) -> Result<Option<Self>, SyncError> {
        let path = data_dir.join(PAIRED_HOST_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let host: PairedHost =
                    serde_json::from_slice(&bytes).map_err(|e| SyncError::Pairing {
                        path: path.clone(),
                        reason: e.to_string(),
                    })?;
                host.key().map_err(|e| SyncError::Pairing {
                    path,
                    reason: e.to_string(),
                })?;
                Ok(Some(host))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(SyncError::Pairing {
                path,
                reason: e.to_string(),
            }),
        }
    }

    /// Checks and saves the pairing in `data_dir` (atomically).
    pub fn save(&self, data_dir: &Path) -> Result<(), SyncError> {
        let path = data_dir.join(PAIRED_HOST_FILE);
        self.key().map_err(|e| SyncError::Pairing {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        std::fs::create_dir_all(data_dir).map_err(|e| SyncError::Pairing {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let text = serde_json::to_vec_pretty(self).expect("pairing encodes");
        write_atomic(&path, &text, 0o644).map_err(|e| SyncError::Pairing {
            path,
            reason: e.to_string(),
        })
    }
}

/// Batch bounds for one sync run.
#[derive(Debug, Clone, Copy)]
pub struct SyncOptions {
    /// Records per batch (at most [`MAX_BATCH_RECORDS`]).
    pub batch_records: usize,
    /// Envelope bytes per batch (kept under [`MAX_BATCH_BYTES`]).
    pub batch_bytes: usize,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            batch_records: 128,
            batch_bytes: MAX_BATCH_BYTES / 2,
        }
    }
}

/// What a sync run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Batches sent.
    pub batches: u32,
    /// Records sent.
    pub sent: u64,
    /// Records newly stored by the clinic.
    pub stored: u64,
    /// Records the clinic already held.
    pub duplicates: u64,
    /// Highest sequence acknowledged after the run.
    pub acknowledged_through: Option<u64>,
    /// Records still unacknowledged.
    pub remaining: u64,
}

/// Sends every unacknowledged record, batch by batch, to the clinic whose
/// pinned key is `host_key`.
pub fn sync(
    store: &mut RecordStore,
    host_key: &VerifyingKey,
    transport: &mut dyn SyncTransport,
    opts: SyncOptions,
) -> Result<SyncReport, SyncError> {
    let mut report = SyncReport {
        acknowledged_through: store.acknowledged_through(),
        ..SyncReport::default()
    };
    if store.unacknowledged_count() == 0 {
        return Ok(report);
    }
    let mut nonce = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
    let hello = Hello { nonce };
    let answer = HelloAnswer::decode(&transport.hello(&hello.encode())?)
        .map_err(|e| SyncError::Malformed(e.to_string()))?;
    let sync_key = answer
        .verify(&hello, host_key)
        .map_err(|_| SyncError::NotPairedHost)?;
    // Each batch answers the clinic's latest challenge with this kiosk's
    // signature: the clinic tells nobody else anything about this chain.
    let mut challenge = answer.challenge;

    let batch_records = opts.batch_records.clamp(1, MAX_BATCH_RECORDS);
    let batch_bytes = opts.batch_bytes.min(MAX_BATCH_BYTES - 4096);
    loop {
        let records = store.unacknowledged(batch_records, batch_bytes)?;
        if records.is_empty() {
            break;
        }
        let before = store.acknowledged_through();
        let n = records.len() as u64;
        let plain = SyncBatch::signed(store.identity().signing_key(), challenge, records).encode();
        let (body, session) = Session::seal_request(&sync_key, &plain)
            .map_err(|e| SyncError::Malformed(format!("clinic sealing key: {e}")))?;
        let answer = session
            .open_answer(&transport.push(&body)?)
            .map_err(|e| SyncError::Malformed(e.to_string()))?;
        let response =
            SyncResponse::decode(&answer).map_err(|e| SyncError::Malformed(e.to_string()))?;
        store.apply_ack(&response.ack, host_key)?;
        challenge = response.next_challenge;
        report.batches += 1;
        report.sent += n;
        report.stored += u64::from(response.stored);
        report.duplicates += u64::from(response.duplicates);
        report.acknowledged_through = store.acknowledged_through();
        if let Some(reason) = response.refused {
            warn!(%reason, "clinic refused a record");
            return Err(SyncError::Refused(reason));
        }
        if store.acknowledged_through() == before {
            return Err(SyncError::NoProgress);
        }
    }
    report.remaining = store.unacknowledged_count();
    info!(batches = report.batches, sent = report.sent, stored = report.stored,
          duplicates = report.duplicates, acked = ?report.acknowledged_through, "sync done");
    Ok(report)
}

/// [`sync`] over HTTP with the `paired` clinic at `url`
/// (see [`PairedHost::address`]).
pub fn sync_paired(
    store: &mut RecordStore,
    paired: &PairedHost,
    url: &str,
    timeout: Duration,
) -> Result<SyncReport, SyncError> {
    let key = paired.key().map_err(|e| SyncError::Pairing {
        path: PathBuf::from(PAIRED_HOST_FILE),
        reason: e.to_string(),
    })?;
    let mut transport = HttpTransport::new(url, timeout);
    sync(store, &key, &mut transport, SyncOptions::default())
}

/// HTTP transport (`ureq`). The bodies it carries are sealed by [`sync`], so
/// plain HTTP on the clinic LAN shows who talks to whom, not what.
pub struct HttpTransport {
    agent: ureq::Agent,
    base: String,
}

impl HttpTransport {
    /// A transport to `base_url` (e.g. `http://127.0.0.1:8470`) with a per-request `timeout`.
    pub fn new(base_url: &str, timeout: Duration) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        HttpTransport {
            agent,
            base: base_url.trim_end_matches('/').to_string(),
        }
    }

    fn post(&self, path: &str, body: &[u8]) -> Result<Vec<u8>, TransportError> {
        let url = format!("{}{path}", self.base);
        let unreachable = |e: ureq::Error| TransportError::Unreachable {
            url: url.clone(),
            reason: e.to_string(),
        };
        let mut resp = self
            .agent
            .post(&url)
            .header("content-type", "application/octet-stream")
            .send(body)
            .map_err(unreachable)?;
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(MAX_BATCH_BYTES as u64)
            .read_to_vec()
            .map_err(unreachable)?;
        if status != 200 {
            let message: String = String::from_utf8_lossy(&bytes).chars().take(300).collect();
            return Err(TransportError::Status {
                url,
                status,
                message,
            });
        }
        Ok(bytes)
    }
}

impl SyncTransport for HttpTransport {
    fn hello(&mut self, body: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.post(HELLO_PATH, body)
    }

    fn push(&mut self, body: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.post(SYNC_PATH, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairing_round_trip_and_validation() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(PairedHost::load(dir.path()).unwrap(), None);
        let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]).verifying_key();
        let host = PairedHost {
            host_key: hex::encode(key.to_bytes()),
            url: Some("http://127.0.0.1:1".into()),
        };
        host.save(dir.path()).unwrap();
        assert_eq!(PairedHost::load(dir.path()).unwrap(), Some(host));
        let bad = PairedHost {
            host_key: "zz".into(),
            url: None,
        };
        assert!(bad.save(dir.path()).is_err());
    }

    struct Unreachable;
    impl SyncTransport for Unreachable {
        fn hello(&mut self, _: &[u8]) -> Result<Vec<u8>, TransportError> {
            Err(TransportError::Unreachable {
                url: "x".into(),
                reason: "down".into(),
            })
        }
        fn push(&mut self, _: &[u8]) -> Result<Vec<u8>, TransportError> {
            unreachable!("nothing is pushed before the hello succeeds")
        }
    }

    struct Impostor;
    impl SyncTransport for Impostor {
        fn hello(&mut self, body: &[u8]) -> Result<Vec<u8>, TransportError> {
            let rogue = ed25519_dalek::SigningKey::from_bytes(&[66; 32]);
            Ok(Hello::decode(body)
                .unwrap()
                .answer(&rogue, [1; 32])
                .encode())
        }
        fn push(&mut self, _: &[u8]) -> Result<Vec<u8>, TransportError> {
            panic!("records were sent to a server that is not the paired clinic")
        }
    }

    #[test]
    fn nothing_is_sent_to_an_unproven_server() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = RecordStore::open(dir.path()).unwrap();
        store
            .append(screening::record::RecordBody::example())
            .unwrap();
        let pinned = ed25519_dalek::SigningKey::from_bytes(&[5; 32]).verifying_key();
        assert!(matches!(
            sync(
                &mut store,
                &pinned,
                &mut Unreachable,
                SyncOptions::default()
            ),
            Err(SyncError::Transport(_))
        ));
        assert!(matches!(
            sync(&mut store, &pinned, &mut Impostor, SyncOptions::default()),
            Err(SyncError::NotPairedHost)
        ));
        assert_eq!(store.unacknowledged_count(), 1);
    }
}
