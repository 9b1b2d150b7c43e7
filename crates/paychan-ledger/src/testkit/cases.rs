//! The cases of the conformance suite: the happy paths of every operation, then a malicious
//! party trying each way the ledger rules forbid to take money.
//!
//! Amounts are worked out by hand in each case with the settlement formula of `docs/PROTOCOL.md`
//! (section 4): `total = depA + depB - wA - wB`,
//! `payoutA = clamp(depA - wA - paidByA + paidByB, 0, total)`, `payoutB = total - payoutA`.

use paychan_core::{
    Address, Amount, ChannelId, ChannelParams, Domain, Pair, Role, Voucher,
    adjudicator::{LedgerEvent, Rule},
    channel::{Channel, LedgerAction, Phase},
    eip712::{Eip712, memo_of},
    keccak256,
};

use super::{
    Harness,
    world::{CHALLENGE, DAY, FUNDS, Refusal, World, cosign, next_event, sign_voucher},
};
use crate::{LedgerClose, LedgerFunding, LedgerWithdraw};

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

/// A voucher in A's name signed by someone else (a stranger, or B), or with a garbage
/// signature, is refused at the start of a close and during it; nothing changes.
pub async fn forged_voucher_is_refused<H: Harness>(h: &H) {
    let mut w = World::new(h, "forged_voucher_is_refused").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    let mallory = w.party("mallory").await;
    w.fund(&a, FUNDS).await;
    w.fund(&b, FUNDS).await;
    w.fund(&mallory, FUNDS).await;
    let id = w.open(&a, w.params(&a, &b, 1), 100).await;
    w.deposit(&b, id, Role::B, 50).await;

    let in_a_name = Voucher {
        channel_id: id,
        payer: a.addr(),
        cumulative: 90,
        sequence: 1,
        memo: Default::default(),
    };
    let by_mallory = sign_voucher(&w.domain, &mallory.key, in_a_name);
    let by_b = sign_voucher(&w.domain, &b.key, in_a_name);
    let mut zero = by_mallory;
    zero.signature.0.0 = [0; 65];
    let mut bad_v = sign_voucher(&w.domain, &a.key, in_a_name);
    bad_v.signature.0.0[64] = 0;
    // Mallory's own voucher: she is not a party.
    let own = w.voucher(&mallory.key, id, 90, 1);

    let forgeries = [
        ("signed by a stranger", by_mallory, Rule::BadSignature),
        ("signed by B", by_b, Rule::BadSignature),
        ("with a zero signature", zero, Rule::BadSignature),
        ("with an invalid recovery byte", bad_v, Rule::BadSignature),
        ("of a stranger as payer", own, Rule::NotAParty),
    ];
    for (what, v, rule) in &forgeries {
        w.refused(
            &format!("start close presenting a voucher {what}"),
            *rule,
            b.ledger.start_close(id, Some(v)),
        )
        .await;
    }
    let deadline = w.start_close(&b, id, None, Pair::new(0, 0)).await;
    for (what, v, rule) in &forgeries {
        for p in [&b, &mallory] {
            w.refused(
                &format!("{} submits a voucher {what}", p.name),
                *rule,
                p.ledger.submit_voucher(v),
            )
            .await;
        }
    }
    w.advance_to(deadline).await;
    // A paid nothing: each gets its deposit.
    w.settle(&a, id, Pair::new(100, 50)).await;
}

/// A's voucher changed after signing (amount, sequence, memo, payer, channel) is refused;
/// the untouched voucher is then counted.
pub async fn tampered_voucher_is_refused<H: Harness>(h: &H) {
    let mut w = World::new(h, "tampered_voucher_is_refused").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    w.fund(&a, FUNDS).await;
    w.fund(&b, FUNDS).await;
    let id = w.open(&a, w.params(&a, &b, 1), 100).await;
    w.deposit(&b, id, Role::B, 100).await;
    let mut genuine = w.voucher(&a.key, id, 30, 2);
    genuine.voucher.memo = keccak256(b"request");
    genuine.signature = genuine.voucher.sign(&w.domain, &a.key);

    let tamper = |f: &dyn Fn(&mut Voucher)| {
        let mut v = genuine;
        f(&mut v.voucher);
        v
    };
    let tampered = [
        ("amount raised", tamper(&|v| v.cumulative = 90)),
        ("amount lowered", tamper(&|v| v.cumulative = 1)),
        ("sequence changed", tamper(&|v| v.sequence = 9)),
        ("memo changed", tamper(&|v| v.memo = Default::default())),
        ("payer changed to B", tamper(&|v| v.payer = b.addr())),
    ];
    for (what, v) in &tampered {
        w.refused(
            &format!("start close presenting a voucher with {what}"),
            Rule::BadSignature,
            b.ledger.start_close(id, Some(v)),
        )
        .await;
    }
    let deadline = w.start_close(&b, id, None, Pair::new(0, 0)).await;
    for (what, v) in &tampered {
        w.refused(
            &format!("submit a voucher with {what}"),
            Rule::BadSignature,
            b.ledger.submit_voucher(v),
        )
        .await;
    }
    w.submit(&b, &genuine, 30).await;
    w.advance_to(deadline).await;
    w.settle(&b, id, Pair::new(70, 130)).await;
}

