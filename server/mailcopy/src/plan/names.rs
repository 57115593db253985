//! Name analysis: INBOX, the personal-namespace prefix, path keys, separator translation and
//! escaping, and decoding of source names.

use super::{MappingNote, RenameReason, Side};
use crate::mutf7;
use crate::session::Folder;

pub(super) const INBOX: &str = "INBOX";

pub(super) fn is_inbox(s: &str) -> bool {
    s.eq_ignore_ascii_case(INBOX)
}

/// The rest of `s` after `INBOX` + `delim` (INBOX case-insensitive).
pub(super) fn strip_inbox_child(s: &str, delim: char) -> Option<&str> {
    if !is_inbox(s.get(..INBOX.len())?) {
        return None;
    }
    s.get(INBOX.len()..)?.strip_prefix(delim)
}

/// `s` without the namespace prefix; an `INBOX` at the start of the prefix matches in any case.
pub(super) fn strip_ns_prefix<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if let (Some(head), Some(tail)) = (prefix.get(..INBOX.len()), prefix.get(INBOX.len()..)) {
        if is_inbox(head) {
            if !is_inbox(s.get(..INBOX.len())?) {
                return None;
            }
            return s.get(INBOX.len()..)?.strip_prefix(tail);
        }
    }
    s.strip_prefix(prefix)
}

/// Comparison key of a decoded name: `INBOX` as first component upper-cased.
pub(super) fn name_key(name: &str, delim: Option<char>) -> String {
    if is_inbox(name) {
        return INBOX.to_string();
    }
    if let Some(rest) = delim.and_then(|d| strip_inbox_child(name, d)) {
        let mut key = String::with_capacity(name.len());
        key.push_str(INBOX);
        key.push_str(
            name.get(INBOX.len()..name.len() - rest.len())
                .unwrap_or_default(),
        );
        key.push_str(rest);
        return key;
    }
    name.to_string()
}

/// A folder's place below the personal root, in decoded components.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct PathKey {
    /// Below INBOX on a server whose personal root is not INBOX (`INBOX/Sub` on a `/` server):
    /// `comps` then exclude the `INBOX`.
    pub(super) via_inbox: bool,
    pub(super) comps: Vec<String>,
}

impl PathKey {
    pub(super) fn parent(&self) -> Option<PathKey> {
        match self.comps.split_last() {
            Some((_, init)) if !init.is_empty() => Some(PathKey {
                via_inbox: self.via_inbox,
                comps: init.to_vec(),
            }),
            _ => None,
        }
    }

    pub(super) fn leaf(&self) -> &str {
        self.comps.last().map(String::as_str).unwrap_or_default()
    }
}

pub(super) enum Place {
    Inbox,
    Path(PathKey),
    NamespaceRoot,
    Outside,
}

/// What the planner needs to know about one side's naming.
pub(super) struct SideCtx {
    pub(super) delim: Option<char>,
    /// Decoded personal prefix.
    pub(super) prefix: String,
    /// The personal namespace is INBOX itself (prefix `INBOX` + separator).
    pub(super) root_is_inbox: bool,
}

impl SideCtx {
    pub(super) fn new(side: &Side) -> SideCtx {
        let delim = side.effective_delimiter();
        let prefix = mutf7::decode_lossy(side.prefix());
        // Courier, Cyrus without altnamespace and Dovecot's Maildir++ setups (testkit
        // `DotInbox`): the personal namespace is `INBOX.`, every folder lives below INBOX.
        let root_is_inbox = delim.is_some_and(|d| strip_inbox_child(&prefix, d) == Some(""));
        SideCtx {
            delim,
            prefix,
            root_is_inbox,
        }
    }

    pub(super) fn split(&self, rest: &str) -> Vec<String> {
        match self.delim {
            Some(d) => rest.split(d).map(str::to_string).collect(),
            None => vec![rest.to_string()],
        }
    }

    pub(super) fn place(&self, raw: &str, display: &str) -> Place {
        if is_inbox(raw) {
            return Place::Inbox;
        }
        if let Some(d) = self.delim {
            // INBOX with children on a server whose root is not INBOX: Dovecot allows
            // `INBOX/Sub` next to `Sub` (testkit `Slash`).
            if !self.root_is_inbox {
                if let Some(rest) = strip_inbox_child(display, d) {
                    return Place::Path(PathKey {
                        via_inbox: true,
                        comps: self.split(rest),
                    });
                }
            }
            // The namespace's own node (`INBOX.` or `INBOX` without the separator for a
            // prefix `INBOX.`). Dovecot does not list it; kept total for servers that do.
            if !self.prefix.is_empty()
                && strip_ns_prefix(&format!("{display}{d}"), &self.prefix) == Some("")
            {
                return Place::NamespaceRoot;
            }
        }
        match strip_ns_prefix(display, &self.prefix) {
            Some("") => Place::NamespaceRoot,
            Some(rest) => Place::Path(PathKey {
                via_inbox: false,
                comps: self.split(rest),
            }),
            None => Place::Outside,
        }
    }

