//! The service's own names, and the two checks that use them.
//!
//! * **Host**: a request whose `Host` is not one of the names is refused (403). A page on
//!   another site whose name an attacker re-points at this service's address (DNS
//!   rebinding) sends its own name as `Host`, so it reaches nothing here.
//! * **Origin**: a state-changing request from a browser must come from this service: its
//!   `Origin` names the host it was sent to (same origin), or is the origin of
//!   `--public-url` (a reverse proxy that rewrites `Host`).
//!
//! The names are `--public-url`'s host, every `--allowed-hosts` entry, and by default the
//! listen address, `127.0.0.1`, `localhost` and `::1`. A name matches on any port unless the
//! entry gives one. `/healthz` answers whatever the `Host` (probes use addresses).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};

/// Paths answered whatever the `Host`: health probes.
pub const ANY_HOST_PATHS: &[&str] = &["/healthz", "/readyz", "/metrics"];

#[derive(Clone, Debug, PartialEq, Eq)]
struct Name {
    /// Lower case; IPv6 without brackets.
    host: String,
    port: Option<u16>,
}

/// One origin, as browsers send it: scheme, host, port (the scheme's default when absent).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

#[derive(Clone, Debug)]
pub struct AllowedHosts {
    names: Vec<Name>,
    public_origin: Option<Origin>,
}

impl AllowedHosts {
    /// The names of a service listening on `listen`, reached at `public_url`, with the
    /// operator's extra `allowed` names (`name` or `name:port`).
    pub fn new<S: AsRef<str>>(
        listen: SocketAddr,
        public_url: Option<&str>,
        allowed: &[S],
    ) -> Result<AllowedHosts, String> {
        let mut names = Vec::new();
        let listen_ip = listen.ip();
        if !listen_ip.is_unspecified() {
            names.push(Name {
                host: listen_ip.to_string(),
                port: None,
            });
        }
        for default in ["127.0.0.1", "localhost", "::1"] {
            names.push(Name {
                host: default.to_string(),
                port: None,
            });
        }
        let public_origin = match public_url {
            Some(url) => {
                let origin = parse_origin(url)
                    .ok_or_else(|| format!("--public-url {url:?} is not an http(s) URL"))?;
                names.push(Name {
                    host: origin.host.clone(),
                    port: None,
                });
                Some(origin)
            }
            None => None,
        };
        for entry in allowed.iter().map(AsRef::as_ref) {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let (host, port) = split_host_port(entry)
                .ok_or_else(|| format!("--allowed-hosts: {entry:?} is not a host name"))?;
            names.push(Name { host, port });
        }
        names.dedup();
        Ok(AllowedHosts {
            names,
            public_origin,
        })
    }

    /// For tests: the default names of a service on 127.0.0.1.
    pub fn local() -> AllowedHosts {
        AllowedHosts::new(
            SocketAddr::from(([127, 0, 0, 1], 3000)),
            None,
            &[] as &[&str],
        )
        .unwrap_or(AllowedHosts {
            names: Vec::new(),
            public_origin: None,
        })
    }

    fn matches(&self, host: &str, port: Option<u16>) -> bool {
        self.names
            .iter()
            .any(|n| n.host == host && (n.port.is_none() || n.port == port))
    }

    /// Whether a `Host` header value names this service.
    pub fn allows_host(&self, host_header: &str) -> bool {
        match split_host_port(host_header) {
            Some((host, port)) => self.matches(&host, port),
            None => false,
        }
    }

    /// Whether a browser's `Origin` is this service, for a request sent to `host_header`.
    pub fn allows_origin(&self, origin: &str, host_header: Option<&str>) -> bool {
        let Some(origin) = parse_origin(origin) else {
            return false; // includes "null" (sandboxed frames, file: pages)
        };
        if let Some((host, port)) = host_header.and_then(split_host_port) {
            let default = default_port(&origin.scheme);
            if host == origin.host && port.unwrap_or(default) == origin.port {
                return self.matches(&host, port);
            }
        }
        if self.public_origin.as_ref() == Some(&origin) {
            return true;
        }
        // An entry with a port names one origin exactly (any scheme).
        self.names
            .iter()
            .any(|n| n.port == Some(origin.port) && n.host == origin.host)
    }
}

fn default_port(scheme: &str) -> u16 {
    if scheme == "https" {
        443
    } else {
        80
    }
}

/// `https://Mail.Example:8443/path` → (https, mail.example, 8443).
fn parse_origin(url: &str) -> Option<Origin> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return None;
    }
    let (host, port) = split_host_port(authority)?;
    Some(Origin {
        port: port.unwrap_or(default_port(&scheme)),
        scheme,
        host,
    })
}

/// `Example.COM:8080` → (example.com, 8080); `[::1]:3000` → (::1, 3000); `::1` → (::1, none).
/// `None` for what cannot be a host: empty, spaces, bad port.
fn split_host_port(value: &str) -> Option<(String, Option<u16>)> {
    let value = value.trim();
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        host.parse::<std::net::Ipv6Addr>().ok()?;
        (host, port)
    } else if value.matches(':').count() > 1 {
        // A bare IPv6 address (allowed in the configuration, not in a Host header).
        value.parse::<std::net::Ipv6Addr>().ok()?;
        (value, None)
    } else {
        match value.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (value, None),
        }
    };
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok()?),
        None => None,
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let valid = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':' | '_'));
    valid.then_some((host, port))
}