/// A voucher of another channel between the same parties counts only in that channel: it
/// is refused when presented for this one, refused while that one is open, and a voucher
/// re-addressed to this channel is refused.
pub async fn voucher_of_another_channel_is_refused<H: Harness>(h: &H) {
    let mut w = World::new(h, "voucher_of_another_channel_is_refused").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    w.fund(&a, FUNDS).await;
    let id1 = w.open(&a, w.params(&a, &b, 1), 100).await;
    let id2 = w.open(&a, w.params(&a, &b, 2), 100).await;
    let v2 = w.voucher(&a.key, id2, 50, 1);
    let mut readdressed = v2;
    readdressed.voucher.channel_id = id1;

    w.refused(
        "start close of channel 1 presenting channel 2's voucher",
        Rule::WrongChannel,
        b.ledger.start_close(id1, Some(&v2)),
    )
    .await;
    let deadline = w.start_close(&b, id1, None, Pair::new(0, 0)).await;
    w.refused(
        "submit channel 2's voucher while channel 2 is open",
        Rule::NotClosing,
        b.ledger.submit_voucher(&v2),
    )
    .await;
    w.refused(
        "submit channel 2's voucher re-addressed to channel 1",
        Rule::BadSignature,
        b.ledger.submit_voucher(&readdressed),
    )
    .await;
    let v1 = w.voucher(&a.key, id1, 20, 1);
    w.submit(&b, &v1, 20).await;
    w.advance_to(deadline).await;
    w.settle(&b, id1, Pair::new(80, 20)).await;

    // Channel 2 counts only its own voucher; channel 1's (settled) is refused.
    let deadline = w.start_close(&b, id2, None, Pair::new(0, 0)).await;
    w.refused(
        "submit channel 1's voucher during channel 2's close",
        Rule::NotClosing,
        b.ledger.submit_voucher(&v1),
    )
    .await;
    w.submit(&b, &v2, 50).await;
    w.advance_to(deadline).await;
    w.settle(&a, id2, Pair::new(50, 50)).await;
}

/// Vouchers, withdrawal certificates and settlements signed under another ledger's domain
/// (another chain id, or another adjudicator address) are refused; the same objects signed
/// under this ledger's domain are accepted.
pub async fn foreign_domain_signatures_are_refused<H: Harness>(h: &H) {
    let case = "foreign_domain_signatures_are_refused";
    let mut w = World::new(h, case).await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    w.fund(&a, FUNDS).await;
    w.fund(&b, FUNDS).await;
    let id = w.open(&a, w.params(&a, &b, 1), 100).await;
    w.deposit(&b, id, Role::B, 100).await;

    let mut other_address = w.domain.verifying_contract().0;
    other_address.0[19] ^= 0xff;
    let foreign = [
        (
            "another chain",
            Domain::new(
                w.domain.chain_id().wrapping_add(1),
                w.domain.verifying_contract(),
            ),
        ),
        (
            "another adjudicator",
            Domain::new(w.domain.chain_id(), Address::from(other_address)),
        ),
    ];
    let withdrawal = w.withdrawal(id, a.addr(), 10, (0, 0)).await;
    let settlement = w.settlement(id, (0, 0));
    let voucher = w.voucher(&a.key, id, 30, 1).voucher;
    for (name, d) in &foreign {
        assert_ne!(*d, w.domain, "{case}: the foreign domain is this ledger's");
        w.refused(
            &format!("withdrawal signed for {name}"),
            Rule::BadSignature,
            a.ledger.withdraw(&cosign(d, withdrawal, &a.key, &b.key)),
        )
        .await;
        w.refused(
            &format!("settlement signed for {name}"),
            Rule::BadSignature,
            b.ledger
                .close_cooperative(&cosign(d, settlement, &a.key, &b.key)),
        )
        .await;
        w.refused(
            &format!("start close presenting a voucher signed for {name}"),
            Rule::BadSignature,
            b.ledger
                .start_close(id, Some(&sign_voucher(d, &a.key, voucher))),
        )
        .await;
    }
    w.withdraw(&b, &w.cosign(withdrawal, &a.key, &b.key), 10)
        .await;
    let deadline = w.start_close(&b, id, None, Pair::new(0, 0)).await;
    for (name, d) in &foreign {
        w.refused(
            &format!("submit a voucher signed for {name}"),
            Rule::BadSignature,
            b.ledger.submit_voucher(&sign_voucher(d, &a.key, voucher)),
        )
        .await;
    }
    w.submit(&b, &sign_voucher(&w.domain, &a.key, voucher), 30)
        .await;
    w.advance_to(deadline).await;
    // total = 190; A = 100 - 10 - 30 = 60; B = 130.
    w.settle(&b, id, Pair::new(60, 130)).await;
}

