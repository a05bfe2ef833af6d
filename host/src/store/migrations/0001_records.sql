-- 0001: enrolled kiosks, their signed records, and what each has synced.
CREATE TABLE devices (
    id              INTEGER PRIMARY KEY,
    device_id       BLOB    NOT NULL UNIQUE CHECK (length(device_id) = 32),
    public_key      BLOB    NOT NULL UNIQUE CHECK (length(public_key) = 32),
    name            TEXT    NOT NULL,
    site            TEXT    NOT NULL,
    enrolled_at_ms  INTEGER NOT NULL
);

CREATE TABLE records (
    device          INTEGER NOT NULL REFERENCES devices(id),
    sequence        INTEGER NOT NULL CHECK (sequence >= 0),
    prev_hash       BLOB    NOT NULL,
    hash            BLOB    NOT NULL,
    raw             BLOB    NOT NULL,
    wall_time_ms    INTEGER NOT NULL,
    boot_counter    INTEGER NOT NULL,
    outcome         TEXT    NOT NULL,
    score           REAL,
    threshold       REAL    NOT NULL,
    rule            TEXT    NOT NULL,
    patient_ref     TEXT,
    model_name      TEXT    NOT NULL,
    model_sha256    BLOB    NOT NULL,
    received_at_ms  INTEGER NOT NULL,
    received_via    TEXT    NOT NULL,
    PRIMARY KEY (device, sequence)
) WITHOUT ROWID;

CREATE INDEX records_by_time ON records (wall_time_ms);

CREATE TABLE sync_state (
    device          INTEGER PRIMARY KEY REFERENCES devices(id),
    stored_through  INTEGER NOT NULL,
    stored_hash     BLOB    NOT NULL,
    last_sync_ms    INTEGER NOT NULL,
    last_via        TEXT    NOT NULL
);
