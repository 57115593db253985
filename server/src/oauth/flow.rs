//! The OAuth2 authorization code flow with PKCE against one provider: the authorization URL,
//! the code exchange, refresh, revocation and the signed-in identity. Uses the `oauth2`
//! crate's typed requests over one reqwest client (rustls, no redirects followed).

use std::time::Duration;

use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse,
    BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, StandardRevocableToken, StandardTokenResponse, TokenResponse,
    TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::config::OAuthClient;
use super::error::OAuthError;
use super::identity::{id_token_claims, identity_from_claims, Identity};
use super::provider::ClientAuth;
use super::tokens::{Tokens, UnixMs};

/// Time limit of one request to a provider.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The token response's fields beyond RFC 6749's: OpenID Connect's `id_token`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}
impl ExtraTokenFields for IdTokenField {}

type TokenAnswer = StandardTokenResponse<IdTokenField, BasicTokenType>;

type Client = oauth2::Client<
    BasicErrorResponse,
    TokenAnswer,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// The HTTP client for token, revocation and userinfo requests: rustls with the web PKI
/// roots, timeouts, and no redirects (the `oauth2` crate's advice against SSRF).
#[derive(Clone, Debug)]
pub struct OAuthHttp {
    client: oauth2::reqwest::Client,
}

impl OAuthHttp {
    pub fn new() -> Result<OAuthHttp, OAuthError> {
        let client = oauth2::reqwest::ClientBuilder::new()
            .redirect(oauth2::reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("imapcopy/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| OAuthError::Configuration(format!("HTTP client: {e}")))?;
        Ok(OAuthHttp { client })
    }
}

/// A sign-in started: the URL to send the browser to, and what the callback needs (kept
/// server-side in the state store, never sent to the browser except `state` in the URL).
pub struct AuthorizationStart {
    pub url: String,
    pub state: String,
    pub pkce_verifier: SecretString,
    pub nonce: String,
}

impl std::fmt::Debug for AuthorizationStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationStart")
            .field("url", &self.url)
            .field("pkce_verifier", &"[hidden]")
            .finish_non_exhaustive()
    }
}

/// A finished sign-in: the tokens and the account they are for.
#[derive(Debug)]
pub struct SignedIn {
    pub tokens: Tokens,
    pub identity: Identity,
}

/// A refresh's result. `rotated`: the provider issued a new refresh token (the caller must
/// store it at once; the old one is dead). Otherwise `tokens.refresh_token` is the old one.
#[derive(Debug)]
pub struct Refreshed {
    pub tokens: Tokens,
    pub rotated: bool,
}

/// A revocation's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revoked {
    Done,
    /// The provider has no revocation endpoint (Microsoft): the grant stays until the user
    /// removes the app from their account.
    NotSupported,
}

fn client(provider: &OAuthClient) -> Result<Client, OAuthError> {
    let bad = |what: &str, e: oauth2::url::ParseError| {
        OAuthError::Configuration(format!("{} {what}: {e}", provider.spec.display_name))
    };
    let endpoints = &provider.spec.endpoints;
    let auth_type = match provider.spec.client_auth {
        ClientAuth::Basic => AuthType::BasicAuth,
        ClientAuth::Post => AuthType::RequestBody,
    };
    Ok(
        oauth2::Client::new(ClientId::new(provider.client_id.clone()))
            .set_client_secret(ClientSecret::new(
                provider.client_secret.expose_secret().to_string(),
            ))
            .set_auth_type(auth_type)
            .set_auth_uri(
                AuthUrl::new(endpoints.authorization.clone())
                    .map_err(|e| bad("authorization URL", e))?,
            )
            .set_token_uri(TokenUrl::new(endpoints.token.clone()).map_err(|e| bad("token URL", e))?)
            .set_redirect_uri(
                RedirectUrl::new(provider.redirect_uri.clone())
                    .map_err(|e| bad("redirect URI", e))?,
            ),
    )
}

