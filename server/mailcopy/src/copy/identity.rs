//! Which source message is already at the destination: identities from the metadata pass,
//! and the per-folder multiset matching that makes a re-run append only what is missing.
//!
//! A message's identity is built from what a cheap `UID FETCH` returns: RFC822.SIZE,
//! INTERNALDATE (compared as an instant: Dovecot answers `+0000` whatever zone was
//! APPENDed), and the header fields `Message-ID Date From To Cc Subject`, reduced to a
//! Message-ID and a digest of their normalized form (see [`HeaderIdentity::of`]).
//!
//! Matching pairs source and destination messages, each used at most once, in rounds from the
//! strictest key to the loosest; a round only sees what earlier rounds left:
//!
//! 0. the checkpoint's source → destination UID map (the destination's `[APPENDUID]`);
//! 1. header digest + INTERNALDATE + size (digest rather than Message-ID alone: Message-IDs
//!    go missing and are shared by different messages);
//! 2. header digest + INTERNALDATE, size ignored;
//! 3. Message-ID + INTERNALDATE.
//!
//! Rounds 2 and 3 only use a key whose remaining source messages all look alike (one size, and
//! for round 3 one header digest): otherwise they are different messages and the pairing could
//! pick the wrong one — the message is copied again rather than risked.
//!
//! k source messages with one key and j < k destination ones → k − j are left to copy;
//! destination messages left over are never touched.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::Hash;

use sha2::{Digest, Sha256};

use crate::flag::Flag;

/// The header fields the metadata pass fetches (`BODY.PEEK[HEADER.FIELDS (...)]`).
pub(crate) const IDENTITY_FIELDS: &str = "MESSAGE-ID DATE FROM TO CC SUBJECT";

/// What the header fields of one message reduce to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct HeaderIdentity {
    /// Hash of the Message-ID (angle-bracket content, whitespace removed); `None` without one.
    pub message_id: Option<u64>,
    /// Hash of every identity field, normalized.
    pub digest: u128,
}

fn sha(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

fn u128_of(h: &[u8; 32]) -> u128 {
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    u128::from_be_bytes(b)
}

fn u64_of(h: &[u8; 32]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&h[..8]);
    u64::from_be_bytes(b)
}

/// SHA-256 of a whole message (the `--verify` read-back check).
pub(crate) fn body_digest(body: &[u8]) -> [u8; 32] {
    sha(body)
}

/// A header value as compared: folded lines joined, runs of white space (CR included) made
/// one space, trimmed; nothing decoded. Every 8-bit byte becomes `X`: Cyrus IMAP
/// (`munge8bit: yes`) rewrites raw 8-bit header bytes to `X`, and this keeps a message it
/// rewrote equal to the source's.
fn normalize_value(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut space = false;
    for &b in v {
        if matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(b' ');
            space = false;
        }
        out.push(if b >= 0x80 { b'X' } else { b });
    }
    out
}

/// The fields of a header block: (lower-case name, normalized value), in order. Stops at the
/// first empty line. CRLF and bare LF are the same (Dovecot serves CRLF for a message stored
/// with bare LF).
fn header_fields(raw: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut fields: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for line in raw.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some((_, v)) = fields.last_mut() {
                v.push(b' ');
                v.extend_from_slice(line);
            }
            continue;
        }
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let name = line[..colon].trim_ascii().to_ascii_lowercase();
            fields.push((name, line[colon + 1..].to_vec()));
        }
    }
    for (_, v) in fields.iter_mut() {
        *v = normalize_value(v);
    }
    fields
}

