-- Alerts: a durable outbox written in the same transaction as the change that
-- caused it, so a crash between commit and delivery loses nothing.
CREATE TABLE subscriptions (
    id          TEXT PRIMARY KEY,
    party       TEXT NOT NULL REFERENCES parties (id),
    doc         TEXT NOT NULL,     -- filters: kinds, events, area, altitude, time
    webhook_url TEXT,
    secret      TEXT,              -- HMAC key for webhook signatures
    created_at  TEXT NOT NULL,
    ended_at    TEXT
);
CREATE INDEX subscriptions_party ON subscriptions (party);

-- Event ids are the sequence: per party they only grow, so Last-Event-ID resumes.
CREATE TABLE alerts (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    party        TEXT NOT NULL,
    type         TEXT NOT NULL,
    at           TEXT NOT NULL,
    data         TEXT NOT NULL,
    delivered_at TEXT,
    acked_at     TEXT
);
CREATE INDEX alerts_party ON alerts (party, seq);

CREATE TABLE webhook_deliveries (
    alert_seq    INTEGER NOT NULL REFERENCES alerts (seq),
    subscription TEXT NOT NULL REFERENCES subscriptions (id),
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      TEXT NOT NULL,
    delivered_at TEXT,
    last_error   TEXT,
    ledger_idx   INTEGER,
    PRIMARY KEY (alert_seq, subscription)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE delivered_at IS NULL