/// The authorization URL: response_type=code, the provider's scopes and extra parameters,
/// PKCE S256, a random `state` and `nonce`, and the address typed so far as `login_hint`.
pub fn authorization_url(
    provider: &OAuthClient,
    login_hint: Option<&str>,
) -> Result<AuthorizationStart, OAuthError> {
    let client = client(provider)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let nonce = CsrfToken::new_random();
    let mut request = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(provider.spec.scopes.iter().cloned().map(Scope::new))
        .set_pkce_challenge(challenge)
        .add_extra_param("nonce", nonce.secret().clone());
    for (k, v) in &provider.spec.extra_params {
        request = request.add_extra_param(k.clone(), v.clone());
    }
    if let Some(hint) = login_hint.map(str::trim).filter(|h| !h.is_empty()) {
        request = request.add_extra_param("login_hint", hint.to_string());
    }
    let (url, state) = request.url();
    Ok(AuthorizationStart {
        url: url.to_string(),
        state: state.secret().clone(),
        pkce_verifier: SecretString::from(verifier.secret().clone()),
        nonce: nonce.secret().clone(),
    })
}

/// Exchanges the callback's code (with the PKCE verifier and nonce of its `state`) for
/// tokens, checks the IMAP scope was granted, and finds the account.
pub async fn exchange_code(
    http: &OAuthHttp,
    provider: &OAuthClient,
    code: &str,
    pkce_verifier: &SecretString,
    nonce: &str,
    now: UnixMs,
) -> Result<SignedIn, OAuthError> {
    let answer = client(provider)?
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .set_pkce_verifier(PkceCodeVerifier::new(
            pkce_verifier.expose_secret().to_string(),
        ))
        .request_async(&http.client)
        .await
        .map_err(token_error)?;
    let tokens = tokens_from(provider, &answer, None, now)?;
    let identity = match &answer.extra_fields().id_token {
        // Straight from the token endpoint: see `identity`'s module comment.
        Some(id_token) => {
            let claims = id_token_claims(id_token)?;
            match identity_from_claims(&claims, &provider.spec.account_claims, Some(nonce)) {
                Ok(identity) => identity,
                // oidc-provider (and OpenID Connect Core 5.4): when an access token is issued,
                // the scope's claims (`email`) are in userinfo, and the ID token has `sub`.
                Err(OAuthError::NoIdentity { .. })
                    if provider.spec.endpoints.userinfo.is_some() =>
                {
                    let from_userinfo = userinfo(http, provider, &tokens.access_token).await?;
                    let sub = claims.get("sub").and_then(serde_json::Value::as_str);
                    // OpenID Connect Core 5.3.2: userinfo's `sub` must be the ID token's.
                    if sub.is_some() && from_userinfo.subject.as_deref() != sub {
                        return Err(OAuthError::Network(
                            "userinfo is about another account than the ID token".to_string(),
                        ));
                    }
                    from_userinfo
                }
                Err(e) => return Err(e),
            }
        }
        None => userinfo(http, provider, &tokens.access_token).await?,
    };
    Ok(SignedIn { tokens, identity })
}

/// New tokens for a refresh token. A provider that returns no refresh token (Google) leaves
/// the old one in place; one that rotates (OAuth 2.1 advice, oidc-provider) returns a new one
/// and `rotated` is set.
pub async fn refresh(
    http: &OAuthHttp,
    provider: &OAuthClient,
    refresh_token: &SecretString,
    now: UnixMs,
) -> Result<Refreshed, OAuthError> {
    let old = RefreshToken::new(refresh_token.expose_secret().to_string());
    let answer = client(provider)?
        .exchange_refresh_token(&old)
        .request_async(&http.client)
        .await
        .map_err(token_error)?;
    let rotated = answer
        .refresh_token()
        .is_some_and(|new| new.secret() != old.secret());
    let tokens = tokens_from(provider, &answer, Some(refresh_token), now)?;
    Ok(Refreshed { tokens, rotated })
}

