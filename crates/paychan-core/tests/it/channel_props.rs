//! Property tests of the channel state machine against the ledger rules.
//!
//! Two honest parties exchange payments in both directions over a network that loses,
//! duplicates, reorders and replays vouchers; they deposit, withdraw with co-signed
//! certificates, get restored from old snapshots (and resync), and finally close
//! cooperatively or unilaterally (with the watcher answering, and stale vouchers thrown at
//! the ledger). After every step and at the end:
//! - the ledger's total equals what was minted (nothing created or destroyed);
//! - counters never decrease (except for a party deliberately restored from a snapshot);
//! - at settlement each party gets at least what the payments it sent and accepted entitle it
//!   to: `deposited - withdrawn - max cumulative it ever signed + latest cumulative it holds`.

use alloy_primitives::{Address, B256};
use paychan_core::{
    Amount, ChannelParams, Domain, Pair, Role, SignedVoucher, SigningKey, Voucher,
    adjudicator::LedgerEvent,
    bank::Bank,
    channel::{Channel, LedgerAction, Phase},
    eip712::{Eip712, memo_of},
};
use proptest::prelude::*;

const MINT: Amount = 10_000;
const CHALLENGE: u64 = 50;

#[derive(Clone, Debug)]
enum Op {
    /// A payment the payee's handler refuses: the payer takes it back.
    Refused {
        from: Role,
        amount: Amount,
    },
    Pay {
        from: Role,
        amount: Amount,
        msg: u8,
    },
    Deliver {
        to: Role,
        pick: usize,
        keep_copy: bool,
    },
    Drop {
        to: Role,
        pick: usize,
    },
    Replay {
        to: Role,
        pick: usize,
    },
    Deposit {
        who: Role,
        amount: Amount,
    },
    Withdraw {
        who: Role,
        amount: Amount,
        execute: bool,
    },
    Tick {
        secs: u64,
    },
    Snapshot {
        who: Role,
    },
    Restore {
        who: Role,
    },
    Reconnect,
    /// A party turns malicious: signs a voucher beyond what the peer allows and sends it.
    Overdraft {
        from: Role,
        extra: Amount,
    },
}

#[derive(Clone, Copy, Debug)]
enum Close {
    Cooperative { proposer: Role },
    Unilateral { by: Role, closer_cheats: bool },
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::A), Just(Role::B)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (role(), 1..60u128, any::<u8>()).prop_map(|(from, amount, msg)| Op::Pay { from, amount, msg }),
        6 => (role(), any::<usize>(), any::<bool>()).prop_map(|(to, pick, keep_copy)| Op::Deliver { to, pick, keep_copy }),
        1 => (role(), any::<usize>()).prop_map(|(to, pick)| Op::Drop { to, pick }),
        1 => (role(), any::<usize>()).prop_map(|(to, pick)| Op::Replay { to, pick }),
        1 => (role(), 1..200u128).prop_map(|(who, amount)| Op::Deposit { who, amount }),
        1 => (role(), 1..150u128, any::<bool>()).prop_map(|(who, amount, execute)| Op::Withdraw { who, amount, execute }),
        1 => (1..30u64).prop_map(|secs| Op::Tick { secs }),
        1 => role().prop_map(|who| Op::Snapshot { who }),
        1 => role().prop_map(|who| Op::Restore { who }),
        1 => Just(Op::Reconnect),
        1 => (role(), 1..60u128).prop_map(|(from, amount)| Op::Refused { from, amount }),
        1 => (role(), 1..50u128).prop_map(|(from, extra)| Op::Overdraft { from, extra }),
    ]
}

fn close() -> impl Strategy<Value = Close> {
    prop_oneof![
        role().prop_map(|proposer| Close::Cooperative { proposer }),
        (role(), any::<bool>())
            .prop_map(|(by, closer_cheats)| Close::Unilateral { by, closer_cheats }),
    ]
}

/// One party: its state, key, and what the test knows about it.
struct Party {
    key: SigningKey,
    channel: Channel,
    snapshot: Option<Channel>,
    /// Every voucher it ever signed, in order (what the peer could hold).
    signed: Vec<(SignedVoucher, B256)>,
    /// Highest cumulative it ever signed.
    max_signed: Amount,
    /// Monotonicity baselines (reset on restore).
    last_received: Amount,
    last_sent: Amount,
    /// Whether it followed the protocol all along (only honest parties' payouts are checked).
    honest: bool,
}

