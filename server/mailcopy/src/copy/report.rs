//! The result of a copy: per-folder completeness rows, the outcome, and the plain-text table.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::stop::Stop;
#[cfg(test)]
use crate::stop::StopKind;

use crate::names::{MailboxName, Uid};

/// Enough to recognise a message that was not copied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageSummary {
    /// The `Date:` header, or the INTERNALDATE when there is none.
    pub date: Option<String>,
    /// The `From:` header as it is (encoded words not decoded).
    pub from: Option<String>,
    /// The `Subject:` header as it is.
    pub subject: Option<String>,
    /// RFC822.SIZE in bytes.
    pub size: u64,
}

/// Why a message was deliberately not copied. Policy skips: they do not make a copy
/// incomplete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SkipReason {
    /// Flagged `\Deleted` at the source (waiting for EXPUNGE).
    Deleted,
    /// Expunged at the source between the scan and its turn.
    Vanished,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedMessage {
    /// Source UID.
    pub uid: Uid,
    pub reason: SkipReason,
    pub summary: MessageSummary,
}

/// Why a message is not at the destination although it should be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RejectReason {
    /// The destination answered NO (or BAD) to its APPEND; `server_text` says why.
    Refused,
    /// Larger than the destination's APPENDLIMIT or the configured
    /// [`CopyOptions::max_message_size`](super::CopyOptions::max_message_size): not sent.
    TooLarge { size: u64, limit: u64 },
    /// The source could not deliver it (FETCH refused, or an answer that could not be
    /// parsed), twice.
    Unreadable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedMessage {
    /// Source UID.
    pub uid: Uid,
    pub reason: RejectReason,
    /// The server's words (response code included), or ours for `TooLarge`.
    pub server_text: String,
    pub summary: MessageSummary,
}

/// One row of the completeness table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderReport {
    /// The source folder (serialized as the raw name, as the server sent it).
    pub source: MailboxName,
    /// The destination folder (serialized as the raw name, as sent to the server).
    pub destination: MailboxName,
    /// Messages in the source folder at scan time, and their RFC822.SIZE sum.
    pub source_count: u32,
    pub source_bytes: u64,
    /// Messages in the destination folder before this copy wrote to it.
    pub destination_before: u32,
    /// STATUS MESSAGES of the destination folder after the copy (`None`: not re-listed).
    pub destination_count: Option<u32>,
    /// Messages appended by this copy (in a dry run: that would be appended).
    pub copied: u32,
    pub copied_bytes: u64,
    /// Source messages found at the destination (counted in `destination_before`) that
    /// were there before this copy appended anything, and their source sizes: a re-run.
    pub already_present: u32,
    #[serde(default)]
    pub already_present_bytes: u64,
    /// Source messages found at the destination (counted in `destination_before`) that an
    /// earlier run of this same copy appended (a job resumed after a restart: its
    /// checkpoints say so), and their source sizes. Not in `copied` (this run's) nor in
    /// `already_present`: `copied + copied_before + already_present + skipped + rejected`
    /// is every source message.
    #[serde(default)]
    pub copied_before: u32,
    #[serde(default)]
    pub copied_before_bytes: u64,
    /// Messages already present whose flags were brought in line with the source's (in a
    /// dry run: that would be).
    #[serde(default)]
    pub flags_updated: u32,
    /// Messages the destination holds altered (other size or bytes than the source's): found
    /// by the scan among the messages already present, or by the read-back check after
    /// copying ([`CopyOptions::verify`](super::CopyOptions::verify)).
    #[serde(default)]
    pub altered: u32,
    /// Copied messages read back and compared ([`CopyOptions::verify`](super::CopyOptions::verify)).
    #[serde(default)]
    pub verified: u32,
    pub skipped: Vec<SkippedMessage>,
    pub rejected: Vec<RejectedMessage>,
    /// The `\All` folder's row ([`FolderMapping::all_mail`](crate::plan::FolderMapping::all_mail)):
    /// its messages that other copied folders hold, so not copied into the archive again
    /// (left out of `source_count` and `source_bytes`).
    #[serde(default)]
    pub in_other_folders: u32,
    /// Keyword instances the destination refused (the messages were copied without them).
    pub keywords_dropped: u32,
    /// Which keywords those were.
    pub keywords_refused: Vec<String>,
    /// Set when the folder could not be copied to the end (not created, refused by the
    /// source, UIDVALIDITY changed, fewer messages at the destination than expected): the
    /// copy is then incomplete.
    pub error: Option<String>,
    /// Every message of the folder was dealt with (false when the copy stopped first).
    pub finished: bool,
}

