//! Unit tests of the manager: every input kind (a proposal, a channel from the ledger, a
//! package, a voucher at each step, a reconnect, a counter sync, an answer) with what it
//! must answer, on channels driven by the reference ledger ([`Bank`]).

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arithmetic_side_effects
)]

use alloy_primitives::{Address, B256};

use super::{replies::Resolution, *};
use crate::{
    adjudicator::LedgerEvent,
    bank::Bank,
    channel::{Phase, SyncRejection, VoucherRejection},
    crypto::SigningKey,
    eip712::{SignedVoucher, memo_of},
    types::{Amount, Role},
    wire::{ErrorBody, Message, Reply},
};

const NOW: u64 = 1_000;

/// A (the payer, `ka`) and B (the manager's node, `kb`) with a channel of A's on a bank.
struct Fx {
    domain: Domain,
    params: ChannelParams,
    ka: SigningKey,
    kb: SigningKey,
    bank: Bank,
    a: Channel,
    b: Channel,
}

impl Fx {
    /// The channel proposed (not opened yet).
    fn proposed() -> Fx {
        let domain = Domain::new(31337, Address::repeat_byte(0xad));
        let ka = SigningKey::from_entropy(&[1; 32]).unwrap();
        let kb = SigningKey::from_entropy(&[2; 32]).unwrap();
        let params = ChannelParams {
            party_a: ka.address(),
            party_b: kb.address(),
            token: Address::ZERO,
            challenge_period: 3_600,
            nonce: B256::repeat_byte(7),
        };
        let mut bank = Bank::new(domain);
        bank.mint(ka.address(), Address::ZERO, 1_000_000).unwrap();
        Fx {
            a: Channel::proposed(params, domain, ka.address(), NOW).unwrap(),
            b: Channel::proposed(params, domain, kb.address(), NOW).unwrap(),
            domain,
            params,
            ka,
            kb,
            bank,
        }
    }

    /// The channel open with A's deposit of `deposit`, both sides told.
    fn open(deposit: Amount) -> Fx {
        let mut fx = Fx::proposed();
        let events = fx.bank.open(fx.ka.address(), fx.params, deposit).unwrap();
        fx.feed(&events);
        fx
    }

    fn feed(&mut self, events: &[LedgerEvent]) {
        for e in events {
            self.a.handle_ledger_event(e);
            self.b.handle_ledger_event(e);
        }
    }

    /// A deposits `amount` more on the ledger; only A is told (B's watcher lags).
    fn deposit_unseen_by_b(&mut self, amount: Amount) {
        let id = self.a.id();
        let events = self
            .bank
            .deposit(self.ka.address(), &id, Role::A, amount)
            .unwrap();
        for e in &events {
            self.a.handle_ledger_event(e);
        }
    }

    fn manager(&self, policy: ChannelPolicy, credit: UnconfirmedCredit) -> Manager {
        Manager::new(
            self.kb.address(),
            self.domain,
            policy,
            DefenceFloor::default(),
            credit,
        )
    }

    fn b_manager(&self) -> Manager {
        self.manager(ChannelPolicy::default(), UnconfirmedCredit::default())
    }

    /// A signs a payment of `amount` for `message`.
    fn a_pays(&mut self, amount: Amount, message: &[u8]) -> SignedVoucher {
        self.a.pay(&self.ka, amount, memo_of(message)).unwrap()
    }

    fn record(&self) -> ChannelRecord {
        self.bank
            .adjudicator()
            .channel(&self.a.id())
            .unwrap()
            .clone()
    }

    fn proposal(&self, deposit: Amount) -> ProposeChannel {
        ProposeChannel {
            params: self.params,
            domain: self.domain,
            deposit,
        }
    }
}

// --- proposals -------------------------------------------------------------------------------

#[test]
fn a_proposal_under_the_policy_gives_a_proposed_channel_to_persist() {
    let fx = Fx::proposed();
    let m = fx.b_manager();
    let channel = m
        .handle_proposal(fx.ka.address(), &fx.proposal(100), false, NOW)
        .unwrap();
    assert_eq!(channel.phase(), &Phase::Proposed { since: NOW });
    assert_eq!(channel.id(), fx.params.id(&fx.domain));
    assert_eq!(channel.me(), fx.kb.address());
    assert_eq!(channel.peer(), fx.ka.address());
}

