//! Crash safety of `paychan node` processes: a payer (Alice) and a payee (Bob), each a
//! `paychan node` child process with its own SQLite store, share a served ledger
//! (`paychan ledger serve --sync --manual-clock`). A driver thread pays continuously through
//! Alice's JSON-RPC API while the test kills Alice or Bob with SIGKILL at pseudo-random
//! moments, restarts it on the same data directory and ports, and waits until the peer link
//! is back. After every round and at the end, with the driver paused:
//!
//! - both sides agree after the counter sync (Bob's `paid_by_peer` = Alice's `paid_by_me`);
//! - sum(answered payments) <= counted <= sum(answered) + sum(outcome unknown): no answered
//!   payment is lost, and no payment that was refused (or never reached Alice) is counted;
//!
//! and at the end the channel closes cooperatively and the ledger pays exactly that amount,
//! with the ledger's total unchanged.
//!
//! The calls are classified by their answer: success (counted), refused (a client error, 2001
//! "peer not connected" or 2003 "peer refused": the node takes such a payment back; or Alice
//! could not even be reached), or outcome unknown (2002 timeout, 2004 connection lost, Alice
//! killed during the call, anything else).
//!
//! The stores run with the default `durability = "normal"`, which the configuration template
//! documents as surviving `kill -9` (`"full"` adds an fsync against power loss).
//!
//! Deterministic apart from timing: the victims, delays and amounts come from a fixed seed
//! (`PAYCHAN_CRASH_SEED` and `PAYCHAN_CRASH_ROUNDS` override them;
//! `PAYCHAN_CRASH_DURABILITY=full` runs the stores with an fsync per commit group;
//! `PAYCHAN_CRASH_KEEP=1` keeps the data directories and logs). One line per round goes to
//! stderr (`cargo test -p paychan-cli --test crash -- --nocapture`).

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
    fmt, fs,
    io::{self, Read, Write},
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    thread::{self, JoinHandle, sleep},
    time::{Duration, Instant},
};

use common::{Process, READY_TIMEOUT, command, free_port, listening};
use serde_json::{Value, json};

const PASSPHRASE: &str = "correct horse battery staple";
/// What the faucet gives each node.
const FUNDS: u128 = 1_000_000;
/// Alice's deposit: far more than the test can spend.
const DEPOSIT: u128 = 500_000;
const DEFAULT_SEED: u64 = 0x7061_7963_6861_6e21;
const DEFAULT_ROUNDS: u32 = 24;
/// How long a process may take to start, a link to come back, the counters to agree.
/// How long both sides may take to agree once the link is back and the driver paused.
const AGREE_TIMEOUT: Duration = Duration::from_secs(15);
/// The longest a single API call may take before the test calls its outcome unknown.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The nodes' `request_timeout` and `handler_timeout` (seconds). A SIGKILL closes the
/// sockets at once, so the peer learns of it without waiting; these only bound a peer that
/// hangs, and stay well above what a loaded CI machine needs for one payment.
const REQUEST_TIMEOUT: u64 = 10;
const HANDLER_TIMEOUT: u64 = 5;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// SplitMix64: the test's only source of randomness, from a fixed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `low..=high`.
    fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

// ---- a minimal JSON-RPC client over HTTP/1.1, one connection per call ----

/// Why a call failed.
#[derive(Debug)]
enum CallError {
    /// The TCP connection could not be made: the request never left, nothing happened.
    Connect(io::Error),
    /// The connection broke after the request may have been sent (or no answer in time).
    Transport(String),
    /// An answer that is not a JSON-RPC answer.
    Http(String),
    /// A JSON-RPC error: its `error.code`, paychan's `data.code` if any, the message.
    Rpc {
        code: i64,
        paychan: Option<u64>,
        message: String,
    },
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Connect(e) => write!(f, "connect: {e}"),
            CallError::Transport(e) => write!(f, "transport: {e}"),
            CallError::Http(e) => write!(f, "http: {e}"),
            CallError::Rpc {
                code,
                paychan,
                message,
            } => write!(f, "rpc {code} (paychan {paychan:?}): {message}"),
        }
    }
}

