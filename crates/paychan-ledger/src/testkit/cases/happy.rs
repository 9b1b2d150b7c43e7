//! Conformance cases: every operation's happy path, the channel state machines end to end,
//! and the event stream.

#[allow(clippy::wildcard_imports)]
use super::*;

/// Opening a channel debits the opener, whoever it is, and credits A's deposit; an opener
/// may put in its whole balance.
pub async fn open_debits_the_opener<H: Harness>(h: &H) {
    let mut w = World::new(h, "open_debits_the_opener").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    let carol = w.party("carol").await;
    w.fund(&a, FUNDS).await;
    w.fund(&carol, FUNDS).await;

    let p1 = w.params(&a, &b, 1);
    w.open(&a, p1, 300).await;
    // A third party opens (funds) a channel for A and B: the money leaves carol, counts for A.
    let p2 = w.params(&a, &b, 2);
    let id2 = w.open(&carol, p2, 200).await;
    // The opener's whole balance.
    let p3 = w.params(&a, &b, 3);
    w.open(&a, p3, FUNDS - 300).await;

    // A's deposit in the channel carol opened is A's, not carol's.
    let s = w.cosign(w.settlement(id2, (0, 0)), &a.key, &b.key);
    w.close_cooperative(&b, &s, Pair::new(200, 0)).await;
}

/// Either party and any third party may deposit for either party; deposits count for the
/// party they are made for.
pub async fn deposits_by_either_party_and_third_parties<H: Harness>(h: &H) {
    let mut w = World::new(h, "deposits_by_either_party_and_third_parties").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    let carol = w.party("carol").await;
    for p in [&a, &b, &carol] {
        w.fund(p, FUNDS).await;
    }
    let id = w.open(&a, w.params(&a, &b, 1), 100).await;
    w.deposit(&a, id, Role::A, 50).await;
    w.deposit(&b, id, Role::B, 70).await;
    w.deposit(&carol, id, Role::B, 30).await;
    w.deposit(&carol, id, Role::A, 20).await;
    w.deposit(&b, id, Role::A, 5).await;
    // Deposited: A 175, B 100. Nothing paid: each gets its deposit.
    let s = w.cosign(w.settlement(id, (0, 0)), &a.key, &b.key);
    w.close_cooperative(&carol, &s, Pair::new(175, 100)).await;
}

/// Withdrawals while open pay the increase of the party's total and raise the floors; a
/// unilateral close with vouchers below the floors still counts the floors.
pub async fn withdrawal_floors_are_honoured_at_settlement<H: Harness>(h: &H) {
    let mut w = World::new(h, "withdrawal_floors_are_honoured_at_settlement").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    w.fund(&a, FUNDS).await;
    w.fund(&b, FUNDS).await;
    let id = w.open(&a, w.params(&a, &b, 1), 100).await;
    w.deposit(&b, id, Role::B, 50).await;

    // A paid B 30, B paid A 5: A withdraws 20, then B 10, then A 15 more with a certificate
    // whose A counter is older (25): floors stay at the maximum (30, 5).
    let c1 = w.withdrawal(id, a.addr(), 20, (30, 5)).await;
    w.withdraw(&b, &w.cosign(c1, &a.key, &b.key), 20).await;
    let c2 = w.withdrawal(id, b.addr(), 10, (30, 5)).await;
    w.withdraw(&a, &w.cosign(c2, &a.key, &b.key), 10).await;
    let c3 = w.withdrawal(id, a.addr(), 35, (25, 5)).await;
    w.withdraw(&a, &w.cosign(c3, &a.key, &b.key), 15).await;

    // A starts a close with B's voucher of 2 (below B's floor 5); B presents A's stale
    // voucher of 10 (below A's floor 30). The floors are counted.
    let vb = w.voucher(&b.key, id, 2, 1);
    let deadline = w.start_close(&a, id, Some(&vb), Pair::new(30, 5)).await;
    let va = w.voucher(&a.key, id, 10, 1);
    w.submit_stale(&b, &va).await;
    w.advance_to(deadline).await;
    // total = 150 - 35 - 10 = 105; A = 100 - 35 - 30 + 5 = 40; B = 65.
    w.settle(&b, id, Pair::new(40, 65)).await;
}

