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
        self.reload(&mut entry).await?;
        let mut attempt: usize = 0;
        let outcome = loop {
            let mut next = entry.state.clone();
            // Our own operation: whatever it asks of the ledger, the watcher asks again.
            let outcome = self
                .inner
                .manager
                .handle_ledger_events(&mut next.channel, &events);
            attempt = attempt.saturating_add(1);
            match self.save(&mut entry, next, vec![], None).await {
                Ok(()) => break outcome,
                // A shared store's row moved on (a front's payment): reloaded; again.
                Err(e) if is_conflict(&e) && attempt < MAX_RELOADS => {}
                Err(e) => return Err(e),
            }
        };
        // Applied: no longer pending (under the channel's lock, see above).
        drop(pending);
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
        let slot = match self.slot(&id) {
            Ok(slot) => slot,
            Err(_) => self.follow_new_channel(record.event).await?,
        };
        let mut entry = slot.entry.lock().await;
        let cursor = Some(record.cursor.saturating_add(1));
        let mut attempt: usize = 0;
        let outcome = loop {
            attempt = attempt.saturating_add(1);
            let saved = async {
                self.reload(&mut entry).await?;
                let mut next = entry.state.clone();
                let outcome = self
                    .inner
                    .manager
                    .handle_ledger_events(&mut next.channel, &[record.event]);
                self.save(&mut entry, next, vec![], cursor).await?;
                Ok::<_, NodeError>(outcome)
            }
            .await;
            match saved {
                Ok(outcome) => break outcome,
                Err(e) if is_conflict(&e) && attempt < MAX_RELOADS => {}
                Err(e) => {
                    self.emit(NodeEvent::Error {
                        channel_id: Some(id),
                        message: format!("cannot persist a ledger event: {e}"),
                    });
                    return None;
                }
            }
        };
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

impl Node {
    /// In a shared store, the slot of a channel this node does not know yet: as a front stored
    /// it, or, for a channel that just opened naming us, learnt from the ledger under the
    /// channel policy (so the background follows every channel from its opening, paid or
    /// not). `None` for anything else, and always for a node that owns its store.
    async fn follow_new_channel(&self, event: LedgerEvent) -> Option<Arc<Slot>> {
        if !self.shared_store() {
            return None;
        }
        let id = event.channel_id()?;
        if let Some(slot) = self.adopt(id).await.ok().flatten() {
            return Some(slot);
        }
        let LedgerEvent::Opened { params, .. } = event else {
            return None;
        };
        if params.party_b != self.address() && params.party_a != self.address() {
            return None;
        }
        match self.learn_channel(params).await {
            Ok(slot) => Some(slot),
            // A front stored it meanwhile.
            Err(e) if is_conflict(&e) => self.adopt(id).await.ok().flatten(),
            Err(e) => {
                tracing::info!(channel = %id, error = %e, "not following a channel opened on the ledger");
                None
            }
        }
    }
}

/// How many times a ledger event is applied again after another process wrote the channel
/// in between (each time means a newer state: a shared store under load).
const MAX_RELOADS: usize = 16;

/// Whether `error` is a lost race on a channel's row.
fn is_conflict(error: &NodeError) -> bool {
    matches!(
        error,
        NodeError::Store(paychan_store::StoreError::Conflict { .. })
    )
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
