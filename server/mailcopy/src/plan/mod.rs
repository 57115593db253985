//! The folder planner: which destination folder every source folder goes to.
//!
//! Pure (sans-I/O): the inputs are what LIST, NAMESPACE and LSUB said on each side
//! ([`Side`]), the output a [`FolderPlan`] that the executor carries out and `--dry-run` shows
//! ([`render_plan`]). The same inputs in any order give the same plan.
//!
//! # Rules
//!
//! **Paths.** A source name is decoded from modified UTF-7 (`mutf7.rs`; a name that is
//! not valid modified UTF-7 is decoded leniently and noted), the source's personal-namespace
//! prefix is removed (`INBOX.` on Courier-style servers; `INBOX` compared case-insensitively),
//! and the rest is split into components at the source's hierarchy separator. The destination
//! name is the destination prefix plus the components joined with the destination's separator,
//! encoded back to modified UTF-7 (so `&` stays `&-`). The raw source name stays the identity.
//! Without NAMESPACE the prefix is taken to be empty.
//!
//! **INBOX.** `INBOX` (any case) maps to `INBOX`. On a server whose personal namespace *is*
//! INBOX (prefix `INBOX.`), INBOX's children are the top-level folders; so the children of
//! INBOX on a server without prefix (`INBOX/Sub`) become top-level folders there
//! (`INBOX.Sub`, noted [`MappingNote::InboxChildLifted`]), and `INBOX.Sub` from such a server
//! becomes `Sub` on a server without prefix. Between two servers without prefix, `INBOX/Sub`
//! stays `INBOX/Sub`.
//!
//! **Separators inside a name.** A component holding the destination's separator (a folder
//! `v1.2` on a `/` server going to a `.` server) gets it replaced by `_` (by `-` if the
//! destination's separator is `_`): `INBOX.v1_2`, noted [`MappingNote::SeparatorEscaped`].
//! Control characters are replaced the same way; an empty component becomes `_`.
//!
//! **Collisions.** When two source folders would land on one destination name (`Sub` and
//! `INBOX/Sub` into an `INBOX.` namespace; `a.b` escaped to `a_b` next to a real `a_b`; a
//! folder named `INBOX` below the prefix), the first keeps the name and each later one gets
//! ` (2)`, ` (3)`, … appended to its last component (`INBOX.Sub (2)`), noted
//! [`MappingNote::Collision`]. Children follow their parent's final name. "First" is
//! deterministic: INBOX, then special-use matches, then by depth, then names needing no
//! transformation (no INBOX lifting, escaping or lenient decoding) before those that do, then
//! by decoded path, then by raw name. Names are compared exactly, except that `INBOX` as
//! first component is case-insensitive (RFC 3501). Folders that already exist at the
//! destination do *not* count as collisions: a second run must land in the same folders.
//!
//! **Refused names.** A destination name the destination refused to CREATE (the executor
//! passes it in [`PlanOptions::refused`] and plans again; e.g. Dovecot's Maildir++ refuses a
//! `/` inside a name: "Name must not have '/' characters") is avoided: the last component is
//! first reduced to letters, digits, space, `-` and `_` (others become `_`); if that is still
//! refused or unchanged, the collision suffix applies.
//!
//! **Special-use.** `\Sent`, `\Drafts`, `\Trash`, `\Junk`, `\Archive` are merged: the source's
//! folder of that use maps onto the destination's folder of that use (e.g. `Sent` → `Sent
//! Items`). A side's folder of a use is the one carrying the attribute (shallowest, then by
//! raw name) or, only if no selectable folder on that side carries it, a top-level folder
//! (or direct child of INBOX) with a well-known name, case-insensitively: English, Spanish,
//! French and German ([`SpecialUse::known_names`]; earlier names in the list win). A folder is
//! merged for one use at most, a destination folder receives one source folder at most; other
//! folders of the same use map by name. Without a destination folder of that use, the folder
//! maps by name, noted [`MappingNote::SpecialUseNotAtDestination`]. `\All`, `\Flagged` and
//! `\Important` are recognized but never merged.
//!
//! **Gmail.** `[Gmail]/Important` and `[Gmail]/Starred` (also under `[Google Mail]`,
//! recognized by `\Important`, `\Flagged` so localized names work) are views of labels and
//! would duplicate every message: skipped unless [`PlanOptions::include_gmail_virtual`].
//! The `\All` folder (Gmail's All Mail, recognized by the attribute only) is the one place
//! archived messages are: it is planned as the archive — named and merged as a source
//! `\Archive` folder (the destination's `\Archive`, else `Archive`) and marked
//! [`FolderMapping::all_mail`], so that the copy sends there only the messages no other copied
//! folder holds. A `[Gmail]/All Mail` listed without `\All` is skipped as before.
//!
//! **`\Noselect` and `\NonExistent`.** `\NonExistent` folders are skipped. A `\Noselect` folder
//! gets a mapping with `selectable == false` (never selected, nothing copied). IMAP cannot
//! create a `\Noselect` folder, and RFC 3501 §6.3.3 has CREATE make superior names itself, so
//! [`FolderMapping::create`] is false for a `\Noselect` folder that has children at the source
//! (the destination makes it with its first child, or never needs it, like Gmail's `[Gmail]`
//! whose children merge into special-use folders), and true for a childless one (it becomes
//! an empty ordinary folder, so the node is not lost). Parents that the source does not list
//! at all are implied the same way: they get no mapping but keep their place in the naming.
//!
//! **Namespaces.** Folders outside the source's personal namespace (shared or other users'
//! folders, listed by some servers) and the namespace's own node (`INBOX.` itself) are skipped.
//!
//! **Subscriptions.** A mapping is subscribed when the source lists the raw name in LSUB (or
//! LIST returned `\Subscribed`).
//!
//! **Order.** Mappings are sorted by destination path, INBOX first, parents before children.

