//! Unit tests of the channel state machine: one per rejection reason, and the happy paths
//! checked against the ledger rules.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use alloy_primitives::{Address, B256, FixedBytes, keccak256};

use super::*;
use crate::{adjudicator::LedgerEvent, bank::Bank, crypto::SignatureError, eip712::memo_of};

const NOW: u64 = 1_000;

struct Fx {
    domain: Domain,
    params: ChannelParams,
    ka: SigningKey,
    kb: SigningKey,
    a: Channel,
    b: Channel,
    bank: Bank,
}

impl Fx {
    /// A channel with `dep_a` and `dep_b` deposited, opened on a bank, both parties fed
    /// the events.
    fn new(dep_a: Amount, dep_b: Amount) -> Fx {
        let domain = Domain::new(31337, Address::repeat_byte(0xad));
        let ka = SigningKey::from_entropy(&[1; 32]).unwrap();
        let kb = SigningKey::from_entropy(&[2; 32]).unwrap();
        let params = ChannelParams {
            party_a: ka.address(),
            party_b: kb.address(),
            token: Address::ZERO,
            challenge_period: 100,
            nonce: B256::repeat_byte(7),
        };
        let mut bank = Bank::new(domain);
        bank.mint(ka.address(), Address::ZERO, 1_000_000).unwrap();
        bank.mint(kb.address(), Address::ZERO, 1_000_000).unwrap();
        let mut fx = Fx {
            a: Channel::new(params, domain, ka.address()).unwrap(),
            b: Channel::new(params, domain, kb.address()).unwrap(),
            domain,
            params,
            ka,
            kb,
            bank,
        };
        let ev = fx.bank.open(fx.ka.address(), params, dep_a).unwrap();
        fx.feed(&ev);
        if dep_b > 0 {
            let id = fx.a.id();
            let ev = fx
                .bank
                .deposit(fx.kb.address(), &id, Role::B, dep_b)
                .unwrap();
            fx.feed(&ev);
        }
        fx
    }

    fn feed(&mut self, events: &[LedgerEvent]) -> Vec<LedgerAction> {
        let mut actions = vec![];
        for e in events {
            actions.extend(self.a.handle_ledger_event(e));
            actions.extend(self.b.handle_ledger_event(e));
        }
        actions
    }

    /// A pays B `amount` for `msg`; B accepts.
    fn a_pays(&mut self, amount: Amount, msg: &[u8]) -> SignedVoucher {
        let v = self.a.pay(&self.ka, amount, memo_of(msg)).unwrap();
        assert_eq!(self.b.handle_voucher(&v, memo_of(msg)).unwrap(), amount);
        v
    }

    fn b_pays(&mut self, amount: Amount, msg: &[u8]) -> SignedVoucher {
        let v = self.b.pay(&self.kb, amount, memo_of(msg)).unwrap();
        assert_eq!(self.a.handle_voucher(&v, memo_of(msg)).unwrap(), amount);
        v
    }
}

fn resign(v: &Voucher, domain: &Domain, key: &SigningKey) -> SignedVoucher {
    SignedVoucher {
        voucher: *v,
        signature: v.sign(domain, key),
    }
}

#[test]
fn payments_both_ways_move_balances() {
    let mut fx = Fx::new(100, 50);
    fx.a_pays(30, b"{\"call\":1}");
    fx.b_pays(10, b"");
    fx.a_pays(5, b"x");
    let a = fx.a.balances();
    let b = fx.b.balances();
    assert_eq!((a.paid_by_me, a.paid_by_peer), (35, 10));
    assert_eq!((b.paid_by_me, b.paid_by_peer), (10, 35));
    assert_eq!(a.my_available, 100 - 35 + 10);
    assert_eq!(b.my_available, 50 - 10 + 35);
    assert_eq!(a.my_available, b.peer_available);
    assert_eq!(fx.a.expected_payouts(), Some(Pair::new(75, 75)));
    assert_eq!(fx.a.expected_payouts(), fx.b.expected_payouts());
}

