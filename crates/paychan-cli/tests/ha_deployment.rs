//! A high-availability payee deployed as docs/HA.md shows it: a served ledger, three
//! `paychan front` processes behind a real haproxy (Debian's package, installed by the test
//! script), a `paychan background` on the same PostgreSQL schema (the machine's server; a
//! schema of this test's own), and a payer in this process sending paid calls.
//!
//! - A front is killed (`kill -9`) in the middle of a call: the client retries the same
//!   package through the load balancer, another front serves it, and it is counted once.
//! - A front is killed under continuous load: no call fails (the client retries what the
//!   balancer could not deliver), and the store counts exactly the calls that were answered.
//! - The same package is sent to two fronts at the same instant, 200 times: each is served
//!   once and counted once.
//! - At the end the background closes the channel and the payee receives exactly what the
//!   fronts counted.

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
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use common::{
    Process, command, free_port, listening,
    nodes::{Ledger, NodeDir, json},
    paid::{banner_url, payer},
};
use paychan_core::Amount;
use paychan_store::{
    Direction, Store,
    testkit::postgres::{TestSchema, url},
};

const PRICE: Amount = 10;

/// The test's upstream: `/hello` counts its calls, `/slow` counts too and answers after a
/// second (long enough to kill the front that forwarded it), `/health` is free.
async fn upstream(hits: Arc<AtomicU64>) -> std::net::SocketAddr {
    let slow_hits = Arc::clone(&hits);
    let router = axum::Router::new()
        .route(
            "/hello",
            axum::routing::get(move || {
                hits.fetch_add(1, Ordering::SeqCst);
                async { "hello from upstream" }
            }),
        )
        .route(
            "/slow",
            axum::routing::get(move || {
                slow_hits.fetch_add(1, Ordering::SeqCst);
                async {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    "slow hello"
                }
            }),
        )
        .route("/health", axum::routing::get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// haproxy on `port` over `fronts` (`HOST:PORT`), checking `/health` every 100 ms.
fn haproxy(root: &std::path::Path, port: u16, fronts: &[String]) -> Process {
    let mut config = format!(
        "global\n    maxconn 1000\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 30s\n    \
         timeout server 30s\n    retries 3\n    option redispatch\n\
         frontend paid\n    bind 127.0.0.1:{port}\n    default_backend fronts\n\
         backend fronts\n    balance roundrobin\n    option httpchk GET /health\n"
    );
    for (n, front) in fronts.iter().enumerate() {
        config.push_str(&format!(
            "    server front{n} {front} check inter 100ms fall 1 rise 2\n"
        ));
    }
    let path = root.join("haproxy.cfg");
    fs::write(&path, config).unwrap();
    let mut command = std::process::Command::new("haproxy");
    command.arg("-f").arg(&path).arg("-db");
    let mut process = Process::spawn("haproxy", command, &root.join("haproxy.log"));
    process.wait_until("listening", || listening(port));
    process
}

/// A paid call with `compact` through `url`, retried with the same package while the
/// answer says the call did not reach a live front (a connection error, `502`, `503`).
/// Answers the final status and how many attempts it took.
async fn call(http: &reqwest::Client, url: &str, compact: &str) -> (u16, u32) {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let sent = http
            .get(url)
            .header("authorization", format!("Paychan {compact}"))
            .send()
            .await;
        let status = match sent {
            Ok(answer) => answer.status().as_u16(),
            Err(_) => 0,
        };
        if !matches!(status, 0 | 502 | 503) || attempts == 20 {
            return (status, attempts);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn three_fronts_behind_haproxy_lose_no_call_and_count_each_once() {
    let root = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let schema = runtime.block_on(TestSchema::create());
    let store_url = format!("{}?options=-csearch_path%3D{}", url(), schema.name);
    let ledger = Ledger::start(root.path());
    let hits = Arc::new(AtomicU64::new(0));
    let upstream = runtime.block_on(upstream(Arc::clone(&hits)));

    // The payee: its background (for the close at the end) and three fronts.
    let payee_dir = NodeDir::init(root.path(), "payee", &ledger.url());
    let mut background = {
        let mut command = command();
        command
            .arg("background")
            .arg("--data-dir")
            .arg(&payee_dir.dir)
            .arg("--passphrase-file")
            .arg(&payee_dir.passphrase)
            .args(["--store", &store_url])
            .env("RUST_LOG", "info");
        Process::spawn("background", command, &root.path().join("background.log"))
    };
    background.wait_for("active", |log| {
        log.contains("active (lease token 1)").then_some(())
    });
    let mut fronts = vec![];
    let mut addresses = vec![];
    for n in 0..3 {
        let name = format!("front{n}");
        let mut front = command();
        front
            .arg("front")
            .args(["--store", &store_url])
            .args(["--payee", &payee_dir.address])
            .args(["--ledger-url", &ledger.url()])
            .args(["--upstream", &format!("http://{upstream}")])
            .args(["--price", &PRICE.to_string()])
            .args(["--listen", "127.0.0.1:0", "--unbound", "--free", "/health"]);
        let mut process = Process::spawn(&name, front, &root.path().join(format!("{name}.log")));
        let url = process.wait_for("its banner", |log| banner_url(log, "paychan front on "));
        addresses.push(url.trim_start_matches("http://").to_owned());
        fronts.push(Some(process));
    }
    let port = free_port();
    let _haproxy = haproxy(root.path(), port, &addresses);
    let balancer = format!("http://127.0.0.1:{port}");

    let http = reqwest::Client::new();
    let payer = runtime.block_on(payer(&ledger.url(), root.path(), 0x7c));
    let payee: paychan_core::Address = payee_dir.address.parse().unwrap();
    let id = runtime
        .block_on(payer.open_channel_on_ledger(payee, 100_000))
        .unwrap();
    let mut answered = 0u128;

    // Warm up through the balancer: every front serves.
    runtime.block_on(async {
        for _ in 0..30 {
            let package = payer.create_payment_package(id, PRICE, None).await.unwrap();
            let (status, _) =
                call(&http, &format!("{balancer}/hello"), &package.to_compact()).await;
            assert_eq!(status, 200);
            answered += 1;
        }
    });

    // A front killed in the middle of a call: the same package, retried through the
    // balancer, is served by another front and counted once.
    runtime.block_on(async {
        let package = payer.create_payment_package(id, PRICE, None).await.unwrap();
        let compact = package.to_compact();
        let before = hits.load(Ordering::SeqCst);
        let direct = format!("http://{}/slow", addresses[0]);
        let pending = {
            let (http, compact) = (http.clone(), compact.clone());
            tokio::spawn(async move {
                http.get(direct)
                    .header("authorization", format!("Paychan {compact}"))
                    .send()
                    .await
            })
        };
        while hits.load(Ordering::SeqCst) == before {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        fronts[0].take().unwrap().kill();
        assert!(pending.await.unwrap().is_err(), "the killed front answered");
        let (status, attempts) = call(&http, &format!("{balancer}/slow"), &compact).await;
        assert_eq!(status, 200, "the retry on another front is served");
        eprintln!("the call cut by kill -9 was served on retry ({attempts} attempt(s))");
        answered += 1;
    });

    // Continuous load while a second front dies: every call is answered.
    runtime.block_on(async {
        let mut retried = 0;
        for n in 0..200 {
            if n == 100 {
                fronts[1].take().unwrap().kill();
            }
            let package = payer.create_payment_package(id, PRICE, None).await.unwrap();
            let (status, attempts) =
                call(&http, &format!("{balancer}/hello"), &package.to_compact()).await;
            assert_eq!(status, 200, "call {n} failed after {attempts} attempts");
            retried += u32::from(attempts > 1);
            answered += 1;
        }
        eprintln!("200 calls under a front's death: all answered, {retried} after a retry");
    });

    // The same package at two fronts at the same instant (the survivor and a restarted
    // one), 200 times: one answer and one count each time.
    let mut restarted = {
        let mut front = command();
        front
            .arg("front")
            .args(["--store", &store_url])
            .args(["--payee", &payee_dir.address])
            .args(["--ledger-url", &ledger.url()])
            .args(["--upstream", &format!("http://{upstream}")])
            .args(["--price", &PRICE.to_string()])
            .args(["--listen", "127.0.0.1:0", "--unbound"]);
        Process::spawn("front3", front, &root.path().join("front3.log"))
    };
    let third = restarted.wait_for("its banner", |log| banner_url(log, "paychan front on "));
    let second = format!("http://{}", addresses[2]);
    runtime.block_on(async {
        for n in 0..200 {
            let package = payer.create_payment_package(id, PRICE, None).await.unwrap();
            let compact = package.to_compact();
            let send = |base: &str| {
                http.get(format!("{base}/hello"))
                    .header("authorization", format!("Paychan {compact}"))
                    .send()
            };
            let (x, y) = tokio::join!(send(&second), send(&third));
            let served = [x.unwrap().status(), y.unwrap().status()]
                .iter()
                .filter(|s| s.is_success())
                .count();
            assert_eq!(
                served, 1,
                "round {n}: the package was answered {served} times"
            );
            answered += 1;
        }
    });

    // The store counted exactly the answered calls.
    let recorded = runtime.block_on(async {
        let store = schema.store().await;
        store
            .payments(id, Direction::Incoming, 10_000, None)
            .await
            .unwrap()
    });
    assert_eq!(recorded.len() as u128, answered);
    let total: Amount = recorded.iter().map(|p| p.amount).sum();
    assert_eq!(total, answered * PRICE);

    // The background closes; the payee receives exactly that.
    let before = u128::from(ledger.balance(&payee_dir.address));
    json(payee_dir.channel(&["close", &id.to_string(), "--force"]));
    ledger.advance(86_400 + 1);
    let start = Instant::now();
    while u128::from(ledger.balance(&payee_dir.address)) != before + total {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the payee holds {}, expected {}",
            ledger.balance(&payee_dir.address),
            before + total
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(restarted);
    drop(fronts);
    drop(background);
    drop(schema);
}
