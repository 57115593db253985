//! Server functions: the typed contract between the page and the server. Each body is thin:
//! take the backend from context, call it, map the result. The backend (the `server` crate)
//! implements [`Backend`].

pub mod wizard;

#[cfg(feature = "ssr")]
pub mod backend;

pub use wizard::{get_wizard, validate_account, GetWizard, ValidateAccount};