#[test]
fn a_proposal_is_refused_with_its_typed_reason() {
    let fx = Fx::proposed();
    let strict = fx.manager(
        ChannelPolicy {
            min_deposit: 500,
            ..ChannelPolicy::default()
        },
        UnconfirmedCredit::default(),
    );
    let refused = strict
        .handle_proposal(fx.ka.address(), &fx.proposal(100), false, NOW)
        .unwrap_err();
    assert_eq!(
        refused,
        ProposalRejection::Policy(PolicyRejection::Deposit { got: 100, min: 500 })
    );
    assert_eq!(refused.reason(), "policy.deposit");

    // Proposed by someone who is not party A.
    let m = fx.b_manager();
    let stranger = Address::repeat_byte(0x99);
    let refused = m
        .handle_proposal(stranger, &fx.proposal(100), false, NOW)
        .unwrap_err();
    assert_eq!(refused.reason(), "policy.not_our_parties");

    // The same channel again.
    let refused = m
        .handle_proposal(fx.ka.address(), &fx.proposal(100), true, NOW)
        .unwrap_err();
    assert_eq!(refused, ProposalRejection::Exists(fx.params.id(&fx.domain)));
    assert_eq!(refused.reason(), "proposal.exists");

    // On another ledger.
    let mut other = fx.proposal(100);
    other.domain = Domain::new(1, Address::repeat_byte(0xad));
    let refused = m
        .handle_proposal(fx.ka.address(), &other, false, NOW)
        .unwrap_err();
    assert_eq!(refused.reason(), "policy.other_ledger");
}

// --- channels learned from the ledger --------------------------------------------------------

#[test]
fn a_channel_open_on_the_ledger_is_learned_under_the_policy() {
    let fx = Fx::open(1_000);
    let m = fx.b_manager();
    let record = fx.record();
    let channel = m
        .handle_ledger_channel(fx.params, Some(&record), NOW)
        .unwrap();
    assert_eq!(channel.id(), fx.a.id());
    assert_eq!(channel.phase(), &Phase::Proposed { since: NOW });

    let strict = fx.manager(
        ChannelPolicy {
            min_deposit: 5_000,
            ..ChannelPolicy::default()
        },
        UnconfirmedCredit::default(),
    );
    let refused = strict
        .handle_ledger_channel(fx.params, Some(&record), NOW)
        .unwrap_err();
    assert_eq!(
        refused,
        PackageRejection::Policy(PolicyRejection::Deposit {
            got: 1_000,
            min: 5_000
        })
    );
}

#[test]
fn a_channel_not_open_on_the_ledger_is_not_learned() {
    let mut fx = Fx::open(1_000);
    let m = fx.b_manager();
    let id = fx.a.id();
    assert_eq!(
        m.handle_ledger_channel(fx.params, None, NOW),
        Err(PackageRejection::NotOnLedger { id, known: false })
    );
    // Other parameters than the ledger's (a forged nonce gives another id, but a record
    // handed in by a confused driver must still not match).
    let mut forged = fx.params;
    forged.challenge_period = 7_200;
    let record = fx.record();
    assert!(matches!(
        m.handle_ledger_channel(forged, Some(&record), NOW),
        Err(PackageRejection::NotOnLedger { known: true, .. })
    ));
    // Closing on the ledger.
    let events = fx
        .bank
        .start_close(fx.ka.address(), &id, None, NOW)
        .unwrap();
    fx.feed(&events);
    let record = fx.record();
    assert_eq!(
        m.handle_ledger_channel(fx.params, Some(&record), NOW),
        Err(PackageRejection::NotOnLedger { id, known: true })
    );
}

// --- vouchers --------------------------------------------------------------------------------

#[test]
fn a_voucher_within_the_funds_is_accepted_with_the_next_state() {
    let mut fx = Fx::open(1_000);
    let m = fx.b_manager();
    let v = fx.a_pays(300, b"call");
    let step = m.check_voucher(&fx.b, &v, memo_of(b"call"), Funds::Known);
    let VoucherStep::Accept(accepted) = step else {
        panic!("{step:?}")
    };
    assert_eq!((accepted.amount, accepted.credit), (300, 0));
    assert_eq!(accepted.next.latest_received(), Some(&v));
    // Nothing changed in the channel it was asked about.
    assert_eq!(fx.b.latest_received(), None);
}

