//! The home page: the copy wizard (source account, then destination account).

use leptos::prelude::*;

use crate::api::{get_wizard, ValidateAccount};
use crate::components::account_form::AccountForm;
use crate::i18n::{Lang, T};
use crate::model::WizardView;

#[component]
pub fn WizardPage() -> impl IntoView {
    let lang = expect_context::<Lang>();
    let validate = ServerAction::<ValidateAccount>::new();
    let stored = Resource::new(|| (), |_| get_wizard());

    // The newest answer wins: a finished Validate (with JavaScript) or the stored draft.
    let wizard = move || -> Option<Result<WizardView, crate::error::ApiError>> {
        match validate.value().get() {
            Some(result) => Some(result),
            None => stored.get(),
        }
    };

    view! {
        <section class="intro">
            <h1>"IMAPCopy"</h1>
            <p>{T::AppTagline.get(lang)}</p>
        </section>
        <Transition fallback=move || view! { <p class="notice">{T::Checking.get(lang)}</p> }>
            {move || {
                wizard()
                    .map(|result| match result {
                        Ok(view) => {
                            let show_destination = view.source.is_established();
                            view! {
                                <AccountForm view=view.source action=validate />
                                <Show when=move || show_destination>
                                    <AccountForm view=view.destination.clone() action=validate />
                                </Show>
                            }
                                .into_any()
                        }
                        Err(error) => {
                            view! {
                                <p class="error-box" role="alert">
                                    {error.message().get(lang)}
                                </p>
                            }
                                .into_any()
                        }
                    })
            }}
        </Transition>
    }
}
