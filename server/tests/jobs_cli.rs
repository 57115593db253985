//! `imapcopy jobs` and `imapcopy jobs cancel ID`, the operator's view of the queue.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::sync::Arc;

use imapcopy::jobs::state::JobState;
use imapcopy::jobs::store::{AccountSecret, AccountSpec, NewJob, Store, SystemClock};
use mailcopy::Security;
use secrecy::SecretString;

#[test]
fn list_and_cancel() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(
        imapcopy::db::open(dir.path()).unwrap(),
        imapcopy::seal::Sealer::ephemeral(),
        Arc::new(SystemClock),
    );
    let account = |login: &str| AccountSpec {
        host: "imap.example.test".into(),
        port: 993,
        security: Security::Tls,
        login: login.into(),
    };
    let id = store
        .insert(NewJob {
            resolved: Default::default(),
            source: account("queued@example.test"),
            source_secret: AccountSecret::Password(SecretString::from("s3cret-one")),
            destination: account("dest@example.test"),
            destination_secret: AccountSecret::Password(SecretString::from("s3cret-two")),
            lang: "en".into(),
            report_to: None,
            labels: Default::default(),
        })
        .unwrap();
    let jobs = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_imapcopy"))
            .arg("jobs")
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = jobs(&[]);
    assert!(ok, "{out}");
    assert!(
        out.contains(&id) && out.contains("queued") && out.contains("queued@example.test"),
        "{out}"
    );
    assert!(!out.contains("s3cret"), "{out}");
    let (ok, out) = jobs(&["cancel", &id]);
    assert!(ok && out.contains("cancelled"), "{out}");
    assert_eq!(store.get(&id).unwrap().unwrap().state, JobState::Cancelled);
    let (ok, out) = jobs(&["list"]);
    assert!(ok && out.contains("cancelled"), "{out}");
    let (ok, out) = jobs(&["cancel", "no-such-job"]);
    assert!(!ok && out.contains("no job"), "{out}");
}
