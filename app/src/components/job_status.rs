//! Presentational pieces of the status pages: the coarse state sentence and the progress bar.

use leptos::prelude::*;

use crate::i18n::{fill, Lang, T};
use crate::model::{utc_minute, JobView, ProgressView, PublicState};

/// The sentence for a job's coarse state.
pub fn state_sentence(state: PublicState, lang: Lang) -> String {
    let t = match state {
        PublicState::NotFound => T::StateUnknown,
        PublicState::Ambiguous => T::StateAmbiguous,
        PublicState::Queued => T::StateNotStarted,
        PublicState::Running { .. } => T::StateRunning,
        PublicState::Paused { until_ms } => {
            return fill(
                T::StatePausedUntil.get(lang),
                &[("until", utc_minute(until_ms))],
            )
        }
        PublicState::Finished => T::StateFinished,
        PublicState::Failed => T::StateFailed,
    };
    t.get(lang).to_string()
}

#[component]
pub fn ProgressBar(percent: u8) -> impl IntoView {
    view! {
        <div class="progress">
            <progress max="100" value=percent.to_string() aria-label="%">
                {format!("{percent} %")}
            </progress>
            <span class="percent">{format!("{percent} %")}</span>
        </div>
    }
}

/// Human-readable byte count (binary units, one decimal, rounded half up). Integer
/// arithmetic: float formatting would bring about 5 KB of code into the WASM bundle.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut unit = 0;
    let mut scale: u64 = 1;
    while n / scale >= 1024 && unit < UNITS.len() - 1 {
        scale *= 1024;
        unit += 1;
    }
    if unit == 0 {
        return format!("{n} B");
    }
    // `n % scale` is below 2^40: times ten it fits.
    let tenth = ((n % scale) * 10 + scale / 2) / scale;
    let (whole, tenth) = (n / scale + tenth / 10, tenth % 10);
    format!("{whole}.{tenth} {}", UNITS[unit])
}

/// "12 of 40 messages · 1.2 MiB of 4.0 MiB", or, while a queued or running job has no totals
/// yet (queued before its preflight ended, waiting for its own scan), "Counting the messages…".
pub fn progress_line(progress: &ProgressView, active: bool, lang: Lang) -> String {
    if active && !progress.counted {
        return T::ProgressCounting.get(lang).to_string();
    }
    let messages = fill(
        T::ProgressMessages.get(lang),
        &[
            ("done", progress.messages_done.to_string()),
            ("total", progress.messages_total.to_string()),
        ],
    );
    let size = fill(
        T::ProgressBytes.get(lang),
        &[
            ("done", bytes(progress.bytes_done)),
            ("total", bytes(progress.bytes_total)),
        ],
    );
    format!("{messages} · {size}")
}

#[component]
pub fn ProgressNumbers(progress: ProgressView, active: bool) -> impl IntoView {
    let lang = expect_context::<Lang>();
    view! {
        <p>{progress_line(&progress, active, lang)}</p>
        {progress
            .current_folder
            .map(|folder| view! { <p>{T::CurrentFolder.get(lang)} " " <span class="folder">{folder}</span></p> })}
    }
}

