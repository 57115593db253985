//! Scripted in-process IMAP servers on 127.0.0.1: exact wire behaviour of `connect` and the
//! session commands, without Dovecot.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::sync::Arc;
use std::time::{Duration, Instant};

use mailcopy::net::{AddressPolicy, StaticResolver};
use mailcopy::{ConnectError, ConnectOptions, Credentials, Endpoint, ErrorKind, Security};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const WEIRD_PASSWORD: &str = "\"\\é§ x";

#[derive(Clone)]
enum Step {
    /// Write these bytes.
    Send(&'static str),
    /// Read one line, check it contains `expect` (case-insensitive), answer `reply` with
    /// `{tag}` replaced by the line's tag (or the last tag for untagged lines).
    Recv {
        expect: &'static str,
        reply: &'static str,
    },
    /// Keep the connection open without a word.
    Hang,
}

use Step::{Hang, Recv, Send};

/// Starts a one-connection server playing `script`; the handle yields the lines received.
async fn serve(script: Vec<Step>) -> (u16, JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        let (r, mut w) = sock.into_split();
        let mut r = BufReader::new(r);
        let mut lines = Vec::new();
        let mut tag = String::from("*");
        for step in script {
            match step {
                Send(s) => {
                    if w.write_all(s.as_bytes()).await.is_err() {
                        break;
                    }
                }
                Recv { expect, reply } => {
                    let mut line = String::new();
                    match r.read_line(&mut line).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                    assert!(
                        line.to_ascii_lowercase()
                            .contains(&expect.to_ascii_lowercase()),
                        "expected {expect:?}, got {line:?}"
                    );
                    if let Some((t, _)) = line.split_once(' ') {
                        tag = t.to_string();
                    }
                    lines.push(line.trim_end().to_string());
                    let reply = reply.replace("{tag}", &tag);
                    if w.write_all(reply.as_bytes()).await.is_err() {
                        break;
                    }
                }
                Hang => tokio::time::sleep(Duration::from_secs(30)).await,
            }
        }
        lines
    });
    (port, handle)
}

fn opts() -> ConnectOptions {
    ConnectOptions::new(Arc::new(StaticResolver::new()))
        .with_policy(AddressPolicy::AllowAll)
        .with_timeouts(Duration::from_secs(2), Duration::from_millis(1500))
}

fn plain(port: u16) -> Endpoint {
    Endpoint::new("127.0.0.1", port, Security::Plain)
}

fn creds() -> Credentials {
    Credentials::new("user@example.org", WEIRD_PASSWORD)
}

const GREETING_PLAIN_AUTH: &str =
    "* OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ AUTH=PLAIN] ready\r\n";
const GREETING_LOGIN_ONLY: &str = "* OK [CAPABILITY IMAP4rev1 ID] ready\r\n";

fn login_ok() -> Vec<Step> {
    vec![
        Send(GREETING_PLAIN_AUTH),
        // SASL-IR offered: the response on the command line (RFC 4959), one round trip.
        Recv {
            expect: "AUTHENTICATE PLAIN ",
            reply: "{tag} OK [CAPABILITY IMAP4rev1 NAMESPACE UIDPLUS] Logged in\r\n",
        },
        Recv {
            expect: "CAPABILITY",
            reply: "* CAPABILITY IMAP4rev1 NAMESPACE UIDPLUS MOVE\r\n{tag} OK done\r\n",
        },
    ]
}

#[tokio::test]
async fn closed_right_after_accept() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        drop(sock);
    });
    let err = mailcopy::connect(&plain(port), &creds(), &opts())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConnectError::ClosedByServer { stage: "greeting" } | ConnectError::NoGreeting
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn never_greets() {
    let (port, _h) = serve(vec![Hang]).await;
    let o = opts().with_timeouts(Duration::from_secs(1), Duration::from_millis(300));
    let start = Instant::now();
    let err = mailcopy::connect(&plain(port), &creds(), &o)
        .await
        .unwrap_err();
    assert_eq!(err, ConnectError::NoGreeting);
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(err.to_string().contains("TLS port"), "{err}");
}

#[tokio::test]
async fn bye_greeting_is_rejected() {
    let (port, _h) = serve(vec![Send("* BYE Too many connections from your IP\r\n")]).await;
    let err = mailcopy::connect(&plain(port), &creds(), &opts())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ConnectError::Rejected {
            server_text: "Too many connections from your IP".into()
        }
    );
}

