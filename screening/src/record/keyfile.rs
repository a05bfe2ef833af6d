//! Ed25519 key files (kiosk identity, clinic host key).
//!
//! A key file holds the 32 secret bytes and nothing else, with mode 0600.
//! It is written with [`crate::durable::write_atomic`] (temporary file,
//! fsync, rename, folder fsync), so a power cut leaves either the old file
//! or the new one. Loading refuses a file that others can read or
//! write, and a file of the wrong length, with a message that says what to do.

use ed25519_dalek::SigningKey;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::durable::{parent_dir, write_atomic};

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// Reading or writing failed.
    #[error("key file {path}: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Group or others may read or write the file.
    #[error("key file {path} has mode {mode:03o}; a private key must be readable by its owner only (chmod 600 it, or replace the key and re-enrol)")]
    LoosePermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Not 32 bytes: not a key this software wrote.
    #[error("key file {path} holds {len} bytes, expected 32: it is not a key written by this software (move it away to make a new one, then re-enrol)")]
    WrongLength {
        /// The key file.
        path: PathBuf,
        /// Its length.
        len: u64,
    },
    /// The operating system's random source failed.
    #[error("no randomness for a new key: {0}")]
    Random(String),
}

/// Loads the key at `path`, refusing loose permissions and wrong lengths.
pub fn load(path: &Path) -> Result<SigningKey, KeyFileError> {
    let io_err = |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = File::open(path).map_err(io_err)?;
    let meta = f.metadata().map_err(io_err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::LoosePermissions {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    if meta.len() != 32 {
        return Err(KeyFileError::WrongLength {
            path: path.to_path_buf(),
            len: meta.len(),
        });
    }
    let mut secret = [0u8; 32];
    f.read_exact(&mut secret).map_err(io_err)?;
    Ok(SigningKey::from_bytes(&secret))
}

/// Loads the key at `path`, or makes a new one there if none exists.
/// Returns the key and whether it was just made.
pub fn load_or_generate(path: &Path) -> Result<(SigningKey, bool), KeyFileError> {
    match load(path) {
        Err(KeyFileError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
        other => return other.map(|k| (k, false)),
    }
    let io_err = |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    fs::create_dir_all(parent_dir(path)).map_err(io_err)?;
    let mut secret = [0u8; 32];
    rand::RngCore::try_fill_bytes(&mut rand::rngs::OsRng, &mut secret)
        .map_err(|e| KeyFileError::Random(e.to_string()))?;
    write_atomic(path, &secret, 0o600).map_err(io_err)?;
    tracing::info!(path = %path.display(), "generated a new Ed25519 key");
    Ok((SigningKey::from_bytes(&secret), true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_then_load_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/id.key");
        let (k1, made) = load_or_generate(&path).unwrap();
        assert!(made);
        let (k2, made) = load_or_generate(&path).unwrap();
        assert!(!made);
        assert_eq!(k1.to_bytes(), k2.to_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert_eq!(
            fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[cfg(unix)]
    #[test]
    fn loose_permissions_and_wrong_length_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id.key");
        load_or_generate(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_generate(&path).unwrap_err();
        assert!(
            matches!(err, KeyFileError::LoosePermissions { mode: 0o644, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"));

        write_atomic(&path, &[1; 31], 0o600).unwrap();
        assert!(matches!(
            load(&path),
            Err(KeyFileError::WrongLength { len: 31, .. })
        ));
    }
}
