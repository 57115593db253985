use leptos::either::EitherOf4;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};

use crate::i18n::{Lang, T};
use crate::routes::status::{JobPage, StatusPage};
use crate::routes::wizard::WizardPage;
use crate::routes::Page;

/// The Content-Security-Policy of pages: scripts only from here or carrying this response's
/// nonce (the hydration bootstrap), WASM allowed to compile, nothing framed, posted or embedded
/// elsewhere.
#[cfg(feature = "ssr")]
fn set_content_security_policy() {
    use axum::http::{header::CONTENT_SECURITY_POLICY, HeaderValue};
    let nonce = leptos::nonce::use_nonce()
        .map(|n| format!(" 'nonce-{n}'"))
        .unwrap_or_default();
    let form_action: String = use_context::<crate::api::backend::SharedBackend>()
        .map(|b| b.form_action_origins())
        .unwrap_or_default()
        .iter()
        .map(|origin| format!(" {origin}"))
        .collect();
    let policy = format!(
        "default-src 'self'; script-src 'self'{nonce} 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'{form_action}; frame-ancestors 'none'"
    );
    if let (Some(options), Ok(value)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        HeaderValue::from_str(&policy),
    ) {
        options.insert_header(CONTENT_SECURITY_POLICY, value);
    }
}

/// The HTML document around the app (server only).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_content_security_policy();
    let lang = crate::lang::current();
    view! {
        <!DOCTYPE html>
        <html lang=lang.code()>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let lang = crate::lang::current();
    provide_context::<Lang>(lang);
    // Effects run only in the browser: this marks the page as hydrated (the end-to-end tests
    // wait for it, which proves the WASM loaded and took over the server-rendered page).
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    // Each page is rendered whole on the server before it is sent (`routes::route_list`), so
    // that it works with JavaScript disabled.
    #[cfg(feature = "ssr")]
    crate::routes::provide_server_action_error();
    let page = match Page::current() {
        Page::Wizard => EitherOf4::A(view! { <WizardPage /> }),
        Page::Status { address } => EitherOf4::B(view! { <StatusPage address /> }),
        Page::Job { id } => EitherOf4::C(view! { <JobPage id /> }),
        Page::NotFound => {
            #[cfg(feature = "ssr")]
            crate::api::backend::set_status(404);
            EitherOf4::D(view! { <p class="notice">{T::PageNotFound.get(lang)}</p> })
        }
    };
    view! {
        <Stylesheet id="leptos" href="/pkg/imapcopy.css" />
        <Title text="IMAPCopy" />
            <header class="site-header">
                <a class="brand" href="/">"IMAPCopy"</a>
                <nav class="languages" aria-label=T::Language.get(lang)>
                    {Lang::ALL
                        .into_iter()
                        .map(|l| {
                            let current = (l == lang).then_some("true");
                            view! {
                                <a
                                    href=format!("/lang/{}", l.code())
                                    rel="external"
                                    hreflang=l.code()
                                    lang=l.code()
                                    aria-current=current
                                >
                                    {l.native_name()}
                                </a>
                            }
                        })
                        .collect_view()}
                </nav>
            </header>
            <main id="main">{page}</main>
            <footer class="site-footer">
                <p>{T::Footer.get(lang)}</p>
            </footer>
    }
}
