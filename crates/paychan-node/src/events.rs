//! What a node tells its user: the event stream (aa-channels' names where they fit).

use paychan_core::{Address, B256, ChannelId};
use serde::{Deserialize, Serialize};

/// Something that happened to one of our channels, or to a peer connection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum NodeEvent {
    /// A peer's proposal was accepted and the channel is open on the ledger.
    ChannelCreatedByPeer {
        /// The channel.
        channel_id: ChannelId,
        /// The peer.
        peer: Address,
        /// The ledger operation (transaction) that did it, when the ledger says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        transaction: Option<B256>,
    },
    /// A channel we proposed is open on the ledger.
    ChannelOpened {
        /// The channel.
        channel_id: ChannelId,
        /// The peer.
        peer: Address,
        /// The ledger operation (transaction) that did it, when the ledger says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        transaction: Option<B256>,
    },
    /// The peer paid us and our handler answered.
    PaymentReceived {
        /// The channel.
        channel_id: ChannelId,
        /// The amount.
        amount: String,
        /// The message paid for.
        message: serde_json::Value,
    },
    /// We paid the peer and it answered.
    PaymentSent {
        /// The channel.
        channel_id: ChannelId,
        /// The amount.
        amount: String,
    },
    /// Our deposit is on the ledger.
    MyDepositBecameStable {
        /// The channel.
        channel_id: ChannelId,
        /// This deposit.
        amount: String,
        /// The ledger operation (transaction) that did it, when the ledger says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        transaction: Option<B256>,
    },
    /// The peer's deposit is on the ledger.
    PeerDepositBecameStable {
        /// The channel.
        channel_id: ChannelId,
        /// This deposit.
        amount: String,
        /// The ledger operation (transaction) that did it, when the ledger says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        transaction: Option<B256>,
    },
    /// The ledger refused one of our deposits (the channel is closing or closed, our balance
    /// is short): nothing was deposited (aa-channels' `refused_deposit`).
    RefusedDeposit {
        /// The channel.
        channel_id: ChannelId,
        /// The deposit refused.
        amount: String,
        /// The ledger's reason.
        reason: String,
    },
    /// Auto-refill deposited for us.
    ChannelRefilled {
        /// The channel.
        channel_id: ChannelId,
        /// The deposit.
        amount: String,
    },
    /// A withdrawal was executed.
    Withdrawn {
        /// The channel.
        channel_id: ChannelId,
        /// Who withdrew.
        by: Address,
        /// The amount.
        amount: String,
        /// The ledger operation (transaction) that did it, when the ledger says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        transaction: Option<B256>,
    },
    /// A unilateral close started; `deadline` is ledger time.
    CloseStarted {
        /// The channel.
        channel_id: ChannelId,
        /// Who started it.
        by: Address,
        /// When it can be settled.
        deadline: u64,
        /// The ledger operation (transaction) that did it, when the ledger says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        transaction: Option<B256>,
    },
    /// The channel was paid out.
    ChannelClosed {
        /// The channel.
        channel_id: ChannelId,
        /// What we received at settlement.
        amount_received: String,
        /// The ledger operation (transaction) that did it, when the ledger says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        transaction: Option<B256>,
    },
    /// A channel proposed by us, or by the peer and accepted, was not opened on the ledger
    /// in time (`NodeConfig::proposal_expiry`) and is forgotten.
    ProposalExpired {
        /// The channel.
        channel_id: ChannelId,
        /// The peer.
        peer: Address,
    },
    /// Our payout of a channel could not be delivered (our account refuses the asset, a token
    /// blocks it): the ledger keeps it for us to claim. The node claims it to its own
    /// account at once when it can; otherwise `paychan eth claim --to ADDRESS` pays it
    /// elsewhere.
    PayoutDeferred {
        /// The channel.
        channel_id: ChannelId,
        /// The part of our payout not delivered.
        amount: String,
    },
    /// Our deferred payouts were claimed (by this node or by `paychan eth claim`).
    Claimed {
        /// The asset (zero address: native).
        asset: Address,
        /// Where they were paid.
        to: Address,
        /// How much.
        amount: String,
    },
    /// We proposed a channel to a peer (the first funding stage; then `channel_accepted`,
    /// then `channel_opened`).
    ChannelProposed {
        /// The channel.
        channel_id: ChannelId,
        /// The peer.
        peer: Address,
        /// What we deposit at open.
        deposit: String,
    },
    /// The peer accepted our proposal: we are opening the channel on the ledger.
    ChannelAccepted {
        /// The channel.
        channel_id: ChannelId,
        /// The peer.
        peer: Address,
    },
    /// A peer is connected (none was before).
    PeerConnected {
        /// The peer.
        peer: Address,
        /// Whether we dialed it (else it dialed us).
        dialed: bool,
    },
    /// The connection to a peer ended and no other replaced it.
    PeerDisconnected {
        /// The peer.
        peer: Address,
    },
    /// Something failed in the background (watcher, peer link).
    Error {
        /// The channel concerned, if any.
        channel_id: Option<ChannelId>,
        /// What went wrong.
        message: String,
    },
}
