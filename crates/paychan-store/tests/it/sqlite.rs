//! Tests of the SQLite backend beyond the conformance suite: migrations from a hand-made
//! version-1 database, refusals of files it must not touch, deterministic group commit, an
//! in-memory store, and a commit that survives `kill -9`.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
    sync::Arc,
    time::Duration,
};

use paychan_core::{Address, B256, ChannelId, keccak256};
use paychan_store::{
    Batch, ChannelRow, Direction, Durability, PaymentRow, SqliteStore, Store, StoreError,
    sqlite::{APPLICATION_ID, SCHEMA_VERSION},
    testkit::{self, Harness},
};
use rusqlite::Connection;

fn id(n: u32) -> ChannelId {
    ChannelId(keccak256(n.to_be_bytes()))
}

fn row(n: u32, version: u64) -> ChannelRow {
    ChannelRow {
        id: id(n),
        peer: Address::repeat_byte(1),
        phase: "open".to_owned(),
        version,
        state: format!("channel {n} version {version}").into_bytes(),
        updated_at: version,
    }
}

fn payment(n: u32, sequence: u64) -> PaymentRow {
    PaymentRow {
        channel_id: id(n),
        direction: Direction::Incoming,
        sequence,
        amount: 1,
        cumulative: u128::from(sequence),
        memo: B256::ZERO,
        time: sequence,
    }
}

fn batch(channels: Vec<ChannelRow>, payments: Vec<PaymentRow>) -> Batch {
    Batch {
        channels,
        payments,
        ledger_cursor: None,
        removals: vec![],
        fence: None,
    }
}

/// A `u64` as stored: top bit flipped, read as two's complement (crate docs, "Encoding").
fn stored(value: u64) -> i64 {
    i64::MIN.wrapping_add(value as i64)
}

