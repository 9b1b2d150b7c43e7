//! The driver of the node's deadlines ([`Timers`](paychan_core::manager::Timers)): what is
//! due on the node's clock runs in [`run`], what is due on the ledger's clock runs when the
//! watcher reads the ledger's time ([`Node::on_ledger_time`]).
//!
//! - A channel proposed (by us, or by a peer and accepted) that the ledger has not opened
//!   within [`NodeConfig::proposal_expiry`](crate::NodeConfig::proposal_expiry) is forgotten,
//!   unless the ledger shows it after all: then it is taken as opened.
//! - A withdrawal certificate reserved (ours unanswered, or the peer's that we co-signed)
//!   and not executed by its expiry is released, so its amount can be spent again and the
//!   next withdrawal can start.
//! - A close whose challenge period is over is settled.

use std::time::Duration;

use paychan_core::{
    ChannelId, Role,
    channel::Phase,
    manager::{Clock, Timer},
};

use crate::{
    events::NodeEvent,
    node::{Node, is_proposed, lock, unix_now},
};

/// How long to wait before asking the ledger again about a proposal it could not rule on.
const RECHECK: u64 = 60;

/// Runs the deadlines on the node's clock until the node shuts down.
pub(crate) async fn run(node: Node) {
    let mut shutdown = node.shutdown_signal();
    loop {
        let now = unix_now();
        let next = lock(&node.inner.timers).poll_timeout(Clock::Local);
        if next.is_some_and(|at| at <= now) {
            let due = lock(&node.inner.timers).due(Clock::Local, now);
            for (id, timer) in due {
                if timer == Timer::ProposalExpiry {
                    node.expire_proposal(id, now).await;
                }
            }
            continue;
        }
        let wait = next.map(|at| Duration::from_secs(at.saturating_sub(now)));
        tokio::select! {
            () = node.inner.timers_changed.notified() => {}
            () = sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Sleeps `wait`, or forever.
async fn sleep(wait: Option<Duration>) {
    match wait {
        Some(wait) => tokio::time::sleep(wait).await,
        None => std::future::pending().await,
    }
}

impl Node {
    /// Forgets the proposed channel `id` if the ledger does not have it; takes it as opened
    /// if the ledger does; asks again later if the ledger cannot tell. Every path clears or
    /// moves the channel's deadline past `now`.
    pub(crate) async fn expire_proposal(&self, id: ChannelId, now: u64) {
        let recheck = |node: &Node| {
            lock(&node.inner.timers).set(
                id,
                Timer::ProposalExpiry,
                Some(now.saturating_add(RECHECK)),
            );
        };
        let Ok(slot) = self.slot(&id) else {
            lock(&self.inner.timers).remove(id);
            return;
        };
        let mut entry = self.lock_entry(&slot).await;
        let peer = entry.state.channel.peer();
        let due = match entry.state.channel.phase() {
            Phase::Proposed { since } => {
                since.saturating_add(self.config().proposal_expiry.as_secs())
            }
            // Opened meanwhile: nothing is due.
            _ => {
                lock(&self.inner.timers).set(id, Timer::ProposalExpiry, None);
                return;
            }
        };
        if due > now {
            lock(&self.inner.timers).set(id, Timer::ProposalExpiry, Some(due));
            return;
        }
        match self.inner.ledger.channel_unconfirmed(id).await {
            Ok(None) => match self.forget_proposed(&mut entry).await {
                Ok(_) => {
                    drop(entry);
                    tracing::info!(channel = %id, %peer, "proposal expired unopened");
                    self.emit(NodeEvent::ProposalExpired {
                        channel_id: id,
                        peer,
                    });
                }
                Err(e) => {
                    tracing::warn!(channel = %id, error = %e, "cannot forget an expired proposal");
                    recheck(self);
                }
            },
            Ok(Some(_)) => {
                // Open on the ledger after all: take its deposits (confirmed ones open it).
                drop(entry);
                self.refresh_deposits(&slot).await;
                if is_proposed(&self.lock_entry(&slot).await.state.channel) {
                    recheck(self);
                }
            }
            Err(e) => {
                tracing::warn!(channel = %id, error = %e, "cannot ask the ledger about an expired proposal");
                recheck(self);
            }
        }
    }

    /// Runs what is due at ledger time `now`: settles closes whose challenge period is
    /// over, releases withdrawal certificates that expired unexecuted.
    pub(crate) async fn on_ledger_time(&self, now: u64) {
        let due = lock(&self.inner.timers).due(Clock::Ledger, now);
        for (id, timer) in due {
            match timer {
                Timer::SettleDue => match self.inner.ledger.settle(id).await {
                    Ok(_) => tracing::info!(channel = %id, "settled after the challenge period"),
                    Err(e) => tracing::debug!(channel = %id, error = %e, "settle not done (yet)"),
                },
                Timer::WithdrawalExpiry => self.release_expired(id, now).await,
                Timer::ProposalExpiry => {}
            }
        }
    }

    /// Releases the withdrawal certificates of channel `id` that expired by ledger time
    /// `now`, unless the ledger's newest state shows one executed (before its expiry; its
    /// event is on its way and will count it).
    async fn release_expired(&self, id: ChannelId, now: u64) {
        let Ok(slot) = self.slot(&id) else {
            return;
        };
        let reserved = self.lock_entry(&slot).await.state.channel.reservations();
        let record = match self.inner.ledger.channel_unconfirmed(id).await {
            Ok(Some(record)) => record,
            Ok(None) => return,
            Err(e) => {
                tracing::debug!(channel = %id, error = %e, "cannot check expired withdrawals");
                return;
            }
        };
        let executed = [Role::A, Role::B].into_iter().any(|role| {
            reserved
                .at(role)
                .is_some_and(|w| w.expiry <= now && record.withdrawn.at(role) >= w.total_withdrawn)
        });
        if executed {
            return;
        }
        let mut entry = self.lock_entry(&slot).await;
        if entry.state.channel.reservations() != reserved {
            // Changed meanwhile: decided again at the next tick.
            return;
        }
        let mut next = entry.state.clone();
        next.channel.handle_time(now);
        if next.channel == entry.state.channel {
            return;
        }
        match self.save(&mut entry, next, vec![], None).await {
            Ok(()) => tracing::info!(channel = %id, "expired withdrawal certificate released"),
            Err(e) => {
                tracing::warn!(channel = %id, error = %e, "cannot release an expired withdrawal")
            }
        }
    }
}
