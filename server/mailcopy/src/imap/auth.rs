//! Logging in over the engine's connection: AUTHENTICATE with a SASL mechanism (PLAIN today;
//! the exchange is generic, so XOAUTH2 and OAUTHBEARER are one initial response each), or
//! LOGIN where the server offers no AUTH=PLAIN.

use secrecy::ExposeSecret;

use super::conn::{CmdError, Connection};
use crate::connect::{has_cap, Credentials};
use crate::error::{truncate, ConnectError};

/// AUTHENTICATE PLAIN when offered (any byte of a UTF-8 password goes through base64),
/// otherwise LOGIN (quoted strings; refused if the server says LOGINDISABLED).
pub(crate) async fn authenticate(
    conn: &mut Connection,
    caps: &[String],
    creds: &Credentials,
) -> Result<(), ConnectError> {
    let password = creds.password.expose_secret();
    let result = if has_cap(caps, "AUTH=PLAIN") {
        sasl(conn, "PLAIN", &plain_response(&creds.login, password)).await
    } else if has_cap(caps, "LOGINDISABLED") {
        return Err(ConnectError::LoginDisabled);
    } else {
        login(conn, &creds.login, password).await
    };
    result.map_err(|e| auth_error(e).redact(password))
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

/// `AUTHENTICATE <mechanism>`, then the initial response after the server's "+". A second
/// challenge is an error report (XOAUTH2 sends a base64 JSON): it is answered with an empty
/// line, after which the server sends its tagged NO.
async fn sasl(conn: &mut Connection, mechanism: &str, response: &[u8]) -> Result<(), CmdError> {
    const CMD: &str = "AUTHENTICATE";
    let tag = conn.send(&format!("AUTHENTICATE {mechanism}")).await?;
    if conn.read_continuation(CMD, &tag).await?.is_none() {
        // OK without any exchange: nothing was asked, the server let us in.
        return Ok(());
    }
    let mut line = base64(response).into_bytes();
    line.extend_from_slice(b"\r\n");
    conn.send_bytes(CMD, &line, true).await?;
    let mut rounds = 0;
    while conn.read_continuation(CMD, &tag).await?.is_some() {
        rounds += 1;
        if rounds > 2 {
            return Err(CmdError::Broken(ConnectError::Protocol {
                detail: "the server kept asking during AUTHENTICATE".to_string(),
            }));
        }
        conn.send_bytes(CMD, b"\r\n", true).await?;
    }
    Ok(())
}

/// `LOGIN "user" "password"` as quoted strings (UTF-8 sent as it is, `"` and `\` escaped).
async fn login(conn: &mut Connection, user: &str, password: &str) -> Result<(), CmdError> {
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
