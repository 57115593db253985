//! Pure helpers about single messages: flags, refusal classification, summaries.

use std::collections::BTreeSet;

use super::report::MessageSummary;
use crate::flag::Flag;

pub(crate) fn is_deleted(flags: &[Flag]) -> bool {
    flags.iter().any(Flag::is_deleted)
}

/// The flags to carry over: the source's minus `\Recent`, duplicates removed, order kept.
pub(crate) fn flags_to_copy(flags: &[Flag]) -> Vec<Flag> {
    let mut seen = BTreeSet::new();
    flags
        .iter()
        .filter(|f| !f.is_recent())
        .filter(|f| seen.insert(*f))
        .cloned()
        .collect()
}

/// What the destination lets us store in one mailbox, from SELECT.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeywordPolicy {
    /// PERMANENTFLAGS holds `\*` (or the server sent no PERMANENTFLAGS at all).
    pub allow_new: bool,
    /// Keywords known to be storable: listed in PERMANENTFLAGS or FLAGS, or accepted by an
    /// earlier APPEND of this run ([`Flag`] compares without regard to case).
    pub known: BTreeSet<Flag>,
}

impl KeywordPolicy {
    pub(crate) fn from_select(permanent: Option<&[Flag]>, flags: &[Flag]) -> Self {
        let keywords = |v: &[Flag]| {
            v.iter()
                .filter(|f| f.is_keyword())
                .cloned()
                .collect::<Vec<_>>()
        };
        let mut known = BTreeSet::new();
        let allow_new = match permanent {
            // RFC 3501 §7.1: without PERMANENTFLAGS the client assumes all FLAGS can be
            // changed permanently; a server that says nothing is given the benefit of the doubt.
            None => {
                known.extend(keywords(flags));
                true
            }
            Some(p) => {
                known.extend(keywords(p));
                // FLAGS lists keywords that already exist in the mailbox: they are storable
                // too when new ones may be created.
                let allow = p.iter().any(Flag::is_wildcard);
                if allow {
                    known.extend(keywords(flags));
                }
                allow
            }
        };
        KeywordPolicy { allow_new, known }
    }

    /// Splits `flags` into what may be sent and the keywords refused up front (only when
    /// PERMANENTFLAGS lacks `\*`: e.g. Microsoft Exchange / Office 365, which store no
    /// keywords).
    pub(crate) fn filter(&self, flags: &[Flag]) -> (Vec<Flag>, Vec<Flag>) {
        if self.allow_new {
            return (flags.to_vec(), Vec::new());
        }
        flags.iter().cloned().partition(|f| self.storable(f))
    }

    /// The flags of `flags` whose keywords are known to be storable.
    pub(crate) fn only_known(&self, flags: &[Flag]) -> Vec<Flag> {
        flags.iter().filter(|f| self.storable(f)).cloned().collect()
    }

    pub(crate) fn learn(&mut self, flags: &[Flag]) {
        self.known
            .extend(flags.iter().filter(|f| f.is_keyword()).cloned());
    }

    fn storable(&self, f: &Flag) -> bool {
        f.is_system() || self.known.contains(f)
    }
}

/// What an APPEND refusal means for the copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The destination is full: every further APPEND would fail the same way. Fatal.
    QuotaFull,
    /// This message is too big for the destination. Rejected; the copy goes on.
    TooBig,
    /// The destination mailbox does not exist (any more).
    NoMailbox,
    /// Anything else: this message is refused (maybe for its keywords).
    Other,
}

/// Classifies the text of a tagged NO/BAD to APPEND (response code included).
pub(crate) fn classify_refusal(text: &str) -> Refusal {
    let upper = text.to_ascii_uppercase();
    // RFC 5530 codes. Dovecot: "NO [OVERQUOTA] Quota exceeded (mailbox for user is full)" for a
    // full quota, "NO [LIMIT] Mail size is larger than the maximum size allowed by server
    // configuration" for quota_max_mail_size. RFC 7889 (APPENDLIMIT) uses [TOOBIG].
    if upper.contains("[OVERQUOTA]") {
        return Refusal::QuotaFull;
    }
    if upper.contains("[TOOBIG]") || upper.contains("[LIMIT]") {
        return Refusal::TooBig;
    }
    if upper.contains("[TRYCREATE]") || upper.contains("[NONEXISTENT]") {
        return Refusal::NoMailbox;
    }
    // Cyrus IMAP before RFC 5530 codes answers a full quota with a bare "NO Over quota".
    let lower = text.to_ascii_lowercase();
    if lower.contains("over quota") || lower.contains("quota exceeded") {
        return Refusal::QuotaFull;
    }
    Refusal::Other
}

