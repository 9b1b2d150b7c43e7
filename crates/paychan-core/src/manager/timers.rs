//! [`Timers`]: the deadlines of every channel in one index, so that the driver asks one
//! question ([`Timers::poll_timeout`]: when must I wake up?) instead of scanning every
//! channel, and a deadline cannot be forgotten: it is derived from the channel's state each
//! time the state changes ([`Timers::update`]).
//!
//! Deadlines run on two clocks. A proposal's age is the node's own business, so it runs on
//! the node's clock; a withdrawal certificate's expiry and a close's deadline are the
//! ledger's rules, so they run on the ledger's clock, which the driver reads from the ledger.

use std::collections::{BTreeSet, HashMap};

use crate::{
    channel::{Channel, Phase},
    types::ChannelId,
};

/// The clock a deadline runs on.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Clock {
    /// The node's clock (Unix seconds).
    Local,
    /// The ledger's clock (its block or journal time, in seconds).
    Ledger,
}

/// What is due when a deadline passes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Timer {
    /// A proposed channel that the ledger never opened expires (node clock).
    ProposalExpiry,
    /// A reserved withdrawal certificate expired unexecuted: release it (ledger clock).
    WithdrawalExpiry,
    /// A close's challenge period is over: settle (ledger clock).
    SettleDue,
}

impl Timer {
    /// Every timer, in the order of [`deadlines`](Timers::deadlines).
    pub const ALL: [Timer; 3] = [
        Timer::ProposalExpiry,
        Timer::WithdrawalExpiry,
        Timer::SettleDue,
    ];

    /// The clock it runs on.
    pub fn clock(self) -> Clock {
        match self {
            Timer::ProposalExpiry => Clock::Local,
            Timer::WithdrawalExpiry | Timer::SettleDue => Clock::Ledger,
        }
    }
}

/// One deadline per [`Timer`] kind, in the order of [`Timer::ALL`].
pub type Deadlines = [Option<u64>; 3];

/// The deadlines of many channels.
#[derive(Debug, Default)]
pub struct Timers {
    local: BTreeSet<(u64, ChannelId, Timer)>,
    ledger: BTreeSet<(u64, ChannelId, Timer)>,
    armed: HashMap<(ChannelId, Timer), u64>,
}

impl Timers {
    /// No deadlines.
    pub fn new() -> Self {
        Timers::default()
    }

    /// The deadlines of `channel`: a proposal expires `proposal_age` seconds after it was
    /// made, a reserved withdrawal at its certificate's expiry, a close at its deadline.
    pub fn deadlines(channel: &Channel, proposal_age: u64) -> Deadlines {
        let proposal = match channel.phase() {
            Phase::Proposed { since } => Some(since.saturating_add(proposal_age)),
            _ => None,
        };
        let settle = match channel.phase() {
            Phase::Closing { deadline, .. } => Some(*deadline),
            _ => None,
        };
        [proposal, channel.reservation_expiry(), settle]
    }

    /// Sets (or with `None` clears) the deadline of `timer` for channel `id`.
    pub fn set(&mut self, id: ChannelId, timer: Timer, at: Option<u64>) {
        let key = (id, timer);
        let queue = match timer.clock() {
            Clock::Local => &mut self.local,
            Clock::Ledger => &mut self.ledger,
        };
        if let Some(old) = self.armed.remove(&key) {
            queue.remove(&(old, id, timer));
        }
        if let Some(at) = at {
            queue.insert((at, id, timer));
            self.armed.insert(key, at);
        }
    }

    /// Sets every deadline of channel `id` at once.
    pub fn update(&mut self, id: ChannelId, deadlines: Deadlines) {
        for (timer, at) in Timer::ALL.into_iter().zip(deadlines) {
            self.set(id, timer, at);
        }
    }

    /// Forgets channel `id`.
    pub fn remove(&mut self, id: ChannelId) {
        self.update(id, [None; 3]);
    }

    /// The earliest deadline on `clock`: when the driver must call [`due`](Self::due) next.
    pub fn poll_timeout(&self, clock: Clock) -> Option<u64> {
        self.queue(clock).first().map(|(at, _, _)| *at)
    }

    /// Every timer on `clock` whose deadline is at or before `now`, earliest first. They stay
    /// armed until the channel's state clears them (or [`set`](Self::set) moves them), so an
    /// action that failed is due again at the next call.
    pub fn due(&self, clock: Clock, now: u64) -> Vec<(ChannelId, Timer)> {
        self.queue(clock)
            .iter()
            .take_while(|(at, _, _)| *at <= now)
            .map(|(_, id, timer)| (*id, *timer))
            .collect()
    }

