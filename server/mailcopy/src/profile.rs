//! Provider profiles, as data: which provider a server is (from its host name, greeting and
//! capabilities — so "Other" finds Gmail and Microsoft too) and what that means for the plan.
//! Pure.

use std::collections::BTreeSet;

/// The providers whose servers need their own rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Gmail,
    /// Microsoft 365 / Exchange Online, Outlook.com / Hotmail, on-premises Exchange.
    Microsoft,
    Other,
}

/// Host names (or their suffixes after a dot) of each provider's IMAP service.
const GMAIL_HOSTS: &[&str] = &["gmail.com", "googlemail.com"];
const MICROSOFT_HOSTS: &[&str] = &["outlook.office365.com", "outlook.com", "office365.com"];

fn host_is(host: &str, names: &[&str]) -> bool {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    names
        .iter()
        .any(|n| host == *n || host.ends_with(&format!(".{n}")))
}

impl Provider {
    /// The provider whose IMAP service `host` names (or a subdomain of it), else `Other`.
    pub fn from_host(host: &str) -> Provider {
        if host_is(host, GMAIL_HOSTS) {
            Provider::Gmail
        } else if host_is(host, MICROSOFT_HOSTS) {
            Provider::Microsoft
        } else {
            Provider::Other
        }
    }

    /// Gmail offers `X-GM-EXT-1`; Exchange greets with "Microsoft Exchange"; else the host.
    pub fn detect(host: &str, greeting: &str, capabilities: &[String]) -> Provider {
        if capabilities
            .iter()
            .any(|c| c.eq_ignore_ascii_case("X-GM-EXT-1"))
            || host_is(host, GMAIL_HOSTS)
        {
            return Provider::Gmail;
        }
        // Exchange and Exchange Online: "* OK The Microsoft Exchange IMAP4 service is ready."
        if greeting.to_ascii_lowercase().contains("microsoft exchange")
            || host_is(host, MICROSOFT_HOSTS)
        {
            return Provider::Microsoft;
        }
        Provider::Other
    }

    /// The largest message the provider ever stores, when it is known and the server does
    /// not say (no APPENDLIMIT): larger ones are listed as too large without being fetched.
    /// Microsoft: 150 MB, the most a tenant can allow (35 MB by default: between the two the
    /// APPEND is tried, and a refusal is listed too).
    pub fn max_message_size(self) -> Option<u64> {
        match self {
            Provider::Microsoft => Some(150 * 1024 * 1024),
            Provider::Gmail | Provider::Other => None,
        }
    }

    /// Top-level folders that hold no mail on this provider (lowercase; each with its
    /// subfolders): Microsoft lists its calendars, contacts, tasks, notes, Skype history and
    /// sync logs over IMAP, under English or localized names (Spanish, French, German).
    pub fn non_mail_folders(self) -> BTreeSet<String> {
        let names: &[&str] = match self {
            Provider::Microsoft => &[
                "calendar",
                "contacts",
                "tasks",
                "journal",
                "notes",
                "conversation history",
                "sync issues",
                "outbox",
                "calendario",
                "contactos",
                "tareas",
                "diario",
                "notas",
                "historial de conversaciones",
                "problemas de sincronización",
                "bandeja de salida",
                "calendrier",
                "tâches",
                "historique des conversations",
                "problèmes de synchronisation",
                "boîte d'envoi",
                "kalender",
                "kontakte",
                "aufgaben",
                "notizen",
                "unterhaltungsverlauf",
                "synchronisierungsprobleme",
                "postausgang",
            ],
            Provider::Gmail | Provider::Other => &[],
        };
        names.iter().map(|n| n.to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_from_capabilities_greeting_or_host() {
        let caps = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            Provider::detect(
                "imap.example.org",
                "ready",
                &caps(&["IMAP4rev1", "X-GM-EXT-1"])
            ),
            Provider::Gmail
        );
        assert_eq!(
            Provider::detect("IMAP.Gmail.com.", "", &[]),
            Provider::Gmail
        );
        assert_eq!(
            Provider::detect(
                "mail.corp.example",
                "The Microsoft Exchange IMAP4 service is ready. [TQBOADIAUABSADAA]",
                &[]
            ),
            Provider::Microsoft
        );
        assert_eq!(
            Provider::detect("outlook.office365.com", "", &[]),
            Provider::Microsoft
        );
        assert_eq!(
            Provider::detect("imap-mail.outlook.com", "", &[]),
            Provider::Microsoft
        );
        assert_eq!(
            Provider::detect("notoutlook.com.example", "Dovecot ready.", &[]),
            Provider::Other
        );
    }

    #[test]
    fn only_microsoft_has_non_mail_folders() {
        let m = Provider::Microsoft.non_mail_folders();
        for name in ["calendar", "sync issues", "kalender", "boîte d'envoi"] {
            assert!(m.contains(name), "{name}");
        }
        assert!(m.iter().all(|n| n.to_lowercase() == *n));
        assert!(Provider::Gmail.non_mail_folders().is_empty());
        assert_eq!(Provider::Microsoft.max_message_size(), Some(157_286_400));
        assert_eq!(Provider::Other.max_message_size(), None);
        assert!(Provider::Other.non_mail_folders().is_empty());
    }
}
