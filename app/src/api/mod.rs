//! Server functions: the typed contract between the page and the server. Each body is thin:
//! take the backend from context, call it, map the result. The backend (the `server` crate)
//! implements [`backend::Backend`].

pub mod codec;
pub mod jobs;
pub mod preflight;
pub mod wizard;

#[cfg(feature = "ssr")]
pub mod backend;

pub use jobs::{
    job_details, public_status, sign_in_again, synchronize, JobDetails, PublicStatus, SignInAgain,
    SyncAnswer, Synchronize,
};
pub use preflight::{preflight, Preflight};
pub use wizard::{get_wizard, validate_account, GetWizard, ValidateAccount};