#[tokio::test]
async fn login_no_gives_server_text_and_quotes_the_password() {
    let (port, h) = serve(vec![
        Send(GREETING_LOGIN_ONLY),
        Recv {
            expect: "LOGIN",
            reply: "{tag} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n",
        },
    ])
    .await;
    let err = mailcopy::connect(&plain(port), &creds(), &opts())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ConnectError::AuthFailed {
            server_text: "[AUTHENTICATIONFAILED] Authentication failed.".into()
        }
    );
    assert_eq!(err.kind(), ErrorKind::AuthFailed);
    assert!(!err.to_string().contains(WEIRD_PASSWORD));
    let lines = h.await.unwrap();
    assert_eq!(
        lines[0].split_once(' ').unwrap().1,
        r#"LOGIN "user@example.org" "\"\\é§ x""#
    );
}

#[tokio::test]
async fn login_disabled_without_auth_plain() {
    let (port, _h) = serve(vec![Send(
        "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n",
    )])
    .await;
    let err = mailcopy::connect(&plain(port), &creds(), &opts())
        .await
        .unwrap_err();
    assert_eq!(err, ConnectError::LoginDisabled);
}

#[tokio::test]
async fn auth_plain_sends_base64_of_weird_password_then_lists_and_stats() {
    let mut script = login_ok();
    script.extend([
        Recv {
            expect: "LIST \"\" *",
            reply: "* LIST (\\HasNoChildren) \"/\" INBOX\r\n\
* LIST (\\Noselect \\HasChildren) \"/\" Archive\r\n\
* LIST (\\HasNoChildren \\Sent) \"/\" \"Archive/Sent &AOQ-\"\r\n\
* LIST (\\HasNoChildren) \"/\" \"odd\\\"name\"\r\n\
{tag} OK List completed\r\n",
        },
        Recv {
            expect: "STATUS \"INBOX\" (MESSAGES UIDNEXT UIDVALIDITY)",
            reply: "* STATUS INBOX (MESSAGES 3 UIDNEXT 10 UIDVALIDITY 1234)\r\n{tag} OK done\r\n",
        },
        Recv {
            expect: "STATUS \"Archive/Sent &AOQ-\"",
            reply: "* STATUS \"Archive/Sent &AOQ-\" (MESSAGES 4 UIDNEXT 5 UIDVALIDITY 6)\r\n{tag} OK done\r\n",
        },
        Recv {
            expect: "STATUS \"odd\\\"name\"",
            reply: "* STATUS \"odd\\\"name\" (MESSAGES 7 UIDNEXT 8 UIDVALIDITY 9)\r\n{tag} OK done\r\n",
        },
        Recv {
            expect: "LOGOUT",
            reply: "* BYE Logging out\r\n{tag} OK Logout completed.\r\n",
        },
    ]);
    let (port, h) = serve(script).await;
    let check = mailcopy::check_account(&plain(port), &creds(), &opts(), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(check.folders, 3);
    assert_eq!(check.messages, 14);
    assert!(check.capabilities.contains(&"MOVE".to_string()));
    let lines = h.await.unwrap();
    // base64("\0user@example.org\0\"\\é§ x"), inline (SASL-IR).
    assert!(
        lines[0].ends_with("AUTHENTICATE PLAIN AHVzZXJAZXhhbXBsZS5vcmcAIlzDqcKnIHg="),
        "{lines:?}"
    );
}

#[tokio::test]
async fn folders_status_namespace_and_logout() {
    let mut script = login_ok();
    script.extend([
        Recv {
            expect: "LIST",
            reply: "* LIST (\\HasChildren) \".\" INBOX\r\n\
* LIST (\\HasNoChildren \\Trash) \".\" INBOX.Trash\r\n\
* LIST (\\HasNoChildren) NIL Flat\r\n\
{tag} OK List completed\r\n",
        },
        Recv {
            expect: "NAMESPACE",
            reply: "* NAMESPACE ((\"INBOX.\" \".\")) NIL ((\"#shared.\" \".\"))\r\n{tag} OK Namespace completed.\r\n",
        },
        Recv {
            expect: "STATUS \"INBOX.Trash\"",
            reply: "* STATUS INBOX.Trash (MESSAGES 0 UIDNEXT 1 UIDVALIDITY 77)\r\n{tag} OK done\r\n",
        },
        Recv {
            expect: "LOGOUT",
            // Connection ends after BYE without the tagged OK: logout still succeeds.
            reply: "* BYE bye\r\n",
        },
    ]);
    let (port, _h) = serve(script).await;
    let mut s = mailcopy::connect(&plain(port), &creds(), &opts())
        .await
        .unwrap();
    assert!(s.has_capability("uidplus"));
    assert!(!s.stream().is_tls());
    let folders = s.list_folders().await.unwrap();
    assert_eq!(folders.len(), 3);
    assert_eq!(folders[1].name, "INBOX.Trash");
    assert_eq!(folders[1].delimiter, Some('.'));
    assert!(folders[1].has_attribute("\\Trash"));
    assert_eq!(folders[2].delimiter, None);
    let ns = s.namespace().await.unwrap().unwrap();
    assert_eq!(ns.prefix, "INBOX.");
    assert_eq!(ns.delimiter, Some('.'));
    // The session still works after the NAMESPACE response was taken out of the stream.
    let st = s.status("INBOX.Trash").await.unwrap();
    assert_eq!(st.messages, 0);
    assert_eq!(st.uid_next, Some(mailcopy::Uid(1)));
    assert_eq!(st.uid_validity, Some(mailcopy::UidValidity(77)));
    s.logout().await.unwrap();
}

#[tokio::test]
async fn greeting_without_capabilities_asks_for_them() {
    let (port, h) = serve(vec![
        Send("* OK hello\r\n"),
        Recv {
            expect: "CAPABILITY",
            reply: "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n{tag} OK done\r\n",
        },
        Recv {
            expect: "AUTHENTICATE PLAIN",
            reply: "+\r\n",
        },
        Recv {
            expect: "",
            reply: "{tag} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n",
        },
    ])
    .await;
    let err = mailcopy::connect(&plain(port), &creds(), &opts())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AuthFailed, "{err:?}");
    let lines = h.await.unwrap();
    assert!(lines[0].ends_with("CAPABILITY"));
}

