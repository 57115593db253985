//! The public lookup's rule (pure): what a typed query finds. The store only fetches
//! candidates ([`JobStore::sources_with_login`](super::JobStore::sources_with_login)); which
//! of them is found is decided here.
//!
//! A query is an address (`support@ovh.net`) or a bare login (`support`). An address finds
//! the job whose source address equals it; else a job whose login has no `@`, equals the
//! query's local part, and whose host is the query's *registrable domain* (from the Public
//! Suffix List) or a subdomain of it: `support@ovh.net` and `support@mail.ovh.net` both find
//! login `support` at `ssl0.ovh.net` (registrable domain `ovh.net`), `support@net` finds
//! nothing (`net` is a public suffix: there is no registrable domain), and a host that is an
//! IP address is found by the exact address only. Among several such jobs the newest wins.
//! A bare login finds a job only when exactly one source mailbox with that login had a job
//! in the last [`BARE_LOGIN_RECENT_MS`]; more than one is [`Decision::Ambiguous`] (the page
//! asks for the full address). Case, surrounding blanks and a trailing dot of a domain do not
//! matter; Unicode domains are compared in their ASCII (punycode) form.

use std::collections::BTreeSet;

use super::store_trait::source_address;

/// How far back a bare login looks: jobs created in the last 30 days.
pub const BARE_LOGIN_RECENT_MS: i64 = 30 * 24 * 3600 * 1000;

/// At most this many candidate jobs are read for one query (a stranger's lookup must not
/// make the store scan the table).
pub const MAX_CANDIDATES: usize = 200;

/// What was typed, normalized: trimmed, lower-cased, without a trailing dot on the domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    /// `local@domain` (split at the last `@`).
    Address { local: String, domain: String },
    /// A user name without `@`.
    BareLogin(String),
}

impl Query {
    /// None for what cannot find anything: empty text, an empty local part or domain.
    pub fn parse(text: &str) -> Option<Query> {
        let text = text.trim().to_lowercase();
        match text.rsplit_once('@') {
            Some((local, domain)) => {
                let domain = domain.strip_suffix('.').unwrap_or(domain);
                (!local.is_empty() && !domain.is_empty()).then(|| Query::Address {
                    local: local.to_string(),
                    domain: domain.to_string(),
                })
            }
            None => (!text.is_empty()).then_some(Query::BareLogin(text)),
        }
    }

    /// The source address an address query equals (`local@domain`); None for a bare login.
    pub fn address(&self) -> Option<String> {
        match self {
            Query::Address { local, domain } => Some(format!("{local}@{domain}")),
            Query::BareLogin(_) => None,
        }
    }

    /// The login (lower-cased) whose jobs are the candidates: the local part of an address,
    /// or the bare login. None when no login can match beyond the exact address: a local
    /// part with `@` in it, or a domain without a registrable domain.
    pub fn candidate_login(&self) -> Option<&str> {
        match self {
            Query::Address { local, domain } => (!local.contains('@')
                && registrable_domain(domain).is_some())
            .then_some(local.as_str()),
            Query::BareLogin(login) => Some(login),
        }
    }
}

/// A candidate job as the store returns it: just what the rule needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceRow {
    pub id: String,
    pub login: String,
    pub host: String,
    /// `source_address(login, host)` as stored.
    pub address: String,
    pub created_at: i64,
}

/// What a lookup found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The job with this id.
    Found(String),
    NotFound,
    /// A bare login used by more than one mailbox: the full address is needed.
    Ambiguous,
}

/// Whether a job whose source is `login` at `host` matches `query` (the rule of the module
/// documentation, without the recency of bare logins, which the store's query applies).
pub fn matches(query: &Query, login: &str, host: &str) -> bool {
    let login = login.trim().to_lowercase();
    match query {
        Query::Address { local, domain } => {
            let host = normalize_domain(host);
            if source_address(&login, &host) == format!("{local}@{domain}") {
                return true;
            }
            if login.contains('@') || login != *local || is_address_literal(&host) {
                return false;
            }
            let Some(registrable) = registrable_domain(domain) else {
                return false;
            };
            let host = ascii(&host);
            host == registrable
                || host
                    .strip_suffix(registrable.as_str())
                    .is_some_and(|rest| rest.ends_with('.'))
        }
        Query::BareLogin(bare) => login == *bare,
    }
}

