//! Parsing one framed server response into a [`Reply`] (pure).
//!
//! imap-proto (0.17, the parser async-imap itself uses) parses most of what servers send.
//! It has no parser for `* NAMESPACE` (RFC 2342) and fails on `* STATUS` answers with
//! attributes it does not know (`SIZE`, RFC 8438; `APPENDLIMIT`, RFC 7889; `DELETED`...):
//! those two are parsed here. Anything imap-proto cannot parse becomes
//! [`Reply::Unparsed`] with its raw bytes — except status lines (`* OK`, `* BYE`, `tag NO
//! ...`), recognised by their first words so that a tagged answer with an odd response code
//! still ends its command. One unparsable response never ends the session.

use std::borrow::Cow;

use imap_proto::{Outcome, RequestId, Response, Status};

/// The personal namespace (RFC 2342).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Namespace {
    /// E.g. `""` or `"INBOX."`.
    pub prefix: String,
    pub delimiter: Option<char>,
}

/// A `* STATUS` answer: the mailbox (unquoted, raw modified UTF-7) and every attribute, name
/// upper-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatusData {
    pub mailbox: String,
    pub items: Vec<(String, u64)>,
}

impl StatusData {
    pub(crate) fn get(&self, name: &str) -> Option<u64> {
        self.items
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// One server response.
#[derive(Debug)]
pub(crate) enum Reply<'a> {
    /// What imap-proto parsed (or a status line recognised by its first words).
    Parsed(Response<'a>),
    /// `* NAMESPACE`: the first personal namespace (`None` for `NIL`).
    Namespace(Option<Namespace>),
    /// `* STATUS`, every attribute.
    Status(StatusData),
    /// Not understood; the raw response.
    Unparsed(&'a [u8]),
}

/// Parses one whole response (as framed by [`super::frame`]).
pub(crate) fn parse(raw: &[u8]) -> Reply<'_> {
    if starts_with_ci(raw, b"* NAMESPACE ") {
        return match parse_namespace(raw) {
            Ok(ns) => Reply::Namespace(ns),
            Err(_) => Reply::Unparsed(raw),
        };
    }
    if starts_with_ci(raw, b"* STATUS ") {
        return match parse_status(raw) {
            Ok(s) => Reply::Status(s),
            Err(_) => Reply::Unparsed(raw),
        };
    }
    match Response::parse(raw) {
        Ok((b"", resp)) => Reply::Parsed(resp),
        _ => match status_line(raw) {
            Some(resp) => Reply::Parsed(resp),
            None => Reply::Unparsed(raw),
        },
    }
}

fn starts_with_ci(s: &[u8], head: &[u8]) -> bool {
    s.get(..head.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(head))
}

/// `tag OK|NO|BAD text` or `* OK|NO|BAD|BYE text` that imap-proto refused (an unknown response
/// code with odd syntax, 8-bit text...): the status and the text as sent, no response code.
fn status_line(raw: &[u8]) -> Option<Response<'_>> {
    let line = raw.strip_suffix(b"\r\n")?;
    // A status line holds no literal; a response that does is not one.
    if line.contains(&b'\n') {
        return None;
    }
    let text = std::str::from_utf8(line).ok()?;
    let mut words = text.splitn(3, ' ');
    let tag = words.next()?;
    let status = match words.next()?.to_ascii_uppercase().as_str() {
        "OK" => Status::Ok,
        "NO" => Status::No,
        "BAD" => Status::Bad,
        "BYE" => Status::Bye,
        "PREAUTH" => Status::PreAuth,
        _ => return None,
    };
    let information = words.next().map(Cow::Borrowed);
    let outcome = Outcome {
        code: None,
        information,
    };
    if tag == "*" {
        return Some(Response::Data { status, outcome });
    }
    if tag.is_empty() || !tag.bytes().all(is_tag_char) || status == Status::Bye {
        return None;
    }
    Some(Response::Done {
        tag: RequestId(tag.to_string()),
        status,
        outcome,
    })
}

fn is_tag_char(b: u8) -> bool {
    b.is_ascii_graphic() && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+')
}

/// `* NAMESPACE ((prefix delim) ...) other shared`: the first personal namespace.
pub(crate) fn parse_namespace(raw: &[u8]) -> Result<Option<Namespace>, String> {
    let mut p = Cursor::new(raw);
    p.expect_ci(b"* NAMESPACE ")?;
    p.spaces();
    if p.nil() {
        return Ok(None);
    }
    p.expect_ci(b"(")?;
    p.spaces();
    p.expect_ci(b"(")?;
    p.spaces();
    let prefix = p.string()?;
    p.spaces();
    let delimiter = if p.nil() {
        None
    } else {
        let d = p.string()?;
        String::from_utf8_lossy(&d).chars().next()
    };
    Ok(Some(Namespace {
        prefix: String::from_utf8_lossy(&prefix).into_owned(),
        delimiter,
    }))
}

/// `* STATUS mailbox (NAME n NAME n ...)`.
pub(crate) fn parse_status(raw: &[u8]) -> Result<StatusData, String> {
    let mut p = Cursor::new(raw);
    p.expect_ci(b"* STATUS ")?;
    p.spaces();
    let mailbox = String::from_utf8_lossy(&p.astring()?).into_owned();
    p.spaces();
    p.expect_ci(b"(")?;
    let mut items = Vec::new();
    loop {
        p.spaces();
        if p.expect_ci(b")").is_ok() {
            break;
        }
        let name = p.atom()?;
        p.spaces();
        let value = p.number()?;
        items.push((name.to_ascii_uppercase(), value));
    }
    Ok(StatusData { mailbox, items })
}

/// An IMAP quoted string for a mailbox name (raw modified UTF-7, as LIST gave it). Names that
/// cannot be quoted (line breaks, NUL, 8-bit) are refused rather than sent as literals: LIST
/// never returns such a name in modified UTF-7.
pub(crate) fn quote(s: &str) -> Result<String, String> {
    if !s.is_ascii() {
        return Err(format!(
            "the mailbox name {s:?} cannot be sent as an IMAP quoted string"
        ));
    }
    quote_utf8(s)
        .ok_or_else(|| format!("the mailbox name {s:?} cannot be sent as an IMAP quoted string"))
}

/// `s` as a quoted string, `"` and `\` escaped, 8-bit text sent as it is (what servers accept
/// in LOGIN); `None` if it holds CR, LF or NUL, which no quoted string can carry.
pub(crate) fn quote_utf8(s: &str) -> Option<String> {
    if s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return None;
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Some(out)
}

/// imap-proto returns quoted strings with their `\\` and `\"` escapes kept; undo them.
pub(crate) fn unquote(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.push(chars.next().unwrap_or('\\'));
        } else {
            out.push(c);
        }
    }
    out
}

