//! The kiosk's append-only record log: one file, crash-safe.
//!
//! ```text
//! "SKLOG\0\x01\n"                                  8-byte header
//! { u32 LE n | u32 LE crc32(payload) | payload }*  payload = signed record envelope (n bytes)
//! ```
//!
//! [`RecordLog::append`] checks that the record is the next link of the
//! chain, writes the entry in one `write`, and `fdatasync`s before it
//! returns; creating the file fsyncs the folder too. [`RecordLog::open`]
//! walks every entry (checksum, envelope, hash, signature, chain) and then:
//!
//! * damage inside the records the kiosk reported saved (counted by the
//!   [`saved_mark`] beside the log), a log shorter than that count, or a
//!   missing log whose mark counts records, is refused with the file left
//!   untouched: those records were promised to a patient;
//! * a damaged tail past them with no valid entry after it is a torn write:
//!   the bytes are copied to `<log>.at-<offset>.torn` (for forensics, the
//!   newest [`TORN_COPIES_KEPT`] kept) and cut off;
//! * a damaged entry *followed by valid ones* is real corruption: open fails
//!   with [`LogError::Corrupt`] and the file is left untouched;
//! * an entry whose checksum is right but whose record does not verify or
//!   link is tampering or a bug: open fails with [`LogError::Chain`].
//!
//! The file is locked (`flock`) while open, so two kiosk processes never
//! append or repair at once.

use ed25519_dalek::VerifyingKey;
use screening::durable::sync_dir;
use screening::record::{ChainVerifier, RecordHash, SignedRecord, VerifyError};
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tracing::{info, warn};

pub mod saved_mark;
use saved_mark::{MarkError, SavedMark};

/// How many `.torn` copies are kept beside the log; older ones are removed
/// when a new one is made, so repeated crashes cannot fill the disk.
pub const TORN_COPIES_KEPT: usize = 16;

/// First bytes of a record log.
pub const LOG_MAGIC: [u8; 8] = *b"SKLOG\x00\x01\n";
const ENTRY_HEADER: usize = 8;
const MAX_PAYLOAD: usize = screening::record::format::MAX_RECORD_BYTES + 8 + 96;

/// Why the log cannot be opened or appended to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// Reading, writing or syncing failed.
    #[error("record log {path}: {source}")]
    Io {
        /// The log file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Another process holds the log.
    #[error("record log {path} is in use by another kiosk process")]
    Locked {
        /// The log file.
        path: PathBuf,
    },
    /// The file does not start with the log header.
    #[error("{path} is not a record log (bad header); left untouched")]
    NotALog {
        /// The file.
        path: PathBuf,
    },
    /// A damaged entry with valid entries after it.
    #[error("record log {path} is corrupt at byte {offset} (entry {entry}: {reason}) and valid entries follow at byte {next_valid}, so this is not a torn write. The file was left untouched: copy it somewhere safe for inspection and call for help before moving it away (unsynced records would be lost)")]
    Corrupt {
        /// The log file.
        path: PathBuf,
        /// Where the damaged entry starts.
        offset: u64,
        /// Its index (= sequence number).
        entry: u64,
        /// What is wrong with it.
        reason: String,
        /// Where the next valid entry starts.
        next_valid: u64,
    },
    /// An intact entry whose record does not verify or does not link.
    #[error("record log {path}: entry {entry} at byte {offset} has a valid checksum but fails verification ({source}); the log was altered or written by another key. Left untouched")]
    Chain {
        /// The log file.
        path: PathBuf,
        /// Its index.
        entry: u64,
        /// Where it starts.
        offset: u64,
        /// Why it fails.
        source: VerifyError,
    },
    /// A record offered to `append` is not the next link.
    #[error("record refused by the log: {0}")]
    NotNext(VerifyError),
    /// Damage inside the records already reported saved.
    #[error("record log {path}: entry {entry} at byte {offset} is damaged ({reason}), and the kiosk had reported it saved. This is not an unfinished write, so nothing was cut and the file was left untouched: copy the data folder somewhere safe and call for help")]
    SavedDamaged {
        /// The log file.
        path: PathBuf,
        /// Its index.
        entry: u64,
        /// Where it starts.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The log holds fewer records than the kiosk reported saved, or is gone.
    #[error("record log {path} holds {found} records but the kiosk reported {saved} saved (the file was truncated, replaced or deleted). Nothing was changed: restore the log from a copy, or call for help; do not start the kiosk afresh, its saved records would be lost")]
    Missing {
        /// The log file.
        path: PathBuf,
        /// Records found.
        found: u64,
        /// Records reported saved.
        saved: u64,
    },
    /// The last saved record is not the one the kiosk saved.
    #[error("record log {path}: record {entry} is not the one the kiosk saved (its hash differs from the saved mark); the log was replaced or rewritten. Left untouched")]
    Replaced {
        /// The log file.
        path: PathBuf,
        /// The record's index.
        entry: u64,
    },
    /// The saved mark beside the log cannot be read.
    #[error("record log {path}: its saved mark {mark}. Nothing was changed: call for help")]
    Mark {
        /// The log file.
        path: PathBuf,
        /// What is wrong with the mark.
        mark: MarkError,
    },
    /// An earlier write or fsync failed; the file's state is unknown until reopened.
    #[error("record log {path} had a failed write or fsync; reopen it before appending")]
    Poisoned {
        /// The log file.
        path: PathBuf,
    },
}

/// What [`RecordLog::open`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Records in the log.
    pub records: u64,
    /// Bytes of torn tail cut off (0 if none).
    pub torn_bytes: u64,
    /// Where the cut bytes were kept.
    pub torn_copy: Option<PathBuf>,
    /// The file was created by this open.
    pub created: bool,
}