/// Version 1 of the schema exactly as it shipped, written independently of the crate.
const SCHEMA_V1: &str = "
    CREATE TABLE schema_version (version INTEGER NOT NULL);
    INSERT INTO schema_version (version) VALUES (1);
    CREATE TABLE meta (
        key   TEXT NOT NULL PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE channels (
        id         BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 32),
        peer       BLOB    NOT NULL CHECK (length(peer) = 20),
        phase      TEXT    NOT NULL,
        version    INTEGER NOT NULL,
        state      BLOB    NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE payments (
        channel_id BLOB    NOT NULL CHECK (length(channel_id) = 32),
        direction  INTEGER NOT NULL CHECK (direction IN (0, 1)),
        sequence   INTEGER NOT NULL,
        amount     BLOB    NOT NULL CHECK (length(amount) = 16),
        cumulative BLOB    NOT NULL CHECK (length(cumulative) = 16),
        memo       BLOB    NOT NULL CHECK (length(memo) = 32),
        time       INTEGER NOT NULL,
        PRIMARY KEY (channel_id, direction, sequence)
    ) WITHOUT ROWID;
";

fn schema_version_in(path: &Path) -> i64 {
    let conn = Connection::open(path).unwrap();
    conn.query_row("SELECT version FROM schema_version", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrates_a_hand_made_version_1_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.sqlite");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA_V1).unwrap();
        let peer = Address::repeat_byte(0x42);
        conn.execute(
            "INSERT INTO channels VALUES (?, ?, 'closing', ?, x'c0ffee', ?)",
            rusqlite::params![
                id(1).0.as_slice(),
                peer.as_slice(),
                stored(3),
                stored(u64::MAX)
            ],
        )
        .unwrap();
        let mut amount = [0u8; 16];
        amount[15] = 5;
        conn.execute(
            "INSERT INTO payments VALUES (?, 1, ?, ?, ?, ?, ?)",
            rusqlite::params![
                id(1).0.as_slice(),
                stored(1 << 63),
                amount,
                [0xffu8; 16],
                [7u8; 32],
                stored(1_700_000_000)
            ],
        )
        .unwrap();
        conn.execute("INSERT INTO meta VALUES ('node.address', '0x42')", [])
            .unwrap();
    }

    let store = SqliteStore::open(&path, Durability::Normal).unwrap();
    let expected = ChannelRow {
        id: id(1),
        peer: Address::repeat_byte(0x42),
        phase: "closing".to_owned(),
        version: 3,
        state: vec![0xc0, 0xff, 0xee],
        updated_at: u64::MAX,
    };
    assert_eq!(store.channel(id(1)).await.unwrap(), Some(expected.clone()));
    assert_eq!(
        store
            .channels_for_peer(Address::repeat_byte(0x42))
            .await
            .unwrap(),
        vec![expected]
    );
    let payments = store
        .payments(id(1), Direction::Outgoing, 10, None)
        .await
        .unwrap();
    assert_eq!(
        payments,
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
        "version 2 adds the cursor at 0"
    );
    let mut next = row(1, 4);
    next.peer = Address::repeat_byte(0x42);
    store
        .commit(Batch {
            ledger_cursor: Some(9),
            ..batch(vec![next], vec![])
        })
        .await
        .unwrap();
    assert_eq!(store.ledger_cursor().await.unwrap(), 9);
    drop(store);

    assert_eq!(schema_version_in(&path), SCHEMA_VERSION as i64);
    let conn = Connection::open(&path).unwrap();
    let index: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'channels_by_peer'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(index, 1, "version 2 adds the peer index");
    let application_id: i32 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        application_id, APPLICATION_ID,
        "the file is marked as paychan's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_newer_schema_and_leaves_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newer.sqlite");
    drop(SqliteStore::open(&path, Durability::Normal).unwrap());
    let newer = SCHEMA_VERSION as i64 + 1;
    Connection::open(&path)
        .unwrap()
        .execute("UPDATE schema_version SET version = ?", [newer])
        .unwrap();

    match SqliteStore::open(&path, Durability::Normal) {
        Err(error @ StoreError::SchemaTooNew { found, supported }) => {
            assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
            let message = error.to_string();
            assert!(
                message.contains("newer") && message.contains("run a newer paychan"),
                "{message}"
            );
            assert_eq!(error.remedy(), paychan_store::Remedy::Stop);
        }
        Err(other) => panic!("expected SchemaTooNew, got {other}"),
        Ok(_) => panic!("a newer schema was accepted"),
    }
    assert_eq!(
        schema_version_in(&path),
        newer,
        "the database is left untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_file_that_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    let text = "these are my notes, not a database\n".repeat(200);
    std::fs::write(&path, &text).unwrap();
    for durability in [Durability::Normal, Durability::Full] {
        match SqliteStore::open(&path, durability) {
            Err(StoreError::Corrupt { reason }) => {
                assert!(reason.contains("notes.txt is not a database"), "{reason}");
            }
            Err(other) => panic!("expected Corrupt, got {other}"),
            Ok(_) => panic!("a text file was opened as a store"),
        }
    }
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        text,
        "the file is left untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_another_applications_database() {
    let dir = tempfile::tempdir().unwrap();
    let tables = dir.path().join("other.sqlite");
    Connection::open(&tables)
        .unwrap()
        .execute_batch("CREATE TABLE users (name TEXT)")
        .unwrap();
    let marked = dir.path().join("marked.sqlite");
    Connection::open(&marked)
        .unwrap()
        .execute_batch("PRAGMA application_id = 1234")
        .unwrap();
    for path in [&tables, &marked] {
        match SqliteStore::open(path, Durability::Normal) {
            Err(StoreError::Corrupt { reason }) => {
                assert!(reason.contains("not a paychan database"), "{reason}");
            }
            Err(other) => panic!("expected Corrupt, got {other}"),
            Ok(_) => panic!("{} was opened as a store", path.display()),
        }
    }
    let conn = Connection::open(&tables).unwrap();
    let count: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 1, "nothing was added to the other database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_directory_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("store.sqlite");
    match SqliteStore::open(&path, Durability::Normal) {
        Err(error @ StoreError::Unavailable { .. }) => {
            assert!(error.to_string().contains("cannot open"), "{error}");
        }
        Err(other) => panic!("expected Unavailable, got {other}"),
        Ok(_) => panic!("opened a database in a missing directory"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_use_the_write_ahead_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.sqlite");
    let store = SqliteStore::open(&path, Durability::Full).unwrap();
    assert_eq!(store.durability(), Durability::Full);
    store.commit(batch(vec![row(1, 1)], vec![])).await.unwrap();
    let conn = Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert!(
        dir.path().join("wal.sqlite-wal").exists(),
        "the log exists while open"
    );
}

/// Under steady commits the write-ahead log is checkpointed off the commit path and started
/// over, so it stays short: 3,000 commits of eleven pages each make a log of 128 MiB if it
/// never restarts (the writer's own backstop checkpoint comes only then); the checkpointer
/// starts it over at 32 MiB, later if it is kept off the CPU for a while on a busy machine.
/// Everything is there after a reopen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_write_ahead_log_is_checkpointed_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.sqlite");
    let wal = dir.path().join("wal.sqlite-wal");
    let store = SqliteStore::open(&path, Durability::Normal).unwrap();
    let mut largest = 0;
    for n in 0..3_000u32 {
        let mut row = row(n % 100, u64::from(n / 100) + 1);
        // Ten pages of its own in each commit, and one of the payments table.
        row.state = vec![u8::try_from(n % 251).unwrap(); 40_000];
        store
            .commit(batch(vec![row], vec![payment(n % 100, u64::from(n))]))
            .await
            .unwrap();
        largest = largest.max(std::fs::metadata(&wal).unwrap().len());
    }
    assert!(
        largest < 80 << 20,
        "the log grew to {largest} bytes: it was not started over"
    );
    drop(store);
    let store = SqliteStore::open(&path, Durability::Normal).unwrap();
    let rows = store.channels().await.unwrap();
    assert_eq!(rows.len(), 100);
    assert!(
        rows.iter().all(|row| row.version == 30),
        "every last version is kept"
    );
    for n in [0, 42, 99] {
        let payments = store
            .payments(id(n), Direction::Incoming, 100, None)
            .await
            .unwrap();
        assert_eq!(payments.len(), 30, "channel {n}");
    }
}

/// Holds the write lock from outside so that the writer blocks on its first group, queues
/// 52 more writes behind it, then releases: the queued writes share one transaction, in
/// which a stale batch and a duplicate payment fail alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_commits_share_one_transaction_and_failures_stay_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("group.sqlite");
    let store = Arc::new(SqliteStore::open(&path, Durability::Full).unwrap());
    store
        .commit(batch(vec![row(0, 1), row(0, 2)], vec![payment(0, 1)]))
        .await
        .unwrap();
    let before = store.stats();

    let blocker = Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    // Poll the first commit once: that queues it. Once the writer has taken it, it is blocked
    // on the lock with a group of one, and everything sent later waits in the queue.
    let mut first = store.commit(batch(vec![row(1, 1)], vec![]));
    let polled = tokio::time::timeout(Duration::ZERO, &mut first).await;
    assert!(
        polled.is_err(),
        "the first commit cannot finish while the lock is held"
    );
    wait_until("the writer takes the first commit", || {
        store.queued_writes() == 0
    })
    .await;
    let mut tasks = Vec::new();
    for n in 2..54u32 {
        let batch = match n {
            10 => batch(vec![row(n, 1), row(0, 2)], vec![payment(n, 1)]),
            20 => batch(vec![row(n, 1)], vec![payment(n, 1), payment(0, 1)]),
            _ => batch(vec![row(n, 1)], vec![payment(n, 1)]),
        };
        let store = Arc::clone(&store);
        tasks.push((n, tokio::spawn(async move { store.commit(batch).await })));
    }
    wait_until("52 commits are queued", || store.queued_writes() == 52).await;
    blocker.execute_batch("ROLLBACK").unwrap();

    first.await.unwrap();
    for (n, task) in tasks {
        let outcome = task.await.unwrap();
        match n {
            10 => assert!(
                matches!(
                    outcome,
                    Err(StoreError::Conflict {
                        stored_version: 2,
                        ..
                    })
                ),
                "{outcome:?}"
            ),
            20 => assert!(
                matches!(outcome, Err(StoreError::DuplicatePayment { .. })),
                "{outcome:?}"
            ),
            _ => outcome.unwrap(),
        }
    }
    let after = store.stats();
    assert_eq!(
        after.writes - before.writes,
        51,
        "every good write committed"
    );
    assert!(
        after.groups - before.groups <= 2,
        "the queued writes shared one transaction: {before:?} -> {after:?}"
    );
    assert_eq!(store.channels().await.unwrap().len(), 52);
    assert_eq!(store.channel(id(10)).await.unwrap(), None);
    assert_eq!(store.channel(id(20)).await.unwrap(), None);
    assert_eq!(store.channel(id(0)).await.unwrap(), Some(row(0, 2)));
    assert!(
        store
            .payments(id(20), Direction::Incoming, 10, None)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Waits until `condition` holds, for at most 4 seconds (less than the store's busy timeout,
/// after which the blocked writer would give up).
async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(4);
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The cases that do not reopen, against an in-memory store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_store_passes_the_cases_that_do_not_reopen() {
    let harness = || {
        Harness::new(|| async { Ok(Arc::new(SqliteStore::open_in_memory()?) as Arc<dyn Store>) })
    };
    testkit::empty_store(&harness()).await;
    testkit::commit_and_read_back_every_field(&harness()).await;
    testkit::versions_advance_one_at_a_time(&harness()).await;
    testkit::stale_version_refuses_the_whole_batch(&harness()).await;
    testkit::duplicate_payment_refuses_the_whole_batch(&harness()).await;
    testkit::payments_newest_first_with_pagination(&harness()).await;
    testkit::payment_order_spans_the_whole_u64_range(&harness()).await;
    testkit::channels_for_peer(&harness()).await;
    testkit::ledger_cursor_is_never_lowered(&harness()).await;
    testkit::meta_get_set_overwrite(&harness()).await;
    testkit::concurrent_writers_of_one_channel_one_wins_per_version(&harness()).await;
    testkit::conflicting_batches_in_a_group_fail_alone(&harness()).await;
}

/// Where the child process of the `kill -9` test finds its database.
const KILL_CHILD_DB: &str = "PAYCHAN_STORE_KILL_CHILD_DB";

/// Runs only as the child of [`a_commit_that_returned_ok_survives_kill_9`]: commits version
/// after version of one channel, printing each version once its commit has returned `Ok`,
/// until it is killed.
#[test]
fn kill_child() {
    let Ok(path) = std::env::var(KILL_CHILD_DB) else {
        return; // Not the child: nothing to do.
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = SqliteStore::open(&path, Durability::Normal).unwrap();
        let mut version = store
            .channel(id(1))
            .await
            .unwrap()
            .map_or(0, |row| row.version);
        loop {
            version += 1;
            store
                .commit(Batch {
                    channels: vec![row(1, version)],
                    payments: vec![payment(1, version)],
                    ledger_cursor: Some(version),
                    removals: vec![],
                    fence: None,
                })
                .await
                .unwrap();
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "committed {version}").unwrap();
            stdout.flush().unwrap();
        }
    });
}

/// Design §6: `kill -9` at any moment loses nothing that was answered. A child process
/// commits in a loop and reports each commit after it returned `Ok`; it is killed (SIGKILL
/// on Unix) at a varying point, and the reopened database holds at least every reported
/// commit, whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_that_returned_ok_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("killed.sqlite");
    let exe = std::env::current_exe().unwrap();
    for (round, kill_after) in [1usize, 57, 400].into_iter().enumerate() {
        let mut child = Command::new(&exe)
            .args([
                "sqlite::kill_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(KILL_CHILD_DB, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut reported = 0u64;
        let mut seen = 0usize;
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(version) = line.strip_prefix("committed ") {
                reported = version.parse().unwrap();
                seen += 1;
                if seen == kill_after {
                    break;
                }
            }
        }
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "round {round}: the child was killed, not finished"
        );
        assert_eq!(
            seen, kill_after,
            "round {round}: the child stopped reporting early"
        );

        let store = SqliteStore::open(&path, Durability::Normal).unwrap();
        let stored = store.channel(id(1)).await.unwrap().unwrap();
        assert!(
            stored.version >= reported,
            "round {round}: {} < {reported}",
            stored.version
        );
        assert_eq!(
            stored,
            row(1, stored.version),
            "round {round}: the row is whole"
        );
        let payments = store
            .payments(id(1), Direction::Incoming, u32::MAX, None)
            .await
            .unwrap();
        assert_eq!(
            payments.len() as u64,
            stored.version,
            "round {round}: one payment per version"
        );
        assert_eq!(
            store.ledger_cursor().await.unwrap(),
            stored.version,
            "round {round}"
        );
    }
}

/// The usual update leaves the peer index alone; an update that does change the peer still
/// moves the channel to the new peer's listing, and a stale version is still a conflict
/// whether or not the peer changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_keep_the_peer_index_and_version_checks_exact() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("store.db"), Durability::Normal).unwrap();
    let (one, two) = (Address::repeat_byte(1), Address::repeat_byte(2));
    store.commit(batch(vec![row(1, 1)], vec![])).await.unwrap();
    store.commit(batch(vec![row(1, 2)], vec![])).await.unwrap();
    let moved = ChannelRow {
        peer: two,
        ..row(1, 3)
    };
    store
        .commit(batch(vec![moved.clone()], vec![]))
        .await
        .unwrap();
    assert!(store.channels_for_peer(one).await.unwrap().is_empty());
    assert_eq!(store.channels_for_peer(two).await.unwrap(), vec![moved]);
    for stale in [
        row(1, 3),
        ChannelRow {
            peer: two,
            ..row(1, 3)
        },
    ] {
        assert!(matches!(
            store.commit(batch(vec![stale], vec![])).await,
            Err(StoreError::Conflict {
                stored_version: 3,
                ..
            })
        ));
    }
    let back = ChannelRow {
        peer: two,
        ..row(1, 4)
    };
    store
        .commit(batch(vec![back.clone()], vec![]))
        .await
        .unwrap();
    assert_eq!(store.channel(id(1)).await.unwrap(), Some(back));
}

/// The embedded store serves one process: it has no leases, and refuses a fenced batch
/// without writing it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn has_no_leases() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("node.db"), Durability::Normal).unwrap();
    let refused = store
        .acquire_lease("background", "a", std::time::Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, StoreError::Unsupported { what: "leases" }),
        "{refused}"
    );
    assert!(
        refused.to_string().contains("PostgreSQL or MariaDB"),
        "{refused}"
    );
    let mut fenced = batch(vec![row(1, 1)], vec![]);
    fenced.fence = Some(paychan_store::Fence {
        lease: "background".to_owned(),
        token: 1,
    });
    assert!(matches!(
        store.commit(fenced).await,
        Err(StoreError::Unsupported { .. })
    ));
    assert_eq!(store.channel(id(1)).await.unwrap(), None);
}
