//! The folder planner: which destination folder every source folder goes to.
//!
//! Pure (sans-I/O): the inputs are what LIST, NAMESPACE and LSUB said on each side
//! ([`Side`]), the output a [`FolderPlan`] that the executor carries out and `--dry-run` shows
//! ([`render_plan`]). The same inputs in any order give the same plan.
//!
//! # Rules
//!
//! **Paths.** A source name is decoded from modified UTF-7 ([`crate::mutf7`]; a name that is
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
//! **Gmail.** `[Gmail]/All Mail`, `[Gmail]/Important`, `[Gmail]/Starred` (also under
//! `[Google Mail]`, recognized by `\All`, `\Important`, `\Flagged` so localized names work) are
//! views of labels and would duplicate every message: skipped unless
//! [`PlanOptions::include_gmail_virtual`].
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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::mutf7;
use crate::session::{Folder, Namespace};

const INBOX: &str = "INBOX";

/// A special-use folder (RFC 6154), from its attribute or, for the merged kinds, a known name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpecialUse {
    Sent,
    Drafts,
    Trash,
    Junk,
    Archive,
    /// Gmail's "All Mail".
    All,
    /// Gmail's "Starred".
    Flagged,
    /// Gmail's "Important" (not RFC 6154, but sent by Gmail).
    Important,
}

impl SpecialUse {
    /// Every kind, in the order used when one folder carries several attributes.
    pub const VARIANTS: [SpecialUse; 8] = [
        SpecialUse::Sent,
        SpecialUse::Drafts,
        SpecialUse::Trash,
        SpecialUse::Junk,
        SpecialUse::Archive,
        SpecialUse::All,
        SpecialUse::Flagged,
        SpecialUse::Important,
    ];

    /// The LIST attribute, e.g. `\Sent`.
    pub fn attribute(self) -> &'static str {
        match self {
            SpecialUse::Sent => "\\Sent",
            SpecialUse::Drafts => "\\Drafts",
            SpecialUse::Trash => "\\Trash",
            SpecialUse::Junk => "\\Junk",
            SpecialUse::Archive => "\\Archive",
            SpecialUse::All => "\\All",
            SpecialUse::Flagged => "\\Flagged",
            SpecialUse::Important => "\\Important",
        }
    }

    /// The kind named by a LIST attribute (case-insensitive).
    pub fn from_attribute(attr: &str) -> Option<SpecialUse> {
        SpecialUse::VARIANTS
            .into_iter()
            .find(|k| k.attribute().eq_ignore_ascii_case(attr))
    }

    /// The first kind (in [`SpecialUse::VARIANTS`] order) among a folder's attributes.
    pub fn of_folder(folder: &Folder) -> Option<SpecialUse> {
        SpecialUse::VARIANTS
            .into_iter()
            .find(|k| folder.has_attribute(k.attribute()))
    }

    /// Whether source and destination folders of this kind are merged.
    pub fn is_merged(self) -> bool {
        matches!(
            self,
            SpecialUse::Sent
                | SpecialUse::Drafts
                | SpecialUse::Trash
                | SpecialUse::Junk
                | SpecialUse::Archive
        )
    }

    /// Lower-case folder names that identify this kind on servers without SPECIAL-USE
    /// (English, Spanish, French, German; common client and server defaults first).
    pub fn known_names(self) -> &'static [&'static str] {
        match self {
            SpecialUse::Sent => &[
                "sent",
                "sent items",
                "sent messages",
                "sent mail",
                "enviados",
                "elementos enviados",
                "envoyés",
                "éléments envoyés",
                "messages envoyés",
                "gesendet",
                "gesendete objekte",
                "gesendete elemente",
            ],
            SpecialUse::Drafts => &["drafts", "borradores", "brouillons", "entwürfe"],
            SpecialUse::Trash => &[
                "trash",
                "deleted items",
                "deleted messages",
                "papelera",
                "elementos eliminados",
                "corbeille",
                "éléments supprimés",
                "papierkorb",
                "gelöschte objekte",
                "gelöschte elemente",
            ],
            SpecialUse::Junk => &[
                "junk",
                "spam",
                "junk e-mail",
                "junk email",
                "correo no deseado",
                "courrier indésirable",
                "indésirables",
                "junk-e-mail",
            ],
            SpecialUse::Archive => &["archive", "archives", "archivo", "archiv"],
            SpecialUse::All | SpecialUse::Flagged | SpecialUse::Important => &[],
        }
    }
}

impl fmt::Display for SpecialUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.attribute())
    }
}

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
            .filter(|f| is_inbox(&f.name))
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
    /// Copy Gmail's `All Mail`, `Important` and `Starred` too (off: they duplicate everything).
    pub include_gmail_virtual: bool,
    /// Raw destination names the destination refused to CREATE; a new plan avoids them.
    pub refused: BTreeSet<String>,
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
    /// Raw source name as the server sent it (modified UTF-7): the identity.
    pub source: String,
    /// Raw destination name to CREATE / SELECT / APPEND to (modified UTF-7).
    pub destination: String,
    /// Decoded source name, for people.
    pub source_display: String,
    /// Decoded destination name, for people.
    pub destination_display: String,
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
}

/// What the planner did to a name, shown in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MappingNote {
    /// Another source folder (raw name `with`) got the destination name `wanted` (raw) first;
    /// this one got a ` (n)` suffix.
    Collision { with: String, wanted: String },
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
            MappingNote::Collision { with, wanted } => write!(
                f,
                "renamed: {} is taken by source folder {}",
                mutf7::decode_lossy(wanted),
                mutf7::decode_lossy(with)
            ),
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
    /// Raw source name.
    pub source: String,
    pub source_display: String,
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
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Name analysis

