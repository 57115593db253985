//! Who the client is. The TCP peer, unless the peer is one of the operator's reverse proxies
//! (`--trusted-proxies`): then the address it forwarded (`X-Forwarded-For` or `Forwarded`,
//! `--proxy-header`), taking the rightmost hop that is not itself a trusted proxy (hops to
//! the left of it were written by the client and prove nothing).
//!
//! Limits count per [`client_key`]: an IPv4 address, or an IPv6 /64 (what one subscriber
//! usually holds, so that cycling through addresses of one network gains nothing).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use app::api::backend::ClientInfo;
use axum::extract::ConnectInfo;
use axum::http::HeaderMap;

/// The address limits count under: IPv4 as is (also when seen as `::ffff:a.b.c.d` through a
/// dual-stack socket), IPv6 reduced to its /64.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
    }
}

/// A network in CIDR notation (`10.0.0.0/8`, `fd00::/8`) or one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Network {
    type Err = String;

    fn from_str(s: &str) -> Result<Network, String> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or network"))?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Network { addr, prefix })
    }
}

/// The operator's reverse proxies (`--trusted-proxies`): addresses and networks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Network>);

impl TrustedProxies {
    /// Parses entries such as `127.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<TrustedProxies, String> {
        entries
            .iter()
            .map(AsRef::as_ref)
            .filter(|e| !e.trim().is_empty())
            .map(Network::from_str)
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Which header the trusted proxies write the client's address into.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ProxyHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, HAProxy, most load balancers).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client;proto=https, for=proxy1`.
    Forwarded,
}

/// Finds the client address of a request.
#[derive(Clone, Debug, Default)]
pub struct ClientResolver {
    pub trusted: TrustedProxies,
    pub header: ProxyHeader,
}

impl ClientResolver {
    /// The client of a request from `peer` with these headers. Headers count only when the
    /// peer is a trusted proxy; a hop that cannot be read stops the walk at the last trusted
    /// hop (the proxy that wrote it), and a chain of trusted hops only gives its leftmost.
    pub fn client_ip(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?.to_canonical();
        if !self.trusted.contains(peer) {
            return Some(peer);
        }
        let hops = match self.header {
            ProxyHeader::XForwardedFor => forwarded_for_hops(headers),
            ProxyHeader::Forwarded => forwarded_hops(headers),
        };
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop {
                Some(ip) => {
                    client = ip.to_canonical();
                    if !self.trusted.contains(client) {
                        return Some(client);
                    }
                }
                None => return Some(client),
            }
        }
        Some(client)
    }
}

/// The hops of every `X-Forwarded-For` header, left to right (`None`: unreadable).
fn forwarded_for_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| match v.to_str() {
            Ok(v) => v.split(',').map(parse_hop).collect::<Vec<_>>(),
            Err(_) => vec![None],
        })
        .collect()
}

/// The `for=` of every element of every `Forwarded` header, left to right.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all(axum::http::header::FORWARDED)
        .iter()
        .flat_map(|v| match v.to_str() {
            Ok(v) => v
                .split(',')
                .map(|element| {
                    element
                        .split(';')
                        .filter_map(|pair| pair.split_once('='))
                        .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                        .and_then(|(_, value)| parse_hop(value))
                })
                .collect::<Vec<_>>(),
            Err(_) => vec![None],
        })
        .collect()
}

/// One hop: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]:4711`, quoted or not.
/// `unknown` and obfuscated identifiers (`_hidden`) are unreadable.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(socket) = hop.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    hop.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .and_then(|h| h.parse().ok())
}