impl FolderReport {
    /// Messages this copy put at the destination, whatever run did it.
    pub fn copied_by_this_copy(&self) -> u64 {
        u64::from(self.copied) + u64::from(self.copied_before)
    }

    /// Messages that should be at the destination once the copy is done (at least: what
    /// was there, messages already present included, plus what was appended).
    pub fn expected_at_destination(&self) -> u64 {
        u64::from(self.destination_before) + u64::from(self.copied)
    }
}

/// How the copy ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// Everything that should be at the destination is there (policy skips are listed).
    Complete,
    /// Everything is there except messages the destination refused or the source could not
    /// deliver, each listed.
    CompleteWithRejections,
    /// The copy stopped (or folders could not be copied): `error` says why, once; `cause` is
    /// the same typed (kind, permanent or not, the server's suggested wait), for callers that
    /// decide what to do next. Reports stored before `cause` existed read it as the default.
    Incomplete {
        error: String,
        #[serde(default)]
        cause: Stop,
    },
}

impl Outcome {
    /// An incomplete outcome for `cause`.
    pub fn incomplete(cause: Stop) -> Outcome {
        Outcome::Incomplete {
            error: cause.text.clone(),
            cause,
        }
    }

    /// CLI exit status: 0 complete, 3 complete with rejections, 1 incomplete.
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Complete => 0,
            Outcome::CompleteWithRejections => 3,
            Outcome::Incomplete { .. } => 1,
        }
    }

    pub fn is_complete(&self) -> bool {
        !matches!(self, Outcome::Incomplete { .. })
    }
}

/// Sums over all folders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub folders: u64,
    pub messages: u64,
    pub bytes: u64,
    pub copied: u64,
    pub copied_bytes: u64,
    pub already_present: u64,
    #[serde(default)]
    pub already_present_bytes: u64,
    /// Σ [`FolderReport::copied_before`]: appended by an earlier run of this copy.
    #[serde(default)]
    pub copied_before: u64,
    #[serde(default)]
    pub copied_before_bytes: u64,
    pub skipped: u64,
    pub rejected: u64,
    pub keywords_dropped: u64,
}

impl Totals {
    /// Messages this copy put at the destination, whatever run did it.
    pub fn copied_by_this_copy(&self) -> u64 {
        self.copied + self.copied_before
    }

    /// Their bytes (source sizes).
    pub fn copied_by_this_copy_bytes(&self) -> u64 {
        self.copied_bytes + self.copied_before_bytes
    }
}

/// Everything a copy run produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyReport {
    pub outcome: Outcome,
    /// One row per planned folder, in plan order.
    pub folders: Vec<FolderReport>,
    /// The folder plan the copy followed (`None` if the copy stopped before planning).
    pub plan: Option<crate::plan::FolderPlan>,
    pub totals: Totals,
    pub dry_run: bool,
}

impl CopyReport {
    pub(crate) fn compute_totals(folders: &[FolderReport]) -> Totals {
        let mut t = Totals {
            folders: folders.len() as u64,
            ..Totals::default()
        };
        for f in folders {
            t.messages += u64::from(f.source_count);
            t.bytes += f.source_bytes;
            t.copied += u64::from(f.copied);
            t.copied_bytes += f.copied_bytes;
            t.already_present += u64::from(f.already_present);
            t.already_present_bytes += f.already_present_bytes;
            t.copied_before += u64::from(f.copied_before);
            t.copied_before_bytes += f.copied_before_bytes;
            t.skipped += f.skipped.len() as u64;
            t.rejected += f.rejected.len() as u64;
            t.keywords_dropped += u64::from(f.keywords_dropped);
        }
        t
    }

    /// Σ [`FolderReport::flags_updated`].
    pub fn flags_updated(&self) -> u64 {
        self.folders
            .iter()
            .map(|f| u64::from(f.flags_updated))
            .sum()
    }

    /// Σ [`FolderReport::altered`].
    pub fn altered(&self) -> u64 {
        self.folders.iter().map(|f| u64::from(f.altered)).sum()
    }

    /// Σ [`FolderReport::verified`].
    pub fn verified(&self) -> u64 {
        self.folders.iter().map(|f| u64::from(f.verified)).sum()
    }
}

