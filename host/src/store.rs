//! The clinic's database (SQLite, WAL, `synchronous=FULL` so an
//! acknowledged record survives a power cut): enrolled kiosks, their raw
//! signed records with decoded columns for listing, and each kiosk's sync
//! state. (device, sequence) is the primary key of `records`.
//!
//! Only [`crate::ingest`] writes records; everything here is plain storage.

use ed25519_dalek::VerifyingKey;
use rusqlite::{params, Connection, OptionalExtension};
use screening::record::{DeviceId, Record, RecordHash, SignedRecord};
use serde::Serialize;
use std::path::Path;

pub mod migrations;
pub mod report;
pub mod security;
pub mod users;

/// Why the database refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite failed (the message stays in logs; it is never sent to clients).
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A migration failed.
    #[error("database migration: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// The key is already enrolled.
    #[error("kiosk {device} is already enrolled as `{name}`")]
    AlreadyEnrolled {
        /// The kiosk.
        device: DeviceId,
        /// Its name.
        name: String,
    },
    /// A stored value is not what this build wrote.
    #[error("database holds an invalid value: {0}")]
    Invalid(String),
}

/// An enrolled kiosk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    /// Row id (internal).
    pub row_id: i64,
    /// Fingerprint of its key.
    pub device: DeviceId,
    /// Its public key.
    pub key: VerifyingKey,
    /// Name given at enrolment.
    pub name: String,
    /// Site given at enrolment.
    pub site: String,
    /// When it was enrolled (ms since the Unix epoch).
    pub enrolled_at_ms: i64,
}

/// A kiosk with its sync figures, for `clinic devices`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSummary {
    /// The kiosk.
    pub device: DeviceRow,
    /// Records stored.
    pub records: u64,
    /// Highest contiguous sequence stored.
    pub stored_through: Option<u64>,
    /// Last time it synced (ms) and how (`http` / `usb`).
    pub last_sync: Option<(i64, String)>,
}

/// One stored record's listing columns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordRow {
    /// Kiosk fingerprint (short form).
    pub device: String,
    /// Kiosk name.
    pub device_name: String,
    /// Sequence in the kiosk's chain.
    pub sequence: u64,
    /// Kiosk clock at the screening (ms since the Unix epoch).
    pub wall_time_ms: i64,
    /// Kiosk starts so far.
    pub boot_counter: u64,
    /// `refer`, `no_synkinesis_detected` or `incomplete`.
    pub outcome: String,
    /// Deciding score.
    pub score: Option<f64>,
    /// Threshold.
    pub threshold: f64,
    /// Rule name.
    pub rule: String,
    /// Patient reference, if one was typed.
    pub patient_ref: Option<String>,
    /// Model name.
    pub model_name: String,
    /// Model SHA-256 (hex).
    pub model_sha256: String,
    /// Record hash (hex).
    pub hash: String,
    /// When the clinic received it (ms).
    pub received_at_ms: i64,
    /// `http` or `usb`.
    pub received_via: String,
}

/// Which records to list.
#[derive(Debug, Clone, Default)]
pub struct RecordFilter {
    /// Only this kiosk.
    pub device: Option<DeviceId>,
    /// Only this outcome name.
    pub outcome: Option<String>,
    /// At most this many (newest first when set).
    pub limit: Option<u64>,
}

/// One stored record as needed to re-verify it.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    /// Sequence column.
    pub sequence: u64,
    /// Hash column.
    pub hash: RecordHash,
    /// Prev-hash column.
    pub prev_hash: RecordHash,
    /// Raw envelope bytes.
    pub raw: Vec<u8>,
    /// Outcome column.
    pub outcome: String,
    /// Patient column.
    pub patient_ref: Option<String>,
    /// Time column.
    pub wall_time_ms: i64,
}

/// The clinic database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
}

fn hash_from(bytes: Vec<u8>) -> Result<RecordHash, StoreError> {
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| StoreError::Invalid("hash is not 32 bytes".into()))?;
    Ok(RecordHash(arr))
}

fn seq_to_sql(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq)
        .map_err(|_| StoreError::Invalid(format!("sequence {seq} exceeds the database range")))
}

