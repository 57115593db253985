//! Service presets: one table of data, shared by the server (validation) and the browser
//! (filling the form). Facts per provider from public provider documentation.

use serde::{Deserialize, Serialize};

/// Which step of the wizard lists a preset (the original guide lists different services for
/// the source and the destination).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sides {
    Source,
    Destination,
    Both,
}

/// Which account: the one copied from, or the one copied to (of a wizard draft and of a job).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Side {
    Source,
    Destination,
}

impl Side {
    pub const BOTH: [Side; 2] = [Side::Source, Side::Destination];

    pub fn as_str(self) -> &'static str {
        match self {
            Side::Source => "source",
            Side::Destination => "destination",
        }
    }
    pub fn parse(value: &str) -> Option<Side> {
        match value {
            "source" => Some(Side::Source),
            "destination" => Some(Side::Destination),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preset {
    /// Stable identifier used in forms and stored drafts.
    pub id: &'static str,
    /// Shown as is (brand names are not translated); `other` is translated by the UI.
    pub label: &'static str,
    /// Possible IMAP servers; the first is the default. Empty: the user types it.
    pub hosts: &'static [&'static str],
    /// Whether the user may (or must) type another host.
    pub host_editable: bool,
    /// Implicit TLS on 993 when true; STARTTLS on 143 when false.
    pub ssl: bool,
    /// Only OAuth2 sign-in works: passwords are refused by the provider.
    pub oauth_only: bool,
    /// What the provider requires, in English (provider facts, shown under the form).
    pub requirements: &'static str,
    pub sides: Sides,
}

impl Preset {
    pub fn listed_for(&self, side: Side) -> bool {
        matches!(
            (self.sides, side),
            (Sides::Both, _)
                | (Sides::Source, Side::Source)
                | (Sides::Destination, Side::Destination)
        )
    }
    pub fn default_host(&self) -> &'static str {
        self.hosts.first().copied().unwrap_or("")
    }
}

pub const OTHER: &str = "other";

