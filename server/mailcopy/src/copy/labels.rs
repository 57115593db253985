//! What to do with a source whose folders are labels (Gmail, or any server with an `\All`
//! folder): the two policies, and the decisions of "one copy of each message", pure.
//!
//! **Folders as in Gmail** (the default): each label folder is copied as a folder, so a
//! message with two labels arrives twice, once in each; of the `\All` folder only what no
//! other copied folder holds goes to the archive folder (`identity::remainder_of_all`).
//!
//! **One copy of each message**: each message arrives once, in its *home* folder — the first
//! of the folders listing it in this order: INBOX, the Sent folder, the Drafts folder, the
//! user labels by name (Unicode code point order of the whole name, so `Work` before
//! `Work/2024` before `work`), the archive folder (the `\All` folder's destination). Its other
//! user labels become keywords on that copy ([`label_keyword`]). A message the destination
//! already holds in one of its folders keeps that folder as its home, so a second pass never
//! copies it again elsewhere. Trash and Spam (`\Trash`, `\Junk`) are copied as folders under
//! both policies; `\Flagged` (Starred) and `\Important` stay skipped.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::identity::ElsewhereKey;
use crate::flag::Flag;
use crate::plan::{FolderMapping, SpecialUse};

/// How a source with labels is copied (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelPolicy {
    /// Each label a folder; archived messages into the archive folder.
    #[default]
    FoldersAsInGmail,
    /// Each message once; its other labels as keywords.
    OneCopyOfEachMessage,
}

impl LabelPolicy {
    /// The policy's name on the command line and in forms.
    pub fn as_str(self) -> &'static str {
        match self {
            LabelPolicy::FoldersAsInGmail => "folders",
            LabelPolicy::OneCopyOfEachMessage => "one-copy",
        }
    }

    /// From [`LabelPolicy::as_str`]'s names.
    pub fn parse(s: &str) -> Option<LabelPolicy> {
        match s.trim() {
            "folders" => Some(LabelPolicy::FoldersAsInGmail),
            "one-copy" => Some(LabelPolicy::OneCopyOfEachMessage),
            _ => None,
        }
    }
}

/// Keywords longer than this are not kept: Dovecot's `mail_max_keyword_length` default.
pub const MAX_KEYWORD_BYTES: usize = 50;

/// Where a folder stands when a message listed in several gets its one home (earlier wins).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rank {
    Inbox,
    Sent,
    Drafts,
    /// A user label, by its decoded name.
    Label(String),
    /// The `\All` folder (its destination is the archive folder).
    Archive,
}

/// A folder's rank under "one copy of each message"; `None`: the folder is copied as it is
/// (Trash, Spam, Gmail's views when they are copied, folders that hold no messages).
pub fn rank_of(m: &FolderMapping) -> Option<Rank> {
    if !m.selectable {
        return None;
    }
    if m.all_mail {
        return Some(Rank::Archive);
    }
    if m.source.is_inbox() {
        return Some(Rank::Inbox);
    }
    match m.special_use {
        Some(SpecialUse::Sent) => Some(Rank::Sent),
        Some(SpecialUse::Drafts) => Some(Rank::Drafts),
        Some(
            SpecialUse::Trash
            | SpecialUse::Junk
            | SpecialUse::All
            | SpecialUse::Flagged
            | SpecialUse::Important,
        ) => None,
        Some(SpecialUse::Archive) | None => Some(Rank::Label(m.source.display().to_string())),
    }
}

/// The keyword a user label becomes: its whole name (hierarchy included, e.g. `Work/2024`),
/// non-ASCII characters in modified UTF-7 (as Thunderbird writes tags: `Café` → `Caf&AOk-`),
/// each space and each character an IMAP atom cannot hold (`( ) { % * " \ ]`, controls)
/// written `_`. `None` when that is longer than [`MAX_KEYWORD_BYTES`] or empty.
pub fn label_keyword(name: &str) -> Option<Flag> {
    let encoded: String = crate::mutf7::encode(name)
        .chars()
        .map(|c| match c {
            ' ' | '(' | ')' | '{' | '%' | '*' | '"' | '\\' | ']' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    if encoded.is_empty() || encoded.len() > MAX_KEYWORD_BYTES {
        return None;
    }
    Flag::new(encoded)
}

/// One folder listing a message: the folder's index and whether the destination's copy of
/// that folder holds the message already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Place {
    pub folder: usize,
    pub present: bool,
}

/// Where one message goes and what it carries there.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Home {
    /// The folder it is copied into (or already is in); `None`: only in folders copied as
    /// they are (Trash, Spam), so not into the archive again.
    pub folder: Option<usize>,
    /// Its other user labels, as keywords, in rank order.
    pub labels: Vec<Flag>,
}

