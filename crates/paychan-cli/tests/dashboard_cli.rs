//! The node's web dashboard in a real browser: `tests/dashboard` (Debian's chromium, headless,
//! driven by playwright-core under `node --test`) against a `paychan node` with a channel
//! to a second node. The page shows the channel and a payment made meanwhile, takes a
//! screenshot (its path is printed), and closes the channel from its button after the
//! confirmation; the ledger then pays each side what it is owed. Needs Node.js, `npm ci` in
//! tests/dashboard and /usr/bin/chromium (scripts/test.sh installs both).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    missing_docs
)]

mod common;

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use common::nodes::{FUNDS, Ledger, NodeDir, json, text};

fn suite() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/dashboard")
}

#[test]
fn the_dashboard_shows_a_payment_and_closes_a_channel_in_chromium() {
    assert!(
        suite()
            .join("node_modules/playwright-core/package.json")
            .exists(),
        "run `npm ci` in tests/dashboard first (scripts/test.sh does)"
    );
    let root = tempfile::tempdir().unwrap();
    let ledger = Ledger::start(root.path());
    let alice = NodeDir::init(root.path(), "alice", &ledger.url());
    let bob = NodeDir::init(root.path(), "bob", &ledger.url());
    ledger.fund(&alice.address);
    ledger.fund(&bob.address);
    let _a = alice.run("alice");
    let _b = bob.run("bob");
    let opened = json(alice.channel(&["open", &bob.tcp_url(), "1000"]));
    let id = opened["channel_id"].as_str().unwrap().to_owned();

    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    let _ = fs::remove_file(&screenshot);
    let token = fs::read_to_string(alice.dir.join("rpc.token")).unwrap();
    let out = Command::new("node")
        .args(["--test", "--test-reporter=spec", "dashboard.test.mjs"])
        .current_dir(suite())
        .env("DASHBOARD", format!("http://127.0.0.1:{}", alice.rpc_port))
        .env("TOKEN", token.trim())
        .env("CHANNEL", &id)
        .env("SCREENSHOT", &screenshot)
        .output()
        .expect("runs node (install Node.js >= 20)");
    let report = format!("{}\n{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "the dashboard test failed:\n{report}");
    assert!(report.contains("fail 0"), "{report}");
    println!("dashboard screenshot: {}", screenshot.display());
    assert!(fs::metadata(&screenshot).unwrap().len() > 10_000);

    // Closed from the page, cooperatively: the 7 paid went to bob, nothing else moved.
    let seen = json(bob.channel(&["info", &id]));
    assert_eq!(seen["status"], "closed");
    assert_eq!(ledger.balance(&alice.address), FUNDS - 7);
    assert_eq!(ledger.balance(&bob.address), FUNDS + 7);
}
