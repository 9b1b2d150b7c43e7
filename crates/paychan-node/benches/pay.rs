//! One payment round trip through two nodes in this process: the payer signs and commits a
//! voucher, the payee checks it, runs its handler, commits and answers, the payer reads the
//! answer. The nodes are connected by an in-process [`PeerConnection::pair`] (no sockets, no
//! encryption: `paychan bench` measures those), each with its own SQLite file store.
//!
//! - `node/pay_round_trip/{normal,full}`: one payment at a time on one channel.
//!
//! Run with `cargo bench -p paychan-node --bench pay`.
//!
//! With `PAYCHAN_BENCH_PAYMENTS=N` in the environment it makes exactly N payments (durability
//! normal) instead and exits: for instruction counts under `valgrind --tool=callgrind`, where
//! the difference between two counts (say 200 and 1,200 payments) is the cost of the extra
//! payments alone, setup excluded (docs/PERFORMANCE.md, "Where a payment's time goes").

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arithmetic_side_effects,
    missing_docs
)]

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use criterion::{BenchmarkId, Criterion, criterion_group};
use paychan_core::{Address, ChannelId, SigningKey};
use paychan_ledger::{Clock, EmbeddedLedger};
use paychan_node::{Incoming, Node, PeerConnection};
use paychan_store::{Durability, sqlite::SqliteStore};
use serde_json::json;

async fn node(
    ledger: &EmbeddedLedger,
    key: &SigningKey,
    db: &std::path::Path,
    d: Durability,
) -> Node {
    let store = SqliteStore::open(db, d).unwrap();
    Node::builder()
        .key(key.clone())
        .ledger(Arc::new(ledger.account(key.clone())))
        .store(Arc::new(store))
        .build()
        .await
        .unwrap()
}

struct Pair {
    payer: Node,
    payee: Node,
    channel: ChannelId,
    _ledger: EmbeddedLedger,
    _dir: tempfile::TempDir,
}

async fn pair(durability: Durability) -> Pair {
    let ledger = EmbeddedLedger::in_memory(Clock::manual(1_700_000_000));
    let ka = SigningKey::from_entropy(&[41; 32]).unwrap();
    let kb = SigningKey::from_entropy(&[42; 32]).unwrap();
    ledger
        .faucet(ka.address(), Address::ZERO, u128::MAX / 4)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let payer = node(&ledger, &ka, &dir.path().join("a.db"), durability).await;
    let payee = node(&ledger, &kb, &dir.path().join("b.db"), durability).await;
    payee.set_payment_handler(|i: Incoming| async move { Ok(json!({ "echo": i.message })) });
    let (to_b, to_a) = PeerConnection::pair(payer.address(), payee.address(), 64);
    payer.connect(to_b).await;
    payee.connect(to_a).await;
    let channel = payer
        .create_channel(payee.address(), u128::MAX / 8)
        .await
        .unwrap();
    Pair {
        payer,
        payee,
        channel,
        _ledger: ledger,
        _dir: dir,
    }
}

fn pay_round_trip(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("node/pay_round_trip");
    for durability in [Durability::Normal, Durability::Full] {
        let p = rt.block_on(pair(durability));
        group.bench_function(BenchmarkId::from_parameter(durability), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for n in 0..iters {
                        p.payer
                            .send_message_and_pay(p.channel, &json!({ "n": n }), 1)
                            .await
                            .unwrap();
                    }
                    start.elapsed()
                })
            })
        });
        p.payer.shutdown();
        p.payee.shutdown();
    }
    group.finish();
}

criterion_group! {
    name = node_benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = pay_round_trip
}
/// `PAYCHAN_BENCH_PAYMENTS=N`: N payments, then exit (see the module doc).
fn counted(payments: u64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let p = pair(Durability::Normal).await;
        for n in 0..payments {
            p.payer
                .send_message_and_pay(p.channel, &json!({ "n": n }), 1)
                .await
                .unwrap();
        }
        p.payer.shutdown();
        p.payee.shutdown();
    });
}

fn main() {
    if let Some(n) = std::env::var("PAYCHAN_BENCH_PAYMENTS")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        counted(n);
        return;
    }
    node_benches();
    Criterion::default().configure_from_args().final_summary();
}