/// An open, locked, verified record log.
#[derive(Debug)]
pub struct RecordLog {
    path: PathBuf,
    file: File,
    verifier: ChainVerifier,
    offsets: Vec<u64>,
    end: u64,
    poisoned: bool,
    split_pause: Option<Duration>,
}

impl RecordLog {
    /// Opens (or creates) the log at `path` for the kiosk whose public key
    /// is `key`, verifies it, and cuts a torn tail.
    pub fn open(path: &Path, key: VerifyingKey) -> Result<(Self, OpenReport), LogError> {
        let io_err = |source| LogError::Io {
            path: path.to_path_buf(),
            source,
        };
        let existed = path.exists();
        // Read once, before anything is created: a log that is gone while
        // its mark counts records was deleted, not never written. Marks are
        // replaced by rename, so this reads a whole one even unlocked; a
        // process that holds the log makes the lock below fail anyway.
        let mark = SavedMark::read(path).map_err(|mark| LogError::Mark {
            path: path.to_path_buf(),
            mark,
        })?;
        if let Some(mark) = mark.filter(|m| !existed && m.records > 0) {
            return Err(LogError::Missing {
                path: path.to_path_buf(),
                found: 0,
                saved: mark.records,
            });
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_err)?;
        lock(&file, path)?;
        // With the log locked no other kiosk process is writing here.
        let stale =
            screening::durable::remove_stale_temporaries(screening::durable::parent_dir(path));
        if stale > 0 {
            info!(path = %path.display(), stale, "removed temporaries of interrupted writes");
        }
        let saved = mark.map_or(0, |m| m.records);
        let mut report = OpenReport {
            created: !existed,
            ..OpenReport::default()
        };
        if !existed {
            sync_dir(screening::durable::parent_dir(path)).map_err(io_err)?;
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io_err)?;

        if bytes.len() < LOG_MAGIC.len() {
            if saved > 0 {
                return Err(LogError::Missing {
                    path: path.to_path_buf(),
                    found: 0,
                    saved,
                });
            }
            if !LOG_MAGIC.starts_with(&bytes) {
                return Err(LogError::NotALog {
                    path: path.to_path_buf(),
                });
            }
            // New file, or a header torn while being created: (re)write it.
            if !bytes.is_empty() {
                warn!(path = %path.display(), bytes = bytes.len(), "record log header was torn; rewriting it");
            }
            file.set_len(0).map_err(io_err)?;
            file.write_all_at(&LOG_MAGIC, 0).map_err(io_err)?;
            file.sync_all().map_err(io_err)?;
            bytes = LOG_MAGIC.to_vec();
        } else if bytes[..LOG_MAGIC.len()] != LOG_MAGIC {
            return Err(LogError::NotALog {
                path: path.to_path_buf(),
            });
        }

        let mut verifier = ChainVerifier::new(key);
        let mut offsets = Vec::new();
        let mut pos = LOG_MAGIC.len();
        while pos < bytes.len() {
            let entry = offsets.len() as u64;
            let signed = match parse_entry(&bytes[pos..]) {
                Ok((signed, _)) => signed,
                Err(reason) if entry < saved => {
                    return Err(LogError::SavedDamaged {
                        path: path.to_path_buf(),
                        entry,
                        offset: pos as u64,
                        reason,
                    });
                }
                Err(reason) => {
                    if let Some(next_valid) = find_valid_entry(&bytes, pos + 1) {
                        return Err(LogError::Corrupt {
                            path: path.to_path_buf(),
                            offset: pos as u64,
                            entry,
                            reason,
                            next_valid: next_valid as u64,
                        });
                    }
                    let copy =
                        cut_torn_tail(path, &file, &bytes[pos..], pos as u64).map_err(io_err)?;
                    warn!(path = %path.display(), offset = pos, bytes = bytes.len() - pos, reason = %reason,
                          copy = %copy.display(), "cut a torn tail off the record log");
                    report.torn_bytes = (bytes.len() - pos) as u64;
                    report.torn_copy = Some(copy);
                    bytes.truncate(pos);
                    break;
                }
            };
            if let Err(source) = verifier.push(&signed) {
                return Err(LogError::Chain {
                    path: path.to_path_buf(),
                    entry,
                    offset: pos as u64,
                    source,
                });
            }
            offsets.push(pos as u64);
            pos += ENTRY_HEADER + signed.encoded_len();
            if offsets.len() as u64 == saved && mark.is_some_and(|m| m.last_hash != signed.hash()) {
                return Err(LogError::Replaced {
                    path: path.to_path_buf(),
                    entry,
                });
            }
        }
        report.records = offsets.len() as u64;
        if report.records < saved {
            return Err(LogError::Missing {
                path: path.to_path_buf(),
                found: report.records,
                saved,
            });
        }
        // Records past the mark were written and synced but the kiosk died
        // before it said "saved"; they verify, so they are kept, and the
        // mark catches up (also for a log from before marks existed).
        if mark.is_none() || report.records > saved {
            if mark.is_none() && report.records > 0 {
                warn!(path = %path.display(), records = report.records,
                      "record log has no saved mark (written by an earlier version); marking its records saved");
            }
            SavedMark {
                records: report.records,
                last_hash: verifier.last_hash(),
            }
            .write(path)
            .map_err(io_err)?;
        }
        info!(path = %path.display(), records = report.records, "record log verified");
        let log = RecordLog {
            path: path.to_path_buf(),
            file,
            verifier,
            offsets,
            end: bytes.len() as u64,
            poisoned: false,
            split_pause: None,
        };
        Ok((log, report))
    }

