//! HTTPS for the web page when the clinic listens beyond localhost (issue
//! 19, point 3).
//!
//! The certificate is the hospital's (`--tls-cert`, `--tls-key`) or one the
//! clinic generates on first start and keeps beside its database. A
//! generated certificate is trusted by no browser; people trust it by
//! comparing its SHA-256 fingerprint, which `clinic serve` prints when it
//! starts and every page shows in its footer, with the one their browser
//! shows. Kiosks are unaffected: their sync bodies are sealed already
//! ([`screening::record::seal`]), so one port answers both — a connection
//! whose first byte opens a TLS handshake gets HTTPS, any other gets plain
//! HTTP, where only the kiosk sync paths answer (see
//! [`super::sniff`]).

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tracing::info;

/// File names of a generated certificate and its key, beside the database.
pub const GENERATED_CERT: &str = "clinic-tls.crt";
/// See [`GENERATED_CERT`].
pub const GENERATED_KEY: &str = "clinic-tls.key";

/// Why HTTPS could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A certificate or key file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file that holds no usable PEM certificate or key.
    #[error("{path}: {reason}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// rustls refused the certificate and key together.
    #[error("the certificate and key do not make a TLS server: {0}")]
    Config(#[from] rustls::Error),
    /// Generating a certificate failed.
    #[error("generating the clinic's certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// A TLS server configuration with what people need to trust it.
pub struct TlsSetup {
    /// What rustls serves with.
    pub config: Arc<rustls::ServerConfig>,
    /// SHA-256 of the leaf certificate, as browsers show it (`AB:CD:…`).
    pub fingerprint: String,
    /// Base64 SHA-256 of the leaf's public key (SubjectPublicKeyInfo), for
    /// pinning (`chromium --ignore-certificate-errors-spki-list`), when the
    /// key's type is one rcgen reads.
    pub spki_sha256_base64: Option<String>,
    /// The certificate file.
    pub cert_path: PathBuf,
}

impl std::fmt::Debug for TlsSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSetup")
            .field("fingerprint", &self.fingerprint)
            .field("cert_path", &self.cert_path)
            .finish_non_exhaustive()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

impl TlsSetup {
    /// From the hospital's PEM files (the certificate chain, leaf first, and
    /// its private key).
    pub fn from_files(cert: &Path, key: &Path) -> Result<TlsSetup, TlsError> {
        let pem_err = |path: &Path| {
            let path = path.to_path_buf();
            move |e: rustls::pki_types::pem::Error| TlsError::Pem {
                path,
                reason: format!("no PEM certificate or key here ({e})"),
            }
        };
        let cert_pem = read(cert)?;
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(pem_err(cert))?;
        if chain.is_empty() {
            return Err(TlsError::Pem {
                path: cert.to_path_buf(),
                reason: "no certificate in the file".into(),
            });
        }
        let key_pem = read(key)?;
        let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(pem_err(key))?;
        let spki = std::str::from_utf8(&key_pem)
            .ok()
            .and_then(|pem| rcgen::KeyPair::from_pem(pem).ok())
            .map(|k| spki_sha256_base64(&k));
        TlsSetup::new(chain, private, spki, cert)
    }

    /// The certificate generated on an earlier start in `dir`, or a new one
    /// for `names` (host names and addresses the clinic is reached by),
    /// written there with its key readable by the clinic's user only.
    pub fn load_or_generate(dir: &Path, names: &[String]) -> Result<TlsSetup, TlsError> {
        let (cert, key) = (dir.join(GENERATED_CERT), dir.join(GENERATED_KEY));
        if cert.exists() && key.exists() {
            return TlsSetup::from_files(&cert, &key);
        }
        let mut params = rcgen::CertificateParams::new(names.to_vec())?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "synkinesis screening clinic");
        // Ten years: a clinic laptop's certificate should not lapse mid-campaign;
        // trust rests on the fingerprint, not on a CA's expiry.
        params.not_before = rcgen::date_time_ymd(2026, 1, 1);
        params.not_after = rcgen::date_time_ymd(2036, 1, 1);
        let key_pair = rcgen::KeyPair::generate()?;
        let generated = params.self_signed(&key_pair)?;
        write_private(&key, key_pair.serialize_pem().as_bytes())?;
        screening::durable::write_atomic(&cert, generated.pem().as_bytes(), 0o644).map_err(
            |source| TlsError::Io {
                path: cert.clone(),
                source,
            },
        )?;
        info!(cert = %cert.display(), "generated the clinic's TLS certificate");
        TlsSetup::from_files(&cert, &key)
    }

    fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        spki_sha256_base64: Option<String>,
        cert_path: &Path,
    ) -> Result<TlsSetup, TlsError> {
        let fingerprint = colon_hex(&Sha256::digest(&chain[0]));
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsSetup {
            config: Arc::new(config),
            fingerprint,
            spki_sha256_base64,
            cert_path: cert_path.to_path_buf(),
        })
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    screening::durable::write_atomic(path, bytes, 0o600).map_err(|source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn spki_sha256_base64(key: &rcgen::KeyPair) -> String {
    use base64::Engine;
    use rcgen::PublicKeyData;
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(key.subject_public_key_info()))
}

fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_certificate_is_kept_and_reloaded_with_the_same_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let first = TlsSetup::load_or_generate(dir.path(), &names).unwrap();
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1);
        assert!(first.spki_sha256_base64.is_some());
        let again = TlsSetup::load_or_generate(dir.path(), &names).unwrap();
        assert_eq!(again.fingerprint, first.fingerprint);
        assert_eq!(again.spki_sha256_base64, first.spki_sha256_base64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(GENERATED_KEY))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the key is the clinic user's only");
        }
    }

    #[test]
    fn files_without_a_certificate_or_key_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        std::fs::write(&cert, "not a certificate").unwrap();
        std::fs::write(&key, "not a key").unwrap();
        let err = TlsSetup::from_files(&cert, &key).unwrap_err().to_string();
        assert!(err.contains("c.pem"), "{err}");
        let missing = TlsSetup::from_files(&dir.path().join("none.pem"), &key)
            .unwrap_err()
            .to_string();
        assert!(missing.contains("none.pem"), "{missing}");
    }
}
