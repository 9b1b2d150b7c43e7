//! Commits per second of the PostgreSQL and MariaDB stores against the other client crates,
//! on the node's hot path: a batch of one channel row (a ~300-byte state, the next version)
//! and one payment, as a payee commits a voucher before it answers.
//!
//! Needs the servers of the tests (PostgreSQL at 127.0.0.1:5432, database `test`; MariaDB at
//! 127.0.0.1:3306, root; `PAYCHAN_TEST_POSTGRES_URL` / `PAYCHAN_TEST_MYSQL_URL` override them)
//! and the features that build the candidates:
//!
//! ```text
//! cargo bench -p paychan-store --features postgres,mysql,bench-sqlx --bench backends
//! ```
//!
//! Per database, `sequential` is one committer awaiting each commit before the next (a single
//! channel paying as fast as it can), `concurrent16` is 16 committers on 16 channels at once,
//! each with a connection of a pool of 16:
//!
//! - `postgres/store`: [`PostgresStore`] (tokio-postgres + deadpool-postgres, `BEGIN` and the
//!   writes pipelined, then `COMMIT`: two round trips);
//! - `postgres/tokio_postgres_stepwise`: the same client, one statement at a time (`BEGIN`,
//!   `UPDATE`, `INSERT`, `COMMIT`: four round trips), to show what the pipelining is worth;
//! - `postgres/sqlx`: sqlx 0.8 (`PgPool`), the same statements in a transaction (four round
//!   trips: sqlx has no pipelining);
//! - `mysql/store`: [`MysqlStore`] (mysql_async and its pool);
//! - `mysql/sqlx`: sqlx 0.8 (`MySqlPool`), the same statements in a transaction.
//!
//! - `postgres_nosync/*`: the same three with `synchronous_commit = off` on every connection:
//!   a commit does not wait for the log's sync, which leaves the client's and the server's own
//!   work.
//!
//! Every candidate writes the same schema (the stores' own, in a schema/database made for the
//! run and dropped after it) with the same conditional `UPDATE ... WHERE version = ?` checked
//! for one changed row. sqlx is 0.8.6: sqlx 0.9 needs Rust 1.94, above the workspace's 1.90.
//!
//! # Results
//!
//! Commits per second (criterion's median), 2-core VM shared with other builds (load 2 to 3),
//! PostgreSQL 15 and MariaDB 10.11 from Debian on the same VM, one run of the command above:
//!
//! | workload                    | tokio-postgres store (pipelined) | tokio-postgres stepwise | sqlx |
//! |-----------------------------|------:|------:|------:|
//! | PostgreSQL sequential       | 2,170 | 1,710 | 1,430 |
//! | PostgreSQL 16 concurrent    | 5,350 | 3,430 | 3,470 |
//! | no sync, sequential         | 3,490 | 3,940 | 3,370 |
//! | no sync, 16 concurrent      | 6,230 | 6,410 | 5,360 |
//!
//! | workload                    | mysql_async store | sqlx |
//! |-----------------------------|------:|------:|
//! | MariaDB sequential          | 2,160 | 1,470 |
//! | MariaDB 16 concurrent       | 6,470 | 4,050 |
//!
//! The durable figures follow the disk: in an earlier run, with the disk busier (3.5 ms per
//! sync), every candidate did 250 to 290 sequential commits/s and the 16 committers 2,700 to
//! 3,300 (PostgreSQL: store 3,050, stepwise 2,970, sqlx 2,720; MariaDB: store 2,600 with the
//! pool fix below, sqlx 1,720). tokio-postgres is ahead of sqlx in every row. Pipelining pays
//! when the commit waits for the disk (a transaction holds its row locks for fewer round
//! trips); without the sync it is within the noise of one statement at a time (loopback round
//! trips are cheap; across a network they are not). mysql_async is ahead of sqlx by half
//! again, once its pool keeps its connections: with the default lower bound of 0 it closed
//! idle connections and reconnected under load (740 commits/s with 16 committers), and its
//! default reset on return re-prepared every statement.

// Benchmark setup fails loudly: a panic is the right report here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing
)]

