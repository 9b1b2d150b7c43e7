//! Conformance cases: an empty store, rows and every field, versions, refused batches.

#[allow(clippy::wildcard_imports)]
use super::*;

/// A new store is empty, and an empty batch commits and changes nothing.
pub async fn empty_store(h: &Harness) {
    let store = h.store().await;
    for round in 0..2 {
        assert!(
            store.channels().await.unwrap().is_empty(),
            "round {round}: no channels"
        );
        assert_eq!(channel_of(&*store, id(1)).await, None, "round {round}");
        assert!(
            store.channels_for_peer(peer(1)).await.unwrap().is_empty(),
            "round {round}"
        );
        assert!(
            all_payments(&*store, id(1), Direction::Incoming)
                .await
                .is_empty()
        );
        assert!(
            all_payments(&*store, id(1), Direction::Outgoing)
                .await
                .is_empty()
        );
        assert_eq!(
            cursor_of(&*store).await,
            0,
            "round {round}: the cursor starts at 0"
        );
        assert_eq!(store.meta("node").await.unwrap(), None, "round {round}");
        commit_ok(&*store, Batch::default(), "an empty batch").await;
    }
}

/// Every field of every row comes back exactly, including the integer limits.
pub async fn commit_and_read_back_every_field(h: &Harness) {
    let store = h.store().await;
    let a = ChannelRow {
        id: id(1),
        peer: peer(0xaa),
        phase: "open".to_owned(),
        version: 1,
        state: (0..=255u8).cycle().take(300).collect(),
        updated_at: u64::MAX,
    };
    let b = ChannelRow {
        id: id(2),
        peer: Address::ZERO,
        phase: "closing".to_owned(),
        version: 1,
        state: vec![0, 0xff, 0, 0],
        updated_at: 0,
    };
    let max_in = PaymentRow {
        channel_id: a.id,
        direction: Direction::Incoming,
        sequence: 0,
        amount: u128::MAX,
        cumulative: u128::MAX,
        memo: B256::repeat_byte(0xff),
        time: u64::MAX,
    };
    let second_in = PaymentRow {
        channel_id: a.id,
        direction: Direction::Incoming,
        sequence: 1,
        amount: 1,
        cumulative: u128::MAX - 1,
        memo: B256::repeat_byte(0x01),
        time: 1,
    };
    let zero_out = PaymentRow {
        channel_id: a.id,
        direction: Direction::Outgoing,
        sequence: u64::MAX,
        amount: 0,
        cumulative: 0,
        memo: B256::ZERO,
        time: 0,
    };
    let big_b = PaymentRow {
        channel_id: b.id,
        direction: Direction::Outgoing,
        sequence: 1 << 63,
        amount: 1 << 127,
        cumulative: (1 << 127) + 1,
        memo: keccak256(b"memo"),
        time: 1 << 63,
    };
    commit_ok(
        &*store,
        batch(
            vec![a.clone(), b.clone()],
            vec![
                max_in.clone(),
                second_in.clone(),
                zero_out.clone(),
                big_b.clone(),
            ],
            Some(42),
        ),
        "two channels and four payments",
    )
    .await;

    assert_eq!(channel_of(&*store, a.id).await, Some(a.clone()));
    assert_eq!(channel_of(&*store, b.id).await, Some(b.clone()));
    assert_eq!(
        store.channels().await.unwrap(),
        sorted_by_id(vec![a.clone(), b.clone()])
    );
    assert_eq!(
        all_payments(&*store, a.id, Direction::Incoming).await,
        vec![second_in, max_in]
    );
    assert_eq!(
        all_payments(&*store, a.id, Direction::Outgoing).await,
        vec![zero_out]
    );
    assert_eq!(
        all_payments(&*store, b.id, Direction::Outgoing).await,
        vec![big_b]
    );
    assert!(
        all_payments(&*store, b.id, Direction::Incoming)
            .await
            .is_empty()
    );
    assert_eq!(cursor_of(&*store).await, 42);
}