/// Middleware: puts the request's [`ClientInfo`] (for the rate limits) into its extensions.
pub async fn attach_client_info(
    axum::extract::State(resolver): axum::extract::State<Arc<ClientResolver>>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = resolver.client_ip(peer, request.headers());
    request.extensions_mut().insert(ClientInfo { ip });
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn keys_are_ipv4_addresses_and_ipv6_64s() {
        assert_eq!(client_key(ip("192.0.2.9")), ip("192.0.2.9"));
        assert_eq!(client_key(ip("::ffff:192.0.2.9")), ip("192.0.2.9"));
        assert_eq!(client_key(ip("2001:db8:a:b:c:d:e:f")), ip("2001:db8:a:b::"));
    }

    #[test]
    fn trusted_proxies_parse_networks_and_addresses() {
        let t =
            TrustedProxies::parse(&["10.0.0.0/8", " 192.0.2.1 ", "fd00::/8", "::1", ""]).unwrap();
        assert!(t.contains(ip("10.200.3.4")));
        assert!(t.contains(ip("::ffff:10.0.0.1")), "mapped IPv4");
        assert!(!t.contains(ip("11.0.0.1")));
        assert!(t.contains(ip("192.0.2.1")) && !t.contains(ip("192.0.2.2")));
        assert!(t.contains(ip("fd12::5")) && t.contains(ip("::1")));
        assert!(!t.contains(ip("2001:db8::1")));
        assert!(TrustedProxies::parse(&["0.0.0.0/0"])
            .unwrap()
            .contains(ip("8.8.8.8")));
        assert!(TrustedProxies::parse(&["10.0.0.0/33"]).is_err());
        assert!(TrustedProxies::parse(&["proxy.example"]).is_err());
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let resolver = ClientResolver {
            trusted: TrustedProxies::parse(&["10.0.0.0/8"]).unwrap(),
            header: ProxyHeader::XForwardedFor,
        };
        let spoofed = headers(&[("x-forwarded-for", "203.0.113.7")]);
        // Not from a proxy: the header is the client's own claim.
        assert_eq!(
            resolver.client_ip(Some(ip("198.51.100.1")), &spoofed),
            Some(ip("198.51.100.1"))
        );
        // From a proxy: the rightmost hop that is not a proxy; the client's own prefix of
        // the chain (here a forged 1.1.1.1) is ignored.
        let chain = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.7, 10.0.0.2")]);
        assert_eq!(
            resolver.client_ip(Some(ip("10.0.0.1")), &chain),
            Some(ip("203.0.113.7"))
        );
        // Several header lines form one list.
        let split = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "203.0.113.8:5555"),
        ]);
        assert_eq!(
            resolver.client_ip(Some(ip("10.0.0.1")), &split),
            Some(ip("203.0.113.8"))
        );
        // No header: the proxy itself. Only proxies: the leftmost. Garbage: the proxy that
        // wrote it.
        assert_eq!(
            resolver.client_ip(Some(ip("10.0.0.1")), &HeaderMap::new()),
            Some(ip("10.0.0.1"))
        );
        let internal = headers(&[("x-forwarded-for", "10.9.9.9, 10.0.0.2")]);
        assert_eq!(
            resolver.client_ip(Some(ip("10.0.0.1")), &internal),
            Some(ip("10.9.9.9"))
        );
        let garbage = headers(&[("x-forwarded-for", "203.0.113.9, nonsense, 10.0.0.2")]);
        assert_eq!(
            resolver.client_ip(Some(ip("10.0.0.1")), &garbage),
            Some(ip("10.0.0.2"))
        );
        assert_eq!(resolver.client_ip(None, &chain), None);
        // The Forwarded header is not read when X-Forwarded-For is the configured one.
        let other = headers(&[("forwarded", "for=203.0.113.50")]);
        assert_eq!(
            resolver.client_ip(Some(ip("10.0.0.1")), &other),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn rfc_7239_forwarded_is_read_when_configured() {
        let resolver = ClientResolver {
            trusted: TrustedProxies::parse(&["::1", "10.0.0.0/8"]).unwrap(),
            header: ProxyHeader::Forwarded,
        };
        let h = headers(&[(
            "forwarded",
            "for=192.0.2.43;proto=https, For=\"[2001:db8:cafe::17]:4711\";by=10.0.0.2, for=10.0.0.3",
        )]);
        assert_eq!(
            resolver.client_ip(Some(ip("::1")), &h),
            Some(ip("2001:db8:cafe::17"))
        );
        let hidden = headers(&[("forwarded", "for=_hidden, for=10.0.0.3")]);
        assert_eq!(
            resolver.client_ip(Some(ip("::1")), &hidden),
            Some(ip("10.0.0.3"))
        );
        let xff = headers(&[("x-forwarded-for", "203.0.113.1")]);
        assert_eq!(resolver.client_ip(Some(ip("::1")), &xff), Some(ip("::1")));
    }
}