impl CallError {
    /// The paychan code of an API error.
    fn paychan(&self) -> Option<u64> {
        match self {
            CallError::Rpc { paychan, .. } => *paychan,
            _ => None,
        }
    }
}

/// Calls `method` with named `params` at `127.0.0.1:port` (with `token`, if any).
fn call(port: u16, token: Option<&str>, method: &str, params: Value) -> Result<Value, CallError> {
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }).to_string();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(CallError::Connect)?;
    let transport = |e: io::Error| CallError::Transport(e.to_string());
    stream
        .set_read_timeout(Some(CALL_TIMEOUT))
        .map_err(transport)?;
    stream
        .set_write_timeout(Some(CALL_TIMEOUT))
        .map_err(transport)?;
    let auth = token.map_or(String::new(), |t| {
        format!("Authorization: Bearer {}\r\n", t.trim())
    });
    let request = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).map_err(transport)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(transport)?;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let Some((head, body)) = answer.split_once("\r\n\r\n") else {
        return Err(CallError::Transport(format!(
            "incomplete answer: {answer:?}"
        )));
    };
    if !head.starts_with("HTTP/1.1 200") {
        return Err(CallError::Http(
            head.lines().next().unwrap_or("").to_owned(),
        ));
    }
    let length = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())?
    });
    if length.is_some_and(|n| body.len() < n) {
        return Err(CallError::Transport(format!("truncated answer: {body:?}")));
    }
    let value: Value = serde_json::from_str(body)
        .map_err(|e| CallError::Http(format!("not JSON ({e}): {body:?}")))?;
    if let Some(error) = value.get("error") {
        return Err(CallError::Rpc {
            code: error["code"].as_i64().unwrap_or(0),
            paychan: error["data"]["code"].as_u64(),
            message: error["message"].as_str().unwrap_or("").to_owned(),
        });
    }
    Ok(value["result"].clone())
}

/// An amount answered as a decimal string or a JSON integer.
fn amount(value: &Value) -> u128 {
    match value {
        Value::String(s) => s.parse().unwrap_or_else(|e| panic!("amount {s:?}: {e}")),
        Value::Number(n) => n
            .as_u64()
            .map(u128::from)
            .unwrap_or_else(|| panic!("amount {n}")),
        other => panic!("not an amount: {other}"),
    }
}

// ---- processes ----

/// A node's data directory, made by `paychan init`, and its ports.
struct NodeDir {
    name: &'static str,
    dir: PathBuf,
    passphrase: PathBuf,
    address: String,
    rpc_port: u16,
    tcp_port: u16,
    token: String,
}

impl NodeDir {
    fn init(root: &Path, name: &'static str, ledger_url: &str) -> NodeDir {
        let dir = root.join(name);
        let passphrase = root.join(format!("{name}.pass"));
        fs::write(&passphrase, format!("{PASSPHRASE}\n")).unwrap();
        let (rpc_port, tcp_port) = (free_port(), free_port());
        let out = command()
            .args(["init", "--json", "--ledger-url", ledger_url])
            .arg("--data-dir")
            .arg(&dir)
            .arg("--passphrase-file")
            .arg(&passphrase)
            .args(["--rpc-listen", &format!("127.0.0.1:{rpc_port}")])
            .args(["--listen-tcp", &format!("127.0.0.1:{tcp_port}")])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "init {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let token = fs::read_to_string(dir.join("rpc.token")).unwrap();
        NodeDir {
            name,
            address: report["address"].as_str().unwrap().to_owned(),
            dir,
            passphrase,
            rpc_port,
            tcp_port,
            token: token.trim().to_owned(),
        }
    }

