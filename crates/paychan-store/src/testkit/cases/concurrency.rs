//! Conformance cases: concurrent writers, lost races, batches failing alone in a group, and
//! removals.

#[allow(clippy::wildcard_imports)]
use super::*;

/// 200 tasks commit 200 channels at once: every commit succeeds, and every row, payment and
/// the highest cursor are there, also after a reopen.
pub async fn concurrent_commits_of_distinct_channels(h: &Harness) {
    const TASKS: u32 = 200;
    let store = h.store().await;
    let barrier = Arc::new(Barrier::new(TASKS as usize));
    let mut tasks = Vec::new();
    for n in 0..TASKS {
        let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let payment = payment(id(n), Direction::Incoming, u64::from(n));
            store
                .commit(batch(
                    vec![row(n, (n % 7) as u8, 1)],
                    vec![payment],
                    Some(n.into()),
                ))
                .await
        }));
    }
    for (n, task) in tasks.into_iter().enumerate() {
        if let Err(e) = task.await.unwrap() {
            panic!("commit of channel {n} failed: {e}");
        }
    }
    let check = |store: Arc<dyn Store>| async move {
        let expected = sorted_by_id((0..TASKS).map(|n| row(n, (n % 7) as u8, 1)).collect());
        assert_eq!(
            store.channels().await.unwrap(),
            expected,
            "all 200 channels"
        );
        for n in 0..TASKS {
            let payments = all_payments(&*store, id(n), Direction::Incoming).await;
            assert_eq!(
                payments,
                vec![payment(id(n), Direction::Incoming, n.into())],
                "{n}"
            );
        }
        assert_eq!(
            cursor_of(&*store).await,
            u64::from(TASKS - 1),
            "the highest cursor"
        );
    };
    check(Arc::clone(&store)).await;
    drop(store);
    check(h.reopen().await).await;
}

/// 16 tasks race to write each version of one channel: exactly one wins each version, the
/// others get a conflict naming it, and the stored row and payment are the winner's.
pub async fn concurrent_writers_of_one_channel_one_wins_per_version(h: &Harness) {
    const TASKS: usize = 16;
    let store = h.store().await;
    let a = id(1);
    commit_ok(&*store, batch(vec![row(1, 1, 1)], vec![], None), "setup").await;
    for version in 2..=11u64 {
        let barrier = Arc::new(Barrier::new(TASKS));
        let mut tasks = Vec::new();
        for task in 0..TASKS {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            tasks.push(tokio::spawn(async move {
                let mut row = row(1, 1, version);
                row.state = format!("task {task} wrote version {version}").into_bytes();
                let mut payment = payment(a, Direction::Outgoing, version);
                payment.memo = keccak256(&row.state);
                barrier.wait().await;
                store
                    .commit(batch(vec![row.clone()], vec![payment.clone()], None))
                    .await
                    .map(|()| (row, payment))
            }));
        }
        let mut winners = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok(won) => winners.push(won),
                Err(e) => assert_conflict(Err(e), a, version, "a losing writer"),
            }
        }
        assert_eq!(
            winners.len(),
            1,
            "version {version}: exactly one writer wins"
        );
        let (row, payment) = winners.pop().unwrap();
        assert_eq!(
            channel_of(&*store, a).await,
            Some(row),
            "version {version}: the winner's row"
        );
        let stored = store
            .payments(a, Direction::Outgoing, 1, None)
            .await
            .unwrap();
        assert_eq!(
            stored,
            vec![payment],
            "version {version}: the winner's payment"
        );
    }
    assert_eq!(
        all_payments(&*store, a, Direction::Outgoing).await.len(),
        10
    );
}

