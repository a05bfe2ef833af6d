//! Web page accounts and their sessions, as stored: a name with an argon2
//! PHC string per user, and a session row keyed by the SHA-256 of its token
//! (the token itself lives only in the browser's cookie). Hashing and token
//! making are [`crate::users`]'s business; this is plain storage.

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};

/// A person who may log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// Row id.
    pub id: i64,
    /// Login name.
    pub name: String,
    /// argon2 PHC string.
    pub password_hash: String,
}

/// A live session, found by its token's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// Who is logged in.
    pub user_id: i64,
    /// Their name.
    pub user_name: String,
    /// The session's CSRF token (hidden field of every form).
    pub csrf: String,
    /// When it stops being accepted (ms since the Unix epoch).
    pub expires_at_ms: i64,
}

impl Store {
    /// Adds a user; `Ok(false)` when the name is taken.
    pub fn add_user(
        &mut self,
        name: &str,
        password_hash: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "INSERT INTO users (name, password_hash, created_at_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO NOTHING",
            params![name, password_hash, now_ms],
        )?;
        Ok(n == 1)
    }

    /// Replaces a user's password hash and ends their sessions; `Ok(false)` when there is no such user.
    pub fn set_password(&mut self, name: &str, password_hash: &str) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        let n = tx.execute(
            "UPDATE users SET password_hash = ?2 WHERE name = ?1",
            params![name, password_hash],
        )?;
        tx.execute(
            "DELETE FROM sessions WHERE user = (SELECT id FROM users WHERE name = ?1)",
            [name],
        )?;
        tx.commit()?;
        Ok(n == 1)
    }

    /// The user with this name.
    pub fn user(&self, name: &str) -> Result<Option<UserRow>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, name, password_hash FROM users WHERE name = ?1",
                [name],
                |r| {
                    Ok(UserRow {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        password_hash: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// How many users exist.
    pub fn user_count(&self) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM users", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Stores a new session (and drops expired ones).
    pub fn create_session(
        &mut self,
        token_hash: &[u8; 32],
        user_id: i64,
        csrf: &str,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM sessions WHERE expires_at_ms <= ?1", [now_ms])?;
        self.conn.execute(
            "INSERT INTO sessions (token_hash, user, csrf, created_at_ms, expires_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![&token_hash[..], user_id, csrf, now_ms, expires_at_ms],
        )?;
        Ok(())
    }

    /// The session with this token hash, expired or not (the caller compares times).
    pub fn session(&self, token_hash: &[u8; 32]) -> Result<Option<SessionRow>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT s.user, u.name, s.csrf, s.expires_at_ms
                 FROM sessions s JOIN users u ON u.id = s.user WHERE s.token_hash = ?1",
                [&token_hash[..]],
                |r| {
                    Ok(SessionRow {
                        user_id: r.get(0)?,
                        user_name: r.get(1)?,
                        csrf: r.get(2)?,
                        expires_at_ms: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    /// Ends a session (logout, or an expired one seen).
    pub fn delete_session(&mut self, token_hash: &[u8; 32]) -> Result<(), StoreError> {
        self.conn.execute(
            "DELETE FROM sessions WHERE token_hash = ?1",
            [&token_hash[..]],
        )?;
        Ok(())
    }

    /// Moves a session's expiry (tests age sessions with it).
    pub fn set_session_expiry(
        &mut self,
        token_hash: &[u8; 32],
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE sessions SET expires_at_ms = ?2 WHERE token_hash = ?1",
            params![&token_hash[..], expires_at_ms],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_and_sessions_round_trip() {
        let mut s = Store::open_in_memory().unwrap();
        assert!(s.add_user("ana", "$argon2id$x", 1).unwrap());
        assert!(
            !s.add_user("ana", "$argon2id$y", 2).unwrap(),
            "names are unique"
        );
        let u = s.user("ana").unwrap().unwrap();
        assert_eq!(u.password_hash, "$argon2id$x");
        assert_eq!(s.user_count().unwrap(), 1);
        let t = [7u8; 32];
        s.create_session(&t, u.id, "csrf", 10, 20).unwrap();
        let row = s.session(&t).unwrap().unwrap();
        assert_eq!((row.user_name.as_str(), row.expires_at_ms), ("ana", 20));
        // Creating another session later purges the expired one.
        s.create_session(&[8; 32], u.id, "c2", 30, 40).unwrap();
        assert!(s.session(&t).unwrap().is_none());
        assert!(s.set_password("ana", "$argon2id$z").unwrap());
        assert!(
            s.session(&[8; 32]).unwrap().is_none(),
            "new password ends sessions"
        );
        assert!(!s.set_password("bob", "h").unwrap());
    }
}