#[test]
fn pay_refuses_zero_over_balance_wrong_key_and_closed() {
    let mut fx = Fx::new(100, 0);
    assert_eq!(
        fx.a.pay(&fx.ka, 0, B256::ZERO),
        Err(CommandError::ZeroAmount)
    );
    assert_eq!(
        fx.a.pay(&fx.ka, 101, B256::ZERO),
        Err(CommandError::InsufficientBalance {
            requested: 101,
            available: 100
        })
    );
    assert!(matches!(
        fx.a.pay(&fx.kb, 1, B256::ZERO),
        Err(CommandError::WrongKey { .. })
    ));
    assert_eq!(
        fx.b.pay(&fx.kb, 1, B256::ZERO),
        Err(CommandError::InsufficientBalance {
            requested: 1,
            available: 0
        })
    );
    let before = fx.a.clone();
    fx.a.start_close().unwrap();
    assert_eq!(
        fx.a.pay(&fx.ka, 1, B256::ZERO),
        Err(CommandError::NotOpen("close requested"))
    );
    // Nothing was signed by the refused calls: the counter is where it was.
    assert_eq!(before.sent_sequence(), fx.a.sent_sequence());
}

#[test]
fn pay_refuses_counter_overflow() {
    let mut fx = Fx::new(0, 0);
    let id = fx.a.id();
    for (party, total) in [(Role::A, Amount::MAX), (Role::B, 1)] {
        fx.feed(&[LedgerEvent::Deposited {
            channel_id: id,
            party,
            amount: total,
            total,
        }]);
    }
    fx.a_pays(Amount::MAX, b"");
    fx.b_pays(1, b"");
    assert_eq!(fx.a.pay(&fx.ka, 1, B256::ZERO), Err(CommandError::Overflow));
}

#[test]
fn voucher_for_another_channel_or_ledger_is_refused() {
    let mut fx = Fx::new(100, 0);
    let v = fx.a.pay(&fx.ka, 10, B256::ZERO).unwrap();
    // Another channel of the same parties.
    let mut other = v.voucher;
    other.channel_id = ChannelId(B256::repeat_byte(1));
    let other = resign(&other, &fx.domain, &fx.ka);
    assert!(matches!(
        fx.b.handle_voucher(&other, B256::ZERO),
        Err(VoucherRejection::WrongChannel { .. })
    ));
    // The same voucher signed under another ledger's domain does not recover to A here.
    let foreign = Domain::new(1, Address::repeat_byte(0xee));
    let replayed = resign(&v.voucher, &foreign, &fx.ka);
    assert!(matches!(
        fx.b.handle_voucher(&replayed, B256::ZERO),
        Err(VoucherRejection::ForeignSigner(_))
    ));
    assert!(fx.b.latest_received().is_none());
    assert_eq!(fx.b.handle_voucher(&v, B256::ZERO), Ok(10));
}

#[test]
fn voucher_from_someone_else_or_forged_is_refused() {
    let mut fx = Fx::new(100, 0);
    let v = fx.a.pay(&fx.ka, 10, B256::ZERO).unwrap();
    let mut wrong_payer = v.voucher;
    wrong_payer.payer = fx.kb.address();
    let wrong_payer = resign(&wrong_payer, &fx.domain, &fx.kb);
    assert!(matches!(
        fx.b.handle_voucher(&wrong_payer, B256::ZERO),
        Err(VoucherRejection::WrongPayer { .. })
    ));
    // A stranger signs a voucher in A's name.
    let mallory = SigningKey::from_entropy(&[66; 32]).unwrap();
    let forged = resign(&v.voucher, &fx.domain, &mallory);
    assert_eq!(
        fx.b.handle_voucher(&forged, B256::ZERO),
        Err(VoucherRejection::ForeignSigner(mallory.address()))
    );
    // Tampered amount under A's real signature.
    let mut tampered = v;
    tampered.voucher.cumulative = 11;
    assert!(matches!(
        fx.b.handle_voucher(&tampered, B256::ZERO),
        Err(VoucherRejection::ForeignSigner(_))
    ));
    // Garbage signature bytes.
    let mut garbage = v;
    garbage.signature = Signature(FixedBytes([0; 65]));
    assert!(matches!(
        fx.b.handle_voucher(&garbage, B256::ZERO),
        Err(VoucherRejection::BadSignature(SignatureError::InvalidV(0)))
    ));
    assert!(fx.b.latest_received().is_none());
}