struct World {
    bank: Bank,
    now: u64,
    parties: Pair<Party>,
    /// In flight towards each party: (voucher, memo).
    inbox: Pair<Vec<(SignedVoucher, B256)>>,
    id: paychan_core::ChannelId,
}

impl World {
    fn new(dep_a: Amount, dep_b: Amount) -> World {
        let domain = Domain::new(31337, Address::repeat_byte(0xad));
        let ka = SigningKey::from_entropy(&[1; 32]).unwrap();
        let kb = SigningKey::from_entropy(&[2; 32]).unwrap();
        let params = ChannelParams {
            party_a: ka.address(),
            party_b: kb.address(),
            token: Address::ZERO,
            challenge_period: CHALLENGE,
            nonce: B256::repeat_byte(3),
        };
        let mut bank = Bank::new(domain);
        bank.mint(ka.address(), Address::ZERO, MINT).unwrap();
        bank.mint(kb.address(), Address::ZERO, MINT).unwrap();
        let party = |key: SigningKey| Party {
            channel: Channel::new(params, domain, key.address()).unwrap(),
            key,
            snapshot: None,
            signed: vec![],
            max_signed: 0,
            last_received: 0,
            last_sent: 0,
            honest: true,
        };
        let mut w = World {
            id: params.id(&domain),
            parties: Pair::new(party(ka), party(kb)),
            bank,
            now: 1_000,
            inbox: Pair::default(),
        };
        let ev = w
            .bank
            .open(w.parties.a.key.address(), params, dep_a)
            .unwrap();
        w.feed(&ev);
        if dep_b > 0 {
            let ev = w
                .bank
                .deposit(w.parties.b.key.address(), &w.id, Role::B, dep_b)
                .unwrap();
            w.feed(&ev);
        }
        w
    }

    fn feed(&mut self, events: &[LedgerEvent]) -> Vec<(Role, LedgerAction)> {
        let mut actions = vec![];
        for e in events {
            for r in [Role::A, Role::B] {
                if let Some(a) = self.parties.get_mut(r).channel.handle_ledger_event(e) {
                    actions.push((r, a));
                }
            }
        }
        actions
    }

    fn pick<T>(v: &[T], pick: usize) -> Option<usize> {
        if v.is_empty() {
            None
        } else {
            Some(pick % v.len())
        }
    }