    /// Appends `signed`, which must be the next link of the chain, and
    /// returns once the entry is on stable storage.
    pub fn append(&mut self, signed: &SignedRecord) -> Result<(), LogError> {
        if self.poisoned {
            return Err(LogError::Poisoned {
                path: self.path.clone(),
            });
        }
        self.verifier.check(signed).map_err(LogError::NotNext)?;
        let entry = frame(signed);
        let written = match self.split_pause {
            None => self.file.write_all_at(&entry, self.end),
            Some(pause) => {
                // Crash drill only: two writes with a pause, so kills land mid-entry.
                let half = entry.len() / 2;
                self.file
                    .write_all_at(&entry[..half], self.end)
                    .and_then(|()| {
                        std::thread::sleep(pause);
                        self.file
                            .write_all_at(&entry[half..], self.end + half as u64)
                    })
            }
        };
        if let Err(source) = written.and_then(|()| self.file.sync_data()) {
            // After a failed fsync the page cache may lie: refuse further appends.
            self.poisoned = true;
            let _ = self.file.set_len(self.end);
            return Err(LogError::Io {
                path: self.path.clone(),
                source,
            });
        }
        self.verifier.push(signed).map_err(LogError::NotNext)?;
        self.offsets.push(self.end);
        self.end += entry.len() as u64;
        // Only now is the record saved: the mark is what a later open
        // trusts when it must tell damage from an unfinished append.
        let mark = SavedMark {
            records: self.offsets.len() as u64,
            last_hash: self.verifier.last_hash(),
        };
        if let Err(source) = mark.write(&self.path) {
            // The entry is synced and will be adopted on reopen; this
            // process cannot tell what the folder holds now.
            self.poisoned = true;
            return Err(LogError::Io {
                path: self.path.clone(),
                source,
            });
        }
        Ok(())
    }

