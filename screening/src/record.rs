//! Signed screening records: what one screening leaves behind, how a kiosk
//! signs and chains it, and how anyone holding the kiosk's public key checks
//! it.
//!
//! A [`Record`] is encoded with `postcard`, hashed with SHA-256 and signed
//! with the kiosk's Ed25519 key into a [`SignedRecord`]. Each record names
//! the hash of the kiosk's previous one, so the records of one kiosk form a
//! chain that [`ChainVerifier`] walks: a missing, replayed, reordered or
//! altered record breaks it and is named by its own [`VerifyError`] variant.
//!
//! The sync wire types ([`wire`]) and the USB bundle manifest ([`bundle`])
//! live here too, since the kiosk writes them and the clinic reads them.
//!
//! ```
//! use screening::record::{self, ChainVerifier, Record, RecordBody, RecordHash, SignedRecord};
//! use ed25519_dalek::SigningKey;
//!
//! let key = SigningKey::from_bytes(&[7; 32]);
//! let device = record::DeviceId::of(&key.verifying_key());
//! let first = Record::new(device, 0, RecordHash::GENESIS, 1_700_000_000_000, 1, 5, RecordBody::example());
//! let signed = SignedRecord::sign(&first, &key).unwrap();
//! assert_eq!(record::verify(&signed, &key.verifying_key()).unwrap(), first);
//!
//! let mut chain = ChainVerifier::new(key.verifying_key());
//! chain.push(&signed).unwrap();
//! assert!(chain.push(&signed).is_err()); // the same record again is a replay
//! ```

mod fixed_bytes;

pub mod bundle;
pub mod chain;
pub mod format;
mod from_series;
pub mod keyfile;
pub mod link;
pub mod patient_ref;
pub mod seal;
pub mod sign;
pub mod verify;
pub mod wire;

#[cfg(test)]
mod test_support;

pub use chain::ChainVerifier;
pub use format::{
    Attachment, DecisionRecord, DeviceId, ExpressionRecord, Figure, FormatError, ModelRef, Outcome,
    PatientRef, Record, RecordBody, RecordHash, FORMAT_VERSION,
};
pub use link::{link, ChainHead, Link};
pub use sign::{Signature, SignedRecord};
pub use verify::{verify, VerifyError};