    fn step(&mut self, op: &Op) {
        match *op {
            Op::Pay { from, amount, msg } => {
                let memo = memo_of(&[msg]);
                let p = self.parties.get_mut(from);
                if let Ok(v) = p.channel.pay(&p.key, amount, memo) {
                    p.max_signed = p.max_signed.max(v.voucher.cumulative);
                    p.signed.push((v, memo));
                    self.inbox.get_mut(from.peer()).push((v, memo));
                }
            }
            Op::Refused { from, amount } => {
                let p = self.parties.get_mut(from);
                if let Ok(v) = p.channel.pay(&p.key, amount, B256::ZERO) {
                    // Signed, so the peer could hold it (and the network may replay it).
                    p.max_signed = p.max_signed.max(v.voucher.cumulative);
                    p.signed.push((v, B256::ZERO));
                    p.channel.cancel_payment(&v).unwrap();
                    p.last_sent = p.channel.balances().paid_by_me;
                }
            }
            Op::Deliver {
                to,
                pick,
                keep_copy,
            } => {
                let inbox = self.inbox.get_mut(to);
                if let Some(i) = Self::pick(inbox, pick) {
                    let (v, memo) = if keep_copy { inbox[i] } else { inbox.remove(i) };
                    // Accepted or refused (stale, duplicate): either way nothing breaks.
                    let _ = self.parties.get_mut(to).channel.handle_voucher(&v, memo);
                }
            }
            Op::Drop { to, pick } => {
                let inbox = self.inbox.get_mut(to);
                if let Some(i) = Self::pick(inbox, pick) {
                    inbox.remove(i);
                }
            }
            Op::Replay { to, pick } => {
                let sent = &self.parties.get(to.peer()).signed;
                if let Some(i) = Self::pick(sent, pick) {
                    let (v, memo) = sent[i];
                    let before = self.parties.get(to).channel.balances().paid_by_peer;
                    let r = self.parties.get_mut(to).channel.handle_voucher(&v, memo);
                    if r.is_ok() {
                        // Only a voucher newer than anything accepted can pass.
                        assert!(v.voucher.cumulative >= before);
                    }
                }
            }
            Op::Deposit { who, amount } => {
                let payer = self.parties.get(who).key.address();
                if let Ok(ev) = self.bank.deposit(payer, &self.id, who, amount) {
                    self.feed(&ev);
                }
            }
            Op::Withdraw {
                who,
                amount,
                execute,
            } => {
                let now = self.now;
                let (me, peer) = match who {
                    Role::A => (&mut self.parties.a, &mut self.parties.b),
                    Role::B => (&mut self.parties.b, &mut self.parties.a),
                };
                let Ok((w, mine)) = me
                    .channel
                    .propose_withdrawal(&me.key, amount, now + 20, now)
                else {
                    return;
                };
                let Ok(theirs) = peer
                    .channel
                    .handle_withdrawal_request(&peer.key, &w, &mine, now)
                else {
                    return;
                };
                let cert = me.channel.handle_withdrawal_signature(&theirs).unwrap();
                if execute {
                    let ev = self
                        .bank
                        .withdraw(&cert, now)
                        .expect("a co-signed certificate executes");
                    self.feed(&ev);
                }
            }
            Op::Tick { secs } => {
                self.now += secs;
                for r in [Role::A, Role::B] {
                    self.parties.get_mut(r).channel.handle_time(self.now);
                }
            }
            Op::Snapshot { who } => {
                let p = self.parties.get_mut(who);
                p.snapshot = Some(p.channel.clone());
            }
            Op::Restore { who } => {
                let p = self.parties.get_mut(who);
                if let Some(s) = p.snapshot.clone() {
                    p.channel = s;
                    p.last_received = p.channel.balances().paid_by_peer;
                    p.last_sent = p.channel.balances().paid_by_me;
                    // A restarted node catches up with the ledger from its cursor.
                    let events = self.bank.events().to_vec();
                    self.feed(&events);
                    self.parties.get_mut(who).channel.handle_time(self.now);
                }
            }
            Op::Reconnect => self.reconnect(),
            Op::Overdraft { from, extra } => {
                // The most the payee lets `from` have paid in total, plus `extra`.
                let payee = self.parties.get(from.peer()).channel.balances();
                let p = self.parties.get_mut(from);
                p.honest = false;
                let voucher = Voucher {
                    channel_id: self.id,
                    payer: p.key.address(),
                    cumulative: payee.peer_available + payee.paid_by_peer + extra,
                    sequence: p.channel.sent_sequence() + 1_000,
                    memo: B256::ZERO,
                };
                let forged = SignedVoucher {
                    signature: voucher.sign(p.channel.domain(), &p.key),
                    voucher,
                };
                p.max_signed = p.max_signed.max(voucher.cumulative);
                p.signed.push((forged, B256::ZERO));
                let r = self
                    .parties
                    .get_mut(from.peer())
                    .channel
                    .handle_voucher(&forged, B256::ZERO);
                assert!(r.is_err(), "an overdraft must be refused, got {r:?}");
            }
        }
    }

    /// The counter sync both sides run on every (re)connect.
    fn reconnect(&mut self) {
        for r in [Role::A, Role::B] {
            let peer = self.parties.get(r.peer()).channel.clone();
            let me = &mut self.parties.get_mut(r).channel;
            if let Some(yours) = peer.latest_received() {
                me.handle_counter_sync(yours)
                    .expect("our own voucher verifies");
            }
            if let Some(mine) = peer.latest_sent() {
                let _ = me.handle_resent_voucher(mine);
            }
        }
    }

    fn check_invariants(&mut self) {
        assert_eq!(
            self.bank.total(Address::ZERO),
            self.bank.supply(Address::ZERO),
            "money conserved"
        );
        for r in [Role::A, Role::B] {
            let p = self.parties.get_mut(r);
            let b = p.channel.balances();
            assert!(
                b.paid_by_peer >= p.last_received,
                "received counter decreased"
            );
            assert!(b.paid_by_me >= p.last_sent, "sent counter decreased");
            assert!(b.paid_by_me <= p.max_signed.max(p.channel.ledger().floors.at(r)));
            p.last_received = b.paid_by_peer;
            p.last_sent = b.paid_by_me;
        }
    }

    /// What `r` is entitled to: deposits - withdrawals - the most it ever signed + the latest
    /// payment it holds from the peer.
    fn entitlement(&self, r: Role) -> i128 {
        let p = self.parties.get(r);
        let ledger = self.bank.adjudicator().channel(&self.id).unwrap();
        ledger.deposited.at(r) as i128 - ledger.withdrawn.at(r) as i128 - p.max_signed as i128
            + p.channel.balances().paid_by_peer as i128
    }