impl HeaderIdentity {
    /// From a header block as `BODY[HEADER.FIELDS (...)]` returns it (or a whole message:
    /// only the identity fields count). Field order does not matter (Microsoft Exchange
    /// re-renders headers, and may reorder them); folding, CRLF/LF and white space do not
    /// either.
    pub(crate) fn of(raw: &[u8]) -> HeaderIdentity {
        let wanted: Vec<Vec<u8>> = IDENTITY_FIELDS
            .split(' ')
            .map(|f| f.to_ascii_lowercase().into_bytes())
            .collect();
        let mut fields: Vec<(Vec<u8>, Vec<u8>)> = header_fields(raw)
            .into_iter()
            .filter(|(n, _)| wanted.contains(n))
            .collect();
        // Stable: several fields of one name keep their order.
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        let mut canonical = Vec::new();
        for (n, v) in &fields {
            canonical.extend_from_slice(n);
            canonical.push(b':');
            canonical.extend_from_slice(v);
            canonical.push(b'\n');
        }
        let message_id = fields
            .iter()
            .find(|(n, _)| n == b"message-id")
            .and_then(|(_, v)| {
                let inner = match (
                    v.iter().position(|&b| b == b'<'),
                    v.iter().rposition(|&b| b == b'>'),
                ) {
                    (Some(a), Some(b)) if a < b => &v[a + 1..b],
                    _ => &v[..],
                };
                let id: Vec<u8> = inner.iter().copied().filter(|b| *b != b' ').collect();
                (!id.is_empty()).then(|| u64_of(&sha(&id)))
            });
        HeaderIdentity {
            message_id,
            digest: u128_of(&sha(&canonical)),
        }
    }
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An IMAP date-time (`"dd-Mon-yyyy hh:mm:ss +zzzz"`, the day possibly space-padded) as
/// seconds since the Unix epoch. `None` when it is not in that syntax.
pub(crate) fn parse_internaldate(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, rest) = s.split_once(' ')?;
    let (time, zone) = rest.trim_start().split_once(' ')?;
    let mut dp = date.split('-');
    let d: u32 = dp.next()?.trim().parse().ok()?;
    let mon = dp.next()?.to_ascii_lowercase();
    let m = MONTHS.iter().position(|x| *x == mon)? as u32 + 1;
    let y: i64 = dp.next()?.parse().ok()?;
    let mut tp = time.split(':');
    let hh: i64 = tp.next()?.parse().ok()?;
    let mm: i64 = tp.next()?.parse().ok()?;
    let ss: i64 = tp.next()?.parse().ok()?;
    let zone = zone.trim();
    let (sign, digits) = match zone.as_bytes().first()? {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !(1..=31).contains(&d) {
        return None;
    }
    let z: i64 = digits.parse().ok()?;
    let offset = sign * ((z / 100) * 3600 + (z % 100) * 60);
    Some(days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss - offset)
}

/// One message as matching sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ident {
    pub uid: u32,
    pub size: u32,
    /// INTERNALDATE as an instant.
    pub instant: Option<i64>,
    /// `None` when the header fields were not fetched (a message paired by the checkpoint).
    pub header: Option<HeaderIdentity>,
    /// Gmail's message id (`X-GM-MSGID`), where the server offers `X-GM-EXT-1`.
    pub gm_msgid: Option<u64>,
}

/// What makes two source messages in different folders one message, for the `\All`
/// folder's remainder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ElsewhereKey {
    /// Gmail's message id (`X-GM-MSGID`): one message, however many labels list it; two
    /// messages with the same bytes are still two.
    Gmail(u64),
    /// Elsewhere: header digest, INTERNALDATE and size (Gmail lists one message in each of
    /// its labels and in All Mail with all three equal). A byte-identical twin then counts as
    /// the same message.
    Content(u128, Option<i64>, u32),
}

impl Ident {
    /// `None` without Gmail's id and without the header fields.
    pub(crate) fn elsewhere_key(&self) -> Option<ElsewhereKey> {
        match self.gm_msgid {
            Some(id) => Some(ElsewhereKey::Gmail(id)),
            None => self
                .header
                .map(|h| ElsewhereKey::Content(h.digest, self.instant, self.size)),
        }
    }
}

/// The `\All` folder's remainder: of its messages still to copy (`keys` in the same order),
/// those no other copied folder holds (`elsewhere`). A message without a key is kept (copied
/// rather than risked). Returns which indices are kept.
pub(crate) fn remainder_of_all(
    keys: &[Option<ElsewhereKey>],
    elsewhere: &HashSet<ElsewhereKey>,
) -> Vec<bool> {
    keys.iter()
        .map(|k| k.is_none_or(|k| !elsewhere.contains(&k)))
        .collect()
}

