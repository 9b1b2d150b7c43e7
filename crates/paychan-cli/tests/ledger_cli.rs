//! Runs `paychan ledger serve` as a child process and talks to it with `paychan ledger faucet`
//! and `paychan ledger balance`, as a user would: balances survive `kill -9` and a restart,
//! one data directory serves one process, and bad input or an unreachable ledger give clear
//! errors.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::{
    io::Read,
    net::TcpListener,
    path::Path,
    process::{Child, Command, Output, Stdio},
    thread::sleep,
    time::{Duration, Instant},
};

use serde_json::Value;

const ALICE: &str = "0x00000000000000000000000000000000000a11ce";
const READY_TIMEOUT: Duration = Duration::from_secs(30);

fn paychan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_paychan"))
        .args(args)
        .output()
        .expect("runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `paychan ledger serve` child, killed when dropped.
struct Served {
    child: Child,
    port: u16,
    /// The server's output lines after the first (from `serve_with`).
    output: Option<std::sync::mpsc::Receiver<String>>,
    /// The server's first line of output.
    first_line: String,
}

impl Served {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the process with SIGKILL (no chance to clean up) and reaps it.
    fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn stderr(&mut self) -> String {
        let mut err = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = pipe.read_to_string(&mut err);
        }
        err
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_serve(dir: &Path, port: u16, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_paychan"))
        .args(["ledger", "serve", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir)
        .args(extra)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns paychan ledger serve")
}

/// Starts a server on a port the OS picks and waits until it says where it listens. The
/// port comes from the server's own first line of output, printed once its ledger is open and
/// locked and its socket is bound: a port probe could reach another test's server.
fn serve_with(dir: &Path, extra: &[&str]) -> Served {
    let mut child = spawn_serve(dir, 0, extra);
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        // Every line goes to the test, and the pipe is always drained.
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut served = Served {
        child,
        port: 0,
        output: None,
        first_line: String::new(),
    };
    let first = match rx.recv_timeout(READY_TIMEOUT) {
        Ok(line) => line,
        Err(_) => panic!("paychan ledger serve did not start:\n{}", served.stderr()),
    };
    let port = first
        .split("http://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line: {first}"));
    served.port = port;
    served.output = Some(rx);
    served.first_line = first;
    served
}

/// Starts a server with the default options.
fn serve(dir: &Path) -> Served {
    serve_with(dir, &[])
}

/// Waits for a child that must exit on its own, killing it on timeout.
fn exits(mut child: Child) -> (std::process::ExitStatus, String, String) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let (mut out, mut err) = (String::new(), String::new());
            // A server started by `serve_with` has its output read by another thread.
            if let Some(mut stdout) = child.stdout.take() {
                stdout.read_to_string(&mut out).unwrap();
            }
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status, out, err);
        }
        if start.elapsed() > READY_TIMEOUT {
            let _ = child.kill();
            panic!("the process did not exit within {READY_TIMEOUT:?}");
        }
        sleep(Duration::from_millis(50));
    }
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn json(out: Output) -> Value {
    serde_json::from_str(&ok(out)).unwrap()
}

fn balance(url: &str, token: Option<&str>) -> Value {
    let mut args = vec!["ledger", "balance", ALICE, "--url", url, "--json"];
    if let Some(token) = token {
        args.extend(["--token", token]);
    }
    json(paychan(&args))
}

#[test]
fn balances_survive_kill_9_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let url = server.url();

    let out = ok(paychan(&[
        "ledger", "faucet", ALICE, "1_000", "--url", &url,
    ]));
    assert!(out.contains("balance now 1000 native"), "{out}");
    let funded = json(paychan(&[
        "ledger", "faucet", ALICE, "25", "--token", "USD", "--url", &url, "--json",
    ]));
    assert_eq!(funded["funded"], 25);
    assert_eq!(funded["balance"], 25);
    assert_eq!(funded["token"], "USD");
    let out = ok(paychan(&["ledger", "balance", ALICE, "--url", &url]));
    assert!(out.contains("holds 1000 native"), "{out}");
    assert_eq!(balance(&url, None)["balance"], 1000);
    assert_eq!(balance(&url, Some("USD"))["balance"], 25);
    assert_eq!(balance(&url, Some("EUR"))["balance"], 0);

    server.kill_9();
    let out = paychan(&["ledger", "balance", ALICE, "--url", &url]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("cannot reach the ledger"),
        "{}",
        text(&out.stderr)
    );

    let server = serve(dir.path());
    let url = server.url();
    assert_eq!(balance(&url, None)["balance"], 1000);
    assert_eq!(balance(&url, Some("USD"))["balance"], 25);
    // And it goes on from there.
    assert_eq!(
        json(paychan(&[
            "ledger", "faucet", ALICE, "1", "--url", &url, "--json"
        ]))["balance"],
        1001
    );
}

#[test]
fn a_data_dir_serves_one_process_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let first = serve(dir.path());

    let (status, _, err) = exits(spawn_serve(dir.path(), free_port(), &[]));
    assert!(!status.success());
    assert!(err.contains("in use by another process"), "{err}");

    // The port is taken too (another data dir).
    let other = tempfile::tempdir().unwrap();
    let (status, _, err) = exits(spawn_serve(other.path(), first.port, &[]));
    assert!(!status.success());
    assert!(err.contains("cannot listen on"), "{err}");

    // The first one is unaffected.
    assert_eq!(balance(&first.url(), None)["balance"], 0);
}

#[cfg(unix)]
#[test]
fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = serve(dir.path());
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let child = std::mem::replace(&mut server.child, Command::new("true").spawn().unwrap());
    let (status, _, err) = exits(child);
    assert!(status.success(), "{status}\n{err}");
    // The server has exited: its output is complete.
    let mut out = server.first_line.clone();
    if let Some(lines) = server.output.take() {
        for line in lines.iter() {
            out.push('\n');
            out.push_str(&line);
        }
    }
    assert!(out.contains("serving on http://127.0.0.1:"), "{out}");
    assert!(out.contains("chain id     1337"), "{out}");
    assert!(out.contains("adjudicator  0x"), "{out}");
    assert!(err.contains("stopping"), "{err}");
}

#[test]
fn bad_input_and_unreachable_ledgers_give_clear_errors() {
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let cases: &[(&[&str], &str)] = &[
        (&["ledger", "faucet", "0x1234", "5"], "is not an address"),
        (&["ledger", "balance", "alice"], "is not an address"),
        (&["ledger", "faucet", ALICE, "lots"], "is not an amount"),
        (&["ledger", "faucet", ALICE, "1.5"], "is not an amount"),
        (&["ledger", "faucet", ALICE, "0"], "must be positive"),
        (
            &[
                "ledger",
                "faucet",
                ALICE,
                "340282366920938463463374607431768211456",
            ],
            "is too large",
        ),
        (
            &["ledger", "balance", ALICE, "--url", "127.0.0.1:6334"],
            "bad --url",
        ),
        (
            &["ledger", "balance", ALICE, "--url", &nowhere],
            "cannot reach the ledger",
        ),
        (
            &["ledger", "faucet", ALICE, "5", "--url", &nowhere],
            "cannot reach the ledger",
        ),
        (&["ledger", "serve", "--listen", "localhost"], "--listen"),
    ];
    for (args, expected) in cases {
        let out = paychan(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = text(&out.stderr);
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn the_faucet_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve_with(dir.path(), &["--no-faucet"]);
    let out = paychan(&["ledger", "faucet", ALICE, "5", "--url", &served.url()]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("faucet is disabled"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(balance(&served.url(), None)["balance"], 0);
}
