//! Each side's listing in the planner's terms: the source folders that take part in naming
//! (with the parents they imply), the ones skipped and why, the source's subscriptions, and the
//! destination's folders by name.

use std::collections::{BTreeMap, BTreeSet};

use super::names::{canonical_folders, decode_name, name_key, PathKey, Place, SideCtx};
use super::special_use::{is_gmail_virtual, SpecialItem};
use super::{PlanOptions, Side, SkipReason, SkippedFolder};
use crate::mutf7;
use crate::session::Folder;

/// A source folder taking part in naming.
pub(super) struct Node<'a> {
    /// `None` for a parent the source does not list (implied by its children).
    pub(super) folder: Option<&'a Folder>,
    pub(super) raw: String,
    /// The raw name is valid modified UTF-7.
    pub(super) valid: bool,
    pub(super) path: PathKey,
    pub(super) selectable: bool,
    /// The source's `\All` folder, copied as the archive: only what no other folder holds
    /// (see [`FolderMapping::all_mail`](super::FolderMapping::all_mail)); its `path` is then
    /// the archive's.
    pub(super) all_mail: bool,
}

impl<'a> Node<'a> {
    fn listed(folder: &'a Folder, valid: bool, path: PathKey) -> Node<'a> {
        Node {
            folder: Some(folder),
            raw: folder.name.raw().to_string(),
            valid,
            path,
            selectable: folder.is_selectable(),
            all_mail: false,
        }
    }
}

/// The top-level name the `\All` folder's remainder goes to when the destination has no
/// `\Archive` folder.
pub(super) const ARCHIVE: &str = "Archive";

/// The source's folders, read.
pub(super) struct SourceFolders<'a> {
    /// INBOX (the first spelling of it, by raw name).
    pub(super) inbox: Option<&'a Folder>,
    /// The folders below the personal root, by raw name, then the implied parents.
    pub(super) nodes: Vec<Node<'a>>,
    /// Sorted by raw source name.
    pub(super) skipped: Vec<SkippedFolder>,
    /// Paths with at least one listed child (skipped children included).
    pub(super) parents_with_children: BTreeSet<PathKey>,
}

/// Sorts the source's folders into INBOX, folders to name and skipped folders, and adds the
/// parents the source does not list.
pub(super) fn read_source<'a>(
    side: &'a Side,
    ctx: &SideCtx,
    options: &PlanOptions,
) -> SourceFolders<'a> {
    let mut inbox = None;
    let mut nodes = Vec::new();
    let mut skipped = Vec::new();
    let mut all_paths: BTreeSet<PathKey> = BTreeSet::new();
    for f in canonical_folders(&side.folders) {
        let (display, valid) = decode_name(f.name.raw());
        let skip = |reason| SkippedFolder {
            source: f.name.clone(),
            reason,
        };
        match ctx.place(f.name.raw(), &display) {
            Place::Inbox if inbox.is_none() => inbox = Some(f),
            // A second spelling of INBOX (servers send one): an ordinary top-level name, which
            // then collides with INBOX and gets a suffix.
            Place::Inbox => {
                let path = PathKey {
                    via_inbox: false,
                    comps: vec![display],
                };
                all_paths.insert(path.clone());
                nodes.push(Node::listed(f, valid, path));
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
                } else if path.comps.first().is_some_and(|top| {
                    // Microsoft: Calendar, Contacts, Sync Issues/Conflicts… (the profile's
                    // names; top level, as Exchange lists them).
                    !path.via_inbox && options.non_mail.contains(&top.to_lowercase())
                }) {
                    skipped.push(skip(SkipReason::NotMail));
                } else if !options.include_gmail_virtual
                    && f.has_attribute("\\All")
                    && f.is_selectable()
                {
                    // Gmail's All Mail (and any server's `\All`, by attribute only): the one
                    // place archived messages are. Copied as the archive, with only what no
                    // other copied folder holds; named and merged like an `\Archive` folder.
                    let mut node = Node::listed(
                        f,
                        valid,
                        PathKey {
                            via_inbox: false,
                            comps: vec![ARCHIVE.to_string()],
                        },
                    );
                    node.all_mail = true;
                    nodes.push(node);
                } else if !options.include_gmail_virtual && is_gmail_virtual(&path, f) {
                    skipped.push(skip(SkipReason::GmailVirtual));
                } else {
                    nodes.push(Node::listed(f, valid, path));
                }
            }
        }
    }
    skipped.sort_by(|a, b| a.source.cmp(&b.source));
    add_implied_parents(&mut nodes, ctx);
    SourceFolders {
        inbox,
        nodes,
        skipped,
        parents_with_children: all_paths.iter().filter_map(PathKey::parent).collect(),
    }
}

