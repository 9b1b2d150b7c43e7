//! The ledger rules (`Adjudicator` through the in-memory `Bank`): each refusal of the rules
//! table, with every account's balance checked before and after. The full conformance suite,
//! shared by every ledger backend, builds on these.

use alloy_primitives::{Address, B256};
use paychan_core::{
    Amount, ChannelId, ChannelParams, Domain, Pair, Role, SignedVoucher, SigningKey, Voucher,
    Withdrawal,
    adjudicator::{ChannelStatus, LedgerError, ParamsError, Rule},
    bank::{Bank, BankError},
    channel::CoSigned,
    eip712::Eip712,
};

const FUNDS: Amount = 1_000;
const NOW: u64 = 10_000;

struct L {
    bank: Bank,
    domain: Domain,
    ka: SigningKey,
    kb: SigningKey,
    mallory: SigningKey,
    params: ChannelParams,
    id: ChannelId,
}

impl L {
    fn new() -> L {
        let domain = Domain::new(7, Address::repeat_byte(0x77));
        let ka = SigningKey::from_entropy(&[10; 32]).unwrap();
        let kb = SigningKey::from_entropy(&[11; 32]).unwrap();
        let mallory = SigningKey::from_entropy(&[12; 32]).unwrap();
        let mut bank = Bank::new(domain);
        for k in [&ka, &kb, &mallory] {
            bank.mint(k.address(), Address::ZERO, FUNDS).unwrap();
        }
        let params = ChannelParams {
            party_a: ka.address(),
            party_b: kb.address(),
            token: Address::ZERO,
            challenge_period: 100,
            nonce: B256::repeat_byte(1),
        };
        let id = params.id(&domain);
        L {
            bank,
            domain,
            ka,
            kb,
            mallory,
            params,
            id,
        }
    }

    fn opened(dep_a: Amount, dep_b: Amount) -> L {
        let mut l = L::new();
        l.bank.open(l.ka.address(), l.params, dep_a).unwrap();
        if dep_b > 0 {
            l.bank
                .deposit(l.kb.address(), &l.id, Role::B, dep_b)
                .unwrap();
        }
        l
    }

    fn balances(&self) -> Vec<Amount> {
        [&self.ka, &self.kb, &self.mallory]
            .iter()
            .map(|k| self.bank.balance(k.address(), Address::ZERO))
            .collect()
    }

    /// Runs a refused operation and checks that it changed nothing.
    fn refused<T: std::fmt::Debug>(
        &mut self,
        op: impl FnOnce(&mut Bank) -> Result<T, BankError>,
    ) -> BankError {
        let before = (
            self.balances(),
            self.bank.adjudicator().clone(),
            self.bank.events().len(),
        );
        let err = op(&mut self.bank).expect_err("operation must be refused");
        let after = (
            self.balances(),
            self.bank.adjudicator().clone(),
            self.bank.events().len(),
        );
        assert_eq!(before, after, "a refused operation changed something");
        assert_eq!(
            self.bank.total(Address::ZERO),
            self.bank.supply(Address::ZERO)
        );
        err
    }

    fn voucher(&self, payer: &SigningKey, cumulative: Amount, sequence: u64) -> SignedVoucher {
        let voucher = Voucher {
            channel_id: self.id,
            payer: payer.address(),
            cumulative,
            sequence,
            memo: B256::ZERO,
        };
        SignedVoucher {
            signature: voucher.sign(&self.domain, payer),
            voucher,
        }
    }

    fn withdrawal(&self, w: Withdrawal) -> CoSigned<Withdrawal> {
        CoSigned {
            body: w,
            sig_a: w.sign(&self.domain, &self.ka),
            sig_b: w.sign(&self.domain, &self.kb),
        }
    }
}

fn ledger(e: BankError) -> LedgerError {
    match e {
        BankError::Ledger(e) => e,
        other => panic!("expected a ledger refusal, got {other:?}"),
    }
}

#[test]
fn ids_are_never_reused_even_after_settlement() {
    let mut l = L::opened(100, 0);
    let (ka, params) = (l.ka.address(), l.params);
    assert_eq!(
        ledger(l.refused(|b| b.open(ka, params, 1))),
        LedgerError::ChannelExists(l.id)
    );
    l.bank.start_close(ka, &l.id, None, NOW).unwrap();
    l.bank.settle(&l.id, NOW + 100).unwrap();
    assert_eq!(
        ledger(l.refused(|b| b.open(ka, params, 1))),
        LedgerError::ChannelExists(l.id)
    );
}