/// For a destination that merges APPENDs of one Message-ID into one message (Gmail, see
/// [`crate::profile::Limits::merges_by_message_id`]): the source messages (indices into
/// `src`) left unpaired by `pairs` that the folder holds merged — their Message-ID is that of
/// a destination message, or of an earlier source message left to copy (appending it would
/// only merge it into that one). A message without a Message-ID is never merged.
pub(crate) fn merged_at_destination(src: &[Ident], dst: &[Ident], pairs: &[Pair]) -> Vec<usize> {
    let mut held: HashSet<u64> = dst
        .iter()
        .filter_map(|d| d.header.and_then(|h| h.message_id))
        .collect();
    let paired: HashSet<usize> = pairs.iter().map(|p| p.src).collect();
    let mut merged = Vec::new();
    for (i, s) in src.iter().enumerate() {
        if paired.contains(&i) {
            continue;
        }
        let Some(id) = s.header.and_then(|h| h.message_id) else {
            continue;
        };
        // The first one left is appended (and then held); the later ones merge into it.
        if !held.insert(id) {
            merged.push(i);
        }
    }
    merged
}

/// How a pair was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MatchedBy {
    /// The checkpoint's UID map.
    Checkpoint,
    /// Header digest, INTERNALDATE and size.
    Exact,
    /// Header digest and INTERNALDATE; the size differs.
    HeadersAndDate,
    /// Message-ID and INTERNALDATE; size and header digest differ.
    MessageIdAndDate,
}

/// A source message (index into the source slice) found at the destination (index into the
/// destination slice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pair {
    pub src: usize,
    pub dst: usize,
    pub by: MatchedBy,
}

/// Round 0 only: pairs from a source → destination UID map.
pub(crate) fn pair_by_map(src: &[Ident], dst: &[Ident], map: &BTreeMap<u32, u32>) -> Vec<Pair> {
    let by_uid: HashMap<u32, usize> = dst.iter().enumerate().map(|(i, d)| (d.uid, i)).collect();
    let mut used = vec![false; dst.len()];
    let mut pairs = Vec::new();
    for (i, s) in src.iter().enumerate() {
        let Some(j) = map.get(&s.uid).and_then(|d| by_uid.get(d)).copied() else {
            continue;
        };
        if !used[j] {
            used[j] = true;
            pairs.push(Pair {
                src: i,
                dst: j,
                by: MatchedBy::Checkpoint,
            });
        }
    }
    pairs
}

struct Matcher<'a> {
    src: &'a [Ident],
    dst: &'a [Ident],
    src_used: Vec<bool>,
    dst_used: Vec<bool>,
    pairs: Vec<Pair>,
}

impl Matcher<'_> {
    fn add(&mut self, p: Pair) {
        self.src_used[p.src] = true;
        self.dst_used[p.dst] = true;
        self.pairs.push(p);
    }

    /// One round: source messages left, in order, take the first destination message left
    /// with the same key.
    fn round<K: Hash + Eq>(
        &mut self,
        by: MatchedBy,
        key: impl Fn(&Ident) -> Option<K>,
        allowed: impl Fn(&K) -> bool,
    ) {
        let mut waiting: HashMap<K, VecDeque<usize>> = HashMap::new();
        for (j, d) in self.dst.iter().enumerate() {
            if self.dst_used[j] {
                continue;
            }
            if let Some(k) = key(d) {
                waiting.entry(k).or_default().push_back(j);
            }
        }
        if waiting.is_empty() {
            return;
        }
        for i in 0..self.src.len() {
            if self.src_used[i] {
                continue;
            }
            let Some(k) = key(&self.src[i]) else { continue };
            if !allowed(&k) {
                continue;
            }
            if let Some(j) = waiting.get_mut(&k).and_then(VecDeque::pop_front) {
                self.add(Pair { src: i, dst: j, by });
            }
        }
    }
}