#[test]
fn a_replayed_or_mismatched_voucher_is_refused_at_once() {
    let mut fx = Fx::open(1_000);
    let m = fx.b_manager();
    let v = fx.a_pays(300, b"call");
    let VoucherStep::Accept(accepted) = m.check_voucher(&fx.b, &v, memo_of(b"call"), Funds::Known)
    else {
        panic!()
    };
    fx.b = accepted.next;
    // Replayed: refused, never sent to read the ledger.
    for funds in [Funds::Known, Funds::Refreshed, Funds::Credit(1_000)] {
        assert!(matches!(
            m.check_voucher(&fx.b, &v, memo_of(b"call"), funds),
            VoucherStep::Refuse(VoucherRejection::NotMonotonic { .. })
        ));
    }
    let w = fx.a_pays(10, b"other");
    assert!(matches!(
        m.check_voucher(&fx.b, &w, memo_of(b"not it"), Funds::Known),
        VoucherStep::Refuse(VoucherRejection::MemoMismatch { .. })
    ));
}

#[test]
fn a_voucher_over_the_known_funds_asks_for_the_ledger_then_for_credit() {
    let mut fx = Fx::open(100);
    // A deposits 500 more; B has not seen it.
    fx.deposit_unseen_by_b(500);
    let v = fx.a_pays(400, b"big");
    let memo = memo_of(b"big");

    // Without credit: known → refresh; refreshed and still over → refused.
    let m = fx.b_manager();
    assert!(matches!(
        m.check_voucher(&fx.b, &v, memo, Funds::Known),
        VoucherStep::RefreshDeposits {
            over: VoucherRejection::OverBalance { .. }
        }
    ));
    assert!(matches!(
        m.check_voucher(&fx.b, &v, memo, Funds::Refreshed),
        VoucherStep::Refuse(VoucherRejection::OverBalance { .. })
    ));

    // With the deposit applied (as the driver does after RefreshDeposits): accepted.
    let mut refreshed = fx.b.clone();
    let record = fx.record();
    refreshed.handle_ledger_event(&LedgerEvent::Deposited {
        channel_id: fx.a.id(),
        party: Role::A,
        amount: 0,
        total: record.deposited.a,
    });
    let VoucherStep::Accept(accepted) = m.check_voucher(&refreshed, &v, memo, Funds::Refreshed)
    else {
        panic!()
    };
    assert_eq!((accepted.amount, accepted.credit), (400, 0));

    // With credit enabled: refreshed and still over → ask; then the allowance decides.
    let credit = UnconfirmedCredit {
        per_channel: 1_000,
        total: 1_000,
    };
    let m = fx.manager(ChannelPolicy::default(), credit);
    assert!(matches!(
        m.check_voucher(&fx.b, &v, memo, Funds::Refreshed),
        VoucherStep::AskCredit { .. }
    ));
    let VoucherStep::Accept(accepted) = m.check_voucher(&fx.b, &v, memo, Funds::Credit(300)) else {
        panic!()
    };
    assert_eq!((accepted.amount, accepted.credit), (400, 300));
    assert_eq!(accepted.next.exposure(), 300);
    // Not enough credit, or none: refused, and the credit step never asks again.
    for credit in [0, 299] {
        assert!(matches!(
            m.check_voucher(&fx.b, &v, memo, Funds::Credit(credit)),
            VoucherStep::Refuse(VoucherRejection::OverBalance { .. })
        ));
    }
}

#[test]
fn the_credit_allowance_keeps_within_both_limits() {
    let credit = UnconfirmedCredit {
        per_channel: 100,
        total: 250,
    };
    // pending − confirmed, capped per channel and by what the total leaves.
    assert_eq!(credit.allowance(1_050, 1_000, 0), 50);
    assert_eq!(credit.allowance(2_000, 1_000, 0), 100);
    assert_eq!(credit.allowance(2_000, 1_000, 200), 50);
    assert_eq!(credit.allowance(2_000, 1_000, 300), 0);
    // Nothing unconfirmed (or a ledger showing less than confirmed): nothing.
    assert_eq!(credit.allowance(1_000, 1_000, 0), 0);
    assert_eq!(credit.allowance(900, 1_000, 0), 0);
    // Disabled unless both limits are set.
    let off = UnconfirmedCredit {
        per_channel: 100,
        total: 0,
    };
    assert!(!off.enabled());
    assert_eq!(off.allowance(2_000, 1_000, 0), 0);
}

