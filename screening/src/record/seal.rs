//! Sealed sync bodies: what keeps patient references off the clinic LAN in
//! the clear.
//!
//! The clinic holds a static X25519 key derived from its Ed25519 host key
//! ([`ClinicSecret::derive`]); it announces the public half inside the signed
//! [`HelloAnswer`](super::wire::HelloAnswer), so a kiosk only ever seals to a
//! key the pinned host key vouched for. Each request gets a fresh ephemeral
//! X25519 key on the kiosk; HKDF-SHA256 over the shared secret and both
//! public keys gives two XChaCha20-Poly1305 keys, one for the request and one
//! for the answer, each message with a random 24-byte nonce (so a replayed
//! request that the clinic answers twice never reuses a nonce). Only the clinic can open a request, and only the
//! clinic can write an answer the kiosk will open, so an answer cannot be
//! replayed from an earlier run either (the kiosk's ephemeral key is new).
//!
//! USB bundles are sealed the same way, to a second clinic key a kiosk can
//! compute with no network: the pinned Ed25519 host key in its X25519
//! (Montgomery) form ([`bundle_key`]); the clinic opens them with the host
//! key's own scalar ([`ClinicSecret::for_bundles`]). A kiosk that only ever
//! meets its clinic by USB has never seen a hello answer, and a second key to
//! type at pairing is one more thing a technician gets wrong. Using one key
//! pair for Ed25519 signatures and an X25519 KEM is shown sound by Thormarker
//! (2021, IACR ePrint 2021/509); each bundle still uses a fresh ephemeral
//! key, and the role label keeps a bundle from opening as a sync request.
//!
//! This is the "equivalent" of TLS with a pinned certificate the design
//! allows: pure Rust, no certificate handling on kiosks with wrong clocks,
//! and nothing new to cross-compile. It hides the bodies, not the fact that a
//! kiosk talks to the clinic, nor body sizes.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ed25519_dalek::{SigningKey, VerifyingKey};
use hkdf::Hkdf;
use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};

use super::fixed_bytes;

/// Version of the sealed envelope.
pub const SEAL_VERSION: u16 = 1;

const DERIVE_INFO: &[u8] = b"synkinesis-kiosk/clinic-x25519/v1";
const SESSION_INFO: &[u8] = b"synkinesis-kiosk/sealed-sync/v1";

/// Why a sealed body could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// Bytes that are not a sealed envelope.
    #[error("malformed sealed body: {0}")]
    Malformed(String),
    /// An envelope version this build does not speak.
    #[error("sealed body version {0} is not supported (this build speaks {SEAL_VERSION})")]
    UnsupportedVersion(u16),
    /// A public key that would make the shared secret predictable.
    #[error("sealed body uses a degenerate key")]
    WeakKey,
    /// Authentication failed: wrong key, or the bytes were altered.
    #[error("sealed body does not open with this key (altered, or sealed for another clinic)")]
    Open,
}

/// The clinic's X25519 secret for sealed sync.
pub struct ClinicSecret(StaticSecret);

impl ClinicSecret {
    /// Derived from the host's Ed25519 key, so the clinic has one secret to
    /// keep and back up; the two keys never sign or agree with each other's
    /// bytes.
    pub fn derive(host_key: &SigningKey) -> Self {
        let hk = Hkdf::<Sha256>::new(None, host_key.as_bytes());
        let mut okm = [0u8; 32];
        hk.expand(DERIVE_INFO, &mut okm)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        ClinicSecret(StaticSecret::from(okm))
    }

    /// The secret that opens USB bundles: the host key's scalar, whose
    /// public half every kiosk computes from the key it pinned
    /// ([`bundle_key`]).
    pub fn for_bundles(host_key: &SigningKey) -> Self {
        ClinicSecret(StaticSecret::from(host_key.to_scalar_bytes()))
    }

    /// Opens a bundle's file that [`seal_bundle`] sealed to this clinic.
    pub fn open_bundle(&self, bytes: &[u8]) -> Result<Vec<u8>, SealError> {
        let (env, session) = self.session_of(bytes)?;
        session.open(&session.up, &env, BUNDLE_ROLE)
    }

    /// The public half, announced in the signed hello answer.
    pub fn public(&self) -> [u8; 32] {
        PublicKey::from(&self.0).to_bytes()
    }

    /// Opens a kiosk's sealed request; the returned session seals the answer.
    pub fn open_request(&self, bytes: &[u8]) -> Result<(Vec<u8>, Session), SealError> {
        let (env, session) = self.session_of(bytes)?;
        let plain = session.open(&session.up, &env, b"request")?;
        Ok((plain, session))
    }

    /// The envelope of `bytes` and the session its ephemeral key agrees on
    /// with this secret.
    fn session_of(&self, bytes: &[u8]) -> Result<(Envelope, Session), SealError> {
        let env: Envelope = decode(bytes)?;
        if env.version != SEAL_VERSION {
            return Err(SealError::UnsupportedVersion(env.version));
        }
        let shared = self.0.diffie_hellman(&PublicKey::from(env.ephemeral));
        if !shared.was_contributory() {
            return Err(SealError::WeakKey);
        }
        let session = Session::new(shared.as_bytes(), &env.ephemeral, &self.public());
        Ok((env, session))
    }
}

