//! Commits per second of the SQLite store on the node's hot path: a batch of one channel row
//! (a ~300-byte state) and one payment, as a payee commits a voucher before it answers.
//!
//! - `commit/sequential/{normal,full}`: one committer, each commit awaited before the next
//!   (a single channel paying as fast as it can);
//! - `commit/concurrent64/{normal,full}`: 64 committers on 64 channels at once, so group
//!   commit merges them (many channels sharing one sync);
//! - `commit/bare_rusqlite/{normal,full}`: the same SQL on a bare rusqlite connection in the
//!   calling thread, with no writer thread, queue or savepoint: the floor the store is
//!   measured against.
//!
//! The database lives under the target directory, on the same disk as the build (not a
//! tmpfs), so `full` pays a real `fsync`. Criterion reports the time per commit and, as
//! throughput, commits per second (`elem/s`).
//!
//! # rusqlite or sqlx
//!
//! The backend uses rusqlite (0.41, bundled SQLite). sqlx 0.8.6 (its sqlite driver, bundled
//! SQLite; sqlx 0.9 needs Rust 1.94, above the workspace's 1.90) was measured on this workload
//! in a separate throwaway crate, as it cannot be linked next to rusqlite (both bundle
//! SQLite under the same `links` key): same schema, same SQL, same timing loop (5 runs of 6
//! rounds, interleaved with the rusqlite store, medians of commits/s, 2-core VM under load):
//!
//! | workload              | rusqlite store | sqlx, one connection | sqlx, same group commit |
//! |-----------------------|---------------:|---------------------:|------------------------:|
//! | sequential, normal    |         34,900 |               15,300 |                  10,300 |
//! | sequential, full      |          5,100 |                3,900 |                   3,500 |
//! | 64 concurrent, normal |         45,900 |                    — |                  17,600 |
//! | 64 concurrent, full   |         42,100 |                    — |                  18,000 |
//!
//! sqlx sends every statement to its connection's worker thread and back (six round trips
//! per commit here); rusqlite runs the whole group in the writer thread.

// Benchmark setup fails loudly: a panic is the right report here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arithmetic_side_effects
)]

use std::{
    hint::black_box,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use paychan_core::{Address, B256, ChannelId, keccak256};
use paychan_store::{Batch, ChannelRow, Direction, Durability, PaymentRow, SqliteStore, Store};
use tokio::runtime::Runtime;

const COMMITTERS: usize = 64;

fn channel(n: usize) -> ChannelId {
    ChannelId(keccak256((n as u64).to_be_bytes()))
}

/// One channel's next version plus its payment.
fn one_payment(n: usize, version: u64) -> Batch {
    let id = channel(n);
    Batch {
        channels: vec![ChannelRow {
            id,
            peer: Address::repeat_byte(7),
            phase: "open".to_owned(),
            version,
            state: vec![(version % 251) as u8; 300],
            updated_at: version,
        }],
        payments: vec![PaymentRow {
            channel_id: id,
            direction: Direction::Incoming,
            sequence: version,
            amount: 1_000,
            cumulative: u128::from(version) * 1_000,
            memo: B256::repeat_byte(1),
            time: version,
        }],
        ledger_cursor: None,
        removals: vec![],
        fence: None,
    }
}

fn open(durability: Durability) -> (tempfile::TempDir, Arc<SqliteStore>) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let store = SqliteStore::open(dir.path().join("bench.sqlite"), durability).unwrap();
    (dir, Arc::new(store))
}

fn commits(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("commit");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(5));
    for durability in [Durability::Normal, Durability::Full] {
        let (_dir, store) = open(durability);
        let mut version = 0;
        group.bench_function(BenchmarkId::new("sequential", durability), |b| {
            b.iter_custom(|iters| {
                // From a runtime task, as the node commits (not from `block_on`'s thread).
                let store = Arc::clone(&store);
                let first = version;
                version += iters;
                runtime.block_on(async move {
                    tokio::spawn(async move {
                        let start = Instant::now();
                        for version in first + 1..=first + iters {
                            store
                                .commit(black_box(one_payment(0, version)))
                                .await
                                .unwrap();
                        }
                        start.elapsed()
                    })
                    .await
                    .unwrap()
                })
            });
        });

        let (_dir, store) = open(durability);
        let mut versions = vec![0u64; COMMITTERS];
        group.bench_function(BenchmarkId::new("concurrent64", durability), |b| {
            b.iter_custom(|iters| {
                let (elapsed, next) = concurrent(&runtime, &store, iters, &versions);
                versions = next;
                elapsed
            });
        });
        let stats = store.stats();
        if stats.groups > 0 {
            eprintln!(
                "concurrent64/{durability}: {:.1} commits per transaction on average",
                stats.writes as f64 / stats.groups as f64
            );
        }

        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let conn = bare::open(&dir.path().join("bare.sqlite"), durability);
        let mut version = 0;
        group.bench_function(BenchmarkId::new("bare_rusqlite", durability), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    version += 1;
                    bare::commit(&conn, black_box(&one_payment(0, version)));
                }
                start.elapsed()
            });
        });
    }
    group.finish();
}

