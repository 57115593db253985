//! The folder planner against real Dovecot servers (testkit; loopback only): list both sides,
//! plan Slash (`/`, no prefix) → DotInbox (`.`, `INBOX.`) and back, CREATE and SUBSCRIBE what
//! the plan says, and check the destination's LIST and LSUB.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use mailcopy::net::{AddressPolicy, StaticResolver};
use mailcopy::{
    plan_folders, render_plan, ConnectError, ConnectOptions, Credentials, Endpoint, Folder,
    FolderPlan, ImapSession, MappingNote, MatchedBy, Namespace, PlanOptions, Security, Side,
    SpecialUse,
};
use testkit::{Dovecot, DovecotPair};

const PASSWORD: &str = "planner-secret";

async fn session(d: &Dovecot, login: &str) -> ImapSession {
    let resolver = StaticResolver::new().with("localhost", ["127.0.0.1".parse().unwrap()]);
    let opts = ConnectOptions::new(Arc::new(resolver))
        .with_policy(AddressPolicy::AllowAll)
        .with_timeouts(Duration::from_secs(5), Duration::from_secs(15))
        .with_ca_pem(d.ca_pem())
        .unwrap();
    let ep = Endpoint::new("localhost", d.imaps_port(), Security::Tls);
    mailcopy::connect(&ep, &Credentials::new(login, PASSWORD), &opts)
        .await
        .unwrap()
}

/// LIST, NAMESPACE and LSUB of one account.
async fn side(s: &mut ImapSession) -> Side {
    Side {
        folders: s.list_folders().await.unwrap(),
        namespace: s.namespace().await.unwrap(),
        subscribed: s.list_subscribed().await.unwrap(),
        delimiter: None,
    }
}

/// CREATEs what the plan says (parents first) and SUBSCRIBEs; returns the refused names.
async fn execute(s: &mut ImapSession, plan: &FolderPlan) -> Vec<(String, ConnectError)> {
    let mut refused = Vec::new();
    for m in plan.to_create() {
        if let Err(e) = s.create_folder(m.destination.raw()).await {
            refused.push((m.destination.raw().to_string(), e));
        }
    }
    for m in plan.to_subscribe() {
        s.subscribe(m.destination.raw()).await.unwrap();
    }
    refused
}

/// Every planned destination is listed; selectable mappings are selectable there; the
/// subscribed ones are in LSUB.
async fn check_destination(s: &mut ImapSession, plan: &FolderPlan) {
    let listed: BTreeMap<String, Folder> = s
        .list_folders()
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.name.raw().to_string(), f))
        .collect();
    let subscribed = s.list_subscribed().await.unwrap();
    for m in &plan.folders {
        let f = listed.get(m.destination.raw()).unwrap_or_else(|| {
            panic!(
                "{} is not listed at the destination: {:?}",
                m.destination.raw(),
                listed.keys()
            )
        });
        if m.selectable {
            assert!(
                f.is_selectable(),
                "{} is {:?}",
                m.destination.raw(),
                f.attributes
            );
        }
        if m.subscribe {
            assert!(
                subscribed.contains(&m.destination.raw().to_string()),
                "{} not subscribed: {subscribed:?}",
                m.destination.raw()
            );
        }
    }
}

fn dest_of<'a>(plan: &'a FolderPlan, source_display: &str) -> &'a str {
    plan.folders
        .iter()
        .find(|m| m.source.display() == source_display)
        .unwrap_or_else(|| panic!("no mapping for {source_display}:\n{}", render_plan(plan)))
        .destination
        .raw()
}