impl Store {
    /// Opens (creating and migrating) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Store::setup(Connection::open(path)?)
    }

    /// A private in-memory database (tests, benchmarks).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Store::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations::all().to_latest(&mut conn)?;
        Ok(Store { conn })
    }

    /// The connection, for ingest's transactions.
    pub(crate) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Trusts `key` as a kiosk named `name` at `site`.
    pub fn enroll(
        &mut self,
        key: &VerifyingKey,
        name: &str,
        site: &str,
        now_ms: i64,
    ) -> Result<DeviceRow, StoreError> {
        let device = DeviceId::of(key);
        if let Some(existing) = self.device(device)? {
            return Err(StoreError::AlreadyEnrolled {
                device,
                name: existing.name,
            });
        }
        self.conn.execute(
            "INSERT INTO devices (device_id, public_key, name, site, enrolled_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![&device.0[..], &key.as_bytes()[..], name, site, now_ms],
        )?;
        Ok(DeviceRow {
            row_id: self.conn.last_insert_rowid(),
            device,
            key: *key,
            name: name.into(),
            site: site.into(),
            enrolled_at_ms: now_ms,
        })
    }

    /// The enrolled kiosk with this id, if any.
    pub fn device(&self, device: DeviceId) -> Result<Option<DeviceRow>, StoreError> {
        device_row(&self.conn, device)
    }

    /// Every enrolled kiosk with its figures.
    pub fn devices(&self) -> Result<Vec<DeviceSummary>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {DEVICE_COLUMNS},
                    (SELECT count(*) FROM records r WHERE r.device = d.id),
                    s.stored_through, s.last_sync_ms, s.last_via
             FROM devices d LEFT JOIN sync_state s ON s.device = d.id ORDER BY d.id"
        ))?;
        let rows = stmt.query_map([], |r| {
            Ok((
                RawDevice::read(r)?,
                r.get::<_, i64>(RawDevice::COUNT)?,
                r.get::<_, Option<i64>>(RawDevice::COUNT + 1)?,
                r.get::<_, Option<i64>>(RawDevice::COUNT + 2)?,
                r.get::<_, Option<String>>(RawDevice::COUNT + 3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (device, count, through, last_ms, via) = row?;
            out.push(DeviceSummary {
                device: device.parse()?,
                records: count as u64,
                stored_through: through.map(|t| t as u64),
                last_sync: last_ms.zip(via),
            });
        }
        Ok(out)
    }

    /// Highest contiguous sequence stored for the kiosk and its hash.
    pub fn chain_head(&self, row_id: i64) -> Result<Option<(u64, RecordHash)>, StoreError> {
        chain_head(&self.conn, row_id)
    }

    /// Listing columns of stored records.
    pub fn records(&self, filter: &RecordFilter) -> Result<Vec<RecordRow>, StoreError> {
        let mut sql = String::from(
            "SELECT d.device_id, d.name, r.sequence, r.wall_time_ms, r.boot_counter, r.outcome, r.score,
                    r.threshold, r.rule, r.patient_ref, r.model_name, r.model_sha256, r.hash,
                    r.received_at_ms, r.received_via
             FROM records r JOIN devices d ON d.id = r.device
             WHERE (?1 IS NULL OR d.device_id = ?1) AND (?2 IS NULL OR r.outcome = ?2)",
        );
        sql.push_str(if filter.limit.is_some() {
            " ORDER BY r.received_at_ms DESC, d.id, r.sequence DESC LIMIT ?3"
        } else {
            " ORDER BY d.id, r.sequence LIMIT ?3"
        });
        let mut stmt = self.conn.prepare(&sql)?;
        let device = filter.device.map(|d| d.0.to_vec());
        let limit = filter.limit.map_or(-1, |l| l.min(i64::MAX as u64) as i64);
        let rows = stmt.query_map(params![device, filter.outcome, limit], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                RecordRow {
                    device: String::new(),
                    device_name: r.get(1)?,
                    sequence: r.get::<_, i64>(2)? as u64,
                    wall_time_ms: r.get(3)?,
                    boot_counter: r.get::<_, i64>(4)? as u64,
                    outcome: r.get(5)?,
                    score: r.get(6)?,
                    threshold: r.get(7)?,
                    rule: r.get(8)?,
                    patient_ref: r.get(9)?,
                    model_name: r.get(10)?,
                    model_sha256: hex::encode(r.get::<_, Vec<u8>>(11)?),
                    hash: hex::encode(r.get::<_, Vec<u8>>(12)?),
                    received_at_ms: r.get(13)?,
                    received_via: r.get(14)?,
                },
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, mut rec) = row?;
            rec.device = parse_device(id)?.short();
            out.push(rec);
        }
        Ok(out)
    }

    /// Every stored record of one kiosk, in sequence order (for `verify`).
    pub fn stored_records(&self, row_id: i64) -> Result<Vec<StoredRecord>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {STORED_COLUMNS} FROM records r WHERE r.device = ?1 ORDER BY r.sequence"
        ))?;
        let rows = stmt.query_map([row_id], RawStored::read)?;
        rows.map(|row| row?.parse()).collect()
    }

    /// Every stored record naming `patient`, oldest first by the kiosks'
    /// clocks, each with the kiosk it is stored under (a patient's history).
    pub fn patient_records(
        &self,
        patient: &str,
    ) -> Result<Vec<(DeviceRow, StoredRecord)>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {DEVICE_COLUMNS}, {STORED_COLUMNS}
             FROM records r JOIN devices d ON d.id = r.device
             WHERE r.patient_ref = ?1 ORDER BY r.wall_time_ms, d.id, r.sequence"
        ))?;
        let rows = stmt.query_map([patient], |r| {
            Ok((
                RawDevice::read(r)?,
                RawStored::read_from(r, RawDevice::COUNT)?,
            ))
        })?;
        rows.map(|row| {
            let (device, stored) = row?;
            Ok((device.parse()?, stored.parse()?))
        })
        .collect()
    }

    /// Total records stored.
    pub fn record_count(&self) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM records", [], |r| r.get::<_, i64>(0))?
            as u64)
    }
}