fn is_inbox(s: &str) -> bool {
    s.eq_ignore_ascii_case(INBOX)
}

/// The rest of `s` after `INBOX` + `delim` (INBOX case-insensitive).
fn strip_inbox_child(s: &str, delim: char) -> Option<&str> {
    if !is_inbox(s.get(..INBOX.len())?) {
        return None;
    }
    s.get(INBOX.len()..)?.strip_prefix(delim)
}

/// `s` without the namespace prefix; an `INBOX` at the start of the prefix matches in any case.
fn strip_ns_prefix<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
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
fn name_key(name: &str, delim: Option<char>) -> String {
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
struct PathKey {
    /// Below INBOX on a server whose personal root is not INBOX (`INBOX/Sub` on a `/` server):
    /// `comps` then exclude the `INBOX`.
    via_inbox: bool,
    comps: Vec<String>,
}

impl PathKey {
    fn parent(&self) -> Option<PathKey> {
        match self.comps.split_last() {
            Some((_, init)) if !init.is_empty() => Some(PathKey {
                via_inbox: self.via_inbox,
                comps: init.to_vec(),
            }),
            _ => None,
        }
    }

    fn leaf(&self) -> &str {
        self.comps.last().map(String::as_str).unwrap_or_default()
    }
}

enum Place {
    Inbox,
    Path(PathKey),
    NamespaceRoot,
    Outside,
}

/// What the planner needs to know about one side's naming.
struct SideCtx {
    delim: Option<char>,
    /// Decoded personal prefix.
    prefix: String,
    /// The personal namespace is INBOX itself (prefix `INBOX` + separator).
    root_is_inbox: bool,
}

impl SideCtx {
    fn new(side: &Side) -> SideCtx {
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

    fn split(&self, rest: &str) -> Vec<String> {
        match self.delim {
            Some(d) => rest.split(d).map(str::to_string).collect(),
            None => vec![rest.to_string()],
        }
    }

    fn place(&self, raw: &str, display: &str) -> Place {
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
    fn name_of(&self, path: &PathKey) -> String {
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
fn decode_name(raw: &str) -> (String, bool) {
    match mutf7::decode(raw) {
        Ok(d) => (d, true),
        Err(_) => (mutf7::decode_lossy(raw), false),
    }
}

/// Sorted by raw name, one entry per name (permutation-independent input).
fn canonical_folders(folders: &[Folder]) -> Vec<&Folder> {
    let mut v: Vec<&Folder> = folders.iter().collect();
    v.sort_by(|a, b| {
        (&a.name, &a.attributes, a.delimiter).cmp(&(&b.name, &b.attributes, b.delimiter))
    });
    v.dedup_by(|a, b| a.name == b.name);
    v
}

/// Gmail's virtual folders: `[Gmail]/All Mail`, `[Gmail]/Important`, `[Gmail]/Starred`
/// (`[Google Mail]` in some countries; localized names, so recognized by attribute).
fn is_gmail_virtual(path: &PathKey, folder: &Folder) -> bool {
    let [top, name] = path.comps.as_slice() else {
        return false;
    };
    if path.via_inbox
        || !(top.eq_ignore_ascii_case("[Gmail]") || top.eq_ignore_ascii_case("[Google Mail]"))
    {
        return false;
    }
    ["\\All", "\\Important", "\\Flagged"]
        .iter()
        .any(|a| folder.has_attribute(a))
        || ["all mail", "important", "starred"].contains(&name.to_lowercase().as_str())
}

/// A folder that may be a side's folder of some special use.
struct SpecialItem {
    path: PathKey,
    raw: String,
    selectable: bool,
    attributes: Vec<String>,
}

impl SpecialItem {
    fn has(&self, attr: &str) -> bool {
        self.attributes.iter().any(|a| a.eq_ignore_ascii_case(attr))
    }

    fn any_special_attribute(&self) -> bool {
        SpecialUse::VARIANTS.iter().any(|k| self.has(k.attribute()))
    }
}

/// The side's folder of `kind`: by attribute (shallowest, then raw name) if any selectable
/// folder carries it, else by known name among top-level folders and direct INBOX children.
fn pick_special(
    items: &[SpecialItem],
    kind: SpecialUse,
    used: &BTreeSet<usize>,
) -> Option<(usize, MatchedBy)> {
    let attr = kind.attribute();
    if items.iter().any(|it| it.selectable && it.has(attr)) {
        return items
            .iter()
            .enumerate()
            .filter(|(i, it)| it.selectable && it.has(attr) && !used.contains(i))
            .min_by(|(_, a), (_, b)| {
                (a.path.comps.len(), a.path.via_inbox, &a.raw).cmp(&(
                    b.path.comps.len(),
                    b.path.via_inbox,
                    &b.raw,
                ))
            })
            .map(|(i, _)| (i, MatchedBy::Attribute));
    }
    let names = kind.known_names();
    items
        .iter()
        .enumerate()
        .filter(|(i, it)| {
            it.selectable
                && it.path.comps.len() == 1
                && !used.contains(i)
                && !it.any_special_attribute()
        })
        .filter_map(|(i, it)| {
            let lower = it.path.leaf().to_lowercase();
            names
                .iter()
                .position(|n| *n == lower)
                .map(|pos| (pos, it.path.via_inbox, &it.raw, i))
        })
        .min()
        .map(|(.., i)| (i, MatchedBy::Name))
}

/// Replaces the destination's separator and control characters; an empty component becomes
/// the replacement character.
fn escape_component(comp: &str, dest_delim: Option<char>, notes: &mut Vec<MappingNote>) -> String {
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

fn needs_escape(comp: &str, dest_delim: Option<char>) -> bool {
    comp.is_empty()
        || comp
            .chars()
            .any(|c| Some(c) == dest_delim || c.is_control())
}

/// Letters, digits, space, `-` and `_` only (for names the destination refused).
fn strict_component(comp: &str) -> String {
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

/// A source folder taking part in naming.
struct Node<'a> {
    folder: Option<&'a Folder>,
    raw: String,
    display: String,
    valid: bool,
    path: PathKey,
    selectable: bool,
}

/// A destination chosen for a node.
struct Assigned {
    display: String,
    raw: String,
    notes: Vec<MappingNote>,
    special_use: Option<SpecialUse>,
}

/// Plans where every source folder goes. See the module documentation for the rules.
pub fn plan_folders(source: &Side, destination: &Side, options: &PlanOptions) -> FolderPlan {
    let sctx = SideCtx::new(source);
    let dctx = SideCtx::new(destination);
    let dest_delim = dctx.delim;
    // On a flat destination a source separator is just a character.
    let joiner = dest_delim.or(sctx.delim).unwrap_or('/');

    let subscribed: BTreeSet<String> = source
        .subscribed
        .iter()
        .map(|s| name_key(s, sctx.delim))
        .collect();
    let is_subscribed = |f: &Folder| {
        f.has_attribute("\\Subscribed") || subscribed.contains(&name_key(&f.name, sctx.delim))
    };

    // --- Source folders.
    let mut skipped = Vec::new();
    let mut inbox: Option<(&Folder, String)> = None;
    let mut nodes: Vec<Node> = Vec::new();
    let mut all_paths: BTreeSet<PathKey> = BTreeSet::new();
    for f in canonical_folders(&source.folders) {
        let (display, valid) = decode_name(&f.name);
        let skip = |reason| SkippedFolder {
            source: f.name.clone(),
            source_display: display.clone(),
            reason,
        };
        match sctx.place(&f.name, &display) {
            Place::Inbox if inbox.is_none() => inbox = Some((f, display)),
            // A second spelling of INBOX (servers send one): an ordinary top-level name, which
            // then collides with INBOX and gets a suffix.
            Place::Inbox => {
                let path = PathKey {
                    via_inbox: false,
                    comps: vec![display.clone()],
                };
                all_paths.insert(path.clone());
                nodes.push(Node {
                    folder: Some(f),
                    raw: f.name.clone(),
                    display,
                    valid,
                    path,
                    selectable: f.is_selectable(),
                });
            }
            Place::NamespaceRoot => skipped.push(skip(SkipReason::NamespaceRoot)),
            // Other users' and shared folders some servers list with the personal ones
            // (Cyrus: `user.<name>.…`, `shared.…` beside `INBOX.…`; Dovecot shared namespaces
            // with `list = yes`).
            Place::Outside => skipped.push(skip(SkipReason::OutsidePersonalNamespace)),
            Place::Path(path) => {
                all_paths.insert(path.clone());
                if f.has_attribute("\\NonExistent") {
                    skipped.push(skip(SkipReason::NonExistent));
                } else if !options.include_gmail_virtual && is_gmail_virtual(&path, f) {
                    skipped.push(skip(SkipReason::GmailVirtual));
                } else {
                    nodes.push(Node {
                        folder: Some(f),
                        raw: f.name.clone(),
                        display,
                        valid,
                        path,
                        selectable: f.is_selectable(),
                    });
                }
            }
        }
    }
    skipped.sort_by(|a, b| a.source.cmp(&b.source));

    // Parents the source does not list (or lists as \NonExistent) still take part in naming.
    let present: BTreeSet<PathKey> = nodes.iter().map(|n| n.path.clone()).collect();
    let mut implied: BTreeSet<PathKey> = BTreeSet::new();
    for n in &nodes {
        let mut p = n.path.parent();
        while let Some(pp) = p {
            if present.contains(&pp) {
                break;
            }
            p = pp.parent();
            implied.insert(pp);
        }
    }
    for path in implied {
        let display = sctx.name_of(&path);
        nodes.push(Node {
            folder: None,
            raw: mutf7::encode(&display),
            display,
            valid: true,
            path,
            selectable: false,
        });
    }
    let parents_with_children: BTreeSet<PathKey> =
        all_paths.iter().filter_map(PathKey::parent).collect();

    // --- Destination folders.
    let mut dest_index: BTreeMap<String, &Folder> = BTreeMap::new();
    let mut dest_items: Vec<SpecialItem> = Vec::new();
    for f in canonical_folders(&destination.folders) {
        if f.has_attribute("\\NonExistent") {
            continue;
        }
        let display = mutf7::decode_lossy(&f.name);
        dest_index
            .entry(name_key(&display, dest_delim))
            .or_insert(f);
        if let Place::Path(path) = dctx.place(&f.name, &display) {
            dest_items.push(SpecialItem {
                path,
                raw: f.name.clone(),
                selectable: f.is_selectable(),
                attributes: f.attributes.clone(),
            });
        }
    }

    // --- Special-use merges.
    let src_items: Vec<SpecialItem> = nodes
        .iter()
        .map(|n| SpecialItem {
            path: n.path.clone(),
            raw: n.raw.clone(),
            selectable: n.selectable && n.folder.is_some(),
            attributes: n.folder.map(|f| f.attributes.clone()).unwrap_or_default(),
        })
        .collect();
    let mut src_used = BTreeSet::new();
    let mut dst_used: BTreeSet<usize> = dest_items
        .iter()
        .enumerate()
        .filter(|(_, it)| options.refused.contains(&it.raw))
        .map(|(i, _)| i)
        .collect();
    let mut picked: BTreeMap<usize, SpecialUse> = BTreeMap::new();
    let mut merges: Vec<(usize, usize, SpecialUse, MatchedBy, MatchedBy)> = Vec::new();
    let mut not_at_dest: BTreeMap<usize, SpecialUse> = BTreeMap::new();
    for kind in SpecialUse::VARIANTS.into_iter().filter(|k| k.is_merged()) {
        let Some((si, source_by)) = pick_special(&src_items, kind, &src_used) else {
            continue;
        };
        src_used.insert(si);
        picked.insert(si, kind);
        match pick_special(&dest_items, kind, &dst_used) {
            Some((di, destination_by)) => {
                dst_used.insert(di);
                merges.push((si, di, kind, source_by, destination_by));
            }
            None => {
                not_at_dest.insert(si, kind);
            }
        }
    }

    // --- Naming.
    let mut taken: BTreeMap<String, String> = BTreeMap::new();
    taken.insert(
        INBOX.to_string(),
        inbox
            .as_ref()
            .map(|(f, _)| f.name.clone())
            .unwrap_or_else(|| INBOX.to_string()),
    );
    let mut assigned: Vec<Option<Assigned>> = nodes.iter().map(|_| None).collect();
    let mut dest_of: BTreeMap<PathKey, String> = BTreeMap::new();

    for (si, di, kind, source_by, destination_by) in merges {
        let (Some(node), Some(item)) = (nodes.get(si), dest_items.get(di)) else {
            continue;
        };
        let display = mutf7::decode_lossy(&item.raw);
        let key = name_key(&display, dest_delim);
        if taken.contains_key(&key) {
            continue;
        }
        taken.insert(key, node.raw.clone());
        dest_of
            .entry(node.path.clone())
            .or_insert_with(|| display.clone());
        if let Some(slot) = assigned.get_mut(si) {
            *slot = Some(Assigned {
                display,
                raw: item.raw.clone(),
                notes: vec![MappingNote::SpecialUseMatched {
                    special_use: kind,
                    source_by,
                    destination_by,
                }],
                special_use: Some(kind),
            });
        }
    }

    let lifted = |n: &Node| n.path.via_inbox && dctx.root_is_inbox;
    let mut order: Vec<usize> = (0..nodes.len())
        .filter(|i| assigned.get(*i).is_some_and(Option::is_none))
        .collect();
    order.sort_by_cached_key(|i| {
        nodes.get(*i).map(|n| {
            let transformed = lifted(n) || !n.valid || needs_escape(n.path.leaf(), dest_delim);
            (
                n.path.comps.len(),
                transformed,
                n.path.comps.clone(),
                n.path.via_inbox,
                n.raw.clone(),
            )
        })
    });
    let refused = |display: &str| options.refused.contains(&mutf7::encode(display));

    for i in order {
        let Some(n) = nodes.get(i) else { continue };
        let mut notes = Vec::new();
        if !n.valid {
            notes.push(MappingNote::Renamed {
                reason: RenameReason::InvalidSourceEncoding,
            });
        }
        if lifted(n) && n.path.comps.len() == 1 {
            notes.push(MappingNote::InboxChildLifted);
        }
        let base = match n.path.parent() {
            Some(pp) => match dest_of.get(&pp) {
                Some(d) => format!("{d}{joiner}"),
                // Not reached: parents are named before their children. Kept total anyway.
                None => format!(
                    "{}{}{joiner}",
                    dctx.prefix,
                    pp.comps.join(&joiner.to_string())
                ),
            },
            None if n.path.via_inbox && !dctx.root_is_inbox => format!("{INBOX}{joiner}"),
            None => dctx.prefix.clone(),
        };
        let mut leaf = escape_component(n.path.leaf(), dest_delim, &mut notes);
        if refused(&format!("{base}{leaf}")) {
            notes.push(MappingNote::Renamed {
                reason: RenameReason::Refused,
            });
            leaf = strict_component(&leaf);
        }
        let wanted = format!("{base}{leaf}");
        let free = |name: &str| !taken.contains_key(&name_key(name, dest_delim)) && !refused(name);
        let display = if free(&wanted) {
            wanted
        } else {
            let mut k: u64 = 2;
            let name = loop {
                let candidate = format!("{base}{leaf} ({k})");
                if free(&candidate) {
                    break candidate;
                }
                k += 1;
            };
            if let Some(with) = taken.get(&name_key(&wanted, dest_delim)) {
                notes.push(MappingNote::Collision {
                    with: with.clone(),
                    wanted: mutf7::encode(&wanted),
                });
            }
            name
        };
        taken.insert(name_key(&display, dest_delim), n.raw.clone());
        dest_of
            .entry(n.path.clone())
            .or_insert_with(|| display.clone());
        if let Some(kind) = not_at_dest.get(&i) {
            notes.push(MappingNote::SpecialUseNotAtDestination { special_use: *kind });
        }
        let special_use = picked
            .get(&i)
            .copied()
            .or_else(|| n.folder.and_then(SpecialUse::of_folder));
        if let Some(slot) = assigned.get_mut(i) {
            *slot = Some(Assigned {
                raw: mutf7::encode(&display),
                display,
                notes,
                special_use,
            });
        }
    }

    // --- Mappings.
    let mut folders = Vec::new();
    if let Some((f, display)) = inbox {
        folders.push(FolderMapping {
            source: f.name.clone(),
            destination: INBOX.to_string(),
            source_display: display,
            destination_display: INBOX.to_string(),
            exists_at_destination: true,
            selectable: f.is_selectable(),
            create: false,
            subscribe: is_subscribed(f),
            special_use: None,
            notes: Vec::new(),
        });
    }
    for (n, a) in nodes.iter().zip(assigned) {
        let (Some(f), Some(a)) = (n.folder, a) else {
            continue;
        };
        let exists = dest_index
            .get(&name_key(&a.display, dest_delim))
            .is_some_and(|d| !n.selectable || d.is_selectable());
        let has_children = parents_with_children.contains(&n.path);
        folders.push(FolderMapping {
            source: n.raw.clone(),
            destination: a.raw,
            source_display: n.display.clone(),
            destination_display: a.display,
            exists_at_destination: exists,
            selectable: n.selectable,
            create: !exists && (n.selectable || !has_children),
            subscribe: is_subscribed(f),
            special_use: a.special_use,
            notes: a.notes,
        });
    }
    folders.sort_by_cached_key(|m| {
        let key = name_key(&m.destination_display, dest_delim);
        let comps: Vec<String> = key.split(joiner).map(str::to_string).collect();
        (key != INBOX, comps, m.source.clone())
    });
    FolderPlan { folders, skipped }
}

/// The plan as a text table (for `--dry-run` and logs).
pub fn render_plan(plan: &FolderPlan) -> String {
    let rows: Vec<[String; 3]> = plan
        .folders
        .iter()
        .map(|m| {
            let mut what = Vec::new();
            what.push(
                if m.exists_at_destination {
                    "exists"
                } else if m.create {
                    "create"
                } else {
                    "created with its children"
                }
                .to_string(),
            );
            if !m.selectable {
                what.push("no messages (\\Noselect)".to_string());
            }
            if m.subscribe {
                what.push("subscribe".to_string());
            }
            if let Some(k) = m.special_use {
                if !m.notes.iter().any(|n| {
                    matches!(
                        n,
                        MappingNote::SpecialUseMatched { .. }
                            | MappingNote::SpecialUseNotAtDestination { .. }
                    )
                }) {
                    what.push(k.to_string());
                }
            }
            what.extend(m.notes.iter().map(ToString::to_string));
            [
                m.source_display.clone(),
                m.destination_display.clone(),
                what.join("; "),
            ]
        })
        .collect();
    let header = [
        "Source".to_string(),
        "Destination".to_string(),
        "Action and notes".to_string(),
    ];
    let width = |col: usize| {
        std::iter::once(&header)
            .chain(rows.iter())
            .filter_map(|r| r.get(col))
            .map(|s| s.chars().count())
            .max()
            .unwrap_or(0)
    };
    let (w0, w1) = (width(0), width(1));
    let mut out = String::new();
    let to_create = plan.to_create().count();
    out.push_str(&format!(
        "Folders: {} to copy ({} to create), {} skipped\n",
        plan.folders.len(),
        to_create,
        plan.skipped.len()
    ));
    for [a, b, c] in std::iter::once(&header).chain(rows.iter()) {
        let line = format!("  {a:<w0$}  →  {b:<w1$}  {c}");
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if !plan.skipped.is_empty() {
        out.push_str("Skipped:\n");
        for s in &plan.skipped {
            out.push_str(&format!("  {}  ({})\n", s.source_display, s.reason));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A folder from a UTF-8 name (encoded to modified UTF-7 like a server would send it).
    fn f(name: &str, delim: char, attrs: &[&str]) -> Folder {
        Folder {
            name: mutf7::encode(name),
            delimiter: Some(delim),
            attributes: attrs.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// A `/` server without prefix (Dovecot `Slash`); names as `(utf8, attributes)`.
    fn slash(folders: &[(&str, &[&str])]) -> Side {
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
    fn dot(folders: &[(&str, &[&str])]) -> Side {
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

    fn plan(src: &Side, dst: &Side) -> FolderPlan {
        plan_folders(src, dst, &PlanOptions::default())
    }

    /// Source display name → destination display name.
    fn dest<'a>(p: &'a FolderPlan, source_display: &str) -> &'a FolderMapping {
        p.folders
            .iter()
            .find(|m| m.source_display == source_display)
            .unwrap_or_else(|| panic!("no mapping for {source_display:?} in {p:#?}"))
    }

    fn d<'a>(p: &'a FolderPlan, source_display: &str) -> &'a str {
        &dest(p, source_display).destination_display
    }

    const NONE: &[&str] = &[];

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
    fn plan_inbox_children_collide_with_top_level_deterministically() {
        let src = slash(&[
            ("INBOX/Sub", NONE),
            ("INBOX/Sub/Deep", NONE),
            ("Sub", NONE),
            ("Sub/Deep", NONE),
            ("INBOX/Only", NONE),
        ]);
        let p = plan(&src, &dot(&[]));
        assert_eq!(d(&p, "Sub"), "INBOX.Sub");
        assert_eq!(d(&p, "Sub/Deep"), "INBOX.Sub.Deep");
        assert_eq!(d(&p, "INBOX/Sub"), "INBOX.Sub (2)");
        assert_eq!(d(&p, "INBOX/Sub/Deep"), "INBOX.Sub (2).Deep");
        assert_eq!(d(&p, "INBOX/Only"), "INBOX.Only");
        assert_eq!(
            dest(&p, "INBOX/Sub").notes,
            vec![
                MappingNote::InboxChildLifted,
                MappingNote::Collision {
                    with: "Sub".into(),
                    wanted: "INBOX.Sub".into()
                }
            ]
        );
        assert_eq!(
            dest(&p, "INBOX/Only").notes,
            vec![MappingNote::InboxChildLifted]
        );
        // LIST order does not matter.
        let mut reversed = src.clone();
        reversed.folders.reverse();
        assert_eq!(plan(&reversed, &dot(&[])), p);
        // Between two servers without prefix INBOX's children stay there.
        let same = plan(&src, &slash(&[]));
        assert_eq!(d(&same, "INBOX/Sub"), "INBOX/Sub");
        assert_eq!(d(&same, "Sub"), "Sub");
        assert!(same.folders.iter().all(|m| m.notes.is_empty()));
    }

    #[test]
    fn plan_folder_named_inbox_below_prefix_gets_suffix() {
        let src = dot(&[("INBOX.INBOX", NONE), ("INBOX.inbox.x", NONE)]);
        let p = plan(&src, &slash(&[]));
        assert_eq!(d(&p, "INBOX"), "INBOX");
        assert_eq!(d(&p, "INBOX.INBOX"), "INBOX (2)");
        // `inbox` (implied parent) is INBOX case-insensitively too; `inbox (2)` is free.
        assert_eq!(d(&p, "INBOX.inbox.x"), "inbox (2)/x");
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
                    with: "v1_2".into(),
                    wanted: "INBOX.v1_2".into()
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
        assert_eq!(m.destination_display, "INBOX.Ünïcödé & Co");
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

    #[test]
    fn plan_special_use_by_attribute() {
        let src = slash(&[
            ("Sent", &["\\Sent"]),
            ("Sent/2019", NONE),
            ("Trash", &["\\Trash"]),
        ]);
        let dst = dot(&[
            ("INBOX.Sent Items", &["\\Sent"]),
            ("INBOX.Deleted Items", &["\\Trash"]),
        ]);
        let p = plan(&src, &dst);
        let sent = dest(&p, "Sent");
        assert_eq!(sent.destination, "INBOX.Sent Items");
        assert!(sent.exists_at_destination);
        assert!(!sent.create);
        assert_eq!(sent.special_use, Some(SpecialUse::Sent));
        assert_eq!(
            sent.notes,
            vec![MappingNote::SpecialUseMatched {
                special_use: SpecialUse::Sent,
                source_by: MatchedBy::Attribute,
                destination_by: MatchedBy::Attribute
            }]
        );
        assert_eq!(d(&p, "Sent/2019"), "INBOX.Sent Items.2019");
        assert_eq!(d(&p, "Trash"), "INBOX.Deleted Items");
    }

    #[test]
    fn plan_special_use_by_name_without_special_use() {
        let src = slash(&[
            ("Gesendete Objekte", NONE),
            ("Entwürfe", NONE),
            ("Corbeille", NONE),
            ("Courrier indésirable", NONE),
            ("Archivo", NONE),
            ("Work/Sent", NONE), // too deep for a name match
        ]);
        let dst = dot(&[
            ("INBOX.Sent", NONE),
            ("INBOX.Drafts", NONE),
            ("INBOX.Trash", NONE),
            ("INBOX.Spam", NONE),
            ("INBOX.Archive", NONE),
        ]);
        let p = plan(&src, &dst);
        assert_eq!(d(&p, "Gesendete Objekte"), "INBOX.Sent");
        assert_eq!(d(&p, "Entwürfe"), "INBOX.Drafts");
        assert_eq!(d(&p, "Corbeille"), "INBOX.Trash");
        assert_eq!(d(&p, "Courrier indésirable"), "INBOX.Spam");
        assert_eq!(d(&p, "Archivo"), "INBOX.Archive");
        assert_eq!(d(&p, "Work/Sent"), "INBOX.Work.Sent");
        assert_eq!(
            dest(&p, "Gesendete Objekte").notes,
            vec![MappingNote::SpecialUseMatched {
                special_use: SpecialUse::Sent,
                source_by: MatchedBy::Name,
                destination_by: MatchedBy::Name
            }]
        );
        // A direct child of INBOX on a server without prefix counts as top level.
        let p = plan(&slash(&[("INBOX/Elementos enviados", NONE)]), &dst);
        assert_eq!(d(&p, "INBOX/Elementos enviados"), "INBOX.Sent");
    }

    #[test]
    fn plan_special_use_missing_at_destination_maps_by_name() {
        let p = plan(&slash(&[("Sent Items", &["\\Sent"])]), &dot(&[]));
        let m = dest(&p, "Sent Items");
        assert_eq!(m.destination, "INBOX.Sent Items");
        assert!(m.create);
        assert_eq!(
            m.notes,
            vec![MappingNote::SpecialUseNotAtDestination {
                special_use: SpecialUse::Sent
            }]
        );
    }

    #[test]
    fn plan_special_use_first_wins_attribute_beats_name() {
        let dst = dot(&[("INBOX.Sent Items", &["\\Sent"])]);
        // Attribute beats name: `Enviados` carries \Sent, `Sent` does not.
        let p = plan(&slash(&[("Sent", NONE), ("Enviados", &["\\Sent"])]), &dst);
        assert_eq!(d(&p, "Enviados"), "INBOX.Sent Items");
        assert_eq!(d(&p, "Sent"), "INBOX.Sent");
        // Two with the attribute: the shallowest, then by raw name.
        let p = plan(
            &slash(&[("Sent Messages", &["\\Sent"]), ("Sent", &["\\Sent"])]),
            &dst,
        );
        assert_eq!(d(&p, "Sent"), "INBOX.Sent Items");
        assert_eq!(d(&p, "Sent Messages"), "INBOX.Sent Messages");
        assert_eq!(
            dest(&p, "Sent Messages").special_use,
            Some(SpecialUse::Sent)
        );
        // Two by name: earlier in the list of known names wins.
        let p = plan(&slash(&[("Sent Items", NONE), ("Sent", NONE)]), &dst);
        assert_eq!(d(&p, "Sent"), "INBOX.Sent Items");
        assert_eq!(d(&p, "Sent Items"), "INBOX.Sent Items (2)");
    }

    #[test]
    fn plan_special_use_target_collides_with_plain_folder() {
        let src = slash(&[("Sent", &["\\Sent"]), ("Sent Items", NONE)]);
        let dst = slash(&[("Sent Items", &["\\Sent"])]);
        let p = plan(&src, &dst);
        assert_eq!(d(&p, "Sent"), "Sent Items");
        assert_eq!(d(&p, "Sent Items"), "Sent Items (2)");
    }

    fn gmail() -> Side {
        slash(&[
            ("[Gmail]", &["\\Noselect", "\\HasChildren"]),
            ("[Gmail]/All Mail", &["\\All"]),
            ("[Gmail]/Important", &["\\Important"]),
            ("[Gmail]/Starred", &["\\Flagged"]),
            ("[Gmail]/Sent Mail", &["\\Sent"]),
            ("[Gmail]/Drafts", &["\\Drafts"]),
            ("[Gmail]/Spam", &["\\Junk"]),
            ("[Gmail]/Trash", &["\\Trash"]),
            ("Work", NONE),
        ])
    }

    #[test]
    fn plan_gmail_virtual_folders_skipped_by_default() {
        let dst = dot(&[
            ("INBOX.Sent", &["\\Sent"]),
            ("INBOX.Drafts", &["\\Drafts"]),
            ("INBOX.Junk", &["\\Junk"]),
            ("INBOX.Trash", &["\\Trash"]),
        ]);
        let p = plan(&gmail(), &dst);
        let skipped: Vec<(&str, SkipReason)> = p
            .skipped
            .iter()
            .map(|s| (s.source.as_str(), s.reason))
            .collect();
        assert_eq!(
            skipped,
            vec![
                ("[Gmail]/All Mail", SkipReason::GmailVirtual),
                ("[Gmail]/Important", SkipReason::GmailVirtual),
                ("[Gmail]/Starred", SkipReason::GmailVirtual),
            ]
        );
        assert_eq!(d(&p, "[Gmail]/Sent Mail"), "INBOX.Sent");
        assert_eq!(d(&p, "[Gmail]/Spam"), "INBOX.Junk");
        let container = dest(&p, "[Gmail]");
        assert!(!container.selectable);
        assert!(
            !container.create,
            "created only through its children, if at all"
        );
        assert_eq!(d(&p, "Work"), "INBOX.Work");

        let all = plan_folders(
            &gmail(),
            &dst,
            &PlanOptions {
                include_gmail_virtual: true,
                ..PlanOptions::default()
            },
        );
        assert!(all.skipped.is_empty());
        assert_eq!(d(&all, "[Gmail]/All Mail"), "INBOX.[Gmail].All Mail");
        assert_eq!(
            dest(&all, "[Gmail]/Starred").special_use,
            Some(SpecialUse::Flagged)
        );

        // Localized Google Mail, recognized by attribute.
        let de = slash(&[
            ("[Google Mail]", &["\\Noselect"]),
            ("[Google Mail]/Alle Nachrichten", &["\\All"]),
            ("[Google Mail]/Markiert", &["\\Flagged"]),
        ]);
        assert_eq!(plan(&de, &dst).skipped.len(), 2);
    }

    #[test]
    fn plan_noselect_and_nonexistent() {
        let src = slash(&[
            ("Parent", &["\\Noselect", "\\HasChildren"]),
            ("Parent/Child", NONE),
            ("Empty", &["\\NoSelect"]),
            ("Ghost", &["\\NonExistent", "\\HasChildren"]),
            ("Ghost/Kid", NONE),
            ("Missing/Kid", NONE),
        ]);
        let p = plan(&src, &dot(&[]));
        let parent = dest(&p, "Parent");
        assert!(!parent.selectable && !parent.create);
        assert_eq!(parent.destination, "INBOX.Parent");
        let empty = dest(&p, "Empty");
        assert!(!empty.selectable && empty.create);
        assert_eq!(d(&p, "Parent/Child"), "INBOX.Parent.Child");
        assert_eq!(d(&p, "Ghost/Kid"), "INBOX.Ghost.Kid");
        assert_eq!(d(&p, "Missing/Kid"), "INBOX.Missing.Kid");
        assert_eq!(p.skipped.len(), 1);
        assert_eq!(p.skipped[0].reason, SkipReason::NonExistent);
        assert!(p.folders.iter().all(|m| m.source_display != "Missing"));
    }

    #[test]
    fn plan_skips_other_namespaces_and_the_namespace_root() {
        let src = dot(&[
            ("INBOX.", &["\\Noselect"]),
            ("#Public.news", NONE),
            ("INBOX.Real", NONE),
        ]);
        let p = plan(&src, &slash(&[]));
        let skipped: Vec<(&str, SkipReason)> = p
            .skipped
            .iter()
            .map(|s| (s.source.as_str(), s.reason))
            .collect();
        assert_eq!(
            skipped,
            vec![
                ("#Public.news", SkipReason::OutsidePersonalNamespace),
                ("INBOX.", SkipReason::NamespaceRoot),
            ]
        );
        assert_eq!(d(&p, "INBOX.Real"), "Real");
    }

    #[test]
    fn plan_subscriptions_and_existing_folders() {
        let mut src = slash(&[
            ("Archive", NONE),
            ("Lists", NONE),
            ("Flagged", &["\\Subscribed"]),
        ]);
        src.subscribed = vec!["inbox".into(), "Archive".into(), "Gone".into()];
        let dst = dot(&[("INBOX.Archive", NONE), ("INBOX.Lists", &["\\Noselect"])]);
        let p = plan(&src, &dst);
        assert!(dest(&p, "INBOX").subscribe);
        assert!(dest(&p, "Archive").subscribe);
        assert!(dest(&p, "Flagged").subscribe);
        assert!(!dest(&p, "Lists").subscribe);
        assert!(dest(&p, "Archive").exists_at_destination);
        assert!(!dest(&p, "Archive").create);
        // Listed but \Noselect at the destination: still to be created as a real folder.
        assert!(!dest(&p, "Lists").exists_at_destination);
        assert!(dest(&p, "Lists").create);
        assert_eq!(p.to_subscribe().count(), 3);
        let created: Vec<&str> = p.to_create().map(|m| m.destination.as_str()).collect();
        assert_eq!(created, vec!["INBOX.Flagged", "INBOX.Lists"]);
    }

    #[test]
    fn plan_refused_names_are_avoided() {
        let src = slash(&[("a*b", NONE), ("Plain", NONE), ("Plain/Kid", NONE)]);
        let opts = PlanOptions {
            refused: ["INBOX.a*b".to_string(), "INBOX.Plain".to_string()].into(),
            ..PlanOptions::default()
        };
        let p = plan_folders(&src, &dot(&[]), &opts);
        assert_eq!(d(&p, "a*b"), "INBOX.a_b");
        assert_eq!(
            dest(&p, "a*b").notes,
            vec![MappingNote::Renamed {
                reason: RenameReason::Refused
            }]
        );
        assert_eq!(d(&p, "Plain"), "INBOX.Plain (2)");
        assert_eq!(d(&p, "Plain/Kid"), "INBOX.Plain (2).Kid");
    }

    #[test]
    fn plan_is_sorted_parents_first() {
        let src = slash(&[
            ("Zeta", NONE),
            ("Alpha/Beta", NONE),
            ("Alpha", NONE),
            ("Alpha Beta", NONE),
        ]);
        let p = plan(&src, &slash(&[]));
        let order: Vec<&str> = p.folders.iter().map(|m| m.destination.as_str()).collect();
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
    fn plan_render_table() {
        let src = slash(&[
            ("Sent", &["\\Sent"]),
            ("v1.2", NONE),
            ("Boîte d'envoi", NONE),
            ("Ghost", &["\\NonExistent"]),
        ]);
        let mut src = src;
        src.subscribed = vec!["Sent".into()];
        let p = plan(&src, &dot(&[("INBOX.Sent Items", &["\\Sent"])]));
        let text = render_plan(&p);
        assert!(
            text.starts_with("Folders: 4 to copy (2 to create), 1 skipped\n"),
            "{text}"
        );
        assert!(text.contains("Source"), "{text}");
        assert!(text.contains("Boîte d'envoi"), "{text}");
        assert!(text.contains("→  INBOX.Boîte d'envoi"), "{text}");
        assert!(
            text.contains("exists; subscribe; \\Sent: merged into"),
            "{text}"
        );
        assert!(
            text.contains("'.' (the destination's hierarchy separator) replaced by '_'"),
            "{text}"
        );
        assert!(
            text.contains("Skipped:\n  Ghost  (does not exist (\\NonExistent))"),
            "{text}"
        );
        // Columns line up (widths in characters).
        let arrows: Vec<usize> = text
            .lines()
            .filter_map(|l| l.find('→').map(|i| l[..i].chars().count()))
            .collect();
        assert!(arrows.windows(2).all(|w| w[0] == w[1]), "{text}");
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
                        name: if raw_utf8 { name } else { mutf7::encode(&name) },
                        delimiter: Some(delim),
                        attributes,
                    });
                }
                let subscribed = folders
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| sub_mask & (1 << (i % 16)) != 0)
                    .map(|(_, f)| f.name.clone())
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
            let mut seen: Vec<&str> = p.folders.iter().map(|m| m.source.as_str())
                .chain(p.skipped.iter().map(|s| s.source.as_str())).collect();
            seen.sort_unstable();
            let mut listed: Vec<&str> = src.folders.iter().map(|f| f.name.as_str()).collect();
            listed.sort_unstable();
            listed.dedup();
            prop_assert_eq!(seen, listed);

            let ddelim = dst.effective_delimiter().unwrap();
            let dprefix = dst.prefix();
            let root_is_inbox = !dprefix.is_empty();
            let mut keys = BTreeSet::new();
            for (i, m) in p.folders.iter().enumerate() {
                // No two mappings share a destination (INBOX case-insensitively).
                prop_assert!(keys.insert(name_key(&m.destination_display, Some(ddelim))),
                    "duplicate destination {:?}", m.destination_display);
                prop_assert_eq!(mutf7::decode_lossy(&m.destination), m.destination_display.clone());
                if m.destination == "INBOX" {
                    continue;
                }
                // Every destination name lies in the destination's personal namespace.
                let rest = strip_ns_prefix(&m.destination_display, dprefix);
                prop_assert!(rest.is_some(), "{:?} outside {:?}", m.destination_display, dprefix);
                let dest_comps: Vec<&str> = rest.unwrap_or_default().split(ddelim).collect();
                // Parents come first.
                for (j, other) in p.folders.iter().enumerate() {
                    if m.destination_display.starts_with(&format!("{}{ddelim}", other.destination_display)) {
                        prop_assert!(j < i, "{:?} after its child {:?}", other.destination_display, m.destination_display);
                    }
                }
                let merged = m.notes.iter().any(|n| matches!(n, MappingNote::SpecialUseMatched { .. }));
                let sdelim = src.effective_delimiter();
                let below_merged = p.folders.iter().any(|o| {
                    o.notes.iter().any(|n| matches!(n, MappingNote::SpecialUseMatched { .. }))
                        && name_key(&m.source_display, sdelim).starts_with(&name_key(&o.source_display, sdelim))
                });
                if !merged && !below_merged {
                    // Names made here have no empty component (the destination's own folders
                    // merged into may).
                    prop_assert!(dest_comps.iter().all(|c| !c.is_empty()), "{:?}", m.destination_display);
                    prop_assert_eq!(mutf7::encode(&m.destination_display), m.destination.clone());
                    // One destination component per source component: no separator leaked.
                    prop_assert_eq!(
                        dest_comps.len(),
                        source_depth(&src, &m.source, root_is_inbox),
                        "{:?} -> {:?}", m.source_display, m.destination_display
                    );
                }
            }
        }
    }
}