// --- packages --------------------------------------------------------------------------------

#[test]
fn a_good_package_claims_its_channel_and_voucher() {
    let mut fx = Fx::open(1_000);
    let message = serde_json::json!({"call": 1});
    let v = fx.a_pays(10, &serde_json::to_vec(&message).unwrap());
    let package = PaymentPackage::new(&fx.domain, &fx.params, &v, Some(message));
    let claim = package.claim(&fx.domain, fx.kb.address()).unwrap();
    assert_eq!(
        claim,
        Claim {
            params: fx.params,
            voucher: v
        }
    );
    // And what it claims, the manager takes.
    let m = fx.b_manager();
    assert!(matches!(
        m.check_voucher(&fx.b, &claim.voucher, v.voucher.memo, Funds::Known),
        VoucherStep::Accept(_)
    ));
}

#[test]
fn every_package_check_refuses_with_its_reason() {
    let mut fx = Fx::open(1_000);
    let message = serde_json::json!({"call": 1});
    let v = fx.a_pays(10, &serde_json::to_vec(&message).unwrap());
    let good = PaymentPackage::new(&fx.domain, &fx.params, &v, Some(message));
    let me = fx.kb.address();
    let refused = |p: &PaymentPackage| p.claim(&fx.domain, me).unwrap_err().reason();

    let mut p = good.clone();
    p.version = 2;
    assert_eq!(refused(&p), "package.version");
    let mut p = good.clone();
    p.ledger.chain_id = 1;
    assert_eq!(refused(&p), "package.other_ledger");
    let mut p = good.clone();
    p.channel.nonce = B256::repeat_byte(8);
    assert_eq!(refused(&p), "package.channel_id");
    let mut p = good.clone();
    p.voucher.payer = Address::repeat_byte(0x99);
    assert_eq!(refused(&p), "package.not_a_party");
    assert_eq!(
        good.claim(&fx.domain, fx.ka.address())
            .unwrap_err()
            .reason(),
        "package.other_payee"
    );
    let mut p = good.clone();
    p.voucher.cumulative = "11".into();
    assert_eq!(refused(&p), "package.signature");
    let mut p = good.clone();
    p.message = Some(serde_json::json!({"call": 2}));
    assert_eq!(refused(&p), "package.message");
    let mut p = good.clone();
    p.voucher.cumulative = "010".into();
    assert_eq!(refused(&p), "package.malformed");
    // Without its message, the memo stands for one carried beside the package.
    let mut p = good;
    p.message = None;
    assert!(p.claim(&fx.domain, me).is_ok());
}

// --- counter sync ----------------------------------------------------------------------------

#[test]
fn a_reconnect_syncs_only_open_channels_with_that_peer_holding_vouchers() {
    let fx = Fx::proposed();
    let m = fx.b_manager();
    // Proposed: unknown to the peer.
    assert_eq!(m.counter_sync(&fx.b, fx.ka.address()), None);

    let mut fx = Fx::open(1_000);
    // Open, but no voucher either way.
    assert_eq!(m.counter_sync(&fx.b, fx.ka.address()), None);
    let v = fx.a_pays(10, b"x");
    fx.b.handle_voucher(&v, memo_of(b"x")).unwrap();
    assert_eq!(
        m.counter_sync(&fx.b, fx.ka.address()),
        Some(Message::CounterSync {
            channel_id: fx.b.id(),
            yours: Some(v),
            mine: None,
        })
    );
    // Another peer's reconnect.
    assert_eq!(m.counter_sync(&fx.b, Address::repeat_byte(0x99)), None);
}

