//! A deterministic simulation of two parties, their connection and the ledger, for the
//! consistency fuzzer (`fuzz/fuzz_targets/channel_consistency.rs`) and its property test
//! (`tests/it/consistency.rs`), after rust-lightning's `chanmon_consistency`.
//!
//! Two [`Party`]s each run the core's [`Channel`](crate::channel::Channel) and the
//! [`Manager`](crate::manager::Manager) (proposal, vouchers, counter sync, ledger events) with
//! its [`Timers`](crate::manager::Timers) the way the node drives them (see [`party`]); the
//! proposal passes the receiver's manager and its channel policy; the ledger is the in-memory [`Bank`]
//! around the ledger rules. A byte string decodes into a [`Setup`] and [`Action`]s
//! ([`action`]): payments both ways, frames delivered in or out of order, duplicated or
//! lost, reconnects with counter sync, restarts from the latest or an older committed state,
//! deposits, withdrawals, cooperative and unilateral closes (some of them dishonest),
//! watchers reading the ledger late, and time jumps that fire the timers. Every frame goes
//! through the wire codec. After every step the [`invariants`] are checked; at the end the
//! channel is closed and settled and the payouts are checked (`docs/PROTOCOL.md`, section 5;
//! `docs/ARCHITECTURE.md`, "The consistency simulation").
//!
//! Nothing in here panics on any input: a broken invariant is returned as a [`Violation`],
//! which the fuzz target and the test turn into a failure.
//!
//! The module is always built (hidden from the docs) rather than behind a feature: the
//! property test, the fuzz crate and clippy all see it without feature plumbing, it adds no
//! dependency, and code that only tests use cannot rot unnoticed.

pub mod action;
pub mod invariants;
pub mod network;
pub mod party;

use std::fmt;

use alloy_primitives::{Address, B256};

pub use self::{
    action::{Action, Setup, decode},
    network::Network,
    party::{LedgerCall, Output, Party},
};
use crate::{
    adjudicator::{ChannelStatus, embedded_domain},
    bank::Bank,
    channel::Channel,
    crypto::SigningKey,
    eip712::{ChannelParams, Domain},
    types::{Amount, ChannelId, Pair, Role},
    wire::{self, Message, ProposeChannel},
};

/// What each party's account is given at the start.
pub const MINTED: Amount = 1_000_000;
/// The channel's challenge period (seconds).
pub const CHALLENGE_PERIOD: u64 = 3_600;
/// The clock at the start (both clocks read the same time).
const START: u64 = 1_700_000_000;
/// The most ledger calls one input may cause in a row (the watcher's answers included).
const MAX_CALLS: usize = 64;

/// A broken invariant: at which step, during which action, and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The step (0: the setup; the final checks come after the last action).
    pub step: usize,
    /// The action being run, if any.
    pub action: Option<Action>,
    /// What broke.
    pub what: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step {} ({:?}): {}", self.step, self.action, self.what)
    }
}

impl std::error::Error for Violation {}

/// What a run did, to see that the simulation gets somewhere.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Actions run.
    pub actions: usize,
    /// Frames delivered.
    pub delivered: usize,
    /// Payments the payee's handler answered.
    pub payments: usize,
    /// Withdrawals the ledger executed.
    pub withdrawals: usize,
    /// Restarts from an older state than the latest.
    pub restores: usize,
    /// Whether the channel closed cooperatively.
    pub cooperative: bool,
    /// Ledger calls refused (stale or racing ones; harmless).
    pub refused_calls: usize,
}

/// Decodes `input` and runs it: setup, every action with the invariants after each, then the
/// close and the final checks.
pub fn run(input: &[u8]) -> Result<Stats, Violation> {
    let (setup, actions) = decode(input);
    let mut sim = Simulation::new(setup)?;
    for action in actions {
        sim.step(action)?;
    }
    sim.finish()
}

/// Two parties, their connection and the ledger.
#[derive(Debug)]
pub struct Simulation {
    bank: Bank,
    now: u64,
    id: ChannelId,
    parties: Pair<Party>,
    net: Network,
    setup: Setup,
    step: usize,
    action: Option<Action>,
    /// Each party's count of the peer's payments at the last check.
    baseline: Pair<Amount>,
    stats: Stats,
}

