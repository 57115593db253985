//! Status pages: the public lookup by source address (coarse state only) and the private job
//! page (everything). Both refresh themselves while the job is active.

use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;

use crate::components::action_form::ActionForm;

use crate::api::{job_details, public_status, SignInAgain};
use crate::components::job_status::{
    bytes, duration, state_is_final, state_sentence, FolderTable, JobTimes, MessageTable,
    ProgressBar, ProgressNumbers,
};
use crate::components::status_lookup::StatusLookup;
use crate::i18n::{fill, Lang, T};
use crate::model::PublicState;

/// Seconds between refreshes of an active job's page.
const REFRESH_SECS: u32 = 2;

/// Keeps an active job's page fresh with JavaScript: re-fetches every few seconds (see
/// [`refresh_meta`] for browsers without it).
fn refresh_while(active: impl Fn() -> bool + Send + Sync + 'static, tick: RwSignal<u32>) {
    let active = std::sync::Arc::new(active);
    #[cfg(feature = "hydrate")]
    {
        let still = active.clone();
        let handle = set_interval_with_handle(
            move || {
                // Polling stops once the job is final.
                if untrack(|| still()) {
                    tick.update(|t| *t += 1);
                }
            },
            std::time::Duration::from_secs(REFRESH_SECS as u64),
        );
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    }
    let _ = (tick, active);
}

/// Without JavaScript, an active job's page reloads itself: a `<meta http-equiv="refresh">`
/// inside `<noscript>`, so that only a browser without JavaScript sees it (with scripting on,
/// a `<noscript>`'s content is inert text, and [`refresh_while`] polls instead). Browsers obey
/// a refresh pragma anywhere in the document, not only in `<head>`. The markup is the
/// element's inner HTML, which hydration leaves as the server sent it. It must sit inside the
/// page's `<Transition>`: the resource it reads resolves asynchronously (the job store answers
/// from the blocking pool), and only what is under the Transition waits for it before the page
/// is sent.
fn refresh_meta(active: impl Fn() -> bool + Send + Sync + 'static) -> impl IntoView {
    move || {
        active().then(|| {
            let meta = format!(r#"<meta http-equiv="refresh" content="{REFRESH_SECS}">"#);
            view! { <noscript inner_html=meta></noscript> }
        })
    }
}

/// The lookup's answer for `address` (from `/status/{address}` or the form's `?address=`).
#[component]
pub fn StatusPage(address: String) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let tick = RwSignal::new(0u32);
    let status = {
        let address = address.clone();
        crate::api::codec::resource(
            move || (address.clone(), tick.get()),
            |(address, _)| public_status(address),
        )
    };
    let active = move || {
        matches!(
            status.get(),
            Some(Ok(PublicState::Queued | PublicState::Running { .. }))
        )
    };
    refresh_while(active, tick);
    view! {
        <Transition fallback=|| ()>
            {refresh_meta(active)}
            {move || {
                status
                    .get()
                    .map(|state| {
                        let state = match state {
                            Ok(state) => state,
                            Err(error) => {
                                return Either::Left(view! {
                                    <section class="step" aria-labelledby="status-heading">
                                        <h1 id="status-heading">{T::StatusHeading.get(lang)}</h1>
                                        <p class="error-box" role="alert">{error.message().get(lang)}</p>
                                    </section>
                                });
                            }
                        };
                        Either::Right(view! {
                            <section class="step" aria-labelledby="status-heading">
                                <h1 id="status-heading">{T::StatusHeading.get(lang)}</h1>
                                <div class="status" role="status" aria-live="polite">
                                    <p>{state_sentence(state, lang)}</p>
                                    {match state {
                                        PublicState::Running { percent } => {
                                            Some(view! { <ProgressBar percent /> })
                                        }
                                        _ => None,
                                    }}
                                </div>
                            </section>
                        })
                    })
            }}
        </Transition>
        <StatusLookup value=address />
    }
}