fn parse_device(bytes: Vec<u8>) -> Result<DeviceId, StoreError> {
    Ok(DeviceId(bytes.try_into().map_err(|_| {
        StoreError::Invalid("device id is not 32 bytes".into())
    })?))
}

fn parse_key(bytes: Vec<u8>) -> Result<VerifyingKey, StoreError> {
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| StoreError::Invalid("public key is not 32 bytes".into()))?;
    VerifyingKey::from_bytes(&arr).map_err(|e| StoreError::Invalid(format!("public key: {e}")))
}

/// The `devices` columns [`RawDevice::read`] takes, first in a query on
/// `devices d`.
const DEVICE_COLUMNS: &str = "d.id, d.device_id, d.public_key, d.name, d.site, d.enrolled_at_ms";

/// One `devices` row as SQLite holds it, before its bytes are checked.
struct RawDevice {
    row_id: i64,
    device: Vec<u8>,
    key: Vec<u8>,
    name: String,
    site: String,
    enrolled_at_ms: i64,
}

impl RawDevice {
    /// How many columns [`DEVICE_COLUMNS`] names.
    const COUNT: usize = 6;

    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(RawDevice {
            row_id: r.get(0)?,
            device: r.get(1)?,
            key: r.get(2)?,
            name: r.get(3)?,
            site: r.get(4)?,
            enrolled_at_ms: r.get(5)?,
        })
    }

    /// The row, refused when its id is not the one its key gives: a row edited
    /// outside the clinic tool must not pass records off as another kiosk's.
    fn parse(self) -> Result<DeviceRow, StoreError> {
        let device = parse_device(self.device)?;
        let key = parse_key(self.key)?;
        if DeviceId::of(&key) != device {
            return Err(StoreError::Invalid(
                "device id does not match its key".into(),
            ));
        }
        Ok(DeviceRow {
            row_id: self.row_id,
            device,
            key,
            name: self.name,
            site: self.site,
            enrolled_at_ms: self.enrolled_at_ms,
        })
    }
}

/// The `records` columns [`RawStored::read`] takes, first in a query on
/// `records r`.
const STORED_COLUMNS: &str =
    "r.sequence, r.hash, r.prev_hash, r.raw, r.outcome, r.patient_ref, r.wall_time_ms";

/// One stored record as SQLite holds it, before its hashes are checked.
struct RawStored {
    sequence: i64,
    hash: Vec<u8>,
    prev_hash: Vec<u8>,
    raw: Vec<u8>,
    outcome: String,
    patient_ref: Option<String>,
    wall_time_ms: i64,
}

impl RawStored {
    /// How many columns [`STORED_COLUMNS`] names.
    const COUNT: usize = 7;

    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        RawStored::read_from(r, 0)
    }

    /// The columns starting at `first` (after another table's columns).
    fn read_from(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Self> {
        Ok(RawStored {
            sequence: r.get(first)?,
            hash: r.get(first + 1)?,
            prev_hash: r.get(first + 2)?,
            raw: r.get(first + 3)?,
            outcome: r.get(first + 4)?,
            patient_ref: r.get(first + 5)?,
            wall_time_ms: r.get(first + 6)?,
        })
    }

    fn parse(self) -> Result<StoredRecord, StoreError> {
        Ok(StoredRecord {
            sequence: self.sequence as u64,
            hash: hash_from(self.hash)?,
            prev_hash: hash_from(self.prev_hash)?,
            raw: self.raw,
            outcome: self.outcome,
            patient_ref: self.patient_ref,
            wall_time_ms: self.wall_time_ms,
        })
    }
}

pub(crate) fn device_row(
    conn: &Connection,
    device: DeviceId,
) -> Result<Option<DeviceRow>, StoreError> {
    conn.query_row(
        &format!("SELECT {DEVICE_COLUMNS} FROM devices d WHERE d.device_id = ?1"),
        [&device.0[..]],
        RawDevice::read,
    )
    .optional()?
    .map(RawDevice::parse)
    .transpose()
}