#[test]
fn replayed_duplicated_and_reordered_vouchers_are_refused() {
    let mut fx = Fx::new(100, 0);
    let v1 = fx.a.pay(&fx.ka, 10, B256::ZERO).unwrap();
    let v2 = fx.a.pay(&fx.ka, 10, B256::ZERO).unwrap();
    assert_eq!(fx.b.handle_voucher(&v2, B256::ZERO), Ok(20));
    // v1 arrives late: reordered; v2 again: duplicate.
    for v in [v1, v2] {
        assert!(matches!(
            fx.b.handle_voucher(&v, B256::ZERO),
            Err(VoucherRejection::NotMonotonic { .. })
        ));
    }
    // Higher sequence but lower cumulative (a payer trying to take back money).
    let mut lower = v2.voucher;
    lower.sequence = 9;
    lower.cumulative = 5;
    let lower = resign(&lower, &fx.domain, &fx.ka);
    assert_eq!(
        fx.b.handle_voucher(&lower, B256::ZERO),
        Err(VoucherRejection::NotMonotonic {
            sequence: 9,
            last_sequence: 2,
            cumulative: 5,
            last_cumulative: 20
        })
    );
    assert_eq!(fx.b.balances().paid_by_peer, 20);
}

#[test]
fn voucher_with_wrong_memo_is_refused() {
    let mut fx = Fx::new(100, 0);
    let v = fx.a.pay(&fx.ka, 10, memo_of(b"request 1")).unwrap();
    assert_eq!(
        fx.b.handle_voucher(&v, memo_of(b"request 2")),
        Err(VoucherRejection::MemoMismatch {
            expected: memo_of(b"request 2"),
            got: memo_of(b"request 1")
        })
    );
    assert_eq!(memo_of(b""), B256::ZERO);
    assert_eq!(memo_of(b"a"), keccak256(b"a"));
}

#[test]
fn voucher_over_the_payers_balance_is_refused() {
    let mut fx = Fx::new(100, 0);
    let v = fx.a.pay(&fx.ka, 100, B256::ZERO).unwrap();
    let mut over = v.voucher;
    over.cumulative = 101;
    let over = resign(&over, &fx.domain, &fx.ka);
    assert_eq!(
        fx.b.handle_voucher(&over, B256::ZERO),
        Err(VoucherRejection::OverBalance {
            cumulative: 101,
            limit: 100
        })
    );
    assert_eq!(fx.b.handle_voucher(&v, B256::ZERO), Ok(100));
}

#[test]
fn credit_accepts_vouchers_ahead_of_a_deposit_and_exposure_ends_when_it_confirms() {
    let mut fx = Fx::new(100, 0);
    let id = fx.a.id();
    // A deposits 50 more; B's view has not seen it confirmed yet, A's has (A made it).
    let ev = fx.bank.deposit(fx.ka.address(), &id, Role::A, 50).unwrap();
    for e in &ev {
        fx.a.handle_ledger_event(e);
    }
    let v = fx.a.pay(&fx.ka, 130, B256::ZERO).unwrap();
    // Without credit, over A's confirmed 100; with 20 of credit, still over; with 30, taken.
    assert_eq!(
        fx.b.clone().handle_voucher_with_credit(&v, B256::ZERO, 20),
        Err(VoucherRejection::OverBalance {
            cumulative: 130,
            limit: 120
        })
    );
    assert_eq!(fx.b.exposure(), 0);
    assert_eq!(fx.b.handle_voucher_with_credit(&v, B256::ZERO, 30), Ok(130));
    assert_eq!(fx.b.exposure(), 30, "130 paid against 100 confirmed");
    assert_eq!(fx.b.available(Role::A), 0);
    // The deposit confirms: nothing is at risk any more, and A may spend the rest.
    for e in &ev {
        fx.b.handle_ledger_event(e);
    }
    assert_eq!(fx.b.exposure(), 0);
    assert_eq!(fx.b.available(Role::A), 20);
    // The ledger pays what the vouchers say.
    let payouts = fx.b.expected_payouts().unwrap();
    assert_eq!((payouts.a, payouts.b), (20, 130));
}

#[test]
fn voucher_refused_once_the_channel_is_not_open() {
    let mut fx = Fx::new(100, 0);
    let v = fx.a.pay(&fx.ka, 10, B256::ZERO).unwrap();
    fx.b.start_close().unwrap();
    assert_eq!(
        fx.b.handle_voucher(&v, B256::ZERO),
        Err(VoucherRejection::NotOpen("close requested"))
    );
}

