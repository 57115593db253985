//! Logging in over the engine's connection: AUTHENTICATE with a SASL mechanism (PLAIN for a
//! password; OAUTHBEARER or XOAUTH2 for an OAuth2 access token, see `oauth2.rs`), or LOGIN
//! where the server offers no AUTH=PLAIN.

use secrecy::ExposeSecret;

use super::conn::{CmdError, Connection};
use super::oauth2::{refusal_text, ErrorChallenge, Mechanism};
use crate::connect::{has_cap, Credentials, Endpoint, Secret};
use crate::error::{truncate, ConnectError};

/// Logs in with the credentials' secret: a password or an OAuth2 access token.
pub(crate) async fn authenticate(
    conn: &mut Connection,
    caps: &[String],
    creds: &Credentials,
    endpoint: &Endpoint,
) -> Result<(), ConnectError> {
    match &creds.secret {
        Secret::Password(p) => password_login(conn, caps, &creds.login, p.expose_secret()).await,
        Secret::AccessToken(t) => {
            token_login(conn, caps, &creds.login, t.expose_secret(), endpoint).await
        }
        // `connect` asks the source for a token before it gets here.
        Secret::Tokens(_) => Err(ConnectError::InvalidInput {
            detail: "no access token was taken from the token source".to_string(),
        }),
    }
}

/// AUTHENTICATE PLAIN when offered (any byte of a UTF-8 password goes through base64),
/// otherwise LOGIN (quoted strings; refused if the server says LOGINDISABLED).
async fn password_login(
    conn: &mut Connection,
    caps: &[String],
    login: &str,
    password: &str,
) -> Result<(), ConnectError> {
    let result = if has_cap(caps, "AUTH=PLAIN") {
        let response = plain_response(login, password);
        let exchange = Sasl {
            mechanism: "PLAIN",
            response: &response,
            // RFC 4959: one round trip instead of two where the server offers it.
            inline: has_cap(caps, "SASL-IR"),
            error_ack: b"",
        };
        let mut challenges = Vec::new();
        exchange.run(conn, &mut challenges).await
    } else if has_cap(caps, "LOGINDISABLED") {
        return Err(ConnectError::LoginDisabled);
    } else {
        login_command(conn, login, password).await
    };
    result.map_err(|e| auth_error(e).redact(password))
}

/// AUTHENTICATE OAUTHBEARER where offered, else XOAUTH2; the initial response on the command
/// line where the server offers SASL-IR (RFC 4959). A NO is [`ConnectError::TokenRefused`],
/// with what the server's error challenge said.
async fn token_login(
    conn: &mut Connection,
    caps: &[String],
    login: &str,
    token: &str,
    endpoint: &Endpoint,
) -> Result<(), ConnectError> {
    let Some(mechanism) = Mechanism::choose(caps) else {
        return Err(ConnectError::OAuth2NotOffered);
    };
    let response = mechanism.initial_response(login, token, endpoint.host.trim(), endpoint.port);
    let exchange = Sasl {
        mechanism: mechanism.name(),
        response: &response,
        inline: has_cap(caps, "SASL-IR"),
        error_ack: mechanism.error_ack(),
    };
    let mut challenges = Vec::new();
    let result = exchange.run(conn, &mut challenges).await;
    let challenge = challenges
        .iter()
        .rev()
        .find_map(|c| ErrorChallenge::decode(c));
    result.map_err(|e| {
        match auth_error(e) {
            ConnectError::AuthFailed { server_text } => ConnectError::TokenRefused {
                server_text: refusal_text(&server_text, challenge.as_ref()),
            },
            other => other,
        }
        // A server that echoes the command line must not get the token (nor its base64 form)
        // into logs or the UI.
        .redact(token)
        .redact(&base64(&response))
    })
}

/// SASL PLAIN: authorization identity empty, then login and password, NUL-separated.
fn plain_response(login: &str, password: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(login.len() + password.len() + 2);
    v.push(0);
    v.extend_from_slice(login.as_bytes());
    v.push(0);
    v.extend_from_slice(password.as_bytes());
    v
}

/// One SASL exchange of a single client message.
struct Sasl<'a> {
    mechanism: &'static str,
    /// The client's message, before base64.
    response: &'a [u8],
    /// Send `response` on the command line (SASL-IR) instead of after the server's "+".
    inline: bool,
    /// The answer to an error challenge, before base64 (empty: an empty line).
    error_ack: &'a [u8],
}