    /// Edits `config.toml`: short timeouts, the store's durability, the peers to keep
    /// connected. Each replaced line must be in the template.
    fn configure(&self, durability: &str, peers: &[String]) {
        let path = self.dir.join("config.toml");
        let mut config = fs::read_to_string(&path).unwrap();
        let peers: Vec<String> = peers.iter().map(|p| format!("\"{p}\"")).collect();
        for (from, to) in [
            (
                "\npeers = []\n".to_owned(),
                format!("\npeers = [{}]\n", peers.join(", ")),
            ),
            (
                "\nrequest_timeout = 30\n".to_owned(),
                format!("\nrequest_timeout = {REQUEST_TIMEOUT}\n"),
            ),
            (
                "\nhandler_timeout = 20\n".to_owned(),
                format!("\nhandler_timeout = {HANDLER_TIMEOUT}\n"),
            ),
            (
                "\ndurability = \"normal\"\n".to_owned(),
                format!("\ndurability = \"{durability}\"\n"),
            ),
        ] {
            assert!(config.contains(&from), "{from:?} not in {}", path.display());
            config = config.replace(&from, &to);
        }
        fs::write(&path, config).unwrap();
    }

    fn tcp_url(&self) -> String {
        format!("{}@127.0.0.1:{}", self.address, self.tcp_port)
    }

    fn log(&self) -> PathBuf {
        self.dir
            .parent()
            .unwrap()
            .join(format!("{}.log", self.name))
    }

    /// Starts `paychan node` and waits until its API listens.
    fn start(&self) -> Process {
        let mut command = command();
        command
            .arg("node")
            .arg("--data-dir")
            .arg(&self.dir)
            .arg("--passphrase-file")
            .arg(&self.passphrase)
            .env("RUST_LOG", "info");
        let mut process = Process::spawn(self.name, command, &self.log());
        let port = self.rpc_port;
        process.wait_until("serving its API", || listening(port));
        process
    }

    fn call(&self, method: &str, params: Value) -> Result<Value, CallError> {
        call(self.rpc_port, Some(&self.token), method, params)
    }

    fn channel_info(&self, id: &str) -> Value {
        self.call("channel_info", json!({ "channel_id": id }))
            .unwrap_or_else(|e| panic!("{}: channel_info: {e}", self.name))
    }
}

// ---- the driver ----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Answered: the payment is counted.
    Paid,
    /// Refused by the node or never reached it: not counted.
    Refused,
    /// Sent, no answer (connection lost, timeout, Alice killed mid-call): maybe counted.
    Unknown,
}

/// One `pay` call.
#[derive(Clone, Debug)]
struct Call {
    n: u64,
    amount: u128,
    outcome: Outcome,
    detail: String,
    start: Instant,
    end: Instant,
}

/// What `pay` errors mean for the money. Everything not known to be "not counted" is
/// "unknown", so the bounds stay sound whatever the node answers.
fn classify(result: &Result<Value, CallError>) -> (Outcome, String) {
    match result {
        Ok(_) => (Outcome::Paid, String::new()),
        // The request never reached Alice (she is down).
        Err(e @ CallError::Connect(_)) => (Outcome::Refused, e.to_string()),
        Err(e) => match e.paychan() {
            // Client errors (unknown channel, balance, command refused, bad message, ledger
            // funds), the peer not connected (the voucher never left: taken back) and the
            // peer's refusal (taken back).
            Some(1001..=1005 | 2001 | 2003) => (Outcome::Refused, e.to_string()),
            // Timeout, connection lost; and anything else, conservatively.
            _ => (Outcome::Unknown, e.to_string()),
        },
    }
}

