-- Schema version 7: every attempt of a job, from its claim until the job left running, so that
-- the job page and the report list them when there was more than one (a restart, a retry).
-- jobs.started_at stays the first attempt's start (the claim keeps it), so a job's start and
-- duration are its own, not its last attempt's.
CREATE TABLE job_attempts (
    job_id      TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,      -- 1, 2, … in claim order
    started_at  INTEGER NOT NULL,      -- unix milliseconds
    ended_at    INTEGER,               -- NULL while it runs
    ended_how   TEXT CHECK (ended_how IN ('finished', 'failed', 'cancelled', 'retried', 'paused',
                                          'sign_in_needed', 'stopped', 'lost')),
    error       TEXT,                  -- the English cause it stopped on, if any
    PRIMARY KEY (job_id, attempt)
) STRICT;
