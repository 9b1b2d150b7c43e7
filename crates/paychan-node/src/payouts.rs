//! Payouts the ledger could not deliver (docs/ETHEREUM.md, "Deferred payouts and claims").
//!
//! A ledger that pays out by transfer (the Ethereum contract) keeps a payout it cannot deliver
//! (a recipient that refuses ETH, a token that blocks it) for its owner to claim. The node
//! follows those events: a deferred payout of ours is added to the channel's `unclaimed`
//! (shown by `channel info`), reported to the user ([`NodeEvent::PayoutDeferred`]) and claimed
//! to our own account at once; if that fails, the user is told how to claim it elsewhere. A
//! claim (ours, or one made with `paychan eth claim`) clears what the channels show.
//!
//! Deferrals are amounts, not totals, so each channel remembers the cursor after the last
//! payout event it applied: a replayed event (after a restart) changes nothing.

use paychan_core::{Address, Amount, adjudicator::LedgerEvent};
use paychan_ledger::{EventRecord, LedgerError};
use serde::{Deserialize, Serialize};

use crate::{
    error::NodeError,
    events::NodeEvent,
    node::{LEDGER_RETRY, Node, Persisted},
};

/// How many times the node tries a claim while the ledger is unavailable.
const CLAIM_ATTEMPTS: u32 = 10;

/// A channel's payouts that the ledger could not deliver to us.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PayoutState {
    /// Deferred and not claimed yet.
    pub(crate) unclaimed: Amount,
    /// The ledger cursor after the last payout event applied to this channel.
    pub(crate) next_cursor: u64,
}

/// [`Persisted`] as rows were written before it had `payouts`.
#[derive(Serialize, Deserialize)]
struct PersistedV1 {
    channel: paychan_core::channel::Channel,
    opened: bool,
    auto_refill: Option<(Amount, Amount)>,
}

/// Decodes a stored channel, written by this version or by one before `payouts` existed (the
/// encoding has no field names, so a row without the last field does not decode as the new
/// layout).
pub(crate) fn decode_persisted(bytes: &[u8]) -> Result<Persisted, postcard::Error> {
    match postcard::from_bytes::<Persisted>(bytes) {
        Ok(state) => Ok(state),
        Err(new) => match postcard::from_bytes::<PersistedV1>(bytes) {
            Ok(old) => Ok(Persisted::from_v1(old.channel, old.opened, old.auto_refill)),
            Err(_) => Err(new),
        },
    }
}

impl Node {
    /// Applies a `PayoutDeferred` or `Claimed` ledger event to our channels.
    pub(crate) async fn apply_payout_event(&self, record: &EventRecord) {
        let me = self.address();
        match record.event {
            LedgerEvent::PayoutDeferred {
                channel_id,
                asset,
                to,
                amount,
            } if to == me => {
                let Ok(slot) = self.slot(&channel_id) else {
                    return;
                };
                let mut entry = self.lock_entry(&slot).await;
                if record.cursor < entry.state.payouts.next_cursor {
                    return; // applied before
                }
                let mut next = entry.state.clone();
                next.payouts.unclaimed = next.payouts.unclaimed.saturating_add(amount);
                next.payouts.next_cursor = record.cursor.saturating_add(1);
                let cursor = Some(record.cursor.saturating_add(1));
                if let Err(e) = self.save(&mut entry, next, vec![], cursor).await {
                    self.emit(NodeEvent::Error {
                        channel_id: Some(channel_id),
                        message: format!("cannot persist a deferred payout: {e}"),
                    });
                    return;
                }
                drop(entry);
                tracing::warn!(channel = %channel_id, amount, "the ledger could not pay us out; claiming");
                self.emit(NodeEvent::PayoutDeferred {
                    channel_id,
                    amount: amount.to_string(),
                });
                let node = self.clone();
                self.track(tokio::spawn(async move {
                    node.auto_claim(channel_id, asset).await;
                }));
            }
            LedgerEvent::Claimed {
                asset,
                owner,
                to,
                amount,
            } if owner == me => {
                let mut cleared = false;
                for (_, slot) in self.slots() {
                    let mut entry = self.lock_entry(&slot).await;
                    let p = entry.state.payouts;
                    if entry.state.channel.params().token != asset
                        || p.unclaimed == 0
                        || record.cursor < p.next_cursor
                    {
                        continue;
                    }
                    let mut next = entry.state.clone();
                    next.payouts = PayoutState {
                        unclaimed: 0,
                        next_cursor: record.cursor.saturating_add(1),
                    };
                    if let Err(e) = self.save(&mut entry, next, vec![], None).await {
                        tracing::warn!(error = %e, "cannot persist a claim");
                    }
                    cleared = true;
                }
                if cleared {
                    self.emit(NodeEvent::Claimed {
                        asset,
                        to,
                        amount: amount.to_string(),
                    });
                }
            }
            _ => {}
        }
    }