/// Which of `candidates` (newest first, already bounded) `query` finds.
pub fn decide(query: &Query, candidates: &[SourceRow]) -> Decision {
    let mut matching = candidates
        .iter()
        .filter(|row| matches(query, &row.login, &row.host));
    match query {
        Query::Address { .. } => matching
            .next()
            .map_or(Decision::NotFound, |row| Decision::Found(row.id.clone())),
        Query::BareLogin(_) => {
            let rows: Vec<&SourceRow> = matching.collect();
            let mailboxes: BTreeSet<&str> = rows.iter().map(|row| row.address.as_str()).collect();
            match (mailboxes.len(), rows.first()) {
                (1, Some(newest)) => Decision::Found(newest.id.clone()),
                (0, _) | (_, None) => Decision::NotFound,
                _ => Decision::Ambiguous,
            }
        }
    }
}

/// The registrable domain of `domain` (ASCII, lower-case) by the Public Suffix List: None for
/// a public suffix itself (`net`, `co.uk`), an IP address, or what is not a domain name.
pub fn registrable_domain(domain: &str) -> Option<String> {
    let domain = ascii(&normalize_domain(domain));
    if domain.is_empty() || is_address_literal(&domain) {
        return None;
    }
    psl::domain_str(&domain).map(str::to_string)
}

/// Lower-case, blanks and one trailing dot removed.
fn normalize_domain(domain: &str) -> String {
    let domain = domain.trim().to_lowercase();
    domain.strip_suffix('.').unwrap_or(&domain).to_string()
}

/// The ASCII (punycode) form of a domain name; the name itself when it has none.
fn ascii(domain: &str) -> String {
    idna::domain_to_ascii(domain).unwrap_or_else(|_| domain.to_string())
}

