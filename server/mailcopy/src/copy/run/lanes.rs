//! Lanes: the source and destination sessions one worker uses together, how they are opened and
//! reopened, and the commands that need a session of one side with one reconnect.

use super::*;
use crate::copy::throttle;

/// [`Account::role`] of the account copied from.
pub(super) const SOURCE: &str = "source";

/// One account of the copy.
pub(super) struct Account<'a> {
    pub(super) role: &'static str,
    pub(super) endpoint: &'a Endpoint,
    pub(super) creds: &'a Credentials,
    pub(super) opts: &'a ConnectOptions,
    /// `opts` for a connection that does not wait for a place under the connection cap.
    pub(super) at_once: &'a ConnectOptions,
}

impl Account<'_> {
    /// A session; `wait`: for a place under the process's connection cap, if it is full.
    pub(super) async fn open(&self, wait: bool) -> Result<ImapSession, Stop> {
        connect(
            self.endpoint,
            self.creds,
            if wait { self.opts } else { self.at_once },
        )
        .await
        .map(|s| self.role_of(s))
        .map_err(|e| {
            let text = format!(
                "could not connect to the {} ({}): {e}",
                self.role, self.endpoint.host
            );
            Stop::from_connect(&e, text)
        })
    }

    /// A new session after the previous one broke. A refused login now means the password
    /// was changed or the access revoked during the copy: that stops at once. Other failures
    /// (a server being restarted, a connection limit, a network cut) are tried again after
    /// [`REOPEN_WAITS`], so a copy rides out a short outage instead of stopping. A gone
    /// OAuth2 grant, or a token refused even after it was renewed, stops at once too: only a
    /// person signing in again helps, and trying again would only refresh again.
    pub(super) async fn reopen(&self, cancel: &CancellationToken) -> Result<ImapSession, Stop> {
        let mut waits = REOPEN_WAITS.iter();
        loop {
            let stop = match self.reopen_once().await {
                Ok(s) => return Ok(s),
                Err(stop) => stop,
            };
            let wait = match waits.next() {
                Some(w) if !stop.permanent && !stop.needs_sign_in() => *w,
                _ => return Err(stop),
            };
            let wait = stop
                .retry_after()
                .map_or(wait, |asked| asked.min(wait * 4).max(wait));
            tracing::info!(role = self.role, error = %stop, wait_ms = wait.as_millis() as u64, "reconnect failed; trying again");
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = cancel.cancelled() => return Err(stop),
            }
        }
    }

    /// A source session identifies Gmail's messages by their id (`X-GM-MSGID`).
    fn role_of(&self, session: ImapSession) -> ImapSession {
        if self.role == SOURCE {
            session.with_gmail_ids()
        } else {
            session
        }
    }

    async fn reopen_once(&self) -> Result<ImapSession, Stop> {
        connect(self.endpoint, self.creds, self.opts)
            .await
            .map(|s| self.role_of(s))
            .map_err(|e| {
                let text = match &e {
                    ConnectError::AuthFailed { server_text } => format!(
                        "the {} no longer accepts the login (password changed or access revoked?): {server_text}",
                        self.role
                    ),
                    other => format!(
                        "lost the connection to the {} and could not reconnect: {other}",
                        self.role
                    ),
                };
                Stop::from_connect(&e, text)
            })
    }
}

/// A source session and a destination session, used together by one worker.
#[derive(Default)]
pub(super) struct Lane {
    pub(super) src: Option<ImapSession>,
    pub(super) dst: Option<ImapSession>,
    /// Folder selected (EXAMINE) on `src`, with what EXAMINE said.
    pub(super) src_box: Option<String>,
    pub(super) src_selected: Selected,
    /// Folder selected (SELECT) on `dst`.
    pub(super) dst_box: Option<String>,
    pub(super) src_reconnects: u32,
    pub(super) dst_reconnects: u32,
    /// Messages this lane's source side has fetched whole: evidence that the source serves
    /// messages, so one whose every FETCH breaks the connection is the message's fault.
    pub(super) src_fetched: u64,
    /// `[THROTTLED]` hints of its sessions already acted on ([`Run::take_hints`]).
    pub(super) hints_seen: u64,
}

