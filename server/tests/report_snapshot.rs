//! The report e-mail, rendered in Spanish, English and French, compared with reviewed snapshots
//! (`tests/snapshots/`). Regenerate with `UPDATE_SNAPSHOTS=1 cargo test -p imapcopy --test
//! report_snapshot` and review the diff.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use imapcopy::jobs::state::JobState;
use imapcopy::jobs::store::{AccountSpec, Job};
use imapcopy::jobs::store_trait::{Attempt, AttemptEnd};
use imapcopy::report::ReportSettings;
use mailcopy::copy::{
    CopyReport, FolderReport, MessageSummary, Outcome, RejectReason, RejectedMessage, SkipReason,
    SkippedMessage, Totals,
};
use mailcopy::{MailboxName, Security};

fn job(lang: &str) -> Job {
    Job {
        id: "JOBID".into(),
        state: JobState::Finished,
        source_address: "support@ovh.net".into(),
        source: AccountSpec {
            host: "ssl0.ovh.net".into(),
            port: 993,
            security: Security::Tls,
            login: "support@ovh.net".into(),
        },
        destination: AccountSpec {
            host: "ex.mail.ovh.net".into(),
            port: 993,
            security: Security::Tls,
            login: "exchange@ovh.net".into(),
        },
        lang: lang.into(),
        report_to: None,
        created_at: 1_700_000_000_000,
        started_at: Some(1_700_000_001_000),
        finished_at: Some(1_700_003_723_000),
        attempts: 1,
        cancel_requested: false,
        progress: None,
        last_error: None,
        error_kind: None,
        outcome: Some("complete_with_rejections".into()),
        result: None,
        report_state: "pending".into(),
        report_error: None,
        has_secrets: true,
        source_provider: None,
        destination_provider: None,
        sign_in_sides: Vec::new(),
        sign_in_since: None,
        not_before: None,
        limit_pauses: 0,
        volume_day: None,
        labels: Default::default(),
    }
}

fn report() -> CopyReport {
    let summary = |subject: &str, size| MessageSummary {
        date: Some("Tue, 2 Jan 2024 09:00:00 +0100".into()),
        from: Some("Ana <ana@example.test>".into()),
        subject: Some(subject.into()),
        size,
    };
    let folders = vec![
        FolderReport {
            source: MailboxName::from_raw("INBOX"),
            destination: MailboxName::from_raw("INBOX"),
            source_count: 120,
            source_bytes: 5_400_000,
            destination_count: Some(119),
            copied: 118,
            copied_bytes: 1_200_000,
            skipped: vec![SkippedMessage {
                uid: mailcopy::Uid(7),
                reason: SkipReason::Deleted,
                summary: summary("old <draft>", 2_048),
            }],
            rejected: vec![RejectedMessage {
                uid: mailcopy::Uid(42),
                reason: RejectReason::TooLarge {
                    size: 40 * 1024 * 1024,
                    limit: 35 * 1024 * 1024,
                },
                server_text: String::new(),
                summary: summary("Holiday photos", 40 * 1024 * 1024),
            }],
            ..FolderReport::default()
        },
        FolderReport {
            source: MailboxName::from_raw("Bo&AO4-te d'envoi"),
            destination: MailboxName::from_raw("Sent Items"),
            source_count: 3,
            source_bytes: 9_000,
            destination_count: Some(3),
            copied: 3,
            copied_bytes: 9_000,
            keywords_dropped: 2,
            ..FolderReport::default()
        },
    ];
    let totals = Totals {
        folders: 2,
        messages: 123,
        bytes: 5_409_000,
        copied: 121,
        copied_bytes: 1_209_000,
        already_present: 0,
        skipped: 1,
        rejected: 1,
        keywords_dropped: 2,
        ..Totals::default()
    };
    CopyReport {
        outcome: Outcome::CompleteWithRejections,
        folders,
        plan: None,
        totals,
        dry_run: false,
    }
}

fn settings(zone: &str) -> ReportSettings {
    ReportSettings {
        public_url: "https://imapcopy.example".into(),
        time_zone: imapcopy::report::dates::time_zone(zone).unwrap(),
    }
}

/// Killed once mid-copy, then finished by the next process.
fn attempts() -> Vec<Attempt> {
    vec![
        Attempt {
            number: 1,
            started_at: 1_700_000_001_000,
            ended_at: Some(1_700_000_601_000),
            end: Some(AttemptEnd::Lost),
            error: None,
        },
        Attempt {
            number: 2,
            started_at: 1_700_000_661_000,
            ended_at: Some(1_700_003_723_000),
            end: Some(AttemptEnd::Finished),
            error: None,
        },
    ]
}

/// Compares with `tests/snapshots/report_{lang}.txt` (subject, text and HTML) and
/// `report_{lang}.html` (the HTML alone: the Playwright layout spec opens it at 600 px).
fn check(lang: &str) {
    let rendered = imapcopy::report::render(
        &job(lang),
        Some(&report()),
        &attempts(),
        &settings("Europe/Madrid"),
    );
    let actual = format!(
        "Subject: {}\n\n{}\n----- HTML -----\n{}\n",
        rendered.subject, rendered.text, rendered.html
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    for (file, content) in [
        (format!("report_{lang}.txt"), &actual),
        (format!("report_{lang}.html"), &rendered.html),
    ] {
        let path = dir.join(&file);
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(&path, content).unwrap();
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(*content, expected, "{file} differs from its snapshot");
    }
}

#[test]
fn report_snapshots() {
    for lang in ["es", "en", "fr"] {
        check(lang);
    }
}

#[test]
fn the_report_escapes_html_and_names_the_failure() {
    let mut failed = job("en");
    failed.state = JobState::Failed;
    failed.outcome = Some("incomplete".into());
    failed.last_error = Some("destination quota full: NO [OVERQUOTA] Quota exceeded <x>".into());
    let mut s = settings("UTC");
    s.public_url.push('/');
    // One attempt: no list of attempts.
    let rendered = imapcopy::report::render(&failed, None, &attempts()[1..], &s);
    assert!(!rendered.text.contains("Attempt"), "{}", rendered.text);
    assert!(
        rendered
            .text
            .contains("Started: 14 November 2023, 22:13 UTC"),
        "{}",
        rendered.text
    );
    assert_eq!(
        rendered.subject,
        "IMAPCopy: the synchronization of support@ovh.net failed"
    );
    assert!(rendered
        .text
        .starts_with("An error occurred in the synchronization. destination quota full"));
    assert!(rendered.html.contains("Quota exceeded &lt;x&gt;"));
    assert!(!rendered.html.contains("<x>"));
    assert!(rendered
        .text
        .contains("https://imapcopy.example/jobs/JOBID"));
}
