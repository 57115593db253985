//! Helpers shared by the planner's unit tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::mutf7;
use crate::names::MailboxName;
use crate::session::{Folder, Namespace};

/// A folder from a UTF-8 name (encoded to modified UTF-7 like a server would send it).
pub(super) fn f(name: &str, delim: char, attrs: &[&str]) -> Folder {
    Folder {
        name: MailboxName::from_raw(mutf7::encode(name)),
        delimiter: Some(delim),
        attributes: attrs.iter().map(|a| a.to_string()).collect(),
    }
}

/// A `/` server without prefix (Dovecot `Slash`); names as `(utf8, attributes)`.
pub(super) fn slash(folders: &[(&str, &[&str])]) -> Side {
    let mut v = vec![f("INBOX", '/', &[])];
    v.extend(folders.iter().map(|(n, a)| f(n, '/', a)));
    Side::new(
        v,
        Some(Namespace {
            prefix: String::new(),
            delimiter: Some('/'),
        }),
    )
}

/// A `.` server with prefix `INBOX.` (Courier-style, Dovecot `DotInbox`).
pub(super) fn dot(folders: &[(&str, &[&str])]) -> Side {
    let mut v = vec![f("INBOX", '.', &[])];
    v.extend(folders.iter().map(|(n, a)| f(n, '.', a)));
    Side::new(
        v,
        Some(Namespace {
            prefix: "INBOX.".into(),
            delimiter: Some('.'),
        }),
    )
}

pub(super) fn plan(src: &Side, dst: &Side) -> FolderPlan {
    plan_folders(src, dst, &PlanOptions::default())
}

/// Source display name → destination display name.
pub(super) fn dest<'a>(p: &'a FolderPlan, source_display: &str) -> &'a FolderMapping {
    p.folders
        .iter()
        .find(|m| m.source.display() == source_display)
        .unwrap_or_else(|| panic!("no mapping for {source_display:?} in {p:#?}"))
}

pub(super) fn d<'a>(p: &'a FolderPlan, source_display: &str) -> &'a str {
    dest(p, source_display).destination.display()
}

pub(super) const NONE: &[&str] = &[];