use std::{
    future::Future,
    pin::Pin,
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use paychan_core::{Address, B256, ChannelId, keccak256};
use paychan_store::{
    Batch, ChannelRow, Direction, PaymentRow, Store,
    mysql::{MysqlOptions, MysqlStore},
    postgres::{PostgresOptions, PostgresStore},
};
use sqlx::{
    Executor,
    mysql::{MySqlPool, MySqlPoolOptions},
    postgres::{PgConnectOptions, PgPool, PgPoolOptions},
};
use tokio::runtime::Runtime;

const CONCURRENT: usize = 16;

type Commit = Arc<dyn Fn(usize, u64) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

fn postgres_url() -> String {
    std::env::var("PAYCHAN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn mysql_server() -> String {
    std::env::var("PAYCHAN_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned())
}

/// Channel `n` of candidate `candidate`: candidates never share a channel.
fn channel(candidate: usize, n: usize) -> ChannelId {
    ChannelId(keccak256(((candidate * 1_000 + n) as u64).to_be_bytes()))
}

fn row(id: ChannelId, version: u64) -> ChannelRow {
    ChannelRow {
        id,
        peer: Address::repeat_byte(7),
        phase: "open".to_owned(),
        version,
        state: vec![(version % 251) as u8; 300],
        updated_at: version,
    }
}

/// One channel's next version plus its payment.
fn one_payment(id: ChannelId, version: u64) -> Batch {
    Batch {
        channels: vec![row(id, version)],
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

/// A `u64` as stored (crate docs, "Encoding").
fn sql(v: u64) -> i64 {
    (v as i64) ^ i64::MIN
}

/// Writes version 1 of every channel of `candidate` through `store`.
async fn open_channels(store: &dyn Store, candidate: usize) {
    for n in 0..CONCURRENT {
        store
            .commit(Batch {
                channels: vec![row(channel(candidate, n), 1)],
                ..Batch::default()
            })
            .await
            .unwrap();
    }
}

fn through_store(store: Arc<dyn Store>, candidate: usize) -> Commit {
    Arc::new(move |n, version| {
        let store = Arc::clone(&store);
        Box::pin(async move {
            store
                .commit(one_payment(channel(candidate, n), version))
                .await
                .unwrap();
        })
    })
}

const PG_UPDATE: &str = "UPDATE channels SET peer = $1, phase = $2, version = $3, state = $4, \
     updated_at = $5 WHERE id = $6 AND version = $7";
const PG_INSERT: &str = "INSERT INTO payments \
     (channel_id, direction, sequence, amount, cumulative, memo, time) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (channel_id, direction, sequence) DO NOTHING";
const MY_UPDATE: &str = "UPDATE channels SET peer = ?, phase = ?, version = ?, state = ?, \
     updated_at = ? WHERE id = ? AND version = ?";
const MY_INSERT: &str = "INSERT INTO payments \
     (channel_id, direction, sequence, amount, cumulative, memo, time) VALUES (?, ?, ?, ?, ?, ?, ?)";

fn tokio_postgres_stepwise(pool: deadpool_postgres::Pool, candidate: usize) -> Commit {
    Arc::new(move |n, version| {
        let pool = pool.clone();
        Box::pin(async move {
            let batch = one_payment(channel(candidate, n), version);
            let (row, payment) = (&batch.channels[0], &batch.payments[0]);
            let mut client = pool.get().await.unwrap();
            let update = client.prepare_cached(PG_UPDATE).await.unwrap();
            let insert = client.prepare_cached(PG_INSERT).await.unwrap();
            let tx = client.transaction().await.unwrap();
            let updated = tx
                .execute(
                    &update,
                    &[
                        &row.peer.as_slice(),
                        &row.phase,
                        &sql(row.version),
                        &row.state,
                        &sql(row.updated_at),
                        &row.id.0.as_slice(),
                        &sql(version - 1),
                    ],
                )
                .await
                .unwrap();
            assert_eq!(updated, 1);
            tx.execute(
                &insert,
                &[
                    &payment.channel_id.0.as_slice(),
                    &0i16,
                    &sql(payment.sequence),
                    &payment.amount.to_be_bytes().as_slice(),
                    &payment.cumulative.to_be_bytes().as_slice(),
                    &payment.memo.as_slice(),
                    &sql(payment.time),
                ],
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
        })
    })
}

fn sqlx_postgres(pool: PgPool, candidate: usize) -> Commit {
    Arc::new(move |n, version| {
        let pool = pool.clone();
        Box::pin(async move {
            let batch = one_payment(channel(candidate, n), version);
            let (row, payment) = (&batch.channels[0], &batch.payments[0]);
            let mut tx = pool.begin().await.unwrap();
            let updated = sqlx::query(PG_UPDATE)
                .bind(row.peer.as_slice())
                .bind(&row.phase)
                .bind(sql(row.version))
                .bind(&row.state)
                .bind(sql(row.updated_at))
                .bind(row.id.0.as_slice())
                .bind(sql(version - 1))
                .execute(&mut *tx)
                .await
                .unwrap();
            assert_eq!(updated.rows_affected(), 1);
            sqlx::query(PG_INSERT)
                .bind(payment.channel_id.0.as_slice())
                .bind(0i16)
                .bind(sql(payment.sequence))
                .bind(payment.amount.to_be_bytes().to_vec())
                .bind(payment.cumulative.to_be_bytes().to_vec())
                .bind(payment.memo.as_slice())
                .bind(sql(payment.time))
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        })
    })
}

fn sqlx_mysql(pool: MySqlPool, candidate: usize) -> Commit {
    Arc::new(move |n, version| {
        let pool = pool.clone();
        Box::pin(async move {
            let batch = one_payment(channel(candidate, n), version);
            let (row, payment) = (&batch.channels[0], &batch.payments[0]);
            let mut tx = pool.begin().await.unwrap();
            let updated = sqlx::query(MY_UPDATE)
                .bind(row.peer.as_slice())
                .bind(&row.phase)
                .bind(sql(row.version))
                .bind(&row.state)
                .bind(sql(row.updated_at))
                .bind(row.id.0.as_slice())
                .bind(sql(version - 1))
                .execute(&mut *tx)
                .await
                .unwrap();
            assert_eq!(updated.rows_affected(), 1);
            sqlx::query(MY_INSERT)
                .bind(payment.channel_id.0.as_slice())
                .bind(0i16)
                .bind(sql(payment.sequence))
                .bind(payment.amount.to_be_bytes().to_vec())
                .bind(payment.cumulative.to_be_bytes().to_vec())
                .bind(payment.memo.as_slice())
                .bind(sql(payment.time))
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        })
    })
}

/// Runs `sequential` and `concurrent16` for one candidate.
fn bench(c: &mut Criterion, runtime: &Runtime, group: &str, name: &str, commit: &Commit) {
    let mut group = c.benchmark_group(group);
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    // Every channel is at version 1 to begin with.
    let mut versions = vec![1u64; CONCURRENT];
    group.bench_function(BenchmarkId::new(name, "sequential"), |b| {
        b.iter_custom(|iters| {
            let commit = Arc::clone(commit);
            let first = versions[0];
            versions[0] += iters;
            runtime.block_on(async move {
                tokio::spawn(async move {
                    let start = Instant::now();
                    for version in first + 1..=first + iters {
                        commit(0, version).await;
                    }
                    start.elapsed()
                })
                .await
                .unwrap()
            })
        });
    });
    group.bench_function(BenchmarkId::new(name, "concurrent16"), |b| {
        b.iter_custom(|iters| {
            let remaining = Arc::new(AtomicU64::new(iters));
            let start = Instant::now();
            let next = runtime.block_on(async {
                let tasks: Vec<_> = versions
                    .iter()
                    .enumerate()
                    .map(|(n, &version)| {
                        let (commit, remaining) = (Arc::clone(commit), Arc::clone(&remaining));
                        tokio::spawn(async move {
                            let mut version = version;
                            while remaining
                                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |r| {
                                    r.checked_sub(1)
                                })
                                .is_ok()
                            {
                                version += 1;
                                commit(n, version).await;
                            }
                            version
                        })
                    })
                    .collect();
                let mut next = Vec::with_capacity(tasks.len());
                for task in tasks {
                    next.push(task.await.unwrap());
                }
                next
            });
            versions = next;
            start.elapsed()
        });
    });
    group.finish();
}

/// The PostgreSQL candidates, in a schema made for the pass. With `synchronous` false every
/// connection sets `synchronous_commit = off`: a commit does not wait for the log's sync, so
/// what is left is the client's and the server's own work.
fn postgres(c: &mut Criterion, runtime: &Runtime, group: &str, synchronous: bool) {
    let name = format!("paychan_bench_{}_{group}", std::process::id());
    let sync = if synchronous { "on" } else { "off" };
    let separator = if postgres_url().contains('?') {
        '&'
    } else {
        '?'
    };
    let url = format!(
        "{}{separator}options=-c%20synchronous_commit%3D{sync}",
        postgres_url()
    );
    // PostgreSQL: a schema for the run.
    let admin = runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&postgres_url(), tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {}: {e}", postgres_url()));
        tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE SCHEMA \"{name}\""))
            .await
            .unwrap();
        client
    });
    let mut options = PostgresOptions::in_schema(&name);
    options.max_connections = CONCURRENT;
    let store: Arc<dyn Store> = Arc::new(
        runtime
            .block_on(PostgresStore::connect_with(&url, options))
            .unwrap(),
    );
    let deadpool = {
        let mut config = deadpool_postgres::Config::new();
        config.url = Some(url.clone());
        config.options = Some(format!(
            "-c search_path={name} -c synchronous_commit={sync}"
        ));
        config.pool = Some(deadpool_postgres::PoolConfig::new(CONCURRENT));
        config
            .create_pool(
                Some(deadpool_postgres::Runtime::Tokio1),
                tokio_postgres::NoTls,
            )
            .unwrap()
    };
    let sqlx_pg = runtime.block_on(async {
        PgPoolOptions::new()
            .max_connections(CONCURRENT as u32)
            .connect_with(
                PgConnectOptions::from_str(&postgres_url())
                    .unwrap()
                    .options([("search_path", name.as_str()), ("synchronous_commit", sync)]),
            )
            .await
            .unwrap()
    });
    for candidate in 0..3 {
        runtime.block_on(open_channels(&*store, candidate));
    }
    bench(
        c,
        runtime,
        group,
        "store",
        &through_store(Arc::clone(&store), 0),
    );
    bench(
        c,
        runtime,
        group,
        "tokio_postgres_stepwise",
        &tokio_postgres_stepwise(deadpool, 1),
    );
    bench(
        c,
        runtime,
        group,
        "sqlx",
        &sqlx_postgres(sqlx_pg.clone(), 2),
    );
    runtime.block_on(async {
        sqlx_pg.close().await;
        drop(store);
        admin
            .batch_execute(&format!("DROP SCHEMA \"{name}\" CASCADE"))
            .await
            .unwrap();
    });
}

fn backends(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    postgres(c, &runtime, "postgres", true);
    postgres(c, &runtime, "postgres_nosync", false);
    let name = format!("paychan_bench_{}", std::process::id());

    // MariaDB: a database for the run.
    let url = format!("{}/{name}", mysql_server());
    let admin = runtime.block_on(async {
        let pool = MySqlPoolOptions::new()
            .max_connections(1)
            .connect(&mysql_server())
            .await
            .unwrap_or_else(|e| panic!("MariaDB at {}: {e}", mysql_server()));
        pool.execute(format!("CREATE DATABASE `{name}`").as_str())
            .await
            .unwrap();
        pool
    });
    let mut options = MysqlOptions::default();
    options.max_connections = CONCURRENT;
    let store: Arc<dyn Store> = Arc::new(
        runtime
            .block_on(MysqlStore::connect_with(&url, options))
            .unwrap(),
    );
    let sqlx_my = runtime.block_on(async {
        MySqlPoolOptions::new()
            .max_connections(CONCURRENT as u32)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                        .await
                        .map(drop)
                })
            })
            .connect(&url)
            .await
            .unwrap()
    });
    for candidate in 0..2 {
        runtime.block_on(open_channels(&*store, candidate));
    }
    bench(
        c,
        &runtime,
        "mysql",
        "store",
        &through_store(Arc::clone(&store), 0),
    );
    bench(
        c,
        &runtime,
        "mysql",
        "sqlx",
        &sqlx_mysql(sqlx_my.clone(), 1),
    );
    runtime.block_on(async {
        sqlx_my.close().await;
        drop(store);
        admin
            .execute(format!("DROP DATABASE `{name}`").as_str())
            .await
            .unwrap();
        admin.close().await;
    });
}

criterion_group!(benches, backends);
criterion_main!(benches);