/// `iters` commits spread over [`COMMITTERS`] tasks, each on its own channel.
fn concurrent(
    runtime: &Runtime,
    store: &Arc<SqliteStore>,
    iters: u64,
    versions: &[u64],
) -> (Duration, Vec<u64>) {
    runtime.block_on(async {
        let remaining = Arc::new(AtomicU64::new(iters));
        let start = Instant::now();
        let tasks: Vec<_> = versions
            .iter()
            .enumerate()
            .map(|(n, &version)| {
                let (store, remaining) = (Arc::clone(store), Arc::clone(&remaining));
                tokio::spawn(async move {
                    let mut version = version;
                    while remaining
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |r| r.checked_sub(1))
                        .is_ok()
                    {
                        version += 1;
                        store.commit(one_payment(n, version)).await.unwrap();
                    }
                    version
                })
            })
            .collect();
        let mut next = Vec::with_capacity(tasks.len());
        for task in tasks {
            next.push(task.await.unwrap());
        }
        (start.elapsed(), next)
    })
}

/// The store's write path without the store: one connection, one transaction per commit.
mod bare {
    use std::path::Path;

    use paychan_store::{Batch, Durability};
    use rusqlite::{Connection, params};

    fn u64_sql(v: u64) -> i64 {
        (v as i64) ^ i64::MIN
    }

    pub(super) fn open(path: &Path, durability: Durability) -> Connection {
        let conn = Connection::open(path).unwrap();
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))
            .unwrap();
        let sync = if durability == Durability::Full {
            "FULL"
        } else {
            "NORMAL"
        };
        conn.pragma_update(None, "synchronous", sync).unwrap();
        conn.execute_batch(
            "CREATE TABLE channels (id BLOB PRIMARY KEY, peer BLOB NOT NULL, phase TEXT NOT NULL,
                 version INTEGER NOT NULL, state BLOB NOT NULL, updated_at INTEGER NOT NULL);
             CREATE TABLE payments (channel_id BLOB NOT NULL, direction INTEGER NOT NULL,
                 sequence INTEGER NOT NULL, amount BLOB NOT NULL, cumulative BLOB NOT NULL,
                 memo BLOB NOT NULL, time INTEGER NOT NULL,
                 PRIMARY KEY (channel_id, direction, sequence)) WITHOUT ROWID;",
        )
        .unwrap();
        conn
    }

    pub(super) fn commit(conn: &Connection, batch: &Batch) {
        conn.prepare_cached("BEGIN IMMEDIATE")
            .unwrap()
            .execute([])
            .unwrap();
        for row in &batch.channels {
            if row.version == 1 {
                conn.prepare_cached(
                    "INSERT INTO channels (id, peer, phase, version, state, updated_at) \
                     VALUES (?, ?, ?, ?, ?, ?)",
                )
                .unwrap()
                .execute(params![
                    row.id.0.as_slice(),
                    row.peer.as_slice(),
                    row.phase,
                    u64_sql(row.version),
                    row.state,
                    u64_sql(row.updated_at)
                ])
                .unwrap();
            } else {
                let n = conn
                    .prepare_cached(
                        "UPDATE channels SET peer = ?, phase = ?, version = ?, state = ?, \
                         updated_at = ? WHERE id = ? AND version = ?",
                    )
                    .unwrap()
                    .execute(params![
                        row.peer.as_slice(),
                        row.phase,
                        u64_sql(row.version),
                        row.state,
                        u64_sql(row.updated_at),
                        row.id.0.as_slice(),
                        u64_sql(row.version - 1)
                    ])
                    .unwrap();
                assert_eq!(n, 1);
            }
        }
        for p in &batch.payments {
            conn.prepare_cached(
                "INSERT INTO payments (channel_id, direction, sequence, amount, cumulative, \
                 memo, time) VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .unwrap()
            .execute(params![
                p.channel_id.0.as_slice(),
                0,
                u64_sql(p.sequence),
                p.amount.to_be_bytes(),
                p.cumulative.to_be_bytes(),
                p.memo.as_slice(),
                u64_sql(p.time)
            ])
            .unwrap();
        }
        conn.prepare_cached("COMMIT").unwrap().execute([]).unwrap();
    }
}

criterion_group!(benches, commits);
criterion_main!(benches);