/// A co-signed settlement, submitted by anyone, pays out at once by the formula, clamped
/// at zero and at the channel's total in both directions.
pub async fn cooperative_close_pays_out_at_once<H: Harness>(h: &H) {
    let mut w = World::new(h, "cooperative_close_pays_out_at_once").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    let carol = w.party("carol").await;
    w.fund(&a, FUNDS).await;
    w.fund(&b, FUNDS).await;

    let id1 = w.open(&a, w.params(&a, &b, 1), 300).await;
    w.deposit(&b, id1, Role::B, 200).await;
    let s1 = w.cosign(w.settlement(id1, (120, 20)), &a.key, &b.key);
    // A = 300 - 120 + 20 = 200; B = 300.
    w.close_cooperative(&carol, &s1, Pair::new(200, 300)).await;

    // A's counter above all A has: A gets nothing, B everything.
    let id2 = w.open(&a, w.params(&a, &b, 2), 100).await;
    w.deposit(&b, id2, Role::B, 10).await;
    let s2 = w.cosign(w.settlement(id2, (500, 0)), &a.key, &b.key);
    w.close_cooperative(&a, &s2, Pair::new(0, 110)).await;

    // B's counter above all B has: A gets everything.
    let id3 = w.open(&a, w.params(&a, &b, 3), 50).await;
    w.deposit(&b, id3, Role::B, 60).await;
    let s3 = w.cosign(w.settlement(id3, (0, 1_000)), &a.key, &b.key);
    w.close_cooperative(&b, &s3, Pair::new(110, 0)).await;
}

/// A co-signed settlement also pays out a channel in its challenge period, which then
/// cannot be settled or counted again.
pub async fn cooperative_close_during_a_close<H: Harness>(h: &H) {
    let mut w = World::new(h, "cooperative_close_during_a_close").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    w.fund(&a, FUNDS).await;
    w.fund(&b, FUNDS).await;
    let id = w.open(&a, w.params(&a, &b, 1), 100).await;
    w.deposit(&b, id, Role::B, 100).await;
    let deadline = w.start_close(&a, id, None, Pair::new(0, 0)).await;
    let s = w.cosign(w.settlement(id, (40, 10)), &a.key, &b.key);
    w.close_cooperative(&b, &s, Pair::new(70, 130)).await;
    w.advance_to(deadline).await;
    w.refused(
        "settle after a cooperative close",
        Rule::NotClosing,
        a.ledger.settle(id),
    )
    .await;
    let v = w.voucher(&a.key, id, 50, 1);
    w.refused(
        "voucher after a cooperative close",
        Rule::NotClosing,
        b.ledger.submit_voucher(&v),
    )
    .await;
}

/// A party starts a close presenting the peer's latest voucher, counted at once; after the
/// deadline the party settles by the formula.
pub async fn unilateral_close_with_voucher_at_start<H: Harness>(h: &H) {
    let mut w = World::new(h, "unilateral_close_with_voucher_at_start").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    w.fund(&a, FUNDS).await;
    w.fund(&b, FUNDS).await;
    let id = w.open(&a, w.params(&a, &b, 1), 100).await;
    w.deposit(&b, id, Role::B, 50).await;
    let older = w.voucher(&a.key, id, 10, 1);
    let latest = w.voucher(&a.key, id, 25, 2);
    let deadline = w.start_close(&b, id, Some(&latest), Pair::new(25, 0)).await;
    // A's older voucher changes nothing.
    w.submit_stale(&a, &older).await;
    w.advance_to(deadline).await;
    // A = 100 - 25 = 75; B = 50 + 25 = 75.
    w.settle(&b, id, Pair::new(75, 75)).await;
}

/// During a close, the payee submits the peer's voucher itself and a watchtower (neither A
/// nor B) submits vouchers for both directions; the highest counts.
pub async fn vouchers_submitted_by_party_and_watchtower<H: Harness>(h: &H) {
    let mut w = World::new(h, "vouchers_submitted_by_party_and_watchtower").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    let tower = w.party("watchtower").await;
    w.fund(&a, FUNDS).await;
    w.fund(&b, FUNDS).await;
    w.fund(&tower, 7).await;
    let id = w.open(&a, w.params(&a, &b, 1), 100).await;
    w.deposit(&b, id, Role::B, 100).await;
    let va40 = w.voucher(&a.key, id, 40, 3);
    let va45 = w.voucher(&a.key, id, 45, 4);
    let vb15 = w.voucher(&b.key, id, 15, 1);
    // A, who paid more, starts a close without presenting anything.
    let deadline = w.start_close(&a, id, None, Pair::new(0, 0)).await;
    w.submit(&b, &va40, 40).await;
    w.submit(&tower, &vb15, 15).await;
    w.submit(&tower, &va45, 45).await;
    w.advance_to(deadline).await;
    // A = 100 - 45 + 15 = 70; B = 130.
    w.settle(&a, id, Pair::new(70, 130)).await;
}