/// Bytes in a short human unit (1 KB = 1024 bytes).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Terminal columns of `s`: East Asian wide characters take two (enough for aligned folder
/// names; no combining-character subtleties).
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| match u32::from(c) {
            0x1100..=0x115F
            | 0x2E80..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6
            | 0x1F300..=0x1F64F
            | 0x20000..=0x3FFFD => 2,
            _ => 1,
        })
        .sum()
}

fn outcome_line(o: &Outcome) -> String {
    match o {
        Outcome::Complete => "complete".to_string(),
        Outcome::CompleteWithRejections => "complete with rejections".to_string(),
        Outcome::Incomplete { error, .. } => format!("incomplete: {error}"),
    }
}

fn summary_line(s: &MessageSummary) -> String {
    let mut parts = Vec::new();
    if let Some(d) = &s.date {
        parts.push(d.clone());
    }
    if let Some(f) = &s.from {
        parts.push(format!("from {f}"));
    }
    if let Some(sub) = &s.subject {
        parts.push(format!("\"{sub}\""));
    }
    parts.push(human_bytes(s.size));
    parts.join(", ")
}

/// The completeness table of this run as plain text (the CLI): "Copied" is what this run
/// appended, "Present" what was at the destination when it started (an earlier run's included).
pub fn render_table(report: &CopyReport) -> String {
    let headers = [
        "Folder", "Source", "Size", "Dest.", "Copied", "Present", "Skipped", "Rejected",
    ];
    let mut rows: Vec<[String; 8]> = Vec::new();
    for f in &report.folders {
        let (src, dst) = (f.source.display(), f.destination.display());
        let name = if src == dst {
            src.to_string()
        } else {
            format!("{src} → {dst}")
        };
        rows.push([
            if f.error.is_some() {
                format!("{name} (!)")
            } else if !f.finished && !report.dry_run {
                format!("{name} (not finished)")
            } else {
                name
            },
            f.source_count.to_string(),
            human_bytes(f.source_bytes),
            f.destination_count
                .map_or_else(|| "?".to_string(), |n| n.to_string()),
            // This run's: what an earlier run appended was at the destination already.
            f.copied.to_string(),
            (u64::from(f.already_present) + u64::from(f.copied_before)).to_string(),
            f.skipped.len().to_string(),
            f.rejected.len().to_string(),
        ]);
    }
    let t = &report.totals;
    rows.push([
        "Total".to_string(),
        t.messages.to_string(),
        human_bytes(t.bytes),
        report
            .folders
            .iter()
            .map(|f| f.destination_count.map(u64::from))
            .sum::<Option<u64>>()
            .map_or_else(|| "?".to_string(), |n| n.to_string()),
        t.copied.to_string(),
        (t.already_present + t.copied_before).to_string(),
        t.skipped.to_string(),
        t.rejected.to_string(),
    ]);
    let mut widths = headers.map(width);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(width(c));
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[String]| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(width(c));
            if i == 0 {
                l.push_str(c);
                l.push_str(&" ".repeat(pad));
            } else {
                l.push_str("  ");
                l.push_str(&" ".repeat(pad));
                l.push_str(c);
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut out, &headers.map(String::from));
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    let n = rows.len();
    for (i, r) in rows.iter().enumerate() {
        if i + 1 == n {
            line(&mut out, &rule);
        }
        line(&mut out, r);
    }
    let _ = writeln!(
        out,
        "\nResult: {}{} (exit status {})",
        outcome_line(&report.outcome),
        if report.dry_run {
            " (dry run: nothing was written)"
        } else {
            ""
        },
        report.outcome.exit_code()
    );
    for f in report.folders.iter().filter(|f| f.in_other_folders > 0) {
        let _ = writeln!(
            out,
            "{} → {}: only the messages no other folder holds (archived); {} more are in the folders above",
            f.source.display(),
            f.destination.display(),
            f.in_other_folders
        );
    }
    if t.keywords_dropped > 0 {
        let _ = writeln!(
            out,
            "Keywords the destination refused: {} (messages copied without them)",
            t.keywords_dropped
        );
    }
    let (flags_updated, verified, altered) =
        (report.flags_updated(), report.verified(), report.altered());
    if flags_updated > 0 {
        let _ = writeln!(
            out,
            "Messages already present whose flags {} brought in line with the source: {flags_updated}",
            if report.dry_run { "would be" } else { "were" },
        );
    }
    if verified > 0 {
        let _ = writeln!(out, "Read back after copying: {verified} messages");
    }
    if altered > 0 {
        let _ = writeln!(
            out,
            "The destination altered {altered} messages (other size or bytes than the source's; it keeps them so)"
        );
    }
    let mut details = String::new();
    for f in &report.folders {
        let name = f.source.display();
        if let Some(e) = &f.error {
            let _ = writeln!(details, "  {name}: not copied in full: {e}");
        }
        if f.altered > 0 {
            let _ = writeln!(
                details,
                "  {name}: {} messages altered by the destination",
                f.altered
            );
        }
        for r in &f.rejected {
            let why = match &r.reason {
                RejectReason::Refused => "refused by the destination",
                RejectReason::TooLarge { .. } => "too large",
                RejectReason::Unreadable => "unreadable at the source",
            };
            let _ = writeln!(
                details,
                "  {name} UID {}: {why}: {} ({})",
                r.uid,
                r.server_text,
                summary_line(&r.summary)
            );
        }
        for s in &f.skipped {
            let why = match s.reason {
                SkipReason::Deleted => "skipped, flagged \\Deleted at the source",
                SkipReason::Vanished => "skipped, expunged at the source during the copy",
            };
            let _ = writeln!(
                details,
                "  {name} UID {}: {why} ({})",
                s.uid,
                summary_line(&s.summary)
            );
        }
        if !f.keywords_refused.is_empty() {
            let _ = writeln!(
                details,
                "  {name}: keywords refused by the destination: {}",
                f.keywords_refused.join(" ")
            );
        }
    }
    if !details.is_empty() {
        out.push_str("\nDetails:\n");
        out.push_str(&details);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(Outcome::Complete.exit_code(), 0);
        assert_eq!(Outcome::CompleteWithRejections.exit_code(), 3);
        assert_eq!(
            Outcome::incomplete(Stop::new(StopKind::Internal, false, "x")).exit_code(),
            1
        );
    }

    #[test]
    fn folder_names_are_stored_raw() {
        let f = FolderReport {
            source: MailboxName::from_raw("Donn&AOk-es"),
            destination: MailboxName::from_raw("INBOX.Donn&AOk-es"),
            ..Default::default()
        };
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["source"], "Donn&AOk-es");
        assert_eq!(json["destination"], "INBOX.Donn&AOk-es");
        let back: FolderReport = serde_json::from_value(json).unwrap();
        assert_eq!(back.source.display(), "Données");
        assert_eq!(back, f);
    }

    #[test]
    fn bytes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MB");
    }

    #[test]
    fn table() {
        let folders = vec![
            FolderReport {
                source: MailboxName::from_raw("INBOX"),
                destination: MailboxName::from_raw("INBOX"),
                source_count: 3,
                source_bytes: 3000,
                finished: true,
                destination_count: Some(2),
                copied: 2,
                copied_bytes: 2000,
                skipped: vec![SkippedMessage {
                    uid: Uid(3),
                    reason: SkipReason::Deleted,
                    summary: MessageSummary {
                        subject: Some("old".into()),
                        size: 1000,
                        ..Default::default()
                    },
                }],
                ..Default::default()
            },
            FolderReport {
                source: MailboxName::from_raw("Donn&AOk-es/Big"),
                destination: MailboxName::from_raw("INBOX.Donn&AOk-es.Big"),
                source_count: 1,
                source_bytes: 5_000_000,
                destination_count: Some(0),
                rejected: vec![RejectedMessage {
                    uid: Uid(1),
                    reason: RejectReason::Refused,
                    server_text: "[LIMIT] Mail size is larger".into(),
                    summary: MessageSummary::default(),
                }],
                ..Default::default()
            },
        ];
        let report = CopyReport {
            outcome: Outcome::CompleteWithRejections,
            totals: CopyReport::compute_totals(&folders),
            folders,
            plan: None,
            dry_run: false,
        };
        let t = render_table(&report);
        assert!(
            t.contains("Données/Big → INBOX.Données.Big (not finished)"),
            "{t}"
        );
        assert!(t.contains("\nINBOX  "), "{t}");
        assert_eq!(width("日本語"), 6);
        assert!(
            t.contains("complete with rejections (exit status 3)"),
            "{t}"
        );
        assert!(
            t.contains("UID 1: refused by the destination: [LIMIT] Mail size"),
            "{t}"
        );
        assert!(t.contains("UID 3: skipped, flagged \\Deleted"), "{t}");
        let total = t.lines().find(|l| l.starts_with("Total")).unwrap();
        assert_eq!(
            total.split_whitespace().collect::<Vec<_>>(),
            ["Total", "4", "4.8", "MB", "2", "2", "0", "1", "1"]
        );
    }
}
