//! IMAPCopy server: configuration, web wiring, storage. See ARCHITECTURE.md.
// The Leptos page types nest deeply (the hand-matched routes of `app::routes`): rendering them
// to HTML needs more than the default query depth, as in `app`.
#![recursion_limit = "256"]

pub mod cli;
pub mod config;
pub mod db;
pub mod jobs;
pub mod oauth;
pub mod private_fs;
pub mod report;
pub mod seal;
pub mod token_cmd;
pub mod web;
