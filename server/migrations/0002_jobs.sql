-- Schema version 2: the job queue. One row per Synchronize request.
CREATE TABLE jobs (
    id                TEXT PRIMARY KEY,        -- unguessable; also the private status link
    source_address    TEXT NOT NULL,           -- lower-cased; what public lookups use
    account_key       TEXT NOT NULL,           -- login (lower-cased) + host + port of the source
    state             TEXT NOT NULL CHECK (state IN ('queued', 'running', 'finished', 'failed', 'cancelled')),
    lang              TEXT NOT NULL,
    source_host       TEXT NOT NULL,
    source_port       INTEGER NOT NULL,
    source_security   TEXT NOT NULL,
    source_login      TEXT NOT NULL,
    source_secret     BLOB,                    -- sealed password; NULL once wiped
    dest_host         TEXT NOT NULL,
    dest_port         INTEGER NOT NULL,
    dest_security     TEXT NOT NULL,
    dest_login        TEXT NOT NULL,
    dest_secret       BLOB,                    -- sealed password; NULL once wiped
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
    report_error      TEXT
) STRICT;

-- At most one queued or running job per source account, enforced by the database itself.
CREATE UNIQUE INDEX jobs_one_active_per_account ON jobs (account_key) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_by_address ON jobs (source_address, created_at);
CREATE INDEX jobs_queue ON jobs (state, created_at);

-- Resume points of the copy engine, per job and source folder.
CREATE TABLE checkpoints (
    job_id       TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    folder       TEXT NOT NULL,                -- raw source folder name
    uidvalidity  INTEGER NOT NULL,
    data         TEXT NOT NULL,                -- JSON: low-water UID, done UIDs above it, UID map
    PRIMARY KEY (job_id, folder)
) STRICT;
