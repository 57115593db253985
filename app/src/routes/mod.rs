//! The pages and which one a URL shows.
//!
//! Matched by hand rather than with `leptos_router`: going from one page to another is a full
//! page load (links, the lookup's GET form, a server function's redirect), the server renders
//! the page and the browser hydrates it, so client-side routing had nothing to do, and its
//! type-erased route views carried every rendering path of every page into the WASM bundle
//! (ARCHITECTURE.md, "The WASM bundle").

pub mod status;
pub mod wizard;

/// A page, as read from the URL (the same on the server and in the hydrating browser).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Page {
    /// `/`: the copy wizard.
    Wizard,
    /// `/status?address=…` (the lookup form) or `/status/{address}`.
    Status {
        address: String,
    },
    /// `/jobs/{id}`: the private job page.
    Job {
        id: String,
    },
    NotFound,
}

impl Page {
    /// The pages' paths in axum's syntax: the server renders each (`SsrMode::Async`), and
    /// anything else falls through to its file-or-404 handler.
    pub const PATHS: [&'static str; 4] = ["/", "/status", "/status/{address}", "/jobs/{id}"];

    /// The page of a URL's path and query (`query` without the `?`).
    pub fn from_url(path: &str, query: &str) -> Page {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match segments.as_slice() {
            [] => Page::Wizard,
            ["status"] => Page::Status {
                address: query_param(query, "address").unwrap_or_default(),
            },
            ["status", address] => Page::Status {
                address: decode(address),
            },
            ["jobs", id] => Page::Job { id: decode(id) },
            _ => Page::NotFound,
        }
    }

    /// The page being rendered: from the request on the server, from the address bar in the
    /// browser.
    pub fn current() -> Page {
        #[cfg(feature = "ssr")]
        {
            leptos::prelude::use_context::<axum::http::request::Parts>()
                .map(|parts| {
                    Page::from_url(parts.uri.path(), parts.uri.query().unwrap_or_default())
                })
                .unwrap_or(Page::NotFound)
        }
        #[cfg(not(feature = "ssr"))]
        {
            let location = leptos::prelude::window().location();
            let path = location.pathname().unwrap_or_default();
            let search = location.search().unwrap_or_default();
            Page::from_url(&path, search.strip_prefix('?').unwrap_or(&search))
        }
    }
}

/// A query parameter's value, decoded (`+` is a space in a form's query).
fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| decode(&value.replace('+', " ")))
}

/// A post without JavaScript that failed comes back with the error in the URL (leptos_axum's
/// redirect: `__err`, `__path`). `leptos_router` used to hand it to the server actions; without
/// the router this does, during server rendering, so that `ServerAction::new` starts from the
/// error and the page shows it.
#[cfg(feature = "ssr")]
pub fn provide_server_action_error() {
    use leptos::prelude::{provide_context, use_context};
    let Some(parts) = use_context::<axum::http::request::Parts>() else {
        return;
    };
    let query = parts.uri.query().unwrap_or_default();
    if let (Some(err), Some(path)) = (query_param(query, "__err"), query_param(query, "__path")) {
        provide_context(leptos::server::ServerActionError::new(&path, &err));
    }
}

/// Percent-decoding (`%40` → `@`); invalid escapes stay as they are, invalid UTF-8 is replaced.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |i: usize| bytes.get(i).and_then(|b| (*b as char).to_digit(16));
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The route list for `leptos_axum`: every page rendered whole before it is sent
/// (`SsrMode::Async`), so that it is complete without JavaScript.
#[cfg(feature = "ssr")]
pub fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    Page::PATHS
        .iter()
        .map(|path| {
            leptos_axum::AxumRouteListing::new(
                path.to_string(),
                leptos_router::SsrMode::Async,
                [leptos_router::Method::Get],
                Vec::new(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_page() {
        assert_eq!(Page::from_url("/", ""), Page::Wizard);
        assert_eq!(
            Page::from_url("/status", "address=ann%40example.com&x=1"),
            Page::Status {
                address: "ann@example.com".into()
            }
        );
        assert_eq!(
            Page::from_url("/status", "address=a+b%2Bc"),
            Page::Status {
                address: "a b+c".into()
            }
        );
        assert_eq!(
            Page::from_url("/status", ""),
            Page::Status {
                address: String::new()
            }
        );
        assert_eq!(
            Page::from_url("/status/bob%40example.com", ""),
            Page::Status {
                address: "bob@example.com".into()
            }
        );
        assert_eq!(
            Page::from_url("/jobs/AbC_-1", ""),
            Page::Job {
                id: "AbC_-1".into()
            }
        );
        assert_eq!(Page::from_url("/jobs", ""), Page::NotFound);
        assert_eq!(Page::from_url("/jobs/a/b", ""), Page::NotFound);
        assert_eq!(Page::from_url("/nowhere", ""), Page::NotFound);
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz%C3%A9"), "%zzé");
    }
}