impl Lane {
    /// A lane with only the source session and one with only the destination session, so
    /// that both sides can work at the same time; [`Lane::rejoin`] puts them back.
    pub(super) fn split(&mut self) -> (Lane, Lane) {
        let src = Lane {
            src: self.src.take(),
            src_box: self.src_box.take(),
            src_selected: std::mem::take(&mut self.src_selected),
            src_reconnects: self.src_reconnects,
            src_fetched: self.src_fetched,
            ..Lane::default()
        };
        let dst = Lane {
            dst: self.dst.take(),
            dst_box: self.dst_box.take(),
            dst_reconnects: self.dst_reconnects,
            ..Lane::default()
        };
        (src, dst)
    }

    pub(super) fn rejoin(&mut self, src: Lane, dst: Lane) {
        self.src = src.src;
        self.src_box = src.src_box;
        self.src_selected = src.src_selected;
        self.src_reconnects = src.src_reconnects;
        self.src_fetched = src.src_fetched;
        self.dst = dst.dst;
        self.dst_box = dst.dst_box;
        self.dst_reconnects = dst.dst_reconnects;
        // `hints_seen` stayed with `self`.
    }

    pub(super) async fn logout(&mut self) {
        for s in [self.src.take(), self.dst.take()].into_iter().flatten() {
            if let Ok(Err(e)) = tokio::time::timeout(LOGOUT_TIMEOUT, s.logout()).await {
                tracing::debug!(error = %e, "LOGOUT failed");
            }
        }
    }
}

/// How a command tried with one reconnect ended.
pub(super) enum Tried<T> {
    Done(T),
    /// The server refused it (NO/BAD): its text.
    Refused(String),
    /// The connection broke on both tries: the last error.
    Broken(String),
}

/// Which session of a lane.
#[derive(Debug, Clone, Copy)]
pub(super) enum Side {
    Source,
    Destination,
}

impl Side {
    pub(super) fn name(self) -> &'static str {
        match self {
            Side::Source => "source",
            Side::Destination => "destination",
        }
    }
}

