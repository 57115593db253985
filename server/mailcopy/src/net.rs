//! Name resolution and the address policy that keeps the service from being used to reach
//! internal networks (SSRF): every resolved address is checked before we connect to it.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

/// Turns a host name into socket addresses. Object-safe so tests can swap in a fixed table.
pub trait Resolver: Send + Sync + std::fmt::Debug {
    /// Resolves `host` (a DNS name or an IP literal) for `port`. An unknown name is an error of
    /// kind [`io::ErrorKind::NotFound`] or an empty list.
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, io::Result<Vec<SocketAddr>>>;
}

/// The operating system's resolver (`tokio::net::lookup_host`). IP literals never reach it.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, io::Result<Vec<SocketAddr>>> {
        Box::pin(async move {
            if let Some(ip) = parse_ip_literal(host) {
                return Ok(vec![SocketAddr::new(ip, port)]);
            }
            let addrs = tokio::net::lookup_host((host, port)).await?;
            Ok(addrs.collect())
        })
    }
}

/// A fixed host table, for tests: no DNS query ever leaves the process.
///
/// ```
/// use mailcopy::net::StaticResolver;
/// let r = StaticResolver::new().with("imap.test", ["127.0.0.1".parse().unwrap()]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    table: HashMap<String, Vec<IpAddr>>,
}

impl StaticResolver {
    /// An empty table: only IP literals resolve.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a name. Names are case-insensitive.
    pub fn with(mut self, host: &str, ips: impl IntoIterator<Item = IpAddr>) -> Self {
        self.table
            .insert(host.to_ascii_lowercase(), ips.into_iter().collect());
        self
    }
}

impl Resolver for StaticResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, io::Result<Vec<SocketAddr>>> {
        Box::pin(async move {
            if let Some(ip) = parse_ip_literal(host) {
                return Ok(vec![SocketAddr::new(ip, port)]);
            }
            match self.table.get(&host.to_ascii_lowercase()) {
                Some(ips) => Ok(ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect()),
                None => Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{host} is not in the static host table"),
                )),
            }
        })
    }
}

/// `1.2.3.4`, `::1` or `[::1]` as an address; anything else is a name.
pub(crate) fn parse_ip_literal(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

/// Which resolved addresses we may connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressPolicy {
    /// Any address (tests, or an operator who explicitly allows internal servers).
    AllowAll,
    /// Only globally routable unicast addresses (see [`is_public`]).
    #[default]
    PublicOnly,
}

impl AddressPolicy {
    /// Whether this policy lets us connect to `ip`.
    pub fn allows(self, ip: IpAddr) -> bool {
        match self {
            AddressPolicy::AllowAll => true,
            AddressPolicy::PublicOnly => is_public(ip),
        }
    }

    /// Splits resolved addresses into (allowed, refused), keeping their order.
    pub fn filter(self, addrs: &[SocketAddr]) -> (Vec<SocketAddr>, Vec<SocketAddr>) {
        addrs.iter().partition(|a| self.allows(a.ip()))
    }
}

/// True when `ip` is a globally routable unicast address: not loopback, private (RFC 1918,
/// fc00::/7), link-local (169.254/16 with the cloud metadata address, fe80::/10), CGNAT
/// (100.64/10), unspecified, broadcast, multicast, documentation, benchmarking (198.18/15),
/// 0/8, other reserved ranges, nor an IPv6 form (v4-mapped, v4-compatible, NAT64, 6to4) of any of
/// those.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    const BLOCKED: &[([u8; 4], u32)] = &[
        ([0, 0, 0, 0], 8),       // "this network", includes unspecified
        ([10, 0, 0, 0], 8),      // RFC 1918
        ([100, 64, 0, 0], 10),   // CGNAT, RFC 6598
        ([127, 0, 0, 0], 8),     // loopback
        ([169, 254, 0, 0], 16),  // link-local, includes 169.254.169.254 (cloud metadata)
        ([172, 16, 0, 0], 12),   // RFC 1918
        ([192, 0, 0, 0], 24),    // IETF protocol assignments
        ([192, 0, 2, 0], 24),    // TEST-NET-1
        ([192, 88, 99, 0], 24),  // 6to4 relay anycast (deprecated)
        ([192, 168, 0, 0], 16),  // RFC 1918
        ([198, 18, 0, 0], 15),   // benchmarking
        ([198, 51, 100, 0], 24), // TEST-NET-2
        ([203, 0, 113, 0], 24),  // TEST-NET-3
        ([224, 0, 0, 0], 4),     // multicast
        ([240, 0, 0, 0], 4),     // reserved, includes broadcast 255.255.255.255
    ];
    !BLOCKED.iter().any(|(net, p)| in_v4(ip, *net, *p))
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    (u128::from(ip) & mask) == (u128::from(net) & mask)
}

