//! The counter sync on every (re)connect (`docs/PROTOCOL.md`, counter sync): each side
//! sends, per open channel, the latest voucher it accepted from the other (`yours`: the
//! other's counter, which it may have lost in a restore) and the latest it signed (`mine`:
//! a payment the other may have lost). Each side adopts its own counter from the peer's copy
//! if it is higher and bears its own signature, and takes a resent voucher under the same
//! rules as a payment, so neither side ever signs a voucher below one it signed before.

use alloy_primitives::Address;

use super::Manager;
use crate::{
    channel::{Channel, Phase, SyncRejection, VoucherRejection},
    eip712::SignedVoucher,
    types::Amount,
    wire::Message,
};

/// What a peer's counter sync did to a channel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncOutcome {
    /// Whether our outgoing counter moved up to the peer's copy of our latest voucher.
    pub counter_moved: bool,
    /// What a voucher of the peer's that we had lost adds to its total.
    pub recovered: Amount,
    /// Why the peer's copy of our voucher was not taken, if it was sent and refused.
    pub ours_refused: Option<SyncRejection>,
    /// Why the peer's resent voucher was not taken, if it was sent and refused (an older
    /// voucher than ours is refused, and harmless).
    pub theirs_refused: Option<VoucherRejection>,
}

impl SyncOutcome {
    /// Whether the channel changed (and must be committed).
    pub fn changed(&self) -> bool {
        self.counter_moved || self.recovered > 0
    }
}

impl Manager {
    /// The counter-sync message for `channel` on a (re)connect of `peer`: `None` unless the
    /// channel is with `peer`, open on the ledger (a proposed one is unknown to the peer)
    /// and not closed, and holds a voucher either way.
    ///
    /// The driver must not send it while one of our payments on the channel is in flight:
    /// its outcome (answered, or refused and taken back) must be settled first, or the peer
    /// would count a payment we report as refused.
    pub fn counter_sync(&self, channel: &Channel, peer: Address) -> Option<Message> {
        if channel.peer() != peer
            || matches!(
                channel.phase(),
                Phase::Proposed { .. } | Phase::Closed { .. }
            )
        {
            return None;
        }
        let (yours, mine) = (
            channel.latest_received().copied(),
            channel.latest_sent().copied(),
        );
        if yours.is_none() && mine.is_none() {
            return None;
        }
        Some(Message::CounterSync {
            channel_id: channel.id(),
            yours,
            mine,
        })
    }

    /// A peer's counter sync for `channel` (already checked to be with that peer): applies
    /// it in place and answers what it did; commit the channel if
    /// [`changed`](SyncOutcome::changed).
    pub fn handle_counter_sync(
        &self,
        channel: &mut Channel,
        yours: Option<&SignedVoucher>,
        mine: Option<&SignedVoucher>,
    ) -> SyncOutcome {
        let mut outcome = SyncOutcome::default();
        if let Some(ours) = yours {
            match channel.handle_counter_sync(ours) {
                Ok(moved) => outcome.counter_moved = moved,
                Err(e) => outcome.ours_refused = Some(e),
            }
        }
        if let Some(theirs) = mine {
            match channel.handle_resent_voucher(theirs) {
                Ok(amount) => outcome.recovered = amount,
                Err(e) => outcome.theirs_refused = Some(e),
            }
        }
        outcome
    }
}