/// The private page of the job `id` (from `/jobs/{id}`).
#[component]
pub fn JobPage(id: String) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let tick = RwSignal::new(0u32);
    let job =
        crate::api::codec::resource(move || (id.clone(), tick.get()), |(id, _)| job_details(id));
    let sign_in_again = ServerAction::<SignInAgain>::new();
    // Active until the job is final and its report delivery settled (the report line changes
    // after the state does). A job waiting for sign-in may wait for days: no refresh then
    // (the sign-in's way back lands on this page again).
    let active = move || {
        matches!(job.get(), Some(Ok(Some(ref j)))
            if j.sign_in_again.is_empty()
                && (matches!(j.state, PublicState::Queued | PublicState::Running { .. })
                    || (j.state == PublicState::Finished && j.report_state == "pending")))
    };
    let refused = move || {
        sign_in_again
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|error| {
                view! { <p class="error-box" role="alert">{error.message().get(lang)}</p> }
            })
    };
    refresh_while(active, tick);
    view! {
        {refused}
        <Transition fallback=|| ()>
            {refresh_meta(active)}
            {move || {
                job.get()
                    .map(|job| match job {
                        Ok(Some(job)) => {
                            let state = job.state;
                            let outcome = match job.outcome.as_deref() {
                                Some("complete") => Some(T::OutcomeComplete),
                                Some("complete_with_rejections") => Some(T::OutcomeRejections),
                                Some("incomplete") => Some(T::OutcomeIncomplete),
                                _ => None,
                            };
                            let link = format!("/jobs/{}", job.id);
                            let waiting = !job.sign_in_again.is_empty();
                            let running = !waiting
                                && matches!(state, PublicState::Queued | PublicState::Running { .. });
                            let job_id = job.id.clone();
                            let sign_in_forms = job
                                .sign_in_again
                                .clone()
                                .into_iter()
                                .map(|side| {
                                    let job_id = job_id.clone();
                                    let why = fill(
                                        T::SignInAgainWhy.get(lang),
                                        &[
                                            ("login", side.login),
                                            ("provider", side.provider.clone()),
                                            ("deadline", side.deadline),
                                        ],
                                    );
                                    let button = fill(
                                        T::SignInAgain.get(lang),
                                        &[("provider", side.provider)],
                                    );
                                    view! {
                                        <div class="sign-in-again">
                                            <p>{why}</p>
                                            <ActionForm action=sign_in_again>
                                                <input type="hidden" name="id" value=job_id />
                                                <input type="hidden" name="side" value=side.side.as_str() />
                                                <button type="submit" class="primary">{button}</button>
                                            </ActionForm>
                                        </div>
                                    }
                                })
                                .collect::<Vec<_>>();
                            EitherOf3::A(view! {
                                <section class="step" aria-labelledby="job-heading">
                                    <h1 id="job-heading">{T::JobHeading.get(lang)}</h1>
                                    <p class="accounts">
                                        <span>{job.source_address.clone()}</span>
                                        " → "
                                        <span>{job.destination_address.clone()}</span>
                                    </p>
                                    <div class="status" role="status" aria-live="polite">
                                        {running.then(|| view! { <p>{T::SyncQueued.get(lang)}</p> })}
                                        <p>
                                            <strong>
                                                {if waiting {
                                                    T::StateWaitingForSignIn.get(lang).to_string()
                                                } else {
                                                    state_sentence(state, lang)
                                                }}
                                            </strong>
                                            {job
                                                .error
                                                .clone()
                                                .map(|e| view! { " " <span lang="en">{e}</span> })}
                                        </p>
                                        {matches!(state, PublicState::Running { .. } | PublicState::Finished)
                                            .then(|| view! { <ProgressBar percent=job.progress.percent() /> })}
                                        <ProgressNumbers progress=job.progress.clone() active=running />
                                        {matches!(state, PublicState::Running { .. })
                                            .then(|| {
                                                let rate = job.progress.bytes_per_second;
                                                let eta = job.progress.eta_seconds();
                                                view! {
                                                    <p>
                                                        {(rate > 0)
                                                            .then(|| fill(T::Rate.get(lang), &[("rate", bytes(rate))]))}
                                                        " "
                                                        {eta
                                                            .map(|s| {
                                                                fill(T::Eta.get(lang), &[("time", duration(s))])
                                                            })}
                                                    </p>
                                                }
                                            })}
                                        {outcome.map(|o| view! { <p>{o.get(lang)}</p> })}
                                        {state_is_final(state)
                                            .then(|| {
                                                let word = match job.report_state.as_str() {
                                                    "sent" => T::ReportSent,
                                                    "failed" => T::ReportFailed,
                                                    _ => T::ReportPending,
                                                };
                                                view! {
                                                    <p>{T::ReportState.get(lang)} " " {word.get(lang)}</p>
                                                }
                                            })}
                                    </div>
                                    <JobTimes job=job.clone() />
                                    {sign_in_forms}
                                    <p class="hint">
                                        {T::PrivateLink.get(lang)} " " <a href=link.clone()>{link.clone()}</a>
                                    </p>
                                    {(!job.folders.is_empty()).then(|| view! { <FolderTable job=job.clone() /> })}
                                    {(!job.messages.is_empty()).then(|| view! { <MessageTable job=job.clone() /> })}
                                </section>
                            })
                        }
                        Ok(None) => {
                            // An unknown job id is a missing page, not an empty one.
                            #[cfg(feature = "ssr")]
                            crate::api::backend::set_status(404);
                            EitherOf3::B(view! { <p class="notice">{T::StateUnknown.get(lang)}</p> })
                        }
                        Err(e) => EitherOf3::C(view! { <p class="error-box" role="alert">{e.message().get(lang)}</p> }),
                    })
            }}
        </Transition>
        <StatusLookup />
    }
}
