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
    leptos::mount::hydrate_body(App);
}
