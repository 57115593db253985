//! Resilience against real Dovecot: connections cut at seeded random byte offsets on both
//! sides (mid-FETCH, mid-APPEND, mid-login) — the copy still ends complete in that one run,
//! exact, with nothing reported as lost for a lost connection.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod support;

use mailcopy::{copy_mailbox, render_table, CancellationToken, CopyOptions, Endpoint, Outcome};
use support::gen::{generate, GenOptions};
use support::{account, assert_same, connect_options, expected, seed, snapshot, Events};
use testkit::cutter::{CutPlan, CuttingProxy};
use testkit::DovecotPair;

/// The seed of the cut points; a failure is replayed by running with the same value
/// (`IMAPCOPY_CUT_SEED`), printed by the test.
fn cut_seed() -> u64 {
    std::env::var("IMAPCOPY_CUT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_202)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_through_connections_cut_at_random_offsets_ends_complete_and_exact() {
    let pair = DovecotPair::start().unwrap();
    let (src, dst) = (&pair.slash, &pair.dot);
    src.add_user("cut@example.test", "pw").unwrap();
    dst.add_user("cut@example.test", "pw").unwrap();
    // The generated mailbox (folders, names, flags, keywords, duplicates) with bodies made
    // larger (an epilogue of ~4–12 KB of text), so that bodies, not headers, make the traffic:
    // a folder's metadata answer then fits easily between two cuts, bodies and APPEND
    // windows are cut in the middle.
    let mut mailbox = generate(
        7_151,
        &GenOptions {
            big_attachment: false,
            scale: 4,
        },
    );
    for (i, m) in mailbox
        .folders
        .iter_mut()
        .flat_map(|f| f.messages.iter_mut())
        .enumerate()
    {
        m.raw.extend_from_slice(b"\r\n");
        for line in 0..(60 + (i * 37) % 120) {
            m.raw.extend_from_slice(
                format!(
                    "padding line {line:03} of message {i:04} {}\r\n",
                    "x".repeat(48)
                )
                .as_bytes(),
            );
        }
    }
    seed(src, "cut@example.test", &mailbox);
    let bytes: usize = mailbox.messages().map(|m| m.raw.len()).sum();
    println!("{} messages, {bytes} bytes", mailbox.messages().count());

    let seed_value = cut_seed();
    println!("cut seed {seed_value} (IMAPCOPY_CUT_SEED replays it)");
    // About a dozen cuts per side, at seeded offsets of the traffic.
    let bytes = bytes as u64;
    let plan = |offset| CutPlan {
        seed: seed_value + offset,
        mean_bytes: bytes / 12,
        max_cuts: 14,
    };
    let src_proxy = CuttingProxy::start(src.imaps_port(), plan(0)).unwrap();
    let dst_proxy = CuttingProxy::start(dst.imaps_port(), plan(1)).unwrap();
    let (mut src_ep, src_creds) = account(src, "cut@example.test");
    let (mut dst_ep, dst_creds) = account(dst, "cut@example.test");
    src_ep = Endpoint::new(src_ep.host, src_proxy.port(), src_ep.security);
    dst_ep = Endpoint::new(dst_ep.host, dst_proxy.port(), dst_ep.security);

    let report = copy_mailbox(
        (&src_ep, &src_creds),
        (&dst_ep, &dst_creds),
        &connect_options(&[src, dst]),
        &CopyOptions {
            connections: 2,
            ..CopyOptions::default()
        },
        &Events::default(),
        &CancellationToken::new(),
    )
    .await;
    let table = render_table(&report);
    let cuts = src_proxy.cuts() + dst_proxy.cuts();
    println!(
        "{table}\n{cuts} cuts ({} source, {} destination) over {} + {} connections, {} + {} bytes",
        src_proxy.cuts(),
        dst_proxy.cuts(),
        src_proxy.connections(),
        dst_proxy.connections(),
        src_proxy.bytes(),
        dst_proxy.bytes()
    );
    assert!(
        cuts >= 20,
        "only {cuts} cuts happened: the test did not test much"
    );
    assert_eq!(report.outcome, Outcome::Complete, "{table}");
    assert_eq!(report.totals.rejected, 0, "{table}");

    // Exact: every message once, bytes, flags, INTERNALDATE (read without the proxies).
    assert_same(
        &snapshot(dst, "cut@example.test").await,
        &expected(&mailbox, |m| !m.is_deleted()),
        "destination after a copy through cut connections",
    );
}
