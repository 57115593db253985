//! Assignment of destination names: the special-use merges first, then every other source
//! folder in a deterministic order, each taking its translated name or, when that is taken
//! or refused, the first free ` (n)` suffix.

use std::collections::{BTreeMap, BTreeSet};

use super::names::{
    escape_component, name_key, needs_escape, strict_component, PathKey, SideCtx, INBOX,
};
use super::sides::{Node, SourceFolders};
use super::special_use::{Merge, SpecialItem, SpecialUses};
use super::{MappingNote, RenameReason, SpecialUse};
use crate::mutf7;
use crate::names::MailboxName;

/// A destination chosen for a node.
pub(super) struct Assigned {
    pub(super) name: MailboxName,
    pub(super) notes: Vec<MappingNote>,
    pub(super) special_use: Option<SpecialUse>,
}

/// Names one source's nodes (`None`: a node that got no name, which does not happen). Index
/// `i` of the result belongs to `source.nodes[i]`.
pub(super) fn assign_names(
    source: &SourceFolders,
    dest_items: &[SpecialItem],
    special: &SpecialUses,
    dctx: &SideCtx,
    joiner: char,
    refused: &BTreeSet<String>,
) -> Vec<Option<Assigned>> {
    let inbox_raw = source
        .inbox
        .map(|f| f.name.raw().to_string())
        .unwrap_or_else(|| INBOX.to_string());
    let mut naming = Naming::new(dctx, joiner, refused, inbox_raw);
    let nodes = &source.nodes;
    let mut assigned: Vec<Option<Assigned>> = nodes.iter().map(|_| None).collect();
    for merge in &special.merges {
        let (Some(node), Some(item)) = (nodes.get(merge.source), dest_items.get(merge.destination))
        else {
            continue;
        };
        if let (Some(a), Some(slot)) = (
            naming.merged(node, item, merge),
            assigned.get_mut(merge.source),
        ) {
            *slot = Some(a);
        }
    }
    for i in naming_order(nodes, &assigned, dctx) {
        let Some(n) = nodes.get(i) else { continue };
        let mut a = naming.name(n);
        if let Some(kind) = special.not_at_destination.get(&i) {
            a.notes
                .push(MappingNote::SpecialUseNotAtDestination { special_use: *kind });
        }
        a.special_use = special
            .picked
            .get(&i)
            .copied()
            .or_else(|| n.folder.and_then(SpecialUse::of_folder));
        if let Some(slot) = assigned.get_mut(i) {
            *slot = Some(a);
        }
    }
    assigned
}

/// Moved to the destination's top level from below INBOX (the destination's personal
/// namespace is INBOX).
fn lifted(n: &Node, dctx: &SideCtx) -> bool {
    n.path.via_inbox && dctx.root_is_inbox
}

/// The nodes still without a name, in the order they get one: by depth (parents first), names
/// needing no transformation before those that do, by decoded path, by raw name.
fn naming_order(nodes: &[Node], assigned: &[Option<Assigned>], dctx: &SideCtx) -> Vec<usize> {
    let mut order: Vec<usize> = (0..nodes.len())
        .filter(|i| assigned.get(*i).is_some_and(Option::is_none))
        .collect();
    order.sort_by_cached_key(|i| {
        nodes.get(*i).map(|n| {
            let transformed =
                lifted(n, dctx) || !n.valid || needs_escape(n.path.leaf(), dctx.delim);
            (
                n.path.comps.len(),
                transformed,
                n.path.comps.clone(),
                n.path.via_inbox,
                n.raw.clone(),
            )
        })
    });
    order
}

/// The destination names given so far.
struct Naming<'p> {
    /// The destination side.
    dctx: &'p SideCtx,
    joiner: char,
    refused: &'p BTreeSet<String>,
    /// Comparison key of every destination name given → the raw source name it went to.
    taken: BTreeMap<String, String>,
    /// The decoded destination name of every named path: children follow their parent.
    dest_of: BTreeMap<PathKey, String>,
}

