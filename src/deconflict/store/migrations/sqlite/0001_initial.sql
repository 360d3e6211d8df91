-- Initial schema. History tables are append-only from the start.
CREATE TABLE parties (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('member', 'admin', 'auditor')),
    contact     TEXT,
    token_hash  BLOB NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);

CREATE TABLE channels (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE channel_members (
    channel_id  TEXT NOT NULL REFERENCES channels (id),
    party_id    TEXT NOT NULL REFERENCES parties (id),
    PRIMARY KEY (channel_id, party_id)
);
CREATE INDEX channel_members_party ON channel_members (party_id);

CREATE TABLE channel_history (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id  TEXT NOT NULL,
    party_id    TEXT NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('join', 'leave')),
    at          TEXT NOT NULL,
    by_party    TEXT NOT NULL
);

CREATE TABLE notices (
    id          TEXT PRIMARY KEY,
    party       TEXT NOT NULL REFERENCES parties (id),
    kind        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    state       TEXT NOT NULL,
    doc         TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX notices_party ON notices (party);

CREATE TABLE notice_versions (
    notice_id   TEXT NOT NULL,
    version     INTEGER NOT NULL,
    state       TEXT NOT NULL,
    doc         TEXT NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (notice_id, version)
);

-- One row per volume of every notice in force, with what the exact screen needs.
CREATE TABLE volumes (
    id          INTEGER PRIMARY KEY,
    notice_id   TEXT NOT NULL,
    idx         INTEGER NOT NULL,
    party       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    packed      BLOB NOT NULL      -- deconflict.screen.pack_volume: band, window, core WKB
);
CREATE INDEX volumes_notice ON volumes (notice_id);

-- Prefilter: lon, lat, W84 altitude (m), time (minutes since 2020-01-01).
-- R*Tree keeps float32 rounded outward, so every box only grows: conservative.
-- Row id = 2 * volume id + piece (a box across the antimeridian has two pieces).
CREATE VIRTUAL TABLE volume_index USING rtree (
    id, lon_min, lon_max, lat_min, lat_max, alt_min, alt_max, t_min, t_max
);

CREATE TABLE conflicts (
    a           TEXT NOT NULL,
    b           TEXT NOT NULL,
    a_party     TEXT NOT NULL,
    b_party     TEXT NOT NULL,
    a_version   INTEGER NOT NULL,
    b_version   INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    pairs       TEXT NOT NULL,
    detected_at TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (a, b)
);
CREATE INDEX conflicts_a_party ON conflicts (a_party, status);
CREATE INDEX conflicts_b_party ON conflicts (b_party, status);
CREATE INDEX conflicts_b ON conflicts (b);

CREATE TABLE disclosures (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    at              TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    owner           TEXT NOT NULL,
    notice_id       TEXT NOT NULL,
    notice_version  INTEGER NOT NULL,
    reason          TEXT NOT NULL,
    level           TEXT NOT NULL,
    view            TEXT NOT NULL
);
CREATE INDEX disclosures_recipient ON disclosures (recipient);
CREATE INDEX disclosures_notice ON disclosures (notice_id);

CREATE TABLE idempotency (
    party       TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status      INTEGER NOT NULL,
    body        TEXT NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (party, key)
);
