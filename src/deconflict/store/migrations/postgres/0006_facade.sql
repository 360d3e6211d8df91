-- What the ASTM F3548 facade keeps beside the notices it writes: entity
-- references (OVN, state, base URL), subscriptions, USS availability and
-- reports, one JSON document each, keyed by kind and id.
CREATE TABLE facade (
    kind text NOT NULL,
    key  text NOT NULL,
    doc  text NOT NULL,
    PRIMARY KEY (kind, key)
);
