//! A paid JSON API: `/quote/{symbol}` costs 10 per call, `/ticks` is a stream of server-sent
//! events paid 5 per 500 ms, `/health` is free. The payee is a node in this process (a fresh
//! key, a SQLite store in a temporary directory) on a ledger served by `paychan ledger serve`.
//!
//! ```sh
//! paychan ledger serve --data-dir ./ledger --listen 127.0.0.1:16334 &
//! cargo run -p paychan-http --example paid_api_server -- http://127.0.0.1:16334 127.0.0.1:18403
//! cargo run -p paychan-http --example paid_api_client -- http://127.0.0.1:16334 http://127.0.0.1:18403
//! ```
//!
//! Each paid call is printed with what the payee has received in all, which must equal what
//! the clients paid.

use std::{error::Error, io::Read, sync::Arc, time::Duration};

use axum::{
    Json, Router,
    extract::{Extension, Path},
    routing::get,
};
use bytes::Bytes;
use paychan_core::{Amount, SigningKey};
use paychan_http::{PaidStreams, Paywall, Verifier, verifier::challenge_of};
use paychan_ledger::rpc::RpcLedger;
use paychan_node::{Node, NodeConfig, VerifiedPayment};
use paychan_store::{Durability, sqlite::SqliteStore};
use serde_json::{Value, json};

const QUOTE_PRICE: Amount = 10;
const TICK_PRICE: Amount = 5;
const INTERVAL: Duration = Duration::from_millis(500);
const GRACE: Duration = Duration::from_secs(1);
const TICK: Duration = Duration::from_millis(100);

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(ledger), Some(listen)) = (args.first(), args.get(1)) else {
        return Err("usage: paid_api_server LEDGER_URL LISTEN_ADDR".into());
    };
    let key = SigningKey::from_entropy(&entropy()?)?;
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(dir.path().join("payee.db"), Durability::Normal)?;
    let node = Node::builder()
        .key(key.clone())
        .ledger(Arc::new(RpcLedger::connect(ledger, key.clone()).await?))
        .store(Arc::new(store))
        .config(NodeConfig::default())
        .build()
        .await?;
    let verifier: Arc<dyn Verifier> = Arc::new(node.clone());
    let paywall = Paywall::new(verifier, challenge_of(&node, QUOTE_PRICE, None)).sign_receipts(key);
    let streams = PaidStreams::new(&paywall, TICK_PRICE, INTERVAL, GRACE);

    let quote = {
        let node = node.clone();
        move |Path(symbol): Path<String>, Extension(paid): Extension<VerifiedPayment>| async move {
            let received = received(&node).await;
            println!(
                "paid {} by {} for /quote/{symbol}: received {received} in all",
                paid.amount, paid.payer
            );
            Json(
                json!({ "symbol": symbol, "price": price_of(&symbol), "paid": paid.amount.to_string() }),
            )
        }
    };
    let ticks = {
        let streams = streams.clone();
        move |Extension(paid): Extension<VerifiedPayment>| async move {
            println!("stream opened by {}", paid.payer);
            let source = futures::stream::unfold(0u64, |n| async move {
                if n > 0 {
                    tokio::time::sleep(TICK).await;
                }
                let event = format!("data: {}\n\n", json!({ "tick": n }));
                Some((
                    Ok::<_, std::io::Error>(Bytes::from(event)),
                    n.saturating_add(1),
                ))
            });
            let mut response = streams.serve(&paid, source);
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/event-stream"),
            );
            response
        }
    };
    let app = Router::new()
        .route("/quote/{symbol}", get(quote).layer(paywall.clone()))
        .route("/ticks", get(ticks).layer(streams.paywall()))
        .route("/health", get(|| async { Json(json!({ "status": "ok" })) }))
        .merge(streams.routes());

    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!(
        "paid API on http://{} (payee {}): /quote/{{symbol}} {QUOTE_PRICE} per call, \
         /ticks {TICK_PRICE} per {} ms, /health free",
        listener.local_addr()?,
        node.address(),
        INTERVAL.as_millis()
    );
    let stats = streams.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    let stats = stats.stats();
    println!(
        "received {} in all; {} streams, {} intervals paid, {} served",
        received(&node).await,
        stats.opened,
        stats.intervals_paid,
        stats.intervals_served
    );
    Ok(())
}

/// What the payee received in all its channels.
async fn received(node: &Node) -> Amount {
    node.channels(None)
        .await
        .iter()
        .map(|c| c.balances.paid_by_peer)
        .fold(0, Amount::saturating_add)
}

/// A made-up quote, the same for the same symbol.
fn price_of(symbol: &str) -> Value {
    let cents = symbol
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
        % 100_000;
    json!(format!("{}.{:02}", cents / 100, cents % 100))
}

/// Entropy for the example's key, from /dev/urandom (the node itself takes entropy as input).
fn entropy() -> std::io::Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut seed)?;
    Ok(seed)
}
