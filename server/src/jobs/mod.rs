//! Jobs: the lifecycle (pure), the job store ([`JobStore`]) and its SQLite backend with its
//! sealed credentials, the runner and its checkpoint store, waiting for sign-in (pure), the
//! public lookup's rule (pure).

pub mod checkpoints;
pub mod lookup;
pub mod mailbox;
pub mod retry;
pub mod runner;
pub mod sealed;
pub mod sign_in;
pub mod state;
pub mod store;
pub mod store_trait;
pub mod volume_day;

pub use store_trait::JobStore;
