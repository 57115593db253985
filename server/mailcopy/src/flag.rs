//! Message flags as a typed value: system flags (`\Seen`, `\Answered`, `\Flagged`, `\Deleted`,
//! `\Draft`, `\Recent`, and `\*` in PERMANENTFLAGS) and keywords (`$Forwarded`, `Junk`, …).
//!
//! A [`Flag`] keeps the spelling the server sent (that is what goes back on the wire) and
//! compares, orders and hashes without regard to ASCII case: `\SEEN` and `\Seen` are one flag
//! (RFC 9051 §2.3.2 — servers differ in the case they answer with, e.g. Dovecot keeps a
//! keyword's first spelling, Exchange upper-cases none). It holds only what can be sent back
//! inside a flag list: no space, no control character, no `(`, `)`, `{`, `"`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One flag or keyword, as a server spelled it.
#[derive(Clone)]
pub struct Flag(String);

impl Flag {
    /// `\Seen`.
    pub fn seen() -> Flag {
        Flag("\\Seen".to_string())
    }

    /// A flag from its IMAP spelling; `None` when it could not be sent back in a flag list
    /// (empty, or a space, control character, `(`, `)`, `{` or `"` in it, or a `\` that does
    /// not start it).
    pub fn new(spelling: impl Into<String>) -> Option<Flag> {
        let s = spelling.into();
        let body = s.strip_prefix('\\').unwrap_or(&s);
        let sendable = !body.is_empty()
            && body
                .chars()
                .all(|c| !c.is_control() && !matches!(c, ' ' | '(' | ')' | '{' | '"' | '\\'));
        sendable.then_some(Flag(s))
    }

    /// The spelling, for the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A system flag (starts with `\`) rather than a keyword.
    pub fn is_system(&self) -> bool {
        self.0.starts_with('\\')
    }

    /// A keyword: everything that is not a system flag.
    pub fn is_keyword(&self) -> bool {
        !self.is_system()
    }

    /// `\Recent`: session state, never copied (RFC 3501: clients cannot set it).
    pub fn is_recent(&self) -> bool {
        self.0.eq_ignore_ascii_case("\\Recent")
    }

    /// `\Deleted`: the message is waiting for EXPUNGE.
    pub fn is_deleted(&self) -> bool {
        self.0.eq_ignore_ascii_case("\\Deleted")
    }

    /// `\*` in PERMANENTFLAGS: new keywords may be created.
    pub fn is_wildcard(&self) -> bool {
        self.0 == "\\*"
    }

    fn bytes_folded(&self) -> impl Iterator<Item = u8> + '_ {
        self.0.bytes().map(|b| b.to_ascii_lowercase())
    }
}

/// The flags of a list, space-separated, as inside `( … )` of APPEND and STORE.
pub fn flag_list(flags: &[Flag]) -> String {
    let mut out = String::new();
    for (i, f) in flags.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(f.as_str());
    }
    out
}

impl PartialEq for Flag {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl Eq for Flag {}

impl PartialOrd for Flag {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Flag {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.bytes_folded().cmp(other.bytes_folded())
    }
}

impl std::hash::Hash for Flag {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for b in self.bytes_folded() {
            state.write_u8(b);
        }
        state.write_u8(0xff);
    }
}

impl fmt::Debug for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Flag {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Flag::new(s.clone())
            .ok_or_else(|| serde::de::Error::custom(format!("not a sendable IMAP flag: {s:?}")))
    }
}

/// Flags from a list a server sent. One that could not be sent back (no real server sends
/// such a flag as an atom; a lenient parser might pass one through) is dropped with a warning.
pub(crate) fn from_server<S: AsRef<str>>(list: &[S]) -> Vec<Flag> {
    list.iter()
        .filter_map(|s| {
            let flag = Flag::new(s.as_ref());
            if flag.is_none() {
                tracing::warn!(
                    flag = s.as_ref(),
                    "a flag that cannot be sent back is ignored"
                );
            }
            flag
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) fn flags(list: &[&str]) -> Vec<Flag> {
    list.iter().map(|s| Flag::new(*s).unwrap()).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn case_insensitive_but_spelling_kept() {
        let a = Flag::new("\\SEEN").unwrap();
        assert_eq!(a, Flag::seen());
        assert_eq!(a.as_str(), "\\SEEN");
        let set: HashSet<Flag> = [a.clone(), Flag::seen()].into_iter().collect();
        assert_eq!(set.len(), 1);
        assert_eq!(a.cmp(&Flag::seen()), std::cmp::Ordering::Equal);
        assert!(Flag::new("Junk").unwrap() < Flag::new("nonjunk").unwrap());
    }

    #[test]
    fn kinds() {
        assert!(Flag::new("\\Recent").unwrap().is_recent());
        assert!(Flag::new("\\deleted").unwrap().is_deleted());
        assert!(Flag::new("\\*").unwrap().is_wildcard());
        assert!(Flag::new("$Forwarded").unwrap().is_keyword());
        assert!(Flag::new("\\Answered").unwrap().is_system());
    }

    #[test]
    fn only_sendable_spellings() {
        for bad in [
            "", "\\", "a b", "a(", "x)", "{3}", "q\"", "a\\b", "\\\\x", "t\r",
        ] {
            assert!(Flag::new(bad).is_none(), "{bad:?} accepted");
        }
        for good in ["$Label1", "Öffentlich", "\\Flagged", "NonJunk", "a]b"] {
            assert!(Flag::new(good).is_some(), "{good:?} refused");
        }
        assert_eq!(
            from_server(&["\\Seen", "a b", "Junk"]),
            flags(&["\\Seen", "Junk"])
        );
    }

    #[test]
    fn list_and_serde() {
        assert_eq!(flag_list(&flags(&["\\Seen", "$Work"])), "\\Seen $Work");
        assert_eq!(flag_list(&[]), "");
        let json = serde_json::to_string(&flags(&["\\Seen"])).unwrap();
        assert_eq!(json, "[\"\\\\Seen\"]");
        let back: Vec<Flag> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, flags(&["\\seen"]));
        assert!(serde_json::from_str::<Flag>("\"a b\"").is_err());
    }
}
