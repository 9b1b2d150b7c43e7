//! Ledger events applied to channels, from our own receipts at once and from the watcher,
//! and the user events they cause, each reported once: the manager applies them and says
//! what changed ([`Manager::handle_ledger_events`]); the node commits, then reports.

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
        self.apply_deposit_receipt(slot, receipt, None).await
    }

    /// [`Node::apply_receipt`] of a deposit (or an open) counted as `pending`: it stops
    /// counting as pending under the channel's lock, once the deposit it made is applied, so
    /// that a reader never sees it twice nor misses it.
    pub(super) async fn apply_deposit_receipt(
        &self,
        slot: &Arc<Slot>,
        receipt: &Receipt,
        pending: Option<super::PendingDeposit<'_>>,
    ) -> Result<(), NodeError> {
        let events: Vec<LedgerEvent> = receipt.events.iter().map(|r| r.event).collect();
        let mut entry = slot.entry.lock().await;
        let mut next = entry.state.clone();
        // Our own operation: whatever it asks of the ledger, the watcher asks again.
        let outcome = self
            .inner
            .manager
            .handle_ledger_events(&mut next.channel, &events);
        let saved = self.save(&mut entry, next, vec![], None).await;
        drop(pending);
        saved?;
        let transaction = receipt.events.iter().find_map(|r| r.transaction);
        let events = user_events(
            &entry.state.channel,
            &outcome.changes,
            self.address(),
            transaction,
        );
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
        let mut next = entry.state.clone();
        let outcome = self
            .inner
            .manager
            .handle_ledger_events(&mut next.channel, &[record.event]);
        let cursor = Some(record.cursor.saturating_add(1));
        if let Err(e) = self.save(&mut entry, next, vec![], cursor).await {
            self.emit(NodeEvent::Error {
                channel_id: Some(id),
                message: format!("cannot persist a ledger event: {e}"),
            });
            return None;
        }
        let events = user_events(
            &entry.state.channel,
            &outcome.changes,
            self.address(),
            record.transaction,
        );
        drop(entry);
        for event in events {
            self.emit(event);
        }
        outcome.actions.into_iter().next()
    }
}

/// The user events of what ledger events changed in `channel` (its state after them), for
/// the node `my_address`; `transaction` is the ledger operation they came from, if known.
pub(super) fn user_events(
    channel: &Channel,
    changes: &[ChannelChange],
    my_address: Address,
    transaction: Option<paychan_core::B256>,
) -> Vec<NodeEvent> {
    let id = channel.id();
    let (me, peer) = (channel.role(), channel.peer());
    let who = |party: Role| if party == me { my_address } else { peer };
    changes
        .iter()
        .map(|change| match *change {
            ChannelChange::Opened if me == Role::A => NodeEvent::ChannelOpened {
                channel_id: id,
                peer,
                transaction,
            },
            ChannelChange::Opened => NodeEvent::ChannelCreatedByPeer {
                channel_id: id,
                peer,
                transaction,
            },
            ChannelChange::Deposited { party, amount } if party == me => {
                NodeEvent::MyDepositBecameStable {
                    channel_id: id,
                    amount: amount.to_string(),
                    transaction,
                }
            }
            ChannelChange::Deposited { amount, .. } => NodeEvent::PeerDepositBecameStable {
                channel_id: id,
                amount: amount.to_string(),
                transaction,
            },
            ChannelChange::Withdrawn { party, amount } => NodeEvent::Withdrawn {
                channel_id: id,
                by: who(party),
                amount: amount.to_string(),
                transaction,
            },
            ChannelChange::CloseStarted { by, deadline } => NodeEvent::CloseStarted {
                channel_id: id,
                by: who(by),
                deadline,
                transaction,
            },
            ChannelChange::Closed { received } => NodeEvent::ChannelClosed {
                channel_id: id,
                amount_received: received.to_string(),
                transaction,
            },
        })
        .collect()
}