/// Submitting an older voucher after a newer one (by the payer, hoping to pay less) never
/// lowers what is counted, and the payouts reflect the newest voucher.
pub async fn stale_voucher_never_lowers_the_count<H: Harness>(h: &H) {
    let mut w = World::new(h, "stale_voucher_never_lowers_the_count").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    let tower = w.party("watchtower").await;
    w.fund(&a, FUNDS).await;
    w.fund(&b, FUNDS).await;
    let id = w.open(&a, w.params(&a, &b, 1), 100).await;
    w.deposit(&b, id, Role::B, 100).await;
    let v10 = w.voucher(&a.key, id, 10, 1);
    let v30 = w.voucher(&a.key, id, 30, 2);
    let v50 = w.voucher(&a.key, id, 50, 3);
    let deadline = w.start_close(&b, id, Some(&v30), Pair::new(30, 0)).await;
    w.submit_stale(&a, &v10).await;
    w.submit(&tower, &v50, 50).await;
    w.submit_stale(&a, &v30).await;
    w.submit_stale(&a, &v10).await;
    w.submit_stale(&tower, &v50).await;
    w.advance_to(deadline).await;
    w.settle(&a, id, Pair::new(50, 150)).await;
}

/// An executed withdrawal certificate cannot be executed again, by anyone, nor can an older
/// one or one with the same total and other counters.
pub async fn replayed_withdrawal_is_refused<H: Harness>(h: &H) {
    let mut w = World::new(h, "replayed_withdrawal_is_refused").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    let carol = w.party("carol").await;
    w.fund(&a, FUNDS).await;
    w.fund(&b, FUNDS).await;
    let id = w.open(&a, w.params(&a, &b, 1), 100).await;
    w.deposit(&b, id, Role::B, 100).await;
    let c1 = w.cosign(w.withdrawal(id, a.addr(), 30, (0, 0)).await, &a.key, &b.key);
    let c2 = w.cosign(w.withdrawal(id, a.addr(), 50, (0, 0)).await, &a.key, &b.key);
    let c2b = w.cosign(
        w.withdrawal(id, a.addr(), 50, (10, 0)).await,
        &a.key,
        &b.key,
    );
    let cb = w.cosign(w.withdrawal(id, b.addr(), 20, (0, 0)).await, &a.key, &b.key);
    w.withdraw(&a, &c1, 30).await;
    w.refused(
        "replay of A's first withdrawal",
        Rule::NotIncreasing,
        a.ledger.withdraw(&c1),
    )
    .await;
    w.withdraw(&b, &c2, 20).await;
    for (who, p) in [("A", &a), ("B", &b), ("a third party", &carol)] {
        w.refused(
            &format!("replay of A's second withdrawal by {who}"),
            Rule::NotIncreasing,
            p.ledger.withdraw(&c2),
        )
        .await;
    }
    w.refused(
        "A's older withdrawal after a newer one",
        Rule::NotIncreasing,
        a.ledger.withdraw(&c1),
    )
    .await;
    w.refused(
        "the same total with other counters",
        Rule::NotIncreasing,
        a.ledger.withdraw(&c2b),
    )
    .await;
    w.withdraw(&carol, &cb, 20).await;
    w.refused(
        "replay of B's withdrawal",
        Rule::NotIncreasing,
        b.ledger.withdraw(&cb),
    )
    .await;
    // total = 200 - 70 = 130; A = 100 - 50 = 50; B = 80.
    let s = w.cosign(w.settlement(id, (0, 0)), &a.key, &b.key);
    w.close_cooperative(&a, &s, Pair::new(50, 80)).await;
}

/// A withdrawal that would leave the party below zero with the certificate's counters is
/// refused; exactly zero is allowed.
pub async fn withdrawal_beyond_balance_is_refused<H: Harness>(h: &H) {
    let mut w = World::new(h, "withdrawal_beyond_balance_is_refused").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    w.fund(&a, FUNDS).await;
    w.fund(&b, FUNDS).await;
    let id = w.open(&a, w.params(&a, &b, 1), 100).await;
    w.deposit(&b, id, Role::B, 50).await;
    // Certificates that never expire: only the balance rule is tested here.
    let cert = |w: &World<'_, H>, party: Address, total: Amount, paid: (Amount, Amount)| {
        let body = paychan_core::Withdrawal {
            channel_id: id,
            party,
            total_withdrawn: total,
            paid_by_a: paid.0,
            paid_by_b: paid.1,
            expiry: u64::MAX,
        };
        w.cosign(body, &a.key, &b.key)
    };
    let over = cert(&w, a.addr(), 101, (0, 0));
    w.refused(
        "A withdraws 101 of 100",
        Rule::OverBalance,
        a.ledger.withdraw(&over),
    )
    .await;
    let over = cert(&w, a.addr(), 50, (60, 0));
    w.refused(
        "A withdraws 50 of 100 having paid 60",
        Rule::OverBalance,
        a.ledger.withdraw(&over),
    )
    .await;
    // Exactly all A has: 100 - 60.
    w.withdraw(&a, &cert(&w, a.addr(), 40, (60, 0)), 40).await;
    let over = cert(&w, b.addr(), 111, (60, 0));
    w.refused(
        "B withdraws 111 of 50 + 60 received",
        Rule::OverBalance,
        b.ledger.withdraw(&over),
    )
    .await;
    w.withdraw(&b, &cert(&w, b.addr(), 110, (60, 0)), 110).await;
    let over = cert(&w, a.addr(), 41, (60, 0));
    w.refused(
        "A withdraws once more from an empty share",
        Rule::OverBalance,
        a.ledger.withdraw(&over),
    )
    .await;
    let s = w.cosign(w.settlement(id, (60, 0)), &a.key, &b.key);
    w.close_cooperative(&b, &s, Pair::new(0, 0)).await;
}

