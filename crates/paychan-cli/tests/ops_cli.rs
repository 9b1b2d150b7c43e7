//! What an operator meets running `paychan` for real (issue 17's defects): output into a
//! pipe whose reader has gone, one node per data directory, and re-attaching to a close
//! (`paychan channel wait`).
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

use std::{
    io::Read,
    process::Stdio,
    sync::{Mutex, MutexGuard},
    thread::sleep,
    time::{Duration, Instant},
};

use common::{
    Process, READY_TIMEOUT, command,
    nodes::{Ledger, NodeDir, json, ok, paychan, text},
};

/// One test at a time: the harness picks free ports before the nodes bind them, and the
/// ephemeral ports of another test's connections could take them meanwhile.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `paychan channel open … | head -1`: stdout is a pipe whose reader has exited before the
/// command prints. The command does its work once, says nothing and exits 0 (the README's
/// CLI section), so a script that retries on failure does not open a second channel.
#[test]
fn a_closed_stdout_ends_a_command_quietly_after_its_work() {
    let _serial = serial();
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

/// Two `paychan node` processes on one data directory: the second stops at once with an error
/// naming the first, which keeps running and serving.
#[test]
fn a_second_node_on_the_same_data_directory_is_refused() {
    let _serial = serial();
    let root = tempfile::tempdir().unwrap();
    let ledger = Ledger::start(root.path());
    let alice = NodeDir::init(root.path(), "alice", &ledger.url());
    let mut first = alice.run("alice");

    let mut second = command();
    second
        .args(["node", "--data-dir", alice.dir(), "--passphrase-file"])
        .arg(&alice.passphrase);
    let mut second = Process::spawn("second alice", second, &root.path().join("second.log"));
    assert!(!second.exit_status().success());
    let log = second.log();
    assert!(
        log.contains("is in use by another `paychan node`")
            && log.contains(&format!("pid {}", first.id())),
        "{log}"
    );
    first.assert_running();
    assert_eq!(json(alice.channel(&["list"])), serde_json::json!([]));
}

/// A unilateral close started without `--wait`: `paychan channel wait` re-attaches to it and
/// returns once the node has settled it; the human output shows dates, not epochs.
#[test]
fn channel_wait_re_attaches_to_a_close_started_without_waiting() {
    let _serial = serial();
    let root = tempfile::tempdir().unwrap();
    let ledger = Ledger::start(root.path());
    let alice = NodeDir::init(root.path(), "alice", &ledger.url());
    let bob = NodeDir::init(root.path(), "bob", &ledger.url());
    ledger.fund(&alice.address);
    let _a = alice.run("alice");

    let opened = json(alice.channel(&["open", &bob.address, "100", "--no-propose"]));
    let id = opened["channel_id"].as_str().unwrap().to_owned();
    let out = command()
        .args([
            "channel",
            "close",
            &id,
            "--force",
            "--data-dir",
            alice.dir(),
        ])
        .output()
        .unwrap();
    let said = text(&out.stdout);
    assert!(out.status.success(), "{said}{}", text(&out.stderr));
    assert!(
        said.contains("settles after 20")
            && (said.contains("Z (in 23 h 59 min)") || said.contains("Z (in 1 d 0 h)")),
        "{said}"
    );
    assert!(
        said.contains(&format!("paychan channel wait {id}")),
        "{said}"
    );

    let mut waiting = command()
        .args(["channel", "wait", &id, "--json", "--data-dir", alice.dir()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    ledger.advance(86_400 + 1);
    let start = Instant::now();
    let status = loop {
        if let Some(status) = waiting.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > READY_TIMEOUT {
            let _ = waiting.kill();
            panic!("channel wait did not return after the challenge period");
        }
        sleep(Duration::from_millis(100));
    };
    let mut out = String::new();
    waiting
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(status.success(), "{out}");
    let settled: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(settled["status"], "closed", "{settled}");

    // On a channel that is not closing, it says so.
    let opened = json(alice.channel(&["open", &bob.address, "50", "--no-propose"]));
    let open_id = opened["channel_id"].as_str().unwrap();
    let out = command()
        .args(["channel", "wait", open_id, "--data-dir", alice.dir()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not closing"),
        "{}",
        text(&out.stderr)
    );
}

/// `--version` names the commit the binary was built from, and `paychan completions` prints
/// a completion script for each shell that knows every command.
#[test]
fn the_version_names_its_commit_and_completions_cover_every_command() {
    let version = ok(paychan(&["--version"]));
    let commit = version
        .trim()
        .strip_prefix(&format!("paychan {} (", env!("CARGO_PKG_VERSION")))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("unexpected --version: {version}"));
    let hash = commit.trim_end_matches("-dirty");
    assert!(
        hash == "unknown" || (hash.len() == 12 && hash.chars().all(|c| c.is_ascii_hexdigit())),
        "{version}"
    );
    let bash = ok(paychan(&["completions", "bash"]));
    assert!(
        bash.starts_with("_paychan()"),
        "{}",
        &bash[..80.min(bash.len())]
    );
    for command in [
        "node",
        "channel",
        "front",
        "background",
        "proxy",
        "completions",
    ] {
        assert!(bash.contains(command), "bash completions lack {command}");
    }
    assert!(ok(paychan(&["completions", "zsh"])).starts_with("#compdef paychan"));
    assert!(ok(paychan(&["completions", "fish"])).contains("complete -c paychan"));
    let refused = paychan(&["completions", "tcsh"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("invalid value"),
        "{}",
        text(&refused.stderr)
    );
}
