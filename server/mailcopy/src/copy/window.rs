//! The APPEND window: which pipelined APPENDs are unanswered, how each one ended, and what
//! may be recorded — a pure state machine. The executor does the I/O (sending, reading one
//! answer, counting the folder after a lost connection) and feeds the results in; every
//! decision about the window is made here and unit-tested with scripted answers.
//!
//! Rules (ARCHITECTURE.md, invariants of the APPEND window):
//! - at most `max_count` APPENDs and `max_bytes` of bodies unanswered; a message larger than
//!   the byte bound goes alone;
//! - answers are matched by tag and may arrive in any order; results are released in the
//!   order the messages were sent, so the report and the checkpoint keep the source order;
//! - a refused APPEND (NO/BAD) is handed back to be tried again alone, with the fall-backs,
//!   once everything sent before it has settled;
//! - after a lost connection with `k` APPENDs unanswered, the destination folder's count
//!   says how many of them were stored: the server stores one connection's APPENDs in order,
//!   so the first `n` of the `k` count as stored and the others are sent again. A count that
//!   makes no sense (fewer than before, or more than `k` new) stores none of them.

use std::collections::VecDeque;

use crate::imap::conn::Tag;
use crate::names::{Uid, UidValidity};

/// How an APPEND in the window ended (or not yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Sent, not answered yet.
    Pending,
    /// Stored, with the `[APPENDUID]` (validity, UID) when the server sent it.
    Stored(Option<(UidValidity, Uid)>),
    /// Refused, or not sent at all: to be tried again alone.
    Retry,
}

struct Entry<T> {
    /// `None`: the connection broke while it was being sent.
    tag: Option<Tag>,
    bytes: usize,
    answer: Answer,
    item: T,
}

/// What [`Window::connection_lost`] concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Landed {
    /// Unanswered APPENDs that count as stored.
    pub stored: u32,
    /// Messages the destination folder holds from now on.
    pub expected: u32,
}

/// The unanswered APPENDs of one lane, in the order they were sent.
pub(crate) struct Window<T> {
    entries: VecDeque<Entry<T>>,
    max_count: usize,
    max_bytes: usize,
}

