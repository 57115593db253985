//! `Flavour::GmailLike`: a Dovecot that looks like Gmail (labels, `[Gmail]/` special-use
//! mailboxes, virtual All Mail / Starred / Important, archived messages in All Mail only).
#![allow(clippy::unwrap_used)]

use testkit::imap::ImapClient;
use testkit::{
    Dovecot, Flavour, GMAIL_ALL_MAIL, GMAIL_DRAFTS, GMAIL_IMPORTANT, GMAIL_SENT, GMAIL_SPAM,
    GMAIL_STARRED, GMAIL_TRASH,
};

fn message(subject: &str) -> Vec<u8> {
    format!(
        "From: a@example.test\r\nTo: b@example.test\r\nSubject: {subject}\r\n\
         Message-ID: <{}@example.test>\r\n\r\nBody of {subject}.\r\n",
        subject.replace(' ', ".")
    )
    .into_bytes()
}

/// `EXISTS` of `mailbox` from a fresh EXAMINE.
fn exists(c: &mut ImapClient, mailbox: &str) -> usize {
    let lines = c.command(&format!("EXAMINE \"{mailbox}\"")).unwrap();
    lines
        .iter()
        .find_map(|l| {
            l.strip_prefix("* ")
                .and_then(|r| r.strip_suffix(" EXISTS"))
                .map(|n| n.parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no EXISTS for {mailbox}: {lines:?}"))
}

/// The LIST line of exactly `name` (quoted as Dovecot quotes names with spaces or `[`).
fn list_line<'a>(list: &'a [String], name: &str) -> Option<&'a str> {
    list.iter().map(String::as_str).find(|l| {
        l.ends_with(&format!(" \"/\" \"{name}\"")) || l.ends_with(&format!(" \"/\" {name}"))
    })
}

#[test]
fn gmail_like_layout_has_labels_special_use_and_virtual_all_mail() {
    let d = Dovecot::start(Flavour::GmailLike).unwrap();
    assert_eq!(d.separator(), '/');
    assert_eq!(d.prefix(), "");
    assert_eq!(d.flavour(), Flavour::GmailLike);
    let user = "gina@example.test";
    d.add_user(user, "gina-secret").unwrap();
    d.create_mailbox(user, "Work").unwrap();
    d.create_mailbox(user, "Travel/2024").unwrap();

    for i in 0..3 {
        d.append(user, "INBOX", &[], None, &message(&format!("inbox {i}")))
            .unwrap();
    }
    for i in 0..2 {
        d.append(
            user,
            "Work",
            &["\\Seen"],
            None,
            &message(&format!("work {i}")),
        )
        .unwrap();
    }
    d.append(user, GMAIL_SENT, &["\\Seen"], None, &message("sent"))
        .unwrap();
    d.append(user, GMAIL_TRASH, &[], None, &message("trashed"))
        .unwrap();
    d.append_archived(
        user,
        &["\\Flagged", "\\Seen"],
        Some("01-Jan-2020 10:00:00 +0000"),
        &message("archived flagged"),
    )
    .unwrap();
    d.append_archived(user, &["$Important"], None, &message("archived plain"))
        .unwrap();

    let mut c = d.login(user).unwrap();
    let list = c.command("LIST \"\" \"*\" RETURN (SPECIAL-USE)").unwrap();
    let joined = list.join("\n");
    eprintln!("{joined}");
    for (name, flag) in [
        (GMAIL_ALL_MAIL, "\\All"),
        (GMAIL_STARRED, "\\Flagged"),
        (GMAIL_IMPORTANT, "\\Important"),
        (GMAIL_SENT, "\\Sent"),
        (GMAIL_DRAFTS, "\\Drafts"),
        (GMAIL_SPAM, "\\Junk"),
        (GMAIL_TRASH, "\\Trash"),
    ] {
        let line = list_line(&list, name).unwrap_or_else(|| panic!("{name} missing:\n{joined}"));
        assert!(line.contains(flag), "{name} without {flag}: {line}");
    }
    for name in ["INBOX", "Work", "Travel/2024"] {
        let line = list_line(&list, name).unwrap_or_else(|| panic!("{name} missing:\n{joined}"));
        assert!(!line.contains("\\All"), "{line}");
    }
    // The hidden store is not listed, not even its namespace.
    assert!(!joined.contains("Gmail-store"), "{joined}");
    assert!(!joined.contains("Archived"), "{joined}");
    let ns = c.command("NAMESPACE").unwrap().join("\n");
    assert!(!ns.contains("Gmail-store"), "{ns}");

    // 3 INBOX + 2 Work + 1 Sent + 2 archived; not the one in Trash.
    assert_eq!(exists(&mut c, GMAIL_ALL_MAIL), 8);
    assert_eq!(exists(&mut c, GMAIL_STARRED), 1);
    assert_eq!(exists(&mut c, GMAIL_IMPORTANT), 1);
    assert_eq!(exists(&mut c, GMAIL_SENT), 1);
    assert_eq!(exists(&mut c, GMAIL_TRASH), 1);
    assert_eq!(exists(&mut c, GMAIL_DRAFTS), 0);
    assert_eq!(exists(&mut c, GMAIL_SPAM), 0);
    assert_eq!(exists(&mut c, "INBOX"), 3);
    assert_eq!(exists(&mut c, "Work"), 2);

    // Starred holds the flagged archived message.
    c.command(&format!("EXAMINE \"{GMAIL_STARRED}\"")).unwrap();
    let fetch = c
        .command("FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        .unwrap()
        .join("\n");
    assert!(fetch.contains("archived flagged"), "{fetch}");
    assert!(fetch.contains("\\Flagged"), "{fetch}");

    // Flagging a message in a label makes it starred too (live, through the backend).
    c.command("SELECT \"Work\"").unwrap();
    c.command("STORE 1 +FLAGS (\\Flagged)").unwrap();
    assert_eq!(exists(&mut c, GMAIL_STARRED), 2);

    // Virtual mailboxes are live: a new message in a label grows All Mail, also within
    // a session that has it selected.
    c.command(&format!("SELECT \"{GMAIL_ALL_MAIL}\"")).unwrap();
    d.append(user, "Travel/2024", &[], None, &message("trip"))
        .unwrap();
    let noop = c.command("NOOP").unwrap().join("\n");
    assert!(noop.contains("* 9 EXISTS"), "{noop}");
    assert_eq!(exists(&mut c, GMAIL_ALL_MAIL), 9);

    // A message in two labels is stored twice: it shows twice in All Mail (Gmail: once).
    d.append(user, "Work", &[], None, &message("two labels"))
        .unwrap();
    d.append(user, "Travel/2024", &[], None, &message("two labels"))
        .unwrap();
    assert_eq!(exists(&mut c, GMAIL_ALL_MAIL), 11);

    // Spam is out of All Mail, like Trash.
    d.append(user, GMAIL_SPAM, &[], None, &message("spam"))
        .unwrap();
    assert_eq!(exists(&mut c, GMAIL_SPAM), 1);
    assert_eq!(exists(&mut c, GMAIL_ALL_MAIL), 11);
    c.logout();

    assert!(
        !d.log_tail(200).contains("Error"),
        "errors in the Dovecot log:\n{}",
        d.log_tail(200)
    );
}

/// A second user gets the same layout (the virtual definitions are shared, resolved per user).
#[test]
fn gmail_like_users_are_separate() {
    let d = Dovecot::start(Flavour::GmailLike).unwrap();
    d.add_user("one@example.test", "pw-one").unwrap();
    d.add_user("two@example.test", "pw-two").unwrap();
    d.append_archived("one@example.test", &[], None, &message("one"))
        .unwrap();
    let mut one = d.login("one@example.test").unwrap();
    let mut two = d.login("two@example.test").unwrap();
    assert_eq!(exists(&mut one, GMAIL_ALL_MAIL), 1);
    assert_eq!(exists(&mut two, GMAIL_ALL_MAIL), 0);
    one.logout();
    two.logout();
}

#[test]
fn append_archived_needs_gmail_like() {
    let d = Dovecot::start(Flavour::Slash).unwrap();
    d.add_user("s@example.test", "pw").unwrap();
    assert!(d
        .append_archived("s@example.test", &[], None, &message("x"))
        .is_err());
}