/// The keys under which every source message left looks the same (`look`): pairing by them
/// cannot take one message for another.
fn unambiguous<K: Hash + Eq>(
    m: &Matcher<'_>,
    key: impl Fn(&Ident) -> Option<K>,
    look: impl Fn(&Ident) -> (u128, u32),
) -> HashSet<K> {
    let mut looks: HashMap<K, HashSet<(u128, u32)>> = HashMap::new();
    for (i, s) in m.src.iter().enumerate() {
        if m.src_used[i] {
            continue;
        }
        if let Some(k) = key(s) {
            looks.entry(k).or_default().insert(look(s));
        }
    }
    looks
        .into_iter()
        .filter(|(_, l)| l.len() == 1)
        .map(|(k, _)| k)
        .collect()
}

/// Pairs every source message that is at the destination (see the module documentation).
/// `src` and `dst` are in UID order; the result is sorted by source index.
pub(crate) fn match_messages(src: &[Ident], dst: &[Ident], map: &BTreeMap<u32, u32>) -> Vec<Pair> {
    let mut m = Matcher {
        src,
        dst,
        src_used: vec![false; src.len()],
        dst_used: vec![false; dst.len()],
        pairs: Vec::new(),
    };
    for p in pair_by_map(src, dst, map) {
        m.add(p);
    }
    m.round(
        MatchedBy::Exact,
        |x| x.header.map(|h| (h.digest, x.instant, x.size)),
        |_| true,
    );
    // Microsoft Exchange re-renders MIME on FETCH (size and bytes change, the header fields
    // mostly stay), Dovecot serves CRLF for a message stored with bare LF (size changes):
    // the size is dropped from the key.
    let key2 = |x: &Ident| x.header.map(|h| (h.digest, x.instant));
    let alike2 = unambiguous(&m, key2, |x| (0, x.size));
    m.round(MatchedBy::HeadersAndDate, key2, |k| alike2.contains(k));
    // Header fields re-encoded too (Microsoft Exchange rewriting 8-bit or folded fields): the
    // Message-ID and INTERNALDATE remain.
    let key3 = |x: &Ident| {
        x.header
            .and_then(|h| h.message_id)
            .map(|id| (id, x.instant))
    };
    let alike3 = unambiguous(&m, key3, |x| (x.header.map_or(0, |h| h.digest), x.size));
    m.round(MatchedBy::MessageIdAndDate, key3, |k| alike3.contains(k));
    let mut pairs = m.pairs;
    pairs.sort_by_key(|p| p.src);
    pairs
}

/// What to change at the destination so that its flags equal the source's (`\Recent`
/// ignored; [`Flag`] compares without regard to case). `(add, remove)`, in the source's and
/// the destination's spelling.
pub(crate) fn flag_changes(source: &[Flag], destination: &[Flag]) -> (Vec<Flag>, Vec<Flag>) {
    let set =
        |v: &[Flag]| -> HashSet<Flag> { v.iter().filter(|f| !f.is_recent()).cloned().collect() };
    let (s, d) = (set(source), set(destination));
    let mut seen = HashSet::new();
    let add = source
        .iter()
        .filter(|f| !f.is_recent() && !d.contains(*f))
        .filter(|f| seen.insert((*f).clone()))
        .cloned()
        .collect();
    let remove = destination
        .iter()
        .filter(|f| !f.is_recent() && !s.contains(*f))
        .filter(|f| seen.insert((*f).clone()))
        .cloned()
        .collect();
    (add, remove)
}

