//! One account step: service preset, login, password, IMAP server, SSL, and the Validate button.
//! Posts to the `validate_account` server function; works as a plain form without JavaScript.

use crate::components::action_form::ActionForm;
use leptos::either::Either;
use leptos::prelude::*;

use crate::api::ValidateAccount;
use crate::i18n::{fill, Lang, T};
use crate::model::{AccountForm as Posted, Field, SideStatus, SideView, SignInOption};
use crate::presets::{self, Side};

#[component]
pub fn AccountForm(
    view: SideView,
    action: ServerAction<ValidateAccount>,
    /// The presets this service signs in to with OAuth2.
    #[prop(optional)]
    sign_in: Vec<SignInOption>,
) -> impl IntoView {
    let lang = expect_context::<Lang>();
    let side = view.side;
    let id = move |name: &str| format!("{}-{name}", side.as_str());
    let heading = match side {
        Side::Source => T::StepSource,
        Side::Destination => T::StepDestination,
    };

    let preset = RwSignal::new(view.preset.clone());
    let host = RwSignal::new(view.host.clone());
    let ssl = RwSignal::new(view.ssl);
    let initial_host = view.host.clone();
    let advanced_open =
        !view.port.is_empty() || view.plaintext || view.field_error(Field::Port).is_some();
    let initial_ssl = view.ssl;

    let on_preset = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        if let Some(p) = presets::find(&value) {
            host.set(p.default_host().to_string());
            ssl.set(p.ssl);
        }
        preset.set(value);
    };

    // The provider to sign in with for the preset chosen (follows the select with JavaScript;
    // without, the preset the page was rendered with).
    let sign_in_provider = {
        let sign_in = sign_in.clone();
        move || {
            let chosen = preset.get();
            sign_in
                .iter()
                .find(|o| o.preset == chosen)
                .map(|o| o.provider.clone())
        }
    };
    let oauth_only = move || presets::find(&preset.get()).is_some_and(|p| p.oauth_only);
    // Only the sign-in works for this preset: no password field, no Validate button.
    let sign_in_only = {
        let provider = sign_in_provider.clone();
        move || oauth_only() && provider().is_some()
    };
    let signed_in_with = view.signed_in_with.clone();

    let pending_here = move || {
        action.pending().get()
            && action.input().with(|input| {
                input
                    .as_ref()
                    .map(|i| i.side == side.as_str())
                    .unwrap_or(false)
            })
    };

    let field_error = {
        let view = view.clone();
        move |field: Field| {
            view.field_error(field).map(|message| {
                let error_id = format!("{}-{}-error", side.as_str(), field.name());
                view! { <p class="field-error" id=error_id>{message.get(lang)}</p> }
            })
        }
    };
    let described = {
        let view = view.clone();
        move |field: Field| {
            view.field_error(field)
                .map(|_| format!("{}-{}-error", side.as_str(), field.name()))
        }
    };

    let preset_info = {
        let provider = sign_in_provider.clone();
        move || {
            let offered = provider().is_some();
            presets::find(&preset.get()).map(|p| {
                let oauth = p.oauth_only.then(|| {
                    if offered {
                        view! { <p class="hint">{T::PresetNeedsOauth.get(lang)}</p> }
                    } else {
                        view! { <p class="warning">{T::PresetOauthNotEnabled.get(lang)}</p> }
                    }
                });
                let note = (!p.requirements.is_empty()).then(|| {
                    view! {
                        <p class="hint">
                            <strong>{T::PresetNote.get(lang)}</strong>
                            " "
                            {p.requirements}
                        </p>
                    }
                });
                view! { {oauth} {note} }
            })
        }
    };
    let host_list_id = id("hosts");
    let host_options = move || {
        presets::find(&preset.get()).map(|p| {
            p.hosts
                .iter()
                .map(|h| view! { <option value=*h></option> })
                .collect_view()
        })
    };

    let status = match view.status.clone() {
        SideStatus::Established { folders, messages } => Some(Either::Left(view! {
            <div class="status ok" role="status">
                <p>
                    <strong>{T::ConnectionEstablished.get(lang)}</strong>
                    " "
                    {fill(
                        T::FoldersMessages.get(lang),
                        &[("folders", folders.to_string()), ("messages", messages.to_string())],
                    )}
                </p>
            </div>
        })),
        SideStatus::Failed { kind, detail } => Some(Either::Right(view! {
            <div class="status error" role="alert">
                <p>
                    <strong>{T::ValidationFailed.get(lang)}</strong>
                    " "
                    {kind.cause().get(lang)}
                </p>
                <p class="detail" lang="en">{detail}</p>
            </div>
        })),
        SideStatus::Invalid(_) | SideStatus::NotChecked => None,
    };

    let options = presets::for_side(side)
        .map(|p| {
            let label = if p.id == presets::OTHER {
                T::OtherService.get(lang)
            } else {
                p.label
            };
            let selected = p.id == view.preset;
            view! {
                <option value=p.id selected=selected>
                    {label}
                </option>
            }
        })
        .collect_view();

    view! {
        <section class="step" aria-labelledby=id("heading")>
            <h2 id=id("heading")>{heading.get(lang)}</h2>
            <ActionForm action=action attr:class="account-form" attr:novalidate=true>
                <input type="hidden" name="side" value=side.as_str() />
                <div class="field">
                    <label for=id("preset")>{T::Service.get(lang)}</label>
                    <select
                        id=id("preset")
                        name="preset"
                        on:change=on_preset
                        aria-describedby=described(Field::Preset)
                    >
                        {options}
                    </select>
                    {field_error(Field::Preset)}
                    <div class="preset-info" aria-live="polite">{preset_info}</div>
                </div>
                <div class="field">
                    <label for=id("login")>{T::Login.get(lang)}</label>
                    <input
                        id=id("login")
                        name="login"
                        type="text"
                        autocomplete="username"
                        autocapitalize="none"
                        spellcheck="false"
                        maxlength="320"
                        value=view.login.clone()
                        aria-invalid=view.field_error(Field::Login).map(|_| "true")
                        aria-describedby=described(Field::Login)
                    />
                    <p class="hint">{T::LoginHelp.get(lang)}</p>
                    {field_error(Field::Login)}
                </div>
                <div class="field" hidden=sign_in_only.clone()>
                    <label for=id("password")>{T::Password.get(lang)}</label>
                    <input
                        id=id("password")
                        name="password"
                        type="password"
                        autocomplete=match side {
                            Side::Source => "current-password",
                            Side::Destination => "new-password",
                        }
                        maxlength="1024"
                        aria-invalid=view.field_error(Field::Password).map(|_| "true")
                        aria-describedby=described(Field::Password)
                    />
                    {view.has_password.then(|| view! { <p class="hint">{T::PasswordKept.get(lang)}</p> })}
                    {signed_in_with
                        .clone()
                        .map(|provider| {
                            view! {
                                <p class="hint signed-in">
                                    {fill(T::SignedInWith.get(lang), &[("provider", provider)])}
                                </p>
                            }
                        })}
                    {field_error(Field::Password)}
                </div>
                <div class="field">
                    <label for=id("host")>{T::ImapServer.get(lang)}</label>
                    <input
                        id=id("host")
                        name="host"
                        type="text"
                        inputmode="url"
                        autocapitalize="none"
                        spellcheck="false"
                        maxlength="253"
                        list=host_list_id.clone()
                        value=initial_host
                        prop:value=host
                        on:input=move |ev| host.set(event_target_value(&ev))
                        aria-invalid=view.field_error(Field::Host).map(|_| "true")
                        aria-describedby=described(Field::Host)
                    />
                    <datalist id=host_list_id>{host_options}</datalist>
                    {field_error(Field::Host)}
                </div>
                <div class="field checkbox">
                    <input
                        id=id("ssl")
                        name="ssl"
                        type="checkbox"
                        value="on"
                        checked=initial_ssl
                        prop:checked=ssl
                        on:change=move |ev| ssl.set(event_target_checked(&ev))
                    />
                    <label for=id("ssl")>{T::Ssl.get(lang)}</label>
                    <p class="hint">{T::SslHelp.get(lang)}</p>
                </div>
                <details class="advanced" open=advanced_open>
                    <summary>{T::Advanced.get(lang)}</summary>
                    <div class="field">
                        <label for=id("port")>{T::Port.get(lang)}</label>
                        <input
                            id=id("port")
                            name="port"
                            type="text"
                            inputmode="numeric"
                            maxlength="5"
                            value=view.port.clone()
                            aria-invalid=view.field_error(Field::Port).map(|_| "true")
                            aria-describedby=described(Field::Port)
                        />
                        <p class="hint">{T::PortHelp.get(lang)}</p>
                        {field_error(Field::Port)}
                    </div>
                    <div class="field checkbox">
                        <input
                            id=id("plaintext")
                            name="plaintext"
                            type="checkbox"
                            value="on"
                            checked=view.plaintext
                        />
                        <label for=id("plaintext")>{T::AllowPlaintext.get(lang)}</label>
                    </div>
                </details>
                <div class="actions">
                    <button
                        type="submit"
                        class="primary"
                        disabled=pending_here
                        hidden=sign_in_only.clone()
                    >
                        // The seed: Validate for the source, Accept for the destination.
                        {move || {
                            if pending_here() {
                                T::Checking.get(lang)
                            } else if side == Side::Destination {
                                T::Accept.get(lang)
                            } else {
                                T::Validate.get(lang)
                            }
                        }}
                    </button>
                    {move || {
                        sign_in_provider()
                            .map(|provider| {
                                let alone = sign_in_only();
                                view! {
                                    {(!alone).then(|| view! { <p class="hint">{T::SignInOr.get(lang)}</p> })}
                                    <button
                                        type="submit"
                                        name="intent"
                                        value=Posted::SIGN_IN
                                        class=if alone { "primary sign-in" } else { "secondary sign-in" }
                                        disabled=pending_here
                                    >
                                        {fill(T::SignInWith.get(lang), &[("provider", provider)])}
                                    </button>
                                }
                            })
                    }}
                </div>
            </ActionForm>
            <div class="result" aria-live="polite">{status}</div>
        </section>
    }
}
