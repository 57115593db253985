//! Preflight: what a copy between two accounts would do, read without changing anything.
//!
//! [`preview`] logs in to both sides at once (one connection each), reads LIST, NAMESPACE and
//! LSUB, plans the folders with [`plan_folders`] exactly as the executor would, then asks the
//! source `STATUS (MESSAGES)` of every selectable folder (`SIZE` too when the server
//! advertises `STATUS=SIZE`, RFC 8438). From the destination it takes `APPENDLIMIT=n` from the
//! capabilities (RFC 7889; then it also counts, per source folder, the messages larger than
//! that with `SEARCH LARGER`) and, when `QUOTA` is advertised, the storage quota of INBOX's
//! quota root (`GETQUOTAROOT INBOX`, RFC 2087/9208).
//!
//! Nothing is created, selected read-write or flagged: folders are only `EXAMINE`d (and only
//! when an append limit is known). The whole preview runs under one time limit.
//!
//! It reads the listings with the same function as the copy (`imap::mailbox::read_listing`)
//! and talks IMAP only through the engine's protocol layer (module `imap`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::connect::{connect, ConnectOptions, Credentials, Endpoint};
use crate::error::ConnectError;
pub use crate::imap::mailbox::Quota;
use crate::imap::{mailbox, CmdError};
use crate::names::MailboxName;
use crate::plan::{plan_folders, FolderPlan, PlanOptions, Side};
use crate::profile::{days_for, DailyVolume, DailyVolumes, Provider};
use crate::session::ImapSession;

/// What a copy would do: the folder plan and the numbers read from both servers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    /// The plan the executor would carry out.
    pub plan: FolderPlan,
    /// One row per planned folder, in the plan's order.
    pub folders: Vec<PreviewFolder>,
    /// Source folders that are not copied: (name, English reason).
    pub skipped: Vec<(MailboxName, String)>,
    /// Messages in the selectable source folders.
    pub messages: u64,
    /// Their size in octets, when the source reported it for every folder (`STATUS=SIZE`).
    pub bytes: Option<u64>,
    /// The largest message the destination accepts (`APPENDLIMIT=n`), in octets.
    pub append_limit: Option<u64>,
    /// Source messages larger than [`Preview::append_limit`] (when the limit is known and
    /// every folder could be searched).
    pub too_large: Option<u64>,
    /// The destination's storage quota (INBOX's quota root), when it reports one.
    pub quota: Option<Quota>,
    /// What the user should know about the accounts as a whole before the copy starts.
    pub warnings: Vec<PreviewWarning>,
    /// A source whose folders are labels (it has an `\All` folder): what each policy copies.
    pub labels: Option<LabelCounts>,
}

/// What the two ways of copying a source with labels imply ([`crate::copy::labels`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelCounts {
    /// "Folders as in Gmail": the label folders' messages (a message with two labels counted
    /// twice), plus the archived ones, known only once the copy reads All Mail.
    pub folders: u64,
    /// "One copy of each message": the `\All` folder's messages, plus those of the folders
    /// copied as they are (Trash, Spam), which Gmail keeps out of All Mail.
    pub one_copy: u64,
}

/// A warning about the accounts as a whole (the folders' own notes are per row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PreviewWarning {
    /// The source is Gmail but lists no `\All` folder: its user hid All Mail from IMAP (Gmail's
    /// settings, Labels, "Show in IMAP"), so archived messages — in no label — cannot be read
    /// and will not be copied.
    GmailWithoutAllMail,
    /// The mailbox is larger than a day's volume of a provider (Gmail): the copy moves about
    /// that much a day, pauses until the next, and takes up to `days` days.
    DailyVolume {
        days: u64,
        /// The provider's volume, octets a day.
        per_day: u64,
        provider: Provider,
        /// The destination's upload volume (else the source's download volume).
        upload: bool,
    },
}