#[test]
fn resent_voucher_needs_no_memo_and_is_idempotent() {
    let mut fx = Fx::new(100, 0);
    let v = fx.a.pay(&fx.ka, 10, memo_of(b"lost message")).unwrap();
    assert_eq!(fx.b.handle_resent_voucher(&v), Ok(10));
    assert_eq!(fx.b.handle_resent_voucher(&v), Ok(0));
    assert_eq!(fx.b.balances().paid_by_peer, 10);
}

#[test]
fn payer_restored_from_old_snapshot_recovers_its_counter_from_the_peer() {
    let mut fx = Fx::new(100, 0);
    fx.a_pays(10, b"");
    let snapshot = fx.a.clone();
    fx.a_pays(20, b"");
    fx.a = snapshot; // A lost its latest voucher (cumulative 30, sequence 2).
    // A's next voucher reuses sequence 2: B refuses it.
    let stale = fx.a.pay(&fx.ka, 5, B256::ZERO).unwrap();
    assert!(matches!(
        fx.b.handle_voucher(&stale, B256::ZERO),
        Err(VoucherRejection::NotMonotonic { .. })
    ));
    // Reconnect: B sends its copy of A's latest voucher.
    let copy = *fx.b.latest_received().unwrap();
    assert_eq!(fx.a.handle_counter_sync(&copy), Ok(true));
    assert_eq!(fx.a.balances().paid_by_me, 30);
    assert_eq!(fx.a.handle_counter_sync(&copy), Ok(false));
    fx.a_pays(5, b"");
    assert_eq!(fx.b.balances().paid_by_peer, 35);
}

#[test]
fn counter_sync_refuses_foreign_or_forged_copies() {
    let mut fx = Fx::new(100, 50);
    let b_voucher = fx.b.pay(&fx.kb, 5, B256::ZERO).unwrap();
    assert_eq!(
        fx.a.handle_counter_sync(&b_voucher),
        Err(SyncRejection::NotOurs)
    );
    let mut forged = fx.a.pay(&fx.ka, 5, B256::ZERO).unwrap();
    forged.voucher.cumulative = 90;
    assert_eq!(
        fx.a.handle_counter_sync(&forged),
        Err(SyncRejection::BadSignature)
    );
    assert_eq!(fx.a.balances().paid_by_me, 5);
}

#[test]
fn withdrawal_while_open_is_cosigned_and_executed() {
    let mut fx = Fx::new(100, 50);
    fx.a_pays(30, b"");
    fx.b_pays(10, b"");
    let (w, sig_a) = fx.a.propose_withdrawal(&fx.ka, 40, NOW + 60, NOW).unwrap();
    assert_eq!((w.total_withdrawn, w.paid_by_a, w.paid_by_b), (40, 30, 10));
    // Reserved at once on both sides.
    assert_eq!(fx.a.available(Role::A), 100 - 30 + 10 - 40);
    let sig_b =
        fx.b.handle_withdrawal_request(&fx.kb, &w, &sig_a, NOW)
            .unwrap();
    assert_eq!(fx.b.available(Role::A), 40);
    let cert = fx.a.handle_withdrawal_signature(&sig_b).unwrap();
    let before = fx.bank.balance(fx.ka.address(), Address::ZERO);
    let ev = fx.bank.withdraw(&cert, NOW).unwrap();
    fx.feed(&ev);
    assert_eq!(fx.bank.balance(fx.ka.address(), Address::ZERO), before + 40);
    assert_eq!(fx.a.ledger().withdrawn.a, 40);
    assert_eq!(fx.a.ledger().floors, Pair::new(30, 10));
    assert_eq!(fx.a.available(Role::A), 40);
    // A cannot pay what it withdrew, and B would refuse it.
    assert!(fx.a.pay(&fx.ka, 41, B256::ZERO).is_err());
    // The same certificate again is refused by the ledger.
    assert!(fx.bank.withdraw(&cert, NOW).is_err());
    assert_eq!(fx.bank.total(Address::ZERO), fx.bank.supply(Address::ZERO));
}

