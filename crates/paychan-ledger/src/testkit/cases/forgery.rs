//! Conformance cases: forged, tampered, foreign and replayed signatures, stale vouchers, and
//! colluding parties.

#[allow(clippy::wildcard_imports)]
use super::*;

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