    /// Number of records (= next sequence number).
    pub fn len(&self) -> u64 {
        self.offsets.len() as u64
    }

    /// Whether the log holds no record.
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// Hash of the last record ([`RecordHash::GENESIS`] if none).
    pub fn last_hash(&self) -> RecordHash {
        self.verifier.last_hash()
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads record `sequence`.
    pub fn get(&self, sequence: u64) -> Result<Option<SignedRecord>, LogError> {
        Ok(self.read_range(sequence, 1, usize::MAX)?.pop())
    }

    /// Reads up to `max_records` records from `from` on, stopping before
    /// their envelopes would exceed `max_bytes` (at least one is returned if any).
    pub fn read_range(
        &self,
        from: u64,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Vec<SignedRecord>, LogError> {
        let io_err = |source| LogError::Io {
            path: self.path.clone(),
            source,
        };
        let mut out = Vec::new();
        let mut total = 0usize;
        for seq in from..self.len() {
            if out.len() >= max_records {
                break;
            }
            let start = self.offsets[seq as usize];
            let end = self
                .offsets
                .get(seq as usize + 1)
                .copied()
                .unwrap_or(self.end);
            let mut buf = vec![0u8; (end - start) as usize];
            self.file.read_exact_at(&mut buf, start).map_err(io_err)?;
            let (signed, _) = parse_entry(&buf).map_err(|reason| {
                io_err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("entry {seq} changed on disk: {reason}"),
                ))
            })?;
            total += signed.encoded_len();
            if total > max_bytes && !out.is_empty() {
                break;
            }
            out.push(signed);
        }
        Ok(out)
    }

    /// Crash drill only: write each entry in two halves with `pause` between.
    #[doc(hidden)]
    pub fn set_split_writes(&mut self, pause: Option<Duration>) {
        self.split_pause = pause;
    }
}

/// One entry's bytes.
fn frame(signed: &SignedRecord) -> Vec<u8> {
    let payload = signed.to_bytes();
    let mut entry = Vec::with_capacity(ENTRY_HEADER + payload.len());
    entry.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    entry.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    entry.extend_from_slice(&payload);
    entry
}

/// Parses the entry at the start of `bytes`: header, checksum, envelope.
fn parse_entry(bytes: &[u8]) -> Result<(SignedRecord, usize), String> {
    if bytes.len() < ENTRY_HEADER {
        return Err(format!(
            "{} bytes, too short for an entry header",
            bytes.len()
        ));
    }
    let n = u32::from_le_bytes(bytes[0..4].try_into().expect("4 bytes")) as usize;
    if n == 0 || n > MAX_PAYLOAD {
        return Err(format!("impossible entry length {n}"));
    }
    let Some(payload) = bytes.get(ENTRY_HEADER..ENTRY_HEADER + n) else {
        return Err(format!("entry of {n} bytes runs past the end of the file"));
    };
    let crc = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes"));
    if crc32fast::hash(payload) != crc {
        return Err("checksum mismatch".into());
    }
    let signed = SignedRecord::from_bytes(payload).map_err(|e| format!("bad envelope: {e}"))?;
    Ok((signed, ENTRY_HEADER + n))
}

/// First offset at or after `from` where a whole valid entry starts.
fn find_valid_entry(bytes: &[u8], from: usize) -> Option<usize> {
    (from..bytes.len().saturating_sub(ENTRY_HEADER)).find(|&p| parse_entry(&bytes[p..]).is_ok())
}

