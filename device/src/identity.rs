//! The kiosk's identity (an Ed25519 key made on first start, mode 0600)
//! and its boot counter, both in the data folder and both written
//! atomically (temp file, fsync, rename, fsync of the folder).
//!
//! `kiosk identity` prints the public key and its short fingerprint so the
//! clinic can enrol the kiosk (`clinic enroll --key …`).

use ed25519_dalek::{SigningKey, VerifyingKey};
use screening::record::keyfile::{self, KeyFileError};
use screening::record::DeviceId;
use std::io;
use std::path::{Path, PathBuf};

/// Key file name inside the data folder.
pub const KEY_FILE: &str = "identity.key";
/// Boot counter file name inside the data folder.
pub const BOOT_COUNTER_FILE: &str = "boot-counter";

/// Why the identity or the boot counter could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The key file is missing, unreadable, too open or malformed.
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// The boot counter file cannot be read or written.
    #[error("boot counter {path}: {source}")]
    CounterIo {
        /// The counter file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The boot counter file does not hold a number (it is written
    /// atomically, so this is not a torn write: something else wrote it).
    #[error("boot counter {path} does not hold a number ({content:?}); refusing to guess: fix or remove it by hand")]
    CounterCorrupt {
        /// The counter file.
        path: PathBuf,
        /// What it holds (first bytes).
        content: String,
    },
}

/// The kiosk's signing key and the device id derived from it.
pub struct Identity {
    key: SigningKey,
    device: DeviceId,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "Identity({})", self.device)
    }
}

impl Identity {
    /// Loads the key from `data_dir`, making one on first start.
    pub fn open_or_create(data_dir: &Path) -> Result<Self, IdentityError> {
        let (key, _made) = keyfile::load_or_generate(&data_dir.join(KEY_FILE))?;
        Ok(Identity::from_key(key))
    }

    /// Wraps an existing key (tests).
    pub fn from_key(key: SigningKey) -> Self {
        Identity {
            device: DeviceId::of(&key.verifying_key()),
            key,
        }
    }

    /// The private key (signing only; never leaves the kiosk).
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// The public key the clinic enrols.
    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The device id (fingerprint of the public key).
    pub fn device(&self) -> DeviceId {
        self.device
    }

    /// What `kiosk identity` prints.
    pub fn describe(&self) -> String {
        format!(
            "public key:  {}\nfingerprint: {}\ndevice id:   {}\nenrol with:  clinic enroll --key {} --name NAME --site SITE\n",
            hex::encode(self.public_key().to_bytes()),
            self.device.short(),
            self.device.to_hex(),
            hex::encode(self.public_key().to_bytes()),
        )
    }
}

/// Increments the persisted boot counter and returns the new value (1 on
/// the first start).
pub fn bump_boot_counter(data_dir: &Path) -> Result<u64, IdentityError> {
    let path = data_dir.join(BOOT_COUNTER_FILE);
    let io_err = |source| IdentityError::CounterIo {
        path: path.clone(),
        source,
    };
    let current = match std::fs::read(&path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            text.trim()
                .parse::<u64>()
                .map_err(|_| IdentityError::CounterCorrupt {
                    path: path.clone(),
                    content: text.chars().take(32).collect(),
                })?
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => return Err(io_err(e)),
    };
    let next = current + 1;
    std::fs::create_dir_all(data_dir).map_err(io_err)?;
    screening::durable::write_atomic(&path, format!("{next}\n").as_bytes(), 0o644)
        .map_err(io_err)?;
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_stable_and_counter_counts() {
        let dir = tempfile::tempdir().unwrap();
        let a = Identity::open_or_create(dir.path()).unwrap();
        let b = Identity::open_or_create(dir.path()).unwrap();
        assert_eq!(a.device(), b.device());
        assert!(a.describe().contains(&a.device().short()));
        assert_eq!(bump_boot_counter(dir.path()).unwrap(), 1);
        assert_eq!(bump_boot_counter(dir.path()).unwrap(), 2);
        std::fs::write(dir.path().join(BOOT_COUNTER_FILE), "x\n").unwrap();
        assert!(matches!(
            bump_boot_counter(dir.path()),
            Err(IdentityError::CounterCorrupt { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn key_readable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        Identity::open_or_create(dir.path()).unwrap();
        let path = dir.path().join(KEY_FILE);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = Identity::open_or_create(dir.path()).unwrap_err();
        assert!(err.to_string().contains("mode 640"), "{err}");
    }
}