// The steps of `plan_folders`, in order: `sides` reads both listings, `special_use` merges the
// special-use folders, `collisions` names every other folder; `names` is the name analysis
// they share, `render` the text table.
mod collisions;
mod names;
mod render;
mod sides;
mod special_use;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::names::MailboxName;
use crate::session::{Folder, Namespace};
use collisions::Assigned;
use names::{is_inbox, name_key, SideCtx, INBOX};
use sides::{DestinationFolders, SourceFolders, Subscriptions};

pub use render::render_plan;
pub use special_use::SpecialUse;

/// One side's folders as the server reported them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Side {
    /// `LIST "" "*"`.
    pub folders: Vec<Folder>,
    /// The personal namespace (`None` without NAMESPACE: prefix taken as empty).
    pub namespace: Option<Namespace>,
    /// Raw names of subscribed folders (`LSUB "" "*"`).
    pub subscribed: Vec<String>,
    /// The hierarchy separator if known from elsewhere (`LIST "" ""`); else taken from the
    /// namespace, INBOX's LIST entry, or the most common one in `folders`.
    pub delimiter: Option<char>,
}

impl Side {
    pub fn new(folders: Vec<Folder>, namespace: Option<Namespace>) -> Side {
        Side {
            folders,
            namespace,
            subscribed: Vec::new(),
            delimiter: None,
        }
    }

    /// The hierarchy separator the planner uses for this side.
    pub fn effective_delimiter(&self) -> Option<char> {
        if let Some(d) = self
            .delimiter
            .or_else(|| self.namespace.as_ref().and_then(|n| n.delimiter))
        {
            return Some(d);
        }
        if let Some(d) = self
            .folders
            .iter()
            .filter(|f| is_inbox(f.name.raw()))
            .filter_map(|f| f.delimiter)
            .min()
        {
            return Some(d);
        }
        let mut counts: BTreeMap<char, usize> = BTreeMap::new();
        for d in self.folders.iter().filter_map(|f| f.delimiter) {
            *counts.entry(d).or_default() += 1;
        }
        // Most common; ties go to the smaller character (deterministic).
        counts
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|(d, _)| d)
    }

    /// The personal namespace prefix, raw (`""` without NAMESPACE).
    pub fn prefix(&self) -> &str {
        self.namespace
            .as_ref()
            .map(|n| n.prefix.as_str())
            .unwrap_or("")
    }
}