/// States of any size, and a state that shrinks, come back byte for byte.
pub async fn large_empty_and_shrinking_states(h: &Harness) {
    let store = h.store().await;
    let mut large = row(1, 1, 1);
    large.state = (0..1_048_576u32).map(|i| (i % 251) as u8).collect();
    let mut empty = row(2, 1, 1);
    empty.state = Vec::new();
    empty.phase = "clôture demandée — 閉鎖".to_owned();
    commit_ok(
        &*store,
        batch(vec![large.clone(), empty.clone()], vec![], None),
        "1 MiB + empty",
    )
    .await;
    assert_eq!(
        channel_of(&*store, large.id).await,
        Some(large.clone()),
        "1 MiB state"
    );
    assert_eq!(
        channel_of(&*store, empty.id).await,
        Some(empty.clone()),
        "empty state"
    );

    let mut shrunk = large.clone();
    shrunk.version = 2;
    shrunk.state = vec![7; 3];
    let mut grown = empty.clone();
    grown.version = 2;
    grown.state = vec![9; 70_000];
    commit_ok(
        &*store,
        batch(vec![shrunk.clone(), grown.clone()], vec![], None),
        "resize",
    )
    .await;
    assert_eq!(
        channel_of(&*store, large.id).await,
        Some(shrunk),
        "shrunk state"
    );
    assert_eq!(
        channel_of(&*store, empty.id).await,
        Some(grown),
        "grown state"
    );
}

/// Versions start at 1 and advance by exactly one; anything else is a conflict naming the
/// stored version (0 for a missing row), and the stored row stays as it was.
pub async fn versions_advance_one_at_a_time(h: &Harness) {
    let store = h.store().await;
    let a = id(1);
    for version in 1..=3 {
        commit_ok(
            &*store,
            batch(vec![row(1, 1, version)], vec![], None),
            "next version",
        )
        .await;
        assert_eq!(channel_of(&*store, a).await, Some(row(1, 1, version)));
    }
    // Two versions of one channel in one batch, in order.
    commit_ok(
        &*store,
        batch(vec![row(1, 1, 4), row(1, 1, 5)], vec![], None),
        "v4 then v5",
    )
    .await;
    assert_eq!(channel_of(&*store, a).await, Some(row(1, 1, 5)));

    for (version, what) in [
        (1, "version 1 of an existing channel"),
        (4, "a stale version"),
        (5, "the stored version again"),
        (7, "a version that skips one"),
        (0, "version 0"),
    ] {
        assert_conflict(
            store
                .commit(batch(vec![row(1, 1, version)], vec![], None))
                .await,
            a,
            5,
            what,
        );
        assert_eq!(
            channel_of(&*store, a).await,
            Some(row(1, 1, 5)),
            "{what}: row unchanged"
        );
    }
    // Out of order within one batch.
    assert_conflict(
        store
            .commit(batch(vec![row(1, 1, 7), row(1, 1, 6)], vec![], None))
            .await,
        a,
        5,
        "v7 before v6",
    );
    for (version, what) in [
        (0, "version 0 of a new channel"),
        (2, "version 2 of a new channel"),
    ] {
        assert_conflict(
            store
                .commit(batch(vec![row(9, 1, version)], vec![], None))
                .await,
            id(9),
            0,
            what,
        );
        assert_eq!(
            channel_of(&*store, id(9)).await,
            None,
            "{what}: nothing stored"
        );
    }
    assert_eq!(store.channels().await.unwrap().len(), 1);
}

