//! USB bundles: a folder per kiosk on a removable drive, holding a records
//! file sealed to the paired clinic's key, a manifest signed by the kiosk
//! that names the sealed file's SHA-256, and (after `clinic import`) the
//! host's signed acknowledgement.
//!
//! ```text
//! DIR/synkinesis/<device id hex>/manifest.json   SignedManifest (JSON)
//!                               /records.sealed  framed signed records, sealed (seal::seal_bundle)
//!                               /ack.bin         SignedAck (postcard), written by the clinic
//! ```
//!
//! A stick found in a car park shows which kiosk wrote it, how many records
//! and when; not one field of a record, patient reference included.

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::fixed_bytes;
use super::format::{DeviceId, FormatError};
use super::seal::{self, ClinicSecret};
use super::sign::{Signature, SignedRecord};

/// Top folder of bundles on the drive.
pub const BUNDLE_ROOT: &str = "synkinesis";
/// Manifest file name inside a device folder.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Records file name inside a device folder.
pub const RECORDS_FILE: &str = "records.sealed";
/// The unsealed records file of bundle version 1, removed by exports since.
pub const PLAIN_RECORDS_FILE: &str = "records.bin";
/// Acknowledgement file name inside a device folder.
pub const ACK_FILE: &str = "ack.bin";
/// Bundle format version: 2 seals the records file (version 1 left it
/// plain, and is refused).
pub const BUNDLE_VERSION: u16 = 2;

const MANIFEST_DOMAIN: &[u8] = b"synkinesis-kiosk/bundle-manifest/v1\0";

/// Why a bundle was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The manifest's signature is not the device's.
    #[error("bundle manifest is not signed by device {0}")]
    BadManifestSignature(DeviceId),
    /// A file's bytes do not hash to what the manifest says (swapped or damaged).
    #[error("bundle file `{name}` does not match its manifest entry (swapped or damaged)")]
    FileMismatch {
        /// The file.
        name: String,
    },
    /// The manifest does not list a required file, or lists an unexpected one.
    #[error("bundle manifest lists files {0:?}, expected exactly [\"{RECORDS_FILE}\"]")]
    UnexpectedFiles(Vec<String>),
    /// The records file is not a sequence of framed records.
    #[error("bundle records file is malformed: {0}")]
    Malformed(String),
    /// A version this build does not read.
    #[error("bundle version {0} is not supported (this build reads {BUNDLE_VERSION}; update the kiosk and export again)")]
    UnsupportedVersion(u16),
    /// The records file does not open with this clinic's key.
    #[error("bundle records file does not open with this clinic's key (sealed for another clinic, or altered): {0}")]
    NotForThisClinic(seal::SealError),
}

/// One file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleFile {
    /// File name inside the device folder.
    pub name: String,
    /// SHA-256 of its bytes.
    #[serde(with = "fixed_bytes")]
    pub sha256: [u8; 32],
    /// Its length.
    pub bytes: u64,
}

impl BundleFile {
    /// The entry describing `bytes` stored as `name`.
    pub fn describe(name: &str, bytes: &[u8]) -> Self {
        BundleFile {
            name: name.to_string(),
            sha256: Sha256::digest(bytes).into(),
            bytes: bytes.len() as u64,
        }
    }

    /// Whether `bytes` are what this entry describes.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        self.bytes == bytes.len() as u64 && self.sha256 == <[u8; 32]>::from(Sha256::digest(bytes))
    }
}

/// What a bundle holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`BUNDLE_VERSION`].
    pub version: u16,
    /// The kiosk that wrote the bundle.
    pub device: DeviceId,
    /// First record's sequence (when `records > 0`).
    pub first_sequence: u64,
    /// Last record's sequence (when `records > 0`).
    pub last_sequence: u64,
    /// How many records.
    pub records: u64,
    /// Kiosk clock when written, milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// The files and their hashes.
    pub files: Vec<BundleFile>,
}

/// A [`Manifest`] signed by the kiosk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedManifest {
    /// The manifest.
    pub manifest: Manifest,
    /// Kiosk signature over its `postcard` encoding.
    pub signature: Signature,
}

impl SignedManifest {
    /// Signs `manifest` with the kiosk key.
    pub fn sign(manifest: Manifest, key: &SigningKey) -> Self {
        let bytes = postcard::to_allocvec(&manifest).expect("encoding a manifest cannot fail");
        SignedManifest {
            signature: Signature::create(key, MANIFEST_DOMAIN, &bytes),
            manifest,
        }
    }

