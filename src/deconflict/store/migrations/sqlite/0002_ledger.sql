-- The verifiable ledger. Entries are salted commitments; the records and salts
-- behind them stay here, private. Nothing in these tables is ever updated,
-- except a checkpoint's publication time.
CREATE TABLE ledger_keys (
    key_id      TEXT PRIMARY KEY,  -- hex, as in the verifier key
    name        TEXT NOT NULL,
    private_key TEXT NOT NULL,     -- PRIVATE+KEY+name+keyid+base64
    vkey        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    retired_at  TEXT
);

CREATE TABLE ledger_entries (
    idx         INTEGER PRIMARY KEY,
    type        TEXT NOT NULL,
    at          TEXT NOT NULL,
    entry       BLOB NOT NULL,     -- SHA-256(salt ‖ record): the leaf's bytes
    salt        BLOB NOT NULL,
    record      BLOB NOT NULL      -- RFC 8785 canonical JSON
);

-- Every complete subtree: node (level, idx) covers leaves [idx·2^level, (idx+1)·2^level).
CREATE TABLE ledger_nodes (
    level       INTEGER NOT NULL,
    idx         INTEGER NOT NULL,
    hash        BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

CREATE TABLE ledger_checkpoints (
    size         INTEGER PRIMARY KEY,
    note         TEXT NOT NULL,    -- the signed note, verbatim
    at           TEXT NOT NULL,
    published_at TEXT
);
CREATE INDEX ledger_checkpoints_published ON ledger_checkpoints (published_at);

-- Parties' cosigning keys (C2SP tlog-cosignature, type 0x04).
CREATE TABLE party_keys (
    party       TEXT NOT NULL REFERENCES parties (id),
    key_id      TEXT NOT NULL,
    vkey        TEXT NOT NULL,
    added_at    TEXT NOT NULL,
    ledger_idx  INTEGER NOT NULL,
    PRIMARY KEY (party, key_id)
);

CREATE TABLE cosignatures (
    party       TEXT NOT NULL,
    size        INTEGER NOT NULL,
    timestamp   INTEGER NOT NULL,
    line        TEXT NOT NULL,
    at          TEXT NOT NULL,
    ledger_idx  INTEGER NOT NULL,
    PRIMARY KEY (party, size, timestamp)
);

-- A recipient's acknowledgement of one notice version.
CREATE TABLE acks (
    notice_id   TEXT NOT NULL,
    version     INTEGER NOT NULL,
    party       TEXT NOT NULL,
    at          TEXT NOT NULL,
    ledger_idx  INTEGER NOT NULL,
    PRIMARY KEY (notice_id, version, party)
);

ALTER TABLE notice_versions ADD COLUMN ledger_idx INTEGER;
ALTER TABLE disclosures ADD COLUMN ledger_idx INTEGER;
CREATE INDEX disclosures_ledger ON disclosures (ledger_idx)
