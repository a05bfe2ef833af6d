//! The one path by which records enter the clinic database, used by HTTP
//! sync and USB import alike:
//!
//! decode → kiosk enrolled? → hash and signature → link to the stored
//! previous record → store.
//!
//! A batch is processed in order inside one transaction. The first record
//! that fails stops the batch: what passed before it is committed (so the
//! kiosk's acknowledgement moves on), it and everything after it are not
//! stored, and a `warn` line names the device, the channel and the reason.
//! A record the database already holds with the same hash is a no-op
//! (duplicate); one with a different hash at a stored sequence is a fork.
//! Because a record is stored only when its predecessor is, every kiosk's
//! stored records are contiguous from 0 and the chain head is the
//! acknowledgement.

use ed25519_dalek::SigningKey;
use screening::record::wire::{Ack, SignedAck, WIRE_VERSION};
use screening::record::{
    link, verify, ChainHead, DeviceId, Link, Record, RecordHash, SignedRecord, VerifyError,
};
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::{debug, warn};

use crate::store::security::{insert_security_event, SecurityEvent, SecurityKind};
use crate::store::{self, DeviceRow, Store, StoreError};

/// How records arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// HTTP sync.
    Http,
    /// USB bundle import.
    Usb,
}

impl Via {
    /// Name stored in the database and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Http => "http",
            Via::Usb => "usb",
        }
    }
}

/// Why a whole batch was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The kiosk is not enrolled.
    #[error("kiosk {0} is not enrolled (clinic enroll --key …)")]
    UnknownDevice(DeviceId),
    /// The database failed; nothing from this batch was stored.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What happened to a batch.
#[derive(Debug)]
pub struct IngestReport {
    /// The kiosk.
    pub device: DeviceId,
    /// Records newly stored.
    pub stored: u32,
    /// Records already held (same hash).
    pub duplicates: u32,
    /// The record that stopped the batch, and why.
    pub refused: Option<VerifyError>,
    /// Highest contiguous sequence now stored, and its hash.
    pub head: Option<(u64, RecordHash)>,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// [`now_ms`] as the unsigned milliseconds the throttle and the challenges count in.
pub fn now_ms_u64() -> u64 {
    u64::try_from(now_ms()).unwrap_or(0)
}

enum Action {
    Store(Box<Record>),
    Duplicate,
}

/// Verifies and stores `records` claimed to come from `device`.
pub fn ingest(
    store: &mut Store,
    device: DeviceId,
    records: &[SignedRecord],
    via: Via,
) -> Result<IngestReport, IngestError> {
    ingest_from(store, device, records, via, via.as_str())
}

/// The security event of a batch from a kiosk that is not enrolled.
pub(crate) fn unknown_kiosk_event(
    device: DeviceId,
    records: usize,
    via: Via,
    origin: &str,
    now: i64,
) -> SecurityEvent {
    SecurityEvent {
        at_ms: now,
        kind: SecurityKind::UnknownKiosk,
        subject: device.to_string(),
        address: origin.to_string(),
        detail: format!(
            "{records} record(s) by {} from a kiosk that is not enrolled",
            via.as_str()
        ),
    }
}

/// [`ingest`], naming where the batch came from (the client's address) in
/// the security event of a refusal.
pub fn ingest_from(
    store: &mut Store,
    device: DeviceId,
    records: &[SignedRecord],
    via: Via,
    origin: &str,
) -> Result<IngestReport, IngestError> {
    let now = now_ms();
    let tx = store.conn_mut().transaction().map_err(StoreError::from)?;
    let Some(dev) = store::device_row(&tx, device)? else {
        warn!(device = %device, via = via.as_str(), records = records.len(), "refused records from an unenrolled kiosk");
        insert_security_event(
            &tx,
            &unknown_kiosk_event(device, records.len(), via, origin, now),
        )?;
        tx.commit().map_err(StoreError::from)?;
        return Err(IngestError::UnknownDevice(device));
    };
    let start = store::chain_head(&tx, dev.row_id)?;
    let mut head = start;
    let mut report = IngestReport {
        device,
        stored: 0,
        duplicates: 0,
        refused: None,
        head,
    };
    // Signatures are the cost: check them on every core first, then walk the chain in order.
    let verdicts = verify_all(records, &dev);
    for (signed, verdict) in records.iter().zip(verdicts) {
        match check(&tx, &dev, head, signed, verdict)? {
            Ok(Action::Duplicate) => report.duplicates += 1,
            Ok(Action::Store(record)) => {
                store::insert_record(&tx, dev.row_id, signed, &record, now, via.as_str())?;
                head = Some((record.sequence, signed.hash()));
                report.stored += 1;
            }
            Err(e) => {
                warn!(device = %device, name = %dev.name, via = via.as_str(), error = %e, "record refused, not stored");
                let event = SecurityEvent {
                    at_ms: now,
                    kind: SecurityKind::RecordsRefused,
                    subject: format!("{device} ({})", dev.name),
                    address: origin.to_string(),
                    detail: format!("by {}: {e}", via.as_str()),
                };
                insert_security_event(&tx, &event)?;
                report.refused = Some(e);
                break;
            }
        }
    }
    // A refused batch that stored nothing is not a sync: "last sync" on the
    // page tells when the kiosk last delivered, not when someone tried.
    match head {
        Some((seq, hash)) if head != start => {
            store::set_chain_head(&tx, dev.row_id, seq, hash, now, via.as_str())?
        }
        _ if report.refused.is_none() => store::touch_sync(&tx, dev.row_id, now, via.as_str())?,
        _ => {}
    }
    tx.commit().map_err(StoreError::from)?;
    report.head = head;
    debug!(device = %device, stored = report.stored, duplicates = report.duplicates, "batch ingested");
    Ok(report)
}

/// [`verify`] for each record, spread over the available cores for large batches.
fn verify_all(records: &[SignedRecord], dev: &DeviceRow) -> Vec<Result<Record, VerifyError>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if threads < 2 || records.len() < 32 {
        return records.iter().map(|r| verify(r, &dev.key)).collect();
    }
    let chunk = records.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = records
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || part.iter().map(|r| verify(r, &dev.key)).collect::<Vec<_>>())
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("verifying thread panicked"))
            .collect()
    })
}