fn embedded_v4(bits: u128, shift: u32) -> Ipv4Addr {
    // Truncation to the 32 bits we want is the point of this cast.
    Ipv4Addr::from(((bits >> shift) & 0xffff_ffff) as u32)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let bits = u128::from(ip);
    if ip.is_unspecified() || ip.is_loopback() {
        return false;
    }
    // ::ffff:a.b.c.d (v4-mapped): judged as the IPv4 address it stands for.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    // ::a.b.c.d (deprecated v4-compatible) and ::ffff:0:a.b.c.d (SIIT v4-translated).
    if bits >> 32 == 0 || bits >> 32 == 0xffff_0000 {
        return is_public_v4(embedded_v4(bits, 0));
    }
    // 64:ff9b::/96, the NAT64 well-known prefix: the gateway would connect to the embedded v4.
    if in_v6(ip, Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96) {
        return is_public_v4(embedded_v4(bits, 0));
    }
    // 2002::/16, 6to4: the embedded v4 follows the prefix.
    if in_v6(ip, Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16) {
        return is_public_v4(embedded_v4(bits, 80));
    }
    const BLOCKED: &[(Ipv6Addr, u32)] = &[
        (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48), // local-use NAT64
        (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64),     // discard-only
        (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23), // IETF assignments: Teredo, benchmarking, ORCHID
        (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation
        (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20), // documentation (RFC 9637)
        (Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0), 16), // SRv6 SIDs
        (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),  // unique local (private)
        (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10), // link-local
        (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10), // site-local (deprecated)
        (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8),  // multicast
    ];
    !BLOCKED.iter().any(|(net, p)| in_v6(ip, *net, *p))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn public_table() {
        let public = [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.254",
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "2a00:1450:4001:80b::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:0808:0808::1",
        ];
        for s in public {
            assert!(is_public(ip(s)), "{s} should be public");
        }
        let private = [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
            "2001:2::1",
            "3fff::1",
            "100::1",
            "64:ff9b:1::1",
            // IPv4-mapped forms
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:192.168.0.1",
            "::ffff:100.64.0.1",
            "::ffff:0.0.0.0",
            "::ffff:255.255.255.255",
            // IPv4-compatible (deprecated) and SIIT forms
            "::127.0.0.1",
            "::10.0.0.1",
            "::169.254.169.254",
            "::ffff:0:10.0.0.1",
            // NAT64 well-known prefix
            "64:ff9b::127.0.0.1",
            "64:ff9b::10.1.2.3",
            "64:ff9b::169.254.169.254",
            "64:ff9b::192.168.0.1",
            // 6to4 of private space
            "2002:0a00:0001::1",
            "2002:7f00:0001::1",
            "2002:a9fe:a9fe::1",
        ];
        for s in private {
            assert!(!is_public(ip(s)), "{s} should not be public");
        }
    }

    #[test]
    fn policy_filters_every_address() {
        let addrs: Vec<SocketAddr> = [
            "10.0.0.1:993",
            "8.8.8.8:993",
            "[::1]:993",
            "[2001:4860::1]:993",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let (ok, refused) = AddressPolicy::PublicOnly.filter(&addrs);
        assert_eq!(ok, vec![addrs[1], addrs[3]]);
        assert_eq!(refused, vec![addrs[0], addrs[2]]);
        let (ok, refused) = AddressPolicy::AllowAll.filter(&addrs);
        assert_eq!(ok, addrs);
        assert!(refused.is_empty());
        assert_eq!(AddressPolicy::default(), AddressPolicy::PublicOnly);
    }

    #[tokio::test]
    async fn static_resolver() {
        let r = StaticResolver::new().with("Imap.Test", [ip("127.0.0.1"), ip("::1")]);
        let got = r.resolve("imap.test", 143).await.unwrap();
        assert_eq!(
            got,
            vec![
                "127.0.0.1:143".parse().unwrap(),
                "[::1]:143".parse().unwrap()
            ]
        );
        let err = r.resolve("other.test", 143).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert_eq!(
            r.resolve("10.1.2.3", 993).await.unwrap(),
            vec!["10.1.2.3:993".parse().unwrap()]
        );
        assert_eq!(
            r.resolve("[::1]", 993).await.unwrap(),
            vec!["[::1]:993".parse().unwrap()]
        );
    }

    #[tokio::test]
    async fn system_resolver_short_circuits_literals() {
        // Only literals here: tests never query real DNS.
        let got = SystemResolver.resolve("192.0.2.7", 143).await.unwrap();
        assert_eq!(got, vec!["192.0.2.7:143".parse().unwrap()]);
        let got = SystemResolver.resolve("::1", 143).await.unwrap();
        assert_eq!(got, vec!["[::1]:143".parse().unwrap()]);
    }
}