#[test]
fn unusable_parameters_are_refused() {
    let mut l = L::new();
    let ka = l.ka.address();
    for (params, why) in [
        (
            ChannelParams {
                party_b: l.params.party_a,
                ..l.params
            },
            ParamsError::SameParties,
        ),
        (
            ChannelParams {
                party_b: Address::ZERO,
                ..l.params
            },
            ParamsError::ZeroParty,
        ),
        (
            ChannelParams {
                challenge_period: 0,
                ..l.params
            },
            ParamsError::ZeroChallengePeriod,
        ),
    ] {
        let e = ledger(l.refused(|b| b.open(ka, params, 1)));
        assert_eq!(e, LedgerError::InvalidParams(why));
        assert_eq!(e.rule(), why.rule());
    }
    let params = l.params;
    let e = l.refused(|b| b.open(ka, params, FUNDS + 1));
    assert!(matches!(e, BankError::InsufficientFunds { .. }));
}

#[test]
fn deposit_while_closing_is_refused_and_funds_stay_with_the_sender() {
    let mut l = L::opened(100, 0);
    let (kb, id) = (l.kb.address(), l.id);
    l.bank
        .start_close(l.ka.address(), &l.id, None, NOW)
        .unwrap();
    assert_eq!(
        ledger(l.refused(|b| b.deposit(kb, &id, Role::B, 50))),
        LedgerError::NotOpen
    );
    assert_eq!(l.bank.balance(kb, Address::ZERO), FUNDS);
    assert_eq!(
        ledger(l.refused(|b| b.deposit(kb, &id, Role::B, 0))),
        LedgerError::NotOpen
    );
}

#[test]
fn amounts_at_the_integer_limit_are_refused() {
    let mut l = L::new();
    let mut bank = Bank::new(l.domain);
    let rich = l.mallory.address();
    bank.mint(rich, Address::ZERO, Amount::MAX).unwrap();
    assert!(matches!(
        bank.mint(rich, Address::ZERO, 1),
        Err(BankError::Overflow)
    ));
    l.bank = bank;
    let (params, id) = (l.params, l.id);
    // Anyone may fund A's side; the total in the channel may reach the limit, not pass it.
    l.bank.open(rich, params, Amount::MAX - 1).unwrap();
    l.bank.deposit(rich, &id, Role::B, 1).unwrap();
    // Through a bank the supply cap keeps sums in range; the rules refuse overflow themselves
    // for ledgers without such a cap (a contract holding uint256 balances).
    let mut adj = paychan_core::adjudicator::Adjudicator::new(l.domain);
    let other = ChannelParams {
        nonce: B256::repeat_byte(2),
        ..params
    };
    adj.open(other, Amount::MAX).unwrap();
    let oid = other.id(&l.domain);
    let before = adj.clone();
    assert_eq!(adj.deposit(&oid, Role::A, 1), Err(LedgerError::Overflow));
    assert_eq!(adj.deposit(&oid, Role::B, 1), Err(LedgerError::Overflow));
    assert_eq!(adj, before);
    assert_eq!(
        ledger(l.refused(|b| b.deposit(rich, &id, Role::A, 0))),
        LedgerError::ZeroAmount
    );
    assert_eq!(l.bank.total(Address::ZERO), Amount::MAX);
}

#[test]
fn only_a_party_may_start_a_close() {
    let mut l = L::opened(100, 0);
    let (m, id) = (l.mallory.address(), l.id);
    assert_eq!(
        ledger(l.refused(|b| b.start_close(m, &id, None, NOW))),
        LedgerError::NotAParty(m)
    );
}

#[test]
fn forged_and_foreign_vouchers_are_refused_during_a_close() {
    let mut l = L::opened(100, 50);
    l.bank
        .start_close(l.kb.address(), &l.id, None, NOW)
        .unwrap();
    // Mallory signs in A's name.
    let mut forged = l.voucher(&l.mallory, 90, 1);
    forged.voucher.payer = l.ka.address();
    assert_eq!(
        ledger(l.refused(|b| b.submit_voucher(&forged, NOW))),
        LedgerError::BadSignature("payer")
    );
    // A stranger's own voucher.
    let stranger = l.voucher(&l.mallory, 90, 1);
    let m = l.mallory.address();
    assert_eq!(
        ledger(l.refused(|b| b.submit_voucher(&stranger, NOW))),
        LedgerError::NotAParty(m)
    );
    // A's real voucher signed for another ledger.
    let voucher = l.voucher(&l.ka, 90, 1).voucher;
    let other = SignedVoucher {
        signature: voucher.sign(&Domain::new(8, Address::repeat_byte(0x77)), &l.ka),
        voucher,
    };
    assert_eq!(
        ledger(l.refused(|b| b.submit_voucher(&other, NOW))),
        LedgerError::BadSignature("payer")
    );
}

