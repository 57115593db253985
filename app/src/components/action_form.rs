//! `<ActionForm>`: a plain form posting to a server function (how it works without
//! JavaScript), which in the browser dispatches the server function's action instead, so that
//! the page updates in place.
//!
//! Leptos's `leptos::form::ActionForm` does the same but takes its children type-erased
//! (`AnyView`), and every erased view carries all its rendering paths into the WASM bundle,
//! asynchronous hydration included, which nothing here uses. This one keeps its children's
//! type.

use leptos::ev::SubmitEvent;
use leptos::form::FromFormData;
use leptos::prelude::*;
use leptos::server_fn::codec::PostUrl;
use leptos::server_fn::error::{IntoAppError, ServerFnErrorErr};
use leptos::server_fn::{Http, ServerFn};
use serde::de::DeserializeOwned;

#[component]
pub fn ActionForm<ServFn, OutputProtocol, C>(
    /// The action the form dispatches.
    action: ServerAction<ServFn>,
    /// The form's id, for fields outside it that belong to it (`form="…"`).
    #[prop(optional)]
    id: Option<&'static str>,
    /// The form's fields and buttons.
    children: TypedChildren<C>,
) -> impl IntoView
where
    ServFn: DeserializeOwned
        + ServerFn<Protocol = Http<PostUrl, OutputProtocol>>
        + Clone
        + Send
        + Sync
        + 'static,
    ServFn::Output: Send + Sync + 'static,
    ServFn::Error: Send + Sync + 'static,
    OutputProtocol: 'static,
    C: IntoView + 'static,
{
    let on_submit = move |ev: SubmitEvent| {
        if ev.default_prevented() {
            return;
        }
        ev.prevent_default();
        // The submitter's name and value come along (`intent=sign_in`), as in a plain post.
        match ServFn::from_event(&ev) {
            Ok(input) => {
                action.dispatch(input);
            }
            Err(error) => {
                action.value().set(Some(Err(ServerFnErrorErr::Serialization(
                    error.to_string(),
                )
                .into_app_error())));
                action.version().update(|n| *n += 1);
            }
        }
    };
    view! {
        <form id=id action=ServFn::url() method="post" on:submit=on_submit>
            {children.into_inner()()}
        </form>
    }
}