/// A small cursor over one response for the parsers imap-proto lacks.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a [u8]) -> Self {
        Cursor { s, i: 0 }
    }

    fn rest(&self) -> &'a [u8] {
        self.s.get(self.i..).unwrap_or_default()
    }

    fn spaces(&mut self) {
        while self.rest().first() == Some(&b' ') {
            self.i += 1;
        }
    }

    fn expect_ci(&mut self, tok: &[u8]) -> Result<(), String> {
        match self.rest().get(..tok.len()) {
            Some(got) if got.eq_ignore_ascii_case(tok) => {
                self.i += tok.len();
                Ok(())
            }
            _ => Err(format!(
                "expected {:?} at byte {}",
                String::from_utf8_lossy(tok),
                self.i
            )),
        }
    }

    fn nil(&mut self) -> bool {
        let r = self.rest();
        let is_nil = r.len() >= 3
            && r.get(..3).is_some_and(|h| h.eq_ignore_ascii_case(b"NIL"))
            && !r.get(3).is_some_and(|b| is_atom_char(*b));
        if is_nil {
            self.i += 3;
        }
        is_nil
    }

    fn atom(&mut self) -> Result<String, String> {
        let n = self.rest().iter().take_while(|b| is_atom_char(**b)).count();
        if n == 0 {
            return Err(format!("expected an atom at byte {}", self.i));
        }
        let a = String::from_utf8_lossy(self.rest().get(..n).unwrap_or_default()).into_owned();
        self.i += n;
        Ok(a)
    }

    fn number(&mut self) -> Result<u64, String> {
        let n = self
            .rest()
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let digits = std::str::from_utf8(self.rest().get(..n).unwrap_or_default())
            .map_err(|e| e.to_string())?;
        let v = digits
            .parse()
            .map_err(|_| format!("expected a number at byte {}", self.i))?;
        self.i += n;
        Ok(v)
    }

    /// atom, quoted string or literal
    fn astring(&mut self) -> Result<Vec<u8>, String> {
        match self.rest().first() {
            Some(b'"') | Some(b'{') => self.string(),
            _ => self.atom().map(String::into_bytes),
        }
    }

    /// quoted string or literal
    fn string(&mut self) -> Result<Vec<u8>, String> {
        match self.rest().first() {
            Some(b'"') => {
                self.i += 1;
                let mut out = Vec::new();
                loop {
                    let Some(&b) = self.rest().first() else {
                        return Err("unterminated quoted string".to_string());
                    };
                    self.i += 1;
                    match b {
                        b'"' => return Ok(out),
                        b'\\' => {
                            let Some(&n) = self.rest().first() else {
                                return Err("unterminated quoted string".to_string());
                            };
                            self.i += 1;
                            out.push(n);
                        }
                        b'\r' | b'\n' => return Err("line break in quoted string".to_string()),
                        _ => out.push(b),
                    }
                }
            }
            Some(b'{') => {
                let rest = self.rest();
                let close = rest
                    .iter()
                    .position(|b| *b == b'}')
                    .ok_or("unterminated literal")?;
                let digits = rest
                    .get(1..close)
                    .map(|d| d.strip_suffix(b"+").unwrap_or(d))
                    .unwrap_or_default();
                let n: usize = std::str::from_utf8(digits)
                    .ok()
                    .and_then(|d| d.parse().ok())
                    .ok_or("bad literal length")?;
                self.i += close + 1;
                self.expect_ci(b"\r\n")?;
                let data = self
                    .rest()
                    .get(..n)
                    .ok_or("literal shorter than announced")?
                    .to_vec();
                self.i += n;
                Ok(data)
            }
            _ => Err(format!("expected a string at byte {}", self.i)),
        }
    }
}