/// Planner options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanOptions {
    /// Copy Gmail's `All Mail`, `Important` and `Starred` as folders too (they duplicate
    /// every labelled message). Off (the default): Important and Starred are skipped, and the
    /// `\All` folder is copied as the archive, with only what no other folder holds
    /// ([`FolderMapping::all_mail`]).
    pub include_gmail_virtual: bool,
    /// Raw destination names the destination refused to CREATE; a new plan avoids them.
    pub refused: BTreeSet<String>,
    /// Top-level source folders (lowercase names, with their subfolders) that hold no mail on
    /// the source's provider: skipped as [`SkipReason::NotMail`] (Microsoft's Calendar,
    /// Contacts…: [`crate::profile::Provider::non_mail_folders`]).
    #[serde(default)]
    pub non_mail: BTreeSet<String>,
}

/// The whole folder plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderPlan {
    /// Sorted by destination path: INBOX first, parents before children.
    pub folders: Vec<FolderMapping>,
    /// Sorted by raw source name.
    pub skipped: Vec<SkippedFolder>,
}

impl FolderPlan {
    /// The mappings whose destination the executor CREATEs, parents first.
    pub fn to_create(&self) -> impl Iterator<Item = &FolderMapping> {
        self.folders.iter().filter(|m| m.create)
    }

    /// The mappings whose destination is to be subscribed.
    pub fn to_subscribe(&self) -> impl Iterator<Item = &FolderMapping> {
        self.folders.iter().filter(|m| m.subscribe)
    }

    /// The mapping of a raw source name.
    pub fn mapping(&self, source: &str) -> Option<&FolderMapping> {
        self.folders.iter().find(|m| m.source == source)
    }
}

/// Where one source folder goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderMapping {
    /// The source name; its raw form (as the server sent it) is the identity. Serialized as
    /// the raw string (plans stored with `source_display` and `destination_display` fields
    /// still read: those are ignored).
    pub source: MailboxName,
    /// The destination name; its raw form is what is CREATEd, SELECTed and APPENDed to.
    pub destination: MailboxName,
    /// The destination lists this name (and it is selectable if this mapping is).
    pub exists_at_destination: bool,
    /// The source folder holds messages (not `\Noselect`); false: nothing to copy.
    pub selectable: bool,
    /// The executor CREATEs the destination (see the module documentation for `\Noselect`).
    pub create: bool,
    /// Subscribed at the source, so to be subscribed at the destination.
    pub subscribe: bool,
    pub special_use: Option<SpecialUse>,
    /// Why the destination name is not the plain translation, or what was matched.
    pub notes: Vec<MappingNote>,
    /// The source's `\All` folder (Gmail's All Mail): every message in it that no other
    /// copied folder holds (Gmail's archived messages) goes to this destination — the
    /// destination's `\Archive` folder, else `Archive`. Messages it shares with the copied
    /// folders are not copied again here (the copy counts them as in other folders).
    #[serde(default)]
    pub all_mail: bool,
}

/// What the planner did to a name, shown in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MappingNote {
    /// Another source folder (`with`) got the destination name `wanted` first; this one got a
    /// ` (n)` suffix.
    Collision {
        with: MailboxName,
        wanted: MailboxName,
    },
    /// A component held the destination's hierarchy separator, replaced by `replacement`.
    SeparatorEscaped { separator: char, replacement: char },
    /// Merged into the destination's folder of the same special use.
    SpecialUseMatched {
        special_use: SpecialUse,
        source_by: MatchedBy,
        destination_by: MatchedBy,
    },
    /// The destination has no folder of this special use: mapped by name.
    SpecialUseNotAtDestination { special_use: SpecialUse },
    /// A child of INBOX on the source, a top-level folder at the destination (whose personal
    /// namespace is INBOX).
    InboxChildLifted,
    /// The name had to change for another reason.
    Renamed { reason: RenameReason },
    /// The source's `\All` folder: only its messages that no other copied folder holds
    /// (Gmail's archived messages) are copied here ([`FolderMapping::all_mail`]).
    AllMailRemainder,
}