const BUNDLE_ROLE: &[u8] = b"usb-bundle";

/// The X25519 key a kiosk seals USB bundles to: the pinned host key in
/// Montgomery form.
pub fn bundle_key(pinned: &VerifyingKey) -> [u8; 32] {
    pinned.to_montgomery().to_bytes()
}

/// Seals `plain` (a bundle's records file) for the clinic whose pinned host
/// key is `pinned`, under a fresh ephemeral key.
pub fn seal_bundle(pinned: &VerifyingKey, plain: &[u8]) -> Result<Vec<u8>, SealError> {
    let (bytes, _) = Session::seal_role(&bundle_key(pinned), plain, BUNDLE_ROLE)?;
    Ok(bytes)
}

/// The two keys of one request/answer exchange.
pub struct Session {
    up: [u8; 32],
    down: [u8; 32],
    ephemeral: [u8; 32],
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the keys.
        f.debug_struct("Session")
            .field("ephemeral", &hex::encode(self.ephemeral))
            .finish_non_exhaustive()
    }
}

impl Session {
    fn new(shared: &[u8; 32], ephemeral: &[u8; 32], clinic: &[u8; 32]) -> Self {
        let mut salt = [0u8; 64];
        salt[..32].copy_from_slice(ephemeral);
        salt[32..].copy_from_slice(clinic);
        let hk = Hkdf::<Sha256>::new(Some(&salt), shared);
        let mut okm = [0u8; 64];
        hk.expand(SESSION_INFO, &mut okm)
            .expect("64 bytes is a valid HKDF-SHA256 output length");
        let (mut up, mut down) = ([0u8; 32], [0u8; 32]);
        up.copy_from_slice(&okm[..32]);
        down.copy_from_slice(&okm[32..]);
        Session {
            up,
            down,
            ephemeral: *ephemeral,
        }
    }

    /// Seals `plain` for the clinic whose sync key is `clinic`, under a
    /// fresh ephemeral key.
    pub fn seal_request(clinic: &[u8; 32], plain: &[u8]) -> Result<(Vec<u8>, Session), SealError> {
        Self::seal_role(clinic, plain, b"request")
    }

    fn seal_role(
        clinic: &[u8; 32],
        plain: &[u8],
        role: &[u8],
    ) -> Result<(Vec<u8>, Session), SealError> {
        let mut ephemeral_secret = [0u8; 32];
        OsRng.fill_bytes(&mut ephemeral_secret);
        let secret = StaticSecret::from(ephemeral_secret);
        let ephemeral = PublicKey::from(&secret).to_bytes();
        let shared = secret.diffie_hellman(&PublicKey::from(*clinic));
        if !shared.was_contributory() {
            return Err(SealError::WeakKey);
        }
        let session = Session::new(shared.as_bytes(), &ephemeral, clinic);
        let bytes = session.seal(&session.up, plain, role);
        Ok((bytes, session))
    }

    /// Seals the clinic's answer to this session's request.
    pub fn seal_answer(&self, plain: &[u8]) -> Vec<u8> {
        self.seal(&self.down, plain, b"answer")
    }

    /// Opens the clinic's answer to this session's request.
    pub fn open_answer(&self, bytes: &[u8]) -> Result<Vec<u8>, SealError> {
        let env: Envelope = decode(bytes)?;
        if env.version != SEAL_VERSION {
            return Err(SealError::UnsupportedVersion(env.version));
        }
        if env.ephemeral != self.ephemeral {
            return Err(SealError::Open);
        }
        self.open(&self.down, &env, b"answer")
    }