#[test]
fn withdrawal_commands_refuse_bad_requests() {
    let mut fx = Fx::new(100, 0);
    assert_eq!(
        fx.a.propose_withdrawal(&fx.ka, 0, NOW + 1, NOW),
        Err(CommandError::ZeroAmount)
    );
    assert_eq!(
        fx.a.propose_withdrawal(&fx.ka, 1, NOW, NOW),
        Err(CommandError::Expired {
            expiry: NOW,
            now: NOW
        })
    );
    assert!(matches!(
        fx.a.propose_withdrawal(&fx.ka, 101, NOW + 1, NOW),
        Err(CommandError::InsufficientBalance { .. })
    ));
    assert_eq!(
        fx.a.handle_withdrawal_signature(&Signature(FixedBytes([0; 65]))),
        Err(CommandError::NothingPending)
    );
    let (_, sig_a) = fx.a.propose_withdrawal(&fx.ka, 10, NOW + 10, NOW).unwrap();
    assert_eq!(
        fx.a.propose_withdrawal(&fx.ka, 10, NOW + 10, NOW),
        Err(CommandError::WithdrawalPending)
    );
    // A's own signature is not B's.
    assert_eq!(
        fx.a.handle_withdrawal_signature(&sig_a),
        Err(CommandError::BadPeerSignature)
    );
    // After expiry the reservation is released.
    assert_eq!(fx.a.available(Role::A), 90);
    fx.a.handle_time(NOW + 10);
    assert_eq!(fx.a.available(Role::A), 100);
    assert!(fx.a.propose_withdrawal(&fx.ka, 10, NOW + 20, NOW).is_ok());
}

#[test]
fn withdrawal_requests_that_would_take_our_money_are_refused() {
    let mut fx = Fx::new(100, 50);
    fx.a_pays(30, b"");
    fx.b_pays(10, b"");
    let base = Withdrawal {
        channel_id: fx.a.id(),
        party: fx.ka.address(),
        total_withdrawn: 20,
        paid_by_a: 30,
        paid_by_b: 10,
        expiry: NOW + 60,
    };
    let check = |fx: &mut Fx, w: Withdrawal, signer: &SigningKey| {
        let sig = w.sign(&fx.domain, signer);
        let before = fx.b.clone();
        let r =
            fx.b.handle_withdrawal_request(&fx.kb.clone(), &w, &sig, NOW);
        if r.is_err() {
            assert_eq!(fx.b, before, "a refusal changes nothing");
        }
        r
    };
    let ka = fx.ka.clone();
    let w = Withdrawal {
        channel_id: ChannelId(B256::repeat_byte(3)),
        ..base
    };
    assert!(matches!(
        check(&mut fx, w, &ka),
        Err(CertificateRejection::WrongChannel(_))
    ));
    let w = Withdrawal {
        party: fx.kb.address(),
        ..base
    };
    assert!(matches!(
        check(&mut fx, w, &ka),
        Err(CertificateRejection::WrongParty(_))
    ));
    let w = Withdrawal {
        expiry: NOW,
        ..base
    };
    assert!(matches!(
        check(&mut fx, w, &ka),
        Err(CertificateRejection::Expired { .. })
    ));
    // A claims it paid only 0: it would take back the 30 it paid B.
    let w = Withdrawal {
        paid_by_a: 0,
        ..base
    };
    assert_eq!(
        check(&mut fx, w, &ka),
        Err(CertificateRejection::PeerCounterTooLow {
            claimed: 0,
            known: 30
        })
    );
    // A claims B paid 50: B only ever signed 10.
    let w = Withdrawal {
        paid_by_b: 50,
        ..base
    };
    assert_eq!(
        check(&mut fx, w, &ka),
        Err(CertificateRejection::OurCounterTooHigh {
            claimed: 50,
            known: 10
        })
    );
    let w = Withdrawal {
        total_withdrawn: 81,
        ..base
    };
    assert!(matches!(
        check(&mut fx, w, &ka),
        Err(CertificateRejection::OverBalance { .. })
    ));
    let w = Withdrawal {
        total_withdrawn: 0,
        ..base
    };
    assert_eq!(
        check(&mut fx, w, &ka),
        Err(CertificateRejection::NotIncreasing(0))
    );
    let mallory = SigningKey::from_entropy(&[66; 32]).unwrap();
    assert_eq!(
        check(&mut fx, base, &mallory),
        Err(CertificateRejection::BadSignature)
    );
    assert!(check(&mut fx, base, &ka).is_ok());
    fx.b.start_close().unwrap();
    let w = Withdrawal {
        total_withdrawn: 30,
        ..base
    };
    assert!(matches!(
        check(&mut fx, w, &ka),
        Err(CertificateRejection::NotOpen(_))
    ));
}