/// After the deadline anyone may settle; the payouts go to the parties, not to the caller.
pub async fn settle_after_deadline_by_third_party<H: Harness>(h: &H) {
    let mut w = World::new(h, "settle_after_deadline_by_third_party").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    let keeper = w.party("keeper").await;
    w.fund(&a, FUNDS).await;
    w.fund(&b, FUNDS).await;
    let id = w.open(&a, w.params(&a, &b, 1), 100).await;
    w.deposit(&b, id, Role::B, 60).await;
    let v = w.voucher(&a.key, id, 30, 1);
    let deadline = w.start_close(&b, id, Some(&v), Pair::new(30, 0)).await;
    w.advance_to(deadline).await;
    w.settle(&keeper, id, Pair::new(70, 90)).await;
}

/// The parties' `Channel` state machines, fed with the ledger's events, produce vouchers,
/// withdrawal certificates and settlements the ledger accepts, and predict its payouts;
/// during a unilateral close the payee's channel asks to submit the payer's latest voucher.
pub async fn channel_state_machines_end_to_end<H: Harness>(h: &H) {
    let case = "channel_state_machines_end_to_end";
    let mut w = World::new(h, case).await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    w.fund(&a, FUNDS).await;
    w.fund(&b, FUNDS).await;

    /// Feeds a receipt's events to both channels; returns what they ask of the ledger.
    fn feed(events: &[LedgerEvent], chans: &mut [&mut Channel]) -> Vec<LedgerAction> {
        let mut actions = vec![];
        for e in events {
            for c in chans.iter_mut() {
                actions.extend(c.handle_ledger_event(e));
            }
        }
        actions
    }
    let new_channel =
        |params: ChannelParams, me: Address, domain: Domain| match Channel::new(params, domain, me)
        {
            Some(c) => c,
            None => panic!("{case}: {me} is not a party"),
        };

    // Cooperative life: payments both ways, a withdrawal, a settlement.
    let p1 = w.params(&a, &b, 1);
    let mut ca = new_channel(p1, a.addr(), w.domain);
    let mut cb = new_channel(p1, b.addr(), w.domain);
    let id1 = w.open(&a, p1, 500).await;
    assert!(
        feed(w.last_events(), &mut [&mut ca, &mut cb]).is_empty(),
        "{case}: the channels ask nothing of the ledger here"
    );
    w.deposit(&b, id1, Role::B, 300).await;
    assert!(
        feed(w.last_events(), &mut [&mut ca, &mut cb]).is_empty(),
        "{case}: the channels ask nothing of the ledger here"
    );
    for (i, amount) in [10u128, 20, 5].into_iter().enumerate() {
        let memo = memo_of(format!("call {i}").as_bytes());
        let v = ca
            .pay(&a.key, amount, memo)
            .unwrap_or_else(|e| panic!("{case}: pay: {e}"));
        let got = cb
            .handle_voucher(&v, memo)
            .unwrap_or_else(|e| panic!("{case}: B refuses A's voucher: {e}"));
        assert_eq!(got, amount, "{case}: payment amount");
    }
    let memo = memo_of(b"refund");
    let v = cb
        .pay(&b.key, 7, memo)
        .unwrap_or_else(|e| panic!("{case}: pay: {e}"));
    assert_eq!(
        ca.handle_voucher(&v, memo).ok(),
        Some(7),
        "{case}: B's payment"
    );

    let now = w.now().await;
    let (wd, sig) = ca
        .propose_withdrawal(&a.key, 100, now + DAY, now)
        .unwrap_or_else(|e| panic!("{case}: propose_withdrawal: {e}"));
    assert_eq!(
        (wd.paid_by_a, wd.paid_by_b, wd.total_withdrawn),
        (35, 7, 100)
    );
    let sig_b = cb
        .handle_withdrawal_request(&b.key, &wd, &sig, now)
        .unwrap_or_else(|e| panic!("{case}: B refuses the withdrawal: {e}"));
    let cert = ca
        .handle_withdrawal_signature(&sig_b)
        .unwrap_or_else(|e| panic!("{case}: A refuses B's signature: {e}"));
    w.withdraw(&b, &cert, 100).await;
    assert!(
        feed(w.last_events(), &mut [&mut ca, &mut cb]).is_empty(),
        "{case}: the channels ask nothing of the ledger here"
    );

    let memo = memo_of(b"call 3");
    let v = ca
        .pay(&a.key, 40, memo)
        .unwrap_or_else(|e| panic!("{case}: pay: {e}"));
    assert_eq!(
        cb.handle_voucher(&v, memo).ok(),
        Some(40),
        "{case}: A's payment"
    );

    let (s, sig) = cb
        .propose_settlement(&b.key)
        .unwrap_or_else(|e| panic!("{case}: propose_settlement: {e}"));
    let sig_a = ca
        .handle_settlement_request(&a.key, &s, &sig)
        .unwrap_or_else(|e| panic!("{case}: A refuses the settlement: {e}"));
    let cert = cb
        .handle_settlement_signature(&sig_a)
        .unwrap_or_else(|e| panic!("{case}: B refuses A's signature: {e}"));
    // total = 800 - 100; A = 500 - 100 - 75 + 7 = 332; B = 368.
    let payouts = Pair::new(332, 368);
    assert_eq!(
        ca.expected_payouts(),
        Some(payouts),
        "{case}: A's prediction"
    );
    assert_eq!(
        cb.expected_payouts(),
        Some(payouts),
        "{case}: B's prediction"
    );
    w.close_cooperative(&a, &cert, payouts).await;
    assert!(
        feed(w.last_events(), &mut [&mut ca, &mut cb]).is_empty(),
        "{case}: the channels ask nothing of the ledger here"
    );
    for c in [&ca, &cb] {
        assert_eq!(
            *c.phase(),
            Phase::Closed { payouts },
            "{case}: phase after settlement"
        );
    }

    // Unilateral close: A presents B's voucher; B's channel asks to submit A's latest.
    let p2 = w.params(&a, &b, 2);
    let mut ca = new_channel(p2, a.addr(), w.domain);
    let mut cb = new_channel(p2, b.addr(), w.domain);
    let id2 = w.open(&a, p2, 200).await;
    assert!(
        feed(w.last_events(), &mut [&mut ca, &mut cb]).is_empty(),
        "{case}: the channels ask nothing of the ledger here"
    );
    w.deposit(&b, id2, Role::B, 100).await;
    assert!(
        feed(w.last_events(), &mut [&mut ca, &mut cb]).is_empty(),
        "{case}: the channels ask nothing of the ledger here"
    );
    for amount in [20u128, 30] {
        let v = ca
            .pay(&a.key, amount, memo_of(&[]))
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(cb.handle_voucher(&v, memo_of(&[])).ok(), Some(amount));
    }
    let v = cb
        .pay(&b.key, 10, memo_of(&[]))
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    assert_eq!(ca.handle_voucher(&v, memo_of(&[])).ok(), Some(10));

    let inputs = ca
        .start_close()
        .unwrap_or_else(|e| panic!("{case}: start_close: {e}"));
    assert_eq!(
        inputs.voucher,
        Some(v),
        "{case}: A presents B's latest voucher"
    );
    let deadline = w
        .start_close(&a, id2, inputs.voucher.as_ref(), Pair::new(0, 10))
        .await;
    let actions = feed(w.last_events(), &mut [&mut ca, &mut cb]);
    let latest_a = match actions.as_slice() {
        [LedgerAction::SubmitVoucher(v)] => *v,
        other => panic!("{case}: B's channel must ask to submit A's voucher, got {other:?}"),
    };
    assert_eq!(
        latest_a.voucher.cumulative, 50,
        "{case}: A's latest voucher"
    );
    w.submit(&b, &latest_a, 50).await;
    assert!(
        feed(w.last_events(), &mut [&mut ca, &mut cb]).is_empty(),
        "{case}: the channels ask nothing of the ledger here"
    );
    w.advance_to(deadline).await;
    let now = w.now().await;
    assert!(
        ca.settle_due(now) && cb.settle_due(now),
        "{case}: settle due"
    );
    // A = 200 - 50 + 10 = 160; B = 140.
    let payouts = Pair::new(160, 140);
    assert_eq!(
        ca.expected_payouts(),
        Some(payouts),
        "{case}: A's prediction"
    );
    assert_eq!(
        cb.expected_payouts(),
        Some(payouts),
        "{case}: B's prediction"
    );
    w.settle(&b, id2, payouts).await;
    assert!(
        feed(w.last_events(), &mut [&mut ca, &mut cb]).is_empty(),
        "{case}: the channels ask nothing of the ledger here"
    );
}

