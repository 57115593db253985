//! IMAPCopy's user interface (Leptos: server-rendered, then hydrated) and the typed contract of
//! its server functions. Built with feature `ssr` into the server, with `hydrate` into WASM.
#![recursion_limit = "256"]

pub mod api;
pub mod components;
pub mod error;
pub mod i18n;
pub mod lang;
pub mod model;
pub mod presets;
pub mod routes;
mod shell;

pub use shell::{shell, App};

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // A server function's redirect (Synchronize to the job's page, a sign-in to the provider's
    // page) is a full navigation: no client-side router here.
    let _ = leptos::server_fn::redirect::set_redirect_hook(|location: &str| {
        let _ = leptos::prelude::window().location().set_href(location);
    });
    leptos::mount::hydrate_body(App);
}