/// ATOM-CHAR, plus `]` (resp-specials are allowed in astrings).
fn is_atom_char(b: u8) -> bool {
    b.is_ascii_graphic() && !matches!(b, b'(' | b')' | b'{' | b' ' | b'%' | b'*' | b'"' | b'\\')
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use imap_proto::{AttributeValue, MailboxDatum};
    use proptest::prelude::*;

    #[test]
    fn namespaces() {
        let ns = |s: &str| parse_namespace(s.as_bytes());
        assert_eq!(
            ns("* NAMESPACE ((\"INBOX.\" \".\")) NIL NIL\r\n").unwrap(),
            Some(Namespace {
                prefix: "INBOX.".into(),
                delimiter: Some('.')
            })
        );
        assert_eq!(
            ns("* NAMESPACE ((\"\" \"/\")(\"#mh/\" \"/\" \"X-PARAM\" (\"FLAG1\"))) ((\"~\" \"/\")) NIL\r\n")
                .unwrap(),
            Some(Namespace {
                prefix: "".into(),
                delimiter: Some('/')
            })
        );
        assert_eq!(
            ns("* namespace ((\"\" NIL)) NIL NIL\r\n").unwrap(),
            Some(Namespace {
                prefix: "".into(),
                delimiter: None
            })
        );
        assert_eq!(
            ns("* NAMESPACE (({6}\r\nINBOX. \"\\\\\")) NIL NIL\r\n").unwrap(),
            Some(Namespace {
                prefix: "INBOX.".into(),
                delimiter: Some('\\')
            })
        );
        assert_eq!(ns("* NAMESPACE NIL NIL NIL\r\n").unwrap(), None);
        assert!(ns("* NAMESPACE ((\"x\r\n").is_err());
        assert!(ns("* NAMESPACE (({99}\r\nab").is_err());
    }

    #[test]
    fn statuses() {
        let s = parse_status(b"* STATUS \"a \\\"b\\\"\" (MESSAGES 3 SIZE 12345 UIDNEXT 9)\r\n")
            .unwrap();
        assert_eq!(s.mailbox, "a \"b\"");
        assert_eq!(s.get("messages"), Some(3));
        assert_eq!(s.get("SIZE"), Some(12345));
        assert_eq!(s.get("UIDVALIDITY"), None);
        let s = parse_status(b"* STATUS INBOX (MESSAGES 0)\r\n").unwrap();
        assert_eq!(s.mailbox, "INBOX");
        let s = parse_status(b"* STATUS {4}\r\na(b) (MESSAGES 2 APPENDLIMIT 100)\r\n").unwrap();
        assert_eq!(s.mailbox, "a(b)");
        assert_eq!(s.get("APPENDLIMIT"), Some(100));
        let s = parse_status(b"* STATUS x ()\r\n").unwrap();
        assert!(s.items.is_empty());
        assert!(parse_status(b"* STATUS x (MESSAGES)\r\n").is_err());
        assert!(parse_status(b"* STATUS \"x (MESSAGES 1)\r\n").is_err());
    }

    #[test]
    fn replies() {
        assert!(matches!(
            parse(b"* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n"),
            Reply::Namespace(Some(_))
        ));
        assert!(matches!(
            parse(b"* STATUS INBOX (MESSAGES 1 SIZE 5)\r\n"),
            Reply::Status(_)
        ));
        match parse(b"* 2 FETCH (UID 7 FLAGS (\\Seen $Label1))\r\n") {
            Reply::Parsed(Response::Fetch(2, attrs)) => {
                assert!(attrs.contains(&AttributeValue::Uid(7)));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(b"* 3 EXISTS\r\n"),
            Reply::Parsed(Response::MailboxData(MailboxDatum::Exists(3)))
        ));
        // Unknown response code: imap-proto keeps it in the text.
        match parse(b"A7 NO [OVERQUOTA] Quota exceeded\r\n") {
            Reply::Parsed(Response::Done {
                tag,
                status: Status::No,
                outcome,
            }) => {
                assert_eq!(tag, RequestId("A7".into()));
                assert!(outcome.information.unwrap().contains("OVERQUOTA"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(parse(b"* FOO bar\r\n"), Reply::Unparsed(_)));
        assert!(matches!(parse(b"garbage\r\n"), Reply::Unparsed(_)));
    }

    #[test]
    fn odd_status_lines_still_end_their_command() {
        // A response code imap-proto chokes on, and 8-bit text.
        for raw in [
            &b"M12 OK [APPENDUID 1 2:x] done\r\n"[..],
            "M12 NO Fehler: Ordner \u{fc}berf\u{fc}llt\r\n".as_bytes(),
        ] {
            match parse(raw) {
                Reply::Parsed(Response::Done { tag, .. }) => {
                    assert_eq!(tag, RequestId("M12".into()))
                }
                other => panic!("{raw:?}: {other:?}"),
            }
        }
        match parse(b"* BYE [UNAVAILABLE x y] Session invalidated - AccessTokenExpired\r\n") {
            Reply::Parsed(Response::Data {
                status: Status::Bye,
                outcome,
            }) => assert!(outcome.information.unwrap().contains("AccessTokenExpired")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("INBOX.a b").unwrap(), "\"INBOX.a b\"");
        assert_eq!(quote("a\"b\\c").unwrap(), "\"a\\\"b\\\\c\"");
        assert_eq!(unquote("a\\\"b\\\\c"), "a\"b\\c");
        assert_eq!(unquote("plain"), "plain");
        assert!(quote("a\r\nb").is_err());
        assert!(quote("é").is_err());
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn status_lines_never_panic(text in "[ -~]{0,80}") {
            let raw = format!("{text}\r\n");
            let _ = parse(raw.as_bytes());
            let raw = format!("* STATUS {text}\r\n");
            let _ = parse(raw.as_bytes());
            let raw = format!("* NAMESPACE {text}\r\n");
            let _ = parse(raw.as_bytes());
        }

        #[test]
        fn quote_round_trips(name in "[ -~]{0,40}") {
            let q = quote(&name).unwrap();
            let inner = &q[1..q.len() - 1];
            proptest::prop_assert_eq!(unquote(inner), name);
        }
    }

    /// Text weighted toward what quoting is about: quotes, backslashes, line breaks, NUL.
    fn tricky_text() -> impl proptest::strategy::Strategy<Value = String> {
        let c = prop_oneof![
            4 => any::<char>(),
            1 => Just('"'),
            1 => Just('\\'),
            1 => Just('\r'),
            1 => Just('\n'),
            1 => Just('\0'),
            1 => Just(' '),
        ];
        proptest::collection::vec(c, 0..30).prop_map(String::from_iter)
    }

    /// A string as a server writes it (quoted or literal) and its value.
    fn string() -> impl proptest::strategy::Strategy<Value = (String, String)> {
        prop_oneof![
            tricky_text().prop_filter_map("quotable", |s| quote_utf8(&s).map(|q| (q, s))),
            (tricky_text(), any::<bool>()).prop_map(|(s, plus)| {
                let plus = if plus { "+" } else { "" };
                (format!("{{{}{plus}}}\r\n{s}", s.len()), s)
            }),
        ]
    }

    /// An astring: an atom (`]` included), or a string.
    fn astring() -> impl proptest::strategy::Strategy<Value = (String, String)> {
        prop_oneof![
            "[!#$&'+,./0-9:;<=>?@A-Z^_`a-z|}~\\[\\]-]{1,20}".prop_map(|a| (a.clone(), a)),
            string(),
        ]
    }

    /// `word` with each letter in either case.
    fn any_case(word: &str, upper: &[bool]) -> String {
        word.chars()
            .zip(upper.iter().chain(std::iter::repeat(&false)))
            .map(|(c, u)| {
                if *u {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]

        /// `quote_utf8` refuses exactly CR, LF and NUL; what it quotes unquotes to the same
        /// text and reads back whole as a quoted string.
        #[test]
        fn quote_utf8_round_trips(s in tricky_text()) {
            match quote_utf8(&s) {
                None => proptest::prop_assert!(s.contains(['\r', '\n', '\0'])),
                Some(q) => {
                    proptest::prop_assert!(!s.contains(['\r', '\n', '\0']));
                    proptest::prop_assert!(q.len() >= 2 && q.starts_with('"') && q.ends_with('"'));
                    proptest::prop_assert_eq!(unquote(&q[1..q.len() - 1]), s.clone());
                    let mut c = Cursor::new(q.as_bytes());
                    proptest::prop_assert_eq!(c.string(), Ok(s.clone().into_bytes()));
                    proptest::prop_assert_eq!(c.i, q.len());
                }
            }
        }

        /// `quote` is `quote_utf8` for ASCII and refuses anything else.
        #[test]
        fn quote_is_quote_utf8_for_ascii(s in tricky_text()) {
            match quote(&s) {
                Ok(q) => {
                    proptest::prop_assert!(s.is_ascii());
                    proptest::prop_assert_eq!(Some(q), quote_utf8(&s));
                }
                Err(_) => proptest::prop_assert!(!s.is_ascii() || quote_utf8(&s).is_none()),
            }
        }

        /// `unquote` removes one backslash per escape and nothing else.
        #[test]
        fn unquote_only_removes_escapes(s in tricky_text()) {
            let u = unquote(&s);
            let escapes = s.chars().count() - u.chars().count();
            proptest::prop_assert!(escapes <= s.matches('\\').count());
            if !s.contains('\\') {
                proptest::prop_assert_eq!(u, s);
            }
        }

        /// A STATUS answer as servers write it (any case, extra spaces, atom, quoted or
        /// literal mailbox) gives back its mailbox and every attribute, in order.
        #[test]
        fn status_answers_round_trip(
            upper in proptest::collection::vec(proptest::bool::ANY, 6),
            (written, mailbox) in astring(),
            items in proptest::collection::vec(("[a-zA-Z][a-zA-Z0-9-]{0,12}", proptest::num::u64::ANY), 0..6),
            sp in proptest::collection::vec("[ ]{1,2}", 16),
        ) {
            let mut raw = format!("* {} {}{written}{}(", any_case("status", &upper), &sp[0][1..], sp[1]);
            for (i, (name, value)) in items.iter().enumerate() {
                let before = if i == 0 { &sp[2][1..] } else { sp[2 + i].as_str() };
                raw.push_str(&format!("{before}{name}{}{value}", sp[8 + i]));
            }
            raw.push_str(&sp[15][1..]);
            raw.push_str(")\r\n");
            let want = StatusData {
                mailbox,
                items: items.iter().map(|(n, v)| (n.to_ascii_uppercase(), *v)).collect(),
            };
            proptest::prop_assert_eq!(parse_status(raw.as_bytes()), Ok(want.clone()), "{:?}", raw);
            match parse(raw.as_bytes()) {
                Reply::Status(got) => proptest::prop_assert_eq!(got, want),
                other => proptest::prop_assert!(false, "{other:?}"),
            }
        }

        /// A NAMESPACE answer gives back the first personal namespace's prefix and delimiter
        /// (`NIL` or an empty string: none), whatever follows.
        #[test]
        fn namespace_answers_round_trip(
            upper in proptest::collection::vec(proptest::bool::ANY, 9),
            personal in proptest::option::of((
                string(),
                proptest::option::of(prop_delimiter()),
                "( \"X-PARAM\" \\(\"A\"\\))?",
                "(\\(\"#mh/\" \"/\"\\))?",
            )),
            rest in "(NIL|\\(\\(\"~\" \"/\"\\)\\)) (NIL|\\(\\(\"#shared/\" \"/\"\\)\\))",
            sp in proptest::collection::vec("[ ]{0,2}", 4),
        ) {
            let (list, want) = match personal {
                None => (any_case("nil", &upper[6..]), None),
                Some(((written, prefix), delimiter, ext, more)) => {
                    let (d, delimiter) = match delimiter {
                        None => (any_case("nil", &upper[6..]), None),
                        Some((written, d)) => (written, d.chars().next()),
                    };
                    (
                        format!("({}({}{written} {d}{ext}){more})", sp[0], sp[1]),
                        Some(Namespace { prefix, delimiter }),
                    )
                }
            };
            let raw = format!("* {} {}{list} {rest}\r\n", any_case("namespace", &upper), sp[2]);
            proptest::prop_assert_eq!(parse_namespace(raw.as_bytes()), Ok(want.clone()), "{:?}", raw);
            match parse(raw.as_bytes()) {
                Reply::Namespace(got) => proptest::prop_assert_eq!(got, want),
                other => proptest::prop_assert!(false, "{other:?}"),
            }
        }

        /// Arbitrary bytes after `* STATUS ` or `* NAMESPACE `, literals included: no panic,
        /// and a STATUS that parses has attribute names that are atoms.
        #[test]
        fn status_and_namespace_never_panic(
            tail in proptest::collection::vec(
                prop_oneof![
                    proptest::num::u8::ANY.prop_map(|b| vec![b]),
                    Just(b"{3}\r\n".to_vec()),
                    Just(b"{99999999999999999999}\r\n".to_vec()),
                    Just(b"\"".to_vec()),
                    Just(b"\\".to_vec()),
                    Just(b"(".to_vec()),
                    Just(b")".to_vec()),
                    Just(b"NIL".to_vec()),
                    Just(b" 12".to_vec()),
                ],
                0..30,
            ).prop_map(|v| v.concat()),
        ) {
            for head in [&b"* STATUS "[..], b"* NAMESPACE "] {
                let mut raw = head.to_vec();
                raw.extend_from_slice(&tail);
                let _ = parse_namespace(&raw);
                if let Ok(s) = parse_status(&raw) {
                    for (name, _) in &s.items {
                        proptest::prop_assert!(!name.is_empty() && name.bytes().all(is_atom_char));
                        proptest::prop_assert_eq!(name, &name.to_ascii_uppercase());
                    }
                }
                let _ = parse(&raw);
            }
        }
    }

    /// A delimiter as written (a quoted string, or an empty one) and its value.
    fn prop_delimiter() -> impl proptest::strategy::Strategy<Value = (String, String)> {
        prop_oneof![
            any::<char>().prop_filter_map("quotable", |c| {
                quote_utf8(&c.to_string()).map(|q| (q, c.to_string()))
            }),
            Just(("\"\"".to_string(), String::new())),
        ]
    }
}