/// UID sets for commands: consecutive UIDs as ranges, at most `max_ranges` ranges per set
/// (a command line stays far below the servers' limits; Dovecot's is 64 KB).
pub(crate) fn uid_sets(uids: &[u32], max_ranges: usize) -> Vec<String> {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut ranges: Vec<(u32, u32)> = Vec::new();
    for u in sorted {
        match ranges.last_mut() {
            Some((_, hi)) if hi.checked_add(1) == Some(u) => *hi = u,
            _ => ranges.push((u, u)),
        }
    }
    ranges
        .chunks(max_ranges.max(1))
        .map(|chunk| {
            chunk
                .iter()
                .map(|(lo, hi)| {
                    if lo == hi {
                        lo.to_string()
                    } else {
                        format!("{lo}:{hi}")
                    }
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    use crate::flag::flags as v;

    #[test]
    fn the_remainder_of_all_is_what_no_other_folder_holds_and_what_cannot_be_told() {
        let key = |d: u128, t: i64, size: u32| Some(ElsewhereKey::Content(d, Some(t), size));
        let elsewhere: HashSet<ElsewhereKey> = [
            ElsewhereKey::Content(1, Some(10), 100),
            ElsewhereKey::Content(2, Some(20), 200),
        ]
        .into_iter()
        .collect();
        let keys = vec![
            key(1, 10, 100), // in a label
            key(3, 30, 300), // archived
            key(2, 20, 201), // same headers and date, another size: another message
            key(2, 21, 200), // another INTERNALDATE: another message
            None,            // no header fields: kept
            key(1, 10, 100), // a second listing of the labelled one
        ];
        assert_eq!(
            remainder_of_all(&keys, &elsewhere),
            vec![false, true, true, true, true, false]
        );
        assert_eq!(remainder_of_all(&keys, &HashSet::new()), vec![true; 6]);
    }

    #[test]
    fn gmails_message_id_tells_byte_identical_messages_apart() {
        let labelled = Ident {
            gm_msgid: Some(7),
            ..id(1, 10, 5, Some(1), 9)
        };
        // The same bytes and date, another Gmail message (archived): another key.
        let twin = Ident {
            gm_msgid: Some(8),
            ..labelled
        };
        assert_ne!(labelled.elsewhere_key(), twin.elsewhere_key());
        // Without Gmail's id the two are one message.
        let (a, b) = (
            Ident {
                gm_msgid: None,
                ..labelled
            },
            Ident {
                gm_msgid: None,
                ..twin
            },
        );
        assert_eq!(a.elsewhere_key(), b.elsewhere_key());
        // Gmail's id needs no header fields.
        let bare = Ident {
            header: None,
            ..labelled
        };
        assert_eq!(bare.elsewhere_key(), Some(ElsewhereKey::Gmail(7)));
        assert_eq!(
            Ident {
                gm_msgid: None,
                ..bare
            }
            .elsewhere_key(),
            None
        );
    }

    #[test]
    fn internaldates_compare_as_instants() {
        assert_eq!(parse_internaldate(" 1-Jan-1970 00:00:00 +0000"), Some(0));
        assert_eq!(
            parse_internaldate("01-Jan-1970 05:30:00 +0530"),
            Some(0),
            "the zone is applied"
        );
        // Dovecot answers +0000 whatever zone was APPENDed: the same instant.
        assert_eq!(
            parse_internaldate("07-Mar-2003 22:15:00 +0530"),
            parse_internaldate("07-Mar-2003 16:45:00 +0000")
        );
        assert_eq!(
            parse_internaldate("31-Dec-1998 20:15:00 -0800"),
            parse_internaldate("01-Jan-1999 04:15:00 +0000")
        );
        assert_eq!(parse_internaldate("yesterday"), None);
        assert_eq!(parse_internaldate("01-Foo-2000 00:00:00 +0000"), None);
        assert_eq!(parse_internaldate("01-Jan-2000 00:00:00 0000"), None);
    }

    #[test]
    fn header_identity_ignores_rendering() {
        let a = b"Subject: hello\r\n  world\r\nFrom: A <a@x>\r\nMessage-ID: <1@x>\r\n\r\n";
        // Bare LF, other folding, other field order, other white space, trailing fields the
        // server added that are not identity fields, name case.
        let b = b"message-id:  <1@x>\nFROM: A <a@x>\nsubject: hello world\nX-Other: y\n\n";
        assert_eq!(HeaderIdentity::of(a), HeaderIdentity::of(b));
        let c = b"Subject: hello world!\r\nFrom: A <a@x>\r\nMessage-ID: <1@x>\r\n\r\n";
        let (ia, ic) = (HeaderIdentity::of(a), HeaderIdentity::of(c));
        assert_ne!(ia.digest, ic.digest);
        assert_eq!(ia.message_id, ic.message_id);
        assert!(ia.message_id.is_some());
        assert_eq!(HeaderIdentity::of(b"Subject: x\r\n\r\n").message_id, None);
        // Only the header counts when given a whole message.
        assert_eq!(
            HeaderIdentity::of(b"Subject: x\r\n\r\nMessage-ID: <no>\r\n"),
            HeaderIdentity::of(b"Subject: x\r\n")
        );
        // Cyrus rewrites 8-bit header bytes to X.
        assert_eq!(
            HeaderIdentity::of(b"Subject: R\xe9sum\xc3\xa9\r\n"),
            HeaderIdentity::of(b"Subject: RXsumXX\r\n")
        );
    }

    fn id(uid: u32, size: u32, instant: i64, msgid: Option<u64>, digest: u128) -> Ident {
        Ident {
            uid,
            size,
            instant: Some(instant),
            header: Some(HeaderIdentity {
                message_id: msgid,
                digest,
            }),
            gm_msgid: None,
        }
    }

    fn pairs(src: &[Ident], dst: &[Ident], map: &BTreeMap<u32, u32>) -> Vec<(u32, u32, MatchedBy)> {
        match_messages(src, dst, map)
            .into_iter()
            .map(|p| (src[p.src].uid, dst[p.dst].uid, p.by))
            .collect()
    }

    #[test]
    fn multiset_k_minus_j() {
        // Three identical messages at the source, one at the destination: two to copy.
        let src = [
            id(1, 10, 5, Some(1), 7),
            id(2, 10, 5, Some(1), 7),
            id(3, 10, 5, Some(1), 7),
        ];
        let dst = [id(40, 10, 5, Some(1), 7)];
        assert_eq!(
            pairs(&src, &dst, &BTreeMap::new()),
            [(1, 40, MatchedBy::Exact)]
        );
        // More at the destination than at the source: nothing to copy, nothing removed.
        let dst = [
            id(40, 10, 5, Some(1), 7),
            id(41, 10, 5, Some(1), 7),
            id(42, 10, 5, Some(1), 7),
            id(43, 10, 5, Some(1), 7),
        ];
        assert_eq!(pairs(&src, &dst, &BTreeMap::new()).len(), 3);
    }

    #[test]
    fn a_merging_destination_holds_every_message_whose_message_id_it_has() {
        // Source: twins 1 and 2 (one Message-ID), 3 sharing its Message-ID with another
        // destination message, 4 and 5 sharing one not at the destination yet, 6 without one.
        let src = [
            id(1, 10, 5, Some(1), 7),
            id(2, 10, 5, Some(1), 7),
            id(3, 20, 6, Some(2), 8),
            id(4, 30, 7, Some(3), 9),
            id(5, 31, 8, Some(3), 10),
            id(6, 40, 9, None, 11),
            id(7, 40, 9, None, 11),
        ];
        let dst = [id(50, 10, 5, Some(1), 7), id(51, 99, 1, Some(2), 12)];
        let pairs = match_messages(&src, &dst, &BTreeMap::new());
        let merged: Vec<u32> = merged_at_destination(&src, &dst, &pairs)
            .into_iter()
            .map(|i| src[i].uid)
            .collect();
        // 1 is paired; 2 and 3 merge into what is there; 4 is appended and 5 merges into it;
        // 6 and 7 have no Message-ID: both are appended.
        assert_eq!(merged, [2, 3, 5]);
        assert_eq!(merged_at_destination(&src, &[], &[]).len(), 2);
    }

    #[test]
    fn shared_message_id_is_told_apart_by_the_digest() {
        let src = [id(1, 10, 5, Some(9), 1), id(2, 10, 5, Some(9), 2)];
        let dst = [id(7, 10, 5, Some(9), 2)];
        assert_eq!(
            pairs(&src, &dst, &BTreeMap::new()),
            [(2, 7, MatchedBy::Exact)]
        );
        // Rewritten destination (size and digest differ): the Message-ID + date key is
        // ambiguous at the source, so nothing is paired (a copy rather than a loss).
        let dst = [id(7, 99, 5, Some(9), 3)];
        assert_eq!(pairs(&src, &dst, &BTreeMap::new()), []);
    }

    #[test]
    fn different_messages_behind_one_loose_key_are_not_paired() {
        // Same header fields and date, other bodies (sizes 10 and 20); the destination altered
        // its one copy (size 15): which one it is cannot be told, so both are copied.
        let src = [id(1, 10, 5, None, 4), id(2, 20, 5, None, 4)];
        let dst = [id(9, 15, 5, None, 4)];
        assert_eq!(pairs(&src, &dst, &BTreeMap::new()), []);
        // Identical messages (one size) behind the key: k − j as usual.
        let src = [id(1, 10, 5, None, 4), id(2, 10, 5, None, 4)];
        assert_eq!(
            pairs(&src, &dst, &BTreeMap::new()),
            [(1, 9, MatchedBy::HeadersAndDate)]
        );
        // Round 3 likewise: one Message-ID and date, two sizes.
        let src = [id(1, 10, 5, Some(3), 4), id(2, 20, 5, Some(3), 4)];
        let dst = [id(9, 15, 5, Some(3), 8)];
        assert_eq!(pairs(&src, &dst, &BTreeMap::new()), []);
    }

    #[test]
    fn rewritten_destination_falls_back() {
        // Size differs, digest kept: round 2. Digest differs too: round 3 by Message-ID.
        let src = [
            id(1, 10, 5, Some(1), 11),
            id(2, 20, 6, Some(2), 12),
            id(3, 30, 7, None, 13),
        ];
        let dst = [
            id(5, 15, 5, Some(1), 11),
            id(6, 25, 6, Some(2), 99),
            id(7, 35, 7, None, 98),
        ];
        assert_eq!(
            pairs(&src, &dst, &BTreeMap::new()),
            [
                (1, 5, MatchedBy::HeadersAndDate),
                (2, 6, MatchedBy::MessageIdAndDate)
            ]
        );
        // Another date is another message.
        let dst = [id(5, 10, 6, Some(1), 11)];
        assert_eq!(pairs(&src, &dst, &BTreeMap::new()), []);
    }

    #[test]
    fn checkpoint_map_first() {
        let src = [id(1, 10, 5, Some(1), 7), id(2, 10, 5, Some(1), 7)];
        let dst = [
            Ident {
                uid: 50,
                size: 10,
                instant: Some(5),
                header: None,
                gm_msgid: None,
            },
            id(51, 10, 5, Some(1), 7),
        ];
        let map = BTreeMap::from([(2, 50), (1, 77)]);
        assert_eq!(
            pairs(&src, &dst, &map),
            [(1, 51, MatchedBy::Exact), (2, 50, MatchedBy::Checkpoint)]
        );
    }

    #[test]
    fn flags() {
        let (add, remove) = flag_changes(
            &v(&["\\Seen", "$Label1", "\\Recent", "Work"]),
            &v(&["\\seen", "\\Flagged", "work", "\\Recent"]),
        );
        assert_eq!(add, v(&["$Label1"]));
        assert_eq!(remove, v(&["\\Flagged"]));
        assert_eq!(flag_changes(&v(&["A"]), &v(&["a"])), (vec![], vec![]));
    }

    #[test]
    fn uid_set_strings() {
        assert_eq!(uid_sets(&[5, 1, 2, 3, 9, 10, 7], 10), ["1:3,5,7,9:10"]);
        assert_eq!(uid_sets(&[1, 3, 5], 2), ["1,3", "5"]);
        assert!(uid_sets(&[], 5).is_empty());
        assert_eq!(
            uid_sets(&[u32::MAX, u32::MAX - 1], 5),
            [format!("{}:{}", u32::MAX - 1, u32::MAX)]
        );
    }
}
