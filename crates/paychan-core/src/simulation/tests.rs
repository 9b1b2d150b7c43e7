//! Unit tests of the simulation: a scripted run, and proof that its checks catch a broken
//! party (a checker that cannot fail proves nothing).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use alloy_primitives::B256;

use super::*;
use crate::eip712::{Eip712, SignedVoucher, Voucher};

fn setup(cooperative: bool) -> Setup {
    Setup {
        deposit_a: 1_000,
        closer: Role::B,
        cooperative,
    }
}

#[test]
fn a_scripted_run_pays_both_ways_withdraws_and_settles_cooperatively() {
    let mut sim = Simulation::new(setup(true)).unwrap();
    let deliver = |to| Action::Deliver { to, pick: 0 };
    for action in [
        Action::LedgerSync { who: Role::B },
        Action::Pay {
            from: Role::A,
            amount: 300,
            refused: false,
        },
        deliver(Role::B),
        deliver(Role::A),
        Action::Pay {
            from: Role::B,
            amount: 100,
            refused: false,
        },
        deliver(Role::A),
        deliver(Role::B),
        // Refused by the handler: taken back.
        Action::Pay {
            from: Role::A,
            amount: 50,
            refused: true,
        },
        deliver(Role::B),
        deliver(Role::A),
        Action::Withdraw {
            who: Role::B,
            amount: 150,
        },
        deliver(Role::A),
        deliver(Role::B),
        Action::LedgerSync { who: Role::A },
    ] {
        sim.step(action).unwrap();
    }
    let rec = sim.bank.adjudicator().channel(&sim.id).unwrap().clone();
    assert_eq!(rec.withdrawn.b, 150);
    let stats = sim.finish().unwrap();
    assert_eq!(stats.payments, 2);
    assert_eq!(stats.withdrawals, 1);
    assert!(stats.cooperative);
}

#[test]
fn the_checks_catch_a_payee_that_accepts_beyond_the_payers_funds() {
    let mut sim = Simulation::new(setup(false)).unwrap();
    sim.step(Action::LedgerSync { who: Role::B }).unwrap();
    // A signs 1,500 while it has 1,000 in the channel, and B takes it on credit, as a payee
    // without its balance check would.
    let a = &mut sim.parties.a;
    let voucher = Voucher {
        channel_id: sim.id,
        payer: a.key().address(),
        cumulative: 1_500,
        sequence: 1,
        memo: B256::ZERO,
    };
    let domain = *a.channel.as_ref().unwrap().domain();
    let signed = SignedVoucher {
        signature: voucher.sign(&domain, a.key()),
        voucher,
    };
    a.max_signed = 1_500;
    let b = &mut sim.parties.b;
    b.channel
        .as_mut()
        .unwrap()
        .handle_voucher_with_credit(&signed, B256::ZERO, 1_000)
        .unwrap();
    b.commit();
    let violation = sim.check().unwrap_err();
    assert!(
        violation
            .what
            .contains("honest B would get 1000 but is owed 1500"),
        "{violation}"
    );
}

#[test]
fn the_checks_catch_a_party_that_answers_before_it_commits() {
    let mut sim = Simulation::new(setup(false)).unwrap();
    sim.step(Action::LedgerSync { who: Role::B }).unwrap();
    let key = SigningKey::from_entropy(&[1; 32]).unwrap();
    let a = sim.parties.a.channel.as_mut().unwrap();
    a.propose_settlement(&key).unwrap();
    let violation = sim.check().unwrap_err();
    assert_eq!(violation.what, "A holds a state it did not commit");
}

/// A duplicated payment whose refusal overtakes its acceptance: the payer takes back a
/// payment the payee kept (it can only happen on a transport that duplicates and reorders,
/// which TCP does not). The payer is paid less than its own count says until the next counter
/// sync, which gives it its counter back; no honest party is ever owed more than it gets.
#[test]
fn a_refusal_overtaking_an_acceptance_is_repaired_by_the_counter_sync() {
    let mut sim = Simulation::new(setup(false)).unwrap();
    for action in [
        Action::LedgerSync { who: Role::B },
        Action::Pay {
            from: Role::A,
            amount: 100,
            refused: false,
        },
        Action::Duplicate {
            to: Role::B,
            pick: 0,
        },
        Action::Deliver {
            to: Role::B,
            pick: 0,
        },
        Action::Deliver {
            to: Role::B,
            pick: 0,
        },
        // The second answer (the duplicate's refusal) arrives first.
        Action::Deliver {
            to: Role::A,
            pick: 193,
        },
    ] {
        sim.step(action).unwrap();
    }
    let paid_by = |sim: &Simulation, role: Role| {
        sim.parties
            .get(role)
            .committed()
            .map(|c| c.balances().paid_by_me)
    };
    let held_by_b = sim.parties.b.committed().map(|c| c.balances().paid_by_peer);
    assert_eq!((paid_by(&sim, Role::A), held_by_b), (Some(0), Some(100)));
    sim.step(Action::Reconnect).unwrap();
    sim.step(Action::Deliver {
        to: Role::A,
        pick: 0,
    })
    .unwrap();
    assert_eq!(paid_by(&sim, Role::A), Some(100));
    sim.finish().unwrap();
}