/// Both parties colluding, signing counters that make each look rich, cannot withdraw more
/// than their channel holds: another channel's money on the same ledger is untouched.
pub async fn colluding_parties_cannot_drain_other_channels<H: Harness>(h: &H) {
    let mut w = World::new(h, "colluding_parties_cannot_drain_other_channels").await;
    let carol = w.party("carol").await;
    let dave = w.party("dave").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    w.fund(&carol, 500).await;
    w.fund(&dave, 300).await;
    w.fund(&a, 100).await;
    w.fund(&b, 100).await;
    // The victims' channel first.
    let x = w.open(&carol, w.params(&carol, &dave, 1), 500).await;
    w.deposit(&dave, x, Role::B, 300).await;
    let y = w.open(&a, w.params(&a, &b, 1), 100).await;
    w.deposit(&b, y, Role::B, 100).await;

    // One certificate: A "received" 200 from B, withdraws 300 of a channel holding 200.
    let c = w.cosign(
        w.withdrawal(y, a.addr(), 300, (0, 200)).await,
        &a.key,
        &b.key,
    );
    w.refused(
        "colluding withdrawal of 300 from a channel holding 200",
        Rule::OverBalance,
        a.ledger.withdraw(&c),
    )
    .await;
    // Two certificates: A takes everything claiming B paid it 100, then B claims A paid it
    // 200 and withdraws too.
    let ca = w.cosign(
        w.withdrawal(y, a.addr(), 200, (0, 100)).await,
        &a.key,
        &b.key,
    );
    w.withdraw(&b, &ca, 200).await;
    for total in [100, 1] {
        let cb = w.cosign(
            w.withdrawal(y, b.addr(), total, (200, 100)).await,
            &a.key,
            &b.key,
        );
        w.refused(
            &format!("colluding withdrawal of {total} from an emptied channel"),
            Rule::OverBalance,
            b.ledger.withdraw(&cb),
        )
        .await;
    }
    // Nor can a settlement pay out anything more.
    let s = w.cosign(w.settlement(y, (0, 1_000)), &a.key, &b.key);
    w.close_cooperative(&a, &s, Pair::new(0, 0)).await;
    // The victims settle in full: carol = 500 - 100; dave = 300 + 100.
    let s = w.cosign(w.settlement(x, (100, 0)), &carol.key, &dave.key);
    w.close_cooperative(&dave, &s, Pair::new(400, 400)).await;
}

/// A withdrawal certificate is refused from its expiry on; a fresh one is accepted.
pub async fn expired_withdrawal_is_refused<H: Harness>(h: &H) {
    let mut w = World::new(h, "expired_withdrawal_is_refused").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    w.fund(&a, FUNDS).await;
    w.fund(&b, FUNDS).await;
    let id = w.open(&a, w.params(&a, &b, 1), 100).await;
    w.deposit(&b, id, Role::B, 100).await;
    let now = w.now().await;
    let mut body = w.withdrawal(id, a.addr(), 40, (10, 0)).await;
    body.expiry = now;
    let expired = w.cosign(body, &a.key, &b.key);
    w.refused(
        "a certificate expiring now",
        Rule::Expired,
        a.ledger.withdraw(&expired),
    )
    .await;
    body.expiry = now + 100;
    let soon = w.cosign(body, &a.key, &b.key);
    w.advance(100).await;
    w.refused(
        "a certificate after its expiry",
        Rule::Expired,
        b.ledger.withdraw(&soon),
    )
    .await;
    body.expiry = w.now().await + DAY;
    w.withdraw(&b, &w.cosign(body, &a.key, &b.key), 40).await;
    // total = 160; A = 100 - 40 - 10 = 50; B = 110.
    let s = w.cosign(w.settlement(id, (10, 0)), &a.key, &b.key);
    w.close_cooperative(&a, &s, Pair::new(50, 110)).await;
}

/// A withdrawal for someone who is not a party, one signed by a stranger instead of a
/// party, and any withdrawal once the channel is closing, are refused.
pub async fn withdrawal_of_a_closing_channel_or_stranger_is_refused<H: Harness>(h: &H) {
    let mut w = World::new(h, "withdrawal_of_a_closing_channel_or_stranger_is_refused").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    let mallory = w.party("mallory").await;
    w.fund(&a, FUNDS).await;
    w.fund(&b, FUNDS).await;
    let id = w.open(&a, w.params(&a, &b, 1), 100).await;
    w.deposit(&b, id, Role::B, 100).await;
    let to_mallory = w.withdrawal(id, mallory.addr(), 10, (0, 0)).await;
    w.refused(
        "a withdrawal paying a stranger",
        Rule::NotAParty,
        mallory
            .ledger
            .withdraw(&w.cosign(to_mallory, &a.key, &b.key)),
    )
    .await;
    let body = w.withdrawal(id, a.addr(), 10, (0, 0)).await;
    for (what, cert) in [
        (
            "signed by A and a stranger",
            w.cosign(body, &a.key, &mallory.key),
        ),
        (
            "signed by a stranger and B",
            w.cosign(body, &mallory.key, &b.key),
        ),
        ("signed by A twice", w.cosign(body, &a.key, &a.key)),
    ] {
        w.refused(
            &format!("a withdrawal {what}"),
            Rule::BadSignature,
            a.ledger.withdraw(&cert),
        )
        .await;
    }
    let deadline = w.start_close(&b, id, None, Pair::new(0, 0)).await;
    w.refused(
        "a valid withdrawal of a closing channel",
        Rule::NotOpen,
        a.ledger.withdraw(&w.cosign(body, &a.key, &b.key)),
    )
    .await;
    w.advance_to(deadline).await;
    w.settle(&a, id, Pair::new(100, 100)).await;
}

