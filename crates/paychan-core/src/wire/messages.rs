//! The messages of the peer protocol.
//!
//! Requests carry a `request_id` chosen by the sender; the answer repeats it, so many requests
//! can be in flight on one connection (pipelining) and answers may arrive in any order.
//! Message bodies are opaque bytes to the core (the node puts JSON there); a payment's
//! voucher memo is keccak256 of its body.

use serde::{Deserialize, Serialize};

use crate::{
    crypto::Signature,
    eip712::{ChannelParams, Domain, Settlement, SignedVoucher, Withdrawal},
    types::{Amount, ChannelId},
};

/// A machine-readable error with a human message, as sent to the peer.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable code (see the `code` constants on this type).
    pub code: u16,
    /// A human-readable explanation.
    pub message: String,
}

impl ErrorBody {
    /// The payee's handler answered with an error; the payment was not counted.
    pub const HANDLER_ERROR: u16 = 1;
    /// The payee's handler did not answer in time; the payment was not counted.
    pub const HANDLER_TIMEOUT: u16 = 2;
    /// The voucher was refused (the message says why).
    pub const VOUCHER_REJECTED: u16 = 3;
    /// The channel is unknown to the receiver.
    pub const UNKNOWN_CHANNEL: u16 = 4;
    /// A certificate or settlement was refused.
    pub const CERTIFICATE_REJECTED: u16 = 5;
    /// The frame could not be decoded.
    pub const MALFORMED: u16 = 6;
    /// The receiver failed internally (storage, ledger): try again later.
    pub const INTERNAL: u16 = 7;
    /// The request is not allowed by the receiver's policy.
    pub const REFUSED: u16 = 8;

    /// An error body.
    pub fn new(code: u16, message: impl Into<String>) -> Self {
        ErrorBody {
            code,
            message: message.into(),
        }
    }
}

/// A response or an error.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Reply {
    /// The handler's response (JSON bytes).
    Ok(#[serde(with = "serde_bytes")] Vec<u8>),
    /// The handler's or the node's error.
    Err(ErrorBody),
}

/// A channel proposal from A to B.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ProposeChannel {
    /// The channel's parameters (A is the proposer).
    pub params: ChannelParams,
    /// The ledger it will live on: B checks it is the one it uses.
    pub domain: Domain,
    /// What A will deposit at open.
    pub deposit: Amount,
}

/// One message of the peer protocol.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[non_exhaustive]
// Messages live briefly on the stack between the codec and the channel: boxing the larger
// variants would cost an allocation per payment for no gain.
#[allow(clippy::large_enum_variant)]
pub enum Message {
    /// A proposes a channel.
    ProposeChannel(ProposeChannel),
    /// B accepts it; A may open it on the ledger.
    AcceptChannel {
        /// The proposed channel's id.
        channel_id: ChannelId,
    },
    /// B refuses it.
    RejectChannel {
        /// The proposed channel's id.
        channel_id: ChannelId,
        /// Why.
        reason: String,
    },
    /// A payment for a message; answered by [`Message::PayResult`].
    Pay {
        /// Chosen by the payer, repeated in the answer.
        request_id: u64,
        /// The payment.
        voucher: SignedVoucher,
        /// The message paid for (its keccak256 is the voucher's memo).
        #[serde(with = "serde_bytes")]
        body: Vec<u8>,
    },
    /// The payee's answer to a payment.
    PayResult {
        /// The payment's request id.
        request_id: u64,
        /// The channel.
        channel_id: ChannelId,
        /// The handler's response, or why the payment was not counted.
        reply: Reply,
    },
    /// A plain message without payment; answered by [`Message::Response`].
    Request {
        /// Chosen by the sender, repeated in the answer.
        request_id: u64,
        /// The channel it concerns.
        channel_id: ChannelId,
        /// The message.
        #[serde(with = "serde_bytes")]
        body: Vec<u8>,
    },
    /// The answer to a plain message.
    Response {
        /// The message's request id.
        request_id: u64,
        /// The answer.
        reply: Reply,
    },
    /// A withdrawal certificate signed by the party that withdraws.
    WithdrawRequest {
        /// The certificate.
        withdrawal: Withdrawal,
        /// The withdrawing party's signature.
        signature: Signature,
    },
    /// The co-signature of a withdrawal certificate.
    WithdrawSignature {
        /// The channel.
        channel_id: ChannelId,
        /// The co-signer's signature.
        signature: Signature,
    },
    /// A cooperative settlement signed by the proposer.
    SettlementRequest {
        /// The settlement.
        settlement: Settlement,
        /// The proposer's signature.
        signature: Signature,
    },
    /// The co-signature of a settlement.
    SettlementSignature {
        /// The channel.
        channel_id: ChannelId,
        /// The co-signer's signature.
        signature: Signature,
    },
    /// Sent on every (re)connect, per channel: the sender's copy of the receiver's latest
    /// voucher (so the receiver recovers its counter) and the sender's own latest voucher
    /// (so the receiver recovers a payment it lost).
    CounterSync {
        /// The channel.
        channel_id: ChannelId,
        /// The latest voucher the sender accepted from the receiver.
        yours: Option<SignedVoucher>,
        /// The latest voucher the sender signed.
        mine: Option<SignedVoucher>,
    },
    /// Keep-alive.
    Ping {
        /// Echoed in the pong.
        nonce: u64,
    },
    /// Keep-alive answer.
    Pong {
        /// The ping's nonce.
        nonce: u64,
    },
    /// An error about a channel, a request, or the connection.
    Error {
        /// The channel concerned, if any.
        channel_id: Option<ChannelId>,
        /// The request concerned, if any.
        request_id: Option<u64>,
        /// What went wrong.
        error: ErrorBody,
    },
}

impl Message {
    /// A short name for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::ProposeChannel(_) => "propose_channel",
            Message::AcceptChannel { .. } => "accept_channel",
            Message::RejectChannel { .. } => "reject_channel",
            Message::Pay { .. } => "pay",
            Message::PayResult { .. } => "pay_result",
            Message::Request { .. } => "request",
            Message::Response { .. } => "response",
            Message::WithdrawRequest { .. } => "withdraw_request",
            Message::WithdrawSignature { .. } => "withdraw_signature",
            Message::SettlementRequest { .. } => "settlement_request",
            Message::SettlementSignature { .. } => "settlement_signature",
            Message::CounterSync { .. } => "counter_sync",
            Message::Ping { .. } => "ping",
            Message::Pong { .. } => "pong",
            Message::Error { .. } => "error",
        }
    }
}