/// A stale row refuses the whole batch: its other rows, its payments and its cursor too.
pub async fn stale_version_refuses_the_whole_batch(h: &Harness) {
    let store = h.store().await;
    let (a, b, c) = (id(1), id(2), id(3));
    commit_ok(
        &*store,
        batch(
            vec![row(1, 1, 1), row(1, 1, 2), row(3, 1, 1)],
            vec![payment(a, Direction::Incoming, 1)],
            Some(10),
        ),
        "setup",
    )
    .await;
    let refused = batch(
        vec![row(2, 1, 1), row(3, 1, 2), row(1, 1, 2)],
        vec![
            payment(b, Direction::Incoming, 1),
            payment(a, Direction::Incoming, 2),
        ],
        Some(20),
    );
    assert_conflict(
        store.commit(refused).await,
        a,
        2,
        "stale row last in the batch",
    );
    assert_eq!(
        channel_of(&*store, b).await,
        None,
        "new channel of the refused batch"
    );
    assert_eq!(
        channel_of(&*store, c).await,
        Some(row(3, 1, 1)),
        "valid update of the batch"
    );
    assert_eq!(channel_of(&*store, a).await, Some(row(1, 1, 2)));
    assert!(
        all_payments(&*store, b, Direction::Incoming)
            .await
            .is_empty(),
        "payments of b"
    );
    assert_eq!(
        sequences(&all_payments(&*store, a, Direction::Incoming).await),
        vec![1]
    );
    assert_eq!(cursor_of(&*store).await, 10, "cursor of the refused batch");

    // The same batch with the right version goes through, entirely.
    commit_ok(
        &*store,
        batch(
            vec![row(2, 1, 1), row(3, 1, 2), row(1, 1, 3)],
            vec![
                payment(b, Direction::Incoming, 1),
                payment(a, Direction::Incoming, 2),
            ],
            Some(20),
        ),
        "retry after reload",
    )
    .await;
    assert_eq!(channel_of(&*store, b).await, Some(row(2, 1, 1)));
    assert_eq!(channel_of(&*store, c).await, Some(row(3, 1, 2)));
    assert_eq!(channel_of(&*store, a).await, Some(row(1, 1, 3)));
    assert_eq!(
        sequences(&all_payments(&*store, a, Direction::Incoming).await),
        vec![2, 1]
    );
    assert_eq!(cursor_of(&*store).await, 20);
}

/// A payment key already stored (or twice in the batch) refuses the whole batch.
pub async fn duplicate_payment_refuses_the_whole_batch(h: &Harness) {
    let store = h.store().await;
    let (a, b) = (id(1), id(2));
    commit_ok(
        &*store,
        batch(
            vec![row(1, 1, 1)],
            vec![payment(a, Direction::Incoming, 5)],
            Some(10),
        ),
        "setup",
    )
    .await;
    let mut replayed = payment(a, Direction::Incoming, 5);
    replayed.amount = 999;
    let expected = |channel_id, direction, sequence| {
        move |outcome: Result<(), StoreError>, what: &str| match outcome {
            Err(
                e @ StoreError::DuplicatePayment {
                    channel_id: c,
                    direction: d,
                    sequence: s,
                },
            ) if (c, d, s) == (channel_id, direction, sequence) => {
                assert_eq!(e.remedy(), Remedy::FixTheRequest, "{what}");
            }
            other => panic!("{what}: expected a duplicate payment, got {other:?}"),
        }
    };
    expected(a, Direction::Incoming, 5)(
        store
            .commit(batch(
                vec![row(2, 1, 1), row(1, 1, 2)],
                vec![payment(b, Direction::Outgoing, 1), replayed],
                Some(20),
            ))
            .await,
        "a stored payment again",
    );
    assert_eq!(
        channel_of(&*store, b).await,
        None,
        "new channel of the refused batch"
    );
    assert_eq!(
        channel_of(&*store, a).await,
        Some(row(1, 1, 1)),
        "update of the refused batch"
    );
    assert!(
        all_payments(&*store, b, Direction::Outgoing)
            .await
            .is_empty()
    );
    let stored = all_payments(&*store, a, Direction::Incoming).await;
    assert_eq!(
        stored,
        vec![payment(a, Direction::Incoming, 5)],
        "the first payment stands"
    );
    assert_eq!(cursor_of(&*store).await, 10);

    expected(b, Direction::Incoming, 1)(
        store
            .commit(batch(
                vec![row(2, 1, 1)],
                vec![
                    payment(b, Direction::Incoming, 1),
                    payment(b, Direction::Incoming, 1),
                ],
                None,
            ))
            .await,
        "one payment twice in a batch",
    );
    assert_eq!(channel_of(&*store, b).await, None);
    assert!(
        all_payments(&*store, b, Direction::Incoming)
            .await
            .is_empty()
    );

    // The same sequence in the other direction or another channel is another payment.
    commit_ok(
        &*store,
        batch(
            vec![row(2, 1, 1)],
            vec![
                payment(a, Direction::Outgoing, 5),
                payment(b, Direction::Incoming, 5),
            ],
            None,
        ),
        "same sequence, other keys",
    )
    .await;
    assert_eq!(all_payments(&*store, a, Direction::Outgoing).await.len(), 1);
    assert_eq!(all_payments(&*store, b, Direction::Incoming).await.len(), 1);
}