/// Saves `tail` next to the log, then truncates the log at `offset`.
fn cut_torn_tail(path: &Path, file: &File, tail: &[u8], offset: u64) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = screening::durable::parent_dir(path);
    let mut copy = dir.join(format!("{name}.at-{offset}.torn"));
    let mut n = 1;
    while copy.exists() {
        copy = dir.join(format!("{name}.at-{offset}.{n}.torn"));
        n += 1;
    }
    screening::durable::write_atomic(&copy, tail, 0o600)?;
    file.set_len(offset)?;
    file.sync_all()?;
    prune_torn_copies(dir, &name);
    Ok(copy)
}

/// Keeps the newest [`TORN_COPIES_KEPT`] `.torn` copies of log `name`.
fn prune_torn_copies(dir: &Path, name: &str) {
    let prefix = format!("{name}.at-");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut copies: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with(&prefix) && n.ends_with(".torn")
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if copies.len() <= TORN_COPIES_KEPT {
        return;
    }
    copies.sort();
    for (_, old) in &copies[..copies.len() - TORN_COPIES_KEPT] {
        if let Err(e) = std::fs::remove_file(old) {
            warn!(copy = %old.display(), "could not remove an old torn copy: {e}");
        }
    }
}

#[cfg(target_os = "linux")]
fn lock(file: &File, path: &Path) -> Result<(), LogError> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a file descriptor we own; no memory is shared.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.kind() == io::ErrorKind::WouldBlock {
        Err(LogError::Locked {
            path: path.to_path_buf(),
        })
    } else {
        Err(LogError::Io {
            path: path.to_path_buf(),
            source: err,
        })
    }
}

