//! Ledger events applied to channels, from our own receipts at once and from the watcher,
//! and the user events they cause, each reported once.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Node {
    /// Applies the events of one of our own ledger operations at once (the watcher will see
    /// them too; events carry totals, so applying twice changes nothing).
    pub(super) async fn apply_receipt(
        &self,
        slot: &Arc<Slot>,
        receipt: &Receipt,
    ) -> Result<(), NodeError> {
        let mut entry = slot.entry.lock().await;
        let before = entry.state.clone();
        let mut next = entry.state.clone();
        let mut applied = vec![];
        for record in &receipt.events {
            if record.event.channel_id() == Some(next.channel.id()) {
                let _ = next.channel.handle_ledger_event(&record.event);
                applied.push(record.event);
            }
        }
        self.save(&mut entry, next, vec![], None).await?;
        let events = user_events(&before, &entry.state, &applied, self.address());
        drop(entry);
        for event in events {
            self.emit(event);
        }
        Ok(())
    }

    /// Applies one ledger event to our channel (if it is ours): persists the new state with
    /// the cursor after it, reports what happened, and returns what the watcher must do.
    pub(crate) async fn apply_ledger_event(
        &self,
        record: &paychan_ledger::EventRecord,
    ) -> Option<paychan_core::channel::LedgerAction> {
        if matches!(
            record.event,
            LedgerEvent::PayoutDeferred { .. } | LedgerEvent::Claimed { .. }
        ) {
            self.apply_payout_event(record).await;
            return None;
        }
        let id = record.event.channel_id()?;
        let slot = self.slot(&id).ok()?;
        let mut entry = slot.entry.lock().await;
        let before = entry.state.clone();
        let mut next = entry.state.clone();
        let action = next.channel.handle_ledger_event(&record.event);
        let cursor = Some(record.cursor.saturating_add(1));
        if let Err(e) = self.save(&mut entry, next, vec![], cursor).await {
            self.emit(NodeEvent::Error {
                channel_id: Some(id),
                message: format!("cannot persist a ledger event: {e}"),
            });
            return None;
        }
        let events = user_events(&before, &entry.state, &[record.event], self.address());
        drop(entry);
        for event in events {
            self.emit(event);
        }
        action
    }
}

/// What ledger events changed for the user, from the channel's state before and after them.
/// Both paths that apply ledger events (our own receipts, the watcher) call this; since it
/// reports only what changed, whichever path applies an event first reports it, once.
pub(super) fn user_events(
    before: &Persisted,
    after: &Persisted,
    events: &[LedgerEvent],
    my_address: Address,
) -> Vec<NodeEvent> {
    let (was, now) = (&before.channel, &after.channel);
    let id = now.id();
    let (me, peer) = (now.role(), now.peer());
    let mut out = vec![];
    if is_proposed(was) && !is_proposed(now) {
        out.push(match me {
            Role::A => NodeEvent::ChannelOpened {
                channel_id: id,
                peer,
            },
            Role::B => NodeEvent::ChannelCreatedByPeer {
                channel_id: id,
                peer,
            },
        });
    }
    let grew = |role: Role| {
        now.ledger()
            .deposited
            .at(role)
            .saturating_sub(was.ledger().deposited.at(role))
    };
    if grew(me) > 0 {
        out.push(NodeEvent::MyDepositBecameStable {
            channel_id: id,
            amount: grew(me).to_string(),
        });
    }
    if grew(me.peer()) > 0 {
        out.push(NodeEvent::PeerDepositBecameStable {
            channel_id: id,
            amount: grew(me.peer()).to_string(),
        });
    }
    for role in [Role::A, Role::B] {
        let amount = now
            .ledger()
            .withdrawn
            .at(role)
            .saturating_sub(was.ledger().withdrawn.at(role));
        if amount > 0 {
            let by = if role == me { my_address } else { peer };
            out.push(NodeEvent::Withdrawn {
                channel_id: id,
                by,
                amount: amount.to_string(),
            });
        }
    }
    let closing_started = |p: &Phase| matches!(p, Phase::Closing { .. } | Phase::Closed { .. });
    if !closing_started(was.phase())
        && let Some(LedgerEvent::CloseStarted { by, deadline, .. }) = events
            .iter()
            .find(|e| matches!(e, LedgerEvent::CloseStarted { .. }))
    {
        let by = if *by == me { my_address } else { peer };
        out.push(NodeEvent::CloseStarted {
            channel_id: id,
            by,
            deadline: *deadline,
        });
    }
    if let (false, Phase::Closed { payouts }) =
        (matches!(was.phase(), Phase::Closed { .. }), now.phase())
    {
        out.push(NodeEvent::ChannelClosed {
            channel_id: id,
            amount_received: payouts.at(me).to_string(),
        });
    }
    out
}