#[test]
fn a_counter_sync_recovers_what_a_restore_lost_both_ways() {
    let mut fx = Fx::open(1_000);
    let m = fx.b_manager();
    let snapshot = fx.b.clone();
    let v = fx.a_pays(250, b"x");
    fx.b.handle_voucher(&v, memo_of(b"x")).unwrap();

    // B restored an older snapshot: A's resent voucher gives the lost 250 back.
    let mut restored = snapshot.clone();
    let outcome = m.handle_counter_sync(&mut restored, None, Some(&v));
    assert_eq!(outcome.recovered, 250);
    assert!(outcome.changed());
    assert_eq!(restored.latest_received(), Some(&v));
    // The same again changes nothing.
    let again = m.handle_counter_sync(&mut restored, None, Some(&v));
    assert!(!again.changed());

    // A forged copy of "our" voucher is refused and changes nothing.
    let forged = SignedVoucher {
        voucher: crate::eip712::Voucher {
            payer: fx.kb.address(),
            ..v.voucher
        },
        signature: v.signature,
    };
    let mut b = fx.b.clone();
    let outcome = m.handle_counter_sync(&mut b, Some(&forged), None);
    assert_eq!(outcome.ours_refused, Some(SyncRejection::BadSignature));
    assert!(!outcome.changed());
    assert_eq!(b, fx.b);
    // A's copy of a voucher of A's is not ours.
    let outcome = m.handle_counter_sync(&mut b, Some(&v), None);
    assert_eq!(outcome.ours_refused, Some(SyncRejection::NotOurs));

    // An older resent voucher than the one B holds: refused, harmless.
    let w = fx.a_pays(5, b"y");
    fx.b.handle_voucher(&w, memo_of(b"y")).unwrap();
    let mut b = fx.b.clone();
    let outcome = m.handle_counter_sync(&mut b, None, Some(&v));
    assert!(matches!(
        outcome.theirs_refused,
        Some(VoucherRejection::NotMonotonic { .. })
    ));
    assert!(!outcome.changed());
}

#[test]
fn a_counter_sync_raises_our_counter_to_the_peers_copy() {
    // B pays A (B's deposit), then B loses its counter in a restore.
    let mut fx = Fx::open(1_000);
    let events = fx
        .bank
        .deposit(fx.ka.address(), &fx.a.id(), Role::B, 500)
        .unwrap();
    fx.feed(&events);
    let m = fx.b_manager();
    let before = fx.b.clone();
    let paid = fx.b.pay(&fx.kb, 70, memo_of(b"z")).unwrap();
    fx.a.handle_voucher(&paid, memo_of(b"z")).unwrap();
    let mut restored = before;
    let outcome = m.handle_counter_sync(&mut restored, Some(&paid), None);
    assert!(outcome.counter_moved && outcome.changed());
    assert_eq!(restored.latest_sent(), Some(&paid));
    // The next voucher B signs goes above the one A holds.
    let next = restored.pay(&fx.kb, 1, memo_of(b"w")).unwrap();
    assert!(next.voucher.sequence > paid.voucher.sequence);
    assert_eq!(next.voucher.cumulative, 71);
}

// --- replies ---------------------------------------------------------------------------------

fn pay_result(request_id: u64, channel_id: ChannelId) -> Message {
    Message::PayResult {
        request_id,
        channel_id,
        reply: Reply::Ok(b"{}".to_vec()),
    }
}

#[test]
fn an_answer_wakes_only_its_waiter_and_only_from_its_peer() {
    let (p, q) = (Address::repeat_byte(1), Address::repeat_byte(2));
    let channel = ChannelId(B256::repeat_byte(9));
    let mut replies = Replies::new();
    replies.expect_request(p, 7, "pay 7");
    replies.expect_request(q, 8, "pay 8");
    assert_eq!(
        replies.expect(p, channel, Wait::Withdrawal, "withdraw"),
        None
    );

    // From the wrong peer: nobody is woken, the waiter stays.
    assert_eq!(
        replies.resolve(q, &pay_result(7, channel)),
        Resolution::Answer(vec![])
    );
    assert_eq!(
        replies.resolve(p, &pay_result(7, channel)),
        Resolution::Answer(vec!["pay 7"])
    );
    // Answered once: a duplicate wakes nobody.
    assert_eq!(
        replies.resolve(p, &pay_result(7, channel)),
        Resolution::Answer(vec![])
    );
    let signature = Message::WithdrawSignature {
        channel_id: channel,
        signature: crate::crypto::Signature([0; 65].into()),
    };
    assert_eq!(
        replies.resolve(p, &signature),
        Resolution::Answer(vec!["withdraw"])
    );
    // Requests and notices are not answers.
    assert_eq!(
        replies.resolve(p, &Message::Ping { nonce: 1 }),
        Resolution::NotAnAnswer
    );
    assert_eq!(replies.len(), 1);
}