/// Decides one record against the stored chain head by the chain rule
/// every holder uses ([`link`]). The outer `Result` is a database failure,
/// the inner one the record's verdict.
fn check(
    conn: &rusqlite::Connection,
    dev: &DeviceRow,
    head: Option<(u64, RecordHash)>,
    signed: &SignedRecord,
    verdict: Result<Record, VerifyError>,
) -> Result<Result<Action, VerifyError>, StoreError> {
    let record = match verdict {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    let head = ChainHead::after(head);
    // Stored records are contiguous, so an earlier sequence has a stored hash to compare with.
    let held_here = if record.sequence < head.next_sequence {
        store::stored_hash(conn, dev.row_id, record.sequence)?
    } else {
        None
    };
    Ok(
        link(head, &record, signed.hash(), held_here).map(|placed| match placed {
            Link::Next => Action::Store(Box::new(record)),
            Link::Held => Action::Duplicate,
        }),
    )
}

/// The host-signed acknowledgement of what is stored for `device`.
pub fn acknowledge(
    device: DeviceId,
    head: Option<(u64, RecordHash)>,
    host_key: &SigningKey,
) -> SignedAck {
    SignedAck::sign(
        Ack {
            version: WIRE_VERSION,
            device,
            stored_through: head.map(|(s, _)| s),
            stored_hash: head.map_or(RecordHash::GENESIS, |(_, h)| h),
            issued_ms: now_ms(),
        },
        host_key,
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use screening::record::{Record, RecordBody};
    use std::sync::{Arc, Mutex};

    pub(crate) fn kiosk_key(seed: u8) -> SigningKey {
        screening::testing::kiosk_key(seed)
    }

    pub(crate) fn chain(key: &SigningKey, n: u64) -> Vec<SignedRecord> {
        screening::testing::chain(key, n, 1_700_000_000_000)
    }

    pub(crate) fn enrolled_store(key: &SigningKey) -> Store {
        let mut store = Store::open_in_memory().unwrap();
        store
            .enroll(&key.verifying_key(), "kiosk A", "clinic 1", 0)
            .unwrap();
        store
    }

    /// Collects the `tracing` output of `f`.
    pub(crate) fn logs_of<T>(f: impl FnOnce() -> T) -> (T, String) {
        #[derive(Clone)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf(Arc::new(Mutex::new(Vec::new())));
        let writer = buf.clone();
        let sub = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let out = tracing::subscriber::with_default(sub, f);
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        (out, text)
    }

    fn refused(
        store: &mut Store,
        device: DeviceId,
        records: &[SignedRecord],
    ) -> (IngestReport, String) {
        let (report, logs) = logs_of(|| ingest(store, device, records, Via::Http).unwrap());
        assert!(report.refused.is_some(), "expected a refusal");
        assert!(
            logs.contains("WARN") && logs.contains("record refused"),
            "no warn line: {logs}"
        );
        (report, logs)
    }

    #[test]
    fn stores_a_chain_and_duplicates_are_idempotent() {
        let k = kiosk_key(1);
        let mut store = enrolled_store(&k);
        let c = chain(&k, 5);
        let device = DeviceId::of(&k.verifying_key());
        let r = ingest(&mut store, device, &c[..3], Via::Http).unwrap();
        assert_eq!(
            (r.stored, r.duplicates, r.head.map(|h| h.0)),
            (3, 0, Some(2))
        );
        let r = ingest(&mut store, device, &c, Via::Usb).unwrap();
        assert_eq!(
            (r.stored, r.duplicates, r.head.map(|h| h.0)),
            (2, 3, Some(4))
        );
        assert!(r.refused.is_none());
        assert_eq!(store.record_count().unwrap(), 5);
        assert_eq!(
            store.records(&Default::default()).unwrap()[4].received_via,
            "usb"
        );
    }

    #[test]
    fn forged_signature_is_refused() {
        let k = kiosk_key(1);
        let mut store = enrolled_store(&k);
        let device = DeviceId::of(&k.verifying_key());
        let r = Record::new(
            device,
            0,
            RecordHash::GENESIS,
            1,
            1,
            1,
            RecordBody::example(),
        );
        let forged = SignedRecord::sign(&r, &kiosk_key(2)).unwrap();
        let (report, logs) = refused(&mut store, device, &[forged]);
        assert!(matches!(
            report.refused,
            Some(VerifyError::ForgedSignature { .. })
        ));
        assert!(logs.contains("forged signature"), "{logs}");
        assert_eq!(store.record_count().unwrap(), 0);
    }

    #[test]
    fn one_altered_byte_is_refused() {
        let k = kiosk_key(1);
        let mut store = enrolled_store(&k);
        let device = DeviceId::of(&k.verifying_key());
        let c = chain(&k, 1);
        let mut bytes = c[0].to_bytes();
        bytes[60] ^= 0x01;
        let altered = SignedRecord::from_bytes(&bytes).unwrap();
        let (report, logs) = refused(&mut store, device, &[altered]);
        assert!(matches!(
            report.refused,
            Some(VerifyError::AlteredBytes { .. })
        ));
        assert!(logs.contains("altered"), "{logs}");
        assert_eq!(store.record_count().unwrap(), 0);
    }

    #[test]
    fn replay_with_a_new_sequence_number_is_refused() {
        let k = kiosk_key(1);
        let mut store = enrolled_store(&k);
        let device = DeviceId::of(&k.verifying_key());
        let c = chain(&k, 2);
        ingest(&mut store, device, &c, Via::Http).unwrap();
        // Record 0 re-sent as record 2: new sequence and prev hash, hash recomputed, old signature.
        let mut r = c[0].decode_unverified().unwrap();
        r.sequence = 2;
        r.prev_hash = c[1].hash();
        let bytes = r.encode().unwrap();
        let replayed =
            SignedRecord::from_parts(bytes.clone(), RecordHash::of(&bytes), c[0].signature());
        let (report, _) = refused(&mut store, device, &[replayed]);
        assert!(matches!(
            report.refused,
            Some(VerifyError::ForgedSignature { sequence: 2, .. })
        ));
        assert_eq!(store.record_count().unwrap(), 2);
    }

    #[test]
    fn unenrolled_device_is_refused() {
        let k = kiosk_key(1);
        let mut store = enrolled_store(&k);
        let stranger = kiosk_key(3);
        let device = DeviceId::of(&stranger.verifying_key());
        let (result, logs) =
            logs_of(|| ingest(&mut store, device, &chain(&stranger, 1), Via::Http));
        assert!(matches!(result, Err(IngestError::UnknownDevice(_))));
        assert!(logs.contains("unenrolled"), "{logs}");
        // A stranger's record inside an enrolled kiosk's batch is refused too.
        let (report, _) = refused(
            &mut store,
            DeviceId::of(&k.verifying_key()),
            &chain(&stranger, 1),
        );
        assert!(matches!(
            report.refused,
            Some(VerifyError::UnknownDevice { .. })
        ));
        assert_eq!(store.record_count().unwrap(), 0);
    }

    #[test]
    fn gap_is_refused() {
        let k = kiosk_key(1);
        let mut store = enrolled_store(&k);
        let device = DeviceId::of(&k.verifying_key());
        let c = chain(&k, 4);
        let (report, logs) = refused(
            &mut store,
            device,
            &[c[0].clone(), c[2].clone(), c[3].clone()],
        );
        assert!(matches!(
            report.refused,
            Some(VerifyError::Gap {
                expected: 1,
                got: 2,
                ..
            })
        ));
        assert!(logs.contains("gap"), "{logs}");
        assert_eq!(
            report.head.map(|h| h.0),
            Some(0),
            "what passed before the gap is kept"
        );
        assert_eq!(store.record_count().unwrap(), 1);
    }

    #[test]
    fn fork_is_refused() {
        let k = kiosk_key(1);
        let mut store = enrolled_store(&k);
        let device = DeviceId::of(&k.verifying_key());
        let c = chain(&k, 3);
        ingest(&mut store, device, &c, Via::Http).unwrap();
        // A different record 1, properly signed (a cloned or rolled-back kiosk).
        let mut body = RecordBody::example();
        body.decision.threshold = 0.5;
        let other = Record::new(device, 1, c[0].hash(), 5, 2, 5, body.clone());
        let (report, logs) = refused(
            &mut store,
            device,
            &[SignedRecord::sign(&other, &k).unwrap()],
        );
        assert!(matches!(
            report.refused,
            Some(VerifyError::Fork { sequence: 1, .. })
        ));
        assert!(logs.contains("fork"), "{logs}");
        // A record 3 that does not link to the stored record 2.
        let stray = Record::new(device, 3, RecordHash([1; 32]), 5, 2, 5, body);
        let (report, _) = refused(
            &mut store,
            device,
            &[SignedRecord::sign(&stray, &k).unwrap()],
        );
        assert!(matches!(
            report.refused,
            Some(VerifyError::Fork { sequence: 3, .. })
        ));
        assert_eq!(store.record_count().unwrap(), 3);
        let rows = store.records(&Default::default()).unwrap();
        assert_eq!(
            rows[1].hash,
            c[1].hash().to_hex(),
            "the stored record was not replaced"
        );
    }

    #[test]
    fn large_batch_stops_at_the_bad_record() {
        let k = kiosk_key(1);
        let mut store = enrolled_store(&k);
        let device = DeviceId::of(&k.verifying_key());
        let mut c = chain(&k, 100);
        let mut bytes = c[50].to_bytes();
        bytes[30] ^= 0x80;
        c[50] = SignedRecord::from_bytes(&bytes).unwrap();
        let (report, _) = refused(&mut store, device, &c);
        assert!(matches!(
            report.refused,
            Some(VerifyError::AlteredBytes { .. })
        ));
        assert_eq!((report.stored, report.head.map(|h| h.0)), (50, Some(49)));
        assert_eq!(store.record_count().unwrap(), 50);
    }

    #[test]
    fn acknowledgement_names_the_head() {
        let k = kiosk_key(1);
        let host = kiosk_key(9);
        let mut store = enrolled_store(&k);
        let device = DeviceId::of(&k.verifying_key());
        let c = chain(&k, 2);
        let r = ingest(&mut store, device, &c, Via::Http).unwrap();
        let ack = acknowledge(device, r.head, &host);
        let a = ack.verify(&host.verifying_key(), device).unwrap();
        assert_eq!((a.stored_through, a.stored_hash), (Some(1), c[1].hash()));
    }
}
