//! The preflight, shown once both accounts are established: where every source folder goes
//! (and which folders the copy creates), the folders left out and why, what the copy would move,
//! and the destination's limits (APPENDLIMIT, quota). Rendered on the server too: the wizard's
//! `SsrMode::Async` waits for it (the server bounds it in time and caches it in the draft).

use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;

use crate::api::preflight;
use crate::components::job_status::bytes as size;
use crate::i18n::{fill, Lang, T};
use crate::model::{FolderNote, PreflightFolder, PreflightSkipped, PreflightView};

#[component]
pub fn PreflightSummary() -> impl IntoView {
    let lang = expect_context::<Lang>();
    let data = crate::api::codec::resource(|| (), |_| preflight());
    view! {
        <section class="step preflight" aria-labelledby="preflight-heading">
            <h2 id="preflight-heading">{T::PreflightHeading.get(lang)}</h2>
            <Transition fallback=move || view! { <p class="notice">{T::PreflightLoading.get(lang)}</p> }>
                {move || {
                    data.get()
                        .map(|answer| match answer {
                            Ok(Some(view)) => EitherOf3::A(summary(view, lang)),
                            Ok(None) => EitherOf3::B(()),
                            Err(error) => {
                                EitherOf3::C(view! { <p class="error-box">{error.message().get(lang)}</p> })
                            }
                        })
                }}
            </Transition>
        </section>
    }
}

fn summary(view: PreflightView, lang: Lang) -> impl IntoView {
    if let Some(failure) = view.failure {
        return Either::Left(view! {
            <div class="status error">
                <p>
                    <strong>{T::PreflightFailed.get(lang)}</strong>
                    " "
                    {failure.kind.cause().get(lang)}
                </p>
                <p class="detail" lang="en">{failure.detail}</p>
            </div>
        });
    }
    let totals = match view.bytes {
        Some(b) => fill(
            T::PreflightTotals.get(lang),
            &[("messages", view.messages.to_string()), ("bytes", size(b))],
        ),
        None => fill(
            T::PreflightTotalsNoSize.get(lang),
            &[("messages", view.messages.to_string())],
        ),
    };
    let quota_warning = view.quota_too_small().then(|| {
        let free = view
            .quota
            .map(|q| q.free_kib().saturating_mul(1024))
            .unwrap_or_default();
        let text = fill(
            T::PreflightQuotaWarning.get(lang),
            &[
                ("free", size(free)),
                ("bytes", size(view.bytes.unwrap_or_default())),
            ],
        );
        view! { <p class="warning">{text}</p> }
    });
    let quota = view.quota.map(|q| {
        let text = fill(
            T::PreflightQuota.get(lang),
            &[
                ("used", size(q.used_kib.saturating_mul(1024))),
                ("limit", size(q.limit_kib.saturating_mul(1024))),
            ],
        );
        view! { <p>{text}</p> }
    });
    let append_limit = view.append_limit.map(|limit| {
        view! { <p>{fill(T::PreflightAppendLimit.get(lang), &[("size", size(limit))])}</p> }
    });
    let too_large = view.too_large.filter(|n| *n > 0).map(|n| {
        view! { <p class="warning">{fill(T::PreflightTooLarge.get(lang), &[("n", n.to_string())])}</p> }
    });
    let warnings = view
        .warning_texts
        .iter()
        .map(|text| view! { <p class="warning">{text.clone()}</p> })
        .collect_view();
    let rows = view
        .folders
        .into_iter()
        .map(|f| folder_row(f, lang))
        .collect_view();
    let skipped = (!view.skipped.is_empty()).then(|| skipped_list(view.skipped, lang));
    let labels = label_choice(view.label_choice, view.label_one_copy);
    Either::Right(view! {
        <p class="totals">{totals}</p>
        {warnings}
        {append_limit}
        {too_large}
        {quota}
        {quota_warning}
        // Scrolls sideways on narrow screens: focusable so that the keyboard can scroll it.
        <div class="table-wrap" role="region" aria-labelledby="preflight-caption" tabindex="0">
            <table class="preflight-table">
                <caption id="preflight-caption">{T::PreflightCaption.get(lang)}</caption>
                <thead>
                    <tr>
                        <th scope="col">{T::PreflightColSource.get(lang)}</th>
                        <th scope="col">{T::PreflightColDestination.get(lang)}</th>
                        <th scope="col" class="num">{T::PreflightColMessages.get(lang)}</th>
                        <th scope="col" class="num">{T::PreflightColSize.get(lang)}</th>
                        <th scope="col">{T::PreflightColNotes.get(lang)}</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        {skipped}
        {labels}
    })
}

