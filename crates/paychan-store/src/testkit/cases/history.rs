//! Conformance cases: the payment history and its order, channels by peer, the ledger cursor,
//! settings, contacts, and what survives a reopen.

#[allow(clippy::wildcard_imports)]
use super::*;

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
