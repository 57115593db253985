//! The harness's blocking IMAP client, made to survive spurious read failures: a socket read
//! with a timeout fails with EINTR when the process is stopped and resumed (signal(7)), and
//! `testkit::imap::ImapClient` does not retry it. On a failure [`Client`] logs in again (and
//! selects again what was selected); an APPEND is sent again only if the folder's message
//! count shows it did not arrive, so nothing is appended twice.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use testkit::imap::ImapClient;
use testkit::Dovecot;

const ATTEMPTS: usize = 5;

pub struct Client<'a> {
    d: &'a Dovecot,
    login: String,
    c: Option<ImapClient>,
    selected: Option<String>,
    counts: BTreeMap<String, usize>,
}

impl<'a> Client<'a> {
    pub fn new(d: &'a Dovecot, login: &str) -> Client<'a> {
        Client {
            d,
            login: login.to_string(),
            c: None,
            selected: None,
            counts: BTreeMap::new(),
        }
    }

    fn conn(&mut self) -> anyhow::Result<&mut ImapClient> {
        if self.c.is_none() {
            let mut c = self.d.login(&self.login)?;
            if let Some(sel) = &self.selected {
                c.command(sel)?;
            }
            self.c = Some(c);
        }
        Ok(self.c.as_mut().expect("connected"))
    }

    /// A command that may be sent twice (not APPEND). SELECT/EXAMINE are remembered.
    pub fn command(&mut self, command: &str) -> Vec<String> {
        let upper = command.to_ascii_uppercase();
        if upper.starts_with("SELECT ") || upper.starts_with("EXAMINE ") {
            self.selected = Some(command.to_string());
        }
        for attempt in 1..=ATTEMPTS {
            match self.conn().and_then(|c| c.command(command)) {
                Ok(lines) => return lines,
                Err(e) if attempt < ATTEMPTS => {
                    eprintln!("test client: {command} failed ({e:#}); logging in again");
                    self.c = None;
                }
                Err(e) => panic!("{command}: {e:#}"),
            }
        }
        unreachable!()
    }

    /// STATUS MESSAGES of a folder (UTF-8 name).
    pub fn messages(&mut self, folder: &str) -> usize {
        let enc = testkit::imap::encode_mailbox_name(folder);
        let lines = self.command(&format!("STATUS \"{enc}\" (MESSAGES)"));
        let l = lines
            .iter()
            .find(|l| l.starts_with("* STATUS"))
            .expect("STATUS answer");
        let n = &l[l.find("MESSAGES ").expect("MESSAGES") + 9..];
        n[..n.find(')').expect(")")].trim().parse().expect("count")
    }

    /// APPEND to a folder (UTF-8 name, prefix included), exactly once.
    pub fn append(&mut self, folder: &str, flags: &[&str], date: Option<&str>, raw: &[u8]) {
        let before = match self.counts.get(folder) {
            Some(n) => *n,
            None => self.messages(folder),
        };
        for attempt in 1..=ATTEMPTS {
            match self
                .conn()
                .and_then(|c| c.append(folder, flags, date, raw).map(|_| ()))
            {
                Ok(()) => break,
                Err(e) if attempt < ATTEMPTS => {
                    eprintln!("test client: APPEND to {folder} failed ({e:#}); checking");
                    self.c = None;
                    if self.messages(folder) == before + 1 {
                        break;
                    }
                }
                Err(e) => panic!("APPEND to {folder}: {e:#}"),
            }
        }
        self.counts.insert(folder.to_string(), before + 1);
    }

    pub fn logout(mut self) {
        if let Some(c) = self.c.take() {
            c.logout();
        }
    }
}
