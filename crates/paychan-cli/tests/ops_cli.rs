//! What an operator meets running `paychan` for real (issue 17's defects): output into a
//! pipe whose reader has gone, one node per data directory, and re-attaching to a close.
//! Child processes on free ports and temporary directories, around a `paychan ledger serve`
//! child with a manual clock.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    missing_docs
)]

mod common;

use std::process::Stdio;

use common::{
    command,
    nodes::{Ledger, NodeDir, json, text},
};

/// `paychan channel open … | head -1`: stdout is a pipe whose reader has exited before the
/// command prints. The command does its work once, says nothing and exits 0 (the README's
/// CLI section), so a script that retries on failure does not open a second channel.
#[test]
fn a_closed_stdout_ends_a_command_quietly_after_its_work() {
    let root = tempfile::tempdir().unwrap();
    let ledger = Ledger::start(root.path());
    let alice = NodeDir::init(root.path(), "alice", &ledger.url());
    let bob = NodeDir::init(root.path(), "bob", &ledger.url());
    ledger.fund(&alice.address);
    let _a = alice.run("alice");

    let closed_stdout = || {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        writer
    };
    for args in [
        vec!["channel", "open", &bob.address, "100", "--no-propose"],
        vec!["channel", "list"],
        vec!["channel", "list", "--json"],
        vec!["info"],
    ] {
        let out = command()
            .args(&args)
            .args(["--data-dir", alice.dir()])
            .stdout(closed_stdout())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{args:?}: {stderr}"
        );
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
    let channels = json(alice.channel(&["list"]));
    assert_eq!(
        channels.as_array().unwrap().len(),
        1,
        "opened exactly once: {channels}"
    );
}
