//! OAuth2 sign-in for IMAP accounts (Google, Microsoft, one generic provider): providers as
//! data (`provider`), the operator's configuration (`config`), the authorization code flow
//! with PKCE (`flow`), the callback (`callback`), the signed-in identity (`identity`), tokens
//! and their expiry (`tokens`), the single-use `state` store (`state`), typed errors
//! (`error`). The engine logs in with the access token (`mailcopy::Credentials::oauth2`); during
//! a job, `keeper` is the engine's token source (refresh ahead of expiry and on refusal, one
//! at a time per account, rotated refresh tokens stored before use).

pub mod callback;
pub mod config;
pub mod error;
pub mod flow;
pub mod identity;
pub mod keeper;
pub mod provider;
pub mod state;
pub mod token_file;
pub mod tokens;

pub use callback::{parse_callback, Callback};
pub use config::{NotEnabled, OAuthArgs, OAuthClient, Providers};
pub use error::OAuthError;
pub use flow::{AuthorizationStart, OAuthHttp, Refreshed, Revoked, SignedIn};
pub use identity::Identity;
pub use keeper::{KeeperSlot, TokenHome, TokenKeeper};
pub use provider::{ProviderId, ProviderSpec, Tenant};
pub use state::{PendingAuthorization, SignInFor, StateError, StateStore};
pub use tokens::{needs_refresh, Tokens, UnixMs, REFRESH_MARGIN};