const SUMMARY_MAX: usize = 200;

/// Date, From and Subject of a message (or of its header fields alone), unfolded, as text.
/// Encoded words are left as they are; 8-bit bytes are read as UTF-8, lossily.
pub(crate) fn summarize(raw: &[u8], size: u64, internaldate: Option<&str>) -> MessageSummary {
    let header_end = find(raw, b"\r\n\r\n")
        .or_else(|| find(raw, b"\n\n"))
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..header_end]);
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in head.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = fields.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let get = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| shorten(v))
    };
    MessageSummary {
        date: get("date").or_else(|| internaldate.map(|d| d.trim().to_string())),
        from: get("from"),
        subject: get("subject"),
        size,
    }
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= SUMMARY_MAX {
        return s.to_string();
    }
    let mut out: String = s.chars().take(SUMMARY_MAX).collect();
    out.push('…');
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    use crate::flag::flags as v;

    #[test]
    fn recent_is_dropped_and_duplicates_removed() {
        assert_eq!(
            flags_to_copy(&v(&["\\Seen", "\\Recent", "$Label1", "\\seen", "Work"])),
            v(&["\\Seen", "$Label1", "Work"])
        );
        assert!(is_deleted(&v(&["\\deleted"])));
    }

    #[test]
    fn keyword_policy() {
        let p = KeywordPolicy::from_select(
            Some(&v(&["\\Seen", "\\Flagged", "\\*"])),
            &v(&["\\Seen", "Old"]),
        );
        assert!(p.allow_new);
        assert_eq!(
            p.filter(&v(&["\\Seen", "New"])),
            (v(&["\\Seen", "New"]), vec![])
        );
        assert_eq!(
            p.only_known(&v(&["\\Seen", "New", "old"])),
            v(&["\\Seen", "old"])
        );

        // Exchange-style: no \* and no keywords at all.
        let p = KeywordPolicy::from_select(Some(&v(&["\\Seen", "\\Deleted"])), &v(&["\\Seen"]));
        assert!(!p.allow_new);
        assert_eq!(
            p.filter(&v(&["\\Seen", "$Forwarded", "Work"])),
            (v(&["\\Seen"]), v(&["$Forwarded", "Work"]))
        );
        let p = KeywordPolicy::from_select(Some(&v(&["\\Seen", "$Forwarded"])), &[]);
        assert_eq!(
            p.filter(&v(&["\\Seen", "$forwarded", "Work"])),
            (v(&["\\Seen", "$forwarded"]), v(&["Work"]))
        );
        // No PERMANENTFLAGS at all.
        assert!(KeywordPolicy::from_select(None, &[]).allow_new);
    }

    #[test]
    fn refusals() {
        assert_eq!(
            classify_refusal("[OVERQUOTA] Quota exceeded (mailbox for user is full)"),
            Refusal::QuotaFull
        );
        assert_eq!(
            classify_refusal(
                "[LIMIT] Mail size is larger than the maximum size allowed by server configuration"
            ),
            Refusal::TooBig
        );
        assert_eq!(classify_refusal("[TOOBIG] too big"), Refusal::TooBig);
        assert_eq!(classify_refusal("Over quota"), Refusal::QuotaFull);
        assert_eq!(
            classify_refusal("[TRYCREATE] Mailbox doesn't exist: X"),
            Refusal::NoMailbox
        );
        assert_eq!(
            classify_refusal("[CANNOT] Keyword length too long"),
            Refusal::Other
        );
    }

    #[test]
    fn summaries() {
        let raw = b"From: A <a@x>\r\nSubject: hello\r\n  world\r\nDate: Mon, 1 Jan 2001 00:00:00 +0000\r\n\r\nbody\r\nSubject: no\r\n";
        let s = summarize(raw, 99, None);
        assert_eq!(s.from.as_deref(), Some("A <a@x>"));
        assert_eq!(s.subject.as_deref(), Some("hello world"));
        assert_eq!(s.date.as_deref(), Some("Mon, 1 Jan 2001 00:00:00 +0000"));
        assert_eq!(s.size, 99);
        let s = summarize(b"X: y\r\n\r\n", 5, Some(" 1-Jan-2001 00:00:00 +0000"));
        assert_eq!(s.date.as_deref(), Some("1-Jan-2001 00:00:00 +0000"));
        assert_eq!(s.subject, None);
        let long = format!("Subject: {}\r\n\r\n", "x".repeat(500));
        assert_eq!(
            summarize(long.as_bytes(), 1, None)
                .subject
                .unwrap()
                .chars()
                .count(),
            SUMMARY_MAX + 1
        );
    }
}
