-- Schema version 3: OAuth2 grants beside passwords, and the state waiting_for_sign_in.
--
-- SQLite cannot change a CHECK constraint or a partial index's condition in place, so the
-- jobs table is rebuilt. The checkpoints, whose foreign key points at jobs, are kept aside
-- meanwhile (dropping jobs while they reference it would cascade and delete them).
CREATE TEMP TABLE checkpoints_kept AS SELECT * FROM checkpoints;
DROP TABLE checkpoints;

CREATE TABLE jobs_v3 (
    id                TEXT PRIMARY KEY,        -- unguessable; also the private status link
    source_address    TEXT NOT NULL,           -- lower-cased; what public lookups use
    account_key       TEXT NOT NULL,           -- login (lower-cased) + host + port of the source
    state             TEXT NOT NULL CHECK (state IN ('queued', 'running', 'finished', 'failed', 'cancelled', 'waiting_for_sign_in')),
    lang              TEXT NOT NULL,
    source_host       TEXT NOT NULL,
    source_port       INTEGER NOT NULL,
    source_security   TEXT NOT NULL,
    source_login      TEXT NOT NULL,
    source_secret     BLOB,                    -- sealed password or grant; NULL once wiped
    source_provider   TEXT,                    -- NULL: source_secret is a password; else the
                                               -- OAuth2 provider, and source_secret its tokens
    dest_host         TEXT NOT NULL,
    dest_port         INTEGER NOT NULL,
    dest_security     TEXT NOT NULL,
    dest_login        TEXT NOT NULL,
    dest_secret       BLOB,                    -- sealed password or grant; NULL once wiped
    dest_provider     TEXT,                    -- as source_provider
    report_to         TEXT,                    -- where the report goes when sent by SMTP
    created_at        INTEGER NOT NULL,        -- unix milliseconds
    started_at        INTEGER,
    finished_at       INTEGER,
    not_before        INTEGER,                 -- retry back-off: not claimable before
    attempts          INTEGER NOT NULL DEFAULT 0,
    lease_owner       TEXT,
    lease_expires_at  INTEGER,
    heartbeat_at      INTEGER,
    cancel_requested  INTEGER NOT NULL DEFAULT 0,
    progress          TEXT,                    -- JSON, written about once a second
    last_error        TEXT,                    -- specific English cause
    error_kind        TEXT,
    outcome           TEXT,                    -- complete | complete_with_rejections | incomplete
    result            TEXT,                    -- JSON completeness table
    report_state      TEXT NOT NULL DEFAULT 'pending' CHECK (report_state IN ('pending', 'sent', 'failed')),
    report_attempts   INTEGER NOT NULL DEFAULT 0,
    report_error      TEXT,
    sign_in_since     INTEGER,                 -- waiting_for_sign_in: since when (unix ms)
    sign_in_sides     TEXT                     -- waiting_for_sign_in: 'source', 'destination' or both, space-separated
) STRICT;

INSERT INTO jobs_v3 (id, source_address, account_key, state, lang, source_host, source_port,
    source_security, source_login, source_secret, dest_host, dest_port, dest_security,
    dest_login, dest_secret, report_to, created_at, started_at, finished_at, not_before,
    attempts, lease_owner, lease_expires_at, heartbeat_at, cancel_requested, progress,
    last_error, error_kind, outcome, result, report_state, report_attempts, report_error)
SELECT id, source_address, account_key, state, lang, source_host, source_port,
    source_security, source_login, source_secret, dest_host, dest_port, dest_security,
    dest_login, dest_secret, report_to, created_at, started_at, finished_at, not_before,
    attempts, lease_owner, lease_expires_at, heartbeat_at, cancel_requested, progress,
    last_error, error_kind, outcome, result, report_state, report_attempts, report_error
FROM jobs;

DROP TABLE jobs;
ALTER TABLE jobs_v3 RENAME TO jobs;

-- At most one active job per source account: waiting for sign-in keeps the account taken.
CREATE UNIQUE INDEX jobs_one_active_per_account ON jobs (account_key)
    WHERE state IN ('queued', 'running', 'waiting_for_sign_in');
CREATE INDEX jobs_by_address ON jobs (source_address, created_at);
CREATE INDEX jobs_queue ON jobs (state, created_at);

CREATE TABLE checkpoints (
    job_id       TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    folder       TEXT NOT NULL,                -- raw source folder name
    uidvalidity  INTEGER NOT NULL,
    data         TEXT NOT NULL,                -- JSON: low-water UID, done UIDs above it, UID map
    PRIMARY KEY (job_id, folder)
) STRICT;
INSERT INTO checkpoints SELECT * FROM checkpoints_kept;
DROP TABLE checkpoints_kept;
