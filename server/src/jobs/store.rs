//! The job queue in SQLite: the one write path for jobs. Every state change goes through
//! [`transition`] inside an immediate transaction; the claim is one `UPDATE … RETURNING`.
//! Calls are short (one statement or one small transaction) and synchronous; the
//! [`JobStore`] implementation runs them on tokio's blocking pool, never on an async task.

use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context;
use base64::Engine;
use mailcopy::LabelPolicy;
use rand::RngCore;
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};

use super::checkpoints::{self, SqliteCheckpoints};
use super::lookup::SourceRow;
use super::sealed;
use super::state::{transition, JobEvent, JobState};
use super::store_trait::{
    attempt_end_after, Attempt, AttemptEnd, JobStore, VolumeDay, DAILY_LIMIT_KIND,
};
use crate::oauth::{ProviderId, Tokens};
use crate::seal::Sealer;
use mailcopy::copy::CheckpointStore;
use mailcopy::Security;

pub use super::store_trait::{
    source_address, AccountSecret, AccountSpec, Clock, InsertError, Job, JobSecrets, NewJob,
    OAuthGrant, Side, SystemClock,
};

/// The SQLite job store. Its own methods are blocking (one statement or one small transaction
/// each) and stay public for tests; code on an async task holds it as an `Arc<dyn JobStore>`,
/// whose calls run these same methods on tokio's blocking pool (the one write path either
/// way). Cloning is cheap: clones share the one connection.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    sealer: Arc<Sealer>,
    clock: Arc<dyn Clock>,
}

/// For a candidate job `c` of the claim: another active job writes, or will write first, into
/// the same destination mailbox (any shared destination key) — one that is running, or one
/// queued (or waiting for sign-in) before `c`. Two jobs into one mailbox never run at the same
/// time, and they run in the order they were queued.
const DESTINATION_TAKEN: &str = "SELECT 1 FROM mailbox_keys mine \
     JOIN mailbox_keys other ON other.key = mine.key AND other.side = 'destination' AND other.active = 1 \
     JOIN jobs o ON o.id = other.job_id \
     WHERE mine.job_id = c.id AND mine.side = 'destination' AND mine.active = 1 AND o.id <> c.id \
       AND (o.state = 'running' OR o.created_at < c.created_at OR (o.created_at = c.created_at AND o.rowid < c.rowid))";

const JOB_COLUMNS: &str = "id, state, source_address, source_host, source_port, source_security, source_login, \
     dest_host, dest_port, dest_security, dest_login, lang, report_to, created_at, started_at, finished_at, \
     attempts, cancel_requested, progress, last_error, error_kind, outcome, result, report_state, report_error, \
     (source_secret IS NOT NULL OR dest_secret IS NOT NULL), source_provider, dest_provider, sign_in_sides, \
     sign_in_since, not_before, limit_pauses, volume_day_start, volume_day_bytes, label_policy";

/// The secret and provider columns of a side.
fn columns(side: Side) -> (&'static str, &'static str) {
    match side {
        Side::Source => ("source_secret", "source_provider"),
        Side::Destination => ("dest_secret", "dest_provider"),
    }
}

/// `sign_in_sides` as stored: side names separated by a space; NULL for none.
fn sides_text(sides: &[Side]) -> Option<String> {
    let names: Vec<&str> = sides.iter().map(|s| s.as_str()).collect();
    (!names.is_empty()).then(|| names.join(" "))
}

fn parse_sides(text: Option<&str>) -> Vec<Side> {
    let mut sides: Vec<Side> = text
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(Side::parse)
        .collect();
    sides.dedup();
    sides
}

fn security_str(s: Security) -> &'static str {
    match s {
        Security::Tls => "tls",
        Security::StartTls => "starttls",
        Security::Plain => "plain",
    }
}

fn parse_security(s: &str) -> rusqlite::Result<Security> {
    match s {
        "tls" => Ok(Security::Tls),
        "starttls" => Ok(Security::StartTls),
        "plain" => Ok(Security::Plain),
        other => Err(rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("unknown security {other}").into(),
        )),
    }
}

fn job_from_row(row: &Row<'_>) -> rusqlite::Result<Job> {
    let state: String = row.get(1)?;
    let state = JobState::parse(&state).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            1,
            rusqlite::types::Type::Text,
            format!("unknown state {state}").into(),
        )
    })?;
    Ok(Job {
        id: row.get(0)?,
        state,
        source_address: row.get(2)?,
        source: AccountSpec {
            host: row.get(3)?,
            port: row.get(4)?,
            security: parse_security(&row.get::<_, String>(5)?)?,
            login: row.get(6)?,
        },
        destination: AccountSpec {
            host: row.get(7)?,
            port: row.get(8)?,
            security: parse_security(&row.get::<_, String>(9)?)?,
            login: row.get(10)?,
        },
        lang: row.get(11)?,
        report_to: row.get(12)?,
        created_at: row.get(13)?,
        started_at: row.get(14)?,
        finished_at: row.get(15)?,
        attempts: row.get(16)?,
        cancel_requested: row.get::<_, i64>(17)? != 0,
        progress: row.get(18)?,
        last_error: row.get(19)?,
        error_kind: row.get(20)?,
        outcome: row.get(21)?,
        result: row.get(22)?,
        report_state: row.get(23)?,
        report_error: row.get(24)?,
        has_secrets: row.get(25)?,
        source_provider: row
            .get::<_, Option<String>>(26)?
            .map(|p| ProviderId::parse(&p)),
        destination_provider: row
            .get::<_, Option<String>>(27)?
            .map(|p| ProviderId::parse(&p)),
        sign_in_sides: parse_sides(row.get::<_, Option<String>>(28)?.as_deref()),
        sign_in_since: row.get(29)?,
        not_before: row.get(30)?,
        limit_pauses: row.get(31)?,
        volume_day: row
            .get::<_, Option<i64>>(32)?
            .map(|start_ms| -> rusqlite::Result<VolumeDay> {
                Ok(VolumeDay {
                    start_ms,
                    bytes: u64::try_from(row.get::<_, i64>(33)?).unwrap_or(0),
                })
            })
            .transpose()?,
        // An unknown name (a newer version's) copies as by default.
        labels: LabelPolicy::parse(&row.get::<_, String>(34)?).unwrap_or_default(),
    })
}

