//! Conformance cases: every other refusal of the ledger rules (expiry, deadlines, strangers,
//! twice, closing, reuse, zero and limit amounts, funds, parameters, unknown channels).

#[allow(clippy::wildcard_imports)]
use super::*;

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
