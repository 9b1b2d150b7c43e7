//! The cases of the conformance suite, one public async function each.

use std::{collections::BTreeMap, sync::Arc};

use paychan_core::{Address, B256, ChannelId, keccak256};
use tokio::sync::Barrier;

use super::Harness;
use crate::{
    Batch, ChannelRow, Contact, Direction, PaymentRow, Remedy, Removal, Store, StoreError,
};

// ----- fixtures -------------------------------------------------------------------------------

/// Channel `n`'s id: a hash, so that id order differs from creation order.
fn id(n: u32) -> ChannelId {
    ChannelId(keccak256(n.to_be_bytes()))
}

fn peer(n: u8) -> Address {
    Address::repeat_byte(n)
}

/// A state of about 300 bytes that names its channel and version.
fn state(n: u32, version: u64) -> Vec<u8> {
    let mut state = format!("channel {n} version {version} ").into_bytes();
    state.resize(300, (n as u8) ^ (version as u8));
    state
}

fn row(n: u32, peer_n: u8, version: u64) -> ChannelRow {
    ChannelRow {
        id: id(n),
        peer: peer(peer_n),
        phase: "open".to_owned(),
        version,
        state: state(n, version),
        updated_at: 1_700_000_000 + version,
    }
}

fn payment(channel: ChannelId, direction: Direction, sequence: u64) -> PaymentRow {
    PaymentRow {
        channel_id: channel,
        direction,
        sequence,
        amount: u128::from(sequence) * 1_000 + 7,
        cumulative: u128::from(sequence) * 1_000_000 + 11,
        memo: keccak256(sequence.to_be_bytes()),
        time: sequence.wrapping_add(1_700_000_000),
    }
}

fn batch(channels: Vec<ChannelRow>, payments: Vec<PaymentRow>, cursor: Option<u64>) -> Batch {
    Batch {
        channels,
        payments,
        ledger_cursor: cursor,
        removals: vec![],
        fence: None,
    }
}

async fn commit_ok(store: &dyn Store, batch: Batch, what: &str) {
    if let Err(e) = store.commit(batch).await {
        panic!("{what}: commit failed: {e}");
    }
}

async fn channel_of(store: &dyn Store, id: ChannelId) -> Option<ChannelRow> {
    store
        .channel(id)
        .await
        .unwrap_or_else(|e| panic!("reading channel {id}: {e}"))
}

async fn all_payments(store: &dyn Store, id: ChannelId, direction: Direction) -> Vec<PaymentRow> {
    store
        .payments(id, direction, u32::MAX, None)
        .await
        .unwrap_or_else(|e| panic!("reading payments of {id}: {e}"))
}

async fn cursor_of(store: &dyn Store) -> u64 {
    store
        .ledger_cursor()
        .await
        .unwrap_or_else(|e| panic!("reading the ledger cursor: {e}"))
}

fn sequences(payments: &[PaymentRow]) -> Vec<u64> {
    payments.iter().map(|p| p.sequence).collect()
}

fn sorted_by_id(mut rows: Vec<ChannelRow>) -> Vec<ChannelRow> {
    rows.sort_by_key(|row| row.id);
    rows
}

fn assert_conflict(outcome: Result<(), StoreError>, channel: ChannelId, stored: u64, what: &str) {
    match outcome {
        Err(
            e @ StoreError::Conflict {
                channel_id,
                stored_version,
            },
        ) => {
            assert_eq!(
                channel_id, channel,
                "{what}: conflict names the wrong channel"
            );
            assert_eq!(
                stored_version, stored,
                "{what}: conflict reports the wrong version"
            );
            assert_eq!(e.remedy(), Remedy::ReloadAndRetry, "{what}");
        }
        other => {
            panic!("{what}: expected a conflict on {channel} at version {stored}, got {other:?}")
        }
    }
}

// ----- cases ----------------------------------------------------------------------------------

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