fn new_job_id() -> String {
    let mut bytes = [0u8; 18];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Store {
    pub fn new(conn: Connection, sealer: Sealer, clock: Arc<dyn Clock>) -> Store {
        Store {
            conn: Arc::new(Mutex::new(conn)),
            sealer: Arc::new(sealer),
            clock,
        }
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the connection, for tables other modules keep (`checkpoints.rs`).
    pub(crate) fn with_conn<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> anyhow::Result<T> {
        let conn = self.conn();
        Ok(f(&conn)?)
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Queues a job; refused while another job for the same source account is queued or running.
    pub fn insert(&self, job: NewJob) -> Result<String, InsertError> {
        self.insert_with_progress(job, None)
    }

    /// [`Store::insert`] with a first progress record (JSON of `app::model::ProgressView`),
    /// e.g. the totals the wizard's preflight counted, shown until the job's own scan.
    pub fn insert_with_progress(
        &self,
        job: NewJob,
        progress: Option<&str>,
    ) -> Result<String, InsertError> {
        let id = new_job_id();
        let source_secret = sealed::seal(&self.sealer, &id, Side::Source, &job.source_secret);
        let dest_secret = sealed::seal(
            &self.sealer,
            &id,
            Side::Destination,
            &job.destination_secret,
        );
        let now = self.now_ms();
        let (source_keys, dest_keys) = job.mailbox_keys();
        let mut conn = self.conn();
        let result = (|| -> rusqlite::Result<()> {
            // One transaction: the job and its mailbox keys, or neither. The unique index on
            // active source keys refuses a second job for the same mailbox under any name.
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO jobs (id, source_address, account_key, state, lang, source_host, source_port, source_security, \
                 source_login, source_secret, dest_host, dest_port, dest_security, dest_login, dest_secret, report_to, created_at, progress, \
                 source_provider, dest_provider, label_policy) \
                 VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
                params![
                    id,
                    job.source.address(),
                    job.source.account_key(),
                    job.lang,
                    job.source.host,
                    job.source.port,
                    security_str(job.source.security),
                    job.source.login,
                    source_secret.bytes,
                    job.destination.host,
                    job.destination.port,
                    security_str(job.destination.security),
                    job.destination.login,
                    dest_secret.bytes,
                    job.report_to,
                    now,
                    progress,
                    source_secret.provider,
                    dest_secret.provider,
                    job.labels.as_str(),
                ],
            )?;
            {
                // Keys come without repeats (`mailbox::mailbox_keys`).
                let mut insert =
                    tx.prepare("INSERT INTO mailbox_keys (job_id, side, key) VALUES (?1, ?2, ?3)")?;
                for k in &source_keys {
                    insert.execute(params![id, "source", k])?;
                }
                for k in &dest_keys {
                    insert.execute(params![id, "destination", k])?;
                }
            }
            tx.commit()
        })();
        match result {
            Ok(()) => Ok(id),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(InsertError::TaskExists)
            }
            Err(e) => Err(InsertError::Db(
                anyhow::Error::new(e).context("inserting a job"),
            )),
        }
    }

    pub fn get(&self, id: &str) -> anyhow::Result<Option<Job>> {
        let conn = self.conn();
        conn.query_row(
            &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"),
            [id],
            job_from_row,
        )
        .optional()
        .context("reading a job")
    }

    /// The most recent job for a source address.
    pub fn latest_for_address(&self, address: &str) -> anyhow::Result<Option<Job>> {
        let conn = self.conn();
        conn.query_row(
            &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE source_address = ?1 ORDER BY created_at DESC, rowid DESC LIMIT 1"),
            [address.trim().to_lowercase()],
            job_from_row,
        )
        .optional()
        .context("looking a job up by address")
    }

    /// A lookup's candidates: the jobs whose source login, lower-cased, is `login` (created
    /// at `since_ms` or later when given), newest first, at most `limit`. Read through the
    /// `jobs_by_login` index; SQLite's `lower()` folds ASCII letters only, so a login with
    /// upper-case non-ASCII letters is found by its exact address alone.
    pub fn sources_with_login(
        &self,
        login: &str,
        since_ms: Option<i64>,
        limit: usize,
    ) -> anyhow::Result<Vec<SourceRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, source_login, source_host, source_address, created_at FROM jobs \
             WHERE lower(source_login) = ?1 AND created_at >= ?2 \
             ORDER BY created_at DESC, rowid DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(
            params![
                login.trim().to_lowercase(),
                since_ms.unwrap_or(i64::MIN),
                limit as i64
            ],
            |r| {
                Ok(SourceRow {
                    id: r.get(0)?,
                    login: r.get(1)?,
                    host: r.get(2)?,
                    address: r.get(3)?,
                    created_at: r.get(4)?,
                })
            },
        )?;
        rows.collect::<Result<Vec<_>, _>>()
            .context("looking jobs up by login")
    }

    pub fn list(&self, limit: usize) -> anyhow::Result<Vec<Job>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT ?1"
        ))?;
        let rows = stmt.query_map([limit as i64], job_from_row)?;
        rows.collect::<Result<Vec<_>, _>>().context("listing jobs")
    }

    /// Takes the oldest claimable queued job for `owner` with a lease of `lease_ms`.
    pub fn claim(&self, owner: &str, lease_ms: i64) -> anyhow::Result<Option<Job>> {
        debug_assert_eq!(
            transition(JobState::Queued, JobEvent::Claim).ok(),
            Some(JobState::Running)
        );
        let now = self.now_ms();
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // `started_at` is the job's own start: the first claim sets it, later ones keep it.
        let job = tx
            .query_row(
                &format!(
                    "UPDATE jobs SET state = 'running', lease_owner = ?1, lease_expires_at = ?2, heartbeat_at = ?3, \
                     started_at = coalesce(started_at, ?3), attempts = attempts + 1, not_before = NULL \
                     WHERE id = (SELECT id FROM jobs c WHERE state = 'queued' AND (not_before IS NULL OR not_before <= ?3) \
                                 AND NOT EXISTS ({DESTINATION_TAKEN}) \
                                 ORDER BY created_at, rowid LIMIT 1) \
                     RETURNING {JOB_COLUMNS}"
                ),
                params![owner, now + lease_ms, now],
                job_from_row,
            )
            .optional()
            .context("claiming a job")?;
        if let Some(job) = &job {
            tx.execute(
                "INSERT INTO job_attempts (job_id, attempt, started_at) \
                 SELECT ?1, coalesce(max(attempt), 0) + 1, ?2 FROM job_attempts WHERE job_id = ?1",
                params![job.id, now],
            )
            .context("recording the attempt")?;
        }
        tx.commit()?;
        Ok(job)
    }

    /// The attempts of a job, in claim order.
    pub fn attempts(&self, id: &str) -> anyhow::Result<Vec<Attempt>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT attempt, started_at, ended_at, ended_how, error FROM job_attempts \
             WHERE job_id = ?1 ORDER BY attempt",
        )?;
        let rows = stmt.query_map([id], |r| {
            Ok(Attempt {
                number: r.get(0)?,
                started_at: r.get(1)?,
                ended_at: r.get(2)?,
                end: r
                    .get::<_, Option<String>>(3)?
                    .as_deref()
                    .and_then(AttemptEnd::parse),
                error: r.get(4)?,
            })
        })?;
        rows.collect::<Result<Vec<_>, _>>()
            .context("reading a job's attempts")
    }

    /// Opens the sealed credentials of a job (None once wiped).
    pub fn secrets(&self, id: &str) -> anyhow::Result<Option<JobSecrets>> {
        type Sealed = (Option<Vec<u8>>, Option<String>);
        let row: Option<(Sealed, Sealed)> = {
            let conn = self.conn();
            conn.query_row(
                "SELECT source_secret, source_provider, dest_secret, dest_provider FROM jobs WHERE id = ?1",
                [id],
                |r| Ok(((r.get(0)?, r.get(1)?), (r.get(2)?, r.get(3)?))),
            )
            .optional()?
        };
        let Some(((Some(source), source_provider), (Some(destination), dest_provider))) = row
        else {
            return Ok(None);
        };
        Ok(Some(JobSecrets {
            source: sealed::open(
                &self.sealer,
                id,
                Side::Source,
                &source,
                source_provider.as_deref(),
            )?,
            destination: sealed::open(
                &self.sealer,
                id,
                Side::Destination,
                &destination,
                dest_provider.as_deref(),
            )?,
        }))
    }

    /// Re-seals one side's OAuth2 tokens in one UPDATE (its provider column stays).
    pub fn store_tokens(&self, id: &str, side: Side, tokens: &Tokens) -> anyhow::Result<()> {
        let bytes = sealed::seal_tokens(&self.sealer, id, side, tokens);
        let (secret, provider) = columns(side);
        let conn = self.conn();
        let n = conn.execute(
            &format!(
                "UPDATE jobs SET {secret} = ?2 WHERE id = ?1 AND {secret} IS NOT NULL AND {provider} IS NOT NULL"
            ),
            params![id, bytes],
        )?;
        if n != 1 {
            anyhow::bail!(
                "the job holds no OAuth2 grant for its {} (wiped, or a password)",
                side.as_str()
            );
        }
        Ok(())
    }

    /// Renews the lease and stores progress. False when the lease is no longer ours (the job
    /// was taken back or cancelled): the runner must stop working on it.
    pub fn heartbeat(
        &self,
        id: &str,
        owner: &str,
        lease_ms: i64,
        progress: Option<&str>,
    ) -> anyhow::Result<bool> {
        let now = self.now_ms();
        let conn = self.conn();
        let n = conn.execute(
            "UPDATE jobs SET lease_expires_at = ?3, heartbeat_at = ?4, progress = coalesce(?5, progress) \
             WHERE id = ?1 AND lease_owner = ?2 AND state = 'running'",
            params![id, owner, now + lease_ms, now, progress],
        )?;
        Ok(n == 1)
    }

    pub fn cancel_requested(&self, id: &str) -> anyhow::Result<bool> {
        let conn = self.conn();
        let v: Option<i64> = conn
            .query_row(
                "SELECT cancel_requested FROM jobs WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?;
        Ok(v.unwrap_or(0) != 0)
    }

    /// Applies `event` to the job if `owner` holds it (or unconditionally when `owner` is None),
    /// through the pure transition function. Returns the new state, or None when the job is
    /// not in a state that takes the event (or not ours).
    fn apply(
        &self,
        id: &str,
        owner: Option<&str>,
        event: JobEvent,
        set: &[(&str, rusqlite::types::Value)],
    ) -> anyhow::Result<Option<JobState>> {
        self.apply_then(id, owner, event, set, |_| Ok(()))
    }

    /// [`Store::apply`], then `then` in the same transaction when the event was taken.
    fn apply_then(
        &self,
        id: &str,
        owner: Option<&str>,
        event: JobEvent,
        set: &[(&str, rusqlite::types::Value)],
        then: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<()>,
    ) -> anyhow::Result<Option<JobState>> {
        let now = self.now_ms();
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let next = apply_in(&tx, now, id, owner, event, set)?;
        if next.is_some() {
            then(&tx)?;
        }
        tx.commit()?;
        Ok(next)
    }

    /// The copy ended: finished, with its outcome and completeness table.
    pub fn complete(
        &self,
        id: &str,
        owner: &str,
        outcome: &str,
        result_json: &str,
    ) -> anyhow::Result<Option<JobState>> {
        self.apply(
            id,
            Some(owner),
            JobEvent::Complete,
            &[
                ("outcome", outcome.to_string().into()),
                ("result", result_json.to_string().into()),
                ("last_error", rusqlite::types::Value::Null),
            ],
        )
    }

    /// The copy stopped for good.
    pub fn fail(
        &self,
        id: &str,
        owner: &str,
        kind: &str,
        error: &str,
        result_json: Option<&str>,
    ) -> anyhow::Result<Option<JobState>> {
        let result = result_json
            .map(|r| rusqlite::types::Value::from(r.to_string()))
            .unwrap_or(rusqlite::types::Value::Null);
        self.apply(
            id,
            Some(owner),
            JobEvent::Fail,
            &[
                ("outcome", "incomplete".to_string().into()),
                ("error_kind", kind.to_string().into()),
                ("last_error", error.to_string().into()),
                ("result", result),
            ],
        )
    }

    /// A transient failure: back to the queue, claimable again at `not_before`.
    pub fn retry(
        &self,
        id: &str,
        owner: &str,
        not_before: i64,
        kind: &str,
        error: &str,
    ) -> anyhow::Result<Option<JobState>> {
        self.apply(
            id,
            Some(owner),
            JobEvent::Retry,
            &retry_fields(not_before, kind, error),
        )
    }

    /// A provider's daily limit: back to the queue until `until`, paused. The attempt that
    /// met the limit does not count as one (a mailbox larger than a day's volume takes
    /// several days); the pause does (`limit_pauses`).
    pub fn pause_for_limit(
        &self,
        id: &str,
        owner: &str,
        until: i64,
        error: &str,
    ) -> anyhow::Result<Option<JobState>> {
        self.apply_then(
            id,
            Some(owner),
            JobEvent::Retry,
            &retry_fields(until, DAILY_LIMIT_KIND, error),
            |tx| {
                tx.execute(
                    "UPDATE jobs SET attempts = MAX(attempts - 1, 0), limit_pauses = limit_pauses + 1 \
                     WHERE id = ?1",
                    [id],
                )?;
                tx.execute(
                    "UPDATE job_attempts SET ended_how = ?2 WHERE job_id = ?1 \
                     AND attempt = (SELECT max(attempt) FROM job_attempts WHERE job_id = ?1)",
                    params![id, AttemptEnd::Paused.as_str()],
                )?;
                Ok(())
            },
        )
    }

    /// What the job copied in its current day ([`VolumeDay`]).
    pub fn record_volume(&self, id: &str, day: VolumeDay) -> anyhow::Result<()> {
        self.conn().execute(
            "UPDATE jobs SET volume_day_start = ?2, volume_day_bytes = ?3 WHERE id = ?1",
            params![
                id,
                day.start_ms,
                i64::try_from(day.bytes).unwrap_or(i64::MAX)
            ],
        )?;
        Ok(())
    }

    /// Shutdown: a running job goes back to the queue to resume at the next start.
    pub fn release(&self, id: &str, owner: &str) -> anyhow::Result<Option<JobState>> {
        self.apply(id, Some(owner), JobEvent::Abandon, &[])
    }

    /// The copy stopped because a grant is gone: waiting for sign-in on `sides`, from now.
    pub fn need_sign_in(
        &self,
        id: &str,
        owner: &str,
        sides: &[Side],
        error: &str,
        result_json: Option<&str>,
    ) -> anyhow::Result<Option<JobState>> {
        let mut set: Vec<(&str, rusqlite::types::Value)> = vec![
            ("sign_in_since", self.now_ms().into()),
            ("sign_in_sides", sides_text(sides).into()),
            ("error_kind", "sign_in_needed".to_string().into()),
            ("last_error", error.to_string().into()),
        ];
        if let Some(result) = result_json {
            set.push(("result", result.to_string().into()));
        }
        self.apply(id, Some(owner), JobEvent::NeedSignIn, &set)
    }

    /// "Sign in again" on one side: its grant re-sealed and, in the same transaction, the job
    /// queued again once no side waits any more.
    pub fn resume_after_sign_in(
        &self,
        id: &str,
        side: Side,
        grant: OAuthGrant,
    ) -> anyhow::Result<Option<JobState>> {
        let sealed = sealed::seal(&self.sealer, id, side, &AccountSecret::OAuth2(grant));
        let now = self.now_ms();
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let row: Option<(String, Option<String>)> = tx
            .query_row(
                "SELECT state, sign_in_sides FROM jobs WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((state, waiting)) = row else {
            return Ok(None);
        };
        if JobState::parse(&state) != Some(JobState::WaitingForSignIn) {
            return Ok(None);
        }
        let left: Vec<Side> = parse_sides(waiting.as_deref())
            .into_iter()
            .filter(|s| *s != side)
            .collect();
        let (secret, provider) = columns(side);
        tx.execute(
            &format!(
                "UPDATE jobs SET {secret} = ?2, {provider} = ?3, sign_in_sides = ?4 WHERE id = ?1"
            ),
            params![id, sealed.bytes, sealed.provider, sides_text(&left)],
        )?;
        let next = if left.is_empty() {
            apply_in(
                &tx,
                now,
                id,
                None,
                JobEvent::SignedInAgain,
                &[
                    ("sign_in_since", rusqlite::types::Value::Null),
                    ("not_before", rusqlite::types::Value::Null),
                ],
            )?
        } else {
            Some(JobState::WaitingForSignIn)
        };
        tx.commit()?;
        Ok(next)
    }

    /// Fails the jobs waiting for sign-in since `waiting_since_ms` or earlier: `cause`, then
    /// the error that made them wait.
    pub fn fail_sign_in_waits(
        &self,
        waiting_since_ms: i64,
        cause: &str,
    ) -> anyhow::Result<Vec<String>> {
        let ids = self.ids_where(
            "state = 'waiting_for_sign_in' AND sign_in_since <= ?1",
            params![waiting_since_ms],
        )?;
        let mut failed = Vec::new();
        for id in ids {
            let error = match self.get(&id)?.and_then(|j| j.last_error) {
                Some(e) => format!("{cause}: {e}"),
                None => cause.to_string(),
            };
            let set = [
                ("outcome", "incomplete".to_string().into()),
                ("error_kind", "sign_in_timeout".to_string().into()),
                ("last_error", error.into()),
            ];
            if self.apply(&id, None, JobEvent::Fail, &set)?.is_some() {
                failed.push(id);
            }
        }
        Ok(failed)
    }

    /// Operator cancel: a queued job (or one waiting for sign-in) ends at once; a running one is flagged and its runner
    /// stops at the next check, then reports the cancellation through [`Store::cancelled`].
    pub fn cancel(&self, id: &str) -> anyhow::Result<Option<JobState>> {
        let state = self.get(id)?.map(|j| j.state);
        match state {
            Some(JobState::Queued | JobState::WaitingForSignIn) => {
                self.apply(id, None, JobEvent::Cancel, &[])
            }
            Some(JobState::Running) => {
                let conn = self.conn();
                conn.execute(
                    "UPDATE jobs SET cancel_requested = 1 WHERE id = ?1 AND state = 'running'",
                    [id],
                )?;
                Ok(Some(JobState::Running))
            }
            other => Ok(other),
        }
    }

    /// The runner stopped a job whose cancellation was requested.
    pub fn cancelled(
        &self,
        id: &str,
        owner: &str,
        result_json: Option<&str>,
    ) -> anyhow::Result<Option<JobState>> {
        let result = result_json
            .map(|r| rusqlite::types::Value::from(r.to_string()))
            .unwrap_or(rusqlite::types::Value::Null);
        self.apply(
            id,
            Some(owner),
            JobEvent::Cancel,
            &[
                ("result", result),
                ("outcome", "incomplete".to_string().into()),
            ],
        )
    }

    /// Start-up of the single node: every job left running by a previous process is its own
    /// and goes back to the queue at once (no waiting for leases to expire).
    pub fn take_back_all_running(&self) -> anyhow::Result<usize> {
        let ids = self.ids_where("state = 'running'", params![])?;
        let mut n = 0;
        for id in ids {
            if self.apply(&id, None, JobEvent::Abandon, &[])?.is_some() {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Jobs whose lease ran out (their runner died or hung) go back to the queue.
    pub fn requeue_expired(&self) -> anyhow::Result<usize> {
        let now = self.now_ms();
        let ids = self.ids_where("state = 'running' AND lease_expires_at < ?1", params![now])?;
        let mut n = 0;
        for id in ids {
            if self.apply(&id, None, JobEvent::Abandon, &[])?.is_some() {
                n += 1;
            }
        }
        Ok(n)
    }

    fn ids_where(
        &self,
        condition: &str,
        params: &[&dyn rusqlite::ToSql],
    ) -> anyhow::Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("SELECT id FROM jobs WHERE {condition}"))?;
        let ids = stmt
            .query_map(params, |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ids)
    }

    /// Records the outcome of a report delivery attempt.
    pub fn report_attempt(
        &self,
        id: &str,
        delivered: bool,
        error: Option<&str>,
        give_up: bool,
    ) -> anyhow::Result<()> {
        let state = if delivered {
            "sent"
        } else if give_up {
            "failed"
        } else {
            "pending"
        };
        let conn = self.conn();
        conn.execute(
            "UPDATE jobs SET report_state = ?2, report_attempts = report_attempts + 1, report_error = ?3 WHERE id = ?1",
            params![id, state, error],
        )?;
        Ok(())
    }

    /// Erases the sealed credentials of a final job (overwritten on disk thanks to
    /// secure_delete). A job waiting for sign-in keeps them: it is not final.
    pub fn wipe_secrets(&self, id: &str) -> anyhow::Result<bool> {
        let conn = self.conn();
        let n = conn.execute(
            "UPDATE jobs SET source_secret = NULL, dest_secret = NULL WHERE id = ?1 AND state IN ('finished', 'failed', 'cancelled')",
            [id],
        )?;
        Ok(n == 1)
    }

    /// Final jobs that still hold secrets and whose report is settled (startup clean-up).
    pub fn final_jobs_with_secrets(&self) -> anyhow::Result<Vec<String>> {
        self.ids_where(
            "state IN ('finished', 'failed', 'cancelled') AND (source_secret IS NOT NULL OR dest_secret IS NOT NULL)",
            params![],
        )
    }

    /// Writes the WAL into the main file and truncates it (used after wiping secrets).
    pub fn checkpoint_wal(&self) -> anyhow::Result<()> {
        let conn = self.conn();
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }
}

/// What a retry (or a daily-limit pause, which is one) sets: when it may run again and why.
fn retry_fields(
    not_before: i64,
    kind: &str,
    error: &str,
) -> [(&'static str, rusqlite::types::Value); 3] {
    [
        ("not_before", not_before.into()),
        ("error_kind", kind.to_string().into()),
        ("last_error", error.to_string().into()),
    ]
}

/// [`Store::apply`] inside a transaction the caller holds (and commits), so that a state
/// change and other writes of the same call are one.
fn apply_in(
    tx: &Transaction<'_>,
    now: i64,
    id: &str,
    owner: Option<&str>,
    event: JobEvent,
    set: &[(&str, rusqlite::types::Value)],
) -> anyhow::Result<Option<JobState>> {
    let current: Option<(String, Option<String>)> = tx
        .query_row(
            "SELECT state, lease_owner FROM jobs WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((state, lease_owner)) = current else {
        return Ok(None);
    };
    let Some(state) = JobState::parse(&state) else {
        return Ok(None);
    };
    if let Some(owner) = owner {
        if lease_owner.as_deref() != Some(owner) {
            return Ok(None);
        }
    }
    let Ok(next) = transition(state, event) else {
        return Ok(None);
    };
    if state == JobState::Running && next != JobState::Running {
        if let Some(end) = attempt_end_after(event, owner.is_some()) {
            let error = set.iter().find_map(|(column, value)| match value {
                rusqlite::types::Value::Text(t) if *column == "last_error" => Some(t.clone()),
                _ => None,
            });
            // A lost attempt (its process died) ended at its last heartbeat, not when it was
            // taken back.
            let ended_sql = if end == AttemptEnd::Lost {
                "coalesce((SELECT heartbeat_at FROM jobs WHERE id = ?1), ?2)"
            } else {
                "?2"
            };
            tx.execute(
                &format!(
                    "UPDATE job_attempts SET ended_at = {ended_sql}, ended_how = ?3, error = ?4 \
                     WHERE job_id = ?1 AND ended_at IS NULL"
                ),
                params![id, now, end.as_str(), error],
            )?;
        }
    }
    let mut sql = String::from("UPDATE jobs SET state = ?2");
    let mut values: Vec<rusqlite::types::Value> =
        vec![id.to_string().into(), next.as_str().to_string().into()];
    if next.is_final() {
        sql.push_str(", finished_at = ?3, lease_owner = NULL, lease_expires_at = NULL");
        values.push(now.into());
    } else if next != JobState::Running {
        // Queued again, or waiting for sign-in: nobody holds it.
        sql.push_str(", lease_owner = NULL, lease_expires_at = NULL");
    }
    for (column, value) in set {
        values.push(value.clone());
        sql.push_str(&format!(", {column} = ?{}", values.len()));
    }
    sql.push_str(" WHERE id = ?1");
    tx.execute(&sql, rusqlite::params_from_iter(values))?;
    Ok(Some(next))
}

/// Runs blocking store work on tokio's blocking pool, so that no SQLite call runs on an async
/// task (a copy lane, a web request). A panic in it is resumed in the caller, as when the
/// call was made in place.
async fn blocking<T, E>(work: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, E>
where
    T: Send + 'static,
    E: From<anyhow::Error> + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(anyhow::Error::new(e)
            .context("the job store call did not run")
            .into()),
    }
}

#[async_trait::async_trait]
impl JobStore for Store {
    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    async fn insert_with_progress(
        &self,
        job: NewJob,
        progress: Option<&str>,
    ) -> Result<String, InsertError> {
        let (s, progress) = (self.clone(), progress.map(str::to_string));
        blocking(move || s.insert_with_progress(job, progress.as_deref())).await
    }

    async fn get(&self, id: &str) -> anyhow::Result<Option<Job>> {
        let (s, id) = (self.clone(), id.to_string());
        blocking(move || s.get(&id)).await
    }

    async fn latest_for_address(&self, address: &str) -> anyhow::Result<Option<Job>> {
        let (s, address) = (self.clone(), address.to_string());
        blocking(move || s.latest_for_address(&address)).await
    }

    async fn sources_with_login(
        &self,
        login: &str,
        since_ms: Option<i64>,
        limit: usize,
    ) -> anyhow::Result<Vec<SourceRow>> {
        let (s, login) = (self.clone(), login.to_string());
        blocking(move || s.sources_with_login(&login, since_ms, limit)).await
    }

    async fn list(&self, limit: usize) -> anyhow::Result<Vec<Job>> {
        let s = self.clone();
        blocking(move || s.list(limit)).await
    }

    async fn claim(&self, owner: &str, lease_ms: i64) -> anyhow::Result<Option<Job>> {
        let (s, owner) = (self.clone(), owner.to_string());
        blocking(move || s.claim(&owner, lease_ms)).await
    }

    async fn attempts(&self, id: &str) -> anyhow::Result<Vec<Attempt>> {
        let (s, id) = (self.clone(), id.to_string());
        blocking(move || s.attempts(&id)).await
    }

    async fn secrets(&self, id: &str) -> anyhow::Result<Option<JobSecrets>> {
        let (s, id) = (self.clone(), id.to_string());
        blocking(move || s.secrets(&id)).await
    }

    async fn heartbeat(
        &self,
        id: &str,
        owner: &str,
        lease_ms: i64,
        progress: Option<&str>,
    ) -> anyhow::Result<bool> {
        let (s, id, owner) = (self.clone(), id.to_string(), owner.to_string());
        let progress = progress.map(str::to_string);
        blocking(move || s.heartbeat(&id, &owner, lease_ms, progress.as_deref())).await
    }

    async fn cancel_requested(&self, id: &str) -> anyhow::Result<bool> {
        let (s, id) = (self.clone(), id.to_string());
        blocking(move || s.cancel_requested(&id)).await
    }

    async fn complete(
        &self,
        id: &str,
        owner: &str,
        outcome: &str,
        result_json: &str,
    ) -> anyhow::Result<Option<JobState>> {
        let (s, id, owner) = (self.clone(), id.to_string(), owner.to_string());
        let (outcome, result_json) = (outcome.to_string(), result_json.to_string());
        blocking(move || s.complete(&id, &owner, &outcome, &result_json)).await
    }

    async fn fail(
        &self,
        id: &str,
        owner: &str,
        kind: &str,
        error: &str,
        result_json: Option<&str>,
    ) -> anyhow::Result<Option<JobState>> {
        let (s, id, owner) = (self.clone(), id.to_string(), owner.to_string());
        let (kind, error) = (kind.to_string(), error.to_string());
        let result_json = result_json.map(str::to_string);
        blocking(move || s.fail(&id, &owner, &kind, &error, result_json.as_deref())).await
    }

    async fn retry(
        &self,
        id: &str,
        owner: &str,
        not_before: i64,
        kind: &str,
        error: &str,
    ) -> anyhow::Result<Option<JobState>> {
        let (s, id, owner) = (self.clone(), id.to_string(), owner.to_string());
        let (kind, error) = (kind.to_string(), error.to_string());
        blocking(move || s.retry(&id, &owner, not_before, &kind, &error)).await
    }

    async fn pause_for_limit(
        &self,
        id: &str,
        owner: &str,
        until: i64,
        error: &str,
    ) -> anyhow::Result<Option<JobState>> {
        let (s, id, owner, error) = (
            self.clone(),
            id.to_string(),
            owner.to_string(),
            error.to_string(),
        );
        blocking(move || s.pause_for_limit(&id, &owner, until, &error)).await
    }

    async fn record_volume(&self, id: &str, day: VolumeDay) -> anyhow::Result<()> {
        let (s, id) = (self.clone(), id.to_string());
        blocking(move || s.record_volume(&id, day)).await
    }

    async fn release(&self, id: &str, owner: &str) -> anyhow::Result<Option<JobState>> {
        let (s, id, owner) = (self.clone(), id.to_string(), owner.to_string());
        blocking(move || s.release(&id, &owner)).await
    }

    async fn cancel(&self, id: &str) -> anyhow::Result<Option<JobState>> {
        let (s, id) = (self.clone(), id.to_string());
        blocking(move || s.cancel(&id)).await
    }

    async fn store_tokens(&self, id: &str, side: Side, tokens: &Tokens) -> anyhow::Result<()> {
        let (s, id, tokens) = (self.clone(), id.to_string(), tokens.clone());
        blocking(move || s.store_tokens(&id, side, &tokens)).await
    }

    async fn need_sign_in(
        &self,
        id: &str,
        owner: &str,
        sides: &[Side],
        error: &str,
        result_json: Option<&str>,
    ) -> anyhow::Result<Option<JobState>> {
        let (s, id, owner) = (self.clone(), id.to_string(), owner.to_string());
        let (sides, error) = (sides.to_vec(), error.to_string());
        let result_json = result_json.map(str::to_string);
        blocking(move || s.need_sign_in(&id, &owner, &sides, &error, result_json.as_deref())).await
    }

    async fn resume_after_sign_in(
        &self,
        id: &str,
        side: Side,
        grant: OAuthGrant,
    ) -> anyhow::Result<Option<JobState>> {
        let (s, id) = (self.clone(), id.to_string());
        blocking(move || s.resume_after_sign_in(&id, side, grant)).await
    }

    async fn fail_sign_in_waits(
        &self,
        waiting_since_ms: i64,
        cause: &str,
    ) -> anyhow::Result<Vec<String>> {
        let (s, cause) = (self.clone(), cause.to_string());
        blocking(move || s.fail_sign_in_waits(waiting_since_ms, &cause)).await
    }

    async fn cancelled(
        &self,
        id: &str,
        owner: &str,
        result_json: Option<&str>,
    ) -> anyhow::Result<Option<JobState>> {
        let (s, id, owner) = (self.clone(), id.to_string(), owner.to_string());
        let result_json = result_json.map(str::to_string);
        blocking(move || s.cancelled(&id, &owner, result_json.as_deref())).await
    }

    async fn take_back_all_running(&self) -> anyhow::Result<usize> {
        let s = self.clone();
        blocking(move || s.take_back_all_running()).await
    }

    async fn requeue_expired(&self) -> anyhow::Result<usize> {
        let s = self.clone();
        blocking(move || s.requeue_expired()).await
    }

    async fn report_attempt(
        &self,
        id: &str,
        delivered: bool,
        error: Option<&str>,
        give_up: bool,
    ) -> anyhow::Result<()> {
        let (s, id, error) = (self.clone(), id.to_string(), error.map(str::to_string));
        blocking(move || s.report_attempt(&id, delivered, error.as_deref(), give_up)).await
    }

    async fn wipe_secrets(&self, id: &str) -> anyhow::Result<bool> {
        let (s, id) = (self.clone(), id.to_string());
        blocking(move || s.wipe_secrets(&id)).await
    }

    async fn final_jobs_with_secrets(&self) -> anyhow::Result<Vec<String>> {
        let s = self.clone();
        blocking(move || s.final_jobs_with_secrets()).await
    }

    async fn purge_wiped(&self) -> anyhow::Result<()> {
        let s = self.clone();
        blocking(move || s.checkpoint_wal()).await
    }

    fn checkpoints(&self, job_id: &str) -> Box<dyn CheckpointStore> {
        Box::new(SqliteCheckpoints::new(self, job_id))
    }

    async fn clear_checkpoints(&self, job_id: &str) -> anyhow::Result<usize> {
        let (s, job_id) = (self.clone(), job_id.to_string());
        blocking(move || checkpoints::clear(&s, &job_id)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::UnixMs;
    use secrecy::{ExposeSecret, SecretString};
    use std::sync::atomic::{AtomicI64, Ordering};

    fn password(secret: &AccountSecret) -> &str {
        match secret {
            AccountSecret::Password(p) => p.expose_secret(),
            other => panic!("not a password: {other:?}"),
        }
    }

    fn tokens(access: &str, refresh: Option<&str>) -> Tokens {
        Tokens {
            access_token: SecretString::from(access.to_string()),
            refresh_token: refresh.map(|r| SecretString::from(r.to_string())),
            expires_at: Some(UnixMs(5_000_000)),
            scope: Some("openid imap".into()),
        }
    }

    fn grant(access: &str, refresh: &str) -> AccountSecret {
        AccountSecret::OAuth2(OAuthGrant {
            provider: ProviderId::Google,
            tokens: tokens(access, Some(refresh)),
        })
    }

    /// The access and refresh token of a side holding a grant.
    fn grant_of(secret: &AccountSecret) -> (String, Option<String>) {
        match secret {
            AccountSecret::OAuth2(g) => (
                g.tokens.access_token.expose_secret().to_string(),
                g.tokens
                    .refresh_token
                    .as_ref()
                    .map(|t| t.expose_secret().to_string()),
            ),
            other => panic!("not a grant: {other:?}"),
        }
    }

    #[derive(Default)]
    struct TestClock(AtomicI64);
    impl Clock for TestClock {
        fn now_ms(&self) -> i64 {
            self.0.load(Ordering::SeqCst)
        }
    }
    impl TestClock {
        fn advance(&self, ms: i64) {
            self.0.fetch_add(ms, Ordering::SeqCst);
        }
    }

    fn store() -> (tempfile::TempDir, Store, Arc<TestClock>) {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open(dir.path()).unwrap();
        let clock = Arc::new(TestClock(AtomicI64::new(1_000_000)));
        (
            dir,
            Store::new(conn, Sealer::ephemeral(), clock.clone()),
            clock,
        )
    }

    fn account(login: &str, host: &str, port: u16) -> AccountSpec {
        AccountSpec {
            host: host.into(),
            port,
            security: Security::Tls,
            login: login.into(),
        }
    }

    /// A job from `login` into its own destination mailbox (`to-<login>`).
    fn new_job(login: &str) -> NewJob {
        NewJob {
            resolved: Default::default(),
            source: account(login, "imap.source.test", 993),
            source_secret: AccountSecret::Password(SecretString::from("src-pass")),
            destination: account(&format!("to-{login}"), "imap.dest.test", 993),
            destination_secret: AccountSecret::Password(SecretString::from("dst-pass")),
            lang: "es".into(),
            report_to: None,
            labels: Default::default(),
        }
    }

    /// Records the threads the store reads its clock on (inside its calls' SQLite work).
    #[derive(Default)]
    struct ThreadClock(Mutex<Vec<std::thread::ThreadId>>);
    impl Clock for ThreadClock {
        fn now_ms(&self) -> i64 {
            self.0.lock().unwrap().push(std::thread::current().id());
            1_000_000
        }
    }

    #[tokio::test]
    async fn the_job_store_trait_does_its_work_off_the_async_task() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ThreadClock::default());
        let store: Arc<dyn JobStore> = Arc::new(Store::new(
            crate::db::open(dir.path()).unwrap(),
            Sealer::ephemeral(),
            clock.clone(),
        ));
        let id = store.insert(new_job("a@example.test")).await.unwrap();
        assert!(matches!(
            store.insert(new_job("A@example.test")).await,
            Err(InsertError::TaskExists)
        ));
        let job = store.claim("n", 10_000).await.unwrap().unwrap();
        assert_eq!(
            (job.id.as_str(), job.state),
            (id.as_str(), JobState::Running)
        );
        assert!(store.heartbeat(&id, "n", 10_000, Some("{}")).await.unwrap());
        assert!(!store.heartbeat(&id, "other", 10_000, None).await.unwrap());
        let secrets = store.secrets(&id).await.unwrap().unwrap();
        assert_eq!(password(&secrets.source), "src-pass");
        let checkpoints = store.checkpoints(&id);
        let cp = mailcopy::copy::FolderCheckpoint::new(
            mailcopy::UidValidity(7),
            "INBOX",
            None,
            &[1, 2],
            &[1].into_iter().collect(),
            &[(1, 1)].into_iter().collect(),
        );
        checkpoints.save("INBOX", &cp).await.unwrap();
        assert_eq!(checkpoints.load("INBOX").await.unwrap(), Some(cp));
        assert_eq!(
            store.complete(&id, "n", "complete", "{}").await.unwrap(),
            Some(JobState::Finished)
        );
        assert_eq!(
            store.final_jobs_with_secrets().await.unwrap(),
            vec![id.clone()]
        );
        assert_eq!(store.clear_checkpoints(&id).await.unwrap(), 1);
        assert!(store.wipe_secrets(&id).await.unwrap());
        store.purge_wiped().await.unwrap();
        let job = store.get(&id).await.unwrap().unwrap();
        assert!(!job.has_secrets && job.state == JobState::Finished);
        assert_eq!(store.list(10).await.unwrap().len(), 1);
        // Every call that read the clock did so on the blocking pool, not on this (the
        // runtime's only) thread.
        let here = std::thread::current().id();
        let seen = clock.0.lock().unwrap().clone();
        assert!(seen.len() >= 4, "{seen:?}");
        assert!(seen.iter().all(|t| *t != here), "{seen:?}");
    }

    #[test]
    fn address_rule() {
        assert_eq!(
            source_address("Support@OVH.net", "ssl0.ovh.net"),
            "support@ovh.net"
        );
        assert_eq!(
            source_address("support", "SSL0.ovh.net"),
            "support@ssl0.ovh.net"
        );
        assert_eq!(
            account("A@b.c", "H.test", 993).account_key(),
            "a@b.c|h.test|993"
        );
    }

    #[tokio::test]
    async fn the_public_lookup_finds_logins_at_their_registrable_domain() {
        use super::super::lookup::{Query, BARE_LOGIN_RECENT_MS};
        use super::super::store_trait::LookupResult;
        let (_dir, store, clock) = store();
        let insert = |login: &str, host: &str| {
            let mut job = new_job(login);
            job.source = account(login, host, 993);
            store.insert(job).unwrap()
        };
        let lookup = |text: &str| {
            let store = store.clone();
            let query = Query::parse(text).unwrap();
            async move { JobStore::lookup(&store, &query).await.unwrap() }
        };
        let found = |result: LookupResult| match result {
            LookupResult::Found(job) => job.id,
            other => panic!("not found: {other:?}"),
        };
        // Long ago: a `carol` elsewhere, too old to make `carol` ambiguous.
        insert("carol", "imap.old.example");
        clock.advance(BARE_LOGIN_RECENT_MS + 1);
        let ovh = insert("support", "ssl0.ovh.net");
        clock.advance(1);
        let example = insert("support", "mail.example.org");
        let alice = insert("alice@example.com", "imap.example.com");
        let bob = insert("Bob", "192.0.2.7");
        let carol = insert("carol", "imap.new.example");

        assert_eq!(found(lookup("support@ovh.net").await), ovh);
        assert_eq!(found(lookup("Support@Mail.OVH.net.").await), ovh);
        assert_eq!(found(lookup("support@example.org").await), example);
        assert_eq!(found(lookup("support@ssl0.ovh.net").await), ovh);
        assert!(matches!(
            lookup("support@net").await,
            LookupResult::NotFound
        ));
        assert!(matches!(
            lookup("support@ovh.com").await,
            LookupResult::NotFound
        ));
        assert!(matches!(lookup("support").await, LookupResult::Ambiguous));
        assert_eq!(found(lookup("alice@example.com").await), alice);
        assert_eq!(found(lookup("Alice@Example.com").await), alice);
        assert!(matches!(lookup("alice").await, LookupResult::NotFound));
        assert_eq!(found(lookup("bob").await), bob);
        assert_eq!(found(lookup("bob@192.0.2.7").await), bob);
        assert!(matches!(lookup("bob@2.7").await, LookupResult::NotFound));
        assert_eq!(found(lookup("carol").await), carol);

        // Past the window no recent job has the login: a bare login finds nothing, the
        // address still does.
        clock.advance(BARE_LOGIN_RECENT_MS + 1);
        assert!(matches!(lookup("bob").await, LookupResult::NotFound));
        assert_eq!(found(lookup("support@ovh.net").await), ovh);

        // The candidates are read through the index, not by scanning the table.
        let plan: Vec<String> = store
            .with_conn(|c| {
                let mut stmt = c.prepare(
                    "EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE lower(source_login) = 'x' \
                     AND created_at >= 0 ORDER BY created_at DESC, rowid DESC LIMIT 200",
                )?;
                let rows = stmt.query_map([], |r| r.get::<_, String>(3))?;
                rows.collect()
            })
            .unwrap();
        assert!(plan.iter().any(|p| p.contains("jobs_by_login")), "{plan:?}");
    }

    #[test]
    fn one_active_job_per_source_account() {
        let (_dir, store, _clock) = store();
        let id = store.insert(new_job("user@example.test")).unwrap();
        // Same account, other case: refused with the original wording.
        let err = store.insert(new_job("USER@example.test")).unwrap_err();
        assert!(matches!(err, InsertError::TaskExists));
        assert_eq!(err.to_string(), "A task for sync this account exists.");
        // Another port of the same server is the same mailbox.
        let mut other = new_job("user@example.test");
        other.source.port = 143;
        assert!(matches!(store.insert(other), Err(InsertError::TaskExists)));
        // Another login at that server is another mailbox.
        store.insert(new_job("other@example.test")).unwrap();
        // Still refused while running; allowed again once final.
        let claimed = store.claim("node-a", 60_000).unwrap().unwrap();
        assert_eq!(claimed.id, id);
        assert!(matches!(
            store.insert(new_job("user@example.test")),
            Err(InsertError::TaskExists)
        ));
        store.complete(&id, "node-a", "complete", "{}").unwrap();
        let again = store.insert(new_job("user@example.test")).unwrap();
        assert_eq!(
            store
                .latest_for_address("User@Example.test")
                .unwrap()
                .unwrap()
                .id,
            again
        );
    }

    /// `login` at `host`, which resolved to `ips`.
    fn job_at(login: &str, host: &str, port: u16, ips: &[&str]) -> NewJob {
        let mut job = new_job(login);
        job.source = account(login, host, port);
        job.resolved.source = ips.iter().map(|ip| ip.parse().unwrap()).collect();
        job
    }

    #[test]
    fn any_name_or_port_of_one_server_is_one_mailbox() {
        let (_dir, store, _clock) = store();
        store
            .insert(job_at("erin", "localhost", 993, &["127.0.0.1", "::1"]))
            .unwrap();
        for alias in [
            job_at("Erin", "127.0.0.1", 143, &[]),
            job_at("erin", "LOCALHOST.", 143, &[]),
            job_at("erin", "mail.alias.test", 993, &["::1"]),
            job_at("erin", "[::ffff:127.0.0.1]", 993, &[]),
        ] {
            let host = alias.source.host.clone();
            assert!(
                matches!(store.insert(alias), Err(InsertError::TaskExists)),
                "{host}"
            );
        }
        store
            .insert(job_at("erin", "mail.elsewhere.test", 993, &["192.0.2.7"]))
            .unwrap();
        assert_eq!(store.list(10).unwrap().len(), 2);
    }

    #[test]
    fn concurrent_inserts_of_one_mailbox_under_aliases_make_one_job() {
        let (_dir, store, _clock) = store();
        let store = Arc::new(store);
        let hosts = [
            ("localhost", 993),
            ("127.0.0.1", 993),
            ("localhost", 143),
            ("127.0.0.1", 143),
        ];
        let outcomes: Vec<bool> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..16)
                .map(|i| {
                    let store = store.clone();
                    let (host, port) = hosts[i % hosts.len()];
                    scope.spawn(move || {
                        store
                            .insert(job_at("erin", host, port, &["127.0.0.1"]))
                            .is_ok()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(outcomes.iter().filter(|ok| **ok).count(), 1, "{outcomes:?}");
        assert_eq!(store.list(20).unwrap().len(), 1);
    }

    #[test]
    fn jobs_into_one_destination_mailbox_run_one_after_another_in_queue_order() {
        let (_dir, store, clock) = store();
        let into = |login: &str, dest_host: &str, dest_ips: &[&str]| {
            let mut job = new_job(login);
            job.destination = account("merged@new.test", dest_host, 993);
            job.resolved.destination = dest_ips.iter().map(|ip| ip.parse().unwrap()).collect();
            job
        };
        let first = store
            .insert(into("a@old.test", "imap.new.test", &["192.0.2.10"]))
            .unwrap();
        clock.advance(1);
        // The same destination mailbox under another name (a shared address).
        let second = store
            .insert(into("b@old.test", "mail.new.test", &["192.0.2.10"]))
            .unwrap();
        clock.advance(1);
        let unrelated = store.insert(new_job("c@old.test")).unwrap();
        clock.advance(1);
        let third = store
            .insert(into("d@old.test", "Mail.New.Test.", &[]))
            .unwrap();

        assert_eq!(store.claim("n", 60_000).unwrap().unwrap().id, first);
        // The second waits for the first; the unrelated job goes ahead.
        assert_eq!(store.claim("n", 60_000).unwrap().unwrap().id, unrelated);
        assert!(store.claim("n", 60_000).unwrap().is_none());
        // A retry puts the first back in the queue: it stays ahead of the later ones.
        store.retry(&first, "n", 0, "connection", "cut").unwrap();
        assert_eq!(store.claim("n", 60_000).unwrap().unwrap().id, first);
        store.complete(&first, "n", "complete", "{}").unwrap();
        assert_eq!(store.claim("n", 60_000).unwrap().unwrap().id, second);
        assert!(store.claim("n", 60_000).unwrap().is_none(), "third waits");
        store.complete(&second, "n", "complete", "{}").unwrap();
        assert_eq!(store.claim("n", 60_000).unwrap().unwrap().id, third);
    }

    #[test]
    fn a_job_keeps_its_first_start_and_lists_each_attempt_with_how_it_ended() {
        let (_dir, store, clock) = store();
        let id = store.insert(new_job("a@example.test")).unwrap();
        clock.advance(1_000);
        let first_start = clock.now_ms();
        store.claim("node-a", 60_000).unwrap().unwrap();
        clock.advance(2_000);
        assert!(store.heartbeat(&id, "node-a", 60_000, None).unwrap());
        let last_heartbeat = clock.now_ms();
        // The process dies; the next one takes the job back a minute later.
        clock.advance(60_000);
        assert_eq!(store.take_back_all_running().unwrap(), 1);
        store.claim("node-b", 60_000).unwrap().unwrap();
        clock.advance(1_000);
        store
            .retry(
                &id,
                "node-b",
                clock.now_ms(),
                "incomplete",
                "connection lost",
            )
            .unwrap();
        let third_start = clock.now_ms();
        store.claim("node-b", 60_000).unwrap().unwrap();
        clock.advance(5_000);
        store.complete(&id, "node-b", "complete", "{}").unwrap();
        let job = store.get(&id).unwrap().unwrap();
        assert_eq!(job.started_at, Some(first_start), "the job's own start");
        assert_eq!(job.finished_at, Some(clock.now_ms()));
        let attempts = store.attempts(&id).unwrap();
        let summary: Vec<_> = attempts
            .iter()
            .map(|a| {
                (
                    a.number,
                    a.started_at,
                    a.ended_at,
                    a.end,
                    a.error.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    1,
                    first_start,
                    Some(last_heartbeat),
                    Some(AttemptEnd::Lost),
                    None
                ),
                (
                    2,
                    last_heartbeat + 60_000,
                    Some(third_start),
                    Some(AttemptEnd::Retried),
                    Some("connection lost")
                ),
                (
                    3,
                    third_start,
                    job.finished_at,
                    Some(AttemptEnd::Finished),
                    None
                ),
            ]
        );
        // A graceful stop and a daily-limit pause have their own words.
        let other = store.insert(new_job("b@example.test")).unwrap();
        store.claim("node-c", 60_000).unwrap().unwrap();
        store.release(&other, "node-c").unwrap();
        store.claim("node-c", 60_000).unwrap().unwrap();
        store
            .pause_for_limit(&other, "node-c", clock.now_ms() + 1, "daily limit")
            .unwrap();
        let ends: Vec<_> = store
            .attempts(&other)
            .unwrap()
            .iter()
            .map(|a| a.end)
            .collect();
        assert_eq!(ends, [Some(AttemptEnd::Stopped), Some(AttemptEnd::Paused)]);
    }

    #[test]
    fn claim_lease_heartbeat_and_takeover() {
        let (_dir, store, clock) = store();
        let first = store.insert(new_job("a@example.test")).unwrap();
        clock.advance(1);
        let second = store.insert(new_job("b@example.test")).unwrap();
        let job = store.claim("node-a", 10_000).unwrap().unwrap();
        assert_eq!(
            (job.id.as_str(), job.state, job.attempts),
            (first.as_str(), JobState::Running, 1)
        );
        assert_eq!(store.claim("node-b", 10_000).unwrap().unwrap().id, second);
        assert!(store.claim("node-b", 10_000).unwrap().is_none());

        // Heartbeats renew the lease and store progress; others cannot heartbeat our job.
        clock.advance(5_000);
        assert!(store
            .heartbeat(&first, "node-a", 10_000, Some("{\"messages_done\":3}"))
            .unwrap());
        assert!(!store.heartbeat(&first, "node-b", 10_000, None).unwrap());
        clock.advance(9_000);
        assert_eq!(
            store.requeue_expired().unwrap(),
            1,
            "only the second job's lease ran out"
        );
        assert_eq!(store.get(&second).unwrap().unwrap().state, JobState::Queued);
        // The old owner lost it: its heartbeat and completion are refused.
        assert!(!store.heartbeat(&second, "node-b", 10_000, None).unwrap());
        assert_eq!(
            store.complete(&second, "node-b", "complete", "{}").unwrap(),
            None
        );
        let again = store.claim("node-c", 10_000).unwrap().unwrap();
        assert_eq!((again.id.as_str(), again.attempts), (second.as_str(), 2));

        // Start-up takeover: everything running goes back to the queue at once.
        assert_eq!(store.take_back_all_running().unwrap(), 2);
        assert!(store
            .list(10)
            .unwrap()
            .iter()
            .all(|j| j.state == JobState::Queued));
        assert_eq!(
            store.get(&first).unwrap().unwrap().progress.as_deref(),
            Some("{\"messages_done\":3}")
        );
    }

    #[test]
    fn retry_backoff_fail_cancel() {
        let (_dir, store, clock) = store();
        let id = store.insert(new_job("a@example.test")).unwrap();
        store.claim("n", 10_000).unwrap().unwrap();
        let now = store.now_ms();
        assert_eq!(
            store
                .retry(&id, "n", now + 5_000, "timed_out", "timed out")
                .unwrap(),
            Some(JobState::Queued)
        );
        assert!(
            store.claim("n", 10_000).unwrap().is_none(),
            "not before the back-off"
        );
        clock.advance(5_000);
        store.claim("n", 10_000).unwrap().unwrap();
        assert_eq!(
            store
                .fail(&id, "n", "auth_failed", "authentication failed", None)
                .unwrap(),
            Some(JobState::Failed)
        );
        let job = store.get(&id).unwrap().unwrap();
        assert_eq!(job.last_error.as_deref(), Some("authentication failed"));
        assert!(job.finished_at.is_some());
        // Final jobs take no more events.
        assert_eq!(store.complete(&id, "n", "complete", "{}").unwrap(), None);

        let queued = store.insert(new_job("b@example.test")).unwrap();
        assert_eq!(store.cancel(&queued).unwrap(), Some(JobState::Cancelled));
        let running = store.insert(new_job("c@example.test")).unwrap();
        store.claim("n", 10_000).unwrap().unwrap();
        assert_eq!(store.cancel(&running).unwrap(), Some(JobState::Running));
        assert!(store.cancel_requested(&running).unwrap());
        assert_eq!(
            store.cancelled(&running, "n", None).unwrap(),
            Some(JobState::Cancelled)
        );
    }

    #[test]
    fn secrets_are_sealed_opened_and_wiped() {
        let (dir, store, _clock) = store();
        let id = store.insert(new_job("a@example.test")).unwrap();
        let secrets = store.secrets(&id).unwrap().unwrap();
        assert_eq!(password(&secrets.source), "src-pass");
        assert_eq!(password(&secrets.destination), "dst-pass");
        assert!(
            !store.wipe_secrets(&id).unwrap(),
            "an active job keeps its secrets"
        );
        store.claim("n", 10_000).unwrap();
        store.complete(&id, "n", "complete", "{}").unwrap();
        assert_eq!(store.final_jobs_with_secrets().unwrap(), vec![id.clone()]);
        assert!(store.wipe_secrets(&id).unwrap());
        assert!(store.secrets(&id).unwrap().is_none());
        assert!(!store.get(&id).unwrap().unwrap().has_secrets);
        store.checkpoint_wal().unwrap();
        for file in ["imapcopy.sqlite3", "imapcopy.sqlite3-wal"] {
            let path = dir.path().join(file);
            if let Ok(bytes) = std::fs::read(&path) {
                assert!(
                    !bytes
                        .windows(8)
                        .any(|w| w == b"src-pass" || w == b"dst-pass"),
                    "{file} holds a password"
                );
            }
        }
    }

    #[test]
    fn grants_are_sealed_refreshed_in_place_and_wiped() {
        let (dir, store, _clock) = store();
        let mut job = new_job("a@example.test");
        job.source_secret = grant("at-first", "rt-first");
        let id = store.insert(job).unwrap();
        let row = store.get(&id).unwrap().unwrap();
        assert_eq!(
            (row.source_provider, row.destination_provider),
            (Some(ProviderId::Google), None)
        );
        let secrets = store.secrets(&id).unwrap().unwrap();
        assert_eq!(
            grant_of(&secrets.source),
            ("at-first".into(), Some("rt-first".into()))
        );
        assert_eq!(password(&secrets.destination), "dst-pass");

        // A refresh's tokens replace the side's grant; the provider stays.
        store
            .store_tokens(&id, Side::Source, &tokens("at-second", Some("rt-second")))
            .unwrap();
        let secrets = store.secrets(&id).unwrap().unwrap();
        assert_eq!(
            grant_of(&secrets.source),
            ("at-second".into(), Some("rt-second".into()))
        );
        assert_eq!(secrets.source.provider(), Some(&ProviderId::Google));
        // A password side takes no tokens.
        assert!(store
            .store_tokens(&id, Side::Destination, &tokens("x", None))
            .is_err());
        assert_eq!(
            password(&store.secrets(&id).unwrap().unwrap().destination),
            "dst-pass"
        );

        store.claim("n", 10_000).unwrap().unwrap();
        store.complete(&id, "n", "complete", "{}").unwrap();
        assert!(store.wipe_secrets(&id).unwrap());
        assert!(store.secrets(&id).unwrap().is_none());
        assert!(
            store
                .store_tokens(&id, Side::Source, &tokens("late", None))
                .is_err(),
            "a wiped grant is not written again"
        );
        store.checkpoint_wal().unwrap();
        for file in ["imapcopy.sqlite3", "imapcopy.sqlite3-wal"] {
            if let Ok(bytes) = std::fs::read(dir.path().join(file)) {
                for needle in [&b"rt-first"[..], b"rt-second", b"at-second"] {
                    assert!(
                        !bytes.windows(needle.len()).any(|w| w == needle),
                        "{file} holds a token"
                    );
                }
            }
        }
    }

    #[test]
    fn waiting_for_sign_in_keeps_the_account_and_resumes_once_every_side_signed_in() {
        let (_dir, store, clock) = store();
        let mut job = new_job("a@example.test");
        job.source_secret = grant("at-1", "rt-1");
        job.destination_secret = grant("at-2", "rt-2");
        let id = store.insert(job).unwrap();
        store.claim("n", 10_000).unwrap().unwrap();
        // Only the lease owner can make it wait.
        assert_eq!(
            store
                .need_sign_in(&id, "other", &[Side::Source], "gone", None)
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .need_sign_in(
                    &id,
                    "n",
                    &[Side::Source, Side::Destination],
                    "the sign-in is no longer valid",
                    Some("{\"folders\":[]}"),
                )
                .unwrap(),
            Some(JobState::WaitingForSignIn)
        );
        let waiting = store.get(&id).unwrap().unwrap();
        assert_eq!(waiting.sign_in_sides, vec![Side::Source, Side::Destination]);
        assert_eq!(waiting.sign_in_since, Some(store.now_ms()));
        assert_eq!(waiting.error_kind.as_deref(), Some("sign_in_needed"));
        assert!(waiting.has_secrets && waiting.finished_at.is_none());
        // Not claimable, the account still taken, the credentials kept.
        assert!(store.claim("n", 10_000).unwrap().is_none());
        assert!(matches!(
            store.insert(new_job("a@example.test")),
            Err(InsertError::TaskExists)
        ));
        assert!(!store.wipe_secrets(&id).unwrap());

        let fresh = |a: &str, r: &str| OAuthGrant {
            provider: ProviderId::Google,
            tokens: tokens(a, Some(r)),
        };
        clock.advance(1_000);
        assert_eq!(
            store
                .resume_after_sign_in(&id, Side::Destination, fresh("at-2b", "rt-2b"))
                .unwrap(),
            Some(JobState::WaitingForSignIn),
            "the source still waits"
        );
        assert_eq!(
            store.get(&id).unwrap().unwrap().sign_in_sides,
            vec![Side::Source]
        );
        assert_eq!(
            store
                .resume_after_sign_in(&id, Side::Source, fresh("at-1b", "rt-1b"))
                .unwrap(),
            Some(JobState::Queued)
        );
        let queued = store.get(&id).unwrap().unwrap();
        assert!(queued.sign_in_sides.is_empty() && queued.sign_in_since.is_none());
        let secrets = store.secrets(&id).unwrap().unwrap();
        assert_eq!(grant_of(&secrets.source).0, "at-1b");
        assert_eq!(grant_of(&secrets.destination).0, "at-2b");
        // Only a waiting job takes a sign-in.
        assert_eq!(
            store
                .resume_after_sign_in(&id, Side::Source, fresh("x", "y"))
                .unwrap(),
            None
        );
        assert_eq!(
            grant_of(&store.secrets(&id).unwrap().unwrap().source).0,
            "at-1b"
        );
        let again = store.claim("n", 10_000).unwrap().unwrap();
        assert_eq!((again.id.as_str(), again.attempts), (id.as_str(), 2));
    }

    #[test]
    fn a_wait_past_the_bound_fails_with_the_cause_and_a_waiting_job_can_be_cancelled() {
        let (_dir, store, clock) = store();
        let mut job = new_job("a@example.test");
        job.source_secret = grant("at", "rt");
        let id = store.insert(job).unwrap();
        store.claim("n", 10_000).unwrap().unwrap();
        store
            .need_sign_in(&id, "n", &[Side::Source], "the grant was revoked", None)
            .unwrap();
        let since = store.now_ms();
        clock.advance(10_000);
        // Waiting since later than `since`: nothing to fail yet.
        assert!(store
            .fail_sign_in_waits(since - 1, "nobody signed in again within 3 days")
            .unwrap()
            .is_empty());
        assert_eq!(
            store
                .fail_sign_in_waits(since, "nobody signed in again within 3 days")
                .unwrap(),
            vec![id.clone()]
        );
        let failed = store.get(&id).unwrap().unwrap();
        assert_eq!(failed.state, JobState::Failed);
        assert_eq!(
            failed.last_error.as_deref(),
            Some("nobody signed in again within 3 days: the grant was revoked")
        );
        assert_eq!(failed.error_kind.as_deref(), Some("sign_in_timeout"));
        assert!(failed.finished_at.is_some());
        assert_eq!(store.final_jobs_with_secrets().unwrap(), vec![id.clone()]);

        let mut other = new_job("b@example.test");
        other.source_secret = grant("at", "rt");
        let other = store.insert(other).unwrap();
        store.claim("n", 10_000).unwrap().unwrap();
        store
            .need_sign_in(&other, "n", &[Side::Source], "gone", None)
            .unwrap();
        assert_eq!(store.cancel(&other).unwrap(), Some(JobState::Cancelled));
    }

    #[test]
    fn jobs_queued_before_mailbox_keys_keep_their_mailboxes_taken() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = crate::db::open_at_version(dir.path(), 5).unwrap();
            // Before version 6 one mailbox could be queued twice through two ports.
            for (id, port, state, created) in [
                ("p993", 993, "queued", 1),
                ("p143", 143, "running", 2),
                ("done", 993, "finished", 0),
            ] {
                conn.execute(
                    "INSERT INTO jobs (id, source_address, account_key, state, lang, source_host, source_port, \
                     source_security, source_login, dest_host, dest_port, dest_security, dest_login, created_at) \
                     VALUES (?1, 'a@x.test', ?2, ?3, 'en', 'Mail.X.test.', ?4, 'tls', 'A@x.test', 'd', 993, 'tls', 'b@x.test', ?5)",
                    params![id, format!("a@x.test|mail.x.test|{port}|{id}"), state, port, created],
                )
                .unwrap();
            }
        }
        let store = Store::new(
            crate::db::open(dir.path()).unwrap(),
            Sealer::ephemeral(),
            Arc::new(SystemClock),
        );
        assert!(matches!(
            store.insert(NewJob {
                source: account("a@x.test", "mail.x.test", 587),
                ..new_job("x")
            }),
            Err(InsertError::TaskExists)
        ));
        // Into `b@x.test` the running job goes on alone: the older queued one and a new one
        // wait for it.
        let mut later = new_job("z@y.test");
        later.destination = account("B@x.test", "d", 143);
        let later = store.insert(later).unwrap();
        assert!(store.claim("n", 1_000).unwrap().is_none(), "{later} waits");
        // Back in the queue (a restart), the oldest goes first.
        assert_eq!(store.take_back_all_running().unwrap(), 1);
        assert!(store
            .claim("n", 1_000)
            .unwrap()
            .is_some_and(|j| j.id == "p993"));
        assert!(store.claim("n", 1_000).unwrap().is_none());
    }

    #[test]
    fn a_version_2_database_migrates_with_its_jobs_passwords_and_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let sealer_key = dir.path().join("secret.key");
        {
            let conn = crate::db::open_at_version(dir.path(), 2).unwrap();
            let sealer = Sealer::from_key_file(&sealer_key).unwrap();
            let sealed =
                |side: Side, pw: &str| sealer.seal(&sealed::aad("old", side), pw.as_bytes());
            conn.execute(
                "INSERT INTO jobs (id, source_address, account_key, state, lang, source_host, source_port, \
                 source_security, source_login, source_secret, dest_host, dest_port, dest_security, dest_login, \
                 dest_secret, created_at) VALUES ('old', 'a@x.test', 'a@x.test|h|993', 'queued', 'en', 'h', 993, \
                 'tls', 'a@x.test', ?1, 'd', 993, 'tls', 'b@x.test', ?2, 1)",
                params![sealed(Side::Source, "old-src"), sealed(Side::Destination, "old-dst")],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO checkpoints (job_id, folder, uidvalidity, data) VALUES ('old', 'INBOX', 7, '{}')",
                [],
            )
            .unwrap();
        }
        let store = Store::new(
            crate::db::open(dir.path()).unwrap(),
            Sealer::from_key_file(&sealer_key).unwrap(),
            Arc::new(SystemClock),
        );
        let job = store.get("old").unwrap().unwrap();
        assert_eq!(job.state, JobState::Queued);
        assert_eq!(job.source_provider, None);
        let secrets = store.secrets("old").unwrap().unwrap();
        assert_eq!(password(&secrets.source), "old-src");
        assert_eq!(password(&secrets.destination), "old-dst");
        let kept: i64 = store
            .with_conn(|c| {
                c.query_row(
                    "SELECT count(*) FROM checkpoints WHERE job_id = 'old'",
                    [],
                    |r| r.get(0),
                )
            })
            .unwrap();
        assert_eq!(kept, 1);
        // The new state is allowed and keeps the account taken.
        assert!(matches!(
            store.insert(NewJob {
                source: account("a@x.test", "h", 993),
                ..new_job("x")
            }),
            Err(InsertError::TaskExists)
        ));
    }
}
