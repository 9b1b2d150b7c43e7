//! What a [`Peer`](super::Peer) reports: its events, the records to store and a channel's
//! summary, all serializable to the JSON the JavaScript side reads (amounts as decimal
//! strings).

use paychan_core::{Address, ChannelId, channel::Channel, manager::ledger::ChannelChange};
use serde::Serialize;

/// A channel state to store (`state`, the stored form [`Peer::restore`](super::Peer::restore)
/// reads), or to forget (`None`: a proposal the peer refused).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Record {
    /// The channel.
    pub id: ChannelId,
    /// Its state, or `None` to remove it.
    pub state: Option<String>,
}

/// One channel as the user sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// The channel id.
    pub id: ChannelId,
    /// The peer.
    pub peer: Address,
    /// `A` (we opened it) or `B`.
    pub role: String,
    /// The phase: `proposed`, `open`, `settling`, `closing`, `closed`, ...
    pub phase: String,
    /// Our deposit, as the ledger reported it.
    pub my_deposit: String,
    /// The peer's deposit.
    pub peer_deposit: String,
    /// Everything we paid.
    pub paid_by_me: String,
    /// Everything the peer paid us.
    pub paid_by_peer: String,
    /// What we may still pay.
    pub my_available: String,
    /// What the peer may still pay.
    pub peer_available: String,
    /// How many vouchers we signed.
    pub sequence: u64,
}

impl Summary {
    /// The summary of `channel`.
    pub fn of(channel: &Channel) -> Self {
        let b = channel.balances();
        let me = channel.role();
        Summary {
            id: channel.id(),
            peer: channel.peer(),
            role: format!("{me:?}"),
            phase: channel.phase().name().to_owned(),
            my_deposit: b.my_deposit.to_string(),
            peer_deposit: channel.ledger().deposited.at(me.peer()).to_string(),
            paid_by_me: b.paid_by_me.to_string(),
            paid_by_peer: b.paid_by_peer.to_string(),
            my_available: b.my_available.to_string(),
            peer_available: channel.available(me.peer()).to_string(),
            sequence: channel.sent_sequence(),
        }
    }
}

/// What happened, for the user (JSON tagged by `type`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[non_exhaustive]
pub enum Event {
    /// The handshake proved the peer's address.
    Connected {
        /// The peer.
        peer: Address,
    },
    /// The connection ended.
    Disconnected,
    /// The peer accepted our proposal: open the channel on the ledger.
    Accepted {
        /// The channel.
        channel_id: ChannelId,
    },
    /// The peer refused our proposal (the channel is forgotten).
    Rejected {
        /// The channel.
        channel_id: ChannelId,
        /// Why.
        reason: String,
    },
    /// The peer proposed a channel and we accepted it (its policy is the core's).
    Proposed {
        /// The channel.
        channel_id: ChannelId,
        /// The deposit the peer will make.
        deposit: String,
    },
    /// Our payment was answered: it counts.
    Paid {
        /// The request id [`Peer::pay`](super::Peer::pay) answered.
        request_id: u64,
        /// The channel.
        channel_id: ChannelId,
        /// The amount.
        amount: String,
        /// The peer's response (JSON).
        response: serde_json::Value,
    },
    /// Our payment was refused and taken back: it does not count.
    Refused {
        /// The request id.
        request_id: u64,
        /// The channel.
        channel_id: ChannelId,
        /// The amount.
        amount: String,
        /// The peer's error code (docs/PROTOCOL.md, `ErrorBody`).
        code: u16,
        /// The peer's message.
        message: String,
    },
    /// The connection ended before our payment was answered: it stays counted (the peer
    /// may have kept it; the counter sync on reconnect gives it the voucher if not).
    PaymentUnknown {
        /// The request id.
        request_id: u64,
        /// The channel.
        channel_id: ChannelId,
        /// The amount.
        amount: String,
    },
    /// A payment to us, for the handler: answer with
    /// [`Peer::answer_payment`](super::Peer::answer_payment).
    Payment {
        /// Our id of it.
        id: u64,
        /// The channel.
        channel_id: ChannelId,
        /// The payer.
        peer: Address,
        /// What it pays.
        amount: String,
        /// The message (JSON).
        message: serde_json::Value,
    },
    /// A payment to us was kept (stored before the answer leaves).
    Received {
        /// Our id of it.
        id: u64,
        /// The channel.
        channel_id: ChannelId,
        /// The amount.
        amount: String,
    },
    /// A payment to us was refused (by the rules or the handler): nothing counted.
    Declined {
        /// Our id of it (0 if the handler never saw it).
        id: u64,
        /// The channel.
        channel_id: ChannelId,
        /// Why.
        message: String,
    },
    /// Both signed a withdrawal or the cooperative close: submit
    /// [`Peer::cosigned_request`](super::Peer::cosigned_request) to the ledger.
    Cosigned {
        /// The channel.
        channel_id: ChannelId,
        /// `withdrawal` or `settlement`.
        kind: String,
    },
    /// The peer refused our withdrawal or settlement, or the connection failed it.
    CosignRefused {
        /// The channel.
        channel_id: ChannelId,
        /// Why.
        message: String,
    },
    /// The peer's counter sync moved a counter.
    Synced {
        /// The channel.
        channel_id: ChannelId,
        /// Whether our own counter moved up to the peer's copy of our latest voucher.
        counter_moved: bool,
        /// What a voucher of the peer's we had lost added.
        recovered: String,
    },
    /// The ledger changed a channel (opened, deposited, withdrawn, closing, closed).
    Ledger {
        /// The channel.
        channel_id: ChannelId,
        /// `opened`, `deposited`, `withdrawn`, `close_started` or `closed`.
        change: String,
        /// The channel after the change.
        channel: Summary,
    },
    /// A payment to us needs the ledger's record of the channel (the payer's deposit is
    /// newer than what we know): call
    /// [`Peer::apply_ledger_record`](super::Peer::apply_ledger_record).
    NeedsLedger {
        /// The channel.
        channel_id: ChannelId,
    },
    /// The peer reported an error about something of ours.
    PeerError {
        /// The channel concerned, if any.
        channel_id: Option<ChannelId>,
        /// Its code.
        code: u16,
        /// Its message.
        message: String,
    },
}

/// The stable name of a ledger change.
pub(super) fn change_name(change: &ChannelChange) -> &'static str {
    match change {
        ChannelChange::Opened => "opened",
        ChannelChange::Deposited { .. } => "deposited",
        ChannelChange::Withdrawn { .. } => "withdrawn",
        ChannelChange::CloseStarted { .. } => "close_started",
        ChannelChange::Closed { .. } => "closed",
    }
}
