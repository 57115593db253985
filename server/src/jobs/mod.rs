//! Jobs: the lifecycle (pure), the SQLite queue, and (later) the runner.

pub mod runner;
pub mod state;
pub mod store;