    /// Claims our deferred payouts of `asset` to our own account, if the ledger still holds
    /// any; tells the user how to claim elsewhere if that fails.
    async fn auto_claim(&self, channel_id: paychan_core::ChannelId, asset: Address) {
        let me = self.address();
        for _ in 0..CLAIM_ATTEMPTS {
            let result = match self.inner.ledger.unclaimed(me, asset).await {
                Ok(0) => return, // claimed already (by an earlier event's claim)
                Ok(_) => self.inner.ledger.claim(asset, me).await.map(|_| ()),
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => return,
                Err(LedgerError::Unavailable(e)) => {
                    tracing::warn!(channel = %channel_id, error = %e, "claim: ledger unavailable; retrying");
                    tokio::time::sleep(LEDGER_RETRY).await;
                }
                Err(e) => {
                    self.emit(NodeEvent::Error {
                        channel_id: Some(channel_id),
                        message: format!(
                            "the deferred payout could not be claimed to {me}: {e}; claim it \
                             to an address that can receive it with `paychan eth claim --to \
                             ADDRESS`"
                        ),
                    });
                    return;
                }
            }
        }
        self.emit(NodeEvent::Error {
            channel_id: Some(channel_id),
            message: "the deferred payout could not be claimed: the ledger stayed unavailable; \
                      claim it later with `paychan eth claim`"
                .into(),
        });
    }

    /// What the ledger holds for us from payouts it could not deliver, in the native asset.
    pub async fn unclaimed(&self) -> Result<Amount, NodeError> {
        Ok(self
            .inner
            .ledger
            .unclaimed(self.address(), Address::ZERO)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use paychan_core::{
        B256, ChannelParams, SigningKey, adjudicator::embedded_domain, channel::Channel,
    };

    use super::*;

    fn channel() -> Channel {
        let a = SigningKey::from_entropy(&[1; 32]).unwrap();
        let b = SigningKey::from_entropy(&[2; 32]).unwrap();
        let params = ChannelParams {
            party_a: a.address(),
            party_b: b.address(),
            token: Address::ZERO,
            challenge_period: 3_600,
            nonce: B256::repeat_byte(7),
        };
        Channel::new(params, embedded_domain(), a.address()).unwrap()
    }

    #[test]
    fn rows_written_before_payouts_existed_still_decode() {
        let old = PersistedV1 {
            channel: channel(),
            opened: true,
            auto_refill: Some((5, 10)),
        };
        let bytes = postcard::to_stdvec(&old).unwrap();
        let state = decode_persisted(&bytes).unwrap();
        assert_eq!(state.payouts, PayoutState::default());
        assert_eq!(state.channel.id(), old.channel.id());
        // And a current row keeps its payouts.
        let mut current = state.clone();
        current.payouts = PayoutState {
            unclaimed: 42,
            next_cursor: 9,
        };
        let again = decode_persisted(&postcard::to_stdvec(&current).unwrap()).unwrap();
        assert_eq!(again.payouts, current.payouts);
        assert!(decode_persisted(&[0xff; 3]).is_err());
    }
}