#[tokio::test]
async fn plan_dovecot_slash_to_dot_and_back() {
    let pair = DovecotPair::start().unwrap();
    let user = "planner@example.test";
    let back = "back@example.test";
    pair.add_user(user, PASSWORD).unwrap();
    pair.add_user(back, PASSWORD).unwrap();
    let slash = &pair.slash;
    let dot = &pair.dot;

    // doveadm takes UTF-8 names (the harness README); IMAP sees modified UTF-7.
    for parts in [
        &["Archive", "2020"][..],
        &["Boîte d'envoi"],
        &["Проекты", "日本"],
        &["Ünïcödé & Co"],
        &["Sub"],
        &["INBOX", "Sub"], // Dovecot allows INBOX children on the Slash flavour
        &["INBOX", "Deep", "er"],
        &["Sent"], // \Sent by the harness configuration
        &["Spam"], // no \Junk at the source: matched by name
        &["Empty"],
        &["v1.2"],
        &["v1_2"],
        &["50% off"],
    ] {
        slash
            .create_mailbox(user, &slash.mailbox_name(parts))
            .unwrap();
    }
    dot.create_mailbox(user, &dot.mailbox_name(&["Junk"]))
        .unwrap(); // \Junk there

    let mut src = session(slash, user).await;
    for name in [
        "Archive/2020",
        "Sent",
        "INBOX/Sub",
        "&ANw-n&AO8-c&APY-d&AOk- &- Co",
    ] {
        src.subscribe(name).await.unwrap();
    }
    let source = side(&mut src).await;
    let mut dst = session(dot, user).await;
    let destination = side(&mut dst).await;
    assert_eq!(
        destination.namespace,
        Some(Namespace {
            prefix: "INBOX.".into(),
            delimiter: Some('.')
        })
    );

    let plan = plan_folders(&source, &destination, &PlanOptions::default());
    println!("{}", render_plan(&plan));
    let expected = [
        ("INBOX", "INBOX"),
        ("Archive", "INBOX.Archive"),
        ("Archive/2020", "INBOX.Archive.2020"),
        ("Boîte d'envoi", "INBOX.Bo&AO4-te d'envoi"),
        ("Проекты", "INBOX.&BB8EQAQ+BDUEOgRCBEs-"),
        ("Проекты/日本", "INBOX.&BB8EQAQ+BDUEOgRCBEs-.&ZeVnLA-"),
        ("Ünïcödé & Co", "INBOX.&ANw-n&AO8-c&APY-d&AOk- &- Co"),
        ("Sub", "INBOX.Sub"),
        ("INBOX/Sub", "INBOX.Sub (2)"),
        ("INBOX/Deep", "INBOX.Deep"),
        ("INBOX/Deep/er", "INBOX.Deep.er"),
        ("Sent", "INBOX.Sent"),
        ("Spam", "INBOX.Junk"),
        ("Empty", "INBOX.Empty"),
        ("v1_2", "INBOX.v1_2"),
        ("v1.2", "INBOX.v1_2 (2)"),
        ("50% off", "INBOX.50% off"),
    ];
    for (from, to) in expected {
        assert_eq!(dest_of(&plan, from), to, "{from}\n{}", render_plan(&plan));
    }
    assert_eq!(plan.folders.len(), expected.len(), "{}", render_plan(&plan));
    assert!(plan.skipped.is_empty());
    let by_source = |s: &str| {
        plan.folders
            .iter()
            .find(|m| m.source.display() == s)
            .unwrap()
    };
    // Dovecot lists implicit parents as \Noselect: mapped, not created explicitly.
    assert!(!by_source("Archive").selectable && !by_source("Archive").create);
    assert!(!by_source("Проекты").selectable);
    assert!(by_source("Empty").create);
    assert_eq!(
        by_source("Sent").notes,
        vec![MappingNote::SpecialUseNotAtDestination {
            special_use: SpecialUse::Sent
        }]
    );
    assert!(by_source("Spam").exists_at_destination && !by_source("Spam").create);
    assert_eq!(
        by_source("Spam").notes,
        vec![MappingNote::SpecialUseMatched {
            special_use: SpecialUse::Junk,
            source_by: MatchedBy::Name,
            destination_by: MatchedBy::Attribute
        }]
    );
    let subscribed: Vec<&str> = plan.to_subscribe().map(|m| m.source.raw()).collect();
    assert_eq!(
        subscribed,
        vec![
            "Archive/2020",
            "Sent",
            "INBOX/Sub",
            "&ANw-n&AO8-c&APY-d&AOk- &- Co"
        ]
    );

    let refused = execute(&mut dst, &plan).await;
    assert!(refused.is_empty(), "{refused:?}");
    check_destination(&mut dst, &plan).await;

    // A second run lands in the same folders and has nothing to create; the destination's
    // new Sent now carries \Sent (harness configuration) and is matched by attribute.
    let again = plan_folders(&source, &side(&mut dst).await, &PlanOptions::default());
    let pairs = |p: &FolderPlan| -> Vec<(String, String)> {
        p.folders
            .iter()
            .map(|m| (m.source.raw().to_string(), m.destination.raw().to_string()))
            .collect()
    };
    assert_eq!(pairs(&again), pairs(&plan));
    assert_eq!(again.to_create().count(), 0, "{}", render_plan(&again));
    assert!(again
        .folders
        .iter()
        .filter(|m| m.selectable)
        .all(|m| m.exists_at_destination));
    assert!(matches!(
        again
            .folders
            .iter()
            .find(|m| m.source == "Sent")
            .unwrap()
            .notes[..],
        [MappingNote::SpecialUseMatched {
            special_use: SpecialUse::Sent,
            source_by: MatchedBy::Attribute,
            destination_by: MatchedBy::Attribute
        }]
    ));

    // Back: the DotInbox account just filled → an empty Slash account.
    let dot_side = side(&mut dst).await;
    let mut home = session(slash, back).await;
    let plan_back = plan_folders(&dot_side, &side(&mut home).await, &PlanOptions::default());
    println!("{}", render_plan(&plan_back));
    for (from, to) in [
        ("INBOX", "INBOX"),
        ("INBOX.Archive.2020", "Archive/2020"),
        ("INBOX.Boîte d'envoi", "Bo&AO4-te d'envoi"),
        ("INBOX.Проекты.日本", "&BB8EQAQ+BDUEOgRCBEs-/&ZeVnLA-"),
        ("INBOX.Ünïcödé & Co", "&ANw-n&AO8-c&APY-d&AOk- &- Co"),
        ("INBOX.Sub", "Sub"),
        ("INBOX.Sub (2)", "Sub (2)"),
        ("INBOX.Deep.er", "Deep/er"),
        ("INBOX.Sent", "Sent"),
        ("INBOX.Junk", "Junk"),
        ("INBOX.v1_2 (2)", "v1_2 (2)"),
        ("INBOX.50% off", "50% off"),
    ] {
        assert_eq!(dest_of(&plan_back, from), to, "{from}");
    }
    let refused = execute(&mut home, &plan_back).await;
    assert!(refused.is_empty(), "{refused:?}");
    check_destination(&mut home, &plan_back).await;
    let subscribed: Vec<&str> = plan_back
        .to_subscribe()
        .map(|m| m.destination.raw())
        .collect();
    assert_eq!(
        subscribed,
        vec![
            "Archive/2020",
            "Sent",
            "Sub (2)",
            "&ANw-n&AO8-c&APY-d&AOk- &- Co"
        ]
    );

    for s in [src, dst, home] {
        s.logout().await.unwrap();
    }
}

