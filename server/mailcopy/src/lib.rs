//! The copy engine. See ARCHITECTURE.md.
//!
//! This part is the connection layer: [`connect`] opens an authenticated [`ImapSession`] over
//! TLS, STARTTLS or (only when asked for) plain TCP, after checking every resolved address
//! against an [`net::AddressPolicy`]. [`check_account`] is the "does this account work" probe.
//!
//! [`copy_mailbox`] ([`copy`]) copies every folder and message exactly and returns a
//! [`CopyReport`] (completeness table: [`render_table`]). Re-runs append only what is missing;
//! [`copy_mailbox_with`] also takes a [`CheckpointStore`] that makes resuming cheaper.

mod connect;
pub mod copy;
mod error;
pub mod flag;
mod imap;
pub mod limit;
pub(crate) mod mutf7;
mod names;
pub mod net;
pub mod plan;
pub mod preview;
pub mod profile;
mod session;
mod stop;
mod stream;

pub use connect::{
    connect, ConnectOptions, Credentials, Endpoint, Secret, Security, TokenSource, TokenUnavailable,
};
pub use copy::{
    copy_mailbox, copy_mailbox_with, render_table, CancellationToken, CheckpointStore, CopyOptions,
    CopyReport, FileCheckpoints, FolderCheckpoint, FolderReport, LabelPolicy, MemoryCheckpoints,
    NoCheckpoints, Outcome, Progress, ProgressSink,
};
pub use error::{ConnectError, ErrorKind};
pub use flag::Flag;
pub use limit::{ConnectionCaps, ConnectionLimiter};
pub use names::{MailboxName, Uid, UidValidity};
pub use plan::{
    plan_folders, render_plan, FolderMapping, FolderPlan, MappingNote, MatchedBy, PlanOptions,
    RenameReason, Side, SkipReason, SkippedFolder, SpecialUse,
};
pub use session::{
    check_account, AccountCheck, Appended, FetchedMessage, Folder, FolderStatus, ImapSession,
    Namespace, Quota, Selected,
};
pub use stop::{Stop, StopKind};
pub use stream::MailStream;