#[test]
fn cooperative_settlement_pays_what_the_vouchers_say() {
    let mut fx = Fx::new(100, 50);
    fx.a_pays(30, b"");
    fx.b_pays(10, b"");
    let (s, sig_a) = fx.a.propose_settlement(&fx.ka).unwrap();
    assert!(
        fx.a.pay(&fx.ka, 1, B256::ZERO).is_err(),
        "payments stop once we signed"
    );
    let sig_b = fx.b.handle_settlement_request(&fx.kb, &s, &sig_a).unwrap();
    let cert = fx.a.handle_settlement_signature(&sig_b).unwrap();
    let ev = fx.bank.close_cooperative(&cert).unwrap();
    fx.feed(&ev);
    assert_eq!(
        fx.a.phase(),
        &Phase::Closed {
            payouts: Pair::new(80, 70)
        }
    );
    assert_eq!(fx.b.phase(), fx.a.phase());
    assert_eq!(
        fx.bank.balance(fx.ka.address(), Address::ZERO),
        1_000_000 - 100 + 80
    );
    assert_eq!(
        fx.bank.balance(fx.kb.address(), Address::ZERO),
        1_000_000 - 50 + 70
    );
    assert!(
        fx.bank.close_cooperative(&cert).is_err(),
        "settled only once"
    );
}

#[test]
fn settlement_requests_that_would_take_our_money_are_refused() {
    let mut fx = Fx::new(100, 50);
    fx.a_pays(30, b"");
    fx.b_pays(10, b"");
    let ka = fx.ka.clone();
    let kb = fx.kb.clone();
    let good = Settlement {
        channel_id: fx.a.id(),
        paid_by_a: 30,
        paid_by_b: 10,
    };
    let mut try_b = |s: Settlement, signer: &SigningKey| {
        let sig = s.sign(&fx.domain, signer);
        fx.b.handle_settlement_request(&kb, &s, &sig)
    };
    assert!(matches!(
        try_b(
            Settlement {
                channel_id: ChannelId(B256::ZERO),
                ..good
            },
            &ka
        ),
        Err(CertificateRejection::WrongChannel(_))
    ));
    assert!(matches!(
        try_b(
            Settlement {
                paid_by_a: 29,
                ..good
            },
            &ka
        ),
        Err(CertificateRejection::PeerCounterTooLow { .. })
    ));
    assert!(matches!(
        try_b(
            Settlement {
                paid_by_b: 11,
                ..good
            },
            &ka
        ),
        Err(CertificateRejection::OurCounterTooHigh { .. })
    ));
    assert_eq!(try_b(good, &kb), Err(CertificateRejection::BadSignature));
    assert!(try_b(good, &ka).is_ok());
    assert!(matches!(fx.b.phase(), Phase::Settling { .. }));
    assert_eq!(
        fx.a.handle_settlement_signature(&Signature(FixedBytes([0; 65]))),
        Err(CommandError::NothingPending)
    );
}

#[test]
fn unilateral_close_by_the_peer_triggers_the_watcher() {
    let mut fx = Fx::new(100, 50);
    let old = fx.a_pays(10, b"");
    fx.a_pays(20, b"");
    fx.b_pays(5, b"");
    // A cheats: starts a close presenting nothing and then submits its own stale voucher.
    let id = fx.a.id();
    let inputs = fx.a.start_close().unwrap();
    assert_eq!(inputs.voucher.map(|v| v.voucher.cumulative), Some(5));
    let ev = fx
        .bank
        .start_close(fx.ka.address(), &id, None, NOW)
        .unwrap();
    let actions = fx.feed(&ev);
    // B's watcher asks to submit A's latest voucher (30), not the stale one.
    let [LedgerAction::SubmitVoucher(best)] = actions.as_slice() else {
        panic!("expected one submission, got {actions:?}")
    };
    assert_eq!(best.voucher.cumulative, 30);
    let ev = fx.bank.submit_voucher(best, NOW + 1).unwrap();
    assert!(fx.feed(&ev).is_empty());
    let ev = fx.bank.submit_voucher(&old, NOW + 2).unwrap();
    assert!(
        fx.feed(&ev).is_empty(),
        "a stale voucher lowers nothing, nothing to do"
    );
    assert!(!fx.b.settle_due(NOW + 99));
    assert!(fx.b.settle_due(NOW + 100));
    assert!(fx.bank.settle(&id, NOW + 99).is_err());
    let ev = fx.bank.settle(&id, NOW + 100).unwrap();
    fx.feed(&ev);
    // B's view: A paid 30 (but B's own payment of 5 was never presented by A).
    assert_eq!(
        fx.b.phase(),
        &Phase::Closed {
            payouts: Pair::new(70, 80)
        }
    );
    assert_eq!(fx.bank.total(Address::ZERO), fx.bank.supply(Address::ZERO));
}