/// How a special-use folder was recognized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    Attribute,
    Name,
}

/// Why a name changed (other than collisions and separators).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RenameReason {
    /// An empty component (`a//b`) became `_`.
    EmptyComponent,
    /// A control character became `_`.
    ControlCharacter,
    /// The destination refused the name.
    Refused,
    /// The source name is not valid modified UTF-7; it was decoded leniently.
    InvalidSourceEncoding,
}

impl fmt::Display for MappingNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MappingNote::Collision { with, wanted } => {
                write!(f, "renamed: {} is taken by source folder {}", wanted, with)
            }
            MappingNote::SeparatorEscaped {
                separator,
                replacement,
            } => write!(
                f,
                "'{separator}' (the destination's hierarchy separator) replaced by '{replacement}'"
            ),
            MappingNote::SpecialUseMatched {
                special_use,
                source_by,
                destination_by,
            } => write!(
                f,
                "{special_use}: merged into the destination's {special_use} folder \
                 (source by {}, destination by {})",
                by_str(*source_by),
                by_str(*destination_by)
            ),
            MappingNote::SpecialUseNotAtDestination { special_use } => write!(
                f,
                "{special_use}: the destination has no such folder, copied by name"
            ),
            MappingNote::InboxChildLifted => f.write_str(
                "child of INBOX: the destination's top-level folders are INBOX's children",
            ),
            MappingNote::AllMailRemainder => f.write_str(
                "all mail: only the messages no other folder holds (archived) are copied here",
            ),
            MappingNote::Renamed { reason } => f.write_str(match reason {
                RenameReason::EmptyComponent => "renamed: empty name part replaced by '_'",
                RenameReason::ControlCharacter => "renamed: control character replaced by '_'",
                RenameReason::Refused => "renamed: the destination refused the name",
                RenameReason::InvalidSourceEncoding => {
                    "source name is not valid modified UTF-7 (decoded leniently)"
                }
            }),
        }
    }
}

fn by_str(by: MatchedBy) -> &'static str {
    match by {
        MatchedBy::Attribute => "attribute",
        MatchedBy::Name => "name",
    }
}

/// A source folder that is not copied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedFolder {
    pub source: MailboxName,
    pub reason: SkipReason,
}

/// Why a source folder is not copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Gmail's All Mail / Important / Starred (see [`PlanOptions::include_gmail_virtual`]).
    GmailVirtual,
    /// LIST says `\NonExistent`.
    NonExistent,
    /// A folder of the source's provider that holds no mail (see [`PlanOptions::non_mail`]).
    NotMail,
    /// Outside the personal namespace (shared or other users' folders).
    OutsidePersonalNamespace,
    /// The personal namespace's own node (e.g. `INBOX.`).
    NamespaceRoot,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::GmailVirtual => {
                "Gmail virtual folder (would duplicate every message; can be included)"
            }
            SkipReason::NonExistent => "does not exist (\\NonExistent)",
            SkipReason::OutsidePersonalNamespace => "outside the personal namespace",
            SkipReason::NamespaceRoot => "the personal namespace itself",
            SkipReason::NotMail => "holds no mail on this provider (calendar, contacts, tasks…)",
        })
    }
}

/// Plans where every source folder goes. See the module documentation for the rules.
pub fn plan_folders(source: &Side, destination: &Side, options: &PlanOptions) -> FolderPlan {
    let sctx = SideCtx::new(source);
    let dctx = SideCtx::new(destination);
    // On a flat destination a source separator is just a character.
    let joiner = dctx.delim.or(sctx.delim).unwrap_or('/');

    let src = sides::read_source(source, &sctx, options);
    let dst = sides::read_destination(destination, &dctx);
    let special = special_use::match_special_uses(&src.nodes, &dst.items, &options.refused);
    let assigned =
        collisions::assign_names(&src, &dst.items, &special, &dctx, joiner, &options.refused);
    let subscriptions = Subscriptions::new(source, &sctx);

    let mut folders = mappings(&src, assigned, &dst, &subscriptions);
    sort_by_destination(&mut folders, dctx.delim, joiner);
    FolderPlan {
        folders,
        skipped: src.skipped,
    }
}

