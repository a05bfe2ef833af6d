//! The record store as the session's result store: a finished screening
//! becomes a record body ([`RecordBody::from_series`]) and is appended,
//! signed and fsync'd, before the result screen says "saved".

use screening::record::{ModelRef, RecordBody};

use crate::record_store::RecordStore;
use crate::session::{ResultStore, SaveError, Screening};

/// The record store, as the session's durable result store.
pub struct SignedArchive<'a> {
    /// Where records go.
    pub store: &'a mut RecordStore,
    /// What produced the evidence.
    pub model: ModelRef,
}

impl ResultStore for SignedArchive<'_> {
    fn save(&mut self, screening: &Screening) -> Result<String, SaveError> {
        let body = RecordBody::from_series(screening, &self.model);
        let record = self.store.append(body).map_err(SaveError::new)?;
        let r = record.decode_unverified().map_err(SaveError::new)?;
        Ok(format!(
            "record {} of kiosk {}",
            r.sequence,
            r.device.short()
        ))
    }
}