impl Simulation {
    /// Both parties, the ledger, and the channel proposed, accepted under B's policy and
    /// opened by A (only A has seen it open yet).
    pub fn new(setup: Setup) -> Result<Self, Violation> {
        let broken = |what: &str| Violation {
            step: 0,
            action: None,
            what: what.to_string(),
        };
        let key = |seed: u8| SigningKey::from_entropy(&[seed; 32]).map_err(|_| broken("key"));
        let (ka, kb) = (key(1)?, key(2)?);
        let domain = embedded_domain();
        let params = ChannelParams {
            party_a: ka.address(),
            party_b: kb.address(),
            token: Address::ZERO,
            challenge_period: CHALLENGE_PERIOD,
            nonce: B256::repeat_byte(7),
        };
        let id = params.id(&domain);
        let mut bank = Bank::new(domain);
        for address in [ka.address(), kb.address()] {
            bank.mint(address, Address::ZERO, MINTED)
                .map_err(|_| broken("mint"))?;
        }
        let mut sim = Simulation {
            bank,
            now: START,
            id,
            parties: Pair::new(
                Party::new(Role::A, ka, id, domain),
                Party::new(Role::B, kb, id, domain),
            ),
            net: Network::new(),
            setup,
            step: 0,
            action: None,
            baseline: Pair::default(),
            stats: Stats::default(),
        };
        sim.open(params, domain).map_err(|what| broken(&what))?;
        sim.check()?;
        Ok(sim)
    }

    /// The proposal, through the codec and B's policy, and the open on the ledger.
    fn open(&mut self, params: ChannelParams, domain: Domain) -> Result<(), String> {
        let deposit = self.setup.deposit_a;
        let a = params.party_a;
        self.parties.a.channel = Channel::proposed(params, domain, a, self.now);
        self.parties.a.commit();
        let proposal = Message::ProposeChannel(ProposeChannel {
            params,
            domain,
            deposit,
        });
        let Message::ProposeChannel(p) = through_codec(&proposal)? else {
            return Err("the proposal changed in the codec".into());
        };
        let accepted = self
            .parties
            .b
            .manager()
            .handle_proposal(a, &p, false, self.now)
            .map_err(|e| format!("B's manager refuses a valid proposal: {e}"))?;
        self.parties.b.channel = Some(accepted);
        self.parties.b.commit();
        through_codec(&Message::AcceptChannel {
            channel_id: self.id,
        })?;
        let events = self
            .bank
            .open(a, params, deposit)
            .map_err(|e| format!("the ledger refuses to open: {e}"))?;
        self.parties.a.apply_events(&events, false);
        Ok(())
    }

    fn violation(&self, what: String) -> Violation {
        Violation {
            step: self.step,
            action: self.action,
            what,
        }
    }

    fn check(&mut self) -> Result<(), Violation> {
        invariants::check_step(&self.bank, &self.parties, &self.baseline)
            .map_err(|what| self.violation(what))?;
        self.baseline = invariants::received(&self.parties);
        Ok(())
    }