    /// The decoded name of a path on this side (for implied parents).
    pub(super) fn name_of(&self, path: &PathKey) -> String {
        let d = self.delim.unwrap_or('/').to_string();
        let joined = path.comps.join(&d);
        if path.via_inbox {
            format!("{INBOX}{d}{joined}")
        } else {
            format!("{}{joined}", self.prefix)
        }
    }
}

/// Decoded name and whether the raw name was valid modified UTF-7. Dovecot only sends valid
/// names; a server that passes through what clients created (raw UTF-8, a bare `&`) gets the
/// lenient decoding, and the destination the canonical encoding of that.
pub(super) fn decode_name(raw: &str) -> (String, bool) {
    match mutf7::decode(raw) {
        Ok(d) => (d, true),
        Err(_) => (mutf7::decode_lossy(raw), false),
    }
}

/// Sorted by raw name, one entry per name (permutation-independent input).
pub(super) fn canonical_folders(folders: &[Folder]) -> Vec<&Folder> {
    let mut v: Vec<&Folder> = folders.iter().collect();
    v.sort_by(|a, b| {
        (&a.name, &a.attributes, a.delimiter).cmp(&(&b.name, &b.attributes, b.delimiter))
    });
    v.dedup_by(|a, b| a.name == b.name);
    v
}

/// Replaces the destination's separator and control characters; an empty component becomes
/// the replacement character.
pub(super) fn escape_component(
    comp: &str,
    dest_delim: Option<char>,
    notes: &mut Vec<MappingNote>,
) -> String {
    let replacement = if dest_delim == Some('_') { '-' } else { '_' };
    let mut separator_seen = false;
    let mut control_seen = false;
    let mut out: String = comp
        .chars()
        .map(|c| {
            if Some(c) == dest_delim {
                separator_seen = true;
                replacement
            } else if c.is_control() {
                // Dovecot refuses them: "[CANNOT] Control characters not allowed in new
                // mailbox names" (checked against testkit).
                control_seen = true;
                replacement
            } else {
                c
            }
        })
        .collect();
    if let (true, Some(separator)) = (separator_seen, dest_delim) {
        notes.push(MappingNote::SeparatorEscaped {
            separator,
            replacement,
        });
    }
    if control_seen {
        notes.push(MappingNote::Renamed {
            reason: RenameReason::ControlCharacter,
        });
    }
    if out.is_empty() {
        out.push(replacement);
        notes.push(MappingNote::Renamed {
            reason: RenameReason::EmptyComponent,
        });
    }
    out
}

pub(super) fn needs_escape(comp: &str, dest_delim: Option<char>) -> bool {
    comp.is_empty()
        || comp
            .chars()
            .any(|c| Some(c) == dest_delim || c.is_control())
}

