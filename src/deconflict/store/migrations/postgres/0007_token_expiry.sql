-- A party's token may expire (token_lifetime_days); NULL never does.
ALTER TABLE parties ADD COLUMN token_expires_at timestamptz;
