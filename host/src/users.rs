//! Who may use the web page: argon2id password hashes, `clinic user add`,
//! and session tokens.
//!
//! A session token is 32 random bytes from the operating system, sent to the
//! browser once (in an HttpOnly, SameSite=Strict cookie) and stored only as
//! its SHA-256, next to the session's CSRF token and its expiry.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::store::users::{SessionRow, UserRow};
use crate::store::{Store, StoreError};

/// Shortest password `clinic user add` accepts, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted, in bytes (argon2 is fed all of it).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Longest user name, in bytes.
pub const MAX_NAME_BYTES: usize = 64;

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UserError {
    /// The name is empty, too long or has spaces or control characters.
    #[error("user names are 1 to {MAX_NAME_BYTES} bytes of letters, digits, `.`, `-`, `_` or `@`")]
    BadName,
    /// The password is too short or too long.
    #[error("passwords are {MIN_PASSWORD_CHARS} characters to {MAX_PASSWORD_BYTES} bytes long")]
    BadPassword,
    /// The name is taken.
    #[error("user `{0}` already exists")]
    Exists(String),
    /// No such user.
    #[error("no user `{0}`")]
    Unknown(String),
    /// argon2 failed (bad parameters; not expected).
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks a user name.
pub fn check_name(name: &str) -> Result<(), UserError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_BYTES
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'));
    if ok {
        Ok(())
    } else {
        Err(UserError::BadName)
    }
}

/// Checks a new password's length.
pub fn check_password(password: &str) -> Result<(), UserError> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > MAX_PASSWORD_BYTES {
        return Err(UserError::BadPassword);
    }
    Ok(())
}

/// The argon2id PHC string of `password` with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, UserError> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| UserError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| UserError::Hash(e.to_string()))
}

/// Whether `password` matches the PHC string `hash` (false for a malformed hash).
pub fn verify_password(password: &str, hash: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash that no password matches, checked when the user does not exist so
/// that a wrong name costs the same time as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password, never valid").unwrap_or_default())
}

/// `clinic user add NAME` (or `--reset`): stores the hash of `password`.
pub fn add_user(
    store: &mut Store,
    name: &str,
    password: &str,
    reset: bool,
    now_ms: i64,
) -> Result<(), UserError> {
    check_name(name)?;
    check_password(password)?;
    let hash = hash_password(password)?;
    if reset {
        if !store.set_password(name, &hash)? {
            return Err(UserError::Unknown(name.into()));
        }
    } else if !store.add_user(name, &hash, now_ms)? {
        return Err(UserError::Exists(name.into()));
    }
    Ok(())
}

/// The user id when `name` and `password` match a stored user.
pub fn check_login(store: &Store, name: &str, password: &str) -> Result<Option<i64>, UserError> {
    Ok(password_matches(store.user(name)?.as_ref(), password))
}

/// The user's id when `password` is theirs; `None` for a wrong password or
/// no such user. Pure CPU (argon2), so the web page runs it without the
/// store's lock: fetch the row first, then call this.
pub fn password_matches(user: Option<&UserRow>, password: &str) -> Option<i64> {
    match user {
        Some(u) => verify_password(password, &u.password_hash).then_some(u.id),
        None => {
            let _ = verify_password(password, decoy_hash());
            None
        }
    }
}

/// A random token, URL-safe base64 of 32 bytes from the operating system.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database keeps of a session token.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A new session for `user_id` lasting `ttl_ms`; returns the cookie token.
pub fn start_session(
    store: &mut Store,
    user_id: i64,
    now_ms: i64,
    ttl_ms: i64,
) -> Result<String, UserError> {
    let token = random_token();
    store.create_session(
        &token_hash(&token),
        user_id,
        &random_token(),
        now_ms,
        now_ms.saturating_add(ttl_ms),
    )?;
    Ok(token)
}

/// What a session cookie is worth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionState {
    /// Logged in.
    Valid(SessionRow),
    /// It was valid once and has expired (it is deleted now).
    Expired,
    /// No such session.
    Unknown,
}

/// Looks a cookie token up; expired sessions are deleted on sight.
pub fn resolve_session(
    store: &mut Store,
    token: &str,
    now_ms: i64,
) -> Result<SessionState, UserError> {
    let hash = token_hash(token);
    Ok(match store.session(&hash)? {
        Some(s) if s.expires_at_ms > now_ms => SessionState::Valid(s),
        Some(_) => {
            store.delete_session(&hash)?;
            SessionState::Expired
        }
        None => SessionState::Unknown,
    })
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("x", "not a phc string"));
        assert_ne!(h, hash_password("correct horse battery").unwrap(), "salted");
    }

    #[test]
    fn names_and_passwords_are_checked() {
        assert!(check_name("nurse.ana").is_ok());
        for bad in ["", "a b", "x\n", &"n".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_password("short").is_err());
        assert!(check_password(&"p".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
    }

    #[test]
    fn login_sessions_expire() {
        let mut s = Store::open_in_memory().unwrap();
        add_user(&mut s, "ana", "a long password", false, 0).unwrap();
        assert!(matches!(
            add_user(&mut s, "ana", "another password", false, 0),
            Err(UserError::Exists(_))
        ));
        assert!(check_login(&s, "ana", "wrong password").unwrap().is_none());
        assert!(check_login(&s, "bob", "a long password").unwrap().is_none());
        let id = check_login(&s, "ana", "a long password").unwrap().unwrap();
        let token = start_session(&mut s, id, 1_000, 500).unwrap();
        assert!(matches!(
            resolve_session(&mut s, &token, 1_200).unwrap(),
            SessionState::Valid(_)
        ));
        assert_eq!(
            resolve_session(&mut s, &token, 1_500).unwrap(),
            SessionState::Expired
        );
        assert_eq!(
            resolve_session(&mut s, &token, 1_500).unwrap(),
            SessionState::Unknown
        );
        assert_eq!(
            resolve_session(&mut s, "forged", 0).unwrap(),
            SessionState::Unknown
        );
    }

    #[test]
    fn secrets_compare() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }
}