impl<T> Window<T> {
    pub(crate) fn new(max_count: usize, max_bytes: usize) -> Self {
        Window {
            entries: VecDeque::new(),
            max_count: max_count.max(1),
            max_bytes,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether a message of `bytes` may be sent now without passing the byte bound (an
    /// empty window takes any message: a larger one goes alone).
    pub(crate) fn has_room_for(&self, bytes: usize) -> bool {
        self.entries.is_empty() || self.bytes() + bytes <= self.max_bytes
    }

    /// Whether the window holds as many APPENDs as it may (`limit`: the count allowed now,
    /// at most the window's own).
    pub(crate) fn is_full(&self, limit: usize) -> bool {
        self.entries.len() >= limit.min(self.max_count)
    }

    fn bytes(&self) -> usize {
        self.entries.iter().map(|e| e.bytes).sum()
    }

    /// An APPEND sent in full under `tag`.
    pub(crate) fn sent(&mut self, tag: Tag, bytes: usize, item: T) {
        self.push(Some(tag), bytes, Answer::Pending, item);
    }

    /// An APPEND whose sending broke the connection: maybe stored anyway (the folder's
    /// count tells, see [`Window::connection_lost`]).
    pub(crate) fn broken_while_sent(&mut self, bytes: usize, item: T) {
        self.push(None, bytes, Answer::Pending, item);
    }

    /// An APPEND refused before its body was sent: tried again alone.
    pub(crate) fn refused_before_sent(&mut self, bytes: usize, item: T) {
        self.push(None, bytes, Answer::Retry, item);
    }

    fn push(&mut self, tag: Option<Tag>, bytes: usize, answer: Answer, item: T) {
        self.entries.push_back(Entry {
            tag,
            bytes,
            answer,
            item,
        });
    }

    /// How many APPENDs wait for an answer.
    pub(crate) fn pending(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.answer == Answer::Pending)
            .count()
    }

    /// The tags to wait for. `None` when one of the pending APPENDs was not sent in full:
    /// the connection cannot be read any more (treat as lost).
    pub(crate) fn pending_tags(&self) -> Option<Vec<Tag>> {
        self.entries
            .iter()
            .filter(|e| e.answer == Answer::Pending)
            .map(|e| e.tag.clone())
            .collect()
    }

    /// The answer to the `k`-th of [`Window::pending_tags`]: stored (with its APPENDUID) or
    /// refused (`None`). Returns the item's entry so the caller can learn from it.
    pub(crate) fn answered(
        &mut self,
        k: usize,
        stored: Option<Option<(UidValidity, Uid)>>,
    ) -> Option<&T> {
        let entry = self
            .entries
            .iter_mut()
            .filter(|e| e.answer == Answer::Pending)
            .nth(k)?;
        entry.answer = match stored {
            Some(uid) => Answer::Stored(uid),
            None => Answer::Retry,
        };
        Some(&entry.item)
    }

    /// The connection was lost with APPENDs unanswered; the destination folder now holds
    /// `exists` messages, `expected` before the unanswered ones. Marks the first ones that
    /// landed as stored (without APPENDUID), the rest for sending again.
    pub(crate) fn connection_lost(&mut self, expected: u32, exists: u32) -> Landed {
        let pending = self.pending();
        let sensible = exists
            .checked_sub(expected)
            .map(|n| n as usize)
            .filter(|n| *n <= pending);
        let landed = sensible.unwrap_or(0);
        let mut left = landed;
        for e in self
            .entries
            .iter_mut()
            .filter(|e| e.answer == Answer::Pending)
        {
            if left > 0 {
                left -= 1;
                e.answer = Answer::Stored(None);
            } else {
                e.answer = Answer::Retry;
            }
        }
        Landed {
            stored: landed as u32,
            // A count that makes no sense is taken as it is: what the folder holds now.
            expected: if sensible.is_some() {
                expected + landed as u32
            } else {
                exists
            },
        }
    }

    /// The stored APPENDs at the front, in order, up to the first one that is not settled.
    pub(crate) fn take_stored_front(&mut self) -> Vec<(T, Option<(UidValidity, Uid)>)> {
        let mut out = Vec::new();
        while let Some(Answer::Stored(uid)) = self.entries.front().map(|e| e.answer) {
            if let Some(e) = self.entries.pop_front() {
                out.push((e.item, uid));
            }
        }
        out
    }

    /// Whether the front APPEND must be tried again alone (so everything else must settle
    /// first).
    pub(crate) fn front_needs_retry(&self) -> bool {
        self.entries.front().map(|e| e.answer) == Some(Answer::Retry)
    }

    /// Empties the window once nothing is pending: every entry in order with how it ended
    /// (`Stored` or `Retry`; a `Pending` one is returned as `Retry`, which only happens if
    /// the caller skipped [`Window::connection_lost`]).
    pub(crate) fn drain(&mut self) -> Vec<(T, Answer)> {
        self.entries
            .drain(..)
            .map(|e| {
                let answer = match e.answer {
                    Answer::Pending => Answer::Retry,
                    other => other,
                };
                (e.item, answer)
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tag(n: u32) -> Tag {
        imap_proto::RequestId(format!("M{n}"))
    }

    /// A window with messages 0..n sent under tags M0..Mn (10 bytes each).
    fn sent(n: u32) -> Window<u32> {
        let mut w = Window::new(8, 100);
        for i in 0..n {
            w.sent(tag(i), 10, i);
        }
        w
    }

    fn index_of(w: &Window<u32>, t: &Tag) -> usize {
        w.pending_tags()
            .unwrap()
            .iter()
            .position(|x| x == t)
            .unwrap()
    }

    #[test]
    fn room_by_count_and_bytes() {
        let mut w: Window<u32> = Window::new(3, 25);
        assert!(
            w.has_room_for(1000),
            "an empty window takes a large message"
        );
        w.sent(tag(1), 10, 1);
        assert!(w.has_room_for(15));
        assert!(!w.has_room_for(16));
        w.sent(tag(2), 10, 2);
        assert!(!w.is_full(3));
        assert!(w.is_full(2), "the allowed count may be smaller");
        w.sent(tag(3), 1, 3);
        assert!(w.is_full(8), "never more than the window's own count");
    }

    #[test]
    fn out_of_order_answers_are_released_in_order() {
        let mut w = sent(3);
        let k = index_of(&w, &tag(2));
        assert_eq!(
            w.answered(k, Some(Some((UidValidity(7), Uid(102))))),
            Some(&2)
        );
        assert!(w.take_stored_front().is_empty(), "0 and 1 still pending");
        let k = index_of(&w, &tag(0));
        w.answered(k, Some(Some((UidValidity(7), Uid(100)))));
        assert_eq!(
            w.take_stored_front(),
            vec![(0, Some((UidValidity(7), Uid(100))))]
        );
        let k = index_of(&w, &tag(1));
        w.answered(k, Some(None));
        assert_eq!(
            w.take_stored_front(),
            vec![(1, None), (2, Some((UidValidity(7), Uid(102))))]
        );
        assert!(w.is_empty());
    }

    #[test]
    fn a_refused_message_waits_for_the_ones_before_it_then_is_retried() {
        let mut w = sent(3);
        let k = index_of(&w, &tag(1));
        w.answered(k, None); // NO for message 1
        assert!(!w.front_needs_retry(), "message 0 is still pending");
        let k = index_of(&w, &tag(0));
        w.answered(k, Some(None));
        assert_eq!(w.take_stored_front(), vec![(0, None)]);
        assert!(w.front_needs_retry());
        // Settle all: wait for message 2, then everything in order.
        let k = index_of(&w, &tag(2));
        w.answered(k, Some(Some((UidValidity(1), Uid(9)))));
        assert_eq!(w.pending(), 0);
        assert_eq!(
            w.drain(),
            vec![
                (1, Answer::Retry),
                (2, Answer::Stored(Some((UidValidity(1), Uid(9)))))
            ]
        );
    }

    #[test]
    fn connection_lost_with_k_answers_missing() {
        // 5 sent, 2 answered, then BYE: the folder had 10 before the window and holds 13 now.
        let mut w = sent(5);
        let k = index_of(&w, &tag(0));
        w.answered(k, Some(None));
        let k = index_of(&w, &tag(1));
        w.answered(k, Some(None));
        assert_eq!(w.pending(), 3);
        // expected = 10 + the 2 answered; 13 - 12 = 1 of the 3 unanswered landed.
        assert_eq!(
            w.connection_lost(12, 13),
            Landed {
                stored: 1,
                expected: 13
            }
        );
        assert_eq!(
            w.drain(),
            vec![
                (0, Answer::Stored(None)),
                (1, Answer::Stored(None)),
                (2, Answer::Stored(None)),
                (3, Answer::Retry),
                (4, Answer::Retry),
            ]
        );
    }

    #[test]
    fn counts_that_make_no_sense_store_nothing() {
        let mut w = sent(2);
        assert_eq!(
            w.connection_lost(10, 15),
            Landed {
                stored: 0,
                expected: 15
            },
            "more new messages than sent"
        );
        assert!(w.drain().iter().all(|(_, a)| *a == Answer::Retry));
        let mut w = sent(2);
        assert_eq!(w.connection_lost(10, 9).stored, 0, "fewer than before");
        let mut w = sent(2);
        assert_eq!(w.connection_lost(10, 12).stored, 2, "all landed");
        assert!(w.drain().iter().all(|(_, a)| *a == Answer::Stored(None)));
    }

    #[test]
    fn broken_while_sending_makes_the_connection_unreadable() {
        let mut w = sent(1);
        w.broken_while_sent(10, 1);
        assert!(w.pending_tags().is_none());
        assert_eq!(w.pending(), 2);
        assert_eq!(w.connection_lost(0, 2).stored, 2);
        let mut w: Window<u32> = Window::new(8, 100);
        w.refused_before_sent(10, 0);
        assert_eq!(w.pending(), 0);
        assert!(w.front_needs_retry());
    }
}