/// Payments come newest first, at most `limit`, and `before` pages through them.
pub async fn payments_newest_first_with_pagination(h: &Harness) {
    let store = h.store().await;
    let a = id(1);
    commit_ok(&*store, batch(vec![row(1, 1, 1)], vec![], None), "channel").await;
    // Five batches of five, each inserted in descending order: order must come from sequences.
    for chunk in 0..5u64 {
        let payments = (1..=5)
            .rev()
            .map(|i| payment(a, Direction::Incoming, chunk * 5 + i));
        commit_ok(&*store, batch(vec![], payments.collect(), None), "payments").await;
    }
    let page = |limit, before| {
        let store = Arc::clone(&store);
        async move {
            sequences(
                &store
                    .payments(a, Direction::Incoming, limit, before)
                    .await
                    .unwrap(),
            )
        }
    };
    assert_eq!(
        page(10, None).await,
        (16..=25).rev().collect::<Vec<_>>(),
        "first page"
    );
    assert_eq!(
        page(10, Some(16)).await,
        (6..=15).rev().collect::<Vec<_>>(),
        "second page"
    );
    assert_eq!(
        page(10, Some(6)).await,
        vec![5, 4, 3, 2, 1],
        "last, short page"
    );
    assert_eq!(page(10, Some(1)).await, Vec::<u64>::new(), "past the end");
    assert_eq!(page(10, Some(0)).await, Vec::<u64>::new(), "before 0");
    assert_eq!(page(0, None).await, Vec::<u64>::new(), "limit 0");
    assert_eq!(page(1, None).await, vec![25], "limit 1");
    assert_eq!(
        page(3, Some(100)).await,
        vec![25, 24, 23],
        "before beyond the newest"
    );
    assert_eq!(
        page(u32::MAX, None).await,
        (1..=25).rev().collect::<Vec<_>>(),
        "everything"
    );

    // Sequences need not be contiguous.
    let gaps = vec![
        payment(a, Direction::Incoming, 100),
        payment(a, Direction::Incoming, 40),
    ];
    commit_ok(&*store, batch(vec![], gaps, None), "gaps").await;
    assert_eq!(page(3, None).await, vec![100, 40, 25]);
    assert_eq!(page(3, Some(100)).await, vec![40, 25, 24]);
    let full = store
        .payments(a, Direction::Incoming, 2, Some(41))
        .await
        .unwrap();
    assert_eq!(
        full,
        vec![
            payment(a, Direction::Incoming, 40),
            payment(a, Direction::Incoming, 25)
        ]
    );
}

/// Newest-first order and `before` follow `u64` order across the whole range, including
/// both sides of 2^63 (where a naive signed encoding would wrap).
pub async fn payment_order_spans_the_whole_u64_range(h: &Harness) {
    let store = h.store().await;
    let a = id(1);
    let half = 1u64 << 63;
    let mut all = vec![
        0,
        1,
        half - 2,
        half - 1,
        half,
        half + 1,
        u64::MAX - 1,
        u64::MAX,
    ];
    let shuffled = [
        half,
        0,
        u64::MAX,
        half - 1,
        1,
        u64::MAX - 1,
        half + 1,
        half - 2,
    ];
    let payments = shuffled
        .iter()
        .map(|&s| payment(a, Direction::Outgoing, s))
        .collect();
    commit_ok(
        &*store,
        batch(vec![row(1, 1, 1)], payments, None),
        "payments",
    )
    .await;
    all.reverse();
    let page = |limit, before| {
        let store = Arc::clone(&store);
        async move {
            sequences(
                &store
                    .payments(a, Direction::Outgoing, limit, before)
                    .await
                    .unwrap(),
            )
        }
    };
    assert_eq!(page(100, None).await, all, "all, newest first");
    assert_eq!(
        page(100, Some(u64::MAX)).await,
        all[1..].to_vec(),
        "before u64::MAX"
    );
    assert_eq!(
        page(100, Some(half)).await,
        vec![half - 1, half - 2, 1, 0],
        "before 2^63"
    );
    assert_eq!(
        page(2, Some(half + 1)).await,
        vec![half, half - 1],
        "across 2^63"
    );
    assert_eq!(page(100, Some(1)).await, vec![0], "before 1");
}

/// Payments of another channel or the other direction never show up.
pub async fn payments_are_kept_apart_by_channel_and_direction(h: &Harness) {
    let store = h.store().await;
    let (a, b) = (id(1), id(2));
    let mut payments = Vec::new();
    for sequence in 1..=3 {
        payments.push(payment(a, Direction::Incoming, sequence));
        let mut out = payment(a, Direction::Outgoing, sequence);
        out.amount += 1_000_000;
        payments.push(out);
        let mut other = payment(b, Direction::Incoming, sequence);
        other.memo = B256::repeat_byte(0xbb);
        payments.push(other);
    }
    commit_ok(
        &*store,
        batch(vec![row(1, 1, 1), row(2, 1, 1)], payments.clone(), None),
        "mix",
    )
    .await;
    for (channel, direction) in [
        (a, Direction::Incoming),
        (a, Direction::Outgoing),
        (b, Direction::Incoming),
        (b, Direction::Outgoing),
    ] {
        let mut expected: Vec<PaymentRow> = payments
            .iter()
            .filter(|p| p.channel_id == channel && p.direction == direction)
            .cloned()
            .collect();
        expected.reverse();
        assert_eq!(
            all_payments(&*store, channel, direction).await,
            expected,
            "{direction}"
        );
    }
    assert!(
        all_payments(&*store, id(3), Direction::Incoming)
            .await
            .is_empty(),
        "no channel"
    );
}

