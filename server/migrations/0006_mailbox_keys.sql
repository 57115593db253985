-- Schema version 6: one job per mailbox whatever its name (jobs/mailbox.rs). Each job keeps
-- the keys of its source and destination mailbox (login at provider, host name, resolved
-- addresses; never the port). `active` is 1 while the job is queued, running or waiting
-- for sign-in, and a trigger clears it when the job leaves those states (no transition
-- leads back).
CREATE TABLE mailbox_keys (
    job_id  TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    side    TEXT NOT NULL CHECK (side IN ('source', 'destination')),
    key     TEXT NOT NULL,
    active  INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    PRIMARY KEY (job_id, side, key)
) STRICT;

-- At most one active job per source mailbox key: a second Synchronize for the same mailbox,
-- under any of its names, fails here, inside the INSERT's transaction.
CREATE UNIQUE INDEX mailbox_keys_one_active_source ON mailbox_keys (key)
    WHERE side = 'source' AND active = 1;
-- The claim looks up other active jobs into the same destination mailbox.
CREATE INDEX mailbox_keys_active_destination ON mailbox_keys (key, job_id)
    WHERE side = 'destination' AND active = 1;

CREATE TRIGGER mailbox_keys_release AFTER UPDATE OF state ON jobs
    WHEN NEW.state NOT IN ('queued', 'running', 'waiting_for_sign_in')
        AND OLD.state IN ('queued', 'running', 'waiting_for_sign_in')
BEGIN
    UPDATE mailbox_keys SET active = 0 WHERE job_id = NEW.id;
END;

-- Jobs queued before this version: their name keys (login and host as typed, lower-cased).
INSERT OR IGNORE INTO mailbox_keys (job_id, side, key, active)
    SELECT id, 'source', lower(trim(source_login)) || '|n:' || rtrim(lower(trim(source_host)), '.'),
           state IN ('queued', 'running', 'waiting_for_sign_in')
    FROM jobs ORDER BY created_at;
INSERT OR IGNORE INTO mailbox_keys (job_id, side, key, active)
    SELECT id, 'destination', lower(trim(dest_login)) || '|n:' || rtrim(lower(trim(dest_host)), '.'),
           state IN ('queued', 'running', 'waiting_for_sign_in')
    FROM jobs;