/// Every message's home under "one copy of each message". `ranks` by folder index;
/// `places` every ranked folder listing each message; `kept` the messages listed by a folder
/// copied as it is (they do not go to the archive as well).
pub(crate) fn homes(
    ranks: &[Option<Rank>],
    places: &HashMap<ElsewhereKey, Vec<Place>>,
    kept: &HashSet<ElsewhereKey>,
) -> HashMap<ElsewhereKey, Home> {
    let rank = |p: &Place| ranks.get(p.folder).and_then(Option::as_ref);
    places
        .iter()
        .map(|(key, at)| {
            let ranked = at.iter().filter_map(|p| rank(p).map(|r| (r, p)));
            // Where the destination holds it already, else the first by rank.
            let home = ranked
                .clone()
                .filter(|(_, p)| p.present)
                .min_by(|a, b| a.0.cmp(b.0))
                .or_else(|| ranked.clone().min_by(|a, b| a.0.cmp(b.0)))
                .filter(|(r, _)| !(**r == Rank::Archive && kept.contains(key)))
                .map(|(_, p)| p.folder);
            let mut labels: Vec<(&Rank, Flag)> = ranked
                .filter(|(_, p)| Some(p.folder) != home)
                .filter_map(|(r, _)| match r {
                    Rank::Label(name) => label_keyword(name).map(|k| (r, k)),
                    _ => None,
                })
                .collect();
            labels.sort();
            labels.dedup_by(|a, b| a.1 == b.1);
            let labels = labels.into_iter().map(|(_, k)| k).collect();
            (
                *key,
                Home {
                    folder: home,
                    labels,
                },
            )
        })
        .collect()
}

