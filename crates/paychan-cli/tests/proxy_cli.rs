//! `paychan proxy` as a user runs it: a served ledger on an OS-picked port (read from its
//! banner), Bob's `paychan node`, and the proxy (port read from its banner) in front of a
//! trivial upstream. An unpaid call gets `402` with Bob's challenge, a free path passes, and
//! calls paid by a `PayingClient` (a payer node in this process on the same ledger) are
//! verified by Bob's node, recorded and forwarded. The same proxy serves HTTPS with a given
//! certificate.

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
    net::TcpStream,
    path::{Path, PathBuf},
    sync::Arc,
};

use common::{
    Process, command, free_port,
    paid::{banner_url, payer},
};
use paychan_http::{Challenge, ClientConfig, PayingClient};
use serde_json::Value;

const PRICE: u128 = 10;

/// `paychan init` and `paychan node` for Bob; answers the process and Bob's address.
fn bob(root: &Path, ledger_url: &str) -> (Process, String, PathBuf) {
    let dir = root.join("bob");
    let passphrase = root.join("bob.pass");
    fs::write(&passphrase, "correct horse battery staple\n").unwrap();
    let rpc_port = free_port();
    let init = command()
        .args(["init", "--json", "--ledger-url", ledger_url])
        .arg("--data-dir")
        .arg(&dir)
        .arg("--passphrase-file")
        .arg(&passphrase)
        .args(["--rpc-listen", &format!("127.0.0.1:{rpc_port}")])
        .args(["--listen-tcp", &format!("127.0.0.1:{}", free_port())])
        .args(["--listen-ws", &format!("127.0.0.1:{}", free_port())])
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let report: Value = serde_json::from_slice(&init.stdout).unwrap();
    let address = report["address"].as_str().unwrap().to_owned();
    let mut node = command();
    node.arg("node")
        .arg("--data-dir")
        .arg(&dir)
        .arg("--passphrase-file")
        .arg(&passphrase);
    let mut process = Process::spawn("bob", node, &root.join("bob.log"));
    process.wait_for("serving its API", |_| {
        TcpStream::connect(("127.0.0.1", rpc_port)).ok()
    });
    (process, address, dir)
}

#[test]
fn the_proxy_answers_402_lets_free_paths_through_and_forwards_paid_calls() {
    let root = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let mut ledger_command = command();
    ledger_command
        .args(["ledger", "serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(root.path().join("ledger"));
    let mut ledger = Process::spawn("ledger", ledger_command, &root.path().join("ledger.log"));
    let ledger_url = ledger.wait_for("its banner", |log| {
        banner_url(log, "paychan ledger serving on ")
    });
    let (_bob, bob_address, bob_dir) = bob(root.path(), &ledger_url);

    // A trivial upstream.
    let upstream = runtime.block_on(async {
        let router = axum::Router::new()
            .route(
                "/hello",
                axum::routing::get(|| async { "hello from upstream" }),
            )
            .route("/health", axum::routing::get(|| async { "ok" }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        addr
    });

    let mut proxy_command = command();
    proxy_command
        .arg("proxy")
        .arg("--data-dir")
        .arg(&bob_dir)
        .args(["--upstream", &format!("http://{upstream}")])
        .args(["--price", &PRICE.to_string()])
        .args(["--listen", "127.0.0.1:0", "--free", "/health"]);
    let mut proxy = Process::spawn("proxy", proxy_command, &root.path().join("proxy.log"));
    let proxy_url = proxy.wait_for("its banner", |log| banner_url(log, "paychan proxy on "));

    runtime.block_on(async {
        // Unpaid: 402 with Bob's challenge; nothing reaches the upstream.
        let bare = reqwest::get(format!("{proxy_url}/hello")).await.unwrap();
        assert_eq!(bare.status(), 402);
        let header = bare.headers()["www-authenticate"].to_str().unwrap();
        let challenge = Challenge::parse(header).unwrap();
        assert_eq!(challenge.price, PRICE);
        assert_eq!(
            challenge.payee.to_string().to_lowercase(),
            bob_address.to_lowercase()
        );
        // A free path passes without payment.
        let health = reqwest::get(format!("{proxy_url}/health")).await.unwrap();
        assert_eq!(health.status(), 200);
        assert_eq!(health.text().await.unwrap(), "ok");

        // Paid calls: verified and recorded by Bob's node, then forwarded.
        let node = payer(&ledger_url, root.path(), 0x5a).await;
        let client = PayingClient::new(
            reqwest::Client::new(),
            Arc::new(node.clone()),
            ClientConfig::default(),
        );
        for n in 1..=3u128 {
            let paid = client.get(&format!("{proxy_url}/hello")).await.unwrap();
            assert_eq!((paid.response.status().as_u16(), paid.paid), (200, PRICE));
            // The receipt is Bob's node's record of the channel (unsigned: the proxy has
            // no key).
            let receipt = paid.receipt.clone().expect("a receipt");
            assert_eq!(receipt.cumulative, n * PRICE);
            assert_eq!(receipt.payer, node.address());
            assert_eq!(paid.response.text().await.unwrap(), "hello from upstream");
        }
        let paid: u128 = node
            .channels(None)
            .await
            .iter()
            .map(|c| c.balances.paid_by_me)
            .sum();
        assert_eq!(paid, 3 * PRICE);
        // A malformed package is refused (and nothing reaches the upstream).
        let forged = reqwest::Client::new()
            .get(format!("{proxy_url}/hello"))
            .header("authorization", "Paychan AAAA")
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 402);
    });
    drop(proxy);

    // Over TLS (a self-signed certificate for 127.0.0.1, made by openssl; curl checks it).
    let (cert, key) = (root.path().join("cert.pem"), root.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let mut tls_command = command();
    tls_command
        .arg("proxy")
        .arg("--data-dir")
        .arg(&bob_dir)
        .args(["--upstream", &format!("http://{upstream}")])
        .args(["--price", &PRICE.to_string()])
        .args(["--listen", "127.0.0.1:0", "--free", "/health"])
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key);
    let mut tls_proxy = Process::spawn("tls proxy", tls_command, &root.path().join("tls.log"));
    let tls_url = tls_proxy.wait_for("its banner", |log| banner_url(log, "paychan proxy on "));
    assert!(tls_url.starts_with("https://127.0.0.1:"), "{tls_url}");
    let curl = |path: &str| {
        let out = std::process::Command::new("curl")
            .args(["-s", "-o", "-", "-w", "\n%{http_code}", "--cacert"])
            .arg(&cert)
            .arg(format!("{tls_url}{path}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(curl("/health"), "ok\n200");
    assert!(curl("/hello").ends_with("\n402"));
    drop(tls_proxy);
    drop(ledger);
}

/// An upstream without a scheme (`localhost:18080` is a URL of scheme `localhost`) is refused
/// before anything starts, with an error naming the flag.
#[test]
fn an_upstream_without_a_scheme_is_refused_at_start() {
    for bad in ["localhost:18080", "ftp://127.0.0.1:21", "http://"] {
        let out = command()
            .args(["proxy", "--upstream", bad, "--price", "1", "--rpc"])
            .args(["http://127.0.0.1:1", "--token-file", "/nonexistent"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bad}: {stderr}");
        assert!(
            stderr.contains("--upstream") && stderr.contains("http://127.0.0.1:8080"),
            "{bad}: {stderr}"
        );
    }
}
