//! Validation of the posted account form: a pure function from what the browser sent to either
//! a connectable account or the errors to show next to each field.

use app::i18n::T;
use app::model::{AccountForm, Field, FieldError};
use app::presets::{self, Side};
use mailcopy::{Endpoint, Security};

pub const MAX_LOGIN: usize = 320;
pub const MAX_PASSWORD: usize = 1024;
pub const MAX_HOST: usize = 253;

/// A form that passed validation. The password may be empty when the draft already holds one.
#[derive(Debug)]
pub struct ValidForm {
    pub side: Side,
    pub preset: &'static presets::Preset,
    pub login: String,
    pub endpoint: Endpoint,
}

/// The form values to show again after a failed validation (normalised where possible).
pub fn echo(form: &AccountForm) -> (String, String, String, bool) {
    let clip = |s: &str, n: usize| s.trim().chars().take(n).collect::<String>();
    (
        clip(&form.preset, 64),
        clip(&form.login, MAX_LOGIN),
        clip(&form.host, MAX_HOST + 6),
        form.ssl.is_some(),
    )
}

pub fn parse_side(form: &AccountForm) -> Option<Side> {
    Side::parse(form.side.trim())
}

pub fn validate(side: Side, form: &AccountForm) -> Result<ValidForm, Vec<FieldError>> {
    validate_with(side, form, true)
}

/// [`validate`] for "Sign in with …": the login may be empty (the provider names the account).
pub fn validate_sign_in(side: Side, form: &AccountForm) -> Result<ValidForm, Vec<FieldError>> {
    validate_with(side, form, false)
}

fn validate_with(
    side: Side,
    form: &AccountForm,
    login_required: bool,
) -> Result<ValidForm, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut err = |field, message| errors.push(FieldError { field, message });

    let preset = presets::find(form.preset.trim()).filter(|p| p.listed_for(side));
    if preset.is_none() {
        err(Field::Preset, T::FieldUnknownPreset);
    }

    let login = form.login.trim();
    if login.is_empty() {
        if login_required {
            err(Field::Login, T::FieldRequired);
        }
    } else if login.chars().count() > MAX_LOGIN {
        err(Field::Login, T::FieldTooLong);
    } else if login.chars().any(char::is_control) {
        err(Field::Login, T::FieldControlChars);
    }

    // Passwords are taken as typed (spaces included). NUL, CR and LF cannot travel in IMAP
    // LOGIN strings and are never part of a real password.
    if form.password.chars().count() > MAX_PASSWORD {
        err(Field::Password, T::FieldTooLong);
    } else if form.password.contains(['\0', '\r', '\n']) {
        err(Field::Password, T::FieldControlChars);
    }

    let (host, port) = split_port(form.host.trim());
    let mut host = host.trim_end_matches('.').to_ascii_lowercase();
    let mut port = port;
    if let Some(p) = preset {
        let fixed = !p.host_editable && !p.hosts.contains(&host.as_str());
        if host.is_empty() || fixed {
            host = p.default_host().to_string();
            port = Ok(None);
        }
    }
    let port_field = form.port.trim();
    if !port_field.is_empty() {
        port = match port_field.parse::<u16>() {
            Ok(p) if p > 0 => Ok(Some(p)),
            _ => {
                err(Field::Port, T::FieldInvalidPort);
                Ok(None)
            }
        };
    }
    if port.is_err() {
        err(Field::Host, T::FieldInvalidPort);
    } else if host.is_empty() {
        err(Field::Host, T::FieldRequired);
    } else if host.len() > MAX_HOST {
        err(Field::Host, T::FieldTooLong);
    } else if host.chars().any(char::is_control) {
        err(Field::Host, T::FieldControlChars);
    } else if !is_valid_host(&host) {
        err(Field::Host, T::FieldInvalidHost);
    }

    match preset {
        Some(preset) if errors.is_empty() => {
            let security = if form.ssl.is_some() {
                Security::Tls
            } else {
                Security::StartTls
            };
            let host = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let port = port.ok().flatten().unwrap_or(security.default_port());
            Ok(ValidForm {
                side,
                preset,
                login: login.to_string(),
                endpoint: Endpoint::new(host, port, security),
            })
        }
        _ => Err(errors),
    }
}

/// The server field as shown back to the user: `host`, or `host:port` for a non-default port.
pub fn display_host(endpoint: &Endpoint) -> String {
    if endpoint.port == endpoint.security.default_port() {
        endpoint.host.clone()
    } else if endpoint.host.contains(':') {
        format!("[{}]:{}", endpoint.host, endpoint.port)
    } else {
        format!("{}:{}", endpoint.host, endpoint.port)
    }
}

/// Splits an optional `:port` off the server field (`host:993`, `[::1]:993`); a bare IPv6
/// address has no port. `Err` when a port is given but is not 1–65535.
pub fn split_port(value: &str) -> (String, Result<Option<u16>, ()>) {
    let parse = |p: &str| p.parse::<u16>().ok().filter(|p| *p > 0).map(Some).ok_or(());
    if let Some(rest) = value.strip_prefix('[') {
        if let Some((inside, after)) = rest.split_once(']') {
            return match after.strip_prefix(':') {
                Some(port) => (inside.to_string(), parse(port)),
                None if after.is_empty() => (inside.to_string(), Ok(None)),
                None => (value.to_string(), Err(())),
            };
        }
    }
    match value.split_once(':') {
        Some((host, port)) if !port.contains(':') => (host.to_string(), parse(port)),
        _ => (value.to_string(), Ok(None)),
    }
}