#[test]
fn stale_vouchers_never_lower_the_count_and_anyone_may_submit() {
    let mut l = L::opened(100, 50);
    let v30 = l.voucher(&l.ka, 30, 3);
    let v10 = l.voucher(&l.ka, 10, 1);
    l.bank
        .start_close(l.kb.address(), &l.id, Some(&v30), NOW)
        .unwrap();
    // A submits its stale voucher; a third party (watchtower) submits too: nothing lowers.
    l.bank.submit_voucher(&v10, NOW + 1).unwrap();
    let ChannelStatus::Closing { counted, .. } =
        l.bank.adjudicator().channel(&l.id).unwrap().status
    else {
        panic!("not closing")
    };
    assert_eq!(counted, Pair::new(30, 0));
    let id = l.id;
    assert!(matches!(
        ledger(l.refused(|b| b.settle(&id, NOW + 99))),
        LedgerError::DeadlineNotReached { .. }
    ));
    assert!(matches!(
        ledger(l.refused(|b| b.submit_voucher(&v30, NOW + 100))),
        LedgerError::DeadlinePassed { .. }
    ));
    l.bank.settle(&l.id, NOW + 100).unwrap();
    assert_eq!(l.balances(), vec![FUNDS - 100 + 70, FUNDS - 50 + 80, FUNDS]);
    assert_eq!(
        ledger(l.refused(|b| b.settle(&id, NOW + 200))),
        LedgerError::NotClosing
    );
}

#[test]
fn withdrawal_refusals() {
    let mut l = L::opened(100, 50);
    let w = Withdrawal {
        channel_id: l.id,
        party: l.ka.address(),
        total_withdrawn: 40,
        paid_by_a: 0,
        paid_by_b: 0,
        expiry: NOW + 10,
    };
    // Expired.
    let cert = l.withdrawal(w);
    assert!(matches!(
        ledger(l.refused(|b| b.withdraw(&cert, NOW + 10))),
        LedgerError::Expired { .. }
    ));
    // Only one signature is real.
    let mut half = cert;
    half.sig_b = w.sign(&l.domain, &l.mallory);
    assert_eq!(
        ledger(l.refused(|b| b.withdraw(&half, NOW))),
        LedgerError::BadSignature("party B")
    );
    // Beyond the party's balance.
    let over = l.withdrawal(Withdrawal {
        total_withdrawn: 101,
        ..w
    });
    assert_eq!(
        ledger(l.refused(|b| b.withdraw(&over, NOW))),
        LedgerError::OverBalance
    );
    // Executed once, then replayed.
    l.bank.withdraw(&cert, NOW).unwrap();
    assert_eq!(l.balances()[0], FUNDS - 100 + 40);
    assert_eq!(
        ledger(l.refused(|b| b.withdraw(&cert, NOW))),
        LedgerError::NotIncreasing
    );
    // A certificate of another channel's id.
    let foreign = l.withdrawal(Withdrawal {
        channel_id: ChannelId(B256::repeat_byte(9)),
        ..w
    });
    assert!(matches!(
        ledger(l.refused(|b| b.withdraw(&foreign, NOW))),
        LedgerError::UnknownChannel(_)
    ));
}

#[test]
fn colluding_parties_cannot_withdraw_more_than_the_channel_holds() {
    // Another channel's money sits in the same ledger.
    let mut l = L::opened(100, 100);
    // A and B both sign certificates whose counters each make the withdrawer look rich:
    // A claims B paid it 100, then B claims A paid it 100 (floors rise to 100 each).
    let wa = l.withdrawal(Withdrawal {
        channel_id: l.id,
        party: l.ka.address(),
        total_withdrawn: 200,
        paid_by_a: 0,
        paid_by_b: 100,
        expiry: NOW + 10,
    });
    l.bank.withdraw(&wa, NOW).unwrap();
    let wb = l.withdrawal(Withdrawal {
        channel_id: l.id,
        party: l.kb.address(),
        total_withdrawn: 100,
        paid_by_a: 200,
        paid_by_b: 100,
        expiry: NOW + 10,
    });
    assert_eq!(
        ledger(l.refused(|b| b.withdraw(&wb, NOW))),
        LedgerError::OverBalance
    );
    assert_eq!(l.bank.adjudicator().channel(&l.id).unwrap().held(), 0);
}