/// Settle is refused while open and before the deadline, by anyone; allowed from it on.
pub async fn settle_before_deadline_is_refused<H: Harness>(h: &H) {
    let case = "settle_before_deadline_is_refused";
    let mut w = World::new(h, case).await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    let carol = w.party("carol").await;
    w.fund(&a, FUNDS).await;
    w.fund(&b, FUNDS).await;
    let id = w.open(&a, w.params(&a, &b, 1), 100).await;
    w.deposit(&b, id, Role::B, 100).await;
    w.refused(
        "settle an open channel",
        Rule::NotClosing,
        b.ledger.settle(id),
    )
    .await;
    let v = w.voucher(&a.key, id, 20, 1);
    let deadline = w.start_close(&b, id, Some(&v), Pair::new(20, 0)).await;
    for p in [&a, &b, &carol] {
        w.refused(
            &format!("{} settles right after the close started", p.name),
            Rule::DeadlineNotReached,
            p.ledger.settle(id),
        )
        .await;
    }
    w.advance(CHALLENGE / 2).await;
    if w.now().await < deadline {
        w.refused(
            "settle half way through the challenge period",
            Rule::DeadlineNotReached,
            a.ledger.settle(id),
        )
        .await;
    }
    w.advance_to(deadline).await;
    w.settle(&b, id, Pair::new(80, 120)).await;
}

/// A settled channel is finished: a second settle, a new close, a cooperative close, a
/// deposit, a withdrawal and a voucher are all refused.
pub async fn settle_twice_is_refused<H: Harness>(h: &H) {
    let mut w = World::new(h, "settle_twice_is_refused").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    let carol = w.party("carol").await;
    w.fund(&a, FUNDS).await;
    w.fund(&b, FUNDS).await;
    w.fund(&carol, FUNDS).await;
    let id = w.open(&a, w.params(&a, &b, 1), 100).await;
    w.deposit(&b, id, Role::B, 100).await;
    let v = w.voucher(&a.key, id, 20, 1);
    let deadline = w.start_close(&b, id, Some(&v), Pair::new(20, 0)).await;
    w.advance_to(deadline).await;
    w.settle(&b, id, Pair::new(80, 120)).await;
    for p in [&a, &b, &carol] {
        w.refused(
            &format!("{} settles again", p.name),
            Rule::NotClosing,
            p.ledger.settle(id),
        )
        .await;
    }
    w.refused("close again", Rule::NotOpen, a.ledger.start_close(id, None))
        .await;
    let s = w.cosign(w.settlement(id, (0, 0)), &a.key, &b.key);
    w.refused(
        "cooperative close after settlement",
        Rule::NotOpen,
        a.ledger.close_cooperative(&s),
    )
    .await;
    w.refused(
        "deposit after settlement",
        Rule::NotOpen,
        carol.ledger.deposit(id, Role::A, 10),
    )
    .await;
    let c = w.cosign(w.withdrawal(id, a.addr(), 10, (0, 0)).await, &a.key, &b.key);
    w.refused(
        "withdrawal after settlement",
        Rule::NotOpen,
        a.ledger.withdraw(&c),
    )
    .await;
    let v = w.voucher(&a.key, id, 90, 2);
    w.refused(
        "voucher after settlement",
        Rule::NotClosing,
        b.ledger.submit_voucher(&v),
    )
    .await;
}

/// A voucher submitted from the deadline on is refused, by the payee or a watchtower; the
/// payouts use what was counted in time.
pub async fn voucher_after_deadline_is_refused<H: Harness>(h: &H) {
    let mut w = World::new(h, "voucher_after_deadline_is_refused").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    let tower = w.party("watchtower").await;
    w.fund(&a, FUNDS).await;
    w.fund(&b, FUNDS).await;
    let id = w.open(&a, w.params(&a, &b, 1), 100).await;
    w.deposit(&b, id, Role::B, 100).await;
    let v20 = w.voucher(&a.key, id, 20, 1);
    let v40 = w.voucher(&a.key, id, 40, 2);
    let deadline = w.start_close(&b, id, Some(&v20), Pair::new(20, 0)).await;
    w.advance_to(deadline).await;
    for p in [&b, &tower] {
        w.refused(
            &format!("{} submits a voucher after the deadline", p.name),
            Rule::DeadlinePassed,
            p.ledger.submit_voucher(&v40),
        )
        .await;
    }
    w.settle(&tower, id, Pair::new(80, 120)).await;
}

