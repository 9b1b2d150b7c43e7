//! `sqlite::backup`: a backup taken while commits keep coming is one consistent state (every
//! channel's row and its payments from the same commit), a self-contained file that opens as a
//! store; refusals (an existing destination, a file that is not a paychan store); and a
//! restore that keeps the replaced store aside.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use paychan_core::{Address, B256, ChannelId, keccak256};
use paychan_store::{
    Batch, ChannelRow, Direction, Durability, PaymentRow, SqliteStore, Store,
    sqlite::backup::{backup, restore},
};

fn id(n: u32) -> ChannelId {
    ChannelId(keccak256(n.to_be_bytes()))
}

/// Version `v` of channel `n`, with payment `v`: the row's state names its version, so a
/// consistent copy has exactly `version` payments for it.
fn step(n: u32, version: u64) -> Batch {
    Batch {
        channels: vec![ChannelRow {
            id: id(n),
            peer: Address::repeat_byte(1),
            phase: "open".to_owned(),
            version,
            state: version.to_be_bytes().to_vec(),
            updated_at: version,
        }],
        payments: vec![PaymentRow {
            channel_id: id(n),
            direction: Direction::Incoming,
            sequence: version,
            amount: 1,
            cumulative: u128::from(version),
            memo: B256::ZERO,
            time: version,
        }],
        ledger_cursor: Some(version),
        removals: vec![],
        fence: None,
    }
}

/// Every channel's row and its payment history come from the same commit.
async fn assert_consistent(store: &SqliteStore) -> u64 {
    let mut total = 0;
    for channel in store.channels().await.unwrap() {
        let version = u64::from_be_bytes(channel.state.as_slice().try_into().unwrap());
        assert_eq!(version, channel.version);
        let payments = store
            .payments(channel.id, Direction::Incoming, 100_000, None)
            .await
            .unwrap();
        assert_eq!(
            payments.len() as u64,
            version,
            "a row and its payments disagree"
        );
        total += version;
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_load_is_one_consistent_state_and_restores() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let store = Arc::new(SqliteStore::open(&path, Durability::Normal).unwrap());
    for n in 0..4 {
        store.commit(step(n, 1)).await.unwrap();
    }
    // Commits keep coming while the backups run.
    let stop = Arc::new(AtomicBool::new(false));
    let committed = Arc::new(AtomicU64::new(4));
    let writer = tokio::spawn({
        let (store, stop, committed) = (store.clone(), stop.clone(), committed.clone());
        async move {
            let mut version = 1;
            while !stop.load(Ordering::SeqCst) && version < 5_000 {
                version += 1;
                for n in 0..4 {
                    store.commit(step(n, version)).await.unwrap();
                    committed.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    });
    let mut seen = Vec::new();
    for k in 0..3 {
        let before = committed.load(Ordering::SeqCst);
        let dest = dir.path().join(format!("backup-{k}.db"));
        let report = tokio::task::spawn_blocking({
            let (path, dest) = (path.clone(), dest.clone());
            move || backup(&path, &dest).unwrap()
        })
        .await
        .unwrap();
        assert_eq!(report.channels, 4);
        assert!(report.bytes > 0);
        // One file: no write-ahead log beside it.
        assert!(!dir.path().join(format!("backup-{k}.db-wal")).exists());
        let copy = SqliteStore::open(&dest, Durability::Normal).unwrap();
        let payments = assert_consistent(&copy).await;
        assert!(
            payments >= before,
            "the backup lost commits made before it started"
        );
        assert_eq!(report.payments, payments);
        seen.push(payments);
        drop(copy);
        // Wait until more has been committed.
        while committed.load(Ordering::SeqCst) < before + 40 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    stop.store(true, Ordering::SeqCst);
    writer.await.unwrap();
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    let latest = assert_consistent(&store).await;
    drop(store);

    // An existing destination is refused, and left alone.
    let first = dir.path().join("backup-0.db");
    let size = std::fs::metadata(&first).unwrap().len();
    let error = backup(&path, &first).unwrap_err().to_string();
    assert!(error.contains("exists already"), "{error}");
    assert_eq!(std::fs::metadata(&first).unwrap().len(), size);

    // Restore the oldest backup: the store is as it was then; the replaced one is kept.
    let report = restore(&first, &path).unwrap();
    let aside = report.replaced.clone().unwrap();
    assert!(aside.exists());
    let restored = SqliteStore::open(&path, Durability::Normal).unwrap();
    assert_eq!(assert_consistent(&restored).await, seen[0]);
    assert_eq!(report.payments, seen[0]);
    drop(restored);
    let kept = SqliteStore::open(&aside, Durability::Normal).unwrap();
    assert_eq!(assert_consistent(&kept).await, latest);
}

#[test]
fn files_that_are_not_paychan_stores_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(
        &text,
        "not a database at all, just some text to fill the page",
    )
    .unwrap();
    let other = dir.path().join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    let store = dir.path().join("store.db");
    for bad in [&text, &other, &dir.path().join("missing.db")] {
        let dest = dir.path().join("copy.db");
        assert!(backup(bad, &dest).is_err(), "{}", bad.display());
        assert!(!dest.exists());
        assert!(restore(bad, &store).is_err(), "{}", bad.display());
        assert!(!store.exists(), "a refused restore wrote the store");
    }
}