    fn close(&mut self, how: Close) {
        let coop = match how {
            Close::Cooperative { proposer } => self.close_cooperatively(proposer),
            Close::Unilateral { .. } => false,
        };
        if !coop {
            let (by, cheats) = match how {
                Close::Unilateral { by, closer_cheats } => (by, closer_cheats),
                Close::Cooperative { proposer } => (proposer, false),
            };
            self.close_unilaterally(by, cheats);
        }
        let record = self.bank.adjudicator().channel(&self.id).unwrap().clone();
        let paychan_core::adjudicator::ChannelStatus::Settled { payouts } = record.status else {
            panic!("channel not settled: {:?}", record.status)
        };
        if let Close::Unilateral {
            by,
            closer_cheats: true,
        } = how
        {
            self.parties.get_mut(by).honest = false;
        }
        for r in [Role::A, Role::B] {
            assert_eq!(
                self.parties.get(r).channel.phase(),
                &Phase::Closed { payouts }
            );
            if !self.parties.get(r).honest {
                continue;
            }
            assert!(
                payouts.at(r) as i128 >= self.entitlement(r),
                "{r} got {} but is entitled to {}",
                payouts.at(r),
                self.entitlement(r)
            );
        }
        assert_eq!(
            self.bank.total(Address::ZERO),
            self.bank.supply(Address::ZERO)
        );
        assert_eq!(record.held(), 0, "a settled channel holds nothing");
    }

    fn close_cooperatively(&mut self, proposer: Role) -> bool {
        let (me, peer) = match proposer {
            Role::A => (&mut self.parties.a, &mut self.parties.b),
            Role::B => (&mut self.parties.b, &mut self.parties.a),
        };
        let (s, mine) = me.channel.propose_settlement(&me.key).unwrap();
        let Ok(theirs) = peer.channel.handle_settlement_request(&peer.key, &s, &mine) else {
            return false;
        };
        let cert = me.channel.handle_settlement_signature(&theirs).unwrap();
        let ev = self
            .bank
            .close_cooperative(&cert)
            .expect("a co-signed settlement executes");
        self.feed(&ev);
        true
    }

    fn close_unilaterally(&mut self, by: Role, cheats: bool) {
        let closer = self.parties.get(by).key.address();
        let inputs = self.parties.get_mut(by).channel.start_close().unwrap();
        // A cheating closer presents its own oldest voucher (to count its payments low)
        // instead of the peer's latest.
        let presented = if cheats {
            self.parties.get(by).signed.first().map(|(v, _)| *v)
        } else {
            inputs.voucher
        };
        let ev = self
            .bank
            .start_close(closer, &self.id, presented.as_ref(), self.now)
            .unwrap();
        let mut actions = self.feed(&ev);
        // The watcher of each side submits what it must, until the ledger counts it all;
        // in between, the cheater throws every stale voucher of its own at the ledger.
        for round in 0.. {
            assert!(round < 10, "watcher does not converge");
            if cheats {
                for (v, _) in self.parties.get(by).signed.clone().into_iter().rev() {
                    let ev = self.bank.submit_voucher(&v, self.now).unwrap();
                    actions.extend(self.feed(&ev));
                }
            }
            if actions.is_empty() {
                break;
            }
            for (_, action) in std::mem::take(&mut actions) {
                if let LedgerAction::SubmitVoucher(v) = action {
                    let ev = self.bank.submit_voucher(&v, self.now).unwrap();
                    actions.extend(self.feed(&ev));
                }
            }
        }
        assert!(
            self.bank.settle(&self.id, self.now).is_err(),
            "no settle before the deadline"
        );
        self.now += CHALLENGE;
        assert!(self.parties.a.channel.settle_due(self.now));
        let ev = self.bank.settle(&self.id, self.now).unwrap();
        self.feed(&ev);
        assert!(
            self.bank.settle(&self.id, self.now).is_err(),
            "no second settle"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn honest_parties_never_lose_money(
        dep_a in 0..300u128,
        dep_b in 0..300u128,
        ops in proptest::collection::vec(op(), 1..60),
        how in close(),
    ) {
        let mut w = World::new(dep_a, dep_b);
        for op in &ops {
            w.step(op);
            w.check_invariants();
        }
        w.close(how);
    }
}
