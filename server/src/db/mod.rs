//! SQLite storage. One connection writes (the single write path); migrations are numbered SQL
//! files embedded in the binary and applied at start.

use std::path::Path;

use anyhow::Context;
use rusqlite::Connection;
use rusqlite_migration::{Migrations, M};

const MIGRATIONS: &[M<'static>] = &[
    M::up(include_str!("../../migrations/0001_init.sql")),
    M::up(include_str!("../../migrations/0002_jobs.sql")),
    M::up(include_str!("../../migrations/0003_oauth2_grants.sql")),
    M::up(include_str!("../../migrations/0004_limit_pauses.sql")),
    M::up(include_str!("../../migrations/0005_jobs_by_login.sql")),
    M::up(include_str!("../../migrations/0006_mailbox_keys.sql")),
    M::up(include_str!("../../migrations/0007_job_attempts.sql")),
    M::up(include_str!("../../migrations/0008_volume_day.sql")),
    M::up(include_str!("../../migrations/0009_label_policy.sql")),
];

pub const DB_FILE: &str = "imapcopy.sqlite3";

/// Opens (creating if needed) the database in `data_dir` and brings its schema up to date.
/// The directory is created 0700 and the database 0600; SQLite gives its WAL and
/// shared-memory files the database file's mode.
pub fn open(data_dir: &Path) -> anyhow::Result<Connection> {
    crate::private_fs::create_private_dir(data_dir)
        .with_context(|| format!("creating data directory {}", data_dir.display()))?;
    let path = data_dir.join(DB_FILE);
    crate::private_fs::ensure_private_file(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    for suffix in ["-wal", "-shm"] {
        let companion = data_dir.join(format!("{DB_FILE}{suffix}"));
        crate::private_fs::narrow(&companion)
            .with_context(|| format!("restricting {}", companion.display()))?;
    }
    let mut conn =
        Connection::open(&path).with_context(|| format!("opening {}", path.display()))?;
    configure(&conn)?;
    migrate(&mut conn)?;
    Ok(conn)
}

fn configure(conn: &Connection) -> anyhow::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Deleted secrets are overwritten in the file, not just unlinked from the b-tree.
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(())
}

pub fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    Migrations::from_slice(MIGRATIONS)
        .to_latest(conn)
        .context("applying database migrations")
}

/// A database in `data_dir` at schema `version` (tests of later migrations start there).
#[cfg(test)]
pub(crate) fn open_at_version(data_dir: &Path, version: usize) -> anyhow::Result<Connection> {
    let mut conn = Connection::open(data_dir.join(DB_FILE))?;
    configure(&conn)?;
    Migrations::from_slice(MIGRATIONS)
        .to_version(&mut conn, version)
        .context("applying database migrations")?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid_and_apply() {
        assert!(Migrations::from_slice(MIGRATIONS).validate().is_ok());
        let dir = tempfile::tempdir().unwrap();
        let conn = open(dir.path()).unwrap();
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode.to_lowercase(), "wal");
        let n: i64 = conn
            .query_row("SELECT count(*) FROM meta", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        drop(conn);
        // Re-opening an up-to-date database is a no-op.
        open(dir.path()).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn the_data_directory_and_every_database_file_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        let conn = open(&data).unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
            .unwrap();
        assert_eq!(mode(&data), 0o700);
        for file in [DB_FILE, "imapcopy.sqlite3-wal", "imapcopy.sqlite3-shm"] {
            assert_eq!(mode(&data.join(file)), 0o600, "{file}");
        }
        drop(conn);
        // Files an earlier version left readable by everyone are narrowed (closing the last
        // connection removed the WAL: an empty one stands for a leftover).
        std::fs::write(data.join("imapcopy.sqlite3-wal"), b"").unwrap();
        for file in [DB_FILE, "imapcopy.sqlite3-wal"] {
            std::fs::set_permissions(data.join(file), std::fs::Permissions::from_mode(0o644))
                .unwrap();
        }
        let conn = open(&data).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        for file in [DB_FILE, "imapcopy.sqlite3-wal"] {
            assert_eq!(mode(&data.join(file)), 0o600, "{file}");
        }
    }
}