impl<'p> Naming<'p> {
    /// INBOX is taken from the start (by the source's INBOX).
    fn new(
        dctx: &'p SideCtx,
        joiner: char,
        refused: &'p BTreeSet<String>,
        inbox_raw: String,
    ) -> Naming<'p> {
        let mut taken = BTreeMap::new();
        taken.insert(INBOX.to_string(), inbox_raw);
        Naming {
            dctx,
            joiner,
            refused,
            taken,
            dest_of: BTreeMap::new(),
        }
    }

    fn key(&self, display: &str) -> String {
        name_key(display, self.dctx.delim)
    }

    fn is_refused(&self, display: &str) -> bool {
        self.refused.contains(&mutf7::encode(display))
    }

    fn is_free(&self, display: &str) -> bool {
        !self.taken.contains_key(&self.key(display)) && !self.is_refused(display)
    }

    /// Records that `node` goes to `display`.
    fn claim(&mut self, node: &Node, display: &str) {
        self.taken.insert(self.key(display), node.raw.clone());
        self.dest_of
            .entry(node.path.clone())
            .or_insert_with(|| display.to_string());
    }

    /// The destination's folder of a special use for `node`, unless that name is taken
    /// already (then the node is named like any other).
    fn merged(&mut self, node: &Node, item: &SpecialItem, merge: &Merge) -> Option<Assigned> {
        let display = mutf7::decode_lossy(&item.raw);
        if self.taken.contains_key(&self.key(&display)) {
            return None;
        }
        self.claim(node, &display);
        Some(Assigned {
            name: MailboxName::from_raw(item.raw.clone()),
            notes: vec![MappingNote::SpecialUseMatched {
                special_use: merge.special_use,
                source_by: merge.source_by,
                destination_by: merge.destination_by,
            }],
            special_use: Some(merge.special_use),
        })
    }

    /// Everything before the last component of `path`'s destination name: the parent's final
    /// name and the separator, or the destination's prefix.
    fn base(&self, path: &PathKey) -> String {
        let joiner = self.joiner;
        match path.parent() {
            Some(pp) => match self.dest_of.get(&pp) {
                Some(d) => format!("{d}{joiner}"),
                // Not reached: parents are named before their children. Kept total anyway.
                None => format!(
                    "{}{}{joiner}",
                    self.dctx.prefix,
                    pp.comps.join(&joiner.to_string())
                ),
            },
            None if path.via_inbox && !self.dctx.root_is_inbox => format!("{INBOX}{joiner}"),
            None => self.dctx.prefix.clone(),
        }
    }

    /// The translated name of `n`, with a suffix if it is taken or refused.
    fn name(&mut self, n: &Node) -> Assigned {
        let mut notes = Vec::new();
        if !n.valid {
            notes.push(MappingNote::Renamed {
                reason: RenameReason::InvalidSourceEncoding,
            });
        }
        if lifted(n, self.dctx) && n.path.comps.len() == 1 {
            notes.push(MappingNote::InboxChildLifted);
        }
        let base = self.base(&n.path);
        let mut leaf = escape_component(n.path.leaf(), self.dctx.delim, &mut notes);
        if self.is_refused(&format!("{base}{leaf}")) {
            notes.push(MappingNote::Renamed {
                reason: RenameReason::Refused,
            });
            leaf = strict_component(&leaf);
        }
        let wanted = format!("{base}{leaf}");
        let display = if self.is_free(&wanted) {
            wanted
        } else {
            let name = self.first_free_suffix(&base, &leaf);
            if let Some(with) = self.taken.get(&self.key(&wanted)) {
                notes.push(MappingNote::Collision {
                    with: MailboxName::from_raw(with.clone()),
                    wanted: MailboxName::from_display(&wanted),
                });
            }
            name
        };
        self.claim(n, &display);
        Assigned {
            name: MailboxName::from_display(&display),
            notes,
            special_use: None,
        }
    }

    /// `base` + `leaf (k)` for the smallest free k ≥ 2.
    fn first_free_suffix(&self, base: &str, leaf: &str) -> String {
        let mut k: u64 = 2;
        loop {
            let candidate = format!("{base}{leaf} ({k})");
            if self.is_free(&candidate) {
                return candidate;
            }
            k += 1;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use crate::plan::test_support::*;
    use crate::plan::*;

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
                    with: MailboxName::from_raw("Sub"),
                    wanted: MailboxName::from_raw("INBOX.Sub")
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
}
