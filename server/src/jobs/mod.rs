//! Jobs: the lifecycle (pure), the SQLite queue, the runner and its checkpoint store.

pub mod checkpoints;
pub mod runner;
pub mod state;
pub mod store;
