-- When an alert was first taken by one of its party's live streams. It is kept
-- apart from `delivered_at` (first delivery by any channel) so that a webhook
-- delivering first does not hide the stream's delivery from the ledger.
ALTER TABLE alerts ADD COLUMN streamed_at TEXT;
UPDATE alerts SET streamed_at = delivered_at
WHERE delivered_at IS NOT NULL
  AND seq NOT IN (SELECT alert_seq FROM webhook_deliveries WHERE delivered_at IS NOT NULL);