    /// Runs one action, then checks the invariants.
    pub fn step(&mut self, action: Action) -> Result<(), Violation> {
        self.step = self.step.saturating_add(1);
        self.action = Some(action);
        self.stats.actions = self.stats.actions.saturating_add(1);
        let now = self.now;
        match action {
            Action::Pay {
                from,
                amount,
                refused,
            } => {
                let out = self.parties.get_mut(from).pay(amount, refused);
                self.route(from, out)?;
            }
            Action::Deliver { to, pick } => self.deliver(to, pick)?,
            Action::Duplicate { to, pick } => self.net.duplicate(to, pick),
            Action::Drop { to, pick } => self.net.drop_frame(to, pick),
            Action::Reconnect => self.reconnect()?,
            Action::Restart { who, back } => {
                if self.parties.get_mut(who).restart(back) {
                    self.stats.restores = self.stats.restores.saturating_add(1);
                }
                // Across a restart the count may go back: a new baseline.
                *self.baseline.get_mut(who) = 0;
                self.sync(who);
                self.reconnect()?;
            }
            Action::LedgerSync { who } => self.sync(who),
            Action::Deposit { who, amount } => {
                if self.parties.get(who).channel.is_some() {
                    self.call(who, vec![LedgerCall::Deposit(amount)]);
                }
            }
            Action::Withdraw { who, amount } => {
                let out = self.parties.get_mut(who).withdraw(amount, now);
                self.route(who, out)?;
            }
            Action::TimeJump { secs } => self.time_jump(secs),
            Action::CooperativeClose { who } => {
                let out = self.parties.get_mut(who).propose_settlement();
                self.route(who, out)?;
            }
            Action::ForceClose { who, cheat } => {
                let out = self.parties.get_mut(who).force_close(cheat);
                self.route(who, out)?;
            }
            Action::SubmitStale { who } => {
                let out = self.parties.get_mut(who).submit_stale();
                self.route(who, out)?;
            }
            Action::Overdraft { from, extra } => {
                // The most the payee lets `from` have paid in total now, plus `extra`.
                let limit = self.parties.get(from.peer()).channel.as_ref().map(|c| {
                    let b = c.balances();
                    b.peer_available.saturating_add(b.paid_by_peer)
                });
                if let Some(limit) = limit {
                    let out = self
                        .parties
                        .get_mut(from)
                        .overdraft(limit.saturating_add(extra));
                    self.route(from, out)?;
                }
            }
        }
        self.check()
    }

    /// Sends `from`'s frames through the codec and runs its ledger calls.
    fn route(&mut self, from: Role, out: Output) -> Result<(), Violation> {
        for message in out.frames {
            let frame = wire::encode(&message).map_err(|e| {
                self.violation(format!("{from} built a frame that does not encode: {e}"))
            })?;
            self.net.send(from.peer(), frame);
        }
        self.call(from, out.calls);
        Ok(())
    }

    fn deliver(&mut self, to: Role, pick: u8) -> Result<(), Violation> {
        let Some(frame) = self.net.take(to, pick) else {
            return Ok(());
        };
        let message = wire::decode(&frame)
            .map_err(|e| self.violation(format!("a frame to {to} does not decode: {e}")))?;
        self.stats.delivered = self.stats.delivered.saturating_add(1);
        if matches!(
            &message,
            Message::PayResult {
                reply: wire::Reply::Ok(_),
                ..
            }
        ) {
            self.stats.payments = self.stats.payments.saturating_add(1);
        }
        let out = self.parties.get_mut(to).handle(message, self.now);
        self.route(to, out)
    }

    /// The connection drops and comes back: both sides send their counter sync.
    fn reconnect(&mut self) -> Result<(), Violation> {
        self.net.disconnect();
        for role in [Role::A, Role::B] {
            self.parties.get_mut(role).disconnected();
        }
        for role in [Role::A, Role::B] {
            if let Some(sync) = self.parties.get(role).counter_sync() {
                self.route(
                    role,
                    Output {
                        frames: vec![sync],
                        calls: vec![],
                    },
                )?;
            }
        }
        Ok(())
    }

    /// `who`'s watcher reads the ledger's new events and answers them.
    fn sync(&mut self, who: Role) {
        let party = self.parties.get_mut(who);
        let events = self
            .bank
            .events()
            .get(party.cursor..)
            .map(<[_]>::to_vec)
            .unwrap_or_default();
        let calls = party.apply_events(&events, true);
        self.call(who, calls);
    }

