-- Rations, budgets and alert thresholds kept in the store, so that several API
-- processes share them. A meter is a level that drains at a steady rate
-- (a leaky bucket); `at` is when it was last brought up to date, in seconds
-- since 1970 on the service's clock.
CREATE TABLE meters (
    key   TEXT PRIMARY KEY,
    level REAL NOT NULL,
    at    REAL NOT NULL
);
-- Which rounded views of which notice version each party has been shown, and
-- when last counted: a view shown again within a day costs its budget nothing.
CREATE TABLE shown (
    recipient      TEXT NOT NULL,
    notice_id      TEXT NOT NULL,
    notice_version INTEGER NOT NULL,
    digest         TEXT NOT NULL,
    at             REAL NOT NULL,
    PRIMARY KEY (recipient, notice_id, notice_version, digest)
);