#[test]
fn cooperative_close_counts_floors_and_pays_once() {
    let mut l = L::opened(100, 50);
    // A withdrew 10 having paid B 30: floor A = 30.
    let w = l.withdrawal(Withdrawal {
        channel_id: l.id,
        party: l.ka.address(),
        total_withdrawn: 10,
        paid_by_a: 30,
        paid_by_b: 0,
        expiry: NOW + 10,
    });
    l.bank.withdraw(&w, NOW).unwrap();
    // A settlement that "forgets" A's payments still counts the floor.
    let s = paychan_core::Settlement {
        channel_id: l.id,
        paid_by_a: 0,
        paid_by_b: 0,
    };
    let cert = CoSigned {
        body: s,
        sig_a: s.sign(&l.domain, &l.ka),
        sig_b: s.sign(&l.domain, &l.kb),
    };
    l.bank.close_cooperative(&cert).unwrap();
    assert_eq!(
        l.balances(),
        vec![FUNDS - 100 + 10 + 60, FUNDS - 50 + 80, FUNDS]
    );
    assert_eq!(
        ledger(l.refused(|b| b.close_cooperative(&cert))),
        LedgerError::NotOpen
    );
    assert_eq!(l.bank.total(Address::ZERO), l.bank.supply(Address::ZERO));
}

#[test]
fn ledger_events_and_records_round_trip_through_json_with_full_size_amounts() {
    let mut l = L::new();
    let rich = l.mallory.address();
    let mut bank = Bank::new(l.domain);
    bank.mint(rich, Address::ZERO, Amount::MAX).unwrap();
    l.bank = bank;
    let (params, id) = (l.params, l.id);
    l.bank.open(rich, params, Amount::MAX - 1).unwrap();
    l.bank.deposit(rich, &id, Role::B, 1).unwrap();
    for event in l.bank.events() {
        let json = serde_json::to_string(event).unwrap();
        assert_eq!(
            &serde_json::from_str::<paychan_core::adjudicator::LedgerEvent>(&json).unwrap(),
            event
        );
    }
    let record = l.bank.adjudicator().channel(&id).unwrap();
    let json = serde_json::to_string(record).unwrap();
    assert_eq!(
        &serde_json::from_str::<paychan_core::adjudicator::ChannelRecord>(&json).unwrap(),
        record
    );
}

/// Every refusal of the adjudicator names its rule, and the names are the documented ones
/// (docs/PROTOCOL.md, section 6): what every ledger backend reports.
#[test]
fn every_refusal_names_its_rule() {
    let id = ChannelId(B256::repeat_byte(3));
    let cases = [
        (LedgerError::UnknownChannel(id), "ledger.unknown_channel"),
        (LedgerError::ChannelExists(id), "ledger.channel_exists"),
        (
            LedgerError::InvalidParams(ParamsError::SameParties),
            "ledger.same_parties",
        ),
        (
            LedgerError::InvalidParams(ParamsError::ZeroParty),
            "ledger.zero_party",
        ),
        (
            LedgerError::InvalidParams(ParamsError::ZeroChallengePeriod),
            "ledger.zero_challenge_period",
        ),
        (LedgerError::NotOpen, "ledger.not_open"),
        (LedgerError::NotClosing, "ledger.not_closing"),
        (LedgerError::NotAParty(Address::ZERO), "ledger.not_a_party"),
        (LedgerError::BadSignature("payer"), "ledger.bad_signature"),
        (LedgerError::WrongChannel, "ledger.wrong_channel"),
        (LedgerError::Expired { expiry: 1, now: 2 }, "ledger.expired"),
        (LedgerError::NotIncreasing, "ledger.not_increasing"),
        (LedgerError::OverBalance, "ledger.over_balance"),
        (
            LedgerError::DeadlineNotReached {
                deadline: 2,
                now: 1,
            },
            "ledger.deadline_not_reached",
        ),
        (
            LedgerError::DeadlinePassed {
                deadline: 1,
                now: 2,
            },
            "ledger.deadline_passed",
        ),
        (LedgerError::ZeroAmount, "ledger.zero_amount"),
        (LedgerError::Overflow, "ledger.overflow"),
    ];
    for (e, name) in cases {
        assert_eq!(e.rule().name(), name, "{e:?}");
        assert_eq!(Rule::from_name(name), Some(e.rule()));
    }
}
