//! The PostgreSQL backend against the real server of the machine (127.0.0.1:5432, trust
//! authentication, database `test`; `PAYCHAN_TEST_POSTGRES_URL` overrides it): the
//! conformance suite, two stores racing for one channel, migrations from a hand-made
//! version-1 schema, and refusals. Every test works in a schema of its own, created for it
//! and dropped when it ends, failed or not. A server that cannot be reached fails the tests
//! with a message that says so; they never skip.

use std::sync::Arc;

use paychan_core::{Address, B256};
use paychan_store::{
    Batch, ChannelRow, Direction, PaymentRow, Remedy, Store, StoreError,
    postgres::{PostgresOptions, PostgresStore, SCHEMA_VERSION},
    testkit::Harness,
};

use paychan_store::testkit::postgres::{TestSchema, execute, url};

use crate::shared::{commit_retrying, id, paid, row, two_stores_race};

/// A harness over a new schema; the schema lives as long as the harness.
pub(crate) async fn postgres_harness() -> Harness {
    let schema = Arc::new(TestSchema::create().await);
    Harness::new(move || {
        let schema = Arc::clone(&schema);
        async move {
            let store = PostgresStore::connect_with(&url(), schema.options()).await?;
            Ok(Arc::new(store) as Arc<dyn Store>)
        }
    })
}

mod conformance {
    paychan_store::store_conformance_suite!(super::postgres_harness());
}

/// Two stores with pools of their own (two processes, as in high availability) race for the
/// same version of one channel (see `shared::two_stores_race`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_racing_for_one_version_one_wins_and_the_loser_reloads() {
    let schema = TestSchema::create().await;
    let stores: [Arc<dyn Store>; 2] = [
        Arc::new(schema.store().await),
        Arc::new(schema.store().await),
    ];
    two_stores_race(stores).await;
}

/// Version 1 of the PostgreSQL schema exactly as it shipped, written independently of the
/// crate.
const SCHEMA_V1: &str = "
    CREATE TABLE schema_version (
        id      SMALLINT NOT NULL PRIMARY KEY CHECK (id = 0),
        version BIGINT   NOT NULL
    );
    INSERT INTO schema_version (id, version) VALUES (0, 1);
    CREATE TABLE meta (
        key   TEXT COLLATE \"C\" NOT NULL PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE channels (
        id         BYTEA  NOT NULL PRIMARY KEY CHECK (octet_length(id) = 32),
        peer       BYTEA  NOT NULL CHECK (octet_length(peer) = 20),
        phase      TEXT   NOT NULL,
        version    BIGINT NOT NULL,
        state      BYTEA  NOT NULL,
        updated_at BIGINT NOT NULL
    );
    CREATE TABLE payments (
        channel_id BYTEA    NOT NULL CHECK (octet_length(channel_id) = 32),
        direction  SMALLINT NOT NULL CHECK (direction IN (0, 1)),
        sequence   BIGINT   NOT NULL,
        amount     BYTEA    NOT NULL CHECK (octet_length(amount) = 16),
        cumulative BYTEA    NOT NULL CHECK (octet_length(cumulative) = 16),
        memo       BYTEA    NOT NULL CHECK (octet_length(memo) = 32),
        time       BIGINT   NOT NULL,
        PRIMARY KEY (channel_id, direction, sequence)
    );
";

/// `bytes` as a PostgreSQL literal.
fn hex(bytes: &[u8]) -> String {
    let digits: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("'\\x{digits}'::bytea")
}

