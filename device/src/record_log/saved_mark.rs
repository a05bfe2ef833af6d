//! What the kiosk has reported saved, kept beside the log.
//!
//! ```text
//! "SKSAVED\x01" | u64 LE records | [u8; 32] last hash | u32 LE crc32(all before)
//! ```
//!
//! A torn write and damage look alike in the log itself: both are bytes
//! that do not parse. What tells them apart is whether the kiosk had already
//! told the nurse "saved". [`crate::record_log::RecordLog::append`] writes
//! this mark after the entry's `fdatasync` and before it returns, so every
//! record the result screen called saved is counted here. The mark is
//! replaced whole (write, fsync, rename, fsync of the folder), the way
//! SQLite's rollback journal or a checkpoint file is, so it is never torn:
//! a mark that fails its checksum was damaged after it was written.
//!
//! On open, damage inside the counted records, a log shorter than the mark,
//! a last counted record whose hash differs, or a missing log with a mark
//! that counts records, all stop the kiosk and change nothing. Only bytes
//! beyond the counted records may be an unfinished append, and only they
//! are cut.

use std::io;
use std::path::{Path, PathBuf};

use screening::record::RecordHash;

const MAGIC: [u8; 8] = *b"SKSAVED\x01";
const LEN: usize = 8 + 8 + 32 + 4;

/// The saved mark of one log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavedMark {
    /// Records reported saved.
    pub records: u64,
    /// Its hash ([`RecordHash::GENESIS`] for none).
    pub last_hash: RecordHash,
}

/// Why the mark could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MarkError {
    /// Reading failed.
    #[error("{path}: {source}")]
    Io {
        /// The mark file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Wrong size, header or checksum.
    #[error("{path} is damaged ({reason})")]
    Damaged {
        /// The mark file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// The mark's file for the log at `log`: `<log>.saved`.
pub fn path_for(log: &Path) -> PathBuf {
    let mut name = log.as_os_str().to_owned();
    name.push(".saved");
    PathBuf::from(name)
}

impl SavedMark {
    /// Reads the mark of `log`; `None` when there is none (a new kiosk, or
    /// a log written before marks existed).
    pub fn read(log: &Path) -> Result<Option<SavedMark>, MarkError> {
        let path = path_for(log);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(MarkError::Io { path, source }),
        };
        let damaged = |reason: &str| MarkError::Damaged {
            path: path.clone(),
            reason: reason.into(),
        };
        if bytes.len() != LEN {
            return Err(damaged(&format!("{} bytes, expected {LEN}", bytes.len())));
        }
        if bytes[..8] != MAGIC {
            return Err(damaged("not a saved mark"));
        }
        let crc = u32::from_le_bytes(bytes[LEN - 4..].try_into().expect("4 bytes"));
        if crc32fast::hash(&bytes[..LEN - 4]) != crc {
            return Err(damaged("checksum mismatch"));
        }
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&bytes[16..48]);
        Ok(Some(SavedMark {
            records: u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")),
            last_hash: RecordHash(hash),
        }))
    }

    /// Replaces the mark of `log` durably: on return it survives a power cut.
    pub fn write(&self, log: &Path) -> io::Result<()> {
        screening::durable::write_atomic(&path_for(log), &self.encode(), 0o600)
    }

    fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(LEN);
        b.extend_from_slice(&MAGIC);
        b.extend_from_slice(&self.records.to_le_bytes());
        b.extend_from_slice(&self.last_hash.0);
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_reads_back_and_a_flipped_byte_is_damage() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("records.log");
        assert_eq!(SavedMark::read(&log).unwrap(), None);
        let mark = SavedMark {
            records: 7,
            last_hash: RecordHash([9; 32]),
        };
        mark.write(&log).unwrap();
        assert_eq!(SavedMark::read(&log).unwrap(), Some(mark));
        let path = path_for(&log);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[9] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let err = SavedMark::read(&log).unwrap_err();
        assert!(err.to_string().contains("checksum"), "{err}");
        std::fs::write(&path, &bytes[..10]).unwrap();
        assert!(SavedMark::read(&log).is_err());
    }
}
