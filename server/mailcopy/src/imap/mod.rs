//! The engine's one IMAP protocol path after login.
//!
//! async-imap does what it does well before login: the greeting, STARTTLS and the pre-login
//! CAPABILITY (`connect.rs`). Its `Client::into_inner()` then hands the stream to a
//! [`conn::Connection`], and from LOGIN/AUTHENTICATE on every command goes out and every
//! response comes in through this module:
//! - [`frame`]: where a response ends (lines and literals), pure;
//! - [`parse`]: one response into a typed [`parse::Reply`] — imap-proto 0.17 (the parser
//!   async-imap itself uses) plus the answers it lacks (NAMESPACE, STATUS with any attribute);
//!   what cannot be parsed is skipped with its raw text, never ending the session;
//! - [`conn`]: tags, writes, and the one loop that reads answers and handles untagged
//!   responses interleaved with pipelined commands (BYE, ALERT, EXISTS, EXPUNGE);
//! - [`auth`]: AUTHENTICATE (SASL) and LOGIN; [`oauth2`]: the OAuth2 mechanisms' messages;
//! - [`mailbox`] and [`message`]: the commands, in the engine's types.
//!
//! Why not imap-codec / imap-next: imap-codec 1.0 lacks most extensions the engine needs
//! (STATUS=SIZE, APPENDLIMIT, QUOTA, X-GM-EXT-1 in FETCH), 2.0 is an alpha, and imap-proto
//! already parses FETCH, LIST, QUOTA, APPENDUID and Gmail's attributes; framing responses
//! ourselves is what makes an unknown answer harmless. See ARCHITECTURE.md.

pub(crate) mod auth;
pub(crate) mod conn;
pub(crate) mod frame;
pub(crate) mod mailbox;
pub(crate) mod message;
pub(crate) mod oauth2;
pub(crate) mod parse;

pub(crate) use conn::CmdError;

/// A mailbox name as an IMAP quoted string; names that cannot be quoted are an input error.
pub(crate) fn quote_name(name: &str) -> Result<String, CmdError> {
    parse::quote(name)
        .map_err(|detail| CmdError::Broken(crate::error::ConnectError::InvalidInput { detail }))
}
