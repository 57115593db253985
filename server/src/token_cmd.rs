//! `imapcopy copy --from-oauth2-token-cmd CMD`: OAuth2 access tokens from an operator's
//! command, like mbsync's `PassCmd`. The command runs through `sh -c` (so it may be a
//! pipeline, e.g. `oama access alice@example.com`); the first line of its standard output is
//! the token. It runs once for the first login, and again when a server refuses the token it
//! gave. The token never travels in argv (the command prints it) and never reaches a log:
//! errors name the exit status, not the output.

use std::process::Stdio;
use std::time::Duration;

use mailcopy::{TokenSource, TokenUnavailable};
use secrecy::{ExposeSecret, SecretString};
use tokio::io::AsyncReadExt;
use zeroize::Zeroizing;

/// How long the command may take (it may ask a provider for a new token).
pub const TOKEN_CMD_TIMEOUT: Duration = Duration::from_secs(60);
/// Output read at most: a token is a few kilobytes.
const MAX_OUTPUT: u64 = 64 * 1024;

/// A token source running an operator's command.
pub struct TokenCommand {
    command: String,
    timeout: Duration,
    current: tokio::sync::Mutex<Option<SecretString>>,
}

impl std::fmt::Debug for TokenCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCommand")
            .field("command", &self.command)
            .finish_non_exhaustive()
    }
}

impl TokenCommand {
    pub fn new(command: impl Into<String>) -> TokenCommand {
        TokenCommand {
            command: command.into(),
            timeout: TOKEN_CMD_TIMEOUT,
            current: tokio::sync::Mutex::new(None),
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> TokenCommand {
        self.timeout = timeout;
        self
    }

    /// Runs the command; its first line of output, trimmed.
    async fn run(&self) -> Result<SecretString, TokenUnavailable> {
        let failed = |detail: String| TokenUnavailable::Temporary {
            detail: format!("the token command {detail}"),
        };
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| failed(format!("could not be started: {e}")))?;
        let mut output = Zeroizing::new(Vec::new());
        let status = tokio::time::timeout(self.timeout, async {
            if let Some(stdout) = child.stdout.take() {
                stdout
                    .take(MAX_OUTPUT)
                    .read_to_end(&mut output)
                    .await
                    .map_err(|e| failed(format!("output could not be read: {e}")))?;
            }
            child
                .wait()
                .await
                .map_err(|e| failed(format!("could not be waited for: {e}")))
        })
        .await
        .map_err(|_| failed(format!("did not end within {:?}", self.timeout)))??;
        if !status.success() {
            return Err(failed(format!("failed ({status})")));
        }
        let text = std::str::from_utf8(&output).map_err(|_| failed("printed no text".into()))?;
        let token = text.lines().next().unwrap_or_default().trim();
        if token.is_empty() {
            return Err(failed("printed no token".into()));
        }
        Ok(SecretString::from(token.to_string()))
    }
}

#[async_trait::async_trait]
impl TokenSource for TokenCommand {
    async fn access_token(
        &self,
        refused: Option<&SecretString>,
    ) -> Result<SecretString, TokenUnavailable> {
        // One run at a time: every connection of the copy waits for the same new token.
        let mut current = self.current.lock().await;
        if let Some(token) = current.as_ref() {
            let was_refused = refused.is_some_and(|r| r.expose_secret() == token.expose_secret());
            if !was_refused {
                return Ok(token.clone());
            }
        }
        let token = self.run().await?;
        if refused.is_some_and(|r| r.expose_secret() == token.expose_secret()) {
            return Err(TokenUnavailable::SignInNeeded {
                detail: "the token command printed the token the server had just refused"
                    .to_string(),
            });
        }
        *current = Some(token.clone());
        Ok(token)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A command printing `token-N`, N counting its runs (in a file of `dir`).
    fn counting(dir: &std::path::Path) -> TokenCommand {
        let counter = dir.join("runs");
        TokenCommand::new(format!(
            "n=$(cat '{0}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '{0}'; echo \"token-$n\"; echo second line",
            counter.display()
        ))
    }

    #[tokio::test]
    async fn runs_once_then_again_only_for_the_refused_token() {
        let dir = tempfile::tempdir().unwrap();
        let source = counting(dir.path());
        let t1 = source.access_token(None).await.unwrap();
        assert_eq!(t1.expose_secret(), "token-1");
        assert_eq!(
            source.access_token(None).await.unwrap().expose_secret(),
            "token-1"
        );
        let t2 = source.access_token(Some(&t1)).await.unwrap();
        assert_eq!(t2.expose_secret(), "token-2");
        // Another connection refused token-1 too, late: it gets token-2, no new run.
        let late = source.access_token(Some(&t1)).await.unwrap();
        assert_eq!(late.expose_secret(), "token-2");
        let runs = std::fs::read_to_string(dir.path().join("runs")).unwrap();
        assert_eq!(runs.trim(), "2");
        assert!(!format!("{source:?}").contains("token-2"));
    }

    #[tokio::test]
    async fn failures_are_typed_and_never_show_the_output() {
        let fails = TokenCommand::new("echo secret-output; exit 3");
        let err = fails.access_token(None).await.unwrap_err();
        assert!(matches!(err, TokenUnavailable::Temporary { .. }), "{err:?}");
        assert!(err.to_string().contains("exit status: 3"), "{err}");
        assert!(!err.to_string().contains("secret-output"), "{err}");
        let empty = TokenCommand::new("true");
        assert!(empty
            .access_token(None)
            .await
            .unwrap_err()
            .to_string()
            .contains("printed no token"));
        let slow = TokenCommand::new("sleep 5").with_timeout(Duration::from_millis(100));
        assert!(slow
            .access_token(None)
            .await
            .unwrap_err()
            .to_string()
            .contains("did not end within"));
        // The same token again after a refusal: nothing to retry with.
        let same = TokenCommand::new("echo always-the-same");
        let t = same.access_token(None).await.unwrap();
        let err = same.access_token(Some(&t)).await.unwrap_err();
        assert!(
            matches!(err, TokenUnavailable::SignInNeeded { .. }),
            "{err:?}"
        );
    }
}