/// Pays continuously through Alice's API on a thread of its own.
struct Driver {
    calls: Arc<Mutex<Vec<Call>>>,
    /// Held for each call: whoever holds it knows no call is in flight.
    gate: Arc<Mutex<()>>,
    paused: Arc<AtomicBool>,
    alice_down: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Driver {
    fn start(port: u16, token: String, channel: String, seed: u64) -> Driver {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(Mutex::new(()));
        let paused = Arc::new(AtomicBool::new(true));
        let alice_down = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = thread::spawn({
            let (calls, gate, paused, alice_down, stop) = (
                calls.clone(),
                gate.clone(),
                paused.clone(),
                alice_down.clone(),
                stop.clone(),
            );
            move || {
                let mut rng = Rng(seed);
                let mut n = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    let idle = {
                        let _in_flight = lock(&gate);
                        if paused.load(Ordering::SeqCst) || alice_down.load(Ordering::SeqCst) {
                            true
                        } else {
                            n += 1;
                            let amount = u128::from(rng.range(1, 9));
                            let start = Instant::now();
                            let result = call(
                                port,
                                Some(&token),
                                "pay",
                                json!({
                                    "channel_id": channel,
                                    "amount": amount.to_string(),
                                    "message": { "n": n },
                                }),
                            );
                            let (outcome, detail) = classify(&result);
                            lock(&calls).push(Call {
                                n,
                                amount,
                                outcome,
                                detail,
                                start,
                                end: Instant::now(),
                            });
                            outcome != Outcome::Paid
                        }
                    };
                    if idle {
                        // Paused, Alice down, or an error: do not spin.
                        sleep(Duration::from_millis(5));
                    }
                }
            }
        });
        Driver {
            calls,
            gate,
            paused,
            alice_down,
            stop,
            thread: Some(thread),
        }
    }

    fn resume(&self) {
        self.paused.store(false, Ordering::SeqCst);
    }

    /// Returns once no call is in flight and none will start until [`Driver::resume`].
    fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
        drop(lock(&self.gate));
    }

    fn calls(&self) -> Vec<Call> {
        lock(&self.calls).clone()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A summary of `calls` for failure messages: how many ended how, and the last calls that
/// were not answered with success.
fn describe(calls: &[Call]) -> String {
    let mut kinds: Vec<(String, usize)> = Vec::new();
    for c in calls {
        let kind = match c.outcome {
            Outcome::Paid => "paid".to_owned(),
            other => format!("{other:?} {}", c.detail.split(':').next().unwrap_or("")),
        };
        match kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((kind, 1)),
        }
    }
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let unanswered: Vec<&Call> = calls
        .iter()
        .filter(|c| c.outcome != Outcome::Paid)
        .collect();
    let last: Vec<String> = unanswered[unanswered.len().saturating_sub(12)..]
        .iter()
        .map(|c| format!("#{} {} {:?} ({})", c.n, c.amount, c.outcome, c.detail))
        .collect();
    format!(
        "{}; the last unanswered:\n  {}",
        kinds.join(", "),
        last.join("\n  ")
    )
}

/// The unanswered calls among `calls` whose amount is `amount`.
fn of_amount(calls: &[Call], amount: u128) -> String {
    let found: Vec<String> = calls
        .iter()
        .filter(|c| c.amount == amount && c.outcome != Outcome::Paid)
        .map(|c| format!("#{} {:?} ({})", c.n, c.outcome, c.detail))
        .collect();
    format!("[{}]", found.join("; "))
}

/// Sums per outcome: `(count, amount)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Totals {
    paid: (usize, u128),
    refused: (usize, u128),
    unknown: (usize, u128),
}

impl Totals {
    fn of(calls: &[Call]) -> Totals {
        let mut t = Totals::default();
        for c in calls {
            let slot = match c.outcome {
                Outcome::Paid => &mut t.paid,
                Outcome::Refused => &mut t.refused,
                Outcome::Unknown => &mut t.unknown,
            };
            slot.0 += 1;
            slot.1 += c.amount;
        }
        t
    }

    /// `[paid, paid + unknown]`: where the counted amount must lie.
    fn bounds(&self) -> (u128, u128) {
        (self.paid.1, self.paid.1 + self.unknown.1)
    }
}

impl fmt::Display for Totals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "paid {}/{} refused {}/{} unknown {}/{}",
            self.paid.0,
            self.paid.1,
            self.refused.0,
            self.refused.1,
            self.unknown.0,
            self.unknown.1
        )
    }
}

