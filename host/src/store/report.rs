//! Read-only queries behind the web pages: totals for the dashboard and one
//! stored record with what is needed to re-check it on the spot.

use rusqlite::{params, OptionalExtension};
use screening::record::DeviceId;

use super::{
    device_row, seq_to_sql, DeviceRow, RawStored, Store, StoreError, StoredRecord, STORED_COLUMNS,
};

/// Totals for the dashboard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// Enrolled kiosks.
    pub devices: u64,
    /// Stored records.
    pub records: u64,
    /// Records whose outcome is `refer`.
    pub refer: u64,
    /// Records whose outcome is `no_synkinesis_detected`.
    pub no_synkinesis: u64,
    /// Records whose outcome is `incomplete`.
    pub incomplete: u64,
}

/// One stored record with its kiosk and its predecessor's stored hash.
#[derive(Debug, Clone)]
pub struct RecordDetail {
    /// The kiosk.
    pub device: DeviceRow,
    /// The record's columns and raw envelope.
    pub record: StoredRecord,
    /// The hash stored for `sequence - 1` (None for sequence 0 or when missing).
    pub previous_hash: Option<screening::record::RecordHash>,
    /// When the clinic received it (ms) and how.
    pub received: (i64, String),
}

/// Screenings of one day (UTC, by the kiosk's clock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Day {
    /// Days since the Unix epoch.
    pub day: i64,
    /// Records that day.
    pub records: u64,
    /// Of which `refer`.
    pub refer: u64,
}

impl Store {
    /// The last `days` days that have records, oldest first.
    pub fn daily(&self, days: u32) -> Result<Vec<Day>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT wall_time_ms / 86400000 AS day, count(*), sum(outcome = 'refer')
             FROM records GROUP BY day ORDER BY day DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([days], |r| {
            Ok(Day {
                day: r.get(0)?,
                records: r.get::<_, i64>(1)? as u64,
                refer: r.get::<_, i64>(2)? as u64,
            })
        })?;
        let mut out = rows.collect::<Result<Vec<_>, _>>()?;
        out.reverse();
        Ok(out)
    }

    /// Counts of kiosks, records and outcomes.
    pub fn totals(&self) -> Result<Totals, StoreError> {
        let devices = self
            .conn
            .query_row("SELECT count(*) FROM devices", [], |r| r.get::<_, i64>(0))?;
        let mut t = Totals {
            devices: devices as u64,
            ..Totals::default()
        };
        let mut stmt = self
            .conn
            .prepare("SELECT outcome, count(*) FROM records GROUP BY outcome")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (outcome, n) = row?;
            let n = n as u64;
            t.records += n;
            match outcome.as_str() {
                "refer" => t.refer += n,
                "no_synkinesis_detected" => t.no_synkinesis += n,
                "incomplete" => t.incomplete += n,
                _ => {}
            }
        }
        Ok(t)
    }

    /// The record `sequence` of kiosk `device`, if stored.
    pub fn record_detail(
        &self,
        device: DeviceId,
        sequence: u64,
    ) -> Result<Option<RecordDetail>, StoreError> {
        let Some(dev) = device_row(&self.conn, device)? else {
            return Ok(None);
        };
        let seq = seq_to_sql(sequence)?;
        let row = self
            .conn
            .query_row(
                &format!(
                    "SELECT {STORED_COLUMNS}, r.received_at_ms, r.received_via
                     FROM records r WHERE r.device = ?1 AND r.sequence = ?2"
                ),
                params![dev.row_id, seq],
                |r| {
                    Ok((
                        RawStored::read(r)?,
                        r.get::<_, i64>(RawStored::COUNT)?,
                        r.get::<_, String>(RawStored::COUNT + 1)?,
                    ))
                },
            )
            .optional()?;
        let Some((record, received_ms, via)) = row else {
            return Ok(None);
        };
        let previous_hash = match sequence.checked_sub(1) {
            Some(p) => super::stored_hash(&self.conn, dev.row_id, p)?,
            None => None,
        };
        Ok(Some(RecordDetail {
            device: dev,
            record: record.parse()?,
            previous_hash,
            received: (received_ms, via),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{ingest, Via};
    use ed25519_dalek::SigningKey;
    use screening::record::{Record, RecordBody, RecordHash, SignedRecord};

    #[test]
    fn totals_and_detail() {
        let mut s = Store::open_in_memory().unwrap();
        assert_eq!(s.totals().unwrap(), Totals::default());
        let key = SigningKey::from_bytes(&[3; 32]);
        s.enroll(&key.verifying_key(), "k", "", 0).unwrap();
        let device = DeviceId::of(&key.verifying_key());
        let mut prev = RecordHash::GENESIS;
        let mut signed = Vec::new();
        for seq in 0..3 {
            let r = Record::new(device, seq, prev, 1, 1, 1, RecordBody::example());
            let sr = SignedRecord::sign(&r, &key).unwrap();
            prev = sr.hash();
            signed.push(sr);
        }
        ingest(&mut s, device, &signed, Via::Usb).unwrap();
        let t = s.totals().unwrap();
        assert_eq!((t.devices, t.records, t.refer), (1, 3, 3));
        let d = s.record_detail(device, 2).unwrap().unwrap();
        assert_eq!(d.previous_hash, Some(signed[1].hash()));
        assert_eq!(d.record.prev_hash, signed[1].hash());
        assert_eq!(d.received.1, "usb");
        assert!(s
            .record_detail(device, 0)
            .unwrap()
            .unwrap()
            .previous_hash
            .is_none());
        assert!(s.record_detail(device, 3).unwrap().is_none());
        assert!(s.record_detail(DeviceId([0; 32]), 0).unwrap().is_none());
        let days = s.daily(30).unwrap();
        assert_eq!(
            days,
            vec![Day {
                day: 0,
                records: 3,
                refer: 3
            }]
        );
    }
}