/// An IP address (`192.0.2.7`, `[2001:db8::1]`, `::1`), or a name whose last label is all
/// digits (no top-level domain is; the list's default rule would take `1.10` for a domain).
fn is_address_literal(host: &str) -> bool {
    host.contains(':')
        || host.starts_with('[')
        || host
            .rsplit('.')
            .next()
            .is_some_and(|tld| !tld.is_empty() && tld.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Query {
        Query::parse(text).unwrap()
    }

    #[test]
    fn queries_are_normalized_and_empty_parts_rejected() {
        assert_eq!(
            q("  Support@OVH.net. "),
            Query::Address {
                local: "support".into(),
                domain: "ovh.net".into()
            }
        );
        assert_eq!(q(" Support "), Query::BareLogin("support".into()));
        assert_eq!(
            q("a@b@example.org"),
            Query::Address {
                local: "a@b".into(),
                domain: "example.org".into()
            }
        );
        for nothing in ["", "   ", "@ovh.net", "support@", "support@.", "@"] {
            assert_eq!(Query::parse(nothing), None, "{nothing:?}");
        }
        assert_eq!(
            q("Bob@Example.COM").address().as_deref(),
            Some("bob@example.com")
        );
        assert_eq!(q("bob").address(), None);
    }

    #[test]
    fn registrable_domains_come_from_the_public_suffix_list() {
        let reg = |d: &str| registrable_domain(d);
        assert_eq!(reg("ovh.net").as_deref(), Some("ovh.net"));
        assert_eq!(reg("mail.ovh.net").as_deref(), Some("ovh.net"));
        assert_eq!(reg("SSL0.OVH.NET.").as_deref(), Some("ovh.net"));
        assert_eq!(reg("imap.example.co.uk").as_deref(), Some("example.co.uk"));
        for none in [
            "net",
            "co.uk",
            "github.io",
            "localhost",
            "192.0.2.7",
            "1.10",
            "[::1]",
            "::1",
        ] {
            assert_eq!(reg(none), None, "{none}");
        }
        // Unicode names in their ASCII form.
        assert_eq!(reg("mail.bücher.de").as_deref(), Some("xn--bcher-kva.de"));
    }

    #[test]
    fn an_address_finds_its_login_at_any_host_of_its_registrable_domain() {
        let support = q("support@ovh.net");
        assert!(matches(&support, "support", "ssl0.ovh.net"));
        assert!(matches(&support, "support", "ovh.net"));
        assert!(matches(&support, "Support", "SSL0.OVH.NET."));
        // "its" registrable domain: a query at another host of the same domain finds it too.
        assert!(matches(
            &q("support@mail.ovh.net"),
            "support",
            "ssl0.ovh.net"
        ));
        assert!(!matches(&support, "support", "ssl0.ovh.com"));
        assert!(!matches(&support, "support", "notovh.net"));
        assert!(!matches(&support, "support", "ovh.net.example.org"));
        assert!(!matches(&support, "sales", "ssl0.ovh.net"));
        // A public suffix has no registrable domain: nothing beyond the exact address.
        let bare_tld = q("support@net");
        assert!(!matches(&bare_tld, "support", "ssl0.ovh.net"));
        assert!(matches(&bare_tld, "support", "net"));
        assert_eq!(bare_tld.candidate_login(), None);
        assert_eq!(support.candidate_login(), Some("support"));
    }

    #[test]
    fn an_address_finds_a_login_that_is_that_address_exactly() {
        let alice = q("Alice@Example.com");
        assert!(matches(&alice, "alice@example.com", "imap.example.com"));
        assert!(matches(&alice, "ALICE@example.com", "anywhere.test"));
        // A login that is another address is not found through the domain rule.
        assert!(!matches(
            &q("alice@example.net"),
            "alice@example.com",
            "imap.example.net"
        ));
        assert!(matches(
            &q("support@ssl0.ovh.net"),
            "support",
            "ssl0.ovh.net"
        ));
    }

    #[test]
    fn ip_hosts_are_found_by_the_exact_address_only() {
        assert!(matches(&q("bob@192.0.2.7"), "bob", "192.0.2.7"));
        assert!(!matches(&q("bob@2.7"), "bob", "192.0.2.7"));
        assert!(!matches(&q("bob@1.10"), "bob", "192.168.1.10"));
        assert_eq!(q("bob@192.0.2.7").candidate_login(), None);
        assert!(matches(&q("bob@[2001:db8::1]"), "bob", "[2001:db8::1]"));
    }

    #[test]
    fn unicode_domains_match_their_punycode_hosts() {
        let query = q("Jürgen@Bücher.de");
        assert!(matches(&query, "jürgen", "imap.xn--bcher-kva.de"));
        assert!(matches(&query, "JÜRGEN", "mail.bücher.de"));
        assert!(matches(
            &q("jürgen@xn--bcher-kva.de"),
            "jürgen",
            "imap.bücher.de"
        ));
    }

    #[test]
    fn a_bare_login_matches_that_login_only() {
        let bob = q("Bob");
        assert!(matches(&bob, "bob", "imap.example.org"));
        assert!(matches(&bob, " BOB ", "192.0.2.7"));
        assert!(!matches(&bob, "bob@example.org", "imap.example.org"));
        assert!(!matches(&bob, "bobby", "imap.example.org"));
    }

    fn row(id: &str, login: &str, host: &str) -> SourceRow {
        SourceRow {
            id: id.into(),
            login: login.into(),
            host: host.into(),
            address: source_address(login, host),
            created_at: 0,
        }
    }

    #[test]
    fn a_bare_login_decides_only_for_one_mailbox() {
        let one = [
            row("new", "bob", "imap.example.org"),
            row("old", "Bob", "IMAP.example.org"),
        ];
        assert_eq!(decide(&q("bob"), &one), Decision::Found("new".into()));
        let two = [
            row("a", "support", "ssl0.ovh.net"),
            row("b", "support", "mail.example.org"),
        ];
        assert_eq!(decide(&q("support"), &two), Decision::Ambiguous);
        assert_eq!(decide(&q("carol"), &two), Decision::NotFound);
        assert_eq!(decide(&q("support"), &[]), Decision::NotFound);
    }

    #[test]
    fn an_address_decides_for_the_newest_match() {
        let rows = [
            row("other", "support", "mail.example.org"),
            row("newest", "support", "ssl0.ovh.net"),
            row("older", "support", "mx.ovh.net"),
        ];
        assert_eq!(
            decide(&q("support@ovh.net"), &rows),
            Decision::Found("newest".into())
        );
        assert_eq!(
            decide(&q("support@example.org"), &rows),
            Decision::Found("other".into())
        );
        assert_eq!(decide(&q("support@net"), &rows), Decision::NotFound);
    }
}
