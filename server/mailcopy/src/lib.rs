//! The copy engine. See ARCHITECTURE.md.
//!
//! This part is the connection layer: [`connect`] opens an authenticated [`ImapSession`] over
//! TLS, STARTTLS or (only when asked for) plain TCP, after checking every resolved address
//! against an [`net::AddressPolicy`]. [`check_account`] is the "does this account work" probe.

mod connect;
mod error;
pub mod net;
mod session;
mod stream;

pub use connect::{connect, ConnectOptions, Credentials, Endpoint, Security};
pub use error::{ConnectError, ErrorKind};
pub use session::{check_account, AccountCheck, Folder, FolderStatus, ImapSession, Namespace};
pub use stream::MailStream;