/// 8 tasks each add 10 to a counter in one channel's state, reloading and retrying on
/// conflict: no increment is lost and every version has exactly one payment.
pub async fn racing_writers_that_reload_and_retry_lose_nothing(h: &Harness) {
    const TASKS: u64 = 8;
    const INCREMENTS: u64 = 10;
    let store = h.store().await;
    let a = id(1);
    let mut first = row(1, 1, 1);
    first.state = 0u64.to_be_bytes().to_vec();
    commit_ok(&*store, batch(vec![first], vec![], None), "setup").await;
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut done = 0;
            let mut conflicts = 0u64;
            while done < INCREMENTS {
                let mut row = channel_of(&*store, a).await.unwrap();
                let counter = u64::from_be_bytes(row.state.as_slice().try_into().unwrap());
                row.state = (counter + 1).to_be_bytes().to_vec();
                row.version += 1;
                let mut payment = payment(a, Direction::Incoming, row.version);
                payment.time = task;
                match store
                    .commit(batch(vec![row.clone()], vec![payment], None))
                    .await
                {
                    Ok(()) => done += 1,
                    Err(StoreError::Conflict { stored_version, .. }) => {
                        assert!(
                            stored_version >= row.version,
                            "a conflict means someone won"
                        );
                        conflicts += 1;
                    }
                    Err(e) => panic!("task {task}: {e}"),
                }
                tokio::task::yield_now().await;
            }
            conflicts
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let last = channel_of(&*store, a).await.unwrap();
    assert_eq!(last.version, 1 + TASKS * INCREMENTS);
    assert_eq!(
        last.state,
        (TASKS * INCREMENTS).to_be_bytes().to_vec(),
        "no lost increment"
    );
    let payments = all_payments(&*store, a, Direction::Incoming).await;
    assert_eq!(
        sequences(&payments),
        (2..=1 + TASKS * INCREMENTS).rev().collect::<Vec<_>>()
    );
    let mut per_task = BTreeMap::new();
    for payment in &payments {
        *per_task.entry(payment.time).or_insert(0u64) += 1;
    }
    assert!(
        per_task.values().all(|&n| n == INCREMENTS),
        "each task won 10 times: {per_task:?}"
    );
}

/// Commits launched together (so that a backend merges them into one group transaction):
/// a stale batch and a duplicate-payment batch fail alone, with nothing of theirs written,
/// while every other batch of the same moment commits.
pub async fn conflicting_batches_in_a_group_fail_alone(h: &Harness) {
    const TASKS: u32 = 64;
    let store = h.store().await;
    let a = id(0);
    commit_ok(
        &*store,
        batch(
            vec![row(0, 1, 1), row(0, 1, 2), row(0, 1, 3)],
            vec![payment(a, Direction::Incoming, 1)],
            Some(5),
        ),
        "setup",
    )
    .await;
    let mut highest = 5;
    for round in 0..5u32 {
        let base = 1_000 * (round + 1);
        let barrier = Arc::new(Barrier::new(TASKS as usize));
        let mut tasks = Vec::new();
        for task in 0..TASKS {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            let n = base + task;
            let batch = match task {
                // Stale: channel 0 is at version 3. Carries the round's highest cursor.
                7 => batch(
                    vec![row(n, 2, 1), row(0, 1, 3)],
                    vec![payment(id(n), Direction::Incoming, 1)],
                    Some(u64::from(base) * 1_000),
                ),
                // Replays channel 0's payment 1.
                21 => batch(
                    vec![row(n, 2, 1)],
                    vec![
                        payment(id(n), Direction::Incoming, 1),
                        payment(a, Direction::Incoming, 1),
                    ],
                    Some(u64::from(base) * 1_000 + 1),
                ),
                _ => batch(
                    vec![row(n, 2, 1)],
                    vec![payment(id(n), Direction::Incoming, 1)],
                    Some(u64::from(n)),
                ),
            };
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                store.commit(batch).await
            }));
        }
        for (task, handle) in (0..TASKS).zip(tasks) {
            let outcome = handle.await.unwrap();
            let n = base + task;
            match task {
                7 => assert_conflict(outcome, a, 3, "the stale batch"),
                21 => assert!(
                    matches!(outcome, Err(StoreError::DuplicatePayment { channel_id, sequence: 1, .. }) if channel_id == a),
                    "round {round}: the replaying batch: {outcome:?}"
                ),
                _ => {
                    if let Err(e) = outcome {
                        panic!("round {round}: batch {n} failed with its group: {e}");
                    }
                    assert_eq!(channel_of(&*store, id(n)).await, Some(row(n, 2, 1)));
                    assert_eq!(
                        all_payments(&*store, id(n), Direction::Incoming)
                            .await
                            .len(),
                        1
                    );
                    highest = u64::from(n);
                }
            }
        }
        for failed in [base + 7, base + 21] {
            assert_eq!(
                channel_of(&*store, id(failed)).await,
                None,
                "round {round}: {failed}"
            );
            assert!(
                all_payments(&*store, id(failed), Direction::Incoming)
                    .await
                    .is_empty()
            );
        }
        assert_eq!(
            cursor_of(&*store).await,
            highest,
            "round {round}: only the good cursors"
        );
        assert_eq!(channel_of(&*store, a).await, Some(row(0, 1, 3)));
        assert_eq!(all_payments(&*store, a, Direction::Incoming).await.len(), 1);
    }
    assert_eq!(
        store.channels().await.unwrap().len(),
        1 + 5 * (TASKS as usize - 2)
    );
}