/// Only a party may start a close: a stranger is refused, with or without a voucher, and
/// the channel stays open.
pub async fn start_close_by_stranger_is_refused<H: Harness>(h: &H) {
    let mut w = World::new(h, "start_close_by_stranger_is_refused").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    let mallory = w.party("mallory").await;
    w.fund(&a, FUNDS).await;
    w.fund(&b, FUNDS).await;
    w.fund(&mallory, FUNDS).await;
    let id = w.open(&a, w.params(&a, &b, 1), 100).await;
    w.refused(
        "a stranger starts a close",
        Rule::NotAParty,
        mallory.ledger.start_close(id, None),
    )
    .await;
    let v = w.voucher(&a.key, id, 60, 1);
    w.refused(
        "a stranger starts a close with A's voucher",
        Rule::NotAParty,
        mallory.ledger.start_close(id, Some(&v)),
    )
    .await;
    let own = w.voucher(&mallory.key, id, 60, 1);
    w.refused(
        "a stranger starts a close with her own voucher",
        Rule::NotAParty,
        mallory.ledger.start_close(id, Some(&own)),
    )
    .await;
    // Still open: deposits work.
    w.deposit(&b, id, Role::B, 10).await;
    let deadline = w.start_close(&a, id, None, Pair::new(0, 0)).await;
    w.advance_to(deadline).await;
    w.settle(&a, id, Pair::new(100, 10)).await;
}

/// A close cannot be started twice, by the same party or the other; the other party
/// submits its voucher instead.
pub async fn start_close_twice_is_refused<H: Harness>(h: &H) {
    let mut w = World::new(h, "start_close_twice_is_refused").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    w.fund(&a, FUNDS).await;
    w.fund(&b, FUNDS).await;
    let id = w.open(&a, w.params(&a, &b, 1), 100).await;
    w.deposit(&b, id, Role::B, 100).await;
    let deadline = w.start_close(&a, id, None, Pair::new(0, 0)).await;
    w.refused(
        "A starts the close again",
        Rule::NotOpen,
        a.ledger.start_close(id, None),
    )
    .await;
    let v = w.voucher(&a.key, id, 30, 1);
    w.refused(
        "B starts the close again with A's voucher",
        Rule::NotOpen,
        b.ledger.start_close(id, Some(&v)),
    )
    .await;
    w.advance(1).await;
    w.submit(&b, &v, 30).await;
    // The deadline did not move.
    assert_eq!(w.closing(id).0, deadline);
    w.advance_to(deadline).await;
    w.settle(&a, id, Pair::new(70, 130)).await;
}

/// Deposits to a closing or settled channel are refused, whoever makes them, and the funds
/// stay with the sender.
pub async fn deposit_while_closing_is_refused<H: Harness>(h: &H) {
    let mut w = World::new(h, "deposit_while_closing_is_refused").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    let carol = w.party("carol").await;
    for p in [&a, &b, &carol] {
        w.fund(p, FUNDS).await;
    }
    let id = w.open(&a, w.params(&a, &b, 1), 100).await;
    w.deposit(&b, id, Role::B, 50).await;
    let deadline = w.start_close(&a, id, None, Pair::new(0, 0)).await;
    for (p, role, amount) in [(&b, Role::B, 50), (&carol, Role::B, 10), (&a, Role::A, 10)] {
        w.refused(
            &format!("{} deposits {amount} for {role} while closing", p.name),
            Rule::NotOpen,
            p.ledger.deposit(id, role, amount),
        )
        .await;
    }
    w.advance_to(deadline).await;
    w.settle(&b, id, Pair::new(100, 50)).await;
    w.refused(
        "deposit after settlement",
        Rule::NotOpen,
        b.ledger.deposit(id, Role::B, 50),
    )
    .await;
}

/// A channel id is never reused: opening the same parameters again is refused while open
/// and after settlement, whoever opens and with any amount.
pub async fn channel_id_is_never_reused<H: Harness>(h: &H) {
    let mut w = World::new(h, "channel_id_is_never_reused").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    w.fund(&a, FUNDS).await;
    w.fund(&b, FUNDS).await;
    let p = w.params(&a, &b, 1);
    let id = w.open(&a, p, 100).await;
    w.refused(
        "A opens the same id again",
        Rule::ChannelExists,
        a.ledger.open(&p, 100),
    )
    .await;
    w.refused(
        "B opens the same id",
        Rule::ChannelExists,
        b.ledger.open(&p, 50),
    )
    .await;
    let s = w.cosign(w.settlement(id, (0, 0)), &a.key, &b.key);
    w.close_cooperative(&b, &s, Pair::new(100, 0)).await;
    w.refused(
        "open the id of a settled channel",
        Rule::ChannelExists,
        a.ledger.open(&p, 100),
    )
    .await;
    w.refused(
        "open the id of a settled channel with another amount",
        Rule::ChannelExists,
        b.ledger.open(&p, 7),
    )
    .await;
    // Another nonce is another channel.
    let id2 = w.open(&a, w.params(&a, &b, 2), 10).await;
    let s = w.cosign(w.settlement(id2, (0, 0)), &a.key, &b.key);
    w.close_cooperative(&a, &s, Pair::new(10, 0)).await;
}

