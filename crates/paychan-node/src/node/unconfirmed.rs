//! What is not confirmed yet, both ways: our deposits on their way to the ledger (counted
//! per channel while the ledger call runs: aa-channels' `my_deposits`), and the credit given
//! ahead of peers' unconfirmed deposits, whose limits and minimum wait change at run time
//! (aa-channels' `setMaxUnconfirmedByAsset`, `setMaxUnconfirmedByAssetAndChannel`,
//! `setMinimumTimeToWaitForUnconfirmedPaymentByAsset`).

#[allow(clippy::wildcard_imports)]
use super::*;

impl Slot {
    pub(super) fn new(entry: Entry) -> Self {
        Slot {
            entry: Mutex::new(entry),
            paying: Mutex::new(()),
            pending_deposit: StdMutex::new(0),
        }
    }

    /// Counts `amount` as pending until the returned guard is dropped (whatever the outcome:
    /// applied, refused, or the caller gave up).
    pub(crate) fn pending(&self, amount: Amount) -> PendingDeposit<'_> {
        let mut pending = lock(&self.pending_deposit);
        *pending = pending.saturating_add(amount);
        PendingDeposit { slot: self, amount }
    }

    /// Our deposits on their way to the ledger.
    pub(crate) fn pending_deposit(&self) -> Amount {
        *lock(&self.pending_deposit)
    }
}

/// A deposit counted in [`Slot::pending_deposit`] while it lives.
pub(crate) struct PendingDeposit<'a> {
    slot: &'a Slot,
    amount: Amount,
}

impl Drop for PendingDeposit<'_> {
    fn drop(&mut self) {
        let mut pending = lock(&self.slot.pending_deposit);
        *pending = pending.saturating_sub(self.amount);
    }
}

/// The unconfirmed-credit limits in force, and when each peer's unconfirmed deposit was first
/// seen (for the minimum wait).
pub(crate) struct CreditLimits {
    pub(crate) limits: UnconfirmedCredit,
    /// Seconds an unconfirmed deposit must have been visible before it backs credit.
    pub(crate) min_wait: u64,
    /// Per channel: the unconfirmed total last seen and when (the node's clock) it was first
    /// seen at that total.
    pub(crate) first_seen: HashMap<ChannelId, (Amount, u64)>,
}

impl Node {
    /// Changes at run time how much is accepted ahead of peers' unconfirmed deposits
    /// (aa-channels' `setMaxUnconfirmedByAssetAndChannel`, `setMaxUnconfirmedByAsset` and
    /// `setMinimumTimeToWaitForUnconfirmedPaymentByAsset`): each `Some` replaces that limit,
    /// `None` keeps it. Credit is given only while both amounts are positive; `min_wait` is the
    /// seconds an unconfirmed deposit must have been visible to this node before it backs any.
    /// Not persisted: a restart returns to [`NodeConfig::unconfirmed_credit`] and no wait.
    pub fn set_unconfirmed_credit(
        &self,
        per_channel: Option<Amount>,
        total: Option<Amount>,
        min_wait: Option<u64>,
    ) -> (UnconfirmedCredit, u64) {
        let mut credit = lock(&self.inner.credit_limits);
        if let Some(per_channel) = per_channel {
            credit.limits.per_channel = per_channel;
        }
        if let Some(total) = total {
            credit.limits.total = total;
        }
        if let Some(min_wait) = min_wait {
            credit.min_wait = min_wait;
        }
        (credit.limits.clone(), credit.min_wait)
    }

    /// The unconfirmed-credit limits in force and the minimum wait in seconds.
    pub fn unconfirmed_credit(&self) -> (UnconfirmedCredit, u64) {
        let credit = lock(&self.inner.credit_limits);
        (credit.limits.clone(), credit.min_wait)
    }

    /// Whether the peer's unconfirmed deposits of channel `id` (`unconfirmed` beyond the
    /// confirmed ones) have been visible for the minimum wait: counted from when this node
    /// first saw them at that total (a new deposit starts the wait again).
    pub(super) fn waited_enough(&self, id: ChannelId, unconfirmed: Amount) -> bool {
        let now = super::unix_now();
        let mut credit = lock(&self.inner.credit_limits);
        let min_wait = credit.min_wait;
        if unconfirmed == 0 {
            credit.first_seen.remove(&id);
            return false;
        }
        let since = match credit.first_seen.get(&id) {
            Some((seen, since)) if *seen == unconfirmed => *since,
            _ => {
                credit.first_seen.insert(id, (unconfirmed, now));
                now
            }
        };
        now.saturating_sub(since) >= min_wait
    }
}