/// Letters, digits, space, `-` and `_` only (for names the destination refused).
pub(super) fn strict_component(comp: &str) -> String {
    comp.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == ' ' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use crate::plan::test_support::*;
    use crate::plan::*;
    use crate::session::Folder;

    #[test]
    fn plan_translates_separator_and_prefix() {
        let src = slash(&[
            ("Archive", NONE),
            ("Archive/2020", NONE),
            ("Work/A/B", NONE),
        ]);
        let p = plan(&src, &dot(&[]));
        assert_eq!(d(&p, "INBOX"), "INBOX");
        assert_eq!(d(&p, "Archive"), "INBOX.Archive");
        assert_eq!(d(&p, "Archive/2020"), "INBOX.Archive.2020");
        assert_eq!(dest(&p, "Archive/2020").destination, "INBOX.Archive.2020");
        assert_eq!(d(&p, "Work/A/B"), "INBOX.Work.A.B");
        assert!(dest(&p, "Archive/2020").notes.is_empty());
        // "Archive" is the Archive special-use folder by name; the destination has none.
        assert_eq!(
            dest(&p, "Archive").notes,
            vec![MappingNote::SpecialUseNotAtDestination {
                special_use: SpecialUse::Archive
            }]
        );
        // The implied parents Work and Work/A get no mapping of their own.
        assert_eq!(p.folders.len(), 4);

        let back = plan(
            &dot(&[("INBOX.Archive", NONE), ("INBOX.Archive.2020", NONE)]),
            &slash(&[]),
        );
        assert_eq!(d(&back, "INBOX.Archive"), "Archive");
        assert_eq!(d(&back, "INBOX.Archive.2020"), "Archive/2020");
        assert_eq!(d(&back, "INBOX"), "INBOX");
    }

    #[test]
    fn plan_inbox_any_case_is_inbox() {
        let mut src = slash(&[]);
        src.folders = vec![f("inbox", '/', &[]), f("inbox/Kid", '/', &[])];
        let p = plan(&src, &dot(&[]));
        assert_eq!(d(&p, "inbox"), "INBOX");
        assert_eq!(dest(&p, "inbox").destination, "INBOX");
        assert_eq!(d(&p, "inbox/Kid"), "INBOX.Kid");
        let p = plan(&src, &slash(&[]));
        assert_eq!(d(&p, "inbox/Kid"), "INBOX/Kid");
    }

    #[test]
    fn plan_escapes_foreign_separator() {
        let src = slash(&[
            ("v1.2", NONE),
            ("v1_2", NONE),
            ("Proj", NONE),
            ("Proj/a.b", NONE),
        ]);
        let p = plan(&src, &dot(&[]));
        assert_eq!(d(&p, "v1_2"), "INBOX.v1_2");
        assert_eq!(d(&p, "v1.2"), "INBOX.v1_2 (2)");
        assert_eq!(
            dest(&p, "v1.2").notes,
            vec![
                MappingNote::SeparatorEscaped {
                    separator: '.',
                    replacement: '_'
                },
                MappingNote::Collision {
                    with: MailboxName::from_raw("v1_2"),
                    wanted: MailboxName::from_raw("INBOX.v1_2")
                }
            ]
        );
        assert_eq!(d(&p, "Proj/a.b"), "INBOX.Proj.a_b");

        let back = plan(&dot(&[("INBOX.a/b", NONE)]), &slash(&[]));
        assert_eq!(d(&back, "INBOX.a/b"), "a_b");

        // A destination whose separator is `_` gets `-` instead.
        let mut under = slash(&[]);
        for fo in &mut under.folders {
            fo.delimiter = Some('_');
        }
        under.namespace = None;
        let p = plan(&slash(&[("snake_case", NONE)]), &under);
        assert_eq!(d(&p, "snake_case"), "snake-case");
    }

    #[test]
    fn plan_control_characters_and_empty_components() {
        let src = slash(&[("a\u{1}b", NONE), ("x//y", NONE)]);
        let p = plan(&src, &dot(&[]));
        assert_eq!(d(&p, "a\u{1}b"), "INBOX.a_b");
        assert_eq!(
            dest(&p, "a\u{1}b").notes,
            vec![MappingNote::Renamed {
                reason: RenameReason::ControlCharacter
            }]
        );
        assert_eq!(d(&p, "x//y"), "INBOX.x._.y");
    }

    #[test]
    fn plan_non_ascii_names_keep_identity() {
        let src = slash(&[
            ("Boîte d'envoi", NONE),
            ("Проекты", NONE),
            ("Проекты/日本", NONE),
            ("Ünïcödé & Co", NONE),
        ]);
        let p = plan(&src, &dot(&[]));
        let m = dest(&p, "Ünïcödé & Co");
        assert_eq!(m.source, "&ANw-n&AO8-c&APY-d&AOk- &- Co");
        assert_eq!(m.destination, "INBOX.&ANw-n&AO8-c&APY-d&AOk- &- Co");
        assert_eq!(m.destination.display(), "INBOX.Ünïcödé & Co");
        assert_eq!(
            dest(&p, "Boîte d'envoi").destination,
            "INBOX.Bo&AO4-te d'envoi"
        );
        assert_eq!(
            dest(&p, "Проекты/日本").destination,
            "INBOX.&BB8EQAQ+BDUEOgRCBEs-.&ZeVnLA-"
        );
        let back = plan(
            &dot(&[("INBOX.Проекты", NONE), ("INBOX.Проекты.日本", NONE)]),
            &slash(&[]),
        );
        assert_eq!(
            dest(&back, "INBOX.Проекты.日本").destination,
            "&BB8EQAQ+BDUEOgRCBEs-/&ZeVnLA-"
        );
    }

    #[test]
    fn plan_invalid_source_encoding_is_decoded_leniently() {
        let mut src = slash(&[]);
        src.folders.push(Folder {
            name: "Caf\u{e9}".into(), // raw UTF-8 from a sloppy server
            delimiter: Some('/'),
            attributes: vec![],
        });
        src.folders.push(Folder {
            name: "Foo&Bar".into(), // unescaped `&`
            delimiter: Some('/'),
            attributes: vec![],
        });
        let p = plan(&src, &dot(&[]));
        let m = p.mapping("Caf\u{e9}").unwrap();
        assert_eq!(m.destination, "INBOX.Caf&AOk-");
        assert_eq!(
            m.notes,
            vec![MappingNote::Renamed {
                reason: RenameReason::InvalidSourceEncoding
            }]
        );
        assert_eq!(p.mapping("Foo&Bar").unwrap().destination, "INBOX.Foo&-Bar");
    }
}
