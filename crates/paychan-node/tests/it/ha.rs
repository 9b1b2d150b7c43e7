//! A high-availability payee in one process, on the real PostgreSQL and MariaDB servers of
//! the machine (a schema or database per test, dropped after it): store-only fronts count
//! payments while the active background (the payee's key, behind a lease) follows the ledger
//! in the same rows; the background closes and receives exactly what the fronts answered. A
//! standby takes over once the active background stops renewing, and the old one can then
//! neither write nor act on the ledger.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use paychan_core::adjudicator::ChannelStatus;
use paychan_ledger::LedgerQuery;
use paychan_node::{
    ChannelPolicy, Node, NodeError,
    front::StorePayee,
    lease::{ActiveLease, BACKGROUND_LEASE},
    testkit::{self, Net, wait_until},
};
use paychan_store::{
    Direction, Store, StoreError,
    testkit::{mysql::TestDatabase, postgres::TestSchema},
};

/// Two handles (pools of their own, as two processes) on one PostgreSQL schema.
async fn postgres() -> (TestSchema, [Arc<dyn Store>; 2]) {
    let schema = TestSchema::create().await;
    let stores: [Arc<dyn Store>; 2] = [
        Arc::new(schema.store().await),
        Arc::new(schema.store().await),
    ];
    (schema, stores)
}

/// The same on one MariaDB database.
async fn mariadb() -> (TestDatabase, [Arc<dyn Store>; 2]) {
    let database = TestDatabase::create().await;
    let stores: [Arc<dyn Store>; 2] = [
        Arc::new(database.store().await),
        Arc::new(database.store().await),
    ];
    (database, stores)
}

/// C's background on `store`, holding the lease `lease`.
async fn background(net: &Net, store: Arc<dyn Store>, lease: Arc<ActiveLease>) -> Node {
    Node::builder()
        .key(net.c.key.clone())
        .ledger(Arc::new(net.ledger.account(net.c.key.clone())))
        .store(store)
        .config(testkit::config())
        .lease(lease)
        .build()
        .await
        .unwrap()
}

async fn acquire(store: &Arc<dyn Store>, holder: &str, ttl: Duration) -> Arc<ActiveLease> {
    ActiveLease::acquire(Arc::clone(store), BACKGROUND_LEASE, holder, ttl, |_| {})
        .await
        .unwrap()
}

/// C's fronts on `store`.
async fn fronts(net: &Net, store: &Arc<dyn Store>, n: usize) -> Vec<StorePayee> {
    let ledger: Arc<dyn LedgerQuery> = Arc::new(net.ledger.account(net.a.key.clone()));
    let mut out = vec![];
    for _ in 0..n {
        out.push(
            StorePayee::new(
                net.c.address(),
                Arc::clone(store),
                Arc::clone(&ledger),
                ChannelPolicy::default(),
            )
            .await
            .unwrap(),
        );
    }
    out
}