/// The warning for a copy of `bytes` under `volume`, when it takes more than a day at the
/// share of it the copy uses ([`crate::copy::volume::SHARE_PERCENT`]).
pub fn volume_warning(bytes: u64, volume: DailyVolume) -> Option<PreviewWarning> {
    let days = days_for(
        bytes,
        volume.bytes / 100 * crate::copy::volume::SHARE_PERCENT,
    );
    (days > 1).then_some(PreviewWarning::DailyVolume {
        days,
        per_day: volume.bytes,
        provider: volume.provider,
        upload: volume.upload,
    })
}

/// The warnings that the source's provider and the plan call for (pure).
pub fn warnings(source: Provider, plan: &FolderPlan) -> Vec<PreviewWarning> {
    let mut out = Vec::new();
    // Gmail: archived mail exists only in All Mail (`\All`); without it the copy cannot see it.
    if source == Provider::Gmail && !plan.folders.iter().any(|m| m.all_mail) {
        out.push(PreviewWarning::GmailWithoutAllMail);
    }
    out
}

/// One source folder and where it goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewFolder {
    /// The source folder; its raw form is the key into [`Preview::plan`].
    pub source: MailboxName,
    pub destination: MailboxName,
    /// The destination folder does not exist yet: the copy creates it (itself, or as the
    /// parent of a folder it creates, for a `\Noselect` source folder with children).
    pub will_create: bool,
    /// The source folder holds messages (not `\Noselect`).
    pub selectable: bool,
    /// False when the source refused to count this selectable folder (then `messages` is 0).
    pub counted: bool,
    /// English notes: the planner's (collision, escaped separator, special use…) and this
    /// module's (STATUS refused).
    pub notes: Vec<String>,
    pub messages: u64,
    /// Octets, when the source reported `SIZE`.
    pub bytes: Option<u64>,
    /// Messages larger than the destination's append limit, when known.
    pub too_large: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Counts {
    messages: u64,
    bytes: Option<u64>,
    too_large: Option<u64>,
    /// Why a command about this folder was refused (English), if one was.
    refused: Option<String>,
}

/// Reads both accounts and plans the copy; see the module documentation. Fails with the first
/// connection error, or [`ConnectError::TimedOut`] when `limit` is reached.
pub async fn preview(
    source: (&Endpoint, &Credentials),
    destination: (&Endpoint, &Credentials),
    opts: &ConnectOptions,
    plan_options: &PlanOptions,
    volumes: Option<&DailyVolumes>,
    limit: Duration,
) -> Result<Preview, ConnectError> {
    let work = async {
        let ((mut src, src_side), (dst, dst_side, append_limit, quota)) = futures::try_join!(
            read_source(source.0, source.1, opts),
            read_destination(destination.0, destination.1, opts),
        )?;
        let plan_options = PlanOptions {
            non_mail: src.provider().non_mail_folders(),
            ..plan_options.clone()
        };
        let plan = plan_folders(&src_side, &dst_side, &plan_options);
        let mut warnings = warnings(src.provider(), &plan);
        let volume = volumes.and_then(|v| v.for_copy(src.provider(), dst.provider()));
        let dst_delimiter = dst_side.effective_delimiter();
        let with_size = src.has_capability("STATUS=SIZE");
        // The destination is not needed any more: log out while the source counts.
        let (counts, _) = tokio::join!(
            count_folders(&mut src, &plan, with_size, append_limit),
            quiet_logout(dst)
        );
        let counts = counts?;
        quiet_logout(src).await;
        let mut preview = assemble(plan, dst_delimiter, &counts, append_limit, quota);
        // Only with the sizes (STATUS=SIZE): Gmail does not offer it, so a Gmail source's
        // download volume is not estimated here (the copy keeps under it all the same).
        if let (Some(bytes), Some(volume)) = (preview.bytes, volume) {
            warnings.extend(volume_warning(bytes, volume));
        }
        preview.warnings = warnings;
        Ok(preview)
    };
    match tokio::time::timeout(limit, work).await {
        Ok(result) => result,
        Err(_) => Err(ConnectError::TimedOut { stage: "preview" }),
    }
}