/// `channels_for_peer` lists exactly that peer's channels, in id order, at their latest
/// version.
pub async fn channels_for_peer(h: &Harness) {
    let store = h.store().await;
    let rows = vec![
        row(1, 1, 1),
        row(2, 2, 1),
        row(3, 1, 1),
        row(4, 1, 1),
        row(5, 3, 1),
    ];
    commit_ok(
        &*store,
        batch(rows.clone(), vec![], None),
        "five channels, three peers",
    )
    .await;
    let of = |n: u8| {
        let store = Arc::clone(&store);
        async move { store.channels_for_peer(peer(n)).await.unwrap() }
    };
    assert_eq!(
        of(1).await,
        sorted_by_id(vec![row(1, 1, 1), row(3, 1, 1), row(4, 1, 1)])
    );
    assert_eq!(of(2).await, vec![row(2, 2, 1)]);
    assert_eq!(of(3).await, vec![row(5, 3, 1)]);
    assert!(of(4).await.is_empty(), "a peer without channels");

    commit_ok(
        &*store,
        batch(vec![row(3, 1, 2)], vec![], None),
        "update one",
    )
    .await;
    assert_eq!(
        of(1).await,
        sorted_by_id(vec![row(1, 1, 1), row(3, 1, 2), row(4, 1, 1)])
    );
    assert_eq!(store.channels().await.unwrap().len(), 5);
}

/// The ledger cursor only ever rises; a lower value is not an error.
pub async fn ledger_cursor_is_never_lowered(h: &Harness) {
    let store = h.store().await;
    for (cursor, expected, what) in [
        (Some(10), 10, "raised to 10"),
        (Some(5), 10, "a lower value"),
        (None, 10, "no value"),
        (Some(10), 10, "the same value"),
        (Some(0), 10, "zero"),
        (Some(1 << 63), 1 << 63, "2^63"),
        (Some((1 << 63) - 1), 1 << 63, "just below 2^63"),
        (Some(u64::MAX), u64::MAX, "u64::MAX"),
        (Some(7), u64::MAX, "after the maximum"),
    ] {
        let channels = if cursor.is_none() {
            vec![row(1, 1, 1)]
        } else {
            vec![]
        };
        commit_ok(&*store, batch(channels, vec![], cursor), what).await;
        assert_eq!(cursor_of(&*store).await, expected, "{what}");
    }
}

/// Settings: missing, set, overwritten, empty, unicode, long, independent of each other.
pub async fn meta_get_set_overwrite(h: &Harness) {
    let store = h.store().await;
    assert_eq!(store.meta("node.address").await.unwrap(), None);
    store.set_meta("node.address", "0xabc").await.unwrap();
    assert_eq!(
        store.meta("node.address").await.unwrap().as_deref(),
        Some("0xabc")
    );
    store.set_meta("node.address", "0xdef").await.unwrap();
    assert_eq!(
        store.meta("node.address").await.unwrap().as_deref(),
        Some("0xdef"),
        "overwrite"
    );
    store.set_meta("node", "").await.unwrap();
    assert_eq!(
        store.meta("node").await.unwrap().as_deref(),
        Some(""),
        "empty value"
    );
    assert_eq!(
        store.meta("node.address").await.unwrap().as_deref(),
        Some("0xdef"),
        "prefix key"
    );
    store.set_meta("clé ✓", "välue 🙂").await.unwrap();
    assert_eq!(
        store.meta("clé ✓").await.unwrap().as_deref(),
        Some("välue 🙂"),
        "unicode"
    );
    let long = "x".repeat(65_536);
    store.set_meta("config.fingerprint", &long).await.unwrap();
    assert_eq!(
        store.meta("config.fingerprint").await.unwrap(),
        Some(long),
        "64 KiB"
    );
    assert_eq!(
        store.meta("NODE").await.unwrap(),
        None,
        "keys are case-sensitive"
    );
    assert_eq!(store.meta("node.addres").await.unwrap(), None);
}