/// Revokes a refresh token (and with it the grant) where the provider can (RFC 7009).
///
/// Sent by hand rather than through the `oauth2` crate: it insists on an https revocation
/// URL, and local test providers are http on loopback (`provider::check_endpoint` allows
/// http nowhere else).
pub async fn revoke(
    http: &OAuthHttp,
    provider: &OAuthClient,
    refresh_token: &SecretString,
) -> Result<Revoked, OAuthError> {
    let Some(url) = &provider.spec.endpoints.revocation else {
        return Ok(Revoked::NotSupported);
    };
    let mut form = vec![
        ("token", refresh_token.expose_secret()),
        ("token_type_hint", "refresh_token"),
    ];
    let mut request = http.client.post(url).header("accept", "application/json");
    match provider.spec.client_auth {
        ClientAuth::Basic => {
            // RFC 6749 2.3.1: id and secret form-encoded before Basic's base64.
            let enc = |v: &str| {
                oauth2::url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
            };
            request = request.basic_auth(
                enc(&provider.client_id),
                Some(enc(provider.client_secret.expose_secret())),
            );
        }
        ClientAuth::Post => {
            form.push(("client_id", &provider.client_id));
            form.push(("client_secret", provider.client_secret.expose_secret()));
        }
    }
    let body = oauth2::url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let response = request
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| OAuthError::Network(error_chain(&e.without_url())))?;
    let status = response.status();
    if status.is_success() {
        return Ok(Revoked::Done);
    }
    let body = response.bytes().await.unwrap_or_default();
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    match answer.get("error").and_then(serde_json::Value::as_str) {
        Some(error) => Err(OAuthError::from_code(
            error,
            answer
                .get("error_description")
                .and_then(serde_json::Value::as_str),
        )),
        None => Err(OAuthError::Network(format!(
            "revocation answered HTTP {status}"
        ))),
    }
}

/// The userinfo endpoint's claims for an access token, as an identity.
pub async fn userinfo(
    http: &OAuthHttp,
    provider: &OAuthClient,
    access_token: &SecretString,
) -> Result<Identity, OAuthError> {
    let Some(url) = &provider.spec.endpoints.userinfo else {
        return Err(OAuthError::NoIdentity {
            claim: provider.spec.account_claims.join(" or "),
        });
    };
    let response = http
        .client
        .get(url)
        .bearer_auth(access_token.expose_secret())
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| OAuthError::Network(e.without_url().to_string()))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| OAuthError::Network(e.without_url().to_string()))?;
    if !status.is_success() {
        return Err(OAuthError::Network(format!(
            "userinfo answered HTTP {status}"
        )));
    }
    let claims = match serde_json::from_slice(&body) {
        Ok(serde_json::Value::Object(claims)) => claims,
        _ => {
            return Err(OAuthError::Network(
                "userinfo is not a JSON object".to_string(),
            ))
        }
    };
    identity_from_claims(&claims, &provider.spec.account_claims, None)
}

/// The typed tokens of a token answer; `previous` is the refresh token to keep when the
/// answer has none.
fn tokens_from(
    provider: &OAuthClient,
    answer: &TokenAnswer,
    previous: Option<&SecretString>,
    now: UnixMs,
) -> Result<Tokens, OAuthError> {
    // RFC 6749 5.1: no `scope` in the answer means the scope requested was granted.
    let granted = answer.scopes().map(|scopes| {
        scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    });
    if let Some(granted) = &granted {
        if !provider.spec.grants_imap(granted) {
            return Err(OAuthError::MissingScope {
                scope: provider.spec.imap_scope.clone(),
            });
        }
    }
    let refresh_token = match answer.refresh_token() {
        Some(new) => Some(SecretString::from(new.secret().clone())),
        None => previous.cloned(),
    };
    Ok(Tokens {
        access_token: SecretString::from(answer.access_token().secret().clone()),
        refresh_token,
        expires_at: answer.expires_in().map(|d| now.plus(d)),
        scope: granted,
    })
}