    /// Checks version and signature against the device's key.
    pub fn verify(&self, key: &VerifyingKey) -> Result<&Manifest, BundleError> {
        if self.manifest.version != BUNDLE_VERSION {
            return Err(BundleError::UnsupportedVersion(self.manifest.version));
        }
        let bytes = postcard::to_allocvec(&self.manifest).expect("encoding a manifest cannot fail");
        if !self.signature.check(key, MANIFEST_DOMAIN, &bytes)
            || DeviceId::of(key) != self.manifest.device
        {
            return Err(BundleError::BadManifestSignature(self.manifest.device));
        }
        Ok(&self.manifest)
    }

    /// The single records-file entry, after checking that it is the only one.
    pub fn records_file(&self) -> Result<&BundleFile, BundleError> {
        match self.manifest.files.as_slice() {
            [f] if f.name == RECORDS_FILE => Ok(f),
            files => Err(BundleError::UnexpectedFiles(
                files.iter().map(|f| f.name.clone()).collect(),
            )),
        }
    }
}

/// Frames records for the records file: `u32` LE length, then the envelope.
pub fn encode_records(records: &[SignedRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        let bytes = r.to_bytes();
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(&bytes);
    }
    out
}

/// The records file of a bundle for the clinic whose pinned host key is
/// `pinned`: [`encode_records`], sealed.
pub fn seal_records(
    pinned: &VerifyingKey,
    records: &[SignedRecord],
) -> Result<Vec<u8>, seal::SealError> {
    seal::seal_bundle(pinned, &encode_records(records))
}

/// Opens and reads what [`seal_records`] wrote (envelopes parsed, not verified).
pub fn open_records(clinic: &ClinicSecret, bytes: &[u8]) -> Result<Vec<SignedRecord>, BundleError> {
    decode_records(
        &clinic
            .open_bundle(bytes)
            .map_err(BundleError::NotForThisClinic)?,
    )
}

/// Reads what [`encode_records`] wrote (envelopes parsed, not verified).
pub fn decode_records(mut bytes: &[u8]) -> Result<Vec<SignedRecord>, BundleError> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        if bytes.len() < 4 {
            return Err(BundleError::Malformed("truncated length prefix".into()));
        }
        let n = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes")) as usize;
        let frame = bytes
            .get(4..4 + n)
            .ok_or_else(|| BundleError::Malformed(format!("record {} is truncated", out.len())))?;
        out.push(SignedRecord::from_bytes(frame).map_err(|e: FormatError| {
            BundleError::Malformed(format!("record {}: {e}", out.len()))
        })?);
        bytes = &bytes[4 + n..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Record, RecordBody, RecordHash};

    #[test]
    fn manifest_signature_and_file_hash() {
        let k = SigningKey::from_bytes(&[3; 32]);
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
        let records = vec![SignedRecord::sign(&r, &k).unwrap()];
        let host = SigningKey::from_bytes(&[5; 32]);
        let file = seal_records(&host.verifying_key(), &records).unwrap();
        let m = Manifest {
            version: BUNDLE_VERSION,
            device,
            first_sequence: 0,
            last_sequence: 0,
            records: 1,
            created_ms: 9,
            files: vec![BundleFile::describe(RECORDS_FILE, &file)],
        };
        let signed: SignedManifest =
            serde_json::from_str(&serde_json::to_string(&SignedManifest::sign(m, &k)).unwrap())
                .unwrap();
        assert!(signed.verify(&k.verifying_key()).is_ok());
        assert!(signed.records_file().unwrap().matches(&file));
        let clinic = ClinicSecret::for_bundles(&host);
        assert_eq!(open_records(&clinic, &file).unwrap(), records);
        assert!(matches!(
            open_records(&ClinicSecret::for_bundles(&k), &file),
            Err(BundleError::NotForThisClinic(_))
        ));
        let mut other = file.clone();
        other[20] ^= 1;
        assert!(!signed.records_file().unwrap().matches(&other));
        assert!(signed
            .verify(&SigningKey::from_bytes(&[4; 32]).verifying_key())
            .is_err());
        let plain = encode_records(&records);
        assert_eq!(decode_records(&plain).unwrap(), records);
        assert!(decode_records(&plain[..plain.len() - 1]).is_err());
    }
}
