-- 0002: people who may log in to the web page, and their sessions.
-- Passwords are stored as argon2id PHC strings; session tokens only as
-- their SHA-256, so a copy of the database lets no one in.
CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
    password_hash   TEXT    NOT NULL,
    created_at_ms   INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash      BLOB    PRIMARY KEY CHECK (length(token_hash) = 32),
    user            INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf            TEXT    NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    expires_at_ms   INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX sessions_by_expiry ON sessions (expires_at_ms);
