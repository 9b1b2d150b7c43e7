//! Contacts files as a user keeps them: `[node] contacts_file` loaded at start and reloaded
//! when edited (entries added, changed and removed; a broken file changes nothing), and
//! `paychan contacts export|import` round trips, refusing conflicts without `--replace`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    missing_docs
)]

mod common;

use std::fs;

use common::nodes::{Ledger, NodeDir, json, text};
use serde_json::Value;

const BOB: &str = "0x00000000000000000000000000000000000000b0";
const CAROL: &str = "0x00000000000000000000000000000000000000ca";
const ERIN: &str = "0x00000000000000000000000000000000000000e1";

/// The node's contacts as `alias → peer URL or address`.
fn contacts(node: &NodeDir) -> Vec<(String, String)> {
    let listed = json(node.channel_contacts(&["list"]));
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c: &Value| {
            let peer = c["peer_url"].as_str().or(c["address"].as_str()).unwrap();
            (c["alias"].as_str().unwrap().to_owned(), peer.to_lowercase())
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, p)| ((*a).to_owned(), p.to_lowercase()))
        .collect()
}

#[test]
fn contacts_files_are_reloaded_when_edited_and_round_trip() {
    let root = tempfile::tempdir().unwrap();
    let ledger = Ledger::start(root.path());
    let alice = NodeDir::init(root.path(), "alice", &ledger.url());
    let config = alice.dir.join("config.toml");
    let template = fs::read_to_string(&config).unwrap();
    assert!(template.contains("\n# contacts_file = \"contacts.yaml\"\n"));
    fs::write(
        &config,
        template.replace(
            "\n# contacts_file = \"contacts.yaml\"\n",
            "\ncontacts_file = \"contacts.yaml\"\n",
        ),
    )
    .unwrap();
    let file = alice.dir.join("contacts.yaml");
    let bob_url = format!("{BOB}@127.0.0.1:6345");
    fs::write(&file, format!("bob: {bob_url}\ncarol: \"{CAROL}\"\n")).unwrap();
    let mut node = alice.run("alice");

    // Loaded at start.
    let want = pairs(&[("bob", &bob_url), ("carol", CAROL)]);
    node.wait_until("the contacts file is loaded", || contacts(&alice) == want);
    // A contact added over the API is not the file's: edits of the file leave it alone.
    json(alice.channel_contacts(&["add", "dave", "0x00000000000000000000000000000000000000da"]));

    // Edited: bob moves, carol goes, erin comes.
    let bob_moved = format!("{BOB}@ws://127.0.0.1:7000/p");
    fs::write(
        &file,
        format!("# edited\nbob: {bob_moved}\nerin: \"{ERIN}\"\n"),
    )
    .unwrap();
    let want = pairs(&[
        ("bob", &bob_moved),
        ("dave", "0x00000000000000000000000000000000000000da"),
        ("erin", ERIN),
    ]);
    node.wait_until("the edit is applied", || contacts(&alice) == want);

    // Broken (a bad alias, then not YAML at all): reported, nothing changes.
    fs::write(&file, format!("0xbad: \"{ERIN}\"\nbob: {bob_url}\n")).unwrap();
    node.wait_for("the bad alias reported", |log| {
        log.contains("contacts file not applied").then_some(())
    });
    let reported = node.log().matches("contacts file not applied").count();
    fs::write(&file, "bob: [1, 2\n").unwrap();
    node.wait_for("the syntax error reported", |log| {
        (log.matches("contacts file not applied").count() > reported).then_some(())
    });
    assert_eq!(contacts(&alice), want);

    // Export, then import into the same node: all unchanged; a conflicting file is refused
    // as a whole without --replace, applied with it.
    let exported = alice.dir.join("exported.yaml");
    let out = alice.channel_contacts(&["export", "--out", exported.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written = fs::read_to_string(&exported).unwrap();
    assert!(written.starts_with("# paychan contacts"), "{written}");
    let again = json(alice.channel_contacts(&["import", exported.to_str().unwrap()]));
    assert_eq!(
        again,
        serde_json::json!({"added": 0, "replaced": 0, "unchanged": 3})
    );
    let conflicting = alice.dir.join("conflicting.yaml");
    fs::write(
        &conflicting,
        format!("dave: \"{CAROL}\"\nfrank: \"{ERIN}\"\n"),
    )
    .unwrap();
    let refused = alice.channel_contacts(&["import", conflicting.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("dave"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(contacts(&alice), want);
    let replaced =
        json(alice.channel_contacts(&["import", conflicting.to_str().unwrap(), "--replace"]));
    assert_eq!(
        replaced,
        serde_json::json!({"added": 1, "replaced": 1, "unchanged": 0})
    );
    let contacts_now = contacts(&alice);
    assert!(contacts_now.contains(&("dave".to_owned(), CAROL.to_lowercase())));
    assert!(contacts_now.contains(&("frank".to_owned(), ERIN.to_lowercase())));
    node.assert_running();
}