/// Parents the source does not list (or lists as `\NonExistent`) still take part in naming:
/// they are appended as nodes without a folder, in path order.
fn add_implied_parents(nodes: &mut Vec<Node>, ctx: &SideCtx) {
    let present: BTreeSet<PathKey> = nodes.iter().map(|n| n.path.clone()).collect();
    let mut implied: BTreeSet<PathKey> = BTreeSet::new();
    for n in nodes.iter() {
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
        let display = ctx.name_of(&path);
        nodes.push(Node {
            folder: None,
            raw: mutf7::encode(&display),
            valid: true,
            path,
            selectable: false,
            all_mail: false,
        });
    }
}

/// Which source folders are subscribed: LSUB names (compared like destination names, INBOX
/// case-insensitively) or LIST's `\Subscribed`.
pub(super) struct Subscriptions {
    keys: BTreeSet<String>,
    delim: Option<char>,
}

impl Subscriptions {
    pub(super) fn new(side: &Side, ctx: &SideCtx) -> Subscriptions {
        Subscriptions {
            keys: side
                .subscribed
                .iter()
                .map(|s| name_key(s, ctx.delim))
                .collect(),
            delim: ctx.delim,
        }
    }

    pub(super) fn contains(&self, f: &Folder) -> bool {
        f.has_attribute("\\Subscribed") || self.keys.contains(&name_key(f.name.raw(), self.delim))
    }
}

/// The destination's folders, read (`\NonExistent` ones left out).
pub(super) struct DestinationFolders<'a> {
    /// By comparison key of the decoded name; the first by raw name wins.
    by_key: BTreeMap<String, &'a Folder>,
    delim: Option<char>,
    /// The folders below the personal root: candidates for special-use merges.
    pub(super) items: Vec<SpecialItem>,
}

pub(super) fn read_destination<'a>(side: &'a Side, ctx: &SideCtx) -> DestinationFolders<'a> {
    let mut by_key: BTreeMap<String, &Folder> = BTreeMap::new();
    let mut items = Vec::new();
    for f in canonical_folders(&side.folders) {
        if f.has_attribute("\\NonExistent") {
            continue;
        }
        let display = f.name.display().to_string();
        by_key.entry(name_key(&display, ctx.delim)).or_insert(f);
        if let Place::Path(path) = ctx.place(f.name.raw(), &display) {
            items.push(SpecialItem {
                path,
                raw: f.name.raw().to_string(),
                selectable: f.is_selectable(),
                attributes: f.attributes.clone(),
            });
        }
    }
    DestinationFolders {
        by_key,
        delim: ctx.delim,
        items,
    }
}

impl DestinationFolders<'_> {
    /// Whether the destination lists the decoded name `display`, and (for a `selectable`
    /// source folder) as a selectable folder.
    pub(super) fn has(&self, display: &str, selectable: bool) -> bool {
        self.by_key
            .get(&name_key(display, self.delim))
            .is_some_and(|d| !selectable || d.is_selectable())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use crate::plan::test_support::*;
    use crate::plan::*;

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
        assert!(p.folders.iter().all(|m| m.source.display() != "Missing"));
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
            .map(|s| (s.source.raw(), s.reason))
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
        let created: Vec<&str> = p.to_create().map(|m| m.destination.raw()).collect();
        assert_eq!(created, vec!["INBOX.Flagged", "INBOX.Lists"]);
    }
}
