//! Special-use folders (RFC 6154): [`SpecialUse`], picking a side's folder of a use, and
//! Gmail's virtual folders.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::names::PathKey;
use super::sides::Node;
use super::MatchedBy;
use crate::session::Folder;

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

/// Gmail's virtual folders: `[Gmail]/All Mail`, `[Gmail]/Important`, `[Gmail]/Starred`
/// (`[Google Mail]` in some countries; localized names, so recognized by attribute).
pub(super) fn is_gmail_virtual(path: &PathKey, folder: &Folder) -> bool {
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
pub(super) struct SpecialItem {
    pub(super) path: PathKey,
    pub(super) raw: String,
    pub(super) selectable: bool,
    pub(super) attributes: Vec<String>,
}

impl SpecialItem {
    /// A source node: only a listed, selectable folder can be a folder of a use.
    fn of_node(n: &Node) -> SpecialItem {
        let mut attributes: Vec<String> =
            n.folder.map(|f| f.attributes.clone()).unwrap_or_default();
        if n.all_mail {
            // The `\All` folder's remainder is the source's archive: it goes to the
            // destination's `\Archive` folder.
            attributes.retain(|a| !a.eq_ignore_ascii_case("\\All"));
            attributes.push(SpecialUse::Archive.attribute().to_string());
        }
        SpecialItem {
            path: n.path.clone(),
            raw: n.raw.clone(),
            selectable: n.selectable && n.folder.is_some(),
            attributes,
        }
    }

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

/// A source folder merged into the destination's folder of the same use.
pub(super) struct Merge {
    /// Index into the source nodes.
    pub(super) source: usize,
    /// Index into the destination's items.
    pub(super) destination: usize,
    pub(super) special_use: SpecialUse,
    pub(super) source_by: MatchedBy,
    pub(super) destination_by: MatchedBy,
}

/// The special-use decisions, by source node index.
pub(super) struct SpecialUses {
    /// The source's folder of each merged kind.
    pub(super) picked: BTreeMap<usize, SpecialUse>,
    /// In [`SpecialUse::VARIANTS`] order.
    pub(super) merges: Vec<Merge>,
    /// Picked folders whose kind the destination has no folder of.
    pub(super) not_at_destination: BTreeMap<usize, SpecialUse>,
}

/// For each merged kind: the source's folder of it and, if there is one, the destination's.
/// A folder is picked for one kind at most; destination folders the destination refused to
/// create are not merged into.
pub(super) fn match_special_uses(
    nodes: &[Node],
    dest_items: &[SpecialItem],
    refused: &BTreeSet<String>,
) -> SpecialUses {
    let src_items: Vec<SpecialItem> = nodes.iter().map(SpecialItem::of_node).collect();
    let mut src_used = BTreeSet::new();
    let mut dst_used: BTreeSet<usize> = dest_items
        .iter()
        .enumerate()
        .filter(|(_, it)| refused.contains(&it.raw))
        .map(|(i, _)| i)
        .collect();
    let mut out = SpecialUses {
        picked: BTreeMap::new(),
        merges: Vec::new(),
        not_at_destination: BTreeMap::new(),
    };
    for kind in SpecialUse::VARIANTS.into_iter().filter(|k| k.is_merged()) {
        let Some((si, source_by)) = pick_special(&src_items, kind, &src_used) else {
            continue;
        };
        src_used.insert(si);
        out.picked.insert(si, kind);
        match pick_special(dest_items, kind, &dst_used) {
            Some((di, destination_by)) => {
                dst_used.insert(di);
                out.merges.push(Merge {
                    source: si,
                    destination: di,
                    special_use: kind,
                    source_by,
                    destination_by,
                });
            }
            None => {
                out.not_at_destination.insert(si, kind);
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::plan::test_support::*;
    use crate::plan::*;

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
    fn plan_gmail_views_skipped_and_all_mail_is_the_archive_by_default() {
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
            .map(|s| (s.source.raw(), s.reason))
            .collect();
        assert_eq!(
            skipped,
            vec![
                ("[Gmail]/Important", SkipReason::GmailVirtual),
                ("[Gmail]/Starred", SkipReason::GmailVirtual),
            ]
        );
        // All Mail holds the archived messages: it goes to the archive (no `\Archive` at
        // this destination: `Archive`), marked to take only what no other folder holds.
        let all_mail = dest(&p, "[Gmail]/All Mail");
        assert_eq!(all_mail.destination.raw(), "INBOX.Archive");
        assert!(all_mail.all_mail && all_mail.create && all_mail.selectable);
        assert!(p.folders.iter().filter(|m| m.all_mail).count() == 1);
        // Into the destination's `\Archive` folder where it has one.
        let with_archive = dot(&[("INBOX.Archives", &["\\Archive"])]);
        let p2 = plan(&gmail(), &with_archive);
        assert_eq!(d(&p2, "[Gmail]/All Mail"), "INBOX.Archives");
        assert!(dest(&p2, "[Gmail]/All Mail").all_mail);
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
        assert!(all.folders.iter().all(|m| !m.all_mail));
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
        let p = plan(&de, &dst);
        assert_eq!(p.skipped.len(), 1);
        assert_eq!(d(&p, "[Google Mail]/Alle Nachrichten"), "INBOX.Archive");
        // Any server's `\All` folder, whatever its name; a name alone is not enough.
        let other = slash(&[("Everything", &["\\All"]), ("[Gmail]/All Mail", NONE)]);
        let p = plan(&other, &dst);
        assert!(dest(&p, "Everything").all_mail);
        assert_eq!(p.skipped.len(), 1);
        assert_eq!(p.skipped[0].source.raw(), "[Gmail]/All Mail");
    }
}