/// A removal deletes a channel's row only at the version the caller read, atomically with
/// the rest of its batch; a stale version or a missing row fails the whole batch; a removed
/// channel stays gone after a reopen and can be written again from version 1.
pub async fn removal_deletes_only_the_version_read(h: &Harness) {
    let store = h.store().await;
    commit_ok(
        &*store,
        batch(vec![row(1, 1, 1), row(2, 1, 1)], vec![], None),
        "setup",
    )
    .await;
    commit_ok(
        &*store,
        batch(vec![row(1, 1, 2)], vec![], None),
        "channel 1 at v2",
    )
    .await;

    let stale = Batch {
        removals: vec![Removal {
            id: id(1),
            version: 1,
        }],
        ..batch(vec![row(2, 1, 2)], vec![], None)
    };
    assert_conflict(store.commit(stale).await, id(1), 2, "a stale removal");
    assert_eq!(
        channel_of(&*store, id(2)).await.map(|r| r.version),
        Some(1),
        "the refused batch wrote nothing of its rows"
    );

    let missing = Batch {
        removals: vec![Removal {
            id: id(3),
            version: 1,
        }],
        ..batch(vec![], vec![], Some(5))
    };
    assert_conflict(
        store.commit(missing).await,
        id(3),
        0,
        "removing a missing row",
    );
    assert_eq!(
        cursor_of(&*store).await,
        0,
        "the refused batch left the cursor"
    );

    let removal = Batch {
        removals: vec![Removal {
            id: id(1),
            version: 2,
        }],
        ..batch(vec![], vec![], None)
    };
    assert!(!removal.is_empty(), "a batch with a removal is not empty");
    commit_ok(&*store, removal, "removal at the stored version").await;
    assert_eq!(channel_of(&*store, id(1)).await, None, "channel 1 is gone");
    assert_eq!(
        sorted_by_id(store.channels().await.unwrap()),
        vec![row(2, 1, 1)],
        "only channel 2 is listed"
    );
    assert_eq!(
        store.channels_for_peer(peer(1)).await.unwrap(),
        vec![row(2, 1, 1)],
        "the peer's listing lost channel 1"
    );

    drop(store);
    let store = h.reopen().await;
    assert_eq!(
        channel_of(&*store, id(1)).await,
        None,
        "still gone after a reopen"
    );
    commit_ok(
        &*store,
        batch(vec![row(1, 1, 1)], vec![], None),
        "written again from v1",
    )
    .await;
    assert_eq!(channel_of(&*store, id(1)).await, Some(row(1, 1, 1)));
}