impl Run<'_> {
    pub(super) async fn open_lane(&self) -> Result<Lane, Stop> {
        self.open_lane_with(true).await
    }

    /// A lane; `wait`: for places under the process's connection cap (the first lane
    /// waits, extra ones are done without).
    pub(super) async fn open_lane_with(&self, wait: bool) -> Result<Lane, Stop> {
        let (src, dst) = tokio::join!(self.src.open(wait), self.dst.open(wait));
        let mut lane = Lane::default();
        let error = match (src, dst) {
            (Ok(s), Ok(d)) => {
                lane.src = Some(s);
                lane.dst = Some(d);
                return Ok(lane);
            }
            (Err(e), Ok(d)) => {
                lane.dst = Some(d);
                e
            }
            (Ok(s), Err(e)) => {
                lane.src = Some(s);
                e
            }
            (Err(e), Err(_)) => e,
        };
        // Close what did open.
        lane.logout().await;
        Err(error)
    }

    /// The lane's destination session, reconnecting if needed.
    pub(super) async fn dst_session<'l>(
        &self,
        lane: &'l mut Lane,
    ) -> Result<&'l mut ImapSession, Fail> {
        if lane.dst.is_none() {
            if lane.dst_reconnects >= MAX_RECONNECTS_IN_A_ROW {
                return Err(Fail::Fatal(Stop::lost(
                    "the destination keeps closing the connection",
                )));
            }
            lane.dst_reconnects += 1;
            lane.dst_box = None;
            lane.dst = Some(self.dst.reopen(self.cancel).await.map_err(Fail::Fatal)?);
        }
        lane.dst
            .as_mut()
            .ok_or_else(|| Fail::Fatal(Stop::lost("no destination connection")))
    }

    /// The lane's source session with `folder` examined, reconnecting if needed. A changed
    /// UIDVALIDITY means the UIDs of the scan no longer hold: the folder stops.
    pub(super) async fn src_session<'l>(
        &self,
        lane: &'l mut Lane,
        folder: &str,
        uid_validity: Option<UidValidity>,
    ) -> Result<&'l mut ImapSession, Fail> {
        self.src_connected(lane).await?;
        if lane.src_box.as_deref() != Some(folder) {
            let Some(s) = lane.src.as_mut() else {
                return Err(Fail::Fatal(Stop::lost("no source connection")));
            };
            match mailbox::select(s, folder, true).await {
                Ok(sel) => {
                    if let (Some(want), Some(got)) = (uid_validity, sel.uid_validity) {
                        if want != got {
                            return Err(Fail::Folder(format!(
                                "its UIDVALIDITY changed during the copy ({want} → {got}): run the copy again"
                            )));
                        }
                    }
                    lane.src_box = Some(folder.to_string());
                    lane.src_selected = sel;
                }
                Err(CmdError::Refused { text, .. }) if throttle::busy(&text).is_some() => {
                    return Err(Fail::Busy(text))
                }
                Err(CmdError::Refused { text, .. }) => {
                    return Err(Fail::Folder(format!(
                        "the source refused to open it: {text}"
                    )))
                }
                Err(CmdError::Broken(e)) => {
                    lane.src = None;
                    return Err(Fail::Message(e.to_string()));
                }
            }
        }
        lane.src
            .as_mut()
            .ok_or_else(|| Fail::Fatal(Stop::lost("no source connection")))
    }

    /// The lane's source session, reconnecting if needed (nothing selected after a reconnect).
    pub(super) async fn src_connected<'l>(
        &self,
        lane: &'l mut Lane,
    ) -> Result<&'l mut ImapSession, Fail> {
        if lane.src.is_none() {
            if lane.src_reconnects >= MAX_RECONNECTS_IN_A_ROW {
                return Err(Fail::Fatal(Stop::lost(
                    "the source keeps closing the connection",
                )));
            }
            lane.src_reconnects += 1;
            lane.src_box = None;
            lane.src = Some(self.src.reopen(self.cancel).await.map_err(Fail::Fatal)?);
        }
        lane.src
            .as_mut()
            .ok_or_else(|| Fail::Fatal(Stop::lost("no source connection")))
    }

    /// EXAMINE `folder` on the lane's source and the metadata of all its messages, in one
    /// round trip ([`message::examine_with_meta`]). A broken connection is `Fail::Message`
    /// (the scan tries again on a new one).
    pub(super) async fn src_examine_meta(
        &self,
        lane: &mut Lane,
        folder: &str,
        with_headers: bool,
    ) -> Result<(Selected, Vec<MessageMeta>), Fail> {
        lane.src_box = None;
        let s = self.src_connected(lane).await?;
        match message::examine_with_meta(s, folder, with_headers).await {
            Ok((sel, msgs)) => {
                lane.src_box = Some(folder.to_string());
                lane.src_selected = sel.clone();
                Ok((sel, msgs))
            }
            Err(e) => Err(self.scan_failure(&mut lane.src, Side::Source, e)),
        }
    }

    /// [`Run::src_examine_meta`] on the destination (read-only: the scan changes nothing).
    /// `None` in a dry run when the folder does not exist (yet).
    pub(super) async fn dst_examine_meta(
        &self,
        lane: &mut Lane,
        folder: &str,
        with_headers: bool,
    ) -> Result<Option<(Selected, Vec<MessageMeta>)>, Fail> {
        lane.dst_box = None;
        let s = self.dst_session(lane).await?;
        match message::examine_with_meta(s, folder, with_headers).await {
            Ok(found) => Ok(Some(found)),
            Err(CmdError::Refused {
                command: "EXAMINE", ..
            }) if self.options.dry_run => Ok(None),
            Err(e) => Err(self.scan_failure(&mut lane.dst, Side::Destination, e)),
        }
    }

    pub(super) fn scan_failure(
        &self,
        slot: &mut Option<ImapSession>,
        side: Side,
        e: CmdError,
    ) -> Fail {
        match e {
            CmdError::Refused { text, .. } if throttle::busy(&text).is_some() => Fail::Busy(text),
            CmdError::Refused {
                command: "EXAMINE",
                text,
                ..
            } => Fail::Folder(format!("the {} refused to open it: {text}", side.name())),
            CmdError::Refused { text, .. } => Fail::Folder(format!(
                "the {} refused to list its messages: {text}",
                side.name()
            )),
            CmdError::Broken(e) => {
                *slot = None;
                Fail::Message(e.to_string())
            }
        }
    }

    /// The lane's destination session, with `folder` selected read-write first when given.
    /// `Ok(Err(text))`: the connection broke (it is dropped); a refused SELECT is a folder
    /// error.
    pub(super) async fn dst_ready<'l>(
        &self,
        lane: &'l mut Lane,
        folder: Option<&str>,
    ) -> Result<Result<&'l mut ImapSession, String>, Fail> {
        let reselect = folder.filter(|f| lane.dst_box.as_deref() != Some(*f));
        let s = self.dst_session(lane).await?;
        if let Some(f) = reselect {
            match mailbox::select(s, f, false).await {
                Ok(_) => lane.dst_box = Some(f.to_string()),
                Err(CmdError::Refused { text, .. }) if throttle::busy(&text).is_some() => {
                    return Err(Fail::Busy(text))
                }
                Err(CmdError::Refused { text, .. }) => {
                    return Err(Fail::Folder(format!(
                        "the destination refused to open it: {text}"
                    )))
                }
                Err(CmdError::Broken(e)) => {
                    lane.dst = None;
                    lane.dst_box = None;
                    return Ok(Err(e.to_string()));
                }
            }
        }
        match lane.dst.as_mut() {
            Some(s) => Ok(Ok(s)),
            None => Ok(Err("no destination connection".to_string())),
        }
    }

    /// A command on many mailboxes (`CREATE`, `SUBSCRIBE`) in one round trip: each one's refusal, in order.
    /// Sent again in full on a new connection if the first one breaks (a CREATE that had
    /// gone through then answers `[ALREADYEXISTS]`, a SUBSCRIBE OK again).
    pub(super) async fn dst_simple_many(
        &self,
        lane: &mut Lane,
        command: &'static str,
        mailboxes: &[String],
    ) -> Result<Vec<Result<(), String>>, Fail> {
        if mailboxes.is_empty() {
            return Ok(Vec::new());
        }
        let mut answers = self.dst_simple_many_once(lane, command, mailboxes).await?;
        // Throttled answers: those mailboxes again after the pause (bounded by
        // `throttle::MAX_PAUSES`).
        loop {
            let busy: Vec<usize> = answers
                .iter()
                .enumerate()
                .filter(|(_, a)| {
                    a.as_ref()
                        .err()
                        .is_some_and(|t| throttle::busy(t).is_some())
                })
                .map(|(i, _)| i)
                .collect();
            let Some(text) = busy.first().and_then(|&i| answers[i].clone().err()) else {
                return Ok(answers);
            };
            self.throttled(&text).await?;
            let again: Vec<String> = busy.iter().map(|&i| mailboxes[i].clone()).collect();
            let redone = self.dst_simple_many_once(lane, command, &again).await?;
            for (i, answer) in busy.into_iter().zip(redone) {
                answers[i] = answer;
            }
        }
    }

    async fn dst_simple_many_once(
        &self,
        lane: &mut Lane,
        command: &'static str,
        mailboxes: &[String],
    ) -> Result<Vec<Result<(), String>>, Fail> {
        match dst_twice!(self, lane, None, |s| mailbox::simple_many(
            s, command, mailboxes
        ))? {
            Tried::Done(v) => Ok(v),
            Tried::Refused(text) => Err(Fail::Message(text)),
            Tried::Broken(last) => Err(Fail::Fatal(Stop::lost(format!(
                "the destination connection failed twice during {command}: {last}"
            )))),
        }
    }

    /// SELECT the destination folder (read-write: EXAMINE would report PERMANENTFLAGS as empty).
    pub(super) async fn dst_select(&self, lane: &mut Lane, folder: &str) -> Result<Selected, Fail> {
        lane.dst_box = None;
        match dst_twice!(self, lane, None, |s| mailbox::select(s, folder, false))? {
            Tried::Done(sel) => {
                lane.dst_box = Some(folder.to_string());
                Ok(sel)
            }
            Tried::Refused(text) => Err(Fail::Folder(format!(
                "the destination refused to open it: {text}"
            ))),
            Tried::Broken(last) => Err(Fail::Fatal(Stop::lost(format!(
                "the destination connection failed twice: {last}"
            )))),
        }
    }
}

