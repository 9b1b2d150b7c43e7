//! The `paychan` binary on the Ethereum ledger: `demo --ledger ethereum`, and `eth deploy`
//! followed by a node configured with `[ledger] kind = "ethereum"`. Needs anvil (installed by
//! `npm ci` in contracts/); fails without it unless `PAYCHAN_SKIP_ANVIL=1`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects,
    missing_docs
)]

use std::{
    fs,
    net::{TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    thread::sleep,
    time::{Duration, Instant},
};

use paychan_eth::anvil::Anvil;
use serde_json::Value;

/// The first account of anvil's default mnemonic (funded by anvil itself).
const ANVIL_DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

fn skip() -> bool {
    let skip = std::env::var("PAYCHAN_SKIP_ANVIL").is_ok_and(|v| v == "1");
    if skip {
        eprintln!("NOTICE: PAYCHAN_SKIP_ANVIL=1: skipping a test that needs anvil");
    }
    skip
}

fn command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_paychan"));
    command
        .env_remove("PAYCHAN_PASSPHRASE")
        .env_remove("PAYCHAN_DATA_DIR")
        .stdin(Stdio::null());
    command
}

fn ok_json(out: std::process::Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn demo_on_the_contract_balances_match_payments() {
    if skip() {
        return;
    }
    let out = command()
        .args([
            "demo",
            "--ledger",
            "ethereum",
            "--json",
            "--requests",
            "20",
            "--stream",
            "5",
        ])
        .output()
        .unwrap();
    let v = ok_json(out);
    assert_eq!(v["ok"], true);
    for p in v["parties"].as_array().unwrap() {
        assert_eq!(p["expected_balance"], p["ledger_balance"]);
    }
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `paychan node` on a freshly deployed contract, with its data directory.
struct EthNode {
    dir: std::path::PathBuf,
    address: String,
    contract: String,
    _node: Killed,
    _root: tempfile::TempDir,
}

/// `paychan init`, `paychan eth deploy` on `anvil`, the node's `[ledger]` pointed at the
/// contract with `confirmations`, then `paychan node`, waiting until its API answers.
fn start_node(anvil: &Anvil, confirmations: u64) -> EthNode {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("alice");
    let pass = root.path().join("alice.pass");
    fs::write(&pass, "correct horse battery staple\n").unwrap();
    let rpc_port = free_port();
    let init = ok_json(
        command()
            .args(["init", "--json", "--data-dir"])
            .arg(&dir)
            .arg("--passphrase-file")
            .arg(&pass)
            .args(["--rpc-listen", &format!("127.0.0.1:{rpc_port}")])
            .args(["--listen-tcp", &format!("127.0.0.1:{}", free_port())])
            .output()
            .unwrap(),
    );
    let address = init["address"].as_str().unwrap().to_owned();
    let deployed = ok_json(
        command()
            .args(["eth", "deploy", "--json", "--rpc-url", anvil.url()])
            .args(["--private-key-env", "PAYCHAN_TEST_DEPLOYER"])
            .env("PAYCHAN_TEST_DEPLOYER", ANVIL_DEV_KEY)
            .output()
            .unwrap(),
    );
    let contract = deployed["contract"].as_str().unwrap().to_owned();
    assert_eq!(deployed["chainId"], 31337);

    // Point the node at the contract.
    let config_path = dir.join("config.toml");
    let config = fs::read_to_string(&config_path).unwrap();
    let start = config.find("[ledger]").unwrap();
    let end = start + config[start..].find("\n[store]").unwrap();
    let ledger = format!(
        "[ledger]\nkind = \"ethereum\"\nrpc_url = \"{}\"\ncontract = \"{contract}\"\nchain_id = 31337\nconfirmations = {confirmations}\nstart_block = {}\n",
        anvil.url(),
        deployed["block"]
    );
    fs::write(
        &config_path,
        format!("{}{ledger}{}", &config[..start], &config[end..]),
    )
    .unwrap();

    let log = root.path().join("alice.log");
    let file = fs::File::create(&log).unwrap();
    let node = Killed(
        command()
            .args(["node", "--data-dir"])
            .arg(&dir)
            .arg("--passphrase-file")
            .arg(&pass)
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap(),
    );
    let began = Instant::now();
    while TcpStream::connect(("127.0.0.1", rpc_port)).is_err() {
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "the node did not start:\n{}",
            fs::read_to_string(&log).unwrap_or_default()
        );
        sleep(Duration::from_millis(50));
    }
    EthNode {
        dir,
        address,
        contract,
        _node: node,
        _root: root,
    }
}

fn info(node: &EthNode) -> Value {
    ok_json(
        command()
            .args(["info", "--json", "--data-dir"])
            .arg(&node.dir)
            .output()
            .unwrap(),
    )
}

/// One JSON-RPC call to anvil over plain HTTP/1.1.
fn anvil_call(anvil: &Anvil, method: &str, params: Value) -> Value {
    use std::io::{Read, Write};
    let host = anvil.url().trim_start_matches("http://").to_owned();
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        .to_string();
    let mut stream = TcpStream::connect(&host).unwrap();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let json = &answer[answer.find("\r\n\r\n").unwrap() + 4..];
    let v: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {answer}"));
    assert!(v.get("error").is_none(), "{method}: {v}");
    v["result"].clone()
}

#[test]
fn a_node_runs_on_a_deployed_contract() {
    if skip() {
        return;
    }
    let anvil = Anvil::spawn(&[]).unwrap_or_else(|e| panic!("{e}"));
    let node = start_node(&anvil, 1);
    let info = info(&node);
    assert_eq!(info["ledger"]["chain_id"], 31337, "{info}");
    assert_eq!(
        info["ledger"]["verifying_contract"]
            .as_str()
            .unwrap()
            .to_lowercase(),
        node.contract.to_lowercase(),
        "{info}"
    );
    assert_eq!(
        info["pending_transactions"],
        serde_json::json!([]),
        "{info}"
    );
    assert!(
        node.dir.join("eth-index/cursor.json").exists(),
        "the event index lives in the data directory"
    );
}

/// An open on a ledger that waits for 3 confirmations: while it waits, `info` shows the
/// transaction and its depth ("1/3", "2/3"), block by block as the test mines them; when the
/// open returns, nothing is pending.
#[test]
fn an_open_shows_its_confirmations_while_it_waits() {
    if skip() {
        return;
    }
    let anvil = Anvil::spawn(&[]).unwrap_or_else(|e| panic!("{e}"));
    let node = start_node(&anvil, 3);
    anvil_call(
        &anvil,
        "anvil_setBalance",
        serde_json::json!([node.address, "0x56BC75E2D63100000"]),
    );
    let peer = "0x00000000000000000000000000000000000000b0";
    let open = command()
        .args(["channel", "open", "--json", "--no-propose", "--data-dir"])
        .arg(&node.dir)
        .args([peer, "1000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Anvil mines the open at once (1/3); each block the test mines adds one.
    let mut seen = Vec::new();
    let began = Instant::now();
    while seen.len() < 2 {
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "saw only {seen:?} of 1/3 and 2/3"
        );
        let pending = info(&node)["pending_transactions"].clone();
        if let [tx] = pending.as_array().unwrap().as_slice() {
            assert_eq!(tx["action"], "open", "{tx}");
            assert_eq!(tx["required"], 3, "{tx}");
            let depth = tx["confirmations"].as_u64().unwrap();
            if depth >= 1 && seen.last() != Some(&depth) {
                assert!(tx["block"].is_u64(), "{tx}");
                assert_eq!(depth, seen.len() as u64 + 1, "depth {depth} after {seen:?}");
                seen.push(depth);
                anvil_call(&anvil, "evm_mine", serde_json::json!([]));
            }
        }
        sleep(Duration::from_millis(20));
    }
    let opened = ok_json(open.wait_with_output().unwrap());
    assert!(opened["channel_id"].is_string(), "{opened}");
    assert_eq!(info(&node)["pending_transactions"], serde_json::json!([]));
}