fn refuse(status: StatusCode, text: &'static str) -> Response {
    (status, [(header::CONNECTION, "close")], text).into_response()
}

/// Middleware: the Host check for every request (but health probes), then the Origin check
/// for state-changing ones. Browsers send `Origin` on every POST, form posts included;
/// `Sec-Fetch-Site` is checked when it is absent. Requests with neither (non-browser
/// clients) carry no ambient cookies to abuse.
pub async fn check_host_and_origin(
    axum::extract::State(hosts): axum::extract::State<Arc<AllowedHosts>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if ANY_HOST_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let host = host_of(headers).or_else(|| request.uri().authority().map(|a| a.as_str()));
    let Some(host) = host else {
        return refuse(StatusCode::BAD_REQUEST, "missing Host header");
    };
    if !hosts.allows_host(host) {
        // Debug: scanners that address the service by IP would fill the log.
        tracing::debug!(host, "request for an unknown host refused");
        return refuse(StatusCode::FORBIDDEN, "unknown host");
    }
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if !safe && !same_origin(&hosts, headers, host) {
        tracing::info!(
            origin = ?headers.get(header::ORIGIN),
            host,
            "cross-origin request refused"
        );
        return refuse(StatusCode::FORBIDDEN, "cross-origin request refused");
    }
    next.run(request).await
}

fn host_of(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::HOST).and_then(|h| h.to_str().ok())
}

fn same_origin(hosts: &AllowedHosts, headers: &HeaderMap, host: &str) -> bool {
    match headers.get(header::ORIGIN).map(|o| o.to_str()) {
        Some(Ok(origin)) => hosts.allows_origin(origin, Some(host)),
        Some(Err(_)) => false,
        None => !matches!(
            headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()),
            Some("cross-site") | Some("same-site")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(public: Option<&str>, extra: &[&str]) -> AllowedHosts {
        AllowedHosts::new("192.0.2.10:3000".parse().unwrap(), public, extra).unwrap()
    }

    #[test]
    fn hosts_are_the_listen_address_loopback_names_and_the_configured_ones() {
        let h = hosts(
            Some("https://Copy.Example.org/"),
            &["alt.example.org", "pinned.example.org:8443"],
        );
        for ok in [
            "192.0.2.10:3000",
            "127.0.0.1:3000",
            "localhost",
            "LOCALHOST:80",
            "[::1]:3000",
            "copy.example.org",
            "copy.example.org.",
            "alt.example.org:1234",
            "pinned.example.org:8443",
        ] {
            assert!(h.allows_host(ok), "{ok}");
        }
        for refused in [
            "evil.example",
            "copy.example.org.evil.example",
            "pinned.example.org",
            "pinned.example.org:443",
            "192.0.2.11:3000",
            "",
            "local host",
            "localhost:http",
        ] {
            assert!(!h.allows_host(refused), "{refused}");
        }
        // Listening on every address names no address.
        let any = AllowedHosts::new("0.0.0.0:3000".parse().unwrap(), None, &[] as &[&str]).unwrap();
        assert!(!any.allows_host("0.0.0.0:3000") && any.allows_host("localhost:3000"));
        assert!(AllowedHosts::new(
            "0.0.0.0:1".parse().unwrap(),
            Some("ftp://x"),
            &[] as &[&str]
        )
        .is_err());
        assert!(AllowedHosts::new("0.0.0.0:1".parse().unwrap(), None, &["a b"]).is_err());
    }

    #[test]
    fn origins_must_be_this_service() {
        let h = hosts(
            Some("https://copy.example.org"),
            &["pinned.example.org:8443"],
        );
        // Same origin as the host the request was sent to.
        assert!(h.allows_origin("http://127.0.0.1:3000", Some("127.0.0.1:3000")));
        assert!(h.allows_origin("http://localhost", Some("localhost:80")));
        // Another port of the same host is another origin.
        assert!(!h.allows_origin("http://localhost:8080", Some("localhost:3000")));
        // Behind a proxy that rewrites Host: the public URL's origin.
        assert!(h.allows_origin("https://copy.example.org", Some("127.0.0.1:3000")));
        assert!(h.allows_origin("https://COPY.example.org:443", None));
        assert!(!h.allows_origin("http://copy.example.org", Some("127.0.0.1:3000")));
        assert!(h.allows_origin("https://pinned.example.org:8443", Some("127.0.0.1:3000")));
        for refused in [
            "https://evil.example",
            "null",
            "",
            "https://copy.example.org.evil.example",
        ] {
            assert!(
                !h.allows_origin(refused, Some("127.0.0.1:3000")),
                "{refused}"
            );
        }
        // A host that is not ours, even if Origin agrees with it.
        assert!(!h.allows_origin("http://evil.example", Some("evil.example")));
    }
}
