-- Alerts: a durable outbox written in the same transaction as the change that
-- caused it, so a crash between commit and delivery loses nothing.
CREATE TABLE subscriptions (
    id          text COLLATE "C" PRIMARY KEY,
    party       text NOT NULL REFERENCES parties (id),
    doc         text NOT NULL,     -- filters: kinds, events, area, altitude, time
    webhook_url text,
    secret      text,              -- HMAC key for webhook signatures
    created_at  timestamptz NOT NULL,
    ended_at    timestamptz
);
CREATE INDEX subscriptions_party ON subscriptions (party);

-- Event ids are the sequence: per party they only grow, so Last-Event-ID resumes.
-- (Writes are serialised, so ids are also committed in order.)
CREATE TABLE alerts (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    party        text NOT NULL,
    type         text NOT NULL,
    at           timestamptz NOT NULL,
    data         text NOT NULL,
    delivered_at timestamptz,
    acked_at     timestamptz
);
CREATE INDEX alerts_party ON alerts (party, seq);

CREATE TABLE webhook_deliveries (
    alert_seq    bigint NOT NULL REFERENCES alerts (seq),
    subscription text NOT NULL REFERENCES subscriptions (id),
    attempts     integer NOT NULL DEFAULT 0,
    next_at      timestamptz NOT NULL,
    delivered_at timestamptz,
    last_error   text,
    ledger_idx   bigint,
    PRIMARY KEY (alert_seq, subscription)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE delivered_at IS NULL;
