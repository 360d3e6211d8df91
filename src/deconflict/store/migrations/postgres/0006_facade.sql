-- What the ASTM F3548 facade keeps beside the notices it writes: entity
-- references (OVN, state, base URL), subscriptions, USS availability and
-- reports, one JSON document each, keyed by kind and id.
--
-- A document may carry a screen: a time span (microseconds since 1970) and a
-- lon/lat box, so that the subscriptions an entity change may concern are
-- found without reading every one. A document without a screen always passes.
CREATE TABLE facade (
    kind  text NOT NULL,
    key   text NOT NULL,
    doc   text NOT NULL,
    t0    bigint,
    t1    bigint,
    west  double precision,
    south double precision,
    east  double precision,
    north double precision,
    PRIMARY KEY (kind, key)
);
CREATE INDEX facade_screen ON facade (kind, t1);