#[test]
fn ledger_events_are_idempotent_and_scoped_to_the_channel() {
    let mut fx = Fx::new(100, 50);
    let snapshot = fx.a.clone();
    let events: Vec<_> = fx.bank.events().to_vec();
    fx.feed(&events);
    assert_eq!(fx.a, snapshot);
    let other = LedgerEvent::Deposited {
        channel_id: ChannelId(B256::repeat_byte(9)),
        party: Role::A,
        amount: 5,
        total: 500,
    };
    assert_eq!(fx.a.handle_ledger_event(&other), None);
    assert_eq!(fx.a, snapshot);
}

#[test]
fn channel_for_a_stranger_cannot_be_made() {
    let fx = Fx::new(1, 0);
    assert!(Channel::new(fx.params, fx.domain, Address::repeat_byte(5)).is_none());
}

#[test]
fn voucher_below_the_ledger_floor_is_not_monotonic() {
    let mut fx = Fx::new(100, 50);
    // B never got A's first two vouchers, but A's withdrawal recorded A's counter (2) as a
    // floor: an old voucher below it adds nothing and is refused.
    let v1 = fx.a.pay(&fx.ka, 1, B256::ZERO).unwrap();
    fx.a.pay(&fx.ka, 1, B256::ZERO).unwrap();
    let (w, sig_a) = fx.a.propose_withdrawal(&fx.ka, 10, NOW + 60, NOW).unwrap();
    let sig_b =
        fx.b.handle_withdrawal_request(&fx.kb, &w, &sig_a, NOW)
            .unwrap();
    let cert = fx.a.handle_withdrawal_signature(&sig_b).unwrap();
    let ev = fx.bank.withdraw(&cert, NOW).unwrap();
    fx.feed(&ev);
    assert_eq!(fx.b.balances().paid_by_peer, 2);
    assert!(matches!(
        fx.b.handle_voucher(&v1, B256::ZERO),
        Err(VoucherRejection::NotMonotonic {
            cumulative: 1,
            last_cumulative: 2,
            ..
        })
    ));
}

#[test]
fn a_refused_payment_is_taken_back_and_not_paid_by_the_next_voucher() {
    let mut fx = Fx::new(100, 0);
    fx.a_pays(10, b"first");
    // B's handler fails on the second request: B does not keep the voucher.
    let refused = fx.a.pay(&fx.ka, 7, memo_of(b"second")).unwrap();
    fx.a.cancel_payment(&refused).unwrap();
    assert_eq!(fx.a.balances().paid_by_me, 10);
    assert_eq!(fx.a.latest_sent().map(|v| v.voucher.cumulative), Some(10));
    // The next payment pays only for itself, with a fresh sequence.
    let next = fx.a_pays(3, b"third");
    assert_eq!((next.voucher.cumulative, next.voucher.sequence), (13, 3));
    assert_eq!(fx.b.balances().paid_by_peer, 13);
    // Only the latest voucher can be taken back, and only once.
    assert_eq!(
        fx.a.cancel_payment(&refused),
        Err(CommandError::NothingPending)
    );
    let again = fx.a.pay(&fx.ka, 1, B256::ZERO).unwrap();
    fx.a.cancel_payment(&again).unwrap();
    assert_eq!(
        fx.a.cancel_payment(&again),
        Err(CommandError::NothingPending)
    );
    assert_eq!(fx.a.balances().paid_by_me, 13);
}