/// A name the destination refuses gets planned again: Dovecot's Maildir++ (DotInbox) refuses
/// `/` inside a name, which a source with another separator (here `\`, hand-made) may have.
#[tokio::test]
async fn plan_dovecot_refused_name_is_replanned() {
    let dot = Dovecot::start(testkit::Flavour::DotInbox).unwrap();
    let user = "refused@example.test";
    dot.add_user(user, PASSWORD).unwrap();
    let folder = |name: &str| Folder {
        name: name.into(),
        delimiter: Some('\\'),
        attributes: vec![],
    };
    let source = Side::new(
        vec![folder("INBOX"), folder("a/b"), folder("a/b\\c")],
        Some(Namespace {
            prefix: String::new(),
            delimiter: Some('\\'),
        }),
    );
    let mut dst = session(&dot, user).await;
    let mut options = PlanOptions::default();
    let plan = plan_folders(&source, &side(&mut dst).await, &options);
    assert_eq!(dest_of(&plan, "a/b"), "INBOX.a/b");
    let refused = execute(&mut dst, &plan).await;
    assert_eq!(refused.len(), 2, "{refused:?}"); // the parent and so its child
    assert!(
        refused[0].1.to_string().contains('/'),
        "Dovecot's reason names the character: {}",
        refused[0].1
    );
    options
        .refused
        .extend(refused.into_iter().map(|(name, _)| name));
    let plan = plan_folders(&source, &side(&mut dst).await, &options);
    println!("{}", render_plan(&plan));
    assert_eq!(dest_of(&plan, "a/b"), "INBOX.a_b");
    assert_eq!(dest_of(&plan, "a/b\\c"), "INBOX.a_b.c");
    let refused = execute(&mut dst, &plan).await;
    assert!(refused.is_empty(), "{refused:?}");
    check_destination(&mut dst, &plan).await;
    dst.logout().await.unwrap();
}