/// Fronts take 60 payments while A deposits three times on the ledger and the background
/// writes each deposit into the rows the fronts are writing; the background, reloading on
/// every lost race, ends with exactly the fronts' count, closes, and C receives it.
async fn background_and_fronts_share_the_rows(stores: [Arc<dyn Store>; 2], seed: u8) {
    let net = Net::builder().seed(seed).build().await;
    let [bg_store, front_store] = stores;
    let id = net
        .a
        .open_channel_on_ledger(net.c.address(), 1_000)
        .await
        .unwrap();
    let fronts = fronts(&net, &front_store, 2).await;
    let lease = acquire(&bg_store, "background-1", Duration::from_secs(5)).await;
    let bg = background(&net, Arc::clone(&bg_store), lease).await;

    let mut paid = 0u128;
    for n in 1..=60u128 {
        if n % 20 == 0 {
            net.a.deposit(id, 1_000).await.unwrap();
        }
        let package = net.a.create_payment_package(id, n, None).await.unwrap();
        fronts[(n % 2) as usize]
            .verify_payment_package(&package, n)
            .await
            .unwrap();
        paid += n;
    }
    assert!(paid > 1_000, "the payments use the later deposits");
    wait_until("the background shows every deposit and payment", || async {
        bg.channel_info(id).await.is_ok_and(|info| {
            info.balances.paid_by_peer == paid && info.balances.peer_deposit == 4_000
        })
    })
    .await;
    let history = front_store
        .payments(id, Direction::Incoming, 1_000, None)
        .await
        .unwrap();
    assert_eq!(history.len(), 60);
    assert_eq!(history.iter().map(|p| p.amount).sum::<u128>(), paid);

    let before = net.balance(net.c.address());
    bg.force_close(id).await.unwrap();
    net.ledger.clock().advance(3_600 * 24 * 30);
    wait_until("the background settles and C is paid", || async {
        net.balance(net.c.address()) == before + paid
    })
    .await;
    net.conserved();
    bg.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_background_and_fronts_share_the_rows() {
    let (_schema, stores) = postgres().await;
    background_and_fronts_share_the_rows(stores, 81).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mariadb_background_and_fronts_share_the_rows() {
    let (_database, stores) = mariadb().await;
    background_and_fronts_share_the_rows(stores, 82).await;
}

/// The active background stops renewing (its tasks are stopped, as if it hung): the standby
/// gets the lease within the lease's time, and the old background's writes, signatures and
/// ledger operations are all refused, leaving the ledger and the rows as they were.
async fn a_standby_takes_over(stores: [Arc<dyn Store>; 2], seed: u8) {
    let net = Net::builder().seed(seed).build().await;
    let [old_store, new_store] = stores;
    let id = net
        .a
        .open_channel_on_ledger(net.c.address(), 1_000)
        .await
        .unwrap();
    let fronts = fronts(&net, &new_store, 1).await;
    let package = net.a.create_payment_package(id, 100, None).await.unwrap();
    fronts[0]
        .verify_payment_package(&package, 100)
        .await
        .unwrap();

    let ttl = Duration::from_millis(800);
    let old_lease = acquire(&old_store, "background-1", ttl).await;
    let old = background(&net, Arc::clone(&old_store), Arc::clone(&old_lease)).await;
    net.a.deposit(id, 500).await.unwrap();
    wait_until("the old background applies the deposit", || async {
        old.channel_info(id)
            .await
            .is_ok_and(|info| info.balances.peer_deposit == 1_500)
    })
    .await;
    assert!(old_lease.check().is_ok());

    // It hangs: nothing renews its lease any more.
    old.shutdown();
    let hung = Instant::now();
    let new_lease = acquire(&new_store, "background-2", ttl).await;
    let takeover = hung.elapsed();
    assert!(
        takeover < Duration::from_secs(5),
        "takeover took {takeover:?}"
    );
    assert_eq!(new_lease.token(), old_lease.token() + 1);
    eprintln!("takeover {takeover:?} after the active background hung (lease {ttl:?})");

    // The old background can do nothing: no signature, no ledger operation, no write.
    let row = new_store.channel(id).await.unwrap().unwrap();
    let before = net.balance(net.c.address());
    match old.force_close(id).await {
        Err(e) => assert!(
            e.to_string().contains("not the active background") || e.to_string().contains("lease"),
            "{e}"
        ),
        Ok(()) => panic!("a background without its lease closed a channel"),
    }
    match old.withdraw(id, 10).await {
        Err(NodeError::LeaseLost(_)) => {}
        other => panic!("a background without its lease signed a withdrawal: {other:?}"),
    }
    let mut batch = paychan_store::Batch::default();
    batch.channels.push(paychan_store::ChannelRow {
        version: row.version + 1,
        ..row.clone()
    });
    batch.fence = Some(old_lease.fence());
    assert!(matches!(
        old_store.commit(batch).await,
        Err(StoreError::Fenced { .. })
    ));
    assert_eq!(new_store.channel(id).await.unwrap(), Some(row));
    assert_eq!(
        net.ledger.channel(id).await.unwrap().unwrap().status,
        ChannelStatus::Open
    );
    assert_eq!(net.balance(net.c.address()), before);

    // The new background carries on from the same rows.
    let new = background(&net, new_store, new_lease).await;
    let info = new.channel_info(id).await.unwrap();
    assert_eq!(
        (info.balances.paid_by_peer, info.balances.peer_deposit),
        (100, 1_500)
    );
    new.shutdown();
    net.conserved();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_standby_takes_over() {
    let (_schema, stores) = postgres().await;
    a_standby_takes_over(stores, 83).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mariadb_a_standby_takes_over() {
    let (_database, stores) = mariadb().await;
    a_standby_takes_over(stores, 84).await;
}
