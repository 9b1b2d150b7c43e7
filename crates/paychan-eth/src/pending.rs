//! The transactions an account has sent and is still confirming, with their depth, so that
//! the node's API and the CLI can show "confirmations 2/3" during an open, a deposit or a
//! close instead of a silent wait.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, PoisonError},
};

use alloy::primitives::TxHash;
use paychan_ledger::types::PendingTransaction;

/// The account's transactions between sending and finality, shared by its handle's clones.
#[derive(Clone, Debug, Default)]
pub(crate) struct PendingSet {
    inner: Arc<Mutex<BTreeMap<TxHash, PendingTransaction>>>,
}

impl PendingSet {
    /// Records `hash` as sent, for `action`, needing `required` confirmations; the entry goes
    /// when the returned guard drops (the transaction is final, failed, or was given up on).
    pub(crate) fn track(&self, hash: TxHash, action: &str, required: u64) -> PendingGuard {
        self.with(|map| {
            map.insert(
                hash,
                PendingTransaction {
                    hash,
                    action: action.to_owned(),
                    block: None,
                    confirmations: 0,
                    required,
                },
            )
        });
        PendingGuard {
            set: self.clone(),
            hash,
        }
    }

    /// Records that `hash` is in `block` with `confirmations` blocks on it (its own included).
    pub(crate) fn update(&self, hash: TxHash, block: u64, confirmations: u64) {
        self.with(|map| {
            if let Some(tx) = map.get_mut(&hash) {
                if (tx.block, tx.confirmations) != (Some(block), confirmations) {
                    tracing::info!(
                        %hash,
                        action = %tx.action,
                        block,
                        "confirmations {confirmations}/{}",
                        tx.required
                    );
                }
                tx.block = Some(block);
                tx.confirmations = confirmations;
            }
        });
    }

    /// The transactions not final yet, oldest hash order (a snapshot).
    pub(crate) fn snapshot(&self) -> Vec<PendingTransaction> {
        self.with(|map| map.values().cloned().collect())
    }

    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<TxHash, PendingTransaction>) -> T) -> T {
        // A panic while holding the lock leaves a map that is still consistent.
        let mut map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut map)
    }
}

/// Removes its transaction from the set when dropped.
#[derive(Debug)]
pub(crate) struct PendingGuard {
    set: PendingSet,
    hash: TxHash,
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        let hash = self.hash;
        self.set.with(|map| map.remove(&hash));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_depth_until_the_guard_drops() {
        let set = PendingSet::default();
        let hash = TxHash::repeat_byte(7);
        let guard = set.track(hash, "open", 3);
        assert_eq!(set.snapshot().first().map(|t| t.confirmations), Some(0));
        set.update(hash, 12, 2);
        let now = set.snapshot();
        assert_eq!(now.len(), 1);
        assert_eq!(
            now.first().map(|t| (t.block, t.confirmations, t.required)),
            Some((Some(12), 2, 3))
        );
        drop(guard);
        assert!(set.snapshot().is_empty());
    }
}
