//! Security events as stored: one row per failed or throttled login,
//! unproven or refused sync batch, refused USB bundle or record from a kiosk
//! that is not enrolled, newest last. The table keeps the latest [`KEPT_EVENTS`] rows, so a flood of
//! refused requests cannot fill the clinic's disk.

use rusqlite::{params, Connection};
use serde::Serialize;

use super::{Store, StoreError};

/// Rows kept; older ones are deleted as new ones come.
pub const KEPT_EVENTS: i64 = 10_000;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecurityKind {
    /// A wrong user name or password on the web page.
    LoginFailed,
    /// An account or address was made to wait after repeated failures.
    LoginThrottled,
    /// A sync batch or USB bundle whose records were refused (fork, gap,
    /// bad signature, …).
    RecordsRefused,
    /// Records, or a sync request, naming a kiosk that is not enrolled.
    UnknownKiosk,
    /// A sync request that did not prove it came from the kiosk it names.
    SyncUnproven,
    /// A USB bundle refused before its records were read (manifest, file
    /// hash, sealed for another clinic, old unsealed format).
    BundleRefused,
}

impl SecurityKind {
    /// Name stored in the database and shown on the page.
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityKind::LoginFailed => "login failed",
            SecurityKind::LoginThrottled => "login throttled",
            SecurityKind::RecordsRefused => "records refused",
            SecurityKind::UnknownKiosk => "unknown kiosk",
            SecurityKind::SyncUnproven => "sync not proven",
            SecurityKind::BundleRefused => "bundle refused",
        }
    }
}

/// One event to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityEvent {
    /// When (ms since the Unix epoch).
    pub at_ms: i64,
    /// What.
    pub kind: SecurityKind,
    /// The account or kiosk it concerns.
    pub subject: String,
    /// The client's address ("usb" for an imported bundle, "" when unknown).
    pub address: String,
    /// In plain words.
    pub detail: String,
}

/// One stored event, for the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecurityEventRow {
    /// When (ms since the Unix epoch).
    pub at_ms: i64,
    /// What ([`SecurityKind::as_str`]).
    pub kind: String,
    /// The account or kiosk.
    pub subject: String,
    /// The client's address.
    pub address: String,
    /// In plain words.
    pub detail: String,
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Stores `event` on `conn` (inside the caller's transaction, if any) and
/// drops rows beyond [`KEPT_EVENTS`].
pub(crate) fn insert_security_event(
    conn: &Connection,
    event: &SecurityEvent,
) -> Result<(), StoreError> {
    let id: i64 = conn.query_row(
        "INSERT INTO security_events (at_ms, kind, subject, address, detail)
         VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        params![
            event.at_ms,
            event.kind.as_str(),
            clip(&event.subject, 128),
            clip(&event.address, 64),
            clip(&event.detail, 512),
        ],
        |row| row.get(0),
    )?;
    conn.execute(
        "DELETE FROM security_events WHERE id <= ?1",
        [id - KEPT_EVENTS],
    )?;
    Ok(())
}

impl Store {
    /// Stores one security event.
    pub fn record_security_event(&mut self, event: &SecurityEvent) -> Result<(), StoreError> {
        insert_security_event(&self.conn, event)
    }

    /// The latest `limit` events, newest first.
    pub fn security_events(&self, limit: usize) -> Result<Vec<SecurityEventRow>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT at_ms, kind, subject, address, detail FROM security_events
             ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok(SecurityEventRow {
                at_ms: r.get(0)?,
                kind: r.get(1)?,
                subject: r.get(2)?,
                address: r.get(3)?,
                detail: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: i64) -> SecurityEvent {
        SecurityEvent {
            at_ms: n,
            kind: SecurityKind::LoginFailed,
            subject: format!("user{n}"),
            address: "192.0.2.7".into(),
            detail: "wrong password".into(),
        }
    }

    #[test]
    fn newest_first_and_bounded() {
        let mut store = Store::open_in_memory().unwrap();
        for n in 0..KEPT_EVENTS + 5 {
            store.record_security_event(&event(n)).unwrap();
        }
        let rows = store.security_events(usize::MAX).unwrap();
        assert_eq!(rows.len() as i64, KEPT_EVENTS);
        assert_eq!(rows[0].subject, format!("user{}", KEPT_EVENTS + 4));
        assert_eq!(rows.last().unwrap().subject, "user5");
        assert_eq!(rows[0].kind, "login failed");
    }

    #[test]
    fn long_values_are_clipped_not_refused() {
        let mut store = Store::open_in_memory().unwrap();
        let mut e = event(1);
        e.subject = "é".repeat(200);
        e.detail = "x".repeat(2000);
        store.record_security_event(&e).unwrap();
        let rows = store.security_events(1).unwrap();
        assert_eq!(rows[0].subject.len(), 128);
        assert_eq!(rows[0].detail.len(), 512);
    }
}
