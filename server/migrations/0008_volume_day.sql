-- Schema version 8: what a job copied in its current day, so that a copy keeps under a
-- provider's daily volume (Gmail) across attempts and restarts: the day starts with the first
-- attempt after the previous day ended (unix milliseconds), and counts the octets copied.
ALTER TABLE jobs ADD COLUMN volume_day_start INTEGER;
ALTER TABLE jobs ADD COLUMN volume_day_bytes INTEGER NOT NULL DEFAULT 0;