    /// The deadline of `timer` for `id`, if armed.
    pub fn deadline(&self, id: ChannelId, timer: Timer) -> Option<u64> {
        self.armed.get(&(id, timer)).copied()
    }

    /// How many deadlines are armed.
    pub fn len(&self) -> usize {
        self.armed.len()
    }

    /// Whether no deadline is armed.
    pub fn is_empty(&self) -> bool {
        self.armed.is_empty()
    }

    fn queue(&self, clock: Clock) -> &BTreeSet<(u64, ChannelId, Timer)> {
        match clock {
            Clock::Local => &self.local,
            Clock::Ledger => &self.ledger,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use alloy_primitives::{Address, B256};

    use super::*;
    use crate::{
        adjudicator::LedgerEvent,
        crypto::SigningKey,
        eip712::{ChannelParams, Domain},
        types::Role,
    };

    fn id(n: u8) -> ChannelId {
        ChannelId(B256::repeat_byte(n))
    }

    #[test]
    fn deadlines_come_out_earliest_first_per_clock_and_stay_until_cleared() {
        let mut timers = Timers::new();
        assert_eq!(timers.poll_timeout(Clock::Local), None);
        timers.set(id(1), Timer::ProposalExpiry, Some(50));
        timers.set(id(2), Timer::ProposalExpiry, Some(40));
        timers.set(id(1), Timer::SettleDue, Some(10));
        timers.set(id(3), Timer::WithdrawalExpiry, Some(20));
        assert_eq!(timers.len(), 4);
        assert_eq!(timers.poll_timeout(Clock::Local), Some(40));
        assert_eq!(timers.poll_timeout(Clock::Ledger), Some(10));
        assert_eq!(timers.due(Clock::Local, 39), vec![]);
        assert_eq!(
            timers.due(Clock::Local, 50),
            vec![
                (id(2), Timer::ProposalExpiry),
                (id(1), Timer::ProposalExpiry)
            ]
        );
        assert_eq!(
            timers.due(Clock::Ledger, 20),
            vec![(id(1), Timer::SettleDue), (id(3), Timer::WithdrawalExpiry)]
        );
        // Still armed: a failed action is due again.
        assert_eq!(timers.due(Clock::Ledger, 20).len(), 2);
        // Moving a deadline replaces it; clearing removes it.
        timers.set(id(2), Timer::ProposalExpiry, Some(60));
        assert_eq!(timers.poll_timeout(Clock::Local), Some(50));
        assert_eq!(timers.deadline(id(2), Timer::ProposalExpiry), Some(60));
        timers.remove(id(1));
        assert_eq!(timers.poll_timeout(Clock::Local), Some(60));
        assert_eq!(timers.poll_timeout(Clock::Ledger), Some(20));
        timers.set(id(3), Timer::WithdrawalExpiry, None);
        timers.set(id(2), Timer::ProposalExpiry, None);
        assert!(timers.is_empty());
        assert_eq!(timers.poll_timeout(Clock::Ledger), None);
    }

    #[test]
    fn a_channels_deadlines_follow_its_phase_and_reservations() {
        let domain = Domain::new(1, Address::repeat_byte(0xad));
        let ka = SigningKey::from_entropy(&[1; 32]).unwrap();
        let params = ChannelParams {
            party_a: ka.address(),
            party_b: Address::repeat_byte(2),
            token: Address::ZERO,
            challenge_period: 100,
            nonce: B256::repeat_byte(7),
        };
        let mut channel = Channel::proposed(params, domain, ka.address(), 1_000).unwrap();
        assert_eq!(Timers::deadlines(&channel, 3600), [Some(4_600), None, None]);
        let channel_id = channel.id();
        channel.handle_ledger_event(&LedgerEvent::Deposited {
            channel_id,
            party: Role::A,
            amount: 100,
            total: 100,
        });
        assert_eq!(Timers::deadlines(&channel, 3600), [None; 3]);
        channel.propose_withdrawal(&ka, 10, 700, 500).unwrap();
        assert_eq!(Timers::deadlines(&channel, 3600), [None, Some(700), None]);
        channel.handle_ledger_event(&LedgerEvent::CloseStarted {
            channel_id,
            by: Role::B,
            deadline: 900,
        });
        assert_eq!(
            Timers::deadlines(&channel, 3600),
            [None, Some(700), Some(900)]
        );
        let mut timers = Timers::new();
        timers.update(channel_id, Timers::deadlines(&channel, 3600));
        assert_eq!(timers.due(Clock::Ledger, 900).len(), 2);
        channel.handle_time(700);
        timers.update(channel_id, Timers::deadlines(&channel, 3600));
        assert_eq!(
            timers.due(Clock::Ledger, 900),
            vec![(channel_id, Timer::SettleDue)]
        );
    }
}
