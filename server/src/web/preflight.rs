//! The wizard's preflight (issue "Web, part 1", point 4), server side: the folder mapping and
//! what the copy would move, for a draft whose two accounts are established.
//!
//! The scan runs when the page asks for it (the `preflight` server function, also while the
//! page is rendered on the server), under the Validate time limit
//! ([`WizardService::check_timeout`]), and its result is cached in the draft for
//! [`FRESH_FOR`] (a failure for [`FAILURE_FRESH_FOR`], so that a retry comes soon). Saving
//! either account again drops the cached result. The job reuses its counts: Synchronize
//! stores them as the job's first progress (folders, messages and bytes to copy), so the
//! status page has totals before the job's own scan. The copy itself reads both accounts
//! again when it runs: hours may pass in the queue, and exactness depends on what is there
//! then.

use std::time::{Duration, Instant};

use app::model::{
    FolderNote, LabelCountsView, PreflightFailure, PreflightFolder, PreflightSkipped,
    PreflightView, PreflightWarning, QuotaView, SkipKind,
};
use mailcopy::preview::{preview, Preview, PreviewWarning};
use mailcopy::{ConnectError, MappingNote, PlanOptions, SkipReason};

use super::wizard::{failure_kind, WizardService};

/// How long a preflight is shown again without asking the servers.
pub const FRESH_FOR: Duration = Duration::from_secs(5 * 60);
/// How long a failed preflight is shown again before the next attempt.
pub const FAILURE_FRESH_FOR: Duration = Duration::from_secs(30);