/// Two stores with pools of their own on one schema.
async fn two_stores(place: &TestSchema) -> [Arc<dyn Store>; 2] {
    [Arc::new(place.store().await), Arc::new(place.store().await)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_have_one_holder_at_a_time() {
    let place = TestSchema::create().await;
    crate::leases::one_holder_at_a_time(two_stores(&place).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unrenewed_lease_expires() {
    let place = TestSchema::create().await;
    crate::leases::an_unrenewed_lease_expires(two_stores(&place).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_cuts_off_the_old_holder() {
    let place = TestSchema::create().await;
    crate::leases::a_takeover_cuts_off_the_old_holder(two_stores(&place).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrates_a_hand_made_version_1_schema() {
    let schema = TestSchema::create().await;
    let peer = Address::repeat_byte(0x42);
    let mut amount = [0u8; 16];
    amount[15] = 5;
    execute(&format!(
        "SET search_path TO \"{name}\"; {SCHEMA_V1}
         INSERT INTO channels VALUES ({id}, {peer}, 'closing', {v3}, '\\xc0ffee', {max});
         INSERT INTO payments VALUES ({id}, 1, {top}, {amount}, {full}, {memo}, {time});
         INSERT INTO meta VALUES ('node.address', '0x42');",
        name = schema.name,
        id = hex(id(1).0.as_slice()),
        peer = hex(peer.as_slice()),
        v3 = i64::MIN + 3,
        max = i64::MAX,
        top = 0,
        amount = hex(&amount),
        full = hex(&[0xff; 16]),
        memo = hex(&[7; 32]),
        time = i64::MIN + 1_700_000_000,
    ))
    .await;

    let store = schema.store().await;
    let expected = ChannelRow {
        id: id(1),
        peer,
        phase: "closing".to_owned(),
        version: 3,
        state: vec![0xc0, 0xff, 0xee],
        updated_at: u64::MAX,
    };
    assert_eq!(store.channel(id(1)).await.unwrap(), Some(expected.clone()));
    assert_eq!(store.channels_for_peer(peer).await.unwrap(), vec![expected]);
    assert_eq!(
        store
            .payments(id(1), Direction::Outgoing, 10, None)
            .await
            .unwrap(),
        vec![PaymentRow {
            channel_id: id(1),
            direction: Direction::Outgoing,
            sequence: 1 << 63,
            amount: 5,
            cumulative: u128::MAX,
            memo: B256::repeat_byte(7),
            time: 1_700_000_000,
        }]
    );
    assert_eq!(
        store.meta("node.address").await.unwrap().as_deref(),
        Some("0x42")
    );
    assert_eq!(
        store.ledger_cursor().await.unwrap(),
        0,
        "step 2 adds the cursor"
    );
    assert!(
        store.contacts().await.unwrap().is_empty(),
        "step 3 adds contacts"
    );
    let mut next = row(1, 4);
    next.peer = peer;
    store
        .commit(Batch {
            channels: vec![next],
            ledger_cursor: Some(9),
            ..Batch::default()
        })
        .await
        .unwrap();
    assert_eq!(store.ledger_cursor().await.unwrap(), 9);
    drop(store);

    // The version is stored, and a second connect finds nothing to do.
    let store = schema.store().await;
    assert_eq!(store.channel(id(1)).await.unwrap().unwrap().version, 4);
    let (client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let version: i64 = client
        .query_one(
            &format!("SELECT version FROM \"{}\".schema_version", schema.name),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, SCHEMA_VERSION as i64);
    let index: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND indexname = 'channels_by_peer'",
            &[&schema.name],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(index, 1, "step 2 adds the peer index");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_newer_schema_and_a_foreign_one() {
    let schema = TestSchema::create().await;
    drop(schema.store().await);
    execute(&format!(
        "UPDATE \"{}\".schema_version SET version = {}",
        schema.name,
        SCHEMA_VERSION + 1
    ))
    .await;
    match PostgresStore::connect_with(&url(), schema.options()).await {
        Err(StoreError::SchemaTooNew { found, supported }) => {
            assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }

    let foreign = TestSchema::create().await;
    execute(&format!(
        "CREATE TABLE \"{}\".users (name TEXT)",
        foreign.name
    ))
    .await;
    match PostgresStore::connect_with(&url(), foreign.options()).await {
        Err(StoreError::Corrupt { reason }) => {
            assert!(reason.contains("not a paychan database"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_unavailable() {
    let mut options = PostgresOptions::default();
    options.timeout = std::time::Duration::from_secs(2);
    // Port 1 on the loopback: nothing listens there.
    match PostgresStore::connect_with("postgres://postgres@127.0.0.1:1/test", options).await {
        Err(e @ StoreError::Unavailable { .. }) => assert_eq!(e.remedy(), Remedy::RetryLater),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

/// The server ends every connection of a store (as a restart or a failover does): calls fail
/// with `Unavailable` at worst, the pool reconnects by itself, and nothing committed is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_recovers_when_its_connections_are_killed() {
    let schema = TestSchema::create().await;
    let separator = if url().contains('?') { '&' } else { '?' };
    let tagged = format!("{}{separator}application_name={}", url(), schema.name);
    let store = PostgresStore::connect_with(&tagged, schema.options())
        .await
        .unwrap();
    let mut failed = 0;
    for version in 1..=20u64 {
        if version % 5 == 0 {
            execute(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = '{}'",
                schema.name
            ))
            .await;
        }
        failed += commit_retrying(&store, paid(1, version, 0)).await;
        assert_eq!(
            store.channel(id(1)).await.unwrap().unwrap().version,
            version
        );
    }
    let payments = store
        .payments(id(1), Direction::Incoming, u32::MAX, None)
        .await
        .unwrap();
    assert_eq!(payments.len(), 20, "every payment is kept, once");
    eprintln!("attempts that failed with Unavailable: {failed}");
}

/// Four processes start at once on an empty schema: every one of them creates or migrates it
/// (one after the other, or finding it done), and all of them can use it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_opened_at_once_on_an_empty_schema_all_work() {
    let schema = TestSchema::create().await;
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let options = schema.options();
            tokio::spawn(async move { PostgresStore::connect_with(&url(), options).await })
        })
        .collect();
    let mut stores = Vec::new();
    for open in opens {
        stores.push(
            open.await
                .unwrap()
                .unwrap_or_else(|e| panic!("a concurrent open: {e}")),
        );
    }
    for (n, store) in stores.iter().enumerate() {
        store.commit(paid(n as u32, 1, 0)).await.unwrap();
    }
    assert_eq!(stores[0].channels().await.unwrap().len(), 4);
}
