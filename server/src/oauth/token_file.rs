//! `imapcopy copy --from-oauth2-refresh-token-file FILE`: an operator's OAuth2 refresh token
//! in a file (first line). The copy's [`TokenKeeper`](super::TokenKeeper) refreshes with it
//! through the provider configured for the account's IMAP host, and writes a rotated refresh
//! token back to the file before using the new access token — atomically (a private temporary
//! file in the same directory, then a rename), so that a crash leaves the old token or the new
//! one, never half of one, and never a token the provider already retired.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::keeper::TokenHome;
use super::tokens::{Tokens, UnixMs};
use crate::jobs::store_trait::Side;

/// The file a side's refresh token lives in.
pub struct RefreshTokenFile {
    path: PathBuf,
    side: Side,
}

impl RefreshTokenFile {
    /// Reads the refresh token (first line, trimmed). The tokens returned hold no access token
    /// yet, and an expiry in the past: the first login refreshes.
    pub fn open(path: &Path, side: Side) -> anyhow::Result<(RefreshTokenFile, Tokens)> {
        let text = Zeroizing::new(
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        );
        let token = text.lines().next().unwrap_or_default().trim();
        if token.is_empty() {
            bail!("{}: no refresh token on its first line", path.display());
        }
        let tokens = Tokens {
            access_token: SecretString::from(String::new()),
            refresh_token: Some(SecretString::from(token.to_string())),
            expires_at: Some(UnixMs(0)),
            scope: None,
        };
        Ok((
            RefreshTokenFile {
                path: path.to_path_buf(),
                side,
            },
            tokens,
        ))
    }
}

/// Replaces `path`'s content with `line` and a newline: a 0600 temporary file beside it,
/// synced, then renamed over it.
fn replace_file(path: &Path, line: &str) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = (|| {
        let mut file = options.open(&temp)?;
        file.write_all(line.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

#[async_trait::async_trait]
impl TokenHome for RefreshTokenFile {
    async fn keep(&self, tokens: &Tokens) -> anyhow::Result<()> {
        let Some(refresh) = &tokens.refresh_token else {
            return Ok(());
        };
        let line = Zeroizing::new(refresh.expose_secret().to_string());
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || replace_file(&path, &line))
            .await
            .context("writing the refresh token file")?
            .with_context(|| format!("writing {}", self.path.display()))
    }

    fn side(&self) -> Side {
        self.side
    }

    fn label(&self) -> String {
        format!("{} ({})", self.path.display(), self.side.as_str())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_rotated_token_replaces_the_file_privately() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("refresh");
        std::fs::write(&path, "  first-token  \nignored\n").unwrap();
        let (home, tokens) = RefreshTokenFile::open(&path, Side::Source).unwrap();
        assert_eq!(
            tokens.refresh_token.as_ref().unwrap().expose_secret(),
            "first-token"
        );
        assert!(tokens.expires_at.is_some_and(|at| at < UnixMs::now()));
        let rotated = Tokens {
            refresh_token: Some(SecretString::from("second-token".to_string())),
            ..tokens
        };
        home.keep(&rotated).await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second-token\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        // Nothing else is left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(!home.label().contains("second-token"));
    }

    #[test]
    fn an_empty_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("refresh");
        std::fs::write(&path, "\n").unwrap();
        let error = RefreshTokenFile::open(&path, Side::Source).err().unwrap();
        assert!(error.to_string().contains("no refresh token"), "{error}");
        assert!(RefreshTokenFile::open(&dir.path().join("missing"), Side::Source).is_err());
    }
}