/// The event stream replays every event from cursor 0 in order, from any cursor, and then
/// delivers events that happen after subscribing.
pub async fn event_stream_replays_and_follows<H: Harness>(h: &H) {
    let case = "event_stream_replays_and_follows";
    let mut w = World::new(h, case).await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    let tower = w.party("watchtower").await;
    w.fund(&a, FUNDS).await;
    w.fund(&b, FUNDS).await;
    let mut log = vec![];

    let p1 = w.params(&a, &b, 1);
    let id = w.open(&a, p1, 100).await;
    log.extend_from_slice(w.last_events());
    w.deposit(&b, id, Role::B, 50).await;
    log.extend_from_slice(w.last_events());
    let c = w.withdrawal(id, a.addr(), 10, (20, 0)).await;
    w.withdraw(&a, &w.cosign(c, &a.key, &b.key), 10).await;
    log.extend_from_slice(w.last_events());
    let va = w.voucher(&a.key, id, 30, 1);
    let deadline = w.start_close(&b, id, Some(&va), Pair::new(30, 0)).await;
    log.extend_from_slice(w.last_events());
    let vb = w.voucher(&b.key, id, 5, 1);
    w.submit(&tower, &vb, 5).await;
    log.extend_from_slice(w.last_events());
    w.advance_to(deadline).await;
    // total = 140; A = 100 - 10 - 30 + 5 = 65; B = 75.
    w.settle(&tower, id, Pair::new(65, 75)).await;
    log.extend_from_slice(w.last_events());

    use LedgerEvent as E;
    let kinds: Vec<&str> = log
        .iter()
        .map(|e| match e {
            E::Opened { .. } => "Opened",
            E::Deposited { .. } => "Deposited",
            E::Withdrawn { .. } => "Withdrawn",
            E::CloseStarted { .. } => "CloseStarted",
            E::VoucherSubmitted { .. } => "VoucherSubmitted",
            E::Settled { .. } => "Settled",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "Opened",
            "Deposited",
            "Withdrawn",
            "CloseStarted",
            "VoucherSubmitted",
            "VoucherSubmitted",
            "Settled"
        ],
        "{case}: the operations' events"
    );
    assert_eq!(w.next_cursor(), log.len() as u64);

    // Replay from 0: the same events, in order, numbered from 0, times not going back.
    let mut all = w.events(0).await;
    let mut time = 0;
    for (i, expected) in log.iter().enumerate() {
        let got = w
            .next_event(&mut all, &format!("replay of event {i}"))
            .await;
        assert_eq!(got.cursor, i as u64, "{case}: cursor of replayed event {i}");
        assert_eq!(&got.event, expected, "{case}: replayed event {i}");
        assert!(got.time >= time, "{case}: event {i}'s time goes back");
        time = got.time;
    }
    // Replay from the middle.
    let mut middle = w.events(3).await;
    let got = w.next_event(&mut middle, "replay from cursor 3").await;
    assert_eq!(
        (got.cursor, got.event),
        (3, log[3]),
        "{case}: replay from 3"
    );

    // Live: streams opened before an operation deliver its event.
    let next = w.next_cursor();
    let mut live = w.events(next).await;
    let p2 = w.params(&a, &b, 2);
    let id2 = p2.id(&w.domain);
    let waiter = async {
        let x = next_event(case, &mut all, "live event (stream from 0)").await;
        let y = next_event(case, &mut live, "live event (new stream)").await;
        (x, y)
    };
    let actor = async {
        // Let the waiter reach the live end of both streams first.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        w.open(&a, p2, 10).await;
    };
    let ((got_all, got_live), ()) = futures::join!(waiter, actor);
    let expected = LedgerEvent::Opened {
        channel_id: id2,
        params: p2,
        deposit: 10,
    };
    for got in [got_all, got_live] {
        assert_eq!(
            (got.cursor, got.event),
            (next, expected),
            "{case}: live event"
        );
    }
    let s = w.cosign(w.settlement(id2, (0, 0)), &a.key, &b.key);
    w.close_cooperative(&a, &s, Pair::new(10, 0)).await;
}