async fn quiet_logout(session: ImapSession) {
    if let Err(e) = session.logout().await {
        tracing::debug!(error = %e, "logout after preview failed");
    }
}

async fn read_side(session: &mut ImapSession) -> Result<Side, ConnectError> {
    mailbox::read_listing(session)
        .await
        .map_err(CmdError::into_connect_error)
}

async fn read_source(
    endpoint: &Endpoint,
    creds: &Credentials,
    opts: &ConnectOptions,
) -> Result<(ImapSession, Side), ConnectError> {
    let mut session = connect(endpoint, creds, opts).await?;
    let side = read_side(&mut session).await?;
    Ok((session, side))
}

type DestinationRead = (ImapSession, Side, Option<u64>, Option<Quota>);

async fn read_destination(
    endpoint: &Endpoint,
    creds: &Credentials,
    opts: &ConnectOptions,
) -> Result<DestinationRead, ConnectError> {
    let mut session = connect(endpoint, creds, opts).await?;
    let side = read_side(&mut session).await?;
    let append_limit = append_limit(session.capabilities());
    let quota = if session.has_capability("QUOTA") {
        match mailbox::inbox_quota(&mut session).await {
            Ok(q) => q,
            Err(CmdError::Refused { text, .. }) => {
                tracing::debug!(server_text = %text, "GETQUOTAROOT refused");
                None
            }
            Err(CmdError::Broken(e)) => return Err(e),
        }
    } else {
        None
    };
    Ok((session, side, append_limit, quota))
}

/// STATUS (and, with an append limit, EXAMINE + SEARCH LARGER) of every selectable source
/// folder, keyed by raw source name.
async fn count_folders(
    session: &mut ImapSession,
    plan: &FolderPlan,
    with_size: bool,
    append_limit: Option<u64>,
) -> Result<BTreeMap<String, Counts>, ConnectError> {
    let mut out = BTreeMap::new();
    for m in plan.folders.iter().filter(|m| m.selectable) {
        let mut counts = Counts::default();
        match folder_status(session, m.source.raw(), with_size).await? {
            Ok((messages, bytes)) => {
                counts.messages = messages;
                counts.bytes = bytes;
            }
            Err(text) => counts.refused = Some(text),
        }
        if let Some(limit) = append_limit.filter(|_| counts.refused.is_none()) {
            if counts.messages == 0 {
                counts.too_large = Some(0);
            } else {
                match larger_than(session, m.source.raw(), limit).await? {
                    Ok(n) => counts.too_large = Some(n),
                    Err(text) => counts.refused = Some(text),
                }
            }
        }
        out.insert(m.source.raw().to_string(), counts);
    }
    Ok(out)
}

/// The rows and totals from the plan and the counts (pure). `dst_delimiter`: the
/// destination's hierarchy separator, to see which names exist as parents of created folders.
fn assemble(
    plan: FolderPlan,
    dst_delimiter: Option<char>,
    counts: &BTreeMap<String, Counts>,
    append_limit: Option<u64>,
    quota: Option<Quota>,
) -> Preview {
    let mut messages = 0u64;
    let mut bytes = Some(0u64);
    let mut too_large = append_limit.map(|_| 0u64);
    let mut folders = Vec::with_capacity(plan.folders.len());
    let mut one_copy: Option<u64> = None;
    let mut as_they_are = 0u64;
    for m in &plan.folders {
        let mut notes: Vec<String> = m.notes.iter().map(ToString::to_string).collect();
        let c = counts.get(m.source.raw()).cloned().unwrap_or_default();
        if m.selectable && !m.all_mail && crate::copy::labels::rank_of(m).is_none() {
            as_they_are += c.messages;
        }
        if m.all_mail {
            one_copy = Some(c.messages);
            // All Mail lists every labelled message again: only its remainder is copied,
            // known after the scan; the totals count the labels.
        } else if m.selectable {
            messages += c.messages;
            bytes = bytes.zip(c.bytes).map(|(a, b)| a + b);
            too_large = too_large.zip(c.too_large).map(|(a, b)| a + b);
        } else {
            notes.push("holds no messages (\\Noselect)".to_string());
        }
        if let Some(text) = &c.refused {
            notes.push(format!("not counted: {text}"));
        }
        folders.push(PreviewFolder {
            source: m.source.clone(),
            destination: m.destination.clone(),
            will_create: !m.exists_at_destination
                && (m.create || has_created_child(&plan, m.destination.raw(), dst_delimiter)),
            selectable: m.selectable,
            counted: c.refused.is_none(),
            notes,
            messages: c.messages,
            bytes: if m.selectable { c.bytes } else { Some(0) },
            too_large: if m.selectable {
                c.too_large
            } else {
                append_limit.map(|_| 0)
            },
        });
    }
    let skipped = plan
        .skipped
        .iter()
        .map(|s| (s.source.clone(), s.reason.to_string()))
        .collect();
    Preview {
        plan,
        folders,
        skipped,
        messages,
        bytes,
        append_limit,
        too_large,
        quota,
        warnings: Vec::new(),
        labels: one_copy.map(|all| LabelCounts {
            folders: messages,
            one_copy: all + as_they_are,
        }),
    }
}

