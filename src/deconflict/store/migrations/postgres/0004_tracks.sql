-- Live tracks: every position report within the retention window, the newest
-- state of each aircraft, and which alerts are currently raised, so that an
-- alert is sent when a threshold is crossed, not on every report.
CREATE TABLE track_reports (
    party       text NOT NULL,
    aircraft    text NOT NULL,
    time        timestamptz NOT NULL,
    lon         double precision NOT NULL,
    lat         double precision NOT NULL,
    alt_lo      double precision NOT NULL,  -- W84 metres, widened across datums
    alt_hi      double precision NOT NULL,
    east        double precision NOT NULL,
    north       double precision NOT NULL,
    up          double precision NOT NULL,
    PRIMARY KEY (party, aircraft, time)
);
CREATE INDEX track_reports_time ON track_reports (time);

CREATE TABLE track_state (
    party       text COLLATE "C" NOT NULL,
    aircraft    text COLLATE "C" NOT NULL,
    time        timestamptz NOT NULL,
    lon         double precision NOT NULL,
    lat         double precision NOT NULL,
    alt_lo      double precision NOT NULL,
    alt_hi      double precision NOT NULL,
    east        double precision NOT NULL,
    north       double precision NOT NULL,
    up          double precision NOT NULL,
    PRIMARY KEY (party, aircraft)
);
CREATE INDEX track_state_time ON track_state (time);

-- Raised conditions: ('nonconforming', party, aircraft, ''), ('proximity', party,
-- aircraft, '<other party>/<other aircraft>'), ('incursion', party, aircraft, '<notice>').
CREATE TABLE track_flags (
    kind        text NOT NULL,
    party       text NOT NULL,
    aircraft    text NOT NULL,
    other       text NOT NULL,
    since       timestamptz NOT NULL,
    PRIMARY KEY (kind, party, aircraft, other)
);
