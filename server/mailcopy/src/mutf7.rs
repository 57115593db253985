//! Modified UTF-7 (RFC 3501 §5.1.3), the encoding of IMAP mailbox names on the wire.
//!
//! Hand-written on purpose: the `utf7-imap` crate panics on malformed input, and mailbox names
//! come from arbitrary servers. Nothing here panics, whatever the input.
//!
//! - [`encode`] gives the one canonical form: printable US-ASCII (0x20..=0x7E) stands for
//!   itself except `&`, which becomes `&-`; every maximal run of other characters becomes one
//!   `&…-` section holding its UTF-16BE in modified BASE64 (`,` instead of `/`, no `=`
//!   padding, unused low bits zero).
//! - [`decode`] is **strict**: it accepts only that canonical form, so `decode(s) == Ok(x)`
//!   implies `encode(&x) == s` (a raw name and its decoded name identify each other). It
//!   rejects 8-bit and control bytes, unterminated sections, bad BASE64, bit counts that do not
//!   end on a UTF-16 unit or leave non-zero bits, unpaired surrogates, encoded printable ASCII
//!   and null shifts (`-&` between two sections), all of which the RFC forbids.
//! - [`decode_lossy`] is for display and for names that fail [`decode`]: it decodes every
//!   well-formed section (canonical or not), keeps malformed ones and non-ASCII characters
//!   (servers that send raw UTF-8) as they are, and turns unpaired surrogates into U+FFFD.

use std::fmt;

/// The modified BASE64 alphabet (RFC 3501: `,` replaces `/`).
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// Why [`decode`] refused a name. `position` is a byte offset into the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutf7Error {
    /// A character outside printable US-ASCII (8-bit, raw UTF-8, or a control character).
    NotPrintableAscii { position: usize, ch: char },
    /// `&` starts a section that never ends with `-`.
    Unterminated { position: usize },
    /// A character inside a section that is not modified BASE64.
    InvalidBase64 { position: usize, ch: char },
    /// The section's bits do not end on a whole UTF-16 unit, or the padding bits are not zero.
    BadLength { position: usize },
    /// The section's UTF-16 holds an unpaired surrogate.
    UnpairedSurrogate { position: usize },
    /// Valid but not the canonical form (encoded printable ASCII, or two adjacent sections).
    NonCanonical {
        position: usize,
        detail: &'static str,
    },
}

impl fmt::Display for Mutf7Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mutf7Error::NotPrintableAscii { position, ch } => write!(
                f,
                "byte {position}: {ch:?} is not printable US-ASCII, which modified UTF-7 requires"
            ),
            Mutf7Error::Unterminated { position } => write!(
                f,
                "byte {position}: the encoded section started by `&` does not end with `-`"
            ),
            Mutf7Error::InvalidBase64 { position, ch } => {
                write!(
                    f,
                    "byte {position}: {ch:?} is not a modified BASE64 character"
                )
            }
            Mutf7Error::BadLength { position } => write!(
                f,
                "byte {position}: the encoded section does not hold whole UTF-16 units"
            ),
            Mutf7Error::UnpairedSurrogate { position } => write!(
                f,
                "byte {position}: the encoded section holds an unpaired UTF-16 surrogate"
            ),
            Mutf7Error::NonCanonical { position, detail } => {
                write!(f, "byte {position}: not canonical modified UTF-7: {detail}")
            }
        }
    }
}

impl std::error::Error for Mutf7Error {}

fn is_direct(c: char) -> bool {
    (' '..='~').contains(&c)
}

/// Encodes a Unicode mailbox name to canonical modified UTF-7.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut run: Vec<u16> = Vec::new();
    for c in s.chars() {
        if is_direct(c) {
            flush(&mut out, &mut run);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            run.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut out, &mut run);
    out
}