/// The advanced setting of a source with labels: radio buttons of the Synchronize form
/// (`form="sync-form"`: they sit here, beside the counts they speak of).
fn label_choice(texts: Vec<String>, one_copy: bool) -> Option<impl IntoView> {
    let mut texts = texts.into_iter();
    let legend = texts.next()?;
    let mut option = move |value: &'static str, hint_id: &'static str, checked: bool| {
        let (label, hint) = (texts.next(), texts.next());
        view! {
            <div class="choice">
                <input
                    type="radio"
                    name="labels"
                    form="sync-form"
                    id=value
                    value=value
                    checked=checked
                    aria-describedby=hint_id
                />
                <label for=value>{label}</label>
                <p class="hint" id=hint_id>{hint}</p>
            </div>
        }
    };
    Some(view! {
        <fieldset class="labels">
            <legend>{legend}</legend>
            {option("folders", "folders-hint", !one_copy)}
            {option("one-copy", "one-copy-hint", one_copy)}
        </fieldset>
    })
}

fn folder_row(f: PreflightFolder, lang: Lang) -> impl IntoView {
    let created = f
        .will_create
        .then(|| view! { " " <span class="tag new">{T::PreflightWillCreate.get(lang)}</span> });
    let notes = (!f.notes.is_empty()).then(|| {
        let items = f
            .notes
            .iter()
            .map(|n| view! { <li>{note_text(n, lang)}</li> })
            .collect_view();
        view! { <ul class="notes">{items}</ul> }
    });
    view! {
        <tr>
            <th scope="row" class="folder-name">{f.source}</th>
            <td>
                <span class="folder-name">{f.destination}</span>
                {created}
            </td>
            <td class="num">{f.messages}</td>
            <td class="num">{f.bytes.map(size)}</td>
            <td>{notes}</td>
        </tr>
    }
}

fn skipped_list(skipped: Vec<PreflightSkipped>, lang: Lang) -> impl IntoView {
    let items = skipped
        .into_iter()
        .map(|s| {
            view! {
                <li>
                    <span class="folder-name">{s.source}</span>
                    " — "
                    {s.reason.reason().get(lang)}
                </li>
            }
        })
        .collect_view();
    view! {
        <h3 class="skipped-heading">{T::PreflightSkippedHeading.get(lang)}</h3>
        <ul class="skipped">{items}</ul>
    }
}

/// The localized sentence of one note.
pub fn note_text(note: &FolderNote, lang: Lang) -> String {
    match note {
        FolderNote::Collision { with } => {
            fill(T::NoteCollision.get(lang), &[("with", with.clone())])
        }
        FolderNote::SeparatorEscaped {
            separator,
            replacement,
        } => fill(
            T::NoteSeparator.get(lang),
            &[
                ("separator", separator.to_string()),
                ("replacement", replacement.to_string()),
            ],
        ),
        FolderNote::SpecialUse { attribute } => fill(
            T::NoteSpecialUse.get(lang),
            &[("attribute", attribute.clone())],
        ),
        FolderNote::SpecialUseMissing { attribute } => fill(
            T::NoteSpecialUseMissing.get(lang),
            &[("attribute", attribute.clone())],
        ),
        FolderNote::InboxChildLifted => T::NoteInboxChild.get(lang).to_string(),
        FolderNote::Renamed => T::NoteRenamed.get(lang).to_string(),
        FolderNote::NoMessages => T::NoteNoMessages.get(lang).to_string(),
        FolderNote::NotCounted => T::NoteNotCounted.get(lang).to_string(),
        FolderNote::AllMailRemainder => T::NoteAllMailRemainder.get(lang).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_filled_in_every_language() {
        let notes = [
            FolderNote::Collision { with: "Sub".into() },
            FolderNote::SeparatorEscaped {
                separator: '.',
                replacement: '_',
            },
            FolderNote::SpecialUse {
                attribute: "\\Sent".into(),
            },
            FolderNote::SpecialUseMissing {
                attribute: "\\Junk".into(),
            },
            FolderNote::InboxChildLifted,
            FolderNote::Renamed,
            FolderNote::NoMessages,
            FolderNote::NotCounted,
            FolderNote::AllMailRemainder,
        ];
        for lang in Lang::ALL {
            for note in &notes {
                let text = note_text(note, lang);
                assert!(
                    !text.is_empty() && !text.contains('{'),
                    "{lang:?} {note:?}: {text}"
                );
            }
        }
        assert_eq!(
            note_text(&notes[0], Lang::En),
            "renamed: Sub takes this name"
        );
    }
}