/// One mapping for INBOX and for every listed source folder that got a name.
fn mappings(
    src: &SourceFolders,
    assigned: Vec<Option<Assigned>>,
    dst: &DestinationFolders,
    subscriptions: &Subscriptions,
) -> Vec<FolderMapping> {
    let mut folders = Vec::new();
    if let Some(f) = src.inbox {
        folders.push(FolderMapping {
            source: f.name.clone(),
            destination: MailboxName::from_raw(INBOX),
            exists_at_destination: true,
            selectable: f.is_selectable(),
            create: false,
            subscribe: subscriptions.contains(f),
            special_use: None,
            notes: Vec::new(),
            all_mail: false,
        });
    }
    for (n, a) in src.nodes.iter().zip(assigned) {
        let (Some(f), Some(a)) = (n.folder, a) else {
            continue;
        };
        let exists = dst.has(a.name.display(), n.selectable);
        let has_children = src.parents_with_children.contains(&n.path);
        folders.push(FolderMapping {
            source: MailboxName::from_raw(n.raw.clone()),
            destination: a.name,
            exists_at_destination: exists,
            selectable: n.selectable,
            create: !exists && (n.selectable || !has_children),
            subscribe: subscriptions.contains(f),
            special_use: a.special_use,
            notes: {
                let mut notes = a.notes;
                if n.all_mail {
                    notes.push(MappingNote::AllMailRemainder);
                }
                notes
            },
            all_mail: n.all_mail,
        });
    }
    folders
}

/// By destination path: INBOX first, parents before children, then by raw source name.
fn sort_by_destination(folders: &mut [FolderMapping], dest_delim: Option<char>, joiner: char) {
    folders.sort_by_cached_key(|m| {
        let key = name_key(m.destination.display(), dest_delim);
        let comps: Vec<String> = key.split(joiner).map(str::to_string).collect();
        (key != INBOX, comps, m.source.clone())
    });
}

