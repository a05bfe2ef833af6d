-- 0003: what an attacker on the clinic LAN tried, kept for the people who
-- look after the clinic: failed and throttled logins, refused sync batches,
-- records from kiosks that are not enrolled. The web page lists them.
CREATE TABLE security_events (
    id              INTEGER PRIMARY KEY,
    at_ms           INTEGER NOT NULL,
    kind            TEXT    NOT NULL CHECK (length(kind) BETWEEN 1 AND 32),
    -- The account, or the kiosk's fingerprint, the event concerns.
    subject         TEXT    NOT NULL CHECK (length(subject) <= 128),
    -- The client's address, where the event came over the network.
    address         TEXT    NOT NULL CHECK (length(address) <= 64),
    detail          TEXT    NOT NULL CHECK (length(detail) <= 512)
);