/// Whether the plan creates a folder below `parent` (raw names): then CREATE makes `parent` too.
fn has_created_child(plan: &FolderPlan, parent: &str, delimiter: Option<char>) -> bool {
    let Some(d) = delimiter else {
        return false;
    };
    let prefix = format!("{parent}{d}");
    plan.to_create()
        .any(|c| c.destination.raw().starts_with(&prefix))
}

// ---------------------------------------------------------------------------------------------
// Commands

/// `STATUS folder (MESSAGES [SIZE])`: `Ok(Err(text))` when the server refused it.
async fn folder_status(
    session: &mut ImapSession,
    folder: &str,
    with_size: bool,
) -> Result<Result<(u64, Option<u64>), String>, ConnectError> {
    let items = if with_size {
        "MESSAGES SIZE"
    } else {
        "MESSAGES"
    };
    match mailbox::status(session, folder, items).await {
        Ok(st) => match st.get("MESSAGES") {
            Some(messages) => Ok(Ok((messages, st.get("SIZE")))),
            None => Err(ConnectError::Protocol {
                detail: format!("the STATUS answer for {folder:?} holds no MESSAGES"),
            }),
        },
        Err(CmdError::Refused { text, .. }) => Ok(Err(text)),
        Err(CmdError::Broken(e)) => Err(e),
    }
}

