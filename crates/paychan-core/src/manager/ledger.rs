//! Ledger events applied to a channel, and what they changed for the user. A node applies
//! the events of its own ledger operations at once (from their receipts) and the watcher's
//! later, the same events twice; events carry totals, so applying one again changes nothing,
//! and since the changes are computed from the state before and after, whichever path
//! applies an event first reports it, once.

use super::Manager;
use crate::{
    adjudicator::LedgerEvent,
    channel::{Channel, LedgerAction, Phase},
    types::{Amount, Role},
};

/// What ledger events changed in a channel, for the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelChange {
    /// The ledger opened the channel (it was proposed).
    Opened,
    /// A party's deposit grew by `amount` (confirmed on the ledger).
    Deposited {
        /// Whose.
        party: Role,
        /// By how much.
        amount: Amount,
    },
    /// A party withdrew `amount` while the channel stays open.
    Withdrawn {
        /// Who.
        party: Role,
        /// How much.
        amount: Amount,
    },
    /// A unilateral close started: payments stop; it can be settled from `deadline`.
    CloseStarted {
        /// Who started it.
        by: Role,
        /// Ledger time from which it can be settled.
        deadline: u64,
    },
    /// The channel closed for good; we received `received`.
    Closed {
        /// Our payout.
        received: Amount,
    },
}

/// What applying ledger events to a channel asks for and reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LedgerOutcome {
    /// What the driver must do on the ledger (submit the peer's voucher against a close
    /// that counts less than it).
    pub actions: Vec<LedgerAction>,
    /// What changed for the user, in order.
    pub changes: Vec<ChannelChange>,
}

impl Manager {
    /// Applies the ledger's `events` about `channel` to it in place (events of other
    /// channels are skipped); commit it, then act on the outcome.
    pub fn handle_ledger_events(
        &self,
        channel: &mut Channel,
        events: &[LedgerEvent],
    ) -> LedgerOutcome {
        let before = channel.clone();
        let id = channel.id();
        let mut actions = Vec::new();
        for event in events.iter().filter(|e| e.channel_id() == Some(id)) {
            actions.extend(channel.handle_ledger_event(event));
        }
        LedgerOutcome {
            actions,
            changes: changes(&before, channel, events),
        }
    }
}

/// What changed for the user from `was` to `now` through `events`: only what differs, so
/// each change is reported once whichever path applies the events first.
pub fn changes(was: &Channel, now: &Channel, events: &[LedgerEvent]) -> Vec<ChannelChange> {
    let proposed = |c: &Channel| matches!(c.phase(), Phase::Proposed { .. });
    let mut out = vec![];
    if proposed(was) && !proposed(now) {
        out.push(ChannelChange::Opened);
    }
    let me = now.role();
    for party in [me, me.peer()] {
        let amount = now
            .ledger()
            .deposited
            .at(party)
            .saturating_sub(was.ledger().deposited.at(party));
        if amount > 0 {
            out.push(ChannelChange::Deposited { party, amount });
        }
    }
    for party in [Role::A, Role::B] {
        let amount = now
            .ledger()
            .withdrawn
            .at(party)
            .saturating_sub(was.ledger().withdrawn.at(party));
        if amount > 0 {
            out.push(ChannelChange::Withdrawn { party, amount });
        }
    }
    let closing = |p: &Phase| matches!(p, Phase::Closing { .. } | Phase::Closed { .. });
    if !closing(was.phase())
        && let Some(LedgerEvent::CloseStarted { by, deadline, .. }) = events
            .iter()
            .find(|e| matches!(e, LedgerEvent::CloseStarted { channel_id, .. } if *channel_id == now.id()))
    {
        out.push(ChannelChange::CloseStarted {
            by: *by,
            deadline: *deadline,
        });
    }
    if let (false, Phase::Closed { payouts }) =
        (matches!(was.phase(), Phase::Closed { .. }), now.phase())
    {
        out.push(ChannelChange::Closed {
            received: payouts.at(me),
        });
    }
    out
}