#[component]
pub fn FolderTable(job: JobView) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let rows = job
        .folders
        .into_iter()
        .map(|row| {
            view! {
                <tr>
                    <td>{row.source}</td>
                    <td>{row.destination}</td>
                    <td class="num">{row.source_count}</td>
                    <td class="num">{row.destination_count}</td>
                    <td class="num">{row.copied}</td>
                    <td class="num">{row.already_present}</td>
                    <td class="num">{row.skipped}</td>
                    <td class="num">{row.rejected}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        // Scrolls sideways on narrow screens: focusable so that the keyboard can scroll it.
        <div class="table-wrap" tabindex="0" role="region" aria-labelledby="folders-caption">
            <table>
                <caption id="folders-caption">{T::TableCaption.get(lang)}</caption>
                <thead>
                    <tr>
                        <th scope="col">{T::TableFolder.get(lang)}</th>
                        <th scope="col">{T::TableDestination.get(lang)}</th>
                        <th scope="col">{T::TableSource.get(lang)}</th>
                        <th scope="col">{T::TableAtDestination.get(lang)}</th>
                        <th scope="col">{T::TableCopied.get(lang)}</th>
                        <th scope="col">{T::TablePresent.get(lang)}</th>
                        <th scope="col">{T::TableSkipped.get(lang)}</th>
                        <th scope="col">{T::TableRejected.get(lang)}</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

pub fn state_is_final(state: PublicState) -> bool {
    matches!(state, PublicState::Finished | PublicState::Failed)
}

/// `1 h 05 min`, `3 min`, `40 s`.
pub fn duration(secs: u64) -> String {
    let (h, m) = (secs / 3600, (secs / 60) % 60);
    if h > 0 {
        format!("{h} h {m:02} min")
    } else if m > 0 {
        format!("{m} min")
    } else {
        format!("{secs} s")
    }
}

/// The job's own start and duration, and its attempts when there were several (lines the
/// server wrote in the page's language: their texts stay out of the WASM bundle).
#[component]
pub fn JobTimes(job: JobView) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let attempts = (job.attempts.len() > 1).then(|| {
        let items = job
            .attempts
            .into_iter()
            .map(|line| view! { <li>{line}</li> })
            .collect_view();
        view! {
            <h2 class="attempts-heading">{T::AttemptsHeading.get(lang)}</h2>
            <ol class="attempts">{items}</ol>
        }
    });
    view! {
        {job.times.map(|t| view! { <p class="times">{t}</p> })}
        {attempts}
    }
}

/// The messages that were not copied, with the reason for each.
#[component]
pub fn MessageTable(job: JobView) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let more = job.messages_more;
    let rows = job
        .messages
        .into_iter()
        .map(|m| {
            let kind = if m.rejected {
                T::TableRejected
            } else {
                T::TableSkipped
            };
            view! {
                <tr>
                    <td>{kind.get(lang)}</td>
                    <td>{m.folder}</td>
                    <td>{m.date}</td>
                    <td>{m.from}</td>
                    <td>{m.subject}</td>
                    <td class="num">{bytes(m.size)}</td>
                    <td lang="en">{m.reason}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap" tabindex="0" role="region" aria-labelledby="not-copied-caption">
            <table>
                <caption id="not-copied-caption">{T::ReportRejectedList.get(lang)}</caption>
                <thead>
                    <tr>
                        <th scope="col"></th>
                        <th scope="col">{T::TableFolder.get(lang)}</th>
                        <th scope="col">{T::ReportDate.get(lang)}</th>
                        <th scope="col">{T::ReportFrom.get(lang)}</th>
                        <th scope="col">{T::ReportSubjectHeader.get(lang)}</th>
                        <th scope="col">{T::ReportSize.get(lang)}</th>
                        <th scope="col">{T::ReportReason.get(lang)}</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
            {(more > 0).then(|| view! { <p>{fill(T::ReportMore.get(lang), &[("n", more.to_string())])}</p> })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_read_in_binary_units_with_one_decimal() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1024), "1.0 KiB");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(1075), "1.0 KiB");
        assert_eq!(bytes(1076), "1.1 KiB");
        assert_eq!(bytes(92 * 1024 * 1024 + 300 * 1024), "92.3 MiB");
        assert_eq!(bytes(5 << 40), "5.0 TiB");
        assert_eq!(bytes(u64::MAX), "16777216.0 TiB");
    }

    #[test]
    fn an_active_job_without_totals_is_counting_not_zero_of_zero() {
        let unknown = ProgressView::default();
        for (lang, text) in [
            (Lang::En, "Counting the messages…"),
            (Lang::Es, "Contando los mensajes…"),
            (Lang::Fr, "Comptage des messages…"),
        ] {
            assert_eq!(progress_line(&unknown, true, lang), text);
        }
        // Counted (by the preflight or the scan), even an empty mailbox shows its numbers.
        let empty = ProgressView {
            counted: true,
            ..ProgressView::default()
        };
        assert_eq!(
            progress_line(&empty, true, Lang::Es),
            "0 de 0 mensajes · 0 B de 0 B"
        );
        let counted = ProgressView {
            counted: true,
            messages_done: 3,
            messages_total: 40,
            bytes_done: 2048,
            bytes_total: 4096,
            ..ProgressView::default()
        };
        assert_eq!(
            progress_line(&counted, true, Lang::En),
            "3 of 40 messages · 2.0 KiB of 4.0 KiB"
        );
        // A final job shows what it has, counted or not.
        assert_eq!(
            progress_line(&unknown, false, Lang::Fr),
            "0 messages sur 0 · 0 B sur 0 B"
        );
    }

    #[test]
    fn a_progress_record_written_before_the_flag_reads_as_not_counted() {
        let old: ProgressView = serde_json::from_str(
            r#"{"current_folder":null,"folders_done":0,"folders_total":2,"messages_done":0,"messages_total":5,"bytes_done":0,"bytes_total":0,"bytes_per_second":0}"#,
        )
        .unwrap_or_default();
        assert_eq!(old.messages_total, 5);
        assert!(!old.counted);
    }
}
