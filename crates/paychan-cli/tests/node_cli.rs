//! `paychan init`, `paychan node` and `paychan channel` as a user runs them: child processes
//! on free ports and temporary directories, around a `paychan ledger serve` child with a
//! manual clock. Node processes open channels over TCP, over WebSocket and over a configured
//! peer link, pay with messages, and close cooperatively and unilaterally; the ledger
//! balances are checked.

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
    io::Read,
    path::Path,
    process::{Command, Stdio},
    thread::sleep,
    time::{Duration, Instant},
};

use common::{
    Process, READY_TIMEOUT, command, listening,
    nodes::{FUNDS, Ledger, NodeDir, PASSPHRASE, json, ok, paychan, text},
};
use serde_json::{Value, json};

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_writes_a_private_token_and_refuses_to_run_twice() {
    let root = tempfile::tempdir().unwrap();
    let node = NodeDir::init(root.path(), "alice", "http://127.0.0.1:6334");
    assert!(
        node.address.starts_with("0x") && node.address.len() == 42,
        "{}",
        node.address
    );
    let token = node.dir.join("rpc.token");
    let keystore = node.dir.join("keystore.json");
    assert_eq!(fs::read_to_string(&token).unwrap().trim().len(), 64);
    #[cfg(unix)]
    {
        assert_eq!(
            mode(&token),
            0o600,
            "the token is readable by its owner only"
        );
        assert_eq!(mode(&keystore), 0o600);
        assert_eq!(mode(&node.dir), 0o700);
    }
    let stored: Value = serde_json::from_str(&fs::read_to_string(&keystore).unwrap()).unwrap();
    assert_eq!(stored["version"], 3);
    assert_eq!(stored["crypto"]["kdf"], "scrypt");
    assert_eq!(
        format!("0x{}", stored["address"].as_str().unwrap()),
        node.address.to_lowercase()
    );
    let config = fs::read_to_string(node.dir.join("config.toml")).unwrap();
    assert!(
        config.contains(&format!("listen = \"127.0.0.1:{}\"", node.rpc_port)),
        "{config}"
    );
    assert!(config.contains("kind = \"embedded-remote\""), "{config}");

    // A second init refuses and leaves the key alone.
    let before = fs::read(&keystore).unwrap();
    let again = command()
        .args(["init", "--data-dir", node.dir(), "--insecure-plaintext-key"])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("refusing to overwrite"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(fs::read(&keystore).unwrap(), before);
    assert!(!node.dir.join("node.key").exists());

    // Without a passphrase source (no terminal here), init refuses and creates nothing.
    let empty = root.path().join("nopass");
    let out = command()
        .args(["init", "--data-dir", empty.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no passphrase"),
        "{}",
        text(&out.stderr)
    );
    assert!(!empty.exists());

    // The passphrase from the environment; the plaintext key for development.
    let from_env = root.path().join("env");
    let out = command()
        .args(["init", "--data-dir", from_env.to_str().unwrap()])
        .env("PAYCHAN_PASSPHRASE", PASSPHRASE)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(from_env.join("keystore.json").exists());
    let plain = root.path().join("plain");
    let out = command()
        .args([
            "init",
            "--insecure-plaintext-key",
            "--data-dir",
            plain.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("UNENCRYPTED"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        fs::read_to_string(plain.join("config.toml"))
            .unwrap()
            .contains("key_file = \"node.key\"")
    );
}

#[test]
fn a_node_serves_its_api_and_refuses_bad_configs_and_tokens() {
    let root = tempfile::tempdir().unwrap();
    let ledger = Ledger::start(root.path());
    let node = NodeDir::init(root.path(), "alice", &ledger.url());
    ledger.fund(&node.address);

    // A bad config: an error naming the field, and nothing started.
    let config_path = node.dir.join("config.toml");
    let good = fs::read_to_string(&config_path).unwrap();
    fs::write(
        &config_path,
        good.replace("challenge_period = 86400", "challenge_period = \"a day\""),
    )
    .unwrap();
    let mut command = command();
    command.args([
        "node",
        "--data-dir",
        node.dir(),
        "--passphrase-file",
        node.passphrase.to_str().unwrap(),
    ]);
    let mut bad = Process::spawn("bad node", command, &root.path().join("bad.log"));
    assert!(!bad.exit_status().success());
    assert!(bad.log().contains("challenge_period"), "{}", bad.log());
    assert!(!listening(node.rpc_port));
    fs::write(&config_path, &good).unwrap();

    // A wrong passphrase: refused before anything starts.
    let wrong = root.path().join("wrong.pass");
    fs::write(&wrong, "not it\n").unwrap();
    let out = paychan(&[
        "node",
        "--data-dir",
        node.dir(),
        "--passphrase-file",
        wrong.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("wrong passphrase"),
        "{}",
        text(&out.stderr)
    );

    let _running = node.run("alice");
    assert_eq!(json(node.channel(&["list"])), json!([]));
    let info = json(paychan(&["info", "--data-dir", node.dir(), "--json"]));
    assert_eq!(
        info["address"].as_str().unwrap().to_lowercase(),
        node.address.to_lowercase()
    );
    assert_eq!(info["balance"], FUNDS.to_string());
    assert_eq!(info["listen"].as_array().unwrap().len(), 2);

    // The API refuses a wrong token.
    let token = root.path().join("wrong.token");
    fs::write(&token, "0123456789abcdef0123456789abcdef").unwrap();
    let rpc = format!("http://127.0.0.1:{}", node.rpc_port);
    let out = paychan(&[
        "channel",
        "list",
        "--rpc",
        &rpc,
        "--token-file",
        token.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("refused the token"),
        "{}",
        text(&out.stderr)
    );
    // Bad input to a command: a client error, as JSON for scripts.
    let unknown = format!("0x{}", "ab".repeat(32));
    let out = node.channel(&["pay", &unknown, "5"]);
    assert!(!out.status.success());
    let error: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(error["error"]["code"], 1001);
    assert_eq!(error["error"]["category"], "client");
}

#[test]
fn node_processes_pay_each_other_over_tcp_websocket_and_configured_links() {
    let root = tempfile::tempdir().unwrap();
    let ledger = Ledger::start(root.path());
    let alice = NodeDir::init(root.path(), "alice", &ledger.url());
    let bob = NodeDir::init(root.path(), "bob", &ledger.url());
    ledger.fund(&alice.address);
    ledger.fund(&bob.address);
    let _a = alice.run("alice");
    let _b = bob.run("bob");

    // Over TCP: open, pay both ways, withdraw, close cooperatively.
    let opened = json(alice.channel(&["open", &bob.tcp_url(), "1000"]));
    assert_eq!(opened["status"], "open");
    let id = opened["channel_id"].as_str().unwrap().to_owned();
    let mut paid = 0;
    for n in 1..=5u64 {
        let answer =
            json(alice.channel(&["pay", &id, &n.to_string(), &format!("{{\"call\":{n}}}")]));
        assert_eq!(
            answer["response"],
            Value::Null,
            "bob answers with the default response"
        );
        paid += n;
    }
    json(bob.channel(&["deposit", &id, "200"]));
    json(bob.channel(&["pay", &id, "4", "thanks"]));
    let seen = json(bob.channel(&["info", &id]));
    assert_eq!(seen["balances"]["paid_by_peer"], paid.to_string());
    assert_eq!(seen["balances"]["paid_by_me"], "4");
    json(bob.channel(&["withdraw", &id, "50"]));
    let listed = json(alice.channel(&["list", "--peer", &bob.address]));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let closed = json(alice.channel(&["close", &id]));
    assert_eq!(closed["cooperative"], true);
    assert_eq!(closed["channel"]["status"], "closed");
    assert_eq!(ledger.balance(&alice.address), FUNDS - paid + 4);
    assert_eq!(ledger.balance(&bob.address), FUNDS + paid - 4);

    // A configured peer: carol keeps bob connected and opens a channel to his bare address.
    let carol = NodeDir::init(root.path(), "carol", &ledger.url());
    let carol_config = carol.dir.join("config.toml");
    let config = fs::read_to_string(&carol_config).unwrap().replace(
        "\npeers = []",
        &format!("\npeers = [\"{}\"]", bob.tcp_url()),
    );
    fs::write(&carol_config, config).unwrap();
    ledger.fund(&carol.address);
    let _c = carol.run("carol");
    let start = Instant::now();
    let third = loop {
        let out = carol.channel(&["open", &bob.address, "50"]);
        let answer: Value = serde_json::from_str(&text(&out.stdout)).unwrap_or(Value::Null);
        if out.status.success() {
            break answer["channel_id"].as_str().unwrap().to_owned();
        }
        // Offline until carol's link has connected.
        assert_eq!(answer["error"]["code"], 2001, "{}", text(&out.stderr));
        assert!(
            start.elapsed() < READY_TIMEOUT,
            "carol's link to bob did not connect"
        );
        sleep(Duration::from_millis(200));
    };
    json(carol.channel(&["pay", &third, "3", "configured"]));
    assert_eq!(json(carol.channel(&["close", &third]))["cooperative"], true);

    // Over WebSocket: open, pay, then a unilateral close settled after the challenge period.
    let opened = json(alice.channel(&["open", &carol.ws_url(), "300"]));
    let second = opened["channel_id"].as_str().unwrap().to_owned();
    json(alice.channel(&["pay", &second, "7", "over websocket"]));
    let mut closing = command()
        .args([
            "channel",
            "close",
            &second,
            "--force",
            "--wait",
            "--json",
            "--data-dir",
            alice.dir(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while json(alice.channel(&["info", &second]))["status"] != "closing" {
        assert!(start.elapsed() < READY_TIMEOUT, "the close did not start");
        sleep(Duration::from_millis(100));
    }
    ledger.advance(86_400 + 1);
    let status = loop {
        if let Some(status) = closing.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > READY_TIMEOUT {
            let _ = closing.kill();
            panic!("close --wait did not return after the challenge period");
        }
        sleep(Duration::from_millis(100));
    };
    let mut out = String::new();
    closing
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(status.success(), "{out}");
    let closed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(closed["cooperative"], false);
    assert_eq!(closed["channel"]["status"], "closed");
    assert_eq!(ledger.balance(&alice.address), FUNDS - paid + 4 - 7);
    assert_eq!(ledger.balance(&bob.address), FUNDS + paid - 4 + 3);
    assert_eq!(ledger.balance(&carol.address), FUNDS - 3 + 7);
    assert_eq!(json(bob.channel(&["list"])).as_array().unwrap().len(), 2);
    // Alice's close returned once Alice saw the settlement; Carol's watcher sees it on its own.
    let start = Instant::now();
    let on_carol = loop {
        let on_carol = json(carol.channel(&["list", "--peer", &alice.address]));
        if on_carol[0]["status"] == "closed" {
            break on_carol;
        }
        assert!(
            start.elapsed() < READY_TIMEOUT,
            "carol does not see the channel closed: {on_carol}"
        );
        sleep(Duration::from_millis(100));
    };
    assert_eq!(on_carol[0]["role"], "B");
}

/// Two daemons on one served ledger, each with the other's `ADDRESS@HOST:PORT` under
/// `[node] peers` (as a new user sets them up): they settle on one connection, the one
/// dialed by the lower address, and stay on it; payments both ways succeed while neither log
/// shows more than the one connection dropped when they met. Issue 13, defect 1.
#[test]
fn daemons_listing_each_other_as_peers_hold_one_connection() {
    let root = tempfile::tempdir().unwrap();
    let ledger = Ledger::start(root.path());
    let alice = NodeDir::init(root.path(), "alice", &ledger.url());
    let bob = NodeDir::init(root.path(), "bob", &ledger.url());
    for (node, other) in [(&alice, &bob), (&bob, &alice)] {
        let path = node.dir.join("config.toml");
        let config = fs::read_to_string(&path).unwrap().replace(
            "\npeers = []",
            &format!("\npeers = [\"{}\"]", other.tcp_url()),
        );
        fs::write(&path, config).unwrap();
        ledger.fund(&node.address);
    }
    let mut a = alice.run("alice");
    let mut b = bob.run("bob");

    let start = Instant::now();
    let id = loop {
        let out = alice.channel(&["open", &bob.address, "1000"]);
        if out.status.success() {
            let answer: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
            break answer["channel_id"].as_str().unwrap().to_owned();
        }
        // Not connected yet.
        assert!(
            start.elapsed() < READY_TIMEOUT,
            "alice cannot open a channel to bob: {}{}\n{}",
            text(&out.stdout),
            text(&out.stderr),
            a.log_tail()
        );
        sleep(Duration::from_millis(200));
    };
    json(bob.channel(&["deposit", &id, "1000"]));
    // Payments both ways for several of the old redial periods: every one succeeds.
    let start = Instant::now();
    let mut n = 0u64;
    while n < 10 || start.elapsed() < Duration::from_secs(6) {
        for (who, node, process) in [("alice", &alice, &a), ("bob", &bob, &b)] {
            let out = node.channel(&["pay", &id, "1", "ping"]);
            assert!(
                out.status.success(),
                "payment {n} from {who} failed: {}{}\n{}",
                text(&out.stdout),
                text(&out.stderr),
                process.log_tail()
            );
        }
        n += 1;
    }
    let info = json(alice.channel(&["info", &id]));
    assert_eq!(info["balances"]["paid_by_me"], n.to_string());
    assert_eq!(info["balances"]["paid_by_peer"], n.to_string());
    // One connection: at most the one that lost the tie-break when they met has ended.
    for process in [&a, &b] {
        let ended = process.log().matches("connection ended").count();
        assert!(
            ended <= 1,
            "{ended} connections ended:\n{}",
            process.log_tail()
        );
    }
    // The higher address does not redial while the lower one's connection lasts.
    let high = if alice.address.to_lowercase() < bob.address.to_lowercase() {
        &mut b
    } else {
        &mut a
    };
    high.wait_for("holding its link", |log| {
        log.contains("not redialing while it lasts").then_some(())
    });
}

/// Whether `python3` with `websockets` can run the example handler. CI installs it (see
/// `.ci/run`); elsewhere, `PAYCHAN_SKIP_PYTHON=1` skips the test with a notice.
fn python_ready() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import websockets"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found && std::env::var_os("PAYCHAN_SKIP_PYTHON").is_some() {
        eprintln!("skipped: python3 with websockets is not installed (PAYCHAN_SKIP_PYTHON)");
        return false;
    }
    assert!(
        found,
        "the example handler needs python3 and `pip install websockets==15.0.1` \
         (or set PAYCHAN_SKIP_PYTHON=1 to skip)"
    );
    true
}

#[test]
fn contacts_packages_and_the_python_example_handler_through_the_cli() {
    if !python_ready() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let ledger = Ledger::start(root.path());
    let alice = NodeDir::init(root.path(), "alice", &ledger.url());
    let bob = NodeDir::init(root.path(), "bob", &ledger.url());
    ledger.fund(&alice.address);
    ledger.fund(&bob.address);
    let _a = alice.run("alice");
    let _b = bob.run("bob");

    // Bob's payments are answered by the example script over his API's WebSocket.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/payment_handler.py");
    let mut handler_command = Command::new("python3");
    handler_command
        .arg(&script)
        .arg(format!("ws://127.0.0.1:{}", bob.rpc_port))
        .arg(bob.dir.join("rpc.token"));
    let mut handler = Process::spawn(
        "python handler",
        handler_command,
        &root.path().join("handler.log"),
    );
    handler.wait_for("subscribed", |log| {
        log.contains("handling payments").then_some(())
    });

    // Alice saves bob as a contact and opens a channel to the alias.
    let saved = json(
        command()
            .args([
                "contacts",
                "add",
                "bob",
                &bob.tcp_url(),
                "--json",
                "--data-dir",
                alice.dir(),
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(
        saved["address"].as_str().unwrap().to_lowercase(),
        bob.address.to_lowercase()
    );
    let listed = ok(command()
        .args(["contacts", "list", "--data-dir", alice.dir()])
        .output()
        .unwrap());
    assert!(
        listed.contains("bob") && listed.contains(&bob.tcp_url()),
        "{listed}"
    );
    let opened = json(alice.channel(&["open", "bob", "1000"]));
    let id = opened["channel_id"].as_str().unwrap().to_owned();

    // The script charges one unit per character.
    let answer = json(alice.channel(&["pay", &id, "5", "hello"]));
    assert_eq!(
        answer["response"],
        json!({ "answer": "HELLO", "paid": "5" })
    );
    let out = alice.channel(&["pay", &id, "2", "hello"]);
    assert!(!out.status.success());
    let refused: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(refused["error"]["code"], 2003);
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("costs 5"),
        "{refused}"
    );
    let seen = json(bob.channel(&["info", &id]));
    assert_eq!(
        seen["balances"]["paid_by_peer"], "5",
        "the refused call is not counted"
    );
    let on_alice = json(alice.channel(&["list", "--peer", "bob"]));
    assert_eq!(on_alice[0]["balances"]["paid_by_me"], "5");

    // Without the script, bob answers the default response again.
    drop(handler);
    let start = Instant::now();
    loop {
        let out = alice.channel(&["pay", &id, "1", "x"]);
        if out.status.success() {
            let answer: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
            if answer["response"] == Value::Null {
                break;
            }
        }
        assert!(
            start.elapsed() < READY_TIMEOUT,
            "the handler stayed registered"
        );
        sleep(Duration::from_millis(100));
    }
    let removed = json(
        command()
            .args([
                "contacts",
                "remove",
                "bob",
                "--json",
                "--data-dir",
                alice.dir(),
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(removed["removed"], true);
    assert_eq!(
        json(
            command()
                .args(["contacts", "list", "--json", "--data-dir", alice.dir()])
                .output()
                .unwrap()
        ),
        json!([])
    );
    assert_eq!(json(alice.channel(&["close", &id]))["cooperative"], true);
    let paid: u64 = json(bob.channel(&["info", &id]))["balances"]["paid_by_peer"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    // Payment packages: a channel bob was not asked about, paid by a package he verifies.
    let opened = json(alice.channel(&["open", &bob.address, "300", "--no-propose"]));
    let by_package = opened["channel_id"].as_str().unwrap().to_owned();
    let package_command = |node: &NodeDir, args: &[&str]| {
        command()
            .arg("package")
            .args(args)
            .args(["--data-dir", node.dir()])
            .output()
            .unwrap()
    };
    let compact = ok(package_command(
        &alice,
        &["create", &by_package, "30", "{\"GET\":\"/x\"}"],
    ));
    let compact = compact.trim();
    let accepted = ok(package_command(&bob, &["verify", compact]));
    assert!(accepted.contains("accepted 30 from"), "{accepted}");
    let replayed = package_command(&bob, &["verify", compact]);
    assert!(!replayed.status.success());
    assert!(
        text(&replayed.stderr).contains("code 1009"),
        "{}",
        text(&replayed.stderr)
    );
    assert_eq!(
        json(alice.channel(&["close", &by_package]))["cooperative"],
        true
    );

    assert_eq!(ledger.balance(&alice.address), FUNDS - paid - 30);
    assert_eq!(ledger.balance(&bob.address), FUNDS + paid + 30);
}