/// The label keywords of a plan (what a pass must not take off a copied message because the
/// source's copy lacks them).
pub(crate) fn plan_keywords(folders: &[FolderMapping]) -> HashSet<Flag> {
    folders
        .iter()
        .filter_map(|m| match rank_of(m) {
            Some(Rank::Label(name)) => label_keyword(&name),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::MailboxName;

    fn folder(name: &str, special_use: Option<SpecialUse>, all_mail: bool) -> FolderMapping {
        FolderMapping {
            source: MailboxName::from_display(name),
            destination: MailboxName::from_display(name),
            exists_at_destination: false,
            selectable: true,
            create: true,
            subscribe: true,
            special_use,
            notes: Vec::new(),
            all_mail,
        }
    }

    fn kw(s: &str) -> Flag {
        Flag::new(s).expect("sendable")
    }

    #[test]
    fn folders_rank_inbox_sent_drafts_labels_by_name_then_the_archive() {
        let plan = [
            folder("[Gmail]/All Mail", Some(SpecialUse::All), true),
            folder("work", None, false),
            folder("Work/2024", None, false),
            folder("Work", None, false),
            folder("[Gmail]/Drafts", Some(SpecialUse::Drafts), false),
            folder("[Gmail]/Sent Mail", Some(SpecialUse::Sent), false),
            folder("INBOX", None, false),
            folder("[Gmail]/Trash", Some(SpecialUse::Trash), false),
            folder("[Gmail]/Spam", Some(SpecialUse::Junk), false),
            folder("[Gmail]/Starred", Some(SpecialUse::Flagged), false),
        ];
        let mut ranked: Vec<(Rank, &str)> = plan
            .iter()
            .filter_map(|m| rank_of(m).map(|r| (r, m.source.display())))
            .collect();
        ranked.sort();
        let order: Vec<&str> = ranked.iter().map(|(_, n)| *n).collect();
        assert_eq!(
            order,
            [
                "INBOX",
                "[Gmail]/Sent Mail",
                "[Gmail]/Drafts",
                "Work",
                "Work/2024",
                "work",
                "[Gmail]/All Mail"
            ]
        );
        let mut unselectable = folder("[Gmail]", None, false);
        unselectable.selectable = false;
        assert_eq!(rank_of(&unselectable), None);
    }

    #[test]
    fn label_names_become_keywords_spaces_and_non_ascii_spelled_for_an_atom() {
        assert_eq!(label_keyword("Work"), Some(kw("Work")));
        assert_eq!(label_keyword("Work/2024"), Some(kw("Work/2024")));
        assert_eq!(label_keyword("To do (later)"), Some(kw("To_do__later_")));
        assert_eq!(label_keyword("Café"), Some(kw("Caf&AOk-")));
        assert_eq!(label_keyword("R&D"), Some(kw("R&-D")));
        assert_eq!(label_keyword("100% *done*"), Some(kw("100___done_")));
        assert_eq!(label_keyword(""), None);
        assert!(label_keyword(&"x".repeat(MAX_KEYWORD_BYTES)).is_some());
        assert_eq!(label_keyword(&"x".repeat(MAX_KEYWORD_BYTES + 1)), None);
        // Every keyword is one the engine can send.
        for name in ["a\u{1}b", "Ünïcödé labels", "[x]", "{1}"] {
            let k = label_keyword(name).expect("a keyword");
            assert!(k.is_keyword(), "{k}");
        }
    }

    #[test]
    fn the_policies_by_name() {
        for p in [
            LabelPolicy::FoldersAsInGmail,
            LabelPolicy::OneCopyOfEachMessage,
        ] {
            assert_eq!(LabelPolicy::parse(p.as_str()), Some(p));
        }
        assert_eq!(LabelPolicy::parse("labels"), None);
        assert_eq!(LabelPolicy::default(), LabelPolicy::FoldersAsInGmail);
    }

    fn ranks() -> Vec<Option<Rank>> {
        // 0 INBOX, 1 Sent, 2 Drafts, 3 "B", 4 "A", 5 All Mail, 6 Trash (copied as it is)
        vec![
            Some(Rank::Inbox),
            Some(Rank::Sent),
            Some(Rank::Drafts),
            Some(Rank::Label("B".into())),
            Some(Rank::Label("A".into())),
            Some(Rank::Archive),
            None,
        ]
    }

    fn at(folders: &[(usize, bool)]) -> Vec<Place> {
        folders
            .iter()
            .map(|&(folder, present)| Place { folder, present })
            .collect()
    }

    #[test]
    fn a_message_goes_to_its_first_folder_and_its_other_labels_become_keywords() {
        let k = |n| ElsewhereKey::Gmail(n);
        let places: HashMap<ElsewhereKey, Vec<Place>> = [
            // INBOX, labels B and A, All Mail: INBOX, keywords A then B (by name).
            (k(1), at(&[(5, false), (3, false), (0, false), (4, false)])),
            // Labels B and A: A is first by name; B a keyword.
            (k(2), at(&[(3, false), (4, false), (5, false)])),
            // Sent and Drafts (no user label): Sent, no keyword.
            (k(3), at(&[(2, false), (1, false), (5, false)])),
            // Only All Mail: archived.
            (k(4), at(&[(5, false)])),
            // All Mail and Trash: stays in Trash only.
            (k(5), at(&[(5, false)])),
            // Already in label B at the destination (an earlier pass): stays there.
            (k(6), at(&[(0, false), (3, true), (5, false)])),
        ]
        .into_iter()
        .collect();
        let kept: HashSet<ElsewhereKey> = [k(5)].into_iter().collect();
        let h = homes(&ranks(), &places, &kept);
        let home = |n| h[&k(n)].clone();
        assert_eq!(
            home(1),
            Home {
                folder: Some(0),
                labels: vec![kw("A"), kw("B")]
            }
        );
        assert_eq!(
            home(2),
            Home {
                folder: Some(4),
                labels: vec![kw("B")]
            }
        );
        assert_eq!(
            home(3),
            Home {
                folder: Some(1),
                labels: vec![]
            }
        );
        assert_eq!(home(4).folder, Some(5));
        assert_eq!(home(5).folder, None);
        assert_eq!(home(6).folder, Some(3));
        assert!(home(6).labels.is_empty());
    }

    #[test]
    fn the_plan_keywords_are_its_user_labels() {
        let plan = [
            folder("INBOX", None, false),
            folder("Work", None, false),
            folder("[Gmail]/Sent Mail", Some(SpecialUse::Sent), false),
            folder("[Gmail]/Trash", Some(SpecialUse::Trash), false),
            folder("[Gmail]/All Mail", Some(SpecialUse::All), true),
        ];
        let want: HashSet<Flag> = [kw("Work")].into_iter().collect();
        assert_eq!(plan_keywords(&plan), want);
    }
}