    fn seal(&self, key: &[u8; 32], plain: &[u8], role: &[u8]) -> Vec<u8> {
        let aad = aad(SEAL_VERSION, &self.ephemeral, role);
        let mut nonce = [0u8; 24];
        OsRng.fill_bytes(&mut nonce);
        let ciphertext = cipher(key)
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plain,
                    aad: &aad,
                },
            )
            .expect("XChaCha20-Poly1305 encrypts any message that fits in memory");
        let env = Envelope {
            version: SEAL_VERSION,
            ephemeral: self.ephemeral,
            nonce,
            ciphertext,
        };
        postcard::to_allocvec(&env).expect("encoding into memory cannot fail")
    }

    fn open(&self, key: &[u8; 32], env: &Envelope, role: &[u8]) -> Result<Vec<u8>, SealError> {
        let aad = aad(env.version, &env.ephemeral, role);
        cipher(key)
            .decrypt(
                &XNonce::from(env.nonce),
                Payload {
                    msg: &env.ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| SealError::Open)
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    version: u16,
    #[serde(with = "fixed_bytes")]
    ephemeral: [u8; 32],
    #[serde(with = "fixed_bytes")]
    nonce: [u8; 24],
    ciphertext: Vec<u8>,
}

fn decode(bytes: &[u8]) -> Result<Envelope, SealError> {
    let (env, rest) =
        postcard::take_from_bytes(bytes).map_err(|e| SealError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(SealError::Malformed(format!(
            "{} unexpected trailing bytes",
            rest.len()
        )));
    }
    Ok(env)
}

fn aad(version: u16, ephemeral: &[u8; 32], role: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(2 + 32 + role.len());
    aad.extend_from_slice(&version.to_le_bytes());
    aad.extend_from_slice(ephemeral);
    aad.extend_from_slice(role);
    aad
}

fn cipher(key: &[u8; 32]) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new_from_slice(key).expect("a 32-byte key is an XChaCha20-Poly1305 key")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clinic() -> ClinicSecret {
        ClinicSecret::derive(&SigningKey::from_bytes(&[9; 32]))
    }

    #[test]
    fn bundles_open_only_for_the_pinned_clinic_and_only_as_bundles() {
        let host = SigningKey::from_bytes(&[9; 32]);
        let pinned = host.verifying_key();
        let secret = ClinicSecret::for_bundles(&host);
        assert_eq!(
            secret.public(),
            bundle_key(&pinned),
            "the kiosk computes the clinic's half"
        );
        let sealed = seal_bundle(&pinned, b"records P-0001").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"P-0001"));
        assert_eq!(secret.open_bundle(&sealed).unwrap(), b"records P-0001");
        let other = ClinicSecret::for_bundles(&SigningKey::from_bytes(&[10; 32]));
        assert_eq!(other.open_bundle(&sealed), Err(SealError::Open));
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(secret.open_bundle(&altered), Err(SealError::Open));
        // A sync request to the same key does not open as a bundle.
        let (request, _) = Session::seal_request(&bundle_key(&pinned), b"x").unwrap();
        assert_eq!(secret.open_bundle(&request), Err(SealError::Open));
    }

    #[test]
    fn request_and_answer_round_trip() {
        let c = clinic();
        let (sealed, kiosk) = Session::seal_request(&c.public(), b"batch").unwrap();
        assert!(!sealed.windows(5).any(|w| w == b"batch"));
        let (plain, host) = c.open_request(&sealed).unwrap();
        assert_eq!(plain, b"batch");
        let answer = host.seal_answer(b"ack");
        assert_eq!(kiosk.open_answer(&answer).unwrap(), b"ack");
    }

    #[test]
    fn another_clinic_cannot_open_and_cannot_answer() {
        let c = clinic();
        let other = ClinicSecret::derive(&SigningKey::from_bytes(&[8; 32]));
        let (sealed, kiosk) = Session::seal_request(&c.public(), b"batch").unwrap();
        assert_eq!(other.open_request(&sealed).unwrap_err(), SealError::Open);
        // An impostor answering under the kiosk's ephemeral key but with keys it
        // can derive (its own clinic secret): the answer does not open.
        let (_, impostor) = other
            .open_request(&Session::seal_request(&other.public(), b"x").unwrap().0)
            .unwrap();
        let mut forged: Envelope = decode(&impostor.seal_answer(b"ack")).unwrap();
        forged.ephemeral = kiosk.ephemeral;
        let forged = postcard::to_allocvec(&forged).unwrap();
        assert_eq!(kiosk.open_answer(&forged).unwrap_err(), SealError::Open);
    }

    #[test]
    fn altered_bytes_and_replayed_answers_are_refused() {
        let c = clinic();
        let (mut sealed, _) = Session::seal_request(&c.public(), b"batch").unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(c.open_request(&sealed).unwrap_err(), SealError::Open);

        let (first, _) = Session::seal_request(&c.public(), b"one").unwrap();
        let (_, host_first) = c.open_request(&first).unwrap();
        let old_answer = host_first.seal_answer(b"old ack");
        // The clinic answering the same request twice uses two nonces.
        assert_ne!(host_first.seal_answer(b"old ack"), old_answer);
        let (_, kiosk_second) = Session::seal_request(&c.public(), b"two").unwrap();
        assert_eq!(
            kiosk_second.open_answer(&old_answer).unwrap_err(),
            SealError::Open
        );
        // A request is not an answer, even under the same session.
        let (req, kiosk) = Session::seal_request(&c.public(), b"r").unwrap();
        assert_eq!(kiosk.open_answer(&req).unwrap_err(), SealError::Open);
    }

    #[test]
    fn degenerate_keys_and_garbage_are_refused() {
        let c = clinic();
        let (_, s) = Session::seal_request(&c.public(), b"").unwrap();
        let low_order = Envelope {
            version: SEAL_VERSION,
            ephemeral: [0; 32],
            nonce: [0; 24],
            ciphertext: vec![0; 16],
        };
        let bytes = postcard::to_allocvec(&low_order).unwrap();
        assert_eq!(c.open_request(&bytes).unwrap_err(), SealError::WeakKey);
        assert!(Session::seal_request(&[0; 32], b"").is_err());
        assert!(matches!(
            c.open_request(b"\x01"),
            Err(SealError::Malformed(_))
        ));
        let mut v2 = s.seal_answer(b"a");
        v2[0] = 2;
        assert_eq!(
            s.open_answer(&v2).unwrap_err(),
            SealError::UnsupportedVersion(2)
        );
    }
}