/// Contacts: added, read back, listed in alias order, replaced, removed, persisted.
pub async fn contacts_add_replace_remove_persist(h: &Harness) {
    let store = h.store().await;
    assert_eq!(store.contacts().await.unwrap(), vec![]);
    assert_eq!(store.contact("bob").await.unwrap(), None);
    assert!(
        !store.remove_contact("bob").await.unwrap(),
        "nothing to remove"
    );
    let bob = Contact {
        alias: "bob".into(),
        address: Address::repeat_byte(0xb0),
        peer_url: Some("0xb0b0@127.0.0.1:9735".into()),
    };
    let alice = Contact {
        alias: "Alice ✓".into(),
        address: Address::repeat_byte(0xa1),
        peer_url: None,
    };
    let zed = Contact {
        alias: "zed".into(),
        address: Address::repeat_byte(0x2e),
        peer_url: Some("0x2e2e@ws://example.org/paychan".into()),
    };
    for contact in [&zed, &bob, &alice] {
        store.put_contact(contact).await.unwrap();
    }
    assert_eq!(store.contact("bob").await.unwrap().as_ref(), Some(&bob));
    assert_eq!(store.contact("BOB").await.unwrap(), None, "case-sensitive");
    assert_eq!(
        store.contacts().await.unwrap(),
        vec![alice.clone(), bob.clone(), zed.clone()],
        "alias order"
    );
    let moved = Contact {
        peer_url: None,
        address: Address::repeat_byte(0xb1),
        ..bob.clone()
    };
    store.put_contact(&moved).await.unwrap();
    assert_eq!(store.contact("bob").await.unwrap().as_ref(), Some(&moved));
    assert_eq!(
        store.contacts().await.unwrap().len(),
        3,
        "replaced, not added"
    );
    assert!(store.remove_contact("zed").await.unwrap());
    assert!(!store.remove_contact("zed").await.unwrap(), "removed once");
    // Contacts do not touch channels, payments or the cursor.
    assert_eq!(store.channels().await.unwrap(), vec![]);
    assert_eq!(cursor_of(&*store).await, 0);
    drop(store);
    let store = h.reopen().await;
    assert_eq!(store.contacts().await.unwrap(), vec![alice, moved]);
}

/// Everything committed survives closing and reopening the database, and versions continue.
pub async fn persistence_across_reopen(h: &Harness) {
    let store = h.store().await;
    let (a, b) = (id(1), id(2));
    commit_ok(
        &*store,
        batch(
            vec![row(1, 1, 1), row(2, 2, 1)],
            vec![payment(a, Direction::Incoming, 1)],
            Some(5),
        ),
        "first",
    )
    .await;
    commit_ok(
        &*store,
        batch(
            vec![row(1, 1, 2)],
            vec![
                payment(a, Direction::Incoming, 2),
                payment(b, Direction::Outgoing, 1),
            ],
            Some(77),
        ),
        "second",
    )
    .await;
    store.set_meta("node.address", "0x1234").await.unwrap();
    drop(store);

    let store = h.reopen().await;
    assert_eq!(
        store.channels().await.unwrap(),
        sorted_by_id(vec![row(1, 1, 2), row(2, 2, 1)])
    );
    assert_eq!(
        sequences(&all_payments(&*store, a, Direction::Incoming).await),
        vec![2, 1]
    );
    assert_eq!(
        all_payments(&*store, b, Direction::Outgoing).await,
        vec![payment(b, Direction::Outgoing, 1)]
    );
    assert_eq!(cursor_of(&*store).await, 77);
    assert_eq!(
        store.meta("node.address").await.unwrap().as_deref(),
        Some("0x1234")
    );

    assert_conflict(
        store.commit(batch(vec![row(1, 1, 2)], vec![], None)).await,
        a,
        2,
        "stale",
    );
    commit_ok(
        &*store,
        batch(vec![row(1, 1, 3)], vec![], Some(78)),
        "after reopen",
    )
    .await;
    drop(store);

    let store = h.reopen().await;
    assert_eq!(channel_of(&*store, a).await, Some(row(1, 1, 3)));
    assert_eq!(cursor_of(&*store).await, 78);
}

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