/// Order: the original guide's lists first, then today's common providers, then "Other".
pub const PRESETS: &[Preset] = &[
    Preset {
        id: "gmail",
        label: "Gmail / Google Workspace",
        hosts: &["imap.gmail.com"],
        host_editable: false,
        ssl: true,
        oauth_only: false,
        requirements: "IMAP enabled in Gmail settings and an app password (needs 2-step verification). About 15 connections per account, about 500 MB uploaded per day, messages up to 35 MB.",
        sides: Sides::Both,
    },
    Preset {
        id: "hotmail",
        label: "Hotmail / Outlook.com",
        hosts: &["outlook.office365.com"],
        host_editable: false,
        ssl: true,
        oauth_only: true,
        requirements: "Microsoft accepts only OAuth2 sign-in for IMAP (basic authentication is off).",
        sides: Sides::Source,
    },
    Preset {
        id: "yahoo",
        label: "Yahoo",
        hosts: &["imap.mail.yahoo.com"],
        host_editable: false,
        ssl: true,
        oauth_only: false,
        requirements: "An app password generated in the Yahoo account security settings.",
        sides: Sides::Both,
    },
    Preset {
        id: "ovh-exchange-2013",
        label: "Hosted Exchange 2013 (OVH)",
        hosts: &["ex.mail.ovh.net", "ex2.mail.ovh.net", "ex3.mail.ovh.net", "ex4.mail.ovh.net", "ex.mail.ovh.ca"],
        host_editable: true,
        ssl: true,
        oauth_only: false,
        requirements: "The mailbox password. The server (ex, ex2… ex4.mail.ovh.net) is shown in the OVH control panel; if SSL on 993 fails, try STARTTLS on 143.",
        sides: Sides::Source,
    },
    Preset {
        id: "private-exchange-2013",
        label: "Private Exchange 2013",
        hosts: &[],
        host_editable: true,
        ssl: true,
        oauth_only: false,
        requirements: "The mailbox password and the name of your own Exchange server.",
        sides: Sides::Source,
    },
    Preset {
        id: "ovh-exchange-25gb",
        label: "Exchange 25 GB (OVH)",
        hosts: &["ex.mail.ovh.net", "ex2.mail.ovh.net", "ex3.mail.ovh.net", "ex4.mail.ovh.net", "ex.mail.ovh.ca"],
        host_editable: true,
        ssl: true,
        oauth_only: false,
        requirements: "The mailbox password. The server is shown in the OVH control panel.",
        sides: Sides::Destination,
    },
    Preset {
        id: "ovh-exchange-corporate",
        label: "Exchange Corporate (OVH)",
        hosts: &["ex.mail.ovh.net", "ex2.mail.ovh.net", "ex3.mail.ovh.net", "ex4.mail.ovh.net", "ex.mail.ovh.ca"],
        host_editable: true,
        ssl: true,
        oauth_only: false,
        requirements: "The mailbox password. The server is shown in the OVH control panel.",
        sides: Sides::Destination,
    },
    Preset {
        id: "ovh-exchange-reseller",
        label: "Exchange Reseller (OVH)",
        hosts: &["ex.mail.ovh.net", "ex2.mail.ovh.net", "ex3.mail.ovh.net", "ex4.mail.ovh.net", "ex.mail.ovh.ca"],
        host_editable: true,
        ssl: true,
        oauth_only: false,
        requirements: "The mailbox password. The server is shown in the OVH control panel.",
        sides: Sides::Destination,
    },
    Preset {
        id: "ovh-shared",
        label: "OVH shared hosting",
        hosts: &["ssl0.ovh.net"],
        host_editable: false,
        ssl: true,
        oauth_only: false,
        requirements: "The mailbox password; the login is the full address.",
        sides: Sides::Both,
    },
    Preset {
        id: "microsoft-365",
        label: "Microsoft 365",
        hosts: &["outlook.office365.com"],
        host_editable: false,
        ssl: true,
        oauth_only: true,
        requirements: "Microsoft accepts only OAuth2 sign-in for IMAP (basic authentication is off).",
        sides: Sides::Both,
    },
    Preset {
        id: "icloud",
        label: "iCloud",
        hosts: &["imap.mail.me.com"],
        host_editable: false,
        ssl: true,
        oauth_only: false,
        requirements: "An app-specific password from the Apple ID settings; few connections are allowed at once.",
        sides: Sides::Both,
    },
    Preset {
        id: "aol",
        label: "AOL",
        hosts: &["export.imap.aol.com", "imap.aol.com"],
        host_editable: false,
        ssl: true,
        oauth_only: false,
        requirements: "An app password. export.imap.aol.com reads whole accounts; messages up to 25 MB.",
        sides: Sides::Both,
    },
    Preset {
        id: "fastmail",
        label: "Fastmail",
        hosts: &["imap.fastmail.com"],
        host_editable: false,
        ssl: true,
        oauth_only: false,
        requirements: "An app password; implicit TLS only.",
        sides: Sides::Both,
    },
    Preset {
        id: "zoho",
        label: "Zoho Mail",
        hosts: &["imap.zoho.com", "imappro.zoho.com"],
        host_editable: false,
        ssl: true,
        oauth_only: false,
        requirements: "IMAP enabled in Zoho settings; the password, or an app password with two-factor sign-in. imappro.zoho.com for organisations.",
        sides: Sides::Both,
    },
    Preset {
        id: "ionos",
        label: "IONOS",
        hosts: &["imap.ionos.com", "imap.ionos.de", "imap.ionos.fr", "imap.ionos.co.uk"],
        host_editable: false,
        ssl: true,
        oauth_only: false,
        requirements: "The mailbox password; TLS 1.2 or newer.",
        sides: Sides::Both,
    },
    Preset {
        id: "gmx",
        label: "GMX",
        hosts: &["imap.gmx.net", "imap.gmx.com"],
        host_editable: false,
        ssl: true,
        oauth_only: false,
        requirements: "IMAP enabled in the GMX settings (imap.gmx.com for gmx.com addresses).",
        sides: Sides::Both,
    },
    Preset {
        id: "ovh-email-pro",
        label: "OVH Email Pro",
        hosts: &["pro1.mail.ovh.net", "pro2.mail.ovh.net", "pro3.mail.ovh.net"],
        host_editable: true,
        ssl: true,
        oauth_only: false,
        requirements: "The mailbox password. The server (proN.mail.ovh.net) is shown in the OVH control panel.",
        sides: Sides::Both,
    },
    Preset {
        id: OTHER,
        label: "Other",
        hosts: &[],
        host_editable: true,
        ssl: true,
        oauth_only: false,
        requirements: "",
        sides: Sides::Both,
    },
];

pub fn find(id: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.id == id)
}

pub fn for_side(side: Side) -> impl Iterator<Item = &'static Preset> {
    PRESETS.iter().filter(move |p| p.listed_for(side))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_source_list_is_offered() {
        let ids: Vec<_> = for_side(Side::Source).map(|p| p.id).collect();
        for id in [
            "gmail",
            "hotmail",
            "yahoo",
            "ovh-exchange-2013",
            "private-exchange-2013",
            "ovh-shared",
            OTHER,
        ] {
            assert!(ids.contains(&id), "{id} missing from the source list");
        }
    }

    #[test]
    fn seed_destination_list_is_offered() {
        let ids: Vec<_> = for_side(Side::Destination).map(|p| p.id).collect();
        for id in [
            "ovh-exchange-25gb",
            "ovh-exchange-corporate",
            "ovh-exchange-reseller",
            "ovh-shared",
            OTHER,
        ] {
            assert!(ids.contains(&id), "{id} missing from the destination list");
        }
    }

    #[test]
    fn ids_are_unique_and_fixed_hosts_exist() {
        for (i, a) in PRESETS.iter().enumerate() {
            assert!(
                PRESETS[i + 1..].iter().all(|b| b.id != a.id),
                "duplicate {}",
                a.id
            );
            assert!(
                a.host_editable || !a.hosts.is_empty(),
                "{} has no host",
                a.id
            );
        }
    }
}
