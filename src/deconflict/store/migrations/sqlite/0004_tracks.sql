-- Live tracks: every position report within the retention window, the newest
-- state of each aircraft, and which alerts are currently raised, so that an
-- alert is sent when a threshold is crossed, not on every report.
CREATE TABLE track_reports (
    party       TEXT NOT NULL,
    aircraft    TEXT NOT NULL,
    time        TEXT NOT NULL,     -- fixed-width UTC
    lon         REAL NOT NULL,
    lat         REAL NOT NULL,
    alt_lo      REAL NOT NULL,     -- W84 metres, widened across datums
    alt_hi      REAL NOT NULL,
    east        REAL NOT NULL,
    north       REAL NOT NULL,
    up          REAL NOT NULL,
    PRIMARY KEY (party, aircraft, time)
);
CREATE INDEX track_reports_time ON track_reports (time);

CREATE TABLE track_state (
    party       TEXT NOT NULL,
    aircraft    TEXT NOT NULL,
    time        TEXT NOT NULL,
    lon         REAL NOT NULL,
    lat         REAL NOT NULL,
    alt_lo      REAL NOT NULL,
    alt_hi      REAL NOT NULL,
    east        REAL NOT NULL,
    north       REAL NOT NULL,
    up          REAL NOT NULL,
    PRIMARY KEY (party, aircraft)
);
CREATE INDEX track_state_time ON track_state (time);

-- Raised conditions: ('nonconforming', party, aircraft, ''), ('proximity', party,
-- aircraft, '<other party>/<other aircraft>'), ('incursion', party, aircraft, '<notice>').
CREATE TABLE track_flags (
    kind        TEXT NOT NULL,
    party       TEXT NOT NULL,
    aircraft    TEXT NOT NULL,
    other       TEXT NOT NULL,
    since       TEXT NOT NULL,
    PRIMARY KEY (kind, party, aircraft, other)
)
