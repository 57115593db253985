//! Provider profiles, as data: which provider a server is (from its host name, greeting and
//! capabilities — so "Other" finds Gmail and Microsoft too) and what that means for the plan.
//! Pure.

use std::collections::BTreeSet;

/// The providers whose servers need their own rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Provider {
    Gmail,
    /// Microsoft 365 / Exchange Online, Outlook.com / Hotmail, on-premises Exchange.
    Microsoft,
    Other,
}

/// A megabyte as providers count their daily volumes (decimal).
pub const MB: u64 = 1_000_000;

/// One provider's limits per account, as data. `None`: no such limit is known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Simultaneous IMAP connections one account may have.
    pub connections_per_account: Option<usize>,
    /// The largest message it stores, in octets, when the server does not say (APPENDLIMIT).
    pub max_message_size: Option<u64>,
    /// Octets a day that may be read from one account over IMAP.
    pub daily_download: Option<u64>,
    /// Octets a day that may be written into one account over IMAP.
    pub daily_upload: Option<u64>,
    /// An APPEND of a message whose Message-ID the account already holds adds nothing: the
    /// account keeps one message per Message-ID (Gmail), so such messages count as present.
    pub merges_by_message_id: bool,
}

/// The daily volumes the copy keeps under, per provider: the profiles' numbers unless the
/// operator set others (a Workspace domain with other limits, a test).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DailyVolumes {
    /// Octets a day read from a Gmail source.
    pub gmail_download: u64,
    /// Octets a day written into a Gmail destination.
    pub gmail_upload: u64,
}

impl Default for DailyVolumes {
    fn default() -> Self {
        let gmail = Provider::Gmail.limits();
        DailyVolumes {
            gmail_download: gmail.daily_download.unwrap_or(u64::MAX),
            gmail_upload: gmail.daily_upload.unwrap_or(u64::MAX),
        }
    }
}

/// Which side's daily volume bounds a copy, and how large it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyVolume {
    /// Octets a day.
    pub bytes: u64,
    /// The provider whose limit it is.
    pub provider: Provider,
    /// True: the destination's upload limit; false: the source's download limit.
    pub upload: bool,
}

impl DailyVolumes {
    /// The smaller of the source's download and the destination's upload volume, if either
    /// provider has one.
    pub fn for_copy(&self, source: Provider, destination: Provider) -> Option<DailyVolume> {
        let download = (source == Provider::Gmail).then_some(DailyVolume {
            bytes: self.gmail_download,
            provider: source,
            upload: false,
        });
        let upload = (destination == Provider::Gmail).then_some(DailyVolume {
            bytes: self.gmail_upload,
            provider: destination,
            upload: true,
        });
        [download, upload]
            .into_iter()
            .flatten()
            .min_by_key(|v| v.bytes)
    }
}

/// Days a copy of `bytes` takes at `per_day` octets a day (at least 1; 0 bytes: 0 days).
pub fn days_for(bytes: u64, per_day: u64) -> u64 {
    if bytes == 0 {
        0
    } else {
        bytes.div_ceil(per_day.max(1))
    }
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

    /// What the provider allows one account: the profile's numbers (see [`Limits`]).
    pub fn limits(self) -> Limits {
        match self {
            // Gmail: about 15 simultaneous IMAP connections per account; Google's published
            // Workspace bandwidth limits are 2,500 MB a day downloaded over IMAP and 500 MB a
            // day uploaded (some free accounts are stricter; the daily-limit answer then
            // pauses the job anyway). No size cap of its own beyond APPENDLIMIT.
            Provider::Gmail => Limits {
                connections_per_account: Some(15),
                max_message_size: None,
                daily_download: Some(2_500 * MB),
                daily_upload: Some(500 * MB),
                merges_by_message_id: true,
            },
            // Exchange and Exchange Online: 16 IMAP connections per user by default
            // (MaxConnectionsPerUser); messages up to 150 MB, the most a tenant can allow
            // (35 MB by default: between the two the APPEND is tried, and a refusal is listed
            // too). Throttling rather than daily volumes ("Request is throttled").
            Provider::Microsoft => Limits {
                connections_per_account: Some(16),
                max_message_size: Some(150 * 1024 * 1024),
                daily_download: None,
                daily_upload: None,
                merges_by_message_id: false,
            },
            Provider::Other => Limits::default(),
        }
    }

    /// The largest message the provider ever stores, when it is known and the server does
    /// not say (no APPENDLIMIT): larger ones are listed as too large without being fetched.
    pub fn max_message_size(self) -> Option<u64> {
        self.limits().max_message_size
    }

    /// The provider's name as people know it (`None` for other servers).
    pub fn name(self) -> Option<&'static str> {
        match self {
            Provider::Gmail => Some("Gmail"),
            Provider::Microsoft => Some("Microsoft"),
            Provider::Other => None,
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
        assert_eq!(Provider::Gmail.limits().connections_per_account, Some(15));
        assert_eq!(
            Provider::Microsoft.limits().connections_per_account,
            Some(16)
        );
        assert_eq!(Provider::Other.limits(), Limits::default());
        assert_eq!(Provider::Other.max_message_size(), None);
        assert!(Provider::Other.non_mail_folders().is_empty());
    }

    #[test]
    fn the_smaller_daily_volume_of_the_two_sides_bounds_a_copy() {
        let v = DailyVolumes::default();
        use Provider::*;
        assert_eq!(v.for_copy(Other, Other), None);
        assert_eq!(v.for_copy(Microsoft, Other), None);
        let download = v.for_copy(Gmail, Other).unwrap();
        assert_eq!((download.bytes, download.upload), (2_500 * MB, false));
        let upload = v.for_copy(Other, Gmail).unwrap();
        assert_eq!((upload.bytes, upload.upload), (500 * MB, true));
        assert_eq!(v.for_copy(Gmail, Gmail).unwrap().bytes, 500 * MB);
        let odd = DailyVolumes {
            gmail_download: 100,
            gmail_upload: 200,
        };
        assert!(!odd.for_copy(Gmail, Gmail).unwrap().upload);
    }

    #[test]
    fn days_are_rounded_up() {
        // The example: 10 GB into Gmail at 500 MB a day.
        assert_eq!(days_for(10_000 * MB, 500 * MB), 20);
        assert_eq!(days_for(10_000 * MB + 1, 500 * MB), 21);
        assert_eq!(days_for(1, 500 * MB), 1);
        assert_eq!(days_for(0, 500 * MB), 0);
        assert_eq!(days_for(5, 0), 5);
    }
}
