//! The home page: the copy wizard (source account, destination account, preflight,
//! Synchronize) and the status lookup by source address.

use crate::components::action_form::ActionForm;
use leptos::either::Either;
use leptos::prelude::*;

use crate::api::{get_wizard, Synchronize, ValidateAccount};
use crate::components::account_form::AccountForm;
use crate::components::preflight::PreflightSummary;
use crate::components::status_lookup::StatusLookup;
use crate::i18n::{Lang, T};
use crate::model::WizardView;

#[component]
pub fn WizardPage() -> impl IntoView {
    let lang = expect_context::<Lang>();
    let validate = ServerAction::<ValidateAccount>::new();
    let synchronize = ServerAction::<Synchronize>::new();
    let stored = crate::api::codec::resource(|| (), |_| get_wizard());

    // The newest answer wins: a finished action (with JavaScript) or the stored draft.
    let latest = RwSignal::new(None::<WizardView>);
    Effect::new(move |_| {
        if let Some(Ok(view)) = validate.value().get() {
            latest.set(Some(view));
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(answer)) = synchronize.value().get() {
            if answer.job_id.is_none() {
                latest.set(Some(answer.wizard));
            }
        }
    });
    let wizard = move || latest.get().map(Ok).or_else(|| stored.get());
    // A refused request (rate limit, expired draft): with JavaScript the action's value;
    // without, Leptos redirects back with the error in the URL (`__path`/`__err`) and the
    // action starts from it during server rendering.
    let refused = move || {
        [
            validate.value().get().map(|r| r.map(|_| ())),
            synchronize.value().get().map(|r| r.map(|_| ())),
        ]
        .into_iter()
        .find_map(|value| match value {
            Some(Err(error)) => Some(error),
            _ => None,
        })
        .map(|error| {
            view! {
                <p class="error-box" role="alert">
                    {error.message().get(lang)}
                </p>
            }
        })
    };

    view! {
        <section class="intro">
            <h1>"IMAPCopy"</h1>
            <p>{T::AppTagline.get(lang)}</p>
        </section>
        {refused}
        <Transition fallback=move || view! { <p class="notice">{T::Checking.get(lang)}</p> }>
            {move || {
                wizard()
                    .map(|result| match result {
                        Ok(view) => Either::Left({
                            let show_destination = view.source.is_established();
                            let ready = view.ready_to_sync();
                            let sync_error = view.sync_error.clone();
                            let ask_report_to = view.ask_report_to;
                            let report_to = view.report_to.clone();
                            let report_to_error = view.report_to_error;
                            let sign_in = view.sign_in.clone();
                            view! {
                                <AccountForm view=view.source action=validate sign_in=sign_in.clone() />
                                {show_destination
                                    .then(|| {
                                        view! {
                                            <AccountForm
                                                view=view.destination.clone()
                                                action=validate
                                                sign_in=sign_in.clone()
                                            />
                                        }
                                    })}
                                {ready.then(|| view! { <PreflightSummary /> })}
                                {ready.then(|| view! {
                                    <section class="step sync" aria-labelledby="sync-heading">
                                        <h2 id="sync-heading" class="visually-hidden">
                                            {T::Synchronize.get(lang)}
                                        </h2>
                                        <ActionForm action=synchronize id="sync-form">
                                            {ask_report_to
                                                .then(|| {
                                                    view! {
                                                        <div class="field">
                                                            <label for="report-to">{T::ReportTo.get(lang)}</label>
                                                            <input
                                                                id="report-to"
                                                                name="report_to"
                                                                type="email"
                                                                autocomplete="email"
                                                                maxlength="254"
                                                                value=report_to.clone()
                                                                aria-invalid=report_to_error.map(|_| "true")
                                                                aria-describedby="report-to-help"
                                                            />
                                                            <p class="hint" id="report-to-help">
                                                                {T::ReportToHelp.get(lang)}
                                                            </p>
                                                            {report_to_error
                                                                .map(|e| {
                                                                    view! { <p class="field-error">{e.text().get(lang)}</p> }
                                                                })}
                                                        </div>
                                                    }
                                                })}
                                            <button
                                                type="submit"
                                                class="primary"
                                                disabled=move || synchronize.pending().get()
                                            >
                                                {T::Synchronize.get(lang)}
                                            </button>
                                        </ActionForm>
                                    </section>
                                })}
                                {sync_error
                                    .map(|cause| {
                                        view! {
                                            <div class="status error" role="alert">
                                                <p>
                                                    <strong>{T::SyncErrorGeneral.get(lang)}</strong>
                                                    " "
                                                    <span lang="en">{cause}</span>
                                                </p>
                                            </div>
                                        }
                                    })}
                            }
                        }),
                        Err(error) => Either::Right(view! {
                            <p class="error-box" role="alert">
                                {error.message().get(lang)}
                            </p>
                        }),
                    })
            }}
        </Transition>
        <StatusLookup />
    }
}
