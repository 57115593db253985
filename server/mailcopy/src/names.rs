//! Typed values at the engine's edge: mailbox names, UIDs, UIDVALIDITY.
//!
//! A [`MailboxName`] is decoded once, where it enters the engine (LIST, LSUB, the planner's
//! output): the raw form (modified UTF-7, exactly as the server sent it) is what goes back on
//! the wire and what identities and checkpoints are keyed by; the decoded form is for people.
//! Nothing outside the engine decodes modified UTF-7.

use std::borrow::Borrow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::mutf7;

/// A mailbox name: the raw wire form (modified UTF-7) and its decoded display form.
///
/// Equality, ordering and hashing use the raw form only (two names are the same mailbox when
/// the server spells them the same). Serialized as the raw string, so stored checkpoints and
/// progress records keep their shape; the display form is derived again when read.
/// `Default` is the empty name, a placeholder (no mailbox has it).
#[derive(Clone, Default)]
pub struct MailboxName {
    raw: String,
    display: String,
}

impl MailboxName {
    /// From the raw form a server sent (or the engine will send). Malformed modified UTF-7 is
    /// decoded leniently: well-formed sections decoded, the rest shown as it came; the raw
    /// form is never changed.
    pub fn from_raw(raw: impl Into<String>) -> Self {
        let raw = raw.into();
        let display = mutf7::decode_lossy(&raw);
        MailboxName { raw, display }
    }

    /// From a name as a person writes it (Unicode): encoded to modified UTF-7 for the wire.
    pub fn from_display(display: &str) -> Self {
        MailboxName {
            raw: mutf7::encode(display),
            display: display.to_string(),
        }
    }

    /// The wire form (modified UTF-7), for commands, identities and checkpoints.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The decoded form, for pages, reports and logs.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// Whether this is the INBOX (case-insensitive, RFC 3501 5.1).
    pub fn is_inbox(&self) -> bool {
        self.raw.eq_ignore_ascii_case("INBOX")
    }
}

/// From the raw form (as [`MailboxName::from_raw`]).
impl From<&str> for MailboxName {
    fn from(raw: &str) -> Self {
        MailboxName::from_raw(raw)
    }
}

/// From the raw form (as [`MailboxName::from_raw`]).
impl From<String> for MailboxName {
    fn from(raw: String) -> Self {
        MailboxName::from_raw(raw)
    }
}

impl PartialEq for MailboxName {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl Eq for MailboxName {}

impl PartialOrd for MailboxName {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for MailboxName {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.raw.cmp(&other.raw)
    }
}

impl std::hash::Hash for MailboxName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.raw.hash(state);
    }
}

impl Borrow<str> for MailboxName {
    fn borrow(&self) -> &str {
        &self.raw
    }
}

impl PartialEq<str> for MailboxName {
    fn eq(&self, other: &str) -> bool {
        self.raw == other
    }
}

impl PartialEq<&str> for MailboxName {
    fn eq(&self, other: &&str) -> bool {
        self.raw == *other
    }
}

impl fmt::Debug for MailboxName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.raw == self.display {
            write!(f, "{:?}", self.raw)
        } else {
            write!(f, "{:?} ({:?})", self.raw, self.display)
        }
    }
}

/// The display form: what a person reads.
impl fmt::Display for MailboxName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

impl Serialize for MailboxName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.raw)
    }
}

impl<'de> Deserialize<'de> for MailboxName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(MailboxName::from_raw)
    }
}

/// A message UID (RFC 3501 2.3.1.1); never 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Uid(pub u32);

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A mailbox's UIDVALIDITY: UIDs are comparable only under the same value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UidValidity(pub u32);

impl fmt::Display for UidValidity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn raw_and_display() {
        let n = MailboxName::from_raw("Entw&APw-rfe");
        assert_eq!(n.raw(), "Entw&APw-rfe");
        assert_eq!(n.display(), "Entwürfe");
        assert_eq!(n.to_string(), "Entwürfe");
        assert_eq!(MailboxName::from_display("Entwürfe"), n);
        assert!(MailboxName::from_raw("inbox").is_inbox());
        assert!(!n.is_inbox());
    }

    #[test]
    fn malformed_raw_is_kept() {
        let n = MailboxName::from_raw("a&Jjo");
        assert_eq!(n.raw(), "a&Jjo");
        assert!(!n.display().is_empty());
    }

    #[test]
    fn serde_uses_the_raw_form() {
        let n = MailboxName::from_raw("Entw&APw-rfe");
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, "\"Entw&APw-rfe\"");
        let back: MailboxName = serde_json::from_str(&json).unwrap();
        assert_eq!(back.display(), "Entwürfe");
        assert_eq!(serde_json::to_string(&Uid(7)).unwrap(), "7");
    }

    #[test]
    fn equality_by_raw_form() {
        use std::collections::BTreeMap;
        let mut m = BTreeMap::new();
        m.insert(MailboxName::from_raw("a"), 1);
        assert_eq!(m.get("a"), Some(&1));
        assert_eq!(MailboxName::from_raw("x"), "x");
    }
}
