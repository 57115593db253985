//! Validation of the posted account form: a pure function from what the browser sent to either
//! a connectable account or the errors to show next to each field.

use app::model::{AccountForm, Field, FieldError, FieldProblem};
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
        err(Field::Preset, FieldProblem::UnknownPreset);
    }

    let login = form.login.trim();
    if login.is_empty() {
        if login_required {
            err(Field::Login, FieldProblem::Required);
        }
    } else if login.chars().count() > MAX_LOGIN {
        err(Field::Login, FieldProblem::TooLong);
    } else if login.chars().any(char::is_control) {
        err(Field::Login, FieldProblem::ControlChars);
    }

    // Passwords are taken as typed (spaces included). NUL, CR and LF cannot travel in IMAP
    // LOGIN strings and are never part of a real password.
    if form.password.chars().count() > MAX_PASSWORD {
        err(Field::Password, FieldProblem::TooLong);
    } else if form.password.contains(['\0', '\r', '\n']) {
        err(Field::Password, FieldProblem::ControlChars);
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
                err(Field::Port, FieldProblem::InvalidPort);
                Ok(None)
            }
        };
    }
    if port.is_err() {
        err(Field::Host, FieldProblem::InvalidPort);
    } else if host.is_empty() {
        err(Field::Host, FieldProblem::Required);
    } else if host.len() > MAX_HOST {
        err(Field::Host, FieldProblem::TooLong);
    } else if host.chars().any(char::is_control) {
        err(Field::Host, FieldProblem::ControlChars);
    } else if !is_valid_host(&host) {
        err(Field::Host, FieldProblem::InvalidHost);
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

    fn fields(errors: Vec<FieldError>) -> Vec<(Field, FieldProblem)> {
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
                (Field::Preset, FieldProblem::UnknownPreset),
                (Field::Login, FieldProblem::Required),
                (Field::Password, FieldProblem::ControlChars),
                (Field::Host, FieldProblem::InvalidHost),
            ]
        );
        let long = "x".repeat(MAX_LOGIN + 1);
        let errors = validate(Side::Source, &form("other", &long, "", "", true)).unwrap_err();
        assert_eq!(
            fields(errors),
            vec![
                (Field::Login, FieldProblem::TooLong),
                (Field::Host, FieldProblem::Required)
            ]
        );
        let errors =
            validate(Side::Source, &form("other", "a\u{7}b", "", "h.test", true)).unwrap_err();
        assert_eq!(
            fields(errors),
            vec![(Field::Login, FieldProblem::ControlChars)]
        );
    }

    #[test]
    fn destination_only_presets_are_refused_for_the_source() {
        let errors = validate(
            Side::Source,
            &form("ovh-exchange-25gb", "a", "p", "ex.mail.ovh.net", true),
        )
        .unwrap_err();
        assert_eq!(
            fields(errors),
            vec![(Field::Preset, FieldProblem::UnknownPreset)]
        );
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
                vec![(Field::Host, FieldProblem::InvalidPort)],
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
        assert_eq!(
            fields(errors),
            vec![(Field::Port, FieldProblem::InvalidPort)]
        );
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

/// Property tests: the form is untrusted input from any browser (or none).
#[cfg(test)]
mod props {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    use proptest::prelude::*;

    /// Text of any kind: control characters and NUL, non-ASCII, very long runs, and the
    /// punctuation a server field is made of.
    fn any_text() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::collection::vec(any::<char>(), 0..40).prop_map(String::from_iter),
            "[\\x00-\\x7f]{0,40}",
            "[ \\t]{0,2}[a-zA-Z0-9.:\\[\\]%-]{0,30}[ \\t.]{0,2}",
            (any::<char>(), 0..1500usize).prop_map(|(c, n)| c.to_string().repeat(n)),
        ]
    }

    fn side() -> impl Strategy<Value = Side> {
        prop_oneof![Just(Side::Source), Just(Side::Destination)]
    }

    fn preset_id() -> impl Strategy<Value = String> {
        let ids: Vec<String> = presets::PRESETS.iter().map(|p| p.id.to_string()).collect();
        prop_oneof![
            4 => (proptest::sample::select(ids), "[ \\t]{0,2}").prop_map(|(id, ws)| format!("{ws}{id}{ws}")),
            1 => any_text(),
        ]
    }

    /// An LDH label: letters, digits and inner hyphens, 1 to `max` long.
    fn label(max: usize) -> impl Strategy<Value = String> {
        proptest::string::string_regex(&format!(
            "[a-zA-Z0-9]([a-zA-Z0-9-]{{0,{}}}[a-zA-Z0-9])?",
            max.saturating_sub(2)
        ))
        .expect("label regex")
    }

    /// A DNS name the form accepts: LDH labels and a top-level label with a letter.
    fn dns_name() -> impl Strategy<Value = String> {
        (
            proptest::collection::vec(prop_oneof![4 => label(10), 1 => label(63)], 0..4),
            "[a-zA-Z][a-zA-Z0-9]{0,5}",
        )
            .prop_map(|(mut labels, tld)| {
                labels.push(tld);
                labels.join(".")
            })
            .prop_filter("at most MAX_HOST", |h| h.len() <= MAX_HOST)
    }

    /// A server field as a user types it, and the host and port it means.
    fn server_field() -> impl Strategy<Value = (String, String, Option<u16>)> {
        let port = proptest::option::of(1..=u16::MAX);
        prop_oneof![
            (dns_name(), any::<bool>(), port.clone()).prop_map(|(h, dot, port)| {
                let typed = format!("{h}{}", if dot { "." } else { "" });
                let typed = match port {
                    Some(p) => format!("{typed}:{p}"),
                    None => typed,
                };
                (typed, h.to_ascii_lowercase(), port)
            }),
            (any::<Ipv4Addr>(), port.clone()).prop_map(|(ip, port)| match port {
                Some(p) => (format!("{ip}:{p}"), ip.to_string(), port),
                None => (ip.to_string(), ip.to_string(), None),
            }),
            (any::<Ipv6Addr>(), any::<bool>(), port).prop_map(|(ip, upper, port)| {
                let typed = if upper {
                    ip.to_string().to_ascii_uppercase()
                } else {
                    ip.to_string()
                };
                match port {
                    Some(p) => (format!("[{typed}]:{p}"), ip.to_string(), port),
                    None if upper => (format!("[{typed}]"), ip.to_string(), None),
                    None => (typed, ip.to_string(), None),
                }
            }),
        ]
    }

    fn any_form() -> impl Strategy<Value = AccountForm> {
        let host = prop_oneof![server_field().prop_map(|(typed, _, _)| typed), any_text()];
        let port = prop_oneof![Just(String::new()), "[ ]?[+]?[0-9]{1,6}[ ]?", any_text()];
        (
            preset_id(),
            prop_oneof![2 => "[a-zA-Z0-9.@+-]{1,30}", 1 => any_text()],
            prop_oneof![2 => "[ -~]{0,30}", 1 => any_text()],
            host,
            port,
            proptest::option::of(Just("on".to_string())),
        )
            .prop_map(|(preset, login, password, host, port, ssl)| AccountForm {
                preset,
                login,
                password,
                host,
                port,
                ssl,
                ..AccountForm::default()
            })
    }

    fn field_rank(field: Field) -> u8 {
        match field {
            Field::Preset => 0,
            Field::Login => 1,
            Field::Password => 2,
            Field::Port => 3,
            Field::Host => 4,
        }
    }

    /// What holds of every form `validate_with` accepted.
    fn check_accepted(
        side: Side,
        form: &AccountForm,
        v: &ValidForm,
        login_required: bool,
    ) -> Result<(), TestCaseError> {
        prop_assert_eq!(v.side, side);
        prop_assert_eq!(v.preset.id, form.preset.trim());
        prop_assert!(v.preset.listed_for(side));
        let host = &v.endpoint.host;
        prop_assert!(!host.is_empty() && host.len() <= MAX_HOST, "{host:?}");
        prop_assert!(is_valid_host(host), "{host:?}");
        prop_assert!(
            !host.contains(['[', ']']) && !host.ends_with('.'),
            "{host:?}"
        );
        prop_assert_eq!(host, &host.to_ascii_lowercase());
        if !v.preset.host_editable {
            prop_assert!(v.preset.hosts.contains(&host.as_str()), "{host:?}");
        }
        prop_assert_eq!(v.login.as_str(), form.login.trim());
        prop_assert!(!login_required || !v.login.is_empty());
        prop_assert!(v.login.chars().count() <= MAX_LOGIN);
        prop_assert!(!v.login.chars().any(char::is_control));
        prop_assert!(form.password.chars().count() <= MAX_PASSWORD);
        prop_assert!(!form.password.contains(['\0', '\r', '\n']));
        prop_assert!(v.endpoint.port > 0);
        let security = if form.ssl.is_some() {
            Security::Tls
        } else {
            Security::StartTls
        };
        prop_assert_eq!(v.endpoint.security, security);
        if !form.port.trim().is_empty() {
            prop_assert_eq!(Ok(v.endpoint.port), form.port.trim().parse::<u16>());
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any form: no panic; an accepted one is connectable and within every limit; a
        /// refused one names at least one field, each field at most once, in form order.
        #[test]
        fn any_form_is_accepted_only_within_the_limits(side in side(), form in any_form()) {
            for login_required in [true, false] {
                match validate_with(side, &form, login_required) {
                    Ok(v) => check_accepted(side, &form, &v, login_required)?,
                    Err(errors) => {
                        prop_assert!(!errors.is_empty());
                        let ranks: Vec<u8> = errors.iter().map(|e| field_rank(e.field)).collect();
                        prop_assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{errors:?}");
                    }
                }
            }
        }

        /// "Sign in with …" differs from Validate only in not requiring a login.
        #[test]
        fn sign_in_only_waives_the_login(side in side(), form in any_form()) {
            let required = FieldError { field: Field::Login, message: FieldProblem::Required };
            let strip = |r: Result<ValidForm, Vec<FieldError>>| match r {
                Ok(v) => Ok((v.preset.id, v.login, v.endpoint)),
                Err(mut e) => {
                    e.retain(|e| *e != required);
                    Err(e)
                }
            };
            let validated = strip(validate(side, &form));
            let signed_in = strip(validate_sign_in(side, &form));
            match validated {
                Err(e) if e.is_empty() => prop_assert!(signed_in.is_ok()),
                validated => prop_assert_eq!(validated, signed_in),
            }
        }

        /// A form made of valid parts is accepted with exactly the host, port and login typed
        /// (the host lower-cased, a final dot and IPv6 brackets dropped).
        #[test]
        fn valid_parts_round_trip(
            side in side(),
            (typed, host, port) in server_field(),
            port_field in proptest::option::of(1..=u16::MAX),
            ws in "[ \\t]{0,2}",
            login in "[^\\p{Cc}]{1,40}".prop_filter("not blank", |l| !l.trim().is_empty()),
            password in "[^\\x00\\r\\n]{0,60}",
            ssl in any::<bool>(),
        ) {
            let form = AccountForm {
                preset: presets::OTHER.to_string(),
                login: format!("{ws}{login}{ws}"),
                password,
                host: format!("{ws}{typed}{ws}"),
                port: port_field.map(|p| p.to_string()).unwrap_or_default(),
                ssl: ssl.then(|| "on".to_string()),
                ..AccountForm::default()
            };
            let v = validate(side, &form).map_err(|e| TestCaseError::fail(format!("{form:?}: {e:?}")))?;
            let security = if ssl { Security::Tls } else { Security::StartTls };
            let port = port_field.or(port).unwrap_or(security.default_port());
            prop_assert_eq!(&v.endpoint, &Endpoint::new(host, port, security));
            prop_assert_eq!(v.login.as_str(), login.trim());
            check_accepted(side, &form, &v, true)?;
            // What is shown back parses to the same server.
            let (shown_host, shown_port) = split_port(&display_host(&v.endpoint));
            prop_assert_eq!(shown_host, v.endpoint.host.clone());
            let shown_port = shown_port.ok().flatten().unwrap_or(security.default_port());
            prop_assert_eq!(shown_port, v.endpoint.port);
        }

        /// A preset with a fixed server ignores any other server typed.
        #[test]
        fn fixed_presets_keep_their_server(
            side in side(),
            pick in any::<proptest::sample::Index>(),
            host in any_text(),
        ) {
            let fixed: Vec<_> = presets::for_side(side).filter(|p| !p.host_editable).collect();
            let preset = *pick.get(&fixed);
            let typed = split_port(host.trim()).0.trim_end_matches('.').to_ascii_lowercase();
            prop_assume!(!preset.hosts.contains(&typed.as_str()));
            let form = AccountForm {
                preset: preset.id.to_string(),
                login: "a@b.test".to_string(),
                host,
                ..AccountForm::default()
            };
            let v = validate(side, &form).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
            prop_assert_eq!(v.endpoint.host.as_str(), preset.default_host());
            prop_assert_eq!(v.endpoint.port, Security::StartTls.default_port());
        }

        /// What is echoed back is the trimmed input, cut at each field's limit.
        #[test]
        fn echo_is_the_trimmed_input_within_limits(form in any_form()) {
            let (preset, login, host, ssl) = echo(&form);
            for (out, input, limit) in [
                (&preset, &form.preset, 64),
                (&login, &form.login, MAX_LOGIN),
                (&host, &form.host, MAX_HOST + 6),
            ] {
                let input = input.trim();
                prop_assert!(input.starts_with(out.as_str()));
                prop_assert_eq!(out.chars().count(), input.chars().count().min(limit));
            }
            prop_assert_eq!(ssl, form.ssl.is_some());
        }

        /// `host:port`, `[v6]:port`, `[v6]` and a bare IPv6 address split as written; a port
        /// outside 1–65535 or not a number is an error.
        #[test]
        fn split_port_round_trips(
            name in dns_name(),
            v4 in any::<Ipv4Addr>(),
            v6 in any::<Ipv6Addr>(),
            port in 1..=u16::MAX,
            bad in prop_oneof![Just("0".to_string()), (65536..u64::MAX).prop_map(|n| n.to_string()), "[0-9]*[^0-9+:][0-9a-z]*"],
        ) {
            let ok = |h: &str, p: Option<u16>| -> (String, Result<Option<u16>, ()>) { (h.to_string(), Ok(p)) };
            prop_assert_eq!(split_port(&name), ok(&name, None));
            prop_assert_eq!(split_port(&format!("{name}:{port}")), ok(&name, Some(port)));
            prop_assert_eq!(split_port(&format!("{v4}:{port}")), ok(&v4.to_string(), Some(port)));
            prop_assert_eq!(split_port(&v6.to_string()), ok(&v6.to_string(), None));
            prop_assert_eq!(split_port(&format!("[{v6}]")), ok(&v6.to_string(), None));
            prop_assert_eq!(split_port(&format!("[{v6}]:{port}")), ok(&v6.to_string(), Some(port)));
            prop_assert_eq!(split_port(&format!("{name}:{bad}")), (name.clone(), Err(())));
            prop_assert_eq!(split_port(&format!("[{v6}]:{bad}")), (v6.to_string(), Err(())));
        }

        /// Whatever is split, the host part is taken from the value and a port is in range.
        #[test]
        fn split_port_takes_the_host_from_the_value(value in any_text()) {
            let (host, port) = split_port(&value);
            prop_assert!(value.contains(&host));
            if let Ok(Some(p)) = port {
                prop_assert!(p > 0);
                prop_assert!(value.ends_with(&p.to_string()));
            }
            if !value.contains([':', '[']) {
                prop_assert_eq!((host, port), (value.clone(), Ok(None)));
            }
        }

        /// Names and IP literals are valid; a valid host is short, ASCII, and made only of
        /// LDH characters (or is an IP literal).
        #[test]
        fn host_syntax_holds(
            name in dns_name(),
            v4 in any::<Ipv4Addr>(),
            v6 in any::<Ipv6Addr>(),
            junk in any_text(),
            cut in any::<proptest::sample::Index>(),
            bad in "[^a-zA-Z0-9.:\\[\\]-]",
        ) {
            prop_assert!(is_valid_host(&name), "{name:?}");
            prop_assert!(is_valid_host(&name.to_ascii_uppercase()));
            prop_assert!(is_valid_host(&v4.to_string()));
            prop_assert!(is_valid_host(&v6.to_string()));
            let bracketed = format!("[{v6}]");
            prop_assert!(is_valid_host(&bracketed), "{bracketed:?}");
            // One character that belongs in no host name or address, anywhere, spoils it.
            let at = cut.index(name.len() + 1);
            let spoiled = format!("{}{bad}{}", &name[..at], &name[at..]);
            prop_assert!(!is_valid_host(&spoiled), "{spoiled:?}");
            // Empty labels, edge hyphens and over-long labels are refused.
            for bad in [
                format!("{name}..x"),
                format!("-{name}"),
                format!("{name}-"),
                format!("{}.{name}", "a".repeat(64)),
            ] {
                prop_assert!(!is_valid_host(&bad), "{bad:?}");
            }
            if is_valid_host(&junk) {
                let bare = junk.trim_start_matches('[').trim_end_matches(']');
                let ip = bare.parse::<std::net::IpAddr>().is_ok();
                prop_assert!(ip || (junk.len() <= MAX_HOST
                    && junk.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')));
            }
        }
    }
}
