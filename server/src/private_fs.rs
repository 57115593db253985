//! Files only the service's user may read: directories it creates are 0700, the database,
//! its WAL and shared-memory files and the key file 0600. The database holds sealed
//! passwords and every user's addresses; other local users have no business reading it.
//!
//! A file of ours found readable by others (made by an earlier version) is narrowed to 0600
//! with a warning. An existing directory is left as the operator made it (it may be shared,
//! or managed by systemd), with a warning when others may enter it.

use std::io;
use std::path::Path;

/// Creates `dir` and its missing parents with mode 0700 (no-op for what exists).
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        warn_if_open(dir, 0o077, "directory");
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Makes sure `file` exists (created empty) and is 0600.
pub fn ensure_private_file(file: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    drop(options.open(file)?);
    narrow(file)
}

/// Narrows an existing file readable or writable by others to 0600 (no-op when missing).
pub fn narrow(file: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = match std::fs::metadata(file) {
            Ok(meta) => meta.permissions().mode() & 0o777,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        if mode & 0o077 != 0 {
            tracing::warn!(
                file = %file.display(),
                mode = format!("{mode:o}"),
                "narrowing a data file readable by others to 0600"
            );
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

fn warn_if_open(path: &Path, bits: u32, what: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & bits != 0 {
                tracing::warn!(
                    path = %path.display(),
                    mode = format!("{mode:o}"),
                    "the data {what} is open to other users (chmod 700 it)"
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (path, bits, what);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn created_private_and_narrowed_when_found_open() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&root.path().join("a")), 0o700, "parents too");
        let file = dir.join("f");
        ensure_private_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(&file, b"kept").unwrap();
        ensure_private_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(
            std::fs::read(&file).unwrap(),
            b"kept",
            "an existing file is not truncated"
        );
        narrow(&dir.join("missing")).unwrap();
    }
}
