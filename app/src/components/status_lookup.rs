//! "Check the status": a plain GET form to `/status?address=…`.

use leptos::prelude::*;

use crate::i18n::{Lang, T};

#[component]
pub fn StatusLookup(#[prop(optional, into)] value: String) -> impl IntoView {
    let lang = expect_context::<Lang>();
    view! {
        <section class="step lookup" aria-labelledby="lookup-heading">
            <h2 id="lookup-heading">{T::StatusHeading.get(lang)}</h2>
            <form action="/status" method="GET">
                <div class="field">
                    <label for="lookup-address">{T::SourceAddress.get(lang)}</label>
                    <input
                        id="lookup-address"
                        name="address"
                        type="text"
                        inputmode="email"
                        autocomplete="email"
                        autocapitalize="none"
                        spellcheck="false"
                        maxlength="320"
                        value=value
                    />
                </div>
                <div class="actions">
                    <button type="submit" class="secondary">{T::Send.get(lang)}</button>
                </div>
            </form>
        </section>
    }
}