fn flush(out: &mut String, run: &mut Vec<u16>) {
    if run.is_empty() {
        return;
    }
    out.push('&');
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    for unit in run.iter() {
        acc = (acc << 16) | u32::from(*unit);
        bits += 16;
        while bits >= 6 {
            bits -= 6;
            out.push(sextet((acc >> bits) & 0x3f));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(sextet((acc << (6 - bits)) & 0x3f));
    }
    out.push('-');
    run.clear();
}

fn sextet(v: u32) -> char {
    ALPHABET
        .get(v as usize)
        .map(|b| char::from(*b))
        .unwrap_or('A')
}

fn base64_value(b: u8) -> Option<u32> {
    match b {
        b'A'..=b'Z' => Some(u32::from(b - b'A')),
        b'a'..=b'z' => Some(u32::from(b - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(b - b'0') + 52),
        b'+' => Some(62),
        b',' => Some(63),
        _ => None,
    }
}

/// A decoded `&…-` section: UTF-16 units and whether the trailing bits were clean.
struct Section {
    units: Vec<u16>,
    /// Leftover bits (< 6 and all zero) — what the canonical encoder produces.
    clean_tail: bool,
}

fn decode_section(b64: &[u8]) -> Option<Section> {
    let mut units = Vec::with_capacity(b64.len() * 6 / 16);
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    for b in b64 {
        acc = (acc << 6) | base64_value(*b)?;
        bits += 6;
        if bits >= 16 {
            bits -= 16;
            units.push(((acc >> bits) & 0xffff) as u16);
            acc &= (1 << bits) - 1;
        }
    }
    Some(Section {
        units,
        clean_tail: bits < 6 && acc == 0,
    })
}

/// Decodes canonical modified UTF-7, strictly (see the module documentation). Never panics.
pub fn decode(s: &str) -> Result<String, Mutf7Error> {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    // Byte index just after the `-` of the last encoded section (to reject a null shift).
    let mut last_section_end = None;
    while let Some(&b) = bytes.get(i) {
        if !(0x20..=0x7e).contains(&b) {
            let ch = s
                .get(i..)
                .and_then(|r| r.chars().next())
                .unwrap_or('\u{fffd}');
            return Err(Mutf7Error::NotPrintableAscii { position: i, ch });
        }
        if b != b'&' {
            out.push(char::from(b));
            i += 1;
            continue;
        }
        let start = i + 1;
        let rest = bytes.get(start..).unwrap_or_default();
        let Some(len) = rest.iter().position(|c| *c == b'-') else {
            return Err(Mutf7Error::Unterminated { position: i });
        };
        let b64 = rest.get(..len).unwrap_or_default();
        if let Some(bad) = b64.iter().position(|c| base64_value(*c).is_none()) {
            let pos = start + bad;
            let ch = s
                .get(pos..)
                .and_then(|r| r.chars().next())
                .unwrap_or('\u{fffd}');
            return Err(Mutf7Error::InvalidBase64 { position: pos, ch });
        }
        if b64.is_empty() {
            out.push('&');
            i = start + 1;
            continue;
        }
        if last_section_end == Some(i) {
            return Err(Mutf7Error::NonCanonical {
                position: i,
                detail: "two encoded sections in a row (null shift `-&`)",
            });
        }
        let section = decode_section(b64).ok_or(Mutf7Error::BadLength { position: i })?;
        if section.units.is_empty() || !section.clean_tail {
            return Err(Mutf7Error::BadLength { position: i });
        }
        let text = String::from_utf16(&section.units)
            .map_err(|_| Mutf7Error::UnpairedSurrogate { position: i })?;
        if text.chars().any(is_direct) {
            return Err(Mutf7Error::NonCanonical {
                position: i,
                detail: "printable US-ASCII encoded in BASE64",
            });
        }
        out.push_str(&text);
        i = start + len + 1;
        last_section_end = Some(i);
    }
    Ok(out)
}

/// Decodes for display: lenient, never fails, never panics (see the module documentation).
pub fn decode_lossy(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(rest.get(..amp).unwrap_or_default());
        let after = rest.get(amp + 1..).unwrap_or_default();
        let b64_len = after
            .bytes()
            .position(|c| base64_value(c).is_none())
            .unwrap_or(after.len());
        let terminated = after.as_bytes().get(b64_len) == Some(&b'-');
        let b64 = after.as_bytes().get(..b64_len).unwrap_or_default();
        if terminated && b64.is_empty() {
            out.push('&');
            rest = after.get(1..).unwrap_or_default();
            continue;
        }
        match decode_section(b64) {
            Some(section) if terminated && !section.units.is_empty() => {
                out.push_str(&String::from_utf16_lossy(&section.units));
                rest = after.get(b64_len + 1..).unwrap_or_default();
            }
            // Malformed: keep the `&` literally and go on after it.
            _ => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Vectors computed independently (Python: UTF-16BE → base64, `/`→`,`, no padding) and the
    /// RFC 3501 example.
    const VECTORS: &[(&str, &str)] = &[
        ("INBOX", "INBOX"),
        ("", ""),
        ("Boîte d'envoi", "Bo&AO4-te d'envoi"),
        ("Проекты", "&BB8EQAQ+BDUEOgRCBEs-"),
        ("日本", "&ZeVnLA-"),
        ("Ünïcödé & Co", "&ANw-n&AO8-c&APY-d&AOk- &- Co"),
        ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
        ("😀", "&2D3eAA-"),
        ("Entwürfe", "Entw&APw-rfe"),
        ("Éléments envoyés", "&AMk-l&AOk-ments envoy&AOk-s"),
        ("a\u{1}b", "a&AAE-b"),
        ("&", "&-"),
        ("&&", "&-&-"),
        ("é-", "&AOk--"),
        ("Проекты/日本", "&BB8EQAQ+BDUEOgRCBEs-/&ZeVnLA-"),
    ];

    #[test]
    fn mutf7_known_vectors() {
        for (plain, wire) in VECTORS {
            assert_eq!(encode(plain), *wire, "encode {plain:?}");
            assert_eq!(decode(wire).as_deref(), Ok(*plain), "decode {wire:?}");
            assert_eq!(decode_lossy(wire), *plain, "decode_lossy {wire:?}");
        }
    }

    #[test]
    fn mutf7_strict_rejections() {
        let err = |s: &str| decode(s).unwrap_err();
        assert!(matches!(
            err("Caf\u{e9}"),
            Mutf7Error::NotPrintableAscii {
                position: 3,
                ch: 'é'
            }
        ));
        assert!(matches!(err("a\tb"), Mutf7Error::NotPrintableAscii { .. }));
        assert!(matches!(
            err("a&AOk"),
            Mutf7Error::Unterminated { position: 1 }
        ));
        assert!(matches!(
            err("Foo&Bar"),
            Mutf7Error::Unterminated { position: 3 }
        ));
        assert!(matches!(
            err("Foo&B.r-"),
            Mutf7Error::InvalidBase64 {
                position: 5,
                ch: '.'
            }
        ));
        assert!(matches!(
            err("&AO/-"),
            Mutf7Error::InvalidBase64 { position: 3, .. }
        ));
        assert!(matches!(err("&A-"), Mutf7Error::BadLength { .. }));
        assert!(matches!(err("&AOl-"), Mutf7Error::BadLength { .. })); // non-zero padding bits
        assert!(matches!(err("&AOk1-"), Mutf7Error::BadLength { .. })); // 8 extra bits
        assert!(matches!(err("&AOkA-"), Mutf7Error::BadLength { .. })); // 14 extra bits
        assert_eq!(decode("&AOkA6Q-").as_deref(), Ok("éé"));
        assert!(matches!(err("&2D0-"), Mutf7Error::UnpairedSurrogate { .. }));
        assert!(matches!(err("&AGE-"), Mutf7Error::NonCanonical { .. })); // "a" encoded
        assert!(matches!(err("&AOk-&AOk-"), Mutf7Error::NonCanonical { .. })); // null shift
                                                                               // Every error formats to a sentence.
        assert!(err("&AGE-").to_string().contains("canonical"));
    }

    #[test]
    fn mutf7_lossy_keeps_what_it_cannot_decode() {
        assert_eq!(decode_lossy("Caf\u{e9}"), "Café"); // raw UTF-8 from a sloppy server
        assert_eq!(decode_lossy("Foo&Bar"), "Foo&Bar");
        assert_eq!(decode_lossy("a&AOk"), "a&AOk");
        assert_eq!(decode_lossy("&AGE-"), "a"); // non-canonical but decodable
        assert_eq!(decode_lossy("&AOk-&AOk-"), "éé");
        assert_eq!(decode_lossy("&2D0-"), "\u{fffd}");
        assert_eq!(decode_lossy("&A-"), "&A-");
        assert_eq!(decode_lossy("&"), "&");
        assert_eq!(decode_lossy("&-&"), "&&");
    }

    proptest! {
        #[test]
        fn mutf7_round_trip(s in any::<String>()) {
            let wire = encode(&s);
            prop_assert!(wire.bytes().all(|b| (0x20..=0x7e).contains(&b)));
            prop_assert_eq!(decode(&wire), Ok(s.clone()));
            prop_assert_eq!(decode_lossy(&wire), s);
        }

        #[test]
        fn mutf7_decode_success_is_canonical(s in "(&[A-Za-z0-9+,]{0,9}-?|[ -~]){0,10}") {
            let _ = decode_lossy(&s);
            if let Ok(plain) = decode(&s) {
                prop_assert_eq!(encode(&plain), s);
            }
        }

        #[test]
        fn mutf7_malformed_never_panics(s in any::<String>(), t in "[&A-Za-z0-9+,/=\\-é]{0,32}") {
            let _ = decode(&s);
            let _ = decode_lossy(&s);
            if let Ok(plain) = decode(&t) {
                prop_assert_eq!(encode(&plain), t.clone());
            }
            let _ = decode_lossy(&t);
        }
    }
}