#[cfg(not(target_os = "linux"))]
fn lock(_file: &File, _path: &Path) -> Result<(), LogError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use screening::record::{DeviceId, Record, RecordBody};

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[11; 32])
    }

    fn write_log(path: &Path, n: u64) -> Vec<SignedRecord> {
        let (mut log, _) = RecordLog::open(path, key().verifying_key()).unwrap();
        let device = DeviceId::of(&key().verifying_key());
        let mut out = Vec::new();
        for seq in 0..n {
            let r = Record::new(
                device,
                seq,
                log.last_hash(),
                1,
                1,
                seq,
                RecordBody::example(),
            );
            let s = SignedRecord::sign(&r, &key()).unwrap();
            log.append(&s).unwrap();
            out.push(s);
        }
        out
    }

    fn entry_offsets(path: &Path) -> Vec<u64> {
        RecordLog::open(path, key().verifying_key())
            .unwrap()
            .0
            .offsets
    }

    #[test]
    fn append_reopen_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.log");
        let written = write_log(&path, 5);
        let (log, report) = RecordLog::open(&path, key().verifying_key()).unwrap();
        assert_eq!(
            report,
            OpenReport {
                records: 5,
                ..OpenReport::default()
            }
        );
        assert_eq!(log.read_range(0, 100, usize::MAX).unwrap(), written);
        assert_eq!(log.read_range(3, 100, usize::MAX).unwrap(), written[3..]);
        assert_eq!(
            log.read_range(0, 100, 1).unwrap().len(),
            1,
            "at least one record"
        );
        assert_eq!(log.get(2).unwrap().unwrap(), written[2]);
    }

    #[test]
    fn second_open_is_refused_while_locked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.log");
        let _held = RecordLog::open(&path, key().verifying_key()).unwrap();
        assert!(matches!(
            RecordLog::open(&path, key().verifying_key()),
            Err(LogError::Locked { .. })
        ));
    }

    /// The mark as it stood after the first `n` of the log's records: the
    /// state a kill during the next append leaves behind.
    fn mark_after(path: &Path, n: usize) {
        let (log, _) = RecordLog::open(path, key().verifying_key()).unwrap();
        let last = log.get(n as u64 - 1).unwrap().unwrap();
        SavedMark {
            records: n as u64,
            last_hash: last.hash(),
        }
        .write(path)
        .unwrap();
    }

    #[test]
    fn torn_tail_is_cut_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.log");
        write_log(&path, 3);
        let full = std::fs::read(&path).unwrap();
        let last = entry_offsets(&path)[2] as usize;
        for cut in [last + 3, last + 20, full.len() - 1] {
            // Killed while appending the third record: two reported saved.
            mark_after(&path, 2);
            std::fs::write(&path, &full[..cut]).unwrap();
            let (log, report) = RecordLog::open(&path, key().verifying_key()).unwrap();
            assert_eq!(log.len(), 2);
            assert_eq!(report.torn_bytes, (cut - last) as u64);
            let copy = report.torn_copy.unwrap();
            assert_eq!(std::fs::read(&copy).unwrap(), &full[last..cut]);
            assert_eq!(std::fs::metadata(&path).unwrap().len(), last as u64);
        }
        // Zeros after the last entry (size extended, data lost) are a torn tail too.
        let mut zeros = full.clone();
        zeros.extend_from_slice(&[0; 300]);
        std::fs::write(&path, &zeros).unwrap();
        let (log, report) = RecordLog::open(&path, key().verifying_key()).unwrap();
        assert_eq!((log.len(), report.torn_bytes), (3, 300));
        drop(log);
        // A whole entry synced before the kill, the mark not yet: it
        // verifies, so it is kept and the mark catches up.
        mark_after(&path, 2);
        let (log, report) = RecordLog::open(&path, key().verifying_key()).unwrap();
        assert_eq!((log.len(), report.torn_bytes), (3, 0));
        assert_eq!(SavedMark::read(&path).unwrap().unwrap().records, 3);
    }

    #[test]
    fn damage_to_a_saved_record_is_never_taken_for_a_torn_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.log");
        write_log(&path, 3);
        let good = std::fs::read(&path).unwrap();
        let last = entry_offsets(&path)[2] as usize;
        // A flipped byte in the last record's body, then in its length.
        for at in [last + 60, last + 1] {
            let mut bytes = good.clone();
            bytes[at] ^= 0x20;
            std::fs::write(&path, &bytes).unwrap();
            let err = RecordLog::open(&path, key().verifying_key()).unwrap_err();
            assert!(
                matches!(err, LogError::SavedDamaged { entry: 2, .. }),
                "{err}"
            );
            assert!(err.to_string().contains("reported it saved"), "{err}");
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "file untouched");
        }
        // The last record cut off, as a torn write would leave it.
        std::fs::write(&path, &good[..last + 10]).unwrap();
        let err = RecordLog::open(&path, key().verifying_key()).unwrap_err();
        assert!(
            matches!(err, LogError::SavedDamaged { entry: 2, .. }),
            "{err}"
        );
        assert_eq!(std::fs::metadata(&path).unwrap().len(), last as u64 + 10);
        let torn = torn_copies(dir.path());
        assert_eq!(torn, 0, "nothing cut, nothing copied");
    }

    #[test]
    fn a_truncated_emptied_or_deleted_log_is_refused_and_nothing_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.log");
        write_log(&path, 3);
        let good = std::fs::read(&path).unwrap();
        let second_end = entry_offsets(&path)[2] as usize;
        for (len, found) in [(second_end, 2), (LOG_MAGIC.len(), 0), (0, 0)] {
            std::fs::write(&path, &good[..len]).unwrap();
            let err = RecordLog::open(&path, key().verifying_key()).unwrap_err();
            assert!(
                matches!(err, LogError::Missing { found: f, saved: 3, .. } if f == found),
                "{len} bytes: {err}"
            );
            assert_eq!(std::fs::metadata(&path).unwrap().len(), len as u64);
        }
        std::fs::remove_file(&path).unwrap();
        let err = RecordLog::open(&path, key().verifying_key()).unwrap_err();
        assert!(matches!(err, LogError::Missing { saved: 3, .. }), "{err}");
        assert!(err.to_string().contains("do not start the kiosk afresh"));
        assert!(!path.exists(), "no new log was started");
    }

    #[test]
    fn a_log_replaced_by_another_of_the_same_kiosk_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.log");
        write_log(&path, 2);
        let old = std::fs::read(&path).unwrap();
        let (mut log, _) = RecordLog::open(&path, key().verifying_key()).unwrap();
        append_one(&mut log, 100);
        drop(log);
        // A copy from before the third record, grown by a different third.
        std::fs::write(&path, &old).unwrap();
        let mark = std::fs::read(saved_mark::path_for(&path)).unwrap();
        let (mut log, _) = {
            std::fs::remove_file(saved_mark::path_for(&path)).unwrap();
            RecordLog::open(&path, key().verifying_key()).unwrap()
        };
        append_one(&mut log, 200);
        drop(log);
        std::fs::write(saved_mark::path_for(&path), &mark).unwrap();
        let err = RecordLog::open(&path, key().verifying_key()).unwrap_err();
        assert!(matches!(err, LogError::Replaced { entry: 2, .. }), "{err}");
    }

    #[test]
    fn a_log_from_before_marks_opens_and_is_marked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.log");
        write_log(&path, 2);
        std::fs::remove_file(saved_mark::path_for(&path)).unwrap();
        let (log, _) = RecordLog::open(&path, key().verifying_key()).unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(SavedMark::read(&path).unwrap().unwrap().records, 2);
    }

    #[test]
    fn torn_copies_are_kept_within_their_bound() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.log");
        write_log(&path, 1);
        let good = std::fs::read(&path).unwrap();
        for i in 0..TORN_COPIES_KEPT + 5 {
            let mut bytes = good.clone();
            bytes.extend_from_slice(&[i as u8 + 1; 5]);
            std::fs::write(&path, &bytes).unwrap();
            let (_, report) = RecordLog::open(&path, key().verifying_key()).unwrap();
            assert_eq!(report.torn_bytes, 5);
        }
        let torn = torn_copies(dir.path());
        assert_eq!(torn, TORN_COPIES_KEPT);
    }

    /// How many `.torn` copies lie in `dir`.
    fn torn_copies(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_string_lossy().ends_with(".torn")
            })
            .count()
    }

    /// Appends the log's next record.
    fn append_one(log: &mut RecordLog, uptime: u64) {
        let device = DeviceId::of(&key().verifying_key());
        let seq = log.len();
        let mut body = RecordBody::example();
        body.patient = None;
        let r = Record::new(device, seq, log.last_hash(), 2, 2, uptime, body);
        log.append(&SignedRecord::sign(&r, &key()).unwrap())
            .unwrap();
    }

    #[test]
    fn corrupt_middle_is_refused_and_file_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.log");
        write_log(&path, 4);
        let offsets = entry_offsets(&path);
        // Past the saved records (a mark from after the first), so that
        // this is the walk's own judgement, not the mark's.
        mark_after(&path, 1);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[offsets[1] as usize + 40] ^= 0x10;
        std::fs::write(&path, &bytes).unwrap();
        let err = RecordLog::open(&path, key().verifying_key()).unwrap_err();
        assert!(
            matches!(err, LogError::Corrupt { entry: 1, next_valid, .. } if next_valid == offsets[2]),
            "{err}"
        );
        assert!(err.to_string().contains("left untouched"));
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "file untouched");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            2,
            "the log and its mark, no torn copy made"
        );
    }

    #[test]
    fn intact_entry_that_does_not_verify_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.log");
        write_log(&path, 2);
        // A valid entry from another key appended by hand: checksum fine, chain not.
        let stranger = SigningKey::from_bytes(&[12; 32]);
        let r = Record::new(
            DeviceId::of(&stranger.verifying_key()),
            0,
            RecordHash::GENESIS,
            1,
            1,
            1,
            RecordBody::example(),
        );
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(&frame(&SignedRecord::sign(&r, &stranger).unwrap()));
        std::fs::write(&path, &bytes).unwrap();
        let err = RecordLog::open(&path, key().verifying_key()).unwrap_err();
        assert!(matches!(err, LogError::Chain { entry: 2, .. }), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }

    #[test]
    fn append_refuses_a_record_that_does_not_link() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.log");
        let written = write_log(&path, 2);
        let (mut log, _) = RecordLog::open(&path, key().verifying_key()).unwrap();
        assert!(matches!(
            log.append(&written[1]),
            Err(LogError::NotNext(VerifyError::Replay { .. }))
        ));
        assert_eq!(log.len(), 2);
    }

    #[test]
    fn foreign_file_is_not_a_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.log");
        std::fs::write(&path, b"hello world, not a log").unwrap();
        assert!(matches!(
            RecordLog::open(&path, key().verifying_key()),
            Err(LogError::NotALog { .. })
        ));
        std::fs::write(&path, &LOG_MAGIC[..3]).unwrap();
        let (log, _) = RecordLog::open(&path, key().verifying_key()).unwrap();
        assert!(log.is_empty());
    }
}
