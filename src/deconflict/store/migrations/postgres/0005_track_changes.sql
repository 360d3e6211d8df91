-- Each batch that moves aircraft stamps their states with the next change
-- number, so that a process can follow the fleet by reading only what changed.
ALTER TABLE track_state ADD COLUMN seq bigint NOT NULL DEFAULT 0;
CREATE INDEX track_state_seq ON track_state (seq);
CREATE INDEX track_flags_party ON track_flags (kind, party);