/// A settlement is paid out only with both parties' valid signatures over exactly it.
pub async fn cooperative_close_needs_both_signatures<H: Harness>(h: &H) {
    let mut w = World::new(h, "cooperative_close_needs_both_signatures").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    let mallory = w.party("mallory").await;
    w.fund(&a, FUNDS).await;
    w.fund(&b, FUNDS).await;
    let id = w.open(&a, w.params(&a, &b, 1), 100).await;
    w.deposit(&b, id, Role::B, 100).await;
    let s = w.settlement(id, (30, 0));
    let good = w.cosign(s, &a.key, &b.key);
    let sign = |k: &paychan_core::SigningKey| s.sign(&w.domain, k);
    let mut zero = good;
    zero.sig_a.0.0 = [0; 65];
    let other = w.settlement(id, (0, 0));
    let mut a_signed_other = good;
    a_signed_other.sig_a = other.sign(&w.domain, &a.key);
    let bad = [
        (
            "B's signature replaced by a stranger's",
            w.cosign(s, &a.key, &mallory.key),
        ),
        (
            "A's signature replaced by a stranger's",
            w.cosign(s, &mallory.key, &b.key),
        ),
        ("A's signature twice", w.cosign(s, &a.key, &a.key)),
        ("B's signature twice", w.cosign(s, &b.key, &b.key)),
        (
            "the signatures swapped",
            paychan_core::channel::CoSigned {
                body: s,
                sig_a: sign(&b.key),
                sig_b: sign(&a.key),
            },
        ),
        ("a zero signature for A", zero),
        ("A's signature over other counters", a_signed_other),
    ];
    for (what, cert) in &bad {
        for p in [&b, &mallory] {
            w.refused(
                &format!("{} submits a settlement with {what}", p.name),
                Rule::BadSignature,
                p.ledger.close_cooperative(cert),
            )
            .await;
        }
    }
    w.close_cooperative(&b, &good, Pair::new(70, 130)).await;
}

/// A deposit of zero is refused, whoever makes it, and so is a withdrawal of nothing.
pub async fn zero_deposit_is_refused<H: Harness>(h: &H) {
    let mut w = World::new(h, "zero_deposit_is_refused").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    let carol = w.party("carol").await;
    for p in [&a, &b, &carol] {
        w.fund(p, FUNDS).await;
    }
    let id = w.open(&a, w.params(&a, &b, 1), 100).await;
    for (p, role) in [
        (&a, Role::A),
        (&b, Role::B),
        (&carol, Role::A),
        (&a, Role::B),
    ] {
        w.refused(
            &format!("{} deposits 0 for {role}", p.name),
            Rule::ZeroAmount,
            p.ledger.deposit(id, role, 0),
        )
        .await;
    }
    let c = w.cosign(w.withdrawal(id, a.addr(), 0, (0, 0)).await, &a.key, &b.key);
    w.refused(
        "withdrawal of nothing",
        Rule::NotIncreasing,
        a.ledger.withdraw(&c),
    )
    .await;
    let s = w.cosign(w.settlement(id, (0, 0)), &a.key, &b.key);
    w.close_cooperative(&a, &s, Pair::new(100, 0)).await;
}

/// Amounts at the integer limits: a channel may hold exactly `u128::MAX`, a deposit that
/// would pass it (for either party's total or for the sum) is refused and the depositor keeps
/// its funds, counters at `u128::MAX` settle correctly, and a deadline that would pass
/// `u64::MAX` is refused. The faucet never mints more than `u128::MAX` in all.
pub async fn amounts_at_the_integer_limits<H: Harness>(h: &H) {
    const MAX: Amount = Amount::MAX;
    let mut w = World::new(h, "amounts_at_the_integer_limits").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    w.fund(&a, MAX - 1).await;
    w.fund(&b, 1).await;

    // A challenge period of u64::MAX: the deadline would overflow, so the close is refused
    // (the channel can still be closed cooperatively).
    let z = ChannelParams {
        challenge_period: u64::MAX,
        ..w.params(&b, &a, 9)
    };
    let z = w.open(&b, z, 1).await;
    w.refused(
        "a close whose deadline overflows",
        Rule::Overflow,
        b.ledger.start_close(z, None),
    )
    .await;
    let s = w.cosign(w.settlement(z, (0, 0)), &b.key, &a.key);
    w.close_cooperative(&a, &s, Pair::new(1, 0)).await;

    let id = w.open(&a, w.params(&a, &b, 1), MAX - 1).await;
    // A gets 2 back, to deposit again.
    let c = w.cosign(w.withdrawal(id, a.addr(), 2, (0, 0)).await, &a.key, &b.key);
    w.withdraw(&b, &c, 2).await;
    w.refused(
        "A's total deposit would pass u128::MAX",
        Rule::Overflow,
        a.ledger.deposit(id, Role::A, 2),
    )
    .await;
    w.refused(
        "both deposits together would pass u128::MAX",
        Rule::Overflow,
        a.ledger.deposit(id, Role::B, 2),
    )
    .await;
    // Exactly u128::MAX deposited in all.
    w.deposit(&a, id, Role::A, 1).await;
    for (p, role) in [(&b, Role::B), (&b, Role::A), (&a, Role::B)] {
        w.refused(
            &format!("{} deposits 1 for {role} into a full channel", p.name),
            Rule::Overflow,
            p.ledger.deposit(id, role, 1),
        )
        .await;
    }
    // Counters at the limit: B "paid" u128::MAX, then A too.
    let vb = w.voucher(&b.key, id, MAX, u64::MAX);
    let deadline = w.start_close(&a, id, Some(&vb), Pair::new(0, MAX)).await;
    let va = w.voucher(&a.key, id, MAX, u64::MAX);
    w.submit(&b, &va, MAX).await;
    w.advance_to(deadline).await;
    // total = MAX - 2; A = clamp(MAX - 2 - MAX + MAX) = MAX - 2; B = 0.
    w.settle(&b, id, Pair::new(MAX - 2, 0)).await;
}