#[test]
fn a_proposed_channel_opens_with_its_first_ledger_event() {
    let fx = Fx::new(0, 0);
    let mut a = Channel::proposed(fx.params, fx.domain, fx.ka.address(), 77).unwrap();
    assert_eq!(a.phase(), &Phase::Proposed { since: 77 });
    assert_eq!(a.phase().name(), "proposed");
    assert_eq!(
        a.pay(&fx.ka, 1, B256::ZERO),
        Err(CommandError::NotOpen("proposed"))
    );
    assert!(a.start_close().is_err(), "nothing to close on the ledger");
    let other = LedgerEvent::Deposited {
        channel_id: ChannelId(B256::repeat_byte(9)),
        party: Role::B,
        amount: 1,
        total: 1,
    };
    assert_eq!(a.handle_ledger_event(&other), None);
    assert_eq!(
        a.phase(),
        &Phase::Proposed { since: 77 },
        "another channel's event"
    );
    let opened = LedgerEvent::Deposited {
        channel_id: a.id(),
        party: Role::A,
        amount: 5,
        total: 5,
    };
    a.handle_ledger_event(&opened);
    assert_eq!(a.phase(), &Phase::Open);
    assert_eq!(a.available(Role::A), 5);
}

#[test]
fn phases_keep_their_stored_encoding() {
    // Channels are stored with postcard, which writes a variant's index: the variants that
    // existed before `Proposed` keep theirs.
    let index = |phase: Phase| postcard::to_stdvec(&phase).unwrap()[0];
    assert_eq!(index(Phase::Open), 0);
    assert_eq!(index(Phase::CloseRequested), 2);
    assert_eq!(
        index(Phase::Closed {
            payouts: Pair::new(1, 2)
        }),
        4
    );
    assert_eq!(index(Phase::Proposed { since: 3 }), 5);
    let fx = Fx::new(10, 0);
    let bytes = postcard::to_stdvec(&fx.a).unwrap();
    assert_eq!(postcard::from_bytes::<Channel>(&bytes).unwrap(), fx.a);
}

#[test]
fn a_refused_withdrawal_is_released_at_once_and_another_can_follow() {
    let mut fx = Fx::new(100, 0);
    let (w, _) = fx.a.propose_withdrawal(&fx.ka, 40, NOW + 60, NOW).unwrap();
    assert_eq!(fx.a.available(Role::A), 60);
    assert_eq!(fx.a.reservation_expiry(), Some(NOW + 60));
    assert_eq!(
        fx.a.propose_withdrawal(&fx.ka, 10, NOW + 60, NOW),
        Err(CommandError::WithdrawalPending)
    );
    let mut other = w;
    other.total_withdrawn = 41;
    assert_eq!(
        fx.a.cancel_withdrawal(&other),
        Err(CommandError::NothingPending)
    );
    assert_eq!(
        fx.a.available(Role::A),
        60,
        "a foreign cancel changes nothing"
    );
    fx.a.cancel_withdrawal(&w).unwrap();
    assert_eq!(fx.a.available(Role::A), 100);
    assert_eq!(fx.a.reservation_expiry(), None);
    assert_eq!(
        fx.a.cancel_withdrawal(&w),
        Err(CommandError::NothingPending)
    );
    let (again, _) = fx.a.propose_withdrawal(&fx.ka, 10, NOW + 30, NOW).unwrap();
    assert_eq!(again.total_withdrawn, 10);
}

#[test]
fn reservations_expire_on_both_sides() {
    let mut fx = Fx::new(100, 0);
    let (w, sig_a) = fx.a.propose_withdrawal(&fx.ka, 40, NOW + 60, NOW).unwrap();
    fx.b.handle_withdrawal_request(&fx.kb, &w, &sig_a, NOW)
        .unwrap();
    assert_eq!(fx.b.reservation_expiry(), Some(NOW + 60));
    assert_eq!(fx.b.available(Role::A), 60);
    fx.a.handle_time(NOW + 59);
    fx.b.handle_time(NOW + 59);
    assert_eq!((fx.a.available(Role::A), fx.b.available(Role::A)), (60, 60));
    fx.a.handle_time(NOW + 60);
    fx.b.handle_time(NOW + 60);
    assert_eq!(
        (fx.a.available(Role::A), fx.b.available(Role::A)),
        (100, 100)
    );
    assert_eq!(
        (fx.a.reservation_expiry(), fx.b.reservation_expiry()),
        (None, None)
    );
}