    /// Runs `who`'s ledger calls; each receipt goes back to `who`, whose watcher may answer
    /// with more calls.
    fn call(&mut self, who: Role, calls: Vec<LedgerCall>) {
        let mut queue = calls;
        let mut budget = MAX_CALLS;
        while let Some(call) = queue.pop() {
            budget = budget.saturating_sub(1);
            if budget == 0 {
                break;
            }
            let me = self.parties.get(who).key().address();
            let (id, now) = (self.id, self.now);
            let result = match call {
                LedgerCall::Deposit(amount) => self.bank.deposit(me, &id, who, amount),
                LedgerCall::Withdraw(cert) => self.bank.withdraw(&cert, now),
                LedgerCall::CloseCooperative(cert) => self.bank.close_cooperative(&cert),
                LedgerCall::StartClose(voucher) => {
                    self.bank.start_close(me, &id, voucher.as_ref(), now)
                }
                LedgerCall::Submit(voucher) => self.bank.submit_voucher(&voucher, now),
                LedgerCall::Settle => self.bank.settle(&id, now),
            };
            match result {
                Ok(events) => {
                    match call {
                        LedgerCall::Withdraw(_) => {
                            self.stats.withdrawals = self.stats.withdrawals.saturating_add(1);
                        }
                        LedgerCall::CloseCooperative(_) => self.stats.cooperative = true,
                        _ => {}
                    }
                    let more = self.parties.get_mut(who).apply_events(&events, false);
                    queue.extend(more);
                }
                Err(_) => self.stats.refused_calls = self.stats.refused_calls.saturating_add(1),
            }
        }
    }

    /// Time passes: both watchers read the ledger first (an honest party is never offline
    /// for a whole challenge period), then the clocks move and due timers run.
    fn time_jump(&mut self, secs: u64) {
        for role in [Role::A, Role::B] {
            self.sync(role);
        }
        self.now = self.now.saturating_add(secs);
        let on_ledger = self.bank.adjudicator().channel(&self.id).is_some();
        for role in [Role::A, Role::B] {
            let calls = self.parties.get_mut(role).tick(self.now, on_ledger);
            self.call(role, calls);
        }
    }

    fn status(&self) -> Option<ChannelStatus> {
        self.bank.adjudicator().channel(&self.id).map(|r| r.status)
    }

    /// Closes what is still open (the setup's closer first), lets the challenge period
    /// pass with both watchers answering, settles, and runs the final checks.
    pub fn finish(mut self) -> Result<Stats, Violation> {
        self.step = self.step.saturating_add(1);
        self.action = None;
        for role in [Role::A, Role::B] {
            self.sync(role);
        }
        if self.setup.cooperative && self.status() == Some(ChannelStatus::Open) {
            // The closer proposes a settlement over a connection that now delivers in order.
            self.reconnect()?;
            let closer = self.setup.closer;
            let out = self.parties.get_mut(closer).propose_settlement();
            self.route(closer, out)?;
            for _ in 0..16 {
                if self.net.is_empty() {
                    break;
                }
                for role in [Role::A, Role::B] {
                    self.deliver(role, 0)?;
                }
            }
        }
        for role in [self.setup.closer, self.setup.closer.peer()] {
            if self.status() == Some(ChannelStatus::Open) {
                let out = self.parties.get_mut(role).force_close(false);
                self.route(role, out)?;
            }
        }
        if self.status() == Some(ChannelStatus::Open) {
            // Neither state allows a close (both restored into odd phases): the closer's
            // node asks the ledger anyway, with the peer's latest voucher it holds.
            let closer = self.setup.closer;
            let voucher = self
                .parties
                .get(closer)
                .channel
                .as_ref()
                .and_then(|c| c.latest_received().copied());
            self.call(closer, vec![LedgerCall::StartClose(voucher)]);
        }
        for _ in 0..4 {
            if matches!(self.status(), Some(ChannelStatus::Settled { .. })) {
                break;
            }
            self.time_jump(CHALLENGE_PERIOD.saturating_add(1));
        }
        for role in [Role::A, Role::B] {
            self.sync(role);
        }
        self.check()?;
        invariants::check_final(&self.bank, &self.parties, MINTED)
            .map_err(|what| self.violation(what))?;
        Ok(self.stats)
    }
}

/// Encodes and decodes `message` as a frame, as between two nodes.
fn through_codec(message: &Message) -> Result<Message, String> {
    let frame = wire::encode(message).map_err(|e| format!("encode: {e}"))?;
    wire::decode(&frame).map_err(|e| format!("decode: {e}"))
}

#[cfg(test)]
mod tests;
