//! Which language a page is rendered in. The server decides (cookie, then Accept-Language) and
//! writes it into `<html lang>`; the browser reads it back from there when hydrating, so both
//! sides always agree.

use crate::i18n::Lang;

pub const LANG_COOKIE: &str = "imapcopy_lang";

/// The language of the current render.
pub fn current() -> Lang {
    #[cfg(feature = "ssr")]
    {
        use leptos::prelude::use_context;
        if let Some(parts) = use_context::<axum::http::request::Parts>() {
            return from_headers(&parts.headers);
        }
        Lang::default()
    }
    #[cfg(not(feature = "ssr"))]
    {
        leptos::prelude::document()
            .document_element()
            .and_then(|root| root.get_attribute("lang"))
            .and_then(|code| Lang::from_code(&code))
            .unwrap_or_default()
    }
}

#[cfg(feature = "ssr")]
pub fn from_headers(headers: &axum::http::HeaderMap) -> Lang {
    if let Some(lang) =
        crate::api::backend::cookie_value(headers, LANG_COOKIE).and_then(|c| Lang::from_code(&c))
    {
        return lang;
    }
    headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Lang::from_accept_language)
        .unwrap_or_default()
}