// ---- the test ----

struct Ledger {
    _process: Process,
    port: u16,
}

impl Ledger {
    fn start(root: &Path) -> Ledger {
        let port = free_port();
        let mut command = command();
        command
            .args(["ledger", "serve", "--sync", "--manual-clock", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(root.join("ledger"));
        let mut process = Process::spawn("ledger", command, &root.join("ledger.log"));
        process.wait_until("listening", || listening(port));
        Ledger {
            _process: process,
            port,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn call(&self, method: &str, params: Value) -> Value {
        call(self.port, None, method, params).unwrap_or_else(|e| panic!("ledger {method}: {e}"))
    }

    fn fund(&self, address: &str) {
        self.call(
            "ledger_faucet",
            json!({ "owner": address, "amount": u64::try_from(FUNDS).unwrap() }),
        );
    }

    fn balance(&self, address: &str) -> u128 {
        amount(&self.call("ledger_balance", json!({ "owner": address })))
    }
}

/// The log of a node's processes (all its starts).
fn node_log(node: &NodeDir) -> String {
    fs::read_to_string(node.log()).unwrap_or_default()
}

/// Polls until both sides count the same for the channel (or [`AGREE_TIMEOUT`] passed);
/// returns `(alice.paid_by_me, bob.paid_by_peer, time waited)` as last seen.
fn wait_for_agreement(alice: &NodeDir, bob: &NodeDir, id: &str) -> (u128, u128, Duration) {
    let start = Instant::now();
    loop {
        let a = amount(&alice.channel_info(id)["balances"]["paid_by_me"]);
        let b = amount(&bob.channel_info(id)["balances"]["paid_by_peer"]);
        if a == b || start.elapsed() > AGREE_TIMEOUT {
            return (a, b, start.elapsed());
        }
        sleep(Duration::from_millis(20));
    }
}

/// Polls Alice's `send_message` (no payment) until Bob answers through the link.
fn wait_for_link(alice: &NodeDir, alice_process: &mut Process, id: &str) -> Duration {
    let start = Instant::now();
    loop {
        let answer = alice.call(
            "send_message",
            json!({ "channel_id": id, "message": "ping" }),
        );
        let Err(e) = answer else {
            return start.elapsed();
        };
        alice_process.assert_running();
        assert!(
            start.elapsed() < READY_TIMEOUT,
            "alice's link to bob is not back after {READY_TIMEOUT:?} ({e}):\n{}",
            alice_process.log_tail()
        );
        sleep(Duration::from_millis(20));
    }
}

/// Checks that both sides agree and that the counted amount lies in the bounds of the
/// recorded outcomes; returns the agreed amount. `context` names the moment, `recent` are
/// the calls since the last check, `logs` the nodes' logs, for messages.
fn check_counters(
    (alice, bob, id): (&NodeDir, &NodeDir, &str),
    calls: &[Call],
    recent: &[Call],
    context: &str,
    logs: &dyn Fn() -> String,
) -> u128 {
    let totals = Totals::of(calls);
    let (low, high) = totals.bounds();
    let (a, b, waited) = wait_for_agreement(alice, bob, id);
    assert!(
        a == b,
        "{context}: the two sides disagree {waited:.1?} after the resync: alice paid_by_me {a}, \
         bob paid_by_peer {b}; recorded {totals}, bounds [{low}, {high}]\n\
         unanswered calls since the last check of amount {}: {}\n\
         calls since the last check: {}\n{}",
        a.abs_diff(b),
        of_amount(recent, a.abs_diff(b)),
        describe(recent),
        logs()
    );
    assert!(
        low <= a && a <= high,
        "{context}: both sides count {a}, outside [{low}, {high}] ({totals}): {}\n\
         unanswered calls since the last check of amount {}: {}\n\
         calls since the last check: {}\n{}",
        if a < low {
            "an answered payment was lost"
        } else {
            "a payment answered as refused was counted"
        },
        if a < low { low - a } else { a - high },
        of_amount(recent, if a < low { low - a } else { a - high }),
        describe(recent),
        logs()
    );
    a
}

#[test]
fn kill_9_of_payer_or_payee_during_payments_loses_and_creates_nothing() {
    let seed: u64 = env_or("PAYCHAN_CRASH_SEED", DEFAULT_SEED);
    let rounds: u32 = env_or("PAYCHAN_CRASH_ROUNDS", DEFAULT_ROUNDS);
    let durability: String = env_or("PAYCHAN_CRASH_DURABILITY", "normal".to_owned());
    let test_start = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    // Dropped (deleted) at the end unless PAYCHAN_CRASH_KEEP is set.
    let _tmp = if std::env::var_os("PAYCHAN_CRASH_KEEP").is_some() {
        let _ = tmp.keep();
        None
    } else {
        Some(tmp)
    };
    eprintln!(
        "crash test: seed {seed:#x}, {rounds} rounds, durability {durability}, data in {}",
        root.display()
    );

    let ledger = Ledger::start(&root);
    let alice = NodeDir::init(&root, "alice", &ledger.url());
    let bob = NodeDir::init(&root, "bob", &ledger.url());
    // Alice keeps Bob connected: she redials him whenever he is gone, and dials him as soon
    // as she starts.
    alice.configure(&durability, &[bob.tcp_url()]);
    bob.configure(&durability, &[]);
    ledger.fund(&alice.address);
    ledger.fund(&bob.address);
    assert_eq!(ledger.balance(&alice.address), FUNDS);
    let mut bob_process = bob.start();
    let mut alice_process = alice.start();

    // Open the channel once Alice's configured link to Bob is up. (Before that, `open_channel`
    // would dial Bob a second time beside the link, and the two connections replacing each
    // other can cut the proposal off with "connection lost".) No API tells whether a peer is
    // connected, so this reads Alice's log.
    let start = Instant::now();
    let linked = format!(
        "paychan_node::net: connected peer={}",
        bob.address.to_lowercase()
    );
    alice_process.wait_until("connected to bob", || {
        node_log(&alice).to_lowercase().contains(&linked)
    });
    let opened = alice
        .call(
            "open_channel",
            json!({ "peer": bob.address, "deposit": DEPOSIT.to_string() }),
        )
        .unwrap_or_else(|e| panic!("open_channel: {e}\n{}", alice_process.log_tail()));
    assert_eq!(opened["status"], "open", "{opened}");
    let id = opened["channel_id"].as_str().unwrap().to_owned();
    // Bob learns that the channel is open from the ledger's events.
    bob_process.wait_until("seeing the channel open", || {
        bob.channel_info(&id)["status"] == "open"
    });
    eprintln!(
        "channel {id} open with {DEPOSIT} (setup {:.1?})",
        start.elapsed()
    );

    let driver = Driver::start(alice.rpc_port, alice.token.clone(), id.clone(), seed ^ 1);
    let mut rng = Rng(seed);
    let mut kills = [0u32; 2];
    let mut checked = 0;
    for round in 1..=rounds {
        driver.resume();
        let kill_alice = rng.next().is_multiple_of(2);
        let delay = Duration::from_millis(rng.range(20, 300));
        sleep(delay);
        let (victim, process) = if kill_alice {
            (&alice, &mut alice_process)
        } else {
            (&bob, &mut bob_process)
        };
        process.assert_running();
        if kill_alice {
            // The driver starts no new call until Alice is back; the one in flight, if any,
            // gets its outcome from the error.
            driver.alice_down.store(true, Ordering::SeqCst);
        }
        let killed_at = Instant::now();
        process.kill();
        kills[usize::from(!kill_alice)] += 1;
        *process = victim.start();
        let restarted = killed_at.elapsed();
        driver.alice_down.store(false, Ordering::SeqCst);
        let linked = wait_for_link(&alice, &mut alice_process, &id);
        bob_process.assert_running();

        // With the driver paused: the counters must agree and lie within the bounds.
        driver.pause();
        let calls = driver.calls();
        let in_flight = match calls
            .iter()
            .find(|c| c.start <= killed_at && killed_at <= c.end)
        {
            Some(c) => format!("#{} {} {:?} {}", c.n, c.amount, c.outcome, c.detail),
            None => "nothing in flight".to_owned(),
        };
        let context = format!(
            "round {round} (killed {} after {delay:?}; at the kill: {in_flight})",
            victim.name
        );
        let logs = || {
            format!(
                "--- alice log ---\n{}\n--- bob log ---\n{}",
                alice_process.log_tail(),
                bob_process.log_tail()
            )
        };
        let counted = check_counters(
            (&alice, &bob, &id),
            &calls,
            &calls[checked..],
            &context,
            &logs,
        );
        checked = calls.len();
        let totals = Totals::of(&calls);
        eprintln!(
            "round {round:2}/{rounds}: kill {:5} after {:3} ms | back in {:4} ms, link in {:4} ms \
             | total {totals} | counted {counted} | at the kill: {in_flight}",
            victim.name,
            delay.as_millis(),
            restarted.as_millis(),
            linked.as_millis(),
        );
    }
    assert!(
        kills.iter().all(|&k| k > 0) || rounds < 4,
        "both nodes must be killed: {kills:?}"
    );

    // The end: the driver is paused; agree, close cooperatively, check the ledger.
    let calls = driver.calls();
    drop(driver);
    let totals = Totals::of(&calls);
    let logs = || {
        format!(
            "--- alice log ---\n{}\n--- bob log ---\n{}",
            alice_process.log_tail(),
            bob_process.log_tail()
        )
    };
    let counted = check_counters(
        (&alice, &bob, &id),
        &calls,
        &calls[checked..],
        "at the end",
        &logs,
    );
    let closed = alice
        .call("close", json!({ "channel_id": id }))
        .unwrap_or_else(|e| panic!("close: {e}\n{}", logs()));
    assert_eq!(closed["cooperative"], true, "{closed}\n{}", logs());
    assert_eq!(closed["channel"]["status"], "closed", "{closed}");
    let settled = counted;
    let alice_balance = ledger.balance(&alice.address);
    let bob_balance = ledger.balance(&bob.address);
    let record = ledger.call("ledger_channel", json!({ "channelId": id }));
    eprintln!(
        "end: {totals}; settled {settled}; alice {alice_balance}, bob {bob_balance}; \
         channel on the ledger {record}"
    );
    assert_eq!(
        alice_balance,
        FUNDS - settled,
        "alice's balance after the close"
    );
    assert_eq!(
        bob_balance,
        FUNDS + settled,
        "bob's balance after the close"
    );
    let (low, high) = totals.bounds();
    assert!(
        low <= settled && settled <= high,
        "settled {settled} outside [{low}, {high}]"
    );
    // Nothing is left in the channel and the ledger's total is what the faucet created.
    let deposited = amount(&record["deposited"]["a"]) + amount(&record["deposited"]["b"]);
    let withdrawn = amount(&record["withdrawn"]["a"]) + amount(&record["withdrawn"]["b"]);
    let payouts = &record["status"]["settled"]["payouts"];
    let paid_out = amount(&payouts["a"]) + amount(&payouts["b"]);
    assert_eq!(deposited, DEPOSIT, "{record}");
    let held = deposited - withdrawn - paid_out;
    assert_eq!(held, 0, "the settled channel still holds funds: {record}");
    assert_eq!(
        alice_balance + bob_balance + held,
        2 * FUNDS,
        "the ledger's total changed"
    );
    eprintln!(
        "crash test passed: {rounds} rounds (alice killed {}, bob killed {}), {} payments \
         answered, {} refused, {} unknown, in {:.1?}",
        kills[0],
        kills[1],
        totals.paid.0,
        totals.refused.0,
        totals.unknown.0,
        test_start.elapsed()
    );
}