#[tokio::test]
async fn starttls_not_offered() {
    let (port, _h) = serve(vec![
        Send("* OK hello\r\n"),
        Recv {
            expect: "CAPABILITY",
            reply: "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n{tag} OK done\r\n",
        },
    ])
    .await;
    let ep = Endpoint::new("127.0.0.1", port, Security::StartTls);
    let err = mailcopy::connect(&ep, &creds(), &opts()).await.unwrap_err();
    assert_eq!(err, ConnectError::StartTlsNotOffered);
}

#[tokio::test]
async fn server_silent_during_login_times_out() {
    let (port, _h) = serve(vec![
        Send(GREETING_LOGIN_ONLY),
        Recv {
            expect: "LOGIN",
            reply: "",
        },
        Hang,
    ])
    .await;
    let o = opts().with_timeouts(Duration::from_secs(1), Duration::from_millis(300));
    let err = mailcopy::connect(&plain(port), &creds(), &o)
        .await
        .unwrap_err();
    assert_eq!(err, ConnectError::TimedOut { stage: "login" });
}

#[tokio::test]
async fn tls_against_plaintext_server() {
    let (port, _h) = serve(vec![
        Send("* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n"),
        Hang,
    ])
    .await;
    let ep = Endpoint::new("127.0.0.1", port, Security::Tls);
    let err = mailcopy::connect(&ep, &creds(), &opts()).await.unwrap_err();
    assert_eq!(err, ConnectError::TlsNotSpoken);
    assert!(err.to_string().contains("STARTTLS"));
}

#[tokio::test]
async fn closed_port_is_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let err = mailcopy::connect(&plain(port), &creds(), &opts())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ConnectError::ConnectionRefused {
            addr: format!("127.0.0.1:{port}")
        }
    );
}

#[tokio::test]
async fn unknown_host() {
    let ep = Endpoint::new("nowhere.test", 993, Security::Tls);
    let err = mailcopy::connect(&ep, &creds(), &opts()).await.unwrap_err();
    assert_eq!(
        err,
        ConnectError::HostNotFound {
            host: "nowhere.test".into()
        }
    );
}