/// The one reconnect policy of a destination command: runs `$op` (an expression using the
/// session `$s`) on the lane's destination session — with the folder selected first when
/// given — and once more on a new connection if the first one breaks. Evaluates to
/// `Result<Tried<T>, Fail>`. A macro rather than a function taking an async closure: the
/// closure's future would borrow the session for a lifetime the compiler cannot prove `Send`
/// across `tokio::spawn`.
macro_rules! dst_twice {
    ($run:expr, $lane:expr, $folder:expr, |$s:ident| $op:expr) => {
        async {
            let lane: &mut Lane = $lane;
            let folder: Option<&str> = $folder;
            let mut last = String::new();
            let mut breaks = 0;
            while breaks < 2 {
                $run.pace().await?;
                let $s = match $run.dst_ready(lane, folder).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        breaks += 1;
                        last = e;
                        continue;
                    }
                    Err(Fail::Busy(text)) => {
                        $run.throttled(&text).await?;
                        continue;
                    }
                    Err(other) => return Err(other),
                };
                match $op.await {
                    Ok(v) => return Ok::<_, Fail>(Tried::Done(v)),
                    // Pauses are bounded by `throttle::MAX_PAUSES`; not a try.
                    Err(CmdError::Refused { text, .. })
                        if $crate::copy::throttle::busy(&text).is_some() =>
                    {
                        $run.throttled(&text).await?
                    }
                    Err(CmdError::Refused { text, .. }) => return Ok(Tried::Refused(text)),
                    Err(CmdError::Broken(e)) => {
                        lane.dst = None;
                        lane.dst_box = None;
                        breaks += 1;
                        last = e.to_string();
                    }
                }
            }
            Ok(Tried::Broken(last))
        }
        .await
    };
}
pub(super) use dst_twice;

