//! What makes two accounts one mailbox, pure: the keys the store compares so that one source
//! mailbox has at most one active job and two jobs never write into one destination mailbox
//! at the same time, whatever names and ports the user typed.
//!
//! A mailbox is its login (normalized) at a server. Two accounts are the same mailbox when
//! they share any key:
//! - `login|p:<provider>` — the server is a provider's service (Gmail's and Microsoft's
//!   addresses rotate, so their names and addresses say nothing; the profile does);
//! - `login|n:<host>` — the host name, case-insensitive, without a trailing dot, in ASCII;
//! - `login|a:<ip>` — each address the host resolved to when the job was queued.
//!
//! The port is never part of a key: 993 and 143 of one server reach one mailbox. A caveat:
//! two servers behind one address (shared hosting) with the same login are treated as one
//! mailbox, which only ever makes a job wait or be refused, never copy twice.

use std::collections::BTreeSet;
use std::net::IpAddr;

use mailcopy::profile::Provider;

/// The login as the server's identity rules see it: trimmed, lower-cased; at Gmail an address
/// of `gmail.com` or `googlemail.com` is one account whatever dots its local part has.
pub fn normalized_login(login: &str, provider: Provider) -> String {
    let login = login.trim().to_lowercase();
    if provider != Provider::Gmail {
        return login;
    }
    // Gmail: dots in a consumer address's local part are ignored, googlemail.com is gmail.com.
    match login.rsplit_once('@') {
        Some((local, "gmail.com" | "googlemail.com")) => {
            format!("{}@gmail.com", local.replace('.', ""))
        }
        _ => login,
    }
}

/// The host name as a key: trimmed, without the trailing dot, lower-cased ASCII (IDNA);
/// an IP literal in its canonical form (IPv4-mapped IPv6 as IPv4, brackets dropped).
pub fn normalized_host(host: &str) -> String {
    let host = host.trim().trim_end_matches('.');
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return ip.to_canonical().to_string();
    }
    idna::domain_to_ascii(host).unwrap_or_else(|_| host.to_lowercase())
}

/// Every key of the mailbox `login` at `host`, given the addresses `host` resolved to (empty
/// when it was not resolved). Sorted, without repeats.
pub fn mailbox_keys(login: &str, host: &str, resolved: &[IpAddr]) -> Vec<String> {
    let provider = Provider::from_host(host);
    let login = normalized_login(login, provider);
    let mut keys = BTreeSet::new();
    match provider {
        Provider::Gmail => keys.insert(format!("{login}|p:gmail")),
        Provider::Microsoft => keys.insert(format!("{login}|p:microsoft")),
        Provider::Other => false,
    };
    let host = normalized_host(host);
    keys.insert(format!("{login}|n:{host}"));
    if let Ok(ip) = host.parse::<IpAddr>() {
        keys.insert(format!("{login}|a:{ip}"));
    }
    for ip in resolved {
        keys.insert(format!("{login}|a:{}", ip.to_canonical()));
    }
    keys.into_iter().collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn overlap(a: &[String], b: &[String]) -> bool {
        a.iter().any(|k| b.contains(k))
    }

    #[test]
    fn names_of_one_server_share_a_key_whatever_the_case_or_trailing_dot() {
        let a = mailbox_keys("Erin@Example.test", "Mail.Example.TEST.", &[]);
        let b = mailbox_keys(" erin@example.test", "mail.example.test", &[]);
        assert!(overlap(&a, &b), "{a:?} {b:?}");
    }

    #[test]
    fn an_alias_shares_a_key_through_any_resolved_address() {
        let literal = mailbox_keys("erin", "127.0.0.1", &ips(&["127.0.0.1"]));
        let name = mailbox_keys("erin", "localhost", &ips(&["::1", "127.0.0.1"]));
        assert!(overlap(&literal, &name));
        // An IP literal is its own address even when nothing was resolved.
        let unresolved = mailbox_keys("erin", "127.0.0.1", &[]);
        assert!(overlap(&unresolved, &name));
        // IPv4-mapped IPv6 is the IPv4 address; brackets are dropped.
        let mapped = mailbox_keys("erin", "[::ffff:127.0.0.1]", &[]);
        assert!(overlap(&mapped, &name), "{mapped:?}");
    }

    #[test]
    fn other_logins_or_servers_share_no_key() {
        let erin = mailbox_keys("erin", "mail.a.test", &ips(&["192.0.2.1"]));
        assert!(!overlap(
            &erin,
            &mailbox_keys("frank", "mail.a.test", &ips(&["192.0.2.1"]))
        ));
        assert!(!overlap(
            &erin,
            &mailbox_keys("erin", "mail.b.test", &ips(&["192.0.2.2"]))
        ));
    }

    #[test]
    fn a_provider_is_recognised_by_its_profile_not_its_rotating_addresses() {
        let a = mailbox_keys(
            "Jo.Smith@gmail.com",
            "imap.gmail.com",
            &ips(&["142.250.1.1"]),
        );
        let b = mailbox_keys(
            "josmith@googlemail.com",
            "imap.googlemail.com",
            &ips(&["142.250.9.9"]),
        );
        assert!(overlap(&a, &b), "{a:?} {b:?}");
        // Workspace addresses keep their dots: only consumer Gmail ignores them.
        let c = mailbox_keys("jo.smith@corp.example", "imap.gmail.com", &[]);
        let d = mailbox_keys("josmith@corp.example", "imap.gmail.com", &[]);
        assert!(!overlap(&c, &d));
        let m1 = mailbox_keys("ann@corp.example", "outlook.office365.com", &[]);
        let m2 = mailbox_keys("ANN@corp.example", "imap-mail.outlook.com", &[]);
        assert!(overlap(&m1, &m2));
    }

    #[test]
    fn unicode_host_names_become_ascii() {
        assert_eq!(
            normalized_host("Correo.Español.test."),
            "correo.xn--espaol-zwa.test"
        );
    }
}