#[tokio::test]
async fn loopback_refused_under_public_only() {
    // A listener that must never see a connection.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let resolver = StaticResolver::new().with(
        "mixed.test",
        ["127.0.0.1".parse().unwrap(), "10.1.2.3".parse().unwrap()],
    );
    let o = ConnectOptions::new(Arc::new(resolver))
        .with_timeouts(Duration::from_secs(1), Duration::from_secs(1));
    for host in ["127.0.0.1", "mixed.test"] {
        let ep = Endpoint::new(host, port, Security::Plain);
        let err = mailcopy::connect(&ep, &creds(), &o).await.unwrap_err();
        assert_eq!(
            err,
            ConnectError::AddressNotAllowed {
                host: host.into(),
                addr: "127.0.0.1".into()
            }
        );
    }
    let accepted = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await;
    assert!(accepted.is_err(), "a refused address was contacted");
}

#[tokio::test]
async fn unparsable_and_untagged_responses_do_not_end_the_session() {
    let mut script = login_ok();
    script.extend([
        Recv {
            expect: "LIST \"\" *",
            // An answer no parser knows, an ALERT and an EXISTS interleaved with the LIST.
            reply: "* LIST (\\HasNoChildren) \"/\" INBOX\r\n\
* XYZZY ((unbalanced {3}\r\nabc\r\n\
* OK [ALERT] Please enable IMAP in your settings\r\n\
* 3 EXISTS\r\n\
* LIST (\\HasNoChildren) \"/\" Sent\r\n\
{tag} OK List completed\r\n",
        },
        Recv {
            expect: "STATUS \"INBOX\"",
            reply: "* STATUS INBOX (MESSAGES 3 UIDNEXT 10 UIDVALIDITY 1234 SIZE 99)\r\n{tag} OK done\r\n",
        },
        Recv {
            expect: "STATUS \"Sent\"",
            reply: "* STATUS Sent (MESSAGES 2 UIDNEXT 3 UIDVALIDITY 5)\r\n{tag} OK done\r\n",
        },
        Recv {
            expect: "LOGOUT",
            reply: "* BYE Logging out\r\n{tag} OK Logout completed.\r\n",
        },
    ]);
    let (port, _h) = serve(script).await;
    let check = mailcopy::check_account(&plain(port), &creds(), &opts(), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!((check.folders, check.messages), (2, 5));
}

#[tokio::test]
async fn bye_in_the_middle_of_a_command_is_a_lost_session_with_the_server_text() {
    let mut script = login_ok();
    script.extend([Recv {
        expect: "LIST",
        reply: "* LIST (\\HasNoChildren) \"/\" INBOX\r\n\
* BYE Session invalidated - AccessTokenExpired\r\n",
    }]);
    let (port, _h) = serve(script).await;
    let err = mailcopy::check_account(&plain(port), &creds(), &opts(), Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("AccessTokenExpired"), "{err}");
    assert!(err.is_transient(), "{err:?}");
}

// ---- OAuth2 (XOAUTH2, OAUTHBEARER)

const TOKEN: &str = "ya29.secret-TOKEN";

fn token_creds() -> Credentials {
    Credentials::oauth2("user@example.org", TOKEN)
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Gmail: no SASL-IR in this greeting, so the response follows the "+"; the error challenge
/// (base64 JSON with an HTTP-like status) is answered with an empty line, then the NO.
#[tokio::test]
async fn xoauth2_after_the_continuation_with_gmails_error_challenge() {
    let (port, h) = serve(vec![
        Send("* OK [CAPABILITY IMAP4rev1 UNSELECT ID AUTH=XOAUTH2 AUTH=PLAIN] Gimap ready\r\n"),
        Recv {
            expect: "AUTHENTICATE XOAUTH2",
            reply: "+ \r\n",
        },
        Recv {
            expect: "",
            reply: "+ eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==\r\n",
        },
        Recv {
            expect: "",
            reply: "{tag} NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)\r\n",
        },
    ])
    .await;
    let err = mailcopy::connect(&plain(port), &token_creds(), &opts())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TokenRefused, "{err:?}");
    assert_eq!(
        err.to_string(),
        "the server refused the OAuth2 access token: [AUTHENTICATIONFAILED] Invalid credentials \
         (Failure) (the server's OAuth2 answer: status 400, scope \"https://mail.google.com/\")"
    );
    let lines = h.await.unwrap();
    assert!(lines[0].ends_with(" AUTHENTICATE XOAUTH2"), "{lines:?}");
    assert_eq!(
        lines[1],
        b64(b"user=user@example.org\x01auth=Bearer ya29.secret-TOKEN\x01\x01")
    );
    assert_eq!(
        lines[2], "",
        "the error challenge is answered with an empty line"
    );
}

/// SASL-IR offered: OAUTHBEARER (preferred over XOAUTH2) in one line, with host and port.
#[tokio::test]
async fn oauthbearer_on_the_command_line_where_sasl_ir_is_offered() {
    let mut script = vec![
        Send("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2 AUTH=OAUTHBEARER] ready\r\n"),
        Recv {
            expect: "AUTHENTICATE OAUTHBEARER ",
            reply: "{tag} OK [CAPABILITY IMAP4rev1 NAMESPACE] Logged in\r\n",
        },
    ];
    script.push(Recv {
        expect: "CAPABILITY",
        reply: "* CAPABILITY IMAP4rev1 NAMESPACE\r\n{tag} OK done\r\n",
    });
    let (port, h) = serve(script).await;
    let s = mailcopy::connect(&plain(port), &token_creds(), &opts())
        .await
        .unwrap();
    assert!(s.has_capability("NAMESPACE"));
    drop(s);
    let lines = h.await.unwrap();
    let (tag, rest) = lines[0].split_once(' ').unwrap();
    assert!(!tag.is_empty());
    let expected = format!(
        "n,a=user@example.org,\x01host=127.0.0.1\x01port={port}\x01auth=Bearer {TOKEN}\x01\x01"
    );
    assert_eq!(
        rest,
        format!("AUTHENTICATE OAUTHBEARER {}", b64(expected.as_bytes()))
    );
}

/// RFC 7628: the error challenge is answered with a single %x01 ("AQ==").
#[tokio::test]
async fn oauthbearer_error_challenge_is_answered_with_ctrl_a() {
    let (port, h) = serve(vec![
        Send("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=OAUTHBEARER] ready\r\n"),
        Recv {
            expect: "AUTHENTICATE OAUTHBEARER ",
            reply: "+ eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJpbWFwIn0=\r\n",
        },
        Recv {
            expect: "",
            reply: "{tag} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n",
        },
    ])
    .await;
    let err = mailcopy::connect(&plain(port), &token_creds(), &opts())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TokenRefused, "{err:?}");
    assert!(
        err.to_string()
            .ends_with("(the server's OAuth2 answer: status invalid_token, scope \"imap\")"),
        "{err}"
    );
    assert_eq!(h.await.unwrap()[1], "AQ==");
}

