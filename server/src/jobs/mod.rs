//! Jobs: the lifecycle (pure), the job store ([`JobStore`]) and its SQLite backend, the runner
//! and its checkpoint store.

pub mod checkpoints;
pub mod retry;
pub mod runner;
pub mod state;
pub mod store;
pub mod store_trait;

pub use store_trait::JobStore;