#[cfg(test)]
mod test_support;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::names::{strip_inbox_child, strip_ns_prefix};
    use super::*;
    use crate::mutf7;
    use crate::plan::test_support::*;
    use proptest::prelude::*;

    #[test]
    fn plan_is_sorted_parents_first() {
        let src = slash(&[
            ("Zeta", NONE),
            ("Alpha/Beta", NONE),
            ("Alpha", NONE),
            ("Alpha Beta", NONE),
        ]);
        let p = plan(&src, &slash(&[]));
        let order: Vec<&str> = p.folders.iter().map(|m| m.destination.raw()).collect();
        assert_eq!(
            order,
            vec!["INBOX", "Alpha", "Alpha/Beta", "Alpha Beta", "Zeta"]
        );
    }

    #[test]
    fn plan_delimiter_without_namespace() {
        let side = Side {
            folders: vec![f("INBOX", '.', &[]), f("INBOX.x", '.', &[])],
            ..Side::default()
        };
        assert_eq!(side.effective_delimiter(), Some('.'));
        assert_eq!(side.prefix(), "");
        let p = plan(&side, &slash(&[]));
        // Without NAMESPACE the prefix is empty: INBOX.x is a child of INBOX.
        assert_eq!(d(&p, "INBOX.x"), "INBOX/x");
        let explicit = Side {
            delimiter: Some('/'),
            ..side
        };
        assert_eq!(explicit.effective_delimiter(), Some('/'));
    }

    #[test]
    fn plan_stored_with_display_fields_still_reads() {
        // A plan as stored in a job's result before names became `MailboxName`.
        let old = r#"{"folders":[{"source":"Entw&APw-rfe","destination":"INBOX.Entw&APw-rfe",
            "source_display":"Entwürfe","destination_display":"INBOX.Entwürfe",
            "exists_at_destination":false,"selectable":true,"create":true,"subscribe":false,
            "special_use":"drafts","notes":[{"kind":"collision","with":"Entw&APw-rfe (x)",
            "wanted":"INBOX.Entw&APw-rfe"}]}],
            "skipped":[{"source":"Ghost","source_display":"Ghost","reason":"non_existent"}]}"#;
        let p: FolderPlan = serde_json::from_str(old).unwrap();
        let m = &p.folders[0];
        assert_eq!(m.source, "Entw&APw-rfe");
        assert_eq!(m.source.display(), "Entwürfe");
        assert_eq!(m.destination.display(), "INBOX.Entwürfe");
        assert_eq!(
            m.notes[0].to_string(),
            "renamed: INBOX.Entwürfe is taken by source folder Entwürfe (x)"
        );
        assert_eq!(p.skipped[0].source, "Ghost");
        assert_eq!(p.skipped[0].reason, SkipReason::NonExistent);
        // Written back with the raw names only.
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["folders"][0]["source"], "Entw&APw-rfe");
        assert_eq!(
            json["folders"][0]["notes"][0]["wanted"],
            "INBOX.Entw&APw-rfe"
        );
        assert!(json["folders"][0].get("source_display").is_none());
        assert_eq!(serde_json::from_value::<FolderPlan>(json).unwrap(), p);
    }

    // ---------------------------------------------------------------------------------------
    // Properties

    fn component() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => prop::sample::select(vec![
                "Sub", "INBOX", "inbox", "Sent", "Sent Items", "Spam", "Trash", "a.b", "a_b",
                "a/b", "Boîte", "日本", "&", "x (2)", "", "[Gmail]", "All Mail",
            ])
            .prop_map(str::to_string),
            2 => "[abAB._/&é日 -]{0,4}",
        ]
    }

    fn attributes() -> impl Strategy<Value = Vec<String>> {
        prop::sample::subsequence(
            vec![
                "\\Noselect",
                "\\NonExistent",
                "\\Sent",
                "\\Trash",
                "\\Junk",
                "\\All",
                "\\Subscribed",
            ],
            0..=2,
        )
        .prop_map(|v| v.into_iter().map(str::to_string).collect())
    }

    /// A side: `/` without prefix or `.` with `INBOX.`; random names (some below INBOX, a few
    /// not valid modified UTF-7), attributes and subscriptions.
    fn side() -> impl Strategy<Value = Side> {
        let entry = (
            prop::collection::vec(component(), 1..=3),
            attributes(),
            any::<bool>(),
            prop::bool::weighted(0.05),
        );
        (
            any::<bool>(),
            prop::collection::vec(entry, 0..10),
            any::<u16>(),
        )
            .prop_map(|(is_slash, entries, sub_mask)| {
                let (delim, prefix) = if is_slash { ('/', "") } else { ('.', "INBOX.") };
                let mut folders = vec![Folder {
                    name: "INBOX".into(),
                    delimiter: Some(delim),
                    attributes: vec![],
                }];
                for (comps, attributes, under_inbox, raw_utf8) in entries {
                    let joined = comps.join(&delim.to_string());
                    let name = if is_slash && under_inbox {
                        format!("INBOX/{joined}")
                    } else {
                        format!("{prefix}{joined}")
                    };
                    folders.push(Folder {
                        name: MailboxName::from_raw(if raw_utf8 {
                            name
                        } else {
                            mutf7::encode(&name)
                        }),
                        delimiter: Some(delim),
                        attributes,
                    });
                }
                let subscribed = folders
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| sub_mask & (1 << (i % 16)) != 0)
                    .map(|(_, f)| f.name.raw().to_string())
                    .collect();
                Side {
                    folders,
                    namespace: Some(Namespace {
                        prefix: prefix.into(),
                        delimiter: Some(delim),
                    }),
                    subscribed,
                    delimiter: None,
                }
            })
    }

    fn shuffled(s: Side) -> impl Strategy<Value = (Side, Side)> {
        let folders = s.folders.clone();
        (Just(s), Just(folders).prop_shuffle()).prop_map(|(s, folders)| {
            let shuffled = Side {
                folders,
                ..s.clone()
            };
            (s, shuffled)
        })
    }

    /// Number of path components of a source name, counting INBOX for INBOX's children when
    /// the destination keeps them there (no prefix).
    fn source_depth(src: &Side, raw: &str, dest_root_is_inbox: bool) -> usize {
        let display = mutf7::decode_lossy(raw);
        let delim = src.effective_delimiter().unwrap();
        if src.prefix().is_empty() {
            match strip_inbox_child(&display, delim) {
                Some(rest) => rest.split(delim).count() + usize::from(!dest_root_is_inbox),
                None => display.split(delim).count(),
            }
        } else {
            strip_ns_prefix(&display, src.prefix())
                .unwrap()
                .split(delim)
                .count()
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn plan_properties(
            (src, src_shuffled) in side().prop_flat_map(shuffled),
            (dst, dst_shuffled) in side().prop_flat_map(shuffled),
            gmail in any::<bool>(),
        ) {
            let opts = PlanOptions { include_gmail_virtual: gmail, ..PlanOptions::default() };
            let p = plan_folders(&src, &dst, &opts);

            // Deterministic under permutation of either LIST.
            prop_assert_eq!(&plan_folders(&src_shuffled, &dst_shuffled, &opts), &p);

            // Every source folder is either mapped or skipped, once.
            let mut seen: Vec<&str> = p.folders.iter().map(|m| m.source.raw())
                .chain(p.skipped.iter().map(|s| s.source.raw())).collect();
            seen.sort_unstable();
            let mut listed: Vec<&str> = src.folders.iter().map(|f| f.name.raw()).collect();
            listed.sort_unstable();
            listed.dedup();
            prop_assert_eq!(seen, listed);

            let ddelim = dst.effective_delimiter().unwrap();
            let dprefix = dst.prefix();
            let root_is_inbox = !dprefix.is_empty();
            let mut keys = BTreeSet::new();
            for (i, m) in p.folders.iter().enumerate() {
                // No two mappings share a destination (INBOX case-insensitively).
                prop_assert!(keys.insert(name_key(m.destination.display(), Some(ddelim))),
                    "duplicate destination {:?}", m.destination.display());
                prop_assert_eq!(mutf7::decode_lossy(m.destination.raw()), m.destination.display().to_string());
                if m.destination == "INBOX" {
                    continue;
                }
                // Every destination name lies in the destination's personal namespace.
                let rest = strip_ns_prefix(m.destination.display(), dprefix);
                prop_assert!(rest.is_some(), "{:?} outside {:?}", m.destination.display(), dprefix);
                let dest_comps: Vec<&str> = rest.unwrap_or_default().split(ddelim).collect();
                // Parents come first.
                for (j, other) in p.folders.iter().enumerate() {
                    if m.destination.display().starts_with(&format!("{}{ddelim}", other.destination.display())) {
                        prop_assert!(j < i, "{:?} after its child {:?}", other.destination.display(), m.destination.display());
                    }
                }
                let merged = m.notes.iter().any(|n| matches!(n, MappingNote::SpecialUseMatched { .. }));
                let sdelim = src.effective_delimiter();
                let below_merged = p.folders.iter().any(|o| {
                    o.notes.iter().any(|n| matches!(n, MappingNote::SpecialUseMatched { .. }))
                        && name_key(m.source.display(), sdelim).starts_with(&name_key(o.source.display(), sdelim))
                });
                // The `\\All` folder is named as the archive.
                if !merged && !below_merged && !m.all_mail {
                    // Names made here have no empty component (the destination's own folders
                    // merged into may).
                    prop_assert!(dest_comps.iter().all(|c| !c.is_empty()), "{:?}", m.destination.display());
                    prop_assert_eq!(mutf7::encode(m.destination.display()), m.destination.raw());
                    // One destination component per source component: no separator leaked.
                    prop_assert_eq!(
                        dest_comps.len(),
                        source_depth(&src, m.source.raw(), root_is_inbox),
                        "{:?} -> {:?}", m.source.display(), m.destination.display()
                    );
                }
            }
        }
    }
}