impl WizardService {
    /// The preflight of a draft whose two accounts are established (`None` otherwise): from
    /// the draft's cache while fresh, else read from both servers and cached.
    pub async fn preflight_view(&self, draft: Option<&str>) -> Option<PreflightView> {
        let id = draft?;
        if let Some(cached) = self.drafts.preflight(id) {
            return Some(cached);
        }
        let generation = self.drafts.generation(id)?;
        let (source, destination) = self.drafts.validated(id)?;
        let source_creds = source.credentials();
        let destination_creds = destination.credentials();
        let started = Instant::now();
        let result = preview(
            (&source.endpoint, &source_creds),
            (&destination.endpoint, &destination_creds),
            &self.connect,
            &PlanOptions::default(),
            self.volumes.as_ref(),
            self.check_timeout,
        )
        .await;
        tracing::info!(
            ok = result.is_ok(),
            error = result.as_ref().err().map(|e| e.to_string()),
            folders = result.as_ref().map(|p| p.folders.len()).unwrap_or_default(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "preflight"
        );
        let (view, fresh_for) = match result {
            Ok(preview) => (view_of(&preview), FRESH_FOR),
            Err(error) => (failed(&error), FAILURE_FRESH_FOR),
        };
        self.drafts
            .set_preflight(id, generation, view.clone(), fresh_for);
        Some(view)
    }
}

fn failed(error: &ConnectError) -> PreflightView {
    PreflightView {
        failure: Some(PreflightFailure {
            kind: failure_kind(error.kind()),
            detail: super::redact::user_detail(error),
        }),
        ..PreflightView::default()
    }
}

/// What the page shows of an engine preview (names decoded, notes as catalogue keys).
pub fn view_of(p: &Preview) -> PreflightView {
    let folders = p
        .folders
        .iter()
        .map(|f| {
            let mut notes: Vec<FolderNote> = p
                .plan
                .mapping(f.source.raw())
                .map(|m| m.notes.iter().map(note).collect())
                .unwrap_or_default();
            if !f.selectable {
                notes.push(FolderNote::NoMessages);
            } else if !f.counted {
                notes.push(FolderNote::NotCounted);
            }
            PreflightFolder {
                source: f.source.to_string(),
                destination: f.destination.to_string(),
                will_create: f.will_create,
                messages: f.messages,
                bytes: f.bytes,
                notes,
            }
        })
        .collect();
    let skipped = p
        .plan
        .skipped
        .iter()
        .map(|s| PreflightSkipped {
            source: s.source.to_string(),
            reason: match s.reason {
                SkipReason::GmailVirtual => SkipKind::GmailVirtual,
                SkipReason::NonExistent => SkipKind::NonExistent,
                SkipReason::OutsidePersonalNamespace => SkipKind::OutsideNamespace,
                SkipReason::NamespaceRoot => SkipKind::NamespaceRoot,
                SkipReason::NotMail => SkipKind::NotMail,
            },
        })
        .collect();
    PreflightView {
        folders,
        skipped,
        messages: p.messages,
        bytes: p.bytes,
        append_limit: p.append_limit,
        too_large: p.too_large,
        quota: p.quota.map(|q| QuotaView {
            used_kib: q.used_kib,
            limit_kib: q.limit_kib,
        }),
        warnings: p
            .warnings
            .iter()
            .map(|w| match w {
                PreviewWarning::GmailWithoutAllMail => PreflightWarning::GmailWithoutAllMail,
                PreviewWarning::DailyVolume {
                    days,
                    per_day,
                    provider,
                    upload,
                } => PreflightWarning::DailyVolume {
                    days: *days,
                    megabytes: per_day.div_ceil(mailcopy::profile::MB),
                    provider: provider.name().unwrap_or("?"),
                    upload: *upload,
                },
            })
            .collect(),
        // Written per answer, in the page's language (`Backend::preflight`).
        warning_texts: Vec::new(),
        failure: None,
        label_counts: p.labels.map(|l| LabelCountsView {
            folders: l.folders,
            one_copy: l.one_copy,
        }),
        label_choice: Vec::new(),
        label_one_copy: false,
    }
}

fn note(n: &MappingNote) -> FolderNote {
    match n {
        MappingNote::Collision { with, .. } => FolderNote::Collision {
            with: with.to_string(),
        },
        MappingNote::SeparatorEscaped {
            separator,
            replacement,
        } => FolderNote::SeparatorEscaped {
            separator: *separator,
            replacement: *replacement,
        },
        MappingNote::SpecialUseMatched { special_use, .. } => FolderNote::SpecialUse {
            attribute: special_use.attribute().to_string(),
        },
        MappingNote::SpecialUseNotAtDestination { special_use } => FolderNote::SpecialUseMissing {
            attribute: special_use.attribute().to_string(),
        },
        MappingNote::InboxChildLifted => FolderNote::InboxChildLifted,
        MappingNote::Renamed { .. } => FolderNote::Renamed,
        MappingNote::AllMailRemainder => FolderNote::AllMailRemainder,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use mailcopy::preview::{PreviewFolder, Quota};
    use mailcopy::{Folder, Namespace, Side};

    fn folder(name: &str, attrs: &[&str]) -> Folder {
        Folder {
            name: name.into(),
            delimiter: Some('/'),
            attributes: attrs.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn the_view_decodes_names_and_maps_notes_and_reasons() {
        let src = Side::new(
            vec![
                folder("INBOX", &[]),
                folder("Sub", &[]),
                folder("INBOX/Sub", &[]),
                folder("Bo&AO4-te", &[]),
                folder("Box", &["\\Noselect"]),
                folder("Ghost", &["\\NonExistent"]),
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
        let plan = mailcopy::plan_folders(&src, &dst, &PlanOptions::default());
        let folders = plan
            .folders
            .iter()
            .map(|m| PreviewFolder {
                source: m.source.clone(),
                destination: m.destination.clone(),
                will_create: !m.exists_at_destination,
                selectable: m.selectable,
                counted: m.source != "Sub",
                notes: vec![],
                messages: 1,
                bytes: Some(10),
                too_large: None,
            })
            .collect();
        let preview = Preview {
            plan,
            folders,
            skipped: vec![],
            messages: 4,
            bytes: Some(40),
            append_limit: Some(100),
            too_large: Some(0),
            quota: Some(Quota {
                used_kib: 1,
                limit_kib: 2,
            }),
            warnings: vec![PreviewWarning::GmailWithoutAllMail],
            labels: Some(mailcopy::preview::LabelCounts {
                folders: 5,
                one_copy: 3,
            }),
        };
        let view = view_of(&preview);
        assert_eq!(view.warnings, [PreflightWarning::GmailWithoutAllMail]);
        assert_eq!(
            view.label_counts,
            Some(LabelCountsView {
                folders: 5,
                one_copy: 3
            })
        );
        let find = |name: &str| view.folders.iter().find(|f| f.source == name).unwrap();
        assert_eq!(find("Boîte").destination, "INBOX.Boîte");
        assert!(find("Boîte").will_create && !find("INBOX").will_create);
        assert_eq!(find("INBOX/Sub").destination, "INBOX.Sub (2)");
        assert!(find("INBOX/Sub")
            .notes
            .contains(&FolderNote::Collision { with: "Sub".into() }));
        assert!(find("INBOX/Sub")
            .notes
            .contains(&FolderNote::InboxChildLifted));
        assert_eq!(find("Sub").notes, vec![FolderNote::NotCounted]);
        assert_eq!(find("Box").notes, vec![FolderNote::NoMessages]);
        assert_eq!(
            view.skipped,
            vec![PreflightSkipped {
                source: "Ghost".into(),
                reason: SkipKind::NonExistent
            }]
        );
        assert_eq!(
            (view.messages, view.bytes, view.append_limit, view.too_large),
            (4, Some(40), Some(100), Some(0))
        );
        assert_eq!(
            view.quota,
            Some(QuotaView {
                used_kib: 1,
                limit_kib: 2
            })
        );
        assert!(view.failure.is_none());

        let failed = failed(&ConnectError::TimedOut { stage: "preview" });
        assert_eq!(
            failed.failure.unwrap().kind,
            app::model::FailureKind::TimedOut
        );
    }
}
