-- Rations, budgets and alert thresholds kept in the store, so that several API
-- processes share them. A meter is a level that drains at a steady rate
-- (a leaky bucket); `at` is when it was last brought up to date, in seconds
-- since 1970 on the service's clock.
CREATE TABLE meters (
    key   text PRIMARY KEY,
    level double precision NOT NULL,
    at    double precision NOT NULL
);
-- Which rounded views of which notice version each party has been shown, and
-- when last counted: a view shown again within a day costs its budget nothing.
CREATE TABLE shown (
    recipient      text NOT NULL,
    notice_id      text NOT NULL,
    notice_version integer NOT NULL,
    digest         text NOT NULL,
    at             double precision NOT NULL,
    PRIMARY KEY (recipient, notice_id, notice_version, digest)
);