fn basic_error(e: &BasicErrorResponseType, description: Option<&String>) -> OAuthError {
    OAuthError::from_code(e.as_ref(), description.map(String::as_str))
}

fn token_error<RE: std::error::Error + 'static>(
    e: RequestTokenError<RE, BasicErrorResponse>,
) -> OAuthError {
    match e {
        RequestTokenError::ServerResponse(r) => basic_error(r.error(), r.error_description()),
        other => request_error(other),
    }
}

/// A failure that is not an OAuth2 error answer. The body of an unparsable answer is not
/// included: it might hold a token.
fn request_error<RE: std::error::Error + 'static, T: oauth2::ErrorResponse + 'static>(
    e: RequestTokenError<RE, T>,
) -> OAuthError {
    match e {
        RequestTokenError::ServerResponse(_) => {
            OAuthError::Network("an unexpected error answer".to_string())
        }
        RequestTokenError::Request(e) => OAuthError::Network(error_chain(&e)),
        RequestTokenError::Parse(e, _body) => OAuthError::Network(format!(
            "an answer that is not an OAuth2 token response ({})",
            e.path()
        )),
        RequestTokenError::Other(e) => OAuthError::Network(e),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use base64::Engine as _;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::oauth::provider::{ProviderSpec, Tenant};

    const REDIRECT: &str = "https://copy.example.org/oauth2/callback";

    fn configured(spec: ProviderSpec) -> Arc<OAuthClient> {
        OAuthClient::new(spec, "client id", SecretString::from("s3cr/et"), REDIRECT).unwrap()
    }

    /// Every query parameter of a URL; a repeated one fails the test.
    fn query(url: &str) -> (String, BTreeMap<String, String>) {
        let url = oauth2::url::Url::parse(url).unwrap();
        let mut map = BTreeMap::new();
        for (k, v) in url.query_pairs() {
            assert!(
                map.insert(k.to_string(), v.to_string()).is_none(),
                "{k} twice"
            );
        }
        let base = format!(
            "{}://{}{}",
            url.scheme(),
            url.host_str().unwrap(),
            url.path()
        );
        (base, map)
    }

    fn check_pkce_and_state(start: &AuthorizationStart, q: &BTreeMap<String, String>) {
        let verifier = PkceCodeVerifier::new(start.pkce_verifier.expose_secret().to_string());
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
        assert_eq!(q["code_challenge"], challenge.as_str());
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["state"], start.state);
        assert!(start.state.len() >= 16);
        assert_eq!(q["nonce"], start.nonce);
        assert_ne!(start.state, start.nonce);
        assert_eq!(q["redirect_uri"], REDIRECT);
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "client id");
    }

    #[test]
    fn google_authorization_url() {
        let google = configured(ProviderSpec::google());
        let start = authorization_url(&google, Some("a@gmail.com")).unwrap();
        let (base, q) = query(&start.url);
        assert_eq!(base, "https://accounts.google.com/o/oauth2/v2/auth");
        check_pkce_and_state(&start, &q);
        assert_eq!(q["scope"], "openid email https://mail.google.com/");
        assert_eq!(q["access_type"], "offline");
        assert_eq!(q["prompt"], "consent");
        assert_eq!(q["login_hint"], "a@gmail.com");
        let keys: Vec<&str> = q.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "access_type",
                "client_id",
                "code_challenge",
                "code_challenge_method",
                "login_hint",
                "nonce",
                "prompt",
                "redirect_uri",
                "response_type",
                "scope",
                "state"
            ]
        );
        // Each start is new.
        let again = authorization_url(&google, None).unwrap();
        assert_ne!(again.state, start.state);
        assert_ne!(
            again.pkce_verifier.expose_secret(),
            start.pkce_verifier.expose_secret()
        );
        assert!(!query(&again.url).1.contains_key("login_hint"));
        assert!(!format!("{start:?}").contains(start.pkce_verifier.expose_secret()));
    }

    #[test]
    fn microsoft_authorization_url() {
        let tenant = Tenant::parse("8eaef023-2b34-4da1-9baa-8bc8c9d6a490").unwrap();
        let ms = configured(ProviderSpec::microsoft(&tenant));
        let start = authorization_url(&ms, None).unwrap();
        let (base, q) = query(&start.url);
        assert_eq!(
            base,
            "https://login.microsoftonline.com/8eaef023-2b34-4da1-9baa-8bc8c9d6a490/oauth2/v2.0/authorize"
        );
        check_pkce_and_state(&start, &q);
        assert_eq!(
            q["scope"],
            "openid email profile offline_access https://outlook.office.com/IMAP.AccessAsUser.All"
        );
        assert!(!q.contains_key("access_type") && !q.contains_key("prompt"));
        let common = configured(ProviderSpec::microsoft(&Tenant::common()));
        let (base, _) = query(&authorization_url(&common, None).unwrap().url);
        assert!(base.starts_with("https://login.microsoftonline.com/common/"));
    }

    /// One HTTP request as a local listener received it.
    struct Captured {
        head: String,
        body: String,
    }

    impl Captured {
        fn header(&self, name: &str) -> Option<String> {
            self.head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
        }

        fn form(&self) -> BTreeMap<String, String> {
            oauth2::url::form_urlencoded::parse(self.body.as_bytes())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        }
    }

    /// A listener on 127.0.0.1 answering one request with `status` and a JSON body; returns
    /// its URL and the request it got.
    async fn token_endpoint(
        status: u16,
        json: serde_json::Value,
    ) -> (String, tokio::task::JoinHandle<Captured>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut data = Vec::new();
            let mut buf = [0u8; 4096];
            let (head, body) = loop {
                let n = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buf))
                    .await
                    .unwrap()
                    .unwrap();
                assert!(n > 0, "connection closed before the request ended");
                data.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&data).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        break (head.to_string(), body.to_string());
                    }
                }
            };
            let body_out = json.to_string();
            let answer = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body_out}",
                body_out.len()
            );
            socket.write_all(answer.as_bytes()).await.unwrap();
            Captured { head, body }
        });
        (url, task)
    }

    fn with_token_url(mut spec: ProviderSpec, url: &str) -> Arc<OAuthClient> {
        spec.endpoints.token = url.to_string();
        configured(spec)
    }

    fn jwt(claims: serde_json::Value) -> String {
        let enc = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        format!(
            "{}.{}.sig",
            enc(serde_json::json!({"alg": "RS256"})),
            enc(claims)
        )
    }

    #[tokio::test]
    async fn google_code_exchange_request_and_answer() {
        let (url, got) = token_endpoint(
            200,
            serde_json::json!({
                "access_token": "ya29.at", "expires_in": 3599, "token_type": "Bearer",
                "refresh_token": "1//rt",
                "scope": "https://mail.google.com/ openid https://www.googleapis.com/auth/userinfo.email",
                "id_token": jwt(serde_json::json!({"sub": "1077", "email": "a@gmail.com", "nonce": "the-nonce"})),
            }),
        )
        .await;
        let google = with_token_url(ProviderSpec::google(), &url);
        let http = OAuthHttp::new().unwrap();
        let verifier = SecretString::from("v".repeat(43));
        let now = UnixMs(1_000_000);
        let signed = exchange_code(&http, &google, "4/code", &verifier, "the-nonce", now)
            .await
            .unwrap();
        let req = got.await.unwrap();
        assert!(req.head.starts_with("POST /token HTTP/1.1"), "{}", req.head);
        // client_secret_basic: id and secret form-encoded, then base64 (RFC 6749 2.3.1).
        let basic = base64::engine::general_purpose::STANDARD.encode("client+id:s3cr%2Fet");
        assert_eq!(req.header("authorization"), Some(format!("Basic {basic}")));
        let form = req.form();
        assert_eq!(form["grant_type"], "authorization_code");
        assert_eq!(form["code"], "4/code");
        assert_eq!(form["redirect_uri"], REDIRECT);
        assert_eq!(form["code_verifier"], "v".repeat(43));
        assert!(!form.contains_key("client_secret"));
        assert_eq!(signed.identity.login, "a@gmail.com");
        assert_eq!(signed.identity.subject.as_deref(), Some("1077"));
        assert_eq!(signed.tokens.access_token.expose_secret(), "ya29.at");
        assert_eq!(
            signed
                .tokens
                .refresh_token
                .as_ref()
                .unwrap()
                .expose_secret(),
            "1//rt"
        );
        assert_eq!(
            signed.tokens.expires_at,
            Some(UnixMs(1_000_000 + 3_599_000))
        );
    }

    #[tokio::test]
    async fn microsoft_code_exchange_reads_the_id_token() {
        let (url, got) = token_endpoint(
            200,
            serde_json::json!({
                "access_token": "eyJ.at", "expires_in": 3600, "ext_expires_in": 3600,
                "token_type": "Bearer", "refresh_token": "M.rt",
                "scope": "https://outlook.office.com/IMAP.AccessAsUser.All",
                "id_token": jwt(serde_json::json!({"sub": "AAA", "preferred_username": "c@outlook.com", "nonce": "n"})),
            }),
        )
        .await;
        let ms = with_token_url(ProviderSpec::microsoft(&Tenant::common()), &url);
        let http = OAuthHttp::new().unwrap();
        let verifier = SecretString::from("w".repeat(43));
        let signed = exchange_code(&http, &ms, "M.code", &verifier, "n", UnixMs(0))
            .await
            .unwrap();
        assert_eq!(signed.identity.login, "c@outlook.com");
        let req = got.await.unwrap();
        assert_eq!(req.header("authorization"), None);
        let form = req.form();
        assert_eq!(form["client_secret"], "s3cr/et");
        assert_eq!(form["code_verifier"], "w".repeat(43));
        assert_eq!(form["grant_type"], "authorization_code");

        // An ID token for another sign-in (its nonce) is refused.
        let (url, _got) = token_endpoint(
            200,
            serde_json::json!({"access_token": "at", "token_type": "Bearer",
                "id_token": jwt(serde_json::json!({"sub": "AAA", "email": "c@outlook.com", "nonce": "other"}))}),
        )
        .await;
        let ms = with_token_url(ProviderSpec::microsoft(&Tenant::common()), &url);
        let err = exchange_code(&http, &ms, "c", &verifier, "n", UnixMs(0))
            .await
            .unwrap_err();
        assert_eq!(err, OAuthError::NonceMismatch);
    }

    #[tokio::test]
    async fn google_refresh_keeps_the_old_refresh_token() {
        let (url, got) = token_endpoint(
            200,
            serde_json::json!({"access_token": "ya29.new", "expires_in": 3599, "token_type": "Bearer", "scope": "https://mail.google.com/"}),
        )
        .await;
        let google = with_token_url(ProviderSpec::google(), &url);
        let old = SecretString::from("1//old");
        let r = refresh(&OAuthHttp::new().unwrap(), &google, &old, UnixMs(0))
            .await
            .unwrap();
        let form = got.await.unwrap().form();
        assert_eq!(form["grant_type"], "refresh_token");
        assert_eq!(form["refresh_token"], "1//old");
        assert!(!r.rotated);
        assert_eq!(r.tokens.refresh_token.unwrap().expose_secret(), "1//old");
        assert_eq!(r.tokens.access_token.expose_secret(), "ya29.new");
    }

    #[tokio::test]
    async fn microsoft_refresh_posts_the_secret_and_rotates() {
        let (url, got) = token_endpoint(
            200,
            serde_json::json!({"access_token": "eyJ.new", "expires_in": 4000, "token_type": "Bearer",
                "refresh_token": "M.new", "scope": "https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/User.Read"}),
        )
        .await;
        let ms = with_token_url(ProviderSpec::microsoft(&Tenant::common()), &url);
        let old = SecretString::from("M.old");
        let r = refresh(&OAuthHttp::new().unwrap(), &ms, &old, UnixMs(0))
            .await
            .unwrap();
        let req = got.await.unwrap();
        assert_eq!(req.header("authorization"), None);
        let form = req.form();
        assert_eq!(form["client_id"], "client id");
        assert_eq!(form["client_secret"], "s3cr/et");
        assert_eq!(form["refresh_token"], "M.old");
        assert!(r.rotated);
        assert_eq!(r.tokens.refresh_token.unwrap().expose_secret(), "M.new");
        assert_eq!(r.tokens.expires_at, Some(UnixMs(4_000_000)));
    }

    #[tokio::test]
    async fn a_grant_without_the_imap_scope_is_refused() {
        let (url, _got) = token_endpoint(
            200,
            serde_json::json!({"access_token": "at", "token_type": "Bearer", "scope": "openid https://www.googleapis.com/auth/userinfo.email"}),
        )
        .await;
        let google = with_token_url(ProviderSpec::google(), &url);
        let err = refresh(
            &OAuthHttp::new().unwrap(),
            &google,
            &SecretString::from("rt"),
            UnixMs(0),
        )
        .await
        .unwrap_err();
        assert_eq!(
            err,
            OAuthError::MissingScope {
                scope: "https://mail.google.com/".into()
            }
        );
    }

    #[tokio::test]
    async fn invalid_grant_and_unreachable_are_typed() {
        let (url, _got) = token_endpoint(
            400,
            serde_json::json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
        )
        .await;
        let google = with_token_url(ProviderSpec::google(), &url);
        let http = OAuthHttp::new().unwrap();
        let err = refresh(&http, &google, &SecretString::from("rt"), UnixMs(0))
            .await
            .unwrap_err();
        assert_eq!(err, OAuthError::InvalidGrant);

        // Nothing listens on a port just freed.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let gone = with_token_url(
            ProviderSpec::google(),
            &format!("http://127.0.0.1:{port}/token"),
        );
        let err = refresh(&http, &gone, &SecretString::from("rt"), UnixMs(0))
            .await
            .unwrap_err();
        assert!(matches!(err, OAuthError::Network(_)), "{err:?}");
        assert!(!err.to_string().contains("rt\""));
    }

    #[tokio::test]
    async fn google_revocation_request() {
        let (url, got) = token_endpoint(200, serde_json::json!({})).await;
        let mut spec = ProviderSpec::google();
        spec.endpoints.revocation = Some(url);
        let google = configured(spec);
        let r = revoke(
            &OAuthHttp::new().unwrap(),
            &google,
            &SecretString::from("1//rt"),
        )
        .await;
        assert_eq!(r, Ok(Revoked::Done));
        let req = got.await.unwrap();
        let basic = base64::engine::general_purpose::STANDARD.encode("client+id:s3cr%2Fet");
        assert_eq!(req.header("authorization"), Some(format!("Basic {basic}")));
        let form = req.form();
        assert_eq!(form["token"], "1//rt");
        assert_eq!(form["token_type_hint"], "refresh_token");

        let (url, _got) = token_endpoint(400, serde_json::json!({"error": "invalid_client"})).await;
        let mut spec = ProviderSpec::google();
        spec.endpoints.revocation = Some(url);
        let r = revoke(
            &OAuthHttp::new().unwrap(),
            &configured(spec),
            &SecretString::from("x"),
        )
        .await;
        assert!(
            matches!(r, Err(OAuthError::Refused { ref error, .. }) if error == "invalid_client")
        );
    }

    #[tokio::test]
    async fn microsoft_has_no_revocation() {
        let ms = configured(ProviderSpec::microsoft(&Tenant::common()));
        let r = revoke(&OAuthHttp::new().unwrap(), &ms, &SecretString::from("rt")).await;
        assert_eq!(r, Ok(Revoked::NotSupported));
    }
}
