//! IMAPCopy server: configuration, web wiring, storage. See ARCHITECTURE.md.

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