/// A server that echoes what it got never gets the token, nor its base64 form, into the error.
#[tokio::test]
async fn the_token_is_redacted_from_the_servers_text() {
    let (port, _h) = serve(vec![
        Send("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] ready\r\n"),
        Recv {
            expect: "AUTHENTICATE XOAUTH2 ",
            reply: "{tag} NO bad token ya29.secret-TOKEN in \
                    dXNlcj11c2VyQGV4YW1wbGUub3JnAWF1dGg9QmVhcmVyIHlhMjkuc2VjcmV0LVRPS0VOAQE=\r\n",
        },
    ])
    .await;
    let err = mailcopy::connect(&plain(port), &token_creds(), &opts())
        .await
        .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains("secret-TOKEN"), "{text}");
    assert!(!text.contains("dXNlcj11c2VyQGV4YW1wbGUub3Jn"), "{text}");
    assert_eq!(
        err.to_string(),
        "the server refused the OAuth2 access token: bad token [hidden] in [hidden]"
    );
}

/// No AUTH=XOAUTH2 nor AUTH=OAUTHBEARER: a clear error, and nothing is sent.
#[tokio::test]
async fn no_oauth2_mechanism_offered() {
    let (port, h) = serve(vec![
        Send(GREETING_PLAIN_AUTH),
        Recv {
            expect: "LOGOUT",
            reply: "* BYE\r\n{tag} OK\r\n",
        },
    ])
    .await;
    let err = mailcopy::connect(&plain(port), &token_creds(), &opts())
        .await
        .unwrap_err();
    assert_eq!(err, ConnectError::OAuth2NotOffered);
    assert_eq!(
        err.to_string(),
        "the server does not offer OAuth2 sign-in (XOAUTH2/OAUTHBEARER)"
    );
    let lines = h.await.unwrap();
    assert!(
        lines.iter().all(|l| !l.contains("AUTHENTICATE")),
        "{lines:?}"
    );
}