/// The source side's reconnect policy: `$op` on the lane's source session with `$folder`
/// examined, once more on a new connection if the first one breaks. Evaluates to
/// `Result<Tried<T>, Fail>`.
macro_rules! src_twice {
    ($run:expr, $lane:expr, $folder:expr, $uid_validity:expr, |$s:ident| $op:expr) => {
        async {
            let lane: &mut Lane = $lane;
            let mut last = String::new();
            let mut breaks = 0;
            while breaks < 2 {
                $run.pace().await?;
                let $s = match $run.src_session(lane, $folder, $uid_validity).await {
                    Ok(s) => s,
                    Err(Fail::Message(e)) => {
                        breaks += 1;
                        last = e;
                        continue;
                    }
                    Err(Fail::Busy(text)) => {
                        $run.throttled(&text).await?;
                        continue;
                    }
                    Err(other) => return Err(other),
                };
                match $op.await {
                    Ok(v) => return Ok::<_, Fail>(Tried::Done(v)),
                    // Pauses are bounded by `throttle::MAX_PAUSES`; not a try.
                    Err(CmdError::Refused { text, .. })
                        if $crate::copy::throttle::busy(&text).is_some() =>
                    {
                        $run.throttled(&text).await?
                    }
                    Err(CmdError::Refused { text, .. }) => return Ok(Tried::Refused(text)),
                    Err(CmdError::Broken(e)) => {
                        lane.src = None;
                        breaks += 1;
                        last = e.to_string();
                    }
                }
            }
            Ok(Tried::Broken(last))
        }
        .await
    };
}
pub(super) use src_twice;
