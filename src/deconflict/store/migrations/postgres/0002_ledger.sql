-- The verifiable ledger. Entries are salted commitments; the records and salts
-- behind them stay here, private. Nothing in these tables is ever updated,
-- except a checkpoint's publication time.
CREATE TABLE ledger_keys (
    key_id      text PRIMARY KEY,  -- hex, as in the verifier key
    name        text NOT NULL,
    private_key text NOT NULL,     -- PRIVATE+KEY+name+keyid+base64
    vkey        text NOT NULL,
    created_at  timestamptz NOT NULL,
    retired_at  timestamptz
);

CREATE TABLE ledger_entries (
    idx         bigint PRIMARY KEY,
    type        text NOT NULL,
    at          timestamptz NOT NULL,
    entry       bytea NOT NULL,    -- SHA-256(salt ‖ record): the leaf's bytes
    salt        bytea NOT NULL,
    record      bytea NOT NULL     -- RFC 8785 canonical JSON
);

-- Every complete subtree: node (level, idx) covers leaves [idx·2^level, (idx+1)·2^level).
CREATE TABLE ledger_nodes (
    level       integer NOT NULL,
    idx         bigint NOT NULL,
    hash        bytea NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE ledger_checkpoints (
    size         bigint PRIMARY KEY,
    note         text NOT NULL,    -- the signed note, verbatim
    at           timestamptz NOT NULL,
    published_at timestamptz
);
CREATE INDEX ledger_checkpoints_published ON ledger_checkpoints (published_at);

-- Parties' cosigning keys (C2SP tlog-cosignature, type 0x04).
CREATE TABLE party_keys (
    party       text NOT NULL REFERENCES parties (id),
    key_id      text NOT NULL,
    vkey        text NOT NULL,
    added_at    timestamptz NOT NULL,
    ledger_idx  bigint NOT NULL,
    PRIMARY KEY (party, key_id)
);

CREATE TABLE cosignatures (
    party       text NOT NULL,
    size        bigint NOT NULL,
    timestamp   bigint NOT NULL,
    line        text NOT NULL,
    at          timestamptz NOT NULL,
    ledger_idx  bigint NOT NULL,
    PRIMARY KEY (party, size, timestamp)
);

-- A recipient's acknowledgement of one notice version.
CREATE TABLE acks (
    notice_id   text NOT NULL,
    version     bigint NOT NULL,
    party       text COLLATE "C" NOT NULL,
    at          timestamptz NOT NULL,
    ledger_idx  bigint NOT NULL,
    PRIMARY KEY (notice_id, version, party)
);

ALTER TABLE notice_versions ADD COLUMN ledger_idx bigint;
ALTER TABLE disclosures ADD COLUMN ledger_idx bigint;
CREATE INDEX notice_versions_ledger ON notice_versions (ledger_idx);
CREATE INDEX disclosures_ledger ON disclosures (ledger_idx);