/// A DNS name (LDH labels) or an IP literal (IPv6 optionally in brackets).
pub fn is_valid_host(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    if host.len() > MAX_HOST || !host.contains(|c: char| c.is_ascii_alphabetic()) {
        return false;
    }
    host.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(preset: &str, login: &str, password: &str, host: &str, ssl: bool) -> AccountForm {
        AccountForm {
            side: "source".into(),
            preset: preset.into(),
            login: login.into(),
            password: password.into(),
            host: host.into(),
            ssl: ssl.then(|| "on".to_string()),
            ..AccountForm::default()
        }
    }

    fn fields(errors: Vec<FieldError>) -> Vec<(Field, T)> {
        errors.into_iter().map(|e| (e.field, e.message)).collect()
    }

    #[test]
    fn valid_other_account_with_ssl_uses_993() {
        let v = validate(
            Side::Source,
            &form("other", " a@b.test ", "pw", "IMAP.Example.COM.", true),
        )
        .unwrap();
        assert_eq!(v.login, "a@b.test");
        assert_eq!(
            v.endpoint,
            Endpoint::new("imap.example.com", 993, Security::Tls)
        );
    }

    #[test]
    fn unticked_ssl_means_starttls_on_143() {
        let v = validate(Side::Source, &form("other", "a", "pw", "127.0.0.1", false)).unwrap();
        assert_eq!(
            v.endpoint,
            Endpoint::new("127.0.0.1", 143, Security::StartTls)
        );
    }

    #[test]
    fn preset_fills_and_pins_its_host() {
        let v = validate(Side::Source, &form("gmail", "a@gmail.com", "pw", "", true)).unwrap();
        assert_eq!(v.endpoint.host, "imap.gmail.com");
        let v = validate(
            Side::Source,
            &form("gmail", "a@gmail.com", "pw", "evil.test", true),
        )
        .unwrap();
        assert_eq!(v.endpoint.host, "imap.gmail.com");
        // Editable presets keep what the user typed.
        let v = validate(
            Side::Source,
            &form("private-exchange-2013", "a", "pw", "mail.corp.test", true),
        )
        .unwrap();
        assert_eq!(v.endpoint.host, "mail.corp.test");
    }

    #[test]
    fn bad_input_is_reported_per_field() {
        let errors =
            validate(Side::Source, &form("nope", "", "a\nb", "bad host!", true)).unwrap_err();
        assert_eq!(
            fields(errors),
            vec![
                (Field::Preset, T::FieldUnknownPreset),
                (Field::Login, T::FieldRequired),
                (Field::Password, T::FieldControlChars),
                (Field::Host, T::FieldInvalidHost),
            ]
        );
        let long = "x".repeat(MAX_LOGIN + 1);
        let errors = validate(Side::Source, &form("other", &long, "", "", true)).unwrap_err();
        assert_eq!(
            fields(errors),
            vec![
                (Field::Login, T::FieldTooLong),
                (Field::Host, T::FieldRequired)
            ]
        );
        let errors =
            validate(Side::Source, &form("other", "a\u{7}b", "", "h.test", true)).unwrap_err();
        assert_eq!(fields(errors), vec![(Field::Login, T::FieldControlChars)]);
    }

    #[test]
    fn destination_only_presets_are_refused_for_the_source() {
        let errors = validate(
            Side::Source,
            &form("ovh-exchange-25gb", "a", "p", "ex.mail.ovh.net", true),
        )
        .unwrap_err();
        assert_eq!(fields(errors), vec![(Field::Preset, T::FieldUnknownPreset)]);
        assert!(validate(
            Side::Destination,
            &form("ovh-exchange-25gb", "a", "p", "", true)
        )
        .is_ok());
    }

    #[test]
    fn a_port_can_follow_the_host() {
        let v = validate(
            Side::Source,
            &form("other", "a", "p", "localhost:10993", true),
        )
        .unwrap();
        assert_eq!(v.endpoint, Endpoint::new("localhost", 10993, Security::Tls));
        let v = validate(Side::Source, &form("other", "a", "p", "[::1]:1143", false)).unwrap();
        assert_eq!(v.endpoint, Endpoint::new("::1", 1143, Security::StartTls));
        let v = validate(Side::Source, &form("other", "a", "p", "fe80::1", true)).unwrap();
        assert_eq!(v.endpoint.port, 993);
        for bad in ["h.test:0", "h.test:70000", "h.test:x", "h.test:"] {
            let errors = validate(Side::Source, &form("other", "a", "p", bad, true)).unwrap_err();
            assert_eq!(
                fields(errors),
                vec![(Field::Host, T::FieldInvalidPort)],
                "{bad}"
            );
        }
    }

    #[test]
    fn the_advanced_port_field_wins_and_is_checked() {
        let mut f = form("other", "a", "p", "h.test:1000", true);
        f.port = "2000".into();
        assert_eq!(validate(Side::Source, &f).unwrap().endpoint.port, 2000);
        f.port = "99999".into();
        let errors = validate(Side::Source, &f).unwrap_err();
        assert_eq!(fields(errors), vec![(Field::Port, T::FieldInvalidPort)]);
    }

    #[test]
    fn host_syntax() {
        for ok in [
            "imap.example.com",
            "localhost",
            "127.0.0.1",
            "::1",
            "[::1]",
            "xn--bcher-kva.example",
            "a-b.c",
        ] {
            assert!(is_valid_host(ok), "{ok}");
        }
        for bad in [
            "",
            "a..b",
            "-a.b",
            "a-.b",
            "a b",
            "a_b.com",
            "1.2.3",
            "http://x",
            "x.com:993",
            &"a".repeat(64),
        ] {
            assert!(!is_valid_host(bad), "{bad}");
        }
    }
}
