//! A client of the paid JSON API of `paid_api_server`: shows the `402` challenge, pays three
//! calls with a [`PayingClient`] (a node in this process with a fresh key funded by the
//! served ledger's faucet), then consumes the pay-per-time stream for a while, stops paying
//! and reads on until the server closes it.
//!
//! ```sh
//! cargo run -p paychan-http --example paid_api_client -- http://127.0.0.1:16334 http://127.0.0.1:18403
//! ```

use std::{error::Error, io::Read, sync::Arc, time::Duration};

use futures::StreamExt;
use paychan_core::{Address, SigningKey};
use paychan_http::{Challenge, ClientConfig, PaidStream, PayingClient, client::host_key};
use paychan_ledger::rpc::{RpcLedger, RpcReader};
use paychan_node::{Node, NodeConfig};
use paychan_store::{Durability, sqlite::SqliteStore};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(ledger), Some(api)) = (args.first(), args.get(1)) else {
        return Err("usage: paid_api_client LEDGER_URL API_URL".into());
    };
    let key = SigningKey::from_entropy(&entropy()?)?;
    RpcReader::connect(ledger)
        .await?
        .faucet(key.address(), Address::ZERO, 1_000_000)
        .await?;
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(dir.path().join("payer.db"), Durability::Normal)?;
    let node = Node::builder()
        .key(key.clone())
        .ledger(Arc::new(RpcLedger::connect(ledger, key).await?))
        .store(Arc::new(store))
        .config(NodeConfig::default())
        .build()
        .await?;
    println!("payer {} funded with 1000000", node.address());

    let health = reqwest::get(format!("{api}/health")).await?;
    println!(
        "GET /health -> {} {}",
        health.status(),
        health.text().await?
    );
    let bare = reqwest::get(format!("{api}/quote/ACME")).await?;
    let challenge = bare
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    println!(
        "GET /quote/ACME -> {}\n  WWW-Authenticate: {challenge}",
        bare.status()
    );
    let payee = Challenge::parse(&challenge)?.payee;

    let client = PayingClient::new(
        reqwest::Client::new(),
        Arc::new(node.clone()),
        ClientConfig {
            budget_per_host: 1_000,
            deposit: 500,
            ..ClientConfig::default()
        },
    );
    for symbol in ["ACME", "INIT", "ACME"] {
        let paid = client.get(&format!("{api}/quote/{symbol}")).await?;
        let receipt = paid.receipt.clone().ok_or("no receipt")?;
        let signed = receipt.is_signed_by(payee);
        let json: Value = paid.response.json().await?;
        println!(
            "paid {} for /quote/{symbol} -> {json}\n  receipt: cumulative {}, remaining {}, signed by the payee: {signed}",
            paid.paid, receipt.cumulative, receipt.remaining
        );
    }

    let mut stream = client.stream(&format!("{api}/ticks")).await?;
    let terms = stream.terms().clone();
    println!(
        "stream {} opened: {} per {} ms, grace {} ms",
        terms.id, terms.price, terms.interval_ms, terms.grace_ms
    );
    let paid_for = Duration::from_secs(2);
    let events = read_for(&mut stream, Some(paid_for)).await?;
    let payments = stream.stop_paying().await;
    println!(
        "read {events} events in {} ms; stopped paying after {} intervals ({} paid)",
        paid_for.as_millis(),
        payments.intervals,
        payments.amount
    );
    let after = read_for(&mut stream, None).await?;
    println!("read {after} more events, then the server closed the stream");

    let host = host_key(&api.parse()?);
    println!(
        "spent {} on {host} in {} channel(s)",
        client.spent(&host).await,
        client.channels(&host).await
    );
    Ok(())
}

/// Reads server-sent events for `limit` (`None`: until the stream ends); answers how many.
async fn read_for(stream: &mut PaidStream, limit: Option<Duration>) -> Result<u64, Box<dyn Error>> {
    let now = tokio::time::Instant::now();
    let deadline = now
        .checked_add(limit.unwrap_or(Duration::from_secs(60)))
        .unwrap_or(now);
    let mut events = 0u64;
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) if limit.is_some() => return Ok(events),
            Err(_) => return Err("the stream did not end".into()),
            Ok(None) => return Ok(events),
            Ok(Some(chunk)) => {
                let chunk = chunk?;
                events = events.saturating_add(
                    u64::try_from(String::from_utf8_lossy(&chunk).matches("\n\n").count())
                        .unwrap_or_default(),
                );
            }
        }
    }
}

/// Entropy for the example's key, from /dev/urandom (the node itself takes entropy as input).
fn entropy() -> std::io::Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut seed)?;
    Ok(seed)
}