impl Sasl<'_> {
    /// `AUTHENTICATE <mechanism> [<initial response>]`, the response after the server's "+"
    /// unless it was sent inline. A further challenge is an error report (XOAUTH2 and
    /// OAUTHBEARER send a base64 JSON, collected in `challenges`): it is answered with
    /// `error_ack`, after which the server sends its tagged NO.
    async fn run(
        &self,
        conn: &mut Connection,
        challenges: &mut Vec<String>,
    ) -> Result<(), CmdError> {
        const CMD: &str = "AUTHENTICATE";
        let encoded = base64(self.response);
        let tag = if self.inline {
            // RFC 4959: an empty initial response is sent as "=".
            let ir = if encoded.is_empty() {
                "="
            } else {
                encoded.as_str()
            };
            conn.send(&format!("AUTHENTICATE {} {ir}", self.mechanism))
                .await?
        } else {
            let tag = conn
                .send(&format!("AUTHENTICATE {}", self.mechanism))
                .await?;
            if conn.read_continuation(CMD, &tag).await?.is_none() {
                // OK without any exchange: nothing was asked, the server let us in.
                return Ok(());
            }
            let mut line = encoded.into_bytes();
            line.extend_from_slice(b"\r\n");
            conn.send_bytes(CMD, &line, true).await?;
            tag
        };
        let mut ack = base64(self.error_ack).into_bytes();
        ack.extend_from_slice(b"\r\n");
        while let Some(challenge) = conn.read_continuation(CMD, &tag).await? {
            challenges.push(challenge);
            if challenges.len() > 2 {
                return Err(CmdError::Broken(ConnectError::Protocol {
                    detail: "the server kept asking during AUTHENTICATE".to_string(),
                }));
            }
            conn.send_bytes(CMD, &ack, true).await?;
        }
        Ok(())
    }
}

/// `LOGIN "user" "password"` as quoted strings (UTF-8 sent as it is, `"` and `\` escaped).
async fn login_command(conn: &mut Connection, user: &str, password: &str) -> Result<(), CmdError> {
    let line = format!("LOGIN {} {}", quoted(user)?, quoted(password)?);
    conn.run("LOGIN", &line, |_| {}).await.map(|_| ())
}

fn quoted(s: &str) -> Result<String, CmdError> {
    super::parse::quote_utf8(s).ok_or_else(|| {
        CmdError::Broken(ConnectError::InvalidInput {
            detail: "the login name or password contains a line break".to_string(),
        })
    })
}

/// NO is a rejected login; BAD means the server did not accept the command itself.
fn auth_error(e: CmdError) -> ConnectError {
    match e {
        CmdError::Refused {
            bad: false, text, ..
        } => ConnectError::AuthFailed { server_text: text },
        CmdError::Refused {
            bad: true, text, ..
        } => ConnectError::Protocol {
            detail: truncate(format!(
                "the server did not accept the login command: {text}"
            )),
        },
        // The stage a person understands: the login as a whole.
        CmdError::Broken(ConnectError::TimedOut { .. }) => {
            ConnectError::TimedOut { stage: "login" }
        }
        CmdError::Broken(ConnectError::ClosedByServer { .. }) => {
            ConnectError::ClosedByServer { stage: "login" }
        }
        CmdError::Broken(e) => e,
    }
}

/// Standard base64 with padding (RFC 4648), as SASL over IMAP wants it.
pub(crate) fn base64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn plain_bytes() {
        assert_eq!(plain_response("u", "\"\\é§ x"), "\0u\0\"\\é§ x".as_bytes());
    }

    #[test]
    fn base64_vectors() {
        // RFC 4648 section 10.
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
        assert_eq!(base64(b"\0u\0p"), "AHUAcA==");
    }

    #[test]
    fn login_quoting() {
        assert_eq!(quoted("a\"b\\c é").unwrap(), "\"a\\\"b\\\\c é\"");
        assert!(quoted("a\r\nb").is_err());
    }

    #[test]
    fn auth_errors() {
        let e = auth_error(CmdError::Refused {
            command: "LOGIN",
            bad: false,
            text: "[AUTHENTICATIONFAILED] nope".into(),
        });
        assert_eq!(e.kind(), crate::ErrorKind::AuthFailed);
        let e = auth_error(CmdError::Refused {
            command: "LOGIN",
            bad: true,
            text: "syntax".into(),
        });
        assert_eq!(e.kind(), crate::ErrorKind::Protocol);
    }
}