#[test]
fn an_error_answers_its_request_or_every_wait_of_its_channel() {
    let p = Address::repeat_byte(1);
    let channel = ChannelId(B256::repeat_byte(9));
    let mut replies = Replies::new();
    replies.expect_request(p, 7, "pay");
    replies.expect(p, channel, Wait::Proposal, "proposal");
    replies.expect(p, channel, Wait::Settlement, "settle");
    let error = |request_id, channel_id| Message::Error {
        channel_id,
        request_id,
        error: ErrorBody::new(ErrorBody::INTERNAL, "no"),
    };
    assert_eq!(
        replies.resolve(p, &error(Some(7), Some(channel))),
        Resolution::Answer(vec!["pay"])
    );
    let Resolution::Answer(mut woken) = replies.resolve(p, &error(None, Some(channel))) else {
        panic!()
    };
    woken.sort_unstable();
    assert_eq!(woken, vec!["proposal", "settle"]);
    assert!(replies.is_empty());
    // An error about nothing we wait for wakes nobody.
    assert_eq!(
        replies.resolve(p, &error(None, None)),
        Resolution::Answer(vec![])
    );
}

#[test]
fn a_lost_peer_fails_its_waiters_and_forgetting_stops_waiting() {
    let (p, q) = (Address::repeat_byte(1), Address::repeat_byte(2));
    let channel = ChannelId(B256::repeat_byte(9));
    let mut replies = Replies::new();
    replies.expect_request(p, 1, "p1");
    replies.expect_request(q, 2, "q2");
    replies.expect(p, channel, Wait::Proposal, "p-proposal");
    // A second exchange of a kind replaces the first.
    assert_eq!(
        replies.expect(p, channel, Wait::Proposal, "p-proposal-2"),
        Some("p-proposal")
    );
    let mut failed = replies.fail_peer(p);
    failed.sort_unstable();
    assert_eq!(failed, vec!["p-proposal-2", "p1"]);
    assert_eq!(replies.forget_request(2), Some("q2"));
    assert!(replies.is_empty());
}

// --- ledger events ---------------------------------------------------------------------------

#[test]
fn ledger_events_are_applied_and_each_change_reported_once() {
    let mut fx = Fx::proposed();
    let m = fx.b_manager();
    let open = fx.bank.open(fx.ka.address(), fx.params, 1_000).unwrap();
    let mut b = fx.b.clone();
    let outcome = m.handle_ledger_events(&mut b, &open);
    assert_eq!(
        outcome.changes,
        vec![
            ChannelChange::Opened,
            ChannelChange::Deposited {
                party: Role::A,
                amount: 1_000
            }
        ]
    );
    assert!(outcome.actions.is_empty());
    // The watcher brings the same events again: nothing new to report.
    let again = m.handle_ledger_events(&mut b, &open);
    assert_eq!(again, LedgerOutcome::default());
    // Events of another channel are not ours.
    let mut other = fx.params;
    other.nonce = B256::repeat_byte(8);
    let theirs = fx.bank.open(fx.ka.address(), other, 5).unwrap();
    let before = b.clone();
    assert_eq!(
        m.handle_ledger_events(&mut b, &theirs),
        LedgerOutcome::default()
    );
    assert_eq!(b, before);
}

#[test]
fn a_close_counting_less_than_our_voucher_asks_to_submit_it_then_reports_the_payout() {
    let mut fx = Fx::open(1_000);
    let m = fx.b_manager();
    let v = fx.a_pays(400, b"x");
    fx.b.handle_voucher(&v, memo_of(b"x")).unwrap();
    // A closes with nothing counted: B must submit A's voucher.
    let id = fx.a.id();
    let close = fx
        .bank
        .start_close(fx.ka.address(), &id, None, NOW)
        .unwrap();
    let outcome = m.handle_ledger_events(&mut fx.b, &close);
    assert_eq!(
        outcome.changes,
        vec![ChannelChange::CloseStarted {
            by: Role::A,
            deadline: NOW + 3_600
        }]
    );
    assert_eq!(
        outcome.actions,
        vec![crate::channel::LedgerAction::SubmitVoucher(v)]
    );
    let submitted = fx.bank.submit_voucher(&v, NOW + 1).unwrap();
    m.handle_ledger_events(&mut fx.b, &submitted);
    let settled = fx.bank.settle(&id, NOW + 3_600).unwrap();
    let outcome = m.handle_ledger_events(&mut fx.b, &settled);
    assert_eq!(
        outcome.changes,
        vec![ChannelChange::Closed { received: 400 }]
    );
}