/// `EXAMINE folder` then `SEARCH LARGER limit`: how many messages exceed `limit` octets.
async fn larger_than(
    session: &mut ImapSession,
    folder: &str,
    limit: u64,
) -> Result<Result<u64, String>, ConnectError> {
    let counted = async {
        mailbox::select(session, folder, true).await?;
        mailbox::count_larger(session, limit).await
    };
    match counted.await {
        Ok(n) => Ok(Ok(n)),
        Err(CmdError::Refused { text, .. }) => Ok(Err(text)),
        Err(CmdError::Broken(e)) => Err(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Parsers (pure)

/// `APPENDLIMIT=n` among the capabilities (RFC 7889). A bare `APPENDLIMIT` (limits per
/// mailbox only) gives `None`.
fn append_limit(capabilities: &[String]) -> Option<u64> {
    capabilities.iter().find_map(|c| {
        let (name, value) = c.split_once('=')?;
        name.eq_ignore_ascii_case("APPENDLIMIT")
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::plan::{plan_folders, PlanOptions};
    use crate::session::{Folder, Namespace};

    #[test]
    fn append_limits() {
        let caps = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            append_limit(&caps(&["IMAP4rev1", "APPENDLIMIT=35651584"])),
            Some(35_651_584)
        );
        assert_eq!(append_limit(&caps(&["appendlimit=10"])), Some(10));
        assert_eq!(append_limit(&caps(&["APPENDLIMIT"])), None);
        assert_eq!(append_limit(&caps(&["APPENDLIMIT=x", "QUOTA"])), None);
        assert_eq!(append_limit(&caps(&["X-APPENDLIMIT=5"])), None);
    }

    fn folder(name: &str, attrs: &[&str]) -> Folder {
        Folder {
            name: name.into(),
            delimiter: Some('/'),
            attributes: attrs.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_gmail_source_without_all_mail_is_warned_about_and_only_gmail() {
        let ns = || {
            Some(Namespace {
                prefix: String::new(),
                delimiter: Some('/'),
            })
        };
        let dst = Side::new(vec![folder("INBOX", &[])], ns());
        let hidden = Side::new(
            vec![
                folder("INBOX", &[]),
                folder("[Gmail]/Sent Mail", &["\\Sent"]),
            ],
            ns(),
        );
        let shown = Side::new(
            vec![
                folder("INBOX", &[]),
                folder("[Gmail]/All Mail", &["\\All", "\\HasNoChildren"]),
            ],
            ns(),
        );
        let plan = |src: &Side| plan_folders(src, &dst, &PlanOptions::default());
        assert_eq!(
            warnings(Provider::Gmail, &plan(&hidden)),
            [PreviewWarning::GmailWithoutAllMail]
        );
        assert_eq!(warnings(Provider::Gmail, &plan(&shown)), []);
        // Other servers have no All Mail to miss.
        assert_eq!(warnings(Provider::Other, &plan(&hidden)), []);
        assert_eq!(warnings(Provider::Microsoft, &plan(&hidden)), []);
    }

    #[test]
    fn a_copy_larger_than_a_days_volume_is_told_how_many_days_it_takes() {
        let into_gmail = DailyVolumes::default()
            .for_copy(Provider::Other, Provider::Gmail)
            .unwrap();
        // 10 GB at 95 % of 500 MB a day: 22 days (20 at the full volume).
        assert_eq!(
            volume_warning(10_000 * crate::profile::MB, into_gmail),
            Some(PreviewWarning::DailyVolume {
                days: 22,
                per_day: 500 * crate::profile::MB,
                provider: Provider::Gmail,
                upload: true,
            })
        );
        // Within a day: nothing to say.
        assert_eq!(volume_warning(400 * crate::profile::MB, into_gmail), None);
        assert_eq!(volume_warning(0, into_gmail), None);
    }

    #[test]
    fn assembling_rows_and_totals() {
        let src = Side::new(
            vec![
                folder("INBOX", &[]),
                folder("Work", &[]),
                folder("Box", &["\\Noselect"]),
                folder("Gone", &["\\NonExistent"]),
            ],
            Some(Namespace {
                prefix: String::new(),
                delimiter: Some('/'),
            }),
        );
        let dst = Side::new(
            vec![Folder {
                name: "INBOX".into(),
                delimiter: Some('.'),
                attributes: vec![],
            }],
            Some(Namespace {
                prefix: "INBOX.".into(),
                delimiter: Some('.'),
            }),
        );
        let plan = plan_folders(&src, &dst, &PlanOptions::default());
        let mut counts = BTreeMap::new();
        counts.insert(
            "INBOX".to_string(),
            Counts {
                messages: 3,
                bytes: Some(300),
                too_large: Some(1),
                refused: None,
            },
        );
        counts.insert(
            "Work".to_string(),
            Counts {
                messages: 2,
                bytes: Some(20),
                too_large: Some(0),
                refused: None,
            },
        );
        let p = assemble(
            plan.clone(),
            Some('.'),
            &counts,
            Some(100),
            Some(Quota {
                used_kib: 1,
                limit_kib: 2,
            }),
        );
        assert_eq!((p.messages, p.bytes, p.too_large), (5, Some(320), Some(1)));
        let rows: Vec<(&str, &str, bool)> = p
            .folders
            .iter()
            .map(|f| (f.source.display(), f.destination.display(), f.will_create))
            .collect();
        assert_eq!(
            rows,
            vec![
                ("INBOX", "INBOX", false),
                ("Box", "INBOX.Box", true),
                ("Work", "INBOX.Work", true)
            ]
        );
        assert!(p.folders[1].notes.iter().any(|n| n.contains("Noselect")));
        assert_eq!(
            p.skipped,
            vec![(
                MailboxName::from_raw("Gone"),
                "does not exist (\\NonExistent)".to_string()
            )]
        );

        // One folder without SIZE or refused: totals that cannot be complete are unknown.
        counts.insert(
            "Work".to_string(),
            Counts {
                messages: 2,
                bytes: None,
                too_large: None,
                refused: Some("NO way".into()),
            },
        );
        let p = assemble(plan, Some('.'), &counts, None, None);
        assert_eq!((p.messages, p.bytes, p.too_large), (5, None, None));
        assert!(p.folders[2]
            .notes
            .iter()
            .any(|n| n == "not counted: NO way"));
        assert!(!p.folders[2].counted && p.folders[0].counted);
    }

    #[test]
    fn a_source_with_all_mail_says_what_each_label_policy_copies() {
        let ns = Some(Namespace {
            prefix: String::new(),
            delimiter: Some('/'),
        });
        let dst = Side::new(vec![folder("INBOX", &[])], ns.clone());
        let src = Side::new(
            vec![
                folder("INBOX", &[]),
                folder("Work", &[]),
                folder("[Gmail]/All Mail", &["\\All"]),
                folder("[Gmail]/Trash", &["\\Trash"]),
            ],
            ns,
        );
        let plan = plan_folders(&src, &dst, &PlanOptions::default());
        let count = |n: u64| Counts {
            messages: n,
            bytes: None,
            too_large: None,
            refused: None,
        };
        let counts: BTreeMap<String, Counts> = [
            ("INBOX", 4),
            ("Work", 3),
            ("[Gmail]/All Mail", 9),
            ("[Gmail]/Trash", 2),
        ]
        .into_iter()
        .map(|(n, c)| (n.to_string(), count(c)))
        .collect();
        let p = assemble(plan.clone(), Some('/'), &counts, None, None);
        // Labels: 4 + 3 + 2 (Trash); one copy: All Mail's 9 and Trash's 2.
        assert_eq!(
            p.labels,
            Some(LabelCounts {
                folders: 9,
                one_copy: 11
            })
        );
        let plain = Side::new(vec![folder("INBOX", &[]), folder("Work", &[])], None);
        let p = assemble(
            plan_folders(&plain, &dst, &PlanOptions::default()),
            Some('/'),
            &counts,
            None,
            None,
        );
        assert_eq!(p.labels, None);
    }

    #[test]
    fn noselect_parents_count_as_created_only_with_a_created_child() {
        let src = Side::new(
            vec![
                folder("INBOX", &[]),
                folder("Parent", &["\\Noselect", "\\HasChildren"]),
                folder("Parent/Kid", &[]),
                folder("Held", &["\\Noselect", "\\HasChildren"]),
                folder("Held/There", &[]),
            ],
            Some(Namespace {
                prefix: String::new(),
                delimiter: Some('/'),
            }),
        );
        let dot = |name: &str| Folder {
            name: name.into(),
            delimiter: Some('.'),
            attributes: vec![],
        };
        let dst = Side::new(
            vec![dot("INBOX"), dot("INBOX.Held.There")],
            Some(Namespace {
                prefix: "INBOX.".into(),
                delimiter: Some('.'),
            }),
        );
        let plan = plan_folders(&src, &dst, &PlanOptions::default());
        let p = assemble(plan, Some('.'), &BTreeMap::new(), None, None);
        let created = |name: &str| {
            p.folders
                .iter()
                .find(|f| f.source.display() == name)
                .map(|f| f.will_create)
                .unwrap()
        };
        assert!(created("Parent"), "made by CREATE INBOX.Parent.Kid");
        assert!(created("Parent/Kid"));
        assert!(
            !created("Held"),
            "its only child exists already: nothing makes it"
        );
        assert!(!created("Held/There"));
        assert!(!created("INBOX"));
    }
}
