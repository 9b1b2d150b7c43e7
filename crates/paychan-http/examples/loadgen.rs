//! A load generator for pay-per-call over HTTP, and the trivial upstream it is measured
//! against.
//!
//! ```sh
//! loadgen upstream 127.0.0.1:8080                      # answers "hello" to everything
//! loadgen bare URL CONCURRENCY SECONDS                  # plain GETs, no payment
//! loadgen paid URL CONCURRENCY SECONDS LEDGER_URL       # every GET paid by a package
//! ```
//!
//! `paid` runs a paying node in this process (a fresh key funded by the served ledger's
//! faucet, a SQLite store in a temporary directory) and a [`PayingClient`] with one channel
//! per concurrent worker; it prints calls per second and checks that every call was paid
//! exactly once.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arithmetic_side_effects
)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use paychan_core::{Address, SigningKey};
use paychan_http::{ClientConfig, PayingClient};
use paychan_ledger::rpc::{RpcLedger, RpcReader};
use paychan_node::{Node, NodeConfig};
use paychan_store::{Durability, sqlite::SqliteStore};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    match arg(0).as_str() {
        "upstream" => {
            let router = axum::Router::new().fallback(|| async { "hello\n" });
            let listener = tokio::net::TcpListener::bind(arg(1)).await.unwrap();
            println!("upstream on http://{}", listener.local_addr().unwrap());
            axum::serve(listener, router).await.unwrap();
        }
        mode @ ("bare" | "paid") => {
            let url = arg(1);
            let workers: u64 = arg(2).parse().unwrap();
            let seconds: u64 = arg(3).parse().unwrap();
            let client = if mode == "paid" {
                Some(paying_client(&arg(4), workers as usize).await)
            } else {
                None
            };
            run(&url, workers, seconds, client).await;
        }
        _ => eprintln!("usage: loadgen upstream ADDR | bare URL C SECS | paid URL C SECS LEDGER"),
    }
}

async fn paying_client(ledger: &str, channels: usize) -> PayingClient {
    let mut entropy = [0u8; 32];
    getrandom(&mut entropy);
    let key = SigningKey::from_entropy(&entropy).unwrap();
    RpcReader::connect(ledger)
        .await
        .unwrap()
        .faucet(key.address(), Address::ZERO, 1_000_000_000)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap().keep();
    let store = SqliteStore::open(dir.join("payer.db"), Durability::Normal).unwrap();
    let node = Node::builder()
        .key(key.clone())
        .ledger(Arc::new(RpcLedger::connect(ledger, key).await.unwrap()))
        .store(Arc::new(store))
        .config(NodeConfig::default())
        .build()
        .await
        .unwrap();
    PayingClient::new(
        reqwest::Client::new(),
        Arc::new(node),
        ClientConfig {
            budget_per_host: 1_000_000_000,
            deposit: 10_000_000,
            max_price: 1_000,
            max_channels: channels,
        },
    )
}

/// Entropy from the OS, read from /dev/urandom (an example; the node takes entropy as input).
fn getrandom(buf: &mut [u8]) {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .unwrap();
}

async fn run(url: &str, workers: u64, seconds: u64, client: Option<PayingClient>) {
    let bare = reqwest::Client::new();
    let done = Arc::new(AtomicU64::new(0));
    let paid = Arc::new(AtomicU64::new(0));
    // Warm-up: opens the channels (the first call of each worker) before timing.
    if let Some(client) = &client {
        let warm: Vec<_> = (0..workers)
            .map(|_| {
                let (client, url) = (client.clone(), url.to_owned());
                tokio::spawn(async move { client.get(&url).await.unwrap() })
            })
            .collect();
        for w in warm {
            w.await.unwrap();
        }
    }
    let start = Instant::now();
    let end = start + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (client, bare, url) = (client.clone(), bare.clone(), url.to_owned());
            let (done, paid) = (done.clone(), paid.clone());
            tokio::spawn(async move {
                while Instant::now() < end {
                    let status = match &client {
                        Some(client) => {
                            let answer = client.get(&url).await.unwrap();
                            paid.fetch_add(answer.paid as u64, Ordering::Relaxed);
                            let status = answer.response.status();
                            answer.response.bytes().await.unwrap();
                            status
                        }
                        None => {
                            let answer = bare.get(&url).send().await.unwrap();
                            let status = answer.status();
                            answer.bytes().await.unwrap();
                            status
                        }
                    };
                    assert!(status.is_success(), "{status}");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let calls = done.load(Ordering::Relaxed);
    println!(
        "{} calls in {elapsed:.1} s with {workers} workers: {:.0} calls/s{}",
        calls,
        calls as f64 / elapsed,
        if client.is_some() {
            format!(", paid {} in total", paid.load(Ordering::Relaxed))
        } else {
            String::new()
        }
    );
}
