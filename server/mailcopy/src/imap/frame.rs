//! Framing: where one server response ends in the bytes read so far (pure).
//!
//! An IMAP response is a line ending in CRLF, except that a line ending in `{n}` (a literal)
//! continues with exactly `n` octets and then more of the same response (RFC 3501 4.3,
//! 7). Knowing where a response ends without parsing it is what lets the connection hand each
//! whole response to the parser, and skip one it cannot parse without losing its place.

/// The longest line (without literals) accepted. A `* SEARCH` answer for a very large
/// folder is the longest line a server sends in practice (a few MB for a million UIDs).
pub(crate) const MAX_LINE: usize = 64 << 20;

/// The largest literal accepted: larger than any message a server here accepts (Gmail and
/// Microsoft 365 cap messages at 35–150 MB); the engine never asks for a larger body.
pub(crate) const MAX_LITERAL: usize = 512 << 20;

/// What [`frame`] found at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A whole response of this many bytes (its final CRLF included).
    Complete(usize),
    /// Not complete yet: at least this many bytes are needed in all (a hint for buffering).
    Incomplete(usize),
    /// The server sent something that cannot be framed (a line or literal over the limits).
    TooLarge,
}

/// Finds the end of the first response in `buf`.
pub(crate) fn frame(buf: &[u8]) -> Frame {
    let mut pos = 0usize;
    loop {
        let Some(rest) = buf.get(pos..) else {
            return Frame::Incomplete(pos);
        };
        let Some(eol) = find_crlf(rest) else {
            if rest.len() > MAX_LINE {
                return Frame::TooLarge;
            }
            return Frame::Incomplete(buf.len() + 1);
        };
        let line_end = pos + eol;
        let line = buf.get(pos..line_end).unwrap_or_default();
        match literal_length(line) {
            None => return Frame::Complete(line_end + 2),
            Some(n) if n > MAX_LITERAL => return Frame::TooLarge,
            Some(n) => {
                pos = line_end + 2 + n;
                if pos > buf.len() {
                    return Frame::Incomplete(pos);
                }
            }
        }
    }
}

fn find_crlf(s: &[u8]) -> Option<usize> {
    s.windows(2).position(|w| w == b"\r\n")
}

/// `n` if the line ends with a literal announcement `{n}` (servers never send `{n+}`, but a
/// `+` is tolerated).
fn literal_length(line: &[u8]) -> Option<usize> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|b| *b == b'{')?;
    let digits = inner.get(open + 1..)?;
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 12 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(frame(b"* OK hi\r\n"), Frame::Complete(9));
        assert_eq!(frame(b"* OK hi\r\nA1 OK\r\n"), Frame::Complete(9));
        assert!(matches!(frame(b"* OK hi"), Frame::Incomplete(_)));
        assert!(matches!(frame(b"* OK hi\r"), Frame::Incomplete(_)));
        assert!(matches!(frame(b""), Frame::Incomplete(_)));
    }

    #[test]
    fn literals() {
        let r = b"* 1 FETCH (BODY[] {5}\r\nab\r\nc UID 3)\r\nA1 OK\r\n";
        assert_eq!(frame(r), Frame::Complete(r.len() - 7));
        // The literal may itself end in CRLF or contain `{n}`-looking text.
        let r = b"* 1 FETCH (BODY[] {6}\r\n{2}\r\n)\r\n";
        assert_eq!(frame(r), Frame::Complete(r.len()));
        // Cut inside the literal, and right after it.
        assert_eq!(frame(b"* 1 FETCH (BODY[] {5}\r\nab"), Frame::Incomplete(28));
        assert!(matches!(
            frame(b"* 1 FETCH (BODY[] {5}\r\nabcde"),
            Frame::Incomplete(_)
        ));
        // Two literals in one response.
        let r = b"* LIST () {1}\r\n/ {3}\r\nabc\r\n";
        assert_eq!(frame(r), Frame::Complete(r.len()));
        let r = b"* 0 FETCH (BODY[] {0}\r\n)\r\n";
        assert_eq!(frame(r), Frame::Complete(r.len()));
    }

    #[test]
    fn not_literals() {
        assert_eq!(frame(b"* OK {x}\r\n"), Frame::Complete(10));
        assert_eq!(frame(b"* OK {}\r\n"), Frame::Complete(9));
        assert_eq!(frame(b"* OK text }\r\n"), Frame::Complete(13));
    }

    #[test]
    fn limits() {
        let big = format!("* 1 FETCH (BODY[] {{{}}}\r\n", MAX_LITERAL + 1);
        assert_eq!(frame(big.as_bytes()), Frame::TooLarge);
        assert_eq!(
            frame(b"* 1 FETCH (BODY[] {9999999999999}\r\n"),
            Frame::Complete(35)
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_stays_in_bounds(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            match frame(&bytes) {
                Frame::Complete(n) => {
                    proptest::prop_assert!(n <= bytes.len() && n >= 2);
                    proptest::prop_assert_eq!(&bytes[n - 2..n], b"\r\n");
                }
                // More bytes than were given are needed.
                Frame::Incomplete(n) => proptest::prop_assert!(n > bytes.len()),
                Frame::TooLarge => {}
            }
        }

        #[test]
        fn literal_round_trip(body in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let mut r = format!("* 1 FETCH (UID 1 BODY[] {{{}}}\r\n", body.len()).into_bytes();
            r.extend_from_slice(&body);
            r.extend_from_slice(b")\r\n");
            let total = r.len();
            r.extend_from_slice(b"A1 OK done\r\n");
            proptest::prop_assert_eq!(frame(&r), Frame::Complete(total));
        }
    }

    /// One response: lines of text, each but the last ending in a literal `{n}` (or `{n+}`)
    /// followed by `n` arbitrary bytes (CRLF and `{5}` included).
    fn response() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let literal = (
            "[ -~]{0,20}",
            any::<bool>(),
            proptest::collection::vec(
                prop_oneof![
                    any::<u8>(),
                    Just(b'\r'),
                    Just(b'\n'),
                    Just(b'{'),
                    Just(b'}')
                ],
                0..60,
            ),
        );
        (proptest::collection::vec(literal, 0..4), "[ -|~]{0,20}").prop_map(|(literals, last)| {
            let mut r = Vec::new();
            for (text, plus, data) in literals {
                let plus = if plus { "+" } else { "" };
                r.extend_from_slice(format!("{text}{{{}{plus}}}\r\n", data.len()).as_bytes());
                r.extend_from_slice(&data);
            }
            r.extend_from_slice(last.as_bytes());
            r.extend_from_slice(b"\r\n");
            r
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]

        /// A whole response is framed whatever follows it; any part of it is incomplete, with
        /// a hint that never asks for more than the whole.
        #[test]
        fn responses_frame_exactly(
            r in response(),
            next in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
        ) {
            proptest::prop_assert_eq!(frame(&r), Frame::Complete(r.len()));
            let mut more = r.clone();
            more.extend_from_slice(&next);
            proptest::prop_assert_eq!(frame(&more), Frame::Complete(r.len()));
            for cut in 0..r.len() {
                match frame(&r[..cut]) {
                    Frame::Incomplete(n) => {
                        proptest::prop_assert!(cut < n && n <= r.len(), "{cut}: {n} of {}", r.len())
                    }
                    other => proptest::prop_assert!(false, "{cut}: {other:?}"),
                }
            }
        }
    }
}