pub(crate) fn chain_head(
    conn: &Connection,
    row_id: i64,
) -> Result<Option<(u64, RecordHash)>, StoreError> {
    let row = conn
        .query_row(
            "SELECT stored_through, stored_hash FROM sync_state WHERE device = ?1",
            [row_id],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
        )
        .optional()?;
    row.map(|(s, h)| Ok((s as u64, hash_from(h)?))).transpose()
}

pub(crate) fn stored_hash(
    conn: &Connection,
    row_id: i64,
    seq: u64,
) -> Result<Option<RecordHash>, StoreError> {
    let row = conn
        .query_row(
            "SELECT hash FROM records WHERE device = ?1 AND sequence = ?2",
            params![row_id, seq_to_sql(seq)?],
            |r| r.get::<_, Vec<u8>>(0),
        )
        .optional()?;
    row.map(hash_from).transpose()
}

/// Inserts a verified record (the caller moves the chain head).
pub(crate) fn insert_record(
    conn: &Connection,
    row_id: i64,
    signed: &SignedRecord,
    record: &Record,
    now_ms: i64,
    via: &str,
) -> Result<(), StoreError> {
    let d = &record.body.decision;
    let mut insert = conn.prepare_cached(
        "INSERT INTO records (device, sequence, prev_hash, hash, raw, wall_time_ms, boot_counter, outcome, score,
                              threshold, rule, patient_ref, model_name, model_sha256, received_at_ms, received_via)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?;
    insert.execute(params![
        row_id,
        seq_to_sql(record.sequence)?,
        &record.prev_hash.0[..],
        &signed.hash().0[..],
        signed.to_bytes(),
        record.wall_time_ms,
        record.boot_counter.min(i64::MAX as u64) as i64,
        d.outcome.name(),
        d.score.map(f64::from),
        f64::from(d.threshold),
        d.rule,
        record.body.patient.as_ref().map(|p| p.as_str()),
        record.body.model.name,
        &record.body.model.sha256[..],
        now_ms,
        via,
    ])?;
    Ok(())
}

/// Moves the kiosk's chain head (highest contiguous stored record).
pub(crate) fn set_chain_head(
    conn: &Connection,
    row_id: i64,
    sequence: u64,
    hash: RecordHash,
    now_ms: i64,
    via: &str,
) -> Result<(), StoreError> {
    let mut head = conn.prepare_cached(
        "INSERT INTO sync_state (device, stored_through, stored_hash, last_sync_ms, last_via) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (device) DO UPDATE SET stored_through = excluded.stored_through,
             stored_hash = excluded.stored_hash, last_sync_ms = excluded.last_sync_ms, last_via = excluded.last_via",
    )?;
    head.execute(params![
        row_id,
        seq_to_sql(sequence)?,
        &hash.0[..],
        now_ms,
        via
    ])?;
    Ok(())
}

/// Notes a sync contact that stored nothing new (so "last sync" is honest).
pub(crate) fn touch_sync(
    conn: &Connection,
    row_id: i64,
    now_ms: i64,
    via: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE sync_state SET last_sync_ms = ?2, last_via = ?3 WHERE device = ?1",
        params![row_id, now_ms, via],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    #[test]
    fn a_device_row_whose_key_was_swapped_is_refused_everywhere_it_is_read() {
        let mut s = Store::open_in_memory().unwrap();
        let a = SigningKey::from_bytes(&[1; 32]).verifying_key();
        let b = SigningKey::from_bytes(&[2; 32]).verifying_key();
        s.enroll(&a, "ward 1", "north", 5).unwrap();
        s.enroll(&b, "ward 2", "south", 6).unwrap();
        let listed = s.devices().unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].device.device, DeviceId::of(&a));
        assert_eq!(listed[0].device.name, "ward 1");
        assert_eq!(listed[1].device.enrolled_at_ms, 6);
        assert_eq!(listed[1].records, 0);

        // Kiosk a's row now holds an outsider's key: records signed with it
        // would pass as a's.
        let outsider = SigningKey::from_bytes(&[3; 32]).verifying_key();
        s.conn
            .execute(
                "UPDATE devices SET public_key = ?1 WHERE device_id = ?2",
                params![outsider.as_bytes().to_vec(), DeviceId::of(&a).0.to_vec()],
            )
            .unwrap();
        for err in [
            s.devices().unwrap_err(),
            s.device(DeviceId::of(&a)).unwrap_err(),
        ] {
            assert!(
                err.to_string().contains("device id does not match its key"),
                "{err}"
            );
        }
        assert!(s.device(DeviceId::of(&b)).unwrap().is_some());
    }
}