/// Opening or depositing more than the account holds is refused as insufficient funds,
/// changes nothing, and does not use up the channel id.
pub async fn open_without_funds_is_refused<H: Harness>(h: &H) {
    let mut w = World::new(h, "open_without_funds_is_refused").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    let carol = w.party("carol").await;
    w.fund(&a, 100).await;
    let p = w.params(&a, &b, 1);
    let id = w.id(&p);
    w.watch_unused(id).await;
    w.refused(
        "open with 101 holding 100",
        Refusal::Funds {
            needed: 101,
            available: 100,
        },
        a.ledger.open(&p, 101),
    )
    .await;
    w.refused(
        "open by an account holding nothing",
        Refusal::Funds {
            needed: 1,
            available: 0,
        },
        b.ledger.open(&p, 1),
    )
    .await;
    w.open(&a, p, 100).await;
    w.refused(
        "deposit by an emptied account",
        Refusal::Funds {
            needed: 1,
            available: 0,
        },
        a.ledger.deposit(id, Role::A, 1),
    )
    .await;
    w.refused(
        "deposit of u128::MAX by an account holding nothing",
        Refusal::Funds {
            needed: Amount::MAX,
            available: 0,
        },
        carol.ledger.deposit(id, Role::B, Amount::MAX),
    )
    .await;
    let s = w.cosign(w.settlement(id, (0, 0)), &a.key, &b.key);
    w.close_cooperative(&a, &s, Pair::new(100, 0)).await;
}

/// Unusable parameters (the same party twice, a zero party, a zero challenge period) are
/// refused and the opener keeps its funds.
pub async fn invalid_channel_params_are_refused<H: Harness>(h: &H) {
    let mut w = World::new(h, "invalid_channel_params_are_refused").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    w.fund(&a, FUNDS).await;
    let good = w.params(&a, &b, 1);
    let bad = [
        (
            "A and B the same",
            ChannelParams {
                party_b: a.addr(),
                ..good
            },
            Rule::SameParties,
        ),
        (
            "B the zero address",
            ChannelParams {
                party_b: Address::ZERO,
                ..good
            },
            Rule::ZeroParty,
        ),
        (
            "A the zero address",
            ChannelParams {
                party_a: Address::ZERO,
                ..good
            },
            Rule::ZeroParty,
        ),
        (
            "a zero challenge period",
            ChannelParams {
                challenge_period: 0,
                ..good
            },
            Rule::ZeroChallengePeriod,
        ),
    ];
    for (what, p, rule) in &bad {
        w.watch_unused(w.id(p)).await;
        w.refused(&format!("open with {what}"), *rule, a.ledger.open(p, 10))
            .await;
    }
    let id = w.open(&a, good, 10).await;
    let s = w.cosign(w.settlement(id, (0, 0)), &a.key, &b.key);
    w.close_cooperative(&a, &s, Pair::new(10, 0)).await;
}

/// Every operation on an id that was never opened is refused and creates nothing.
pub async fn unknown_channel_is_refused<H: Harness>(h: &H) {
    let mut w = World::new(h, "unknown_channel_is_refused").await;
    let a = w.party("alice").await;
    let b = w.party("bob").await;
    w.fund(&a, FUNDS).await;
    // Parameters of a channel nobody opened, and an id that is no channel's.
    let never = w.id(&w.params(&a, &b, 1));
    let random = ChannelId(keccak256(b"no such channel"));
    for id in [never, random] {
        w.watch_unused(id).await;
        w.refused(
            "deposit to an unknown channel",
            Rule::UnknownChannel,
            a.ledger.deposit(id, Role::A, 10),
        )
        .await;
        w.refused(
            "start close of an unknown channel",
            Rule::UnknownChannel,
            a.ledger.start_close(id, None),
        )
        .await;
        let v = w.voucher(&a.key, id, 10, 1);
        w.refused(
            "voucher for an unknown channel",
            Rule::UnknownChannel,
            b.ledger.submit_voucher(&v),
        )
        .await;
        w.refused(
            "settle an unknown channel",
            Rule::UnknownChannel,
            b.ledger.settle(id),
        )
        .await;
        let c = w.cosign(w.withdrawal(id, a.addr(), 10, (0, 0)).await, &a.key, &b.key);
        w.refused(
            "withdraw from an unknown channel",
            Rule::UnknownChannel,
            a.ledger.withdraw(&c),
        )
        .await;
        let s = w.cosign(w.settlement(id, (0, 0)), &a.key, &b.key);
        w.refused(
            "cooperative close of an unknown channel",
            Rule::UnknownChannel,
            a.ledger.close_cooperative(&s),
        )
        .await;
    }
}
