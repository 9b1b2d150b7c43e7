//! The node's errors: a stable numeric code, a category (as in perun-node: peer, client,
//! protocol, internal) that says whose fault it is and what to do, and a human message.

pub use paychan_core::manager::package::PackageRejection;
use paychan_core::{
    ChannelId,
    channel::{CertificateRejection, CommandError, Reason, VoucherRejection},
    wire::CodecError,
};
use paychan_ledger::LedgerError;
use paychan_store::StoreError;
use serde::{Deserialize, Serialize};

/// Whose fault an error is, and so what the caller should do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// The peer refused, failed or is unreachable: retry later or close the channel.
    Peer,
    /// The request is invalid (unknown channel, insufficient balance, bad amount): fix it.
    Client,
    /// The ledger or a message broke the protocol: nothing changed; report it.
    Protocol,
    /// This node failed (storage, ledger unreachable): retry later.
    Internal,
}

/// Why a node operation failed. Nothing was paid or signed unless the variant says so.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// No channel with this id.
    #[error("unknown channel {0}")]
    UnknownChannel(ChannelId),
    /// A command the channel refused (balance, phase, amount).
    #[error(transparent)]
    Command(#[from] CommandError),
    /// The message is not valid JSON or too large.
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    /// No contact with this alias.
    #[error("unknown contact {0:?}")]
    UnknownContact(String),
    /// A contact's alias or peer is malformed.
    #[error("invalid contact: {0}")]
    InvalidContact(String),
    /// The alias is taken (add it with `replace` to overwrite).
    #[error("a contact named {0:?} exists already")]
    ContactExists(String),
    /// A payment package was refused (malformed, forged, replayed, for another payee,
    /// channel or ledger, or over the payer's balance); nothing was recorded.
    #[error("payment package refused: {0}")]
    PackageRefused(#[from] PackageRejection),
    /// The node's configuration cannot work with its ledger (a challenge period it could not
    /// defend); the message says what would be accepted.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// The peer is not connected.
    #[error("peer {0} is not connected")]
    PeerOffline(paychan_core::Address),
    /// The peer did not answer in time. For a payment the outcome is unknown: it is counted
    /// as paid until the peer says otherwise.
    #[error("the peer did not answer within {0:?}")]
    Timeout(std::time::Duration),
    /// The connection to the peer was lost while we waited for its answer. For a payment the
    /// outcome is unknown: it stays counted, and the counter sync on reconnect gives the
    /// peer's view.
    #[error("the connection to {0} was lost before it answered")]
    ConnectionLost(paychan_core::Address),
    /// The peer answered with an error (its handler failed, it refused our voucher or
    /// proposal); the payment was not counted.
    #[error("the peer refused (code {code}): {message}")]
    PeerRefused {
        /// The peer's error code.
        code: u16,
        /// The peer's message.
        message: String,
    },
    /// The peer sent something that breaks the protocol.
    #[error("protocol violation by the peer: {0}")]
    Protocol(String),
    /// A voucher was refused by the channel's rules.
    #[error("voucher refused: {0}")]
    Voucher(#[from] VoucherRejection),
    /// A withdrawal or settlement certificate was refused by the channel's rules.
    #[error("certificate refused: {0}")]
    Certificate(#[from] CertificateRejection),
    /// A frame does not decode, or a message does not encode.
    #[error("wire codec: {0}")]
    Codec(#[from] CodecError),
    /// The ledger refused or failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Our storage failed; the operation did not happen.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The node is shutting down.
    #[error("the node is shutting down")]
    ShuttingDown,
    /// This background of a high-availability payee does not hold its lease (another one is
    /// active, or the lease was not renewed in time): it signs and writes nothing.
    #[error("not the active background: {0}")]
    LeaseLost(String),
}

impl NodeError {
    /// The error's category.
    pub fn category(&self) -> Category {
        match self {
            NodeError::UnknownChannel(_)
            | NodeError::Command(_)
            | NodeError::InvalidMessage(_)
            | NodeError::UnknownContact(_)
            | NodeError::InvalidContact(_)
            | NodeError::ContactExists(_)
            | NodeError::PackageRefused(_)
            | NodeError::InvalidConfig(_) => Category::Client,
            NodeError::PeerOffline(_)
            | NodeError::Timeout(_)
            | NodeError::ConnectionLost(_)
            | NodeError::PeerRefused { .. } => Category::Peer,
            NodeError::Protocol(_)
            | NodeError::Voucher(_)
            | NodeError::Certificate(_)
            | NodeError::Codec(_) => Category::Protocol,
            NodeError::Ledger(LedgerError::InsufficientFunds { .. }) => Category::Client,
            NodeError::Ledger(e) if e.is_final() => Category::Protocol,
            NodeError::Ledger(_)
            | NodeError::Store(_)
            | NodeError::ShuttingDown
            | NodeError::LeaseLost(_) => Category::Internal,
        }
    }

    /// The typed reason of a refusal, if the error is one: a stable name such as
    /// `"voucher.not_monotonic"`, `"package.underpaid"` or, for a refusal by the ledger
    /// rules, the rule's name (`"ledger.not_open"`) (documented in the RPC API).
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            NodeError::Command(e) => Some(e.reason()),
            NodeError::PackageRefused(e) => Some(e.reason()),
            NodeError::Voucher(e) => Some(e.reason()),
            NodeError::Certificate(e) => Some(e.reason()),
            NodeError::Ledger(LedgerError::Rejected(rule)) => Some(rule.name()),
            _ => None,
        }
    }

    /// A stable numeric code (documented in the RPC API).
    pub fn code(&self) -> u16 {
        match self {
            NodeError::UnknownChannel(_) => 1001,
            NodeError::Command(CommandError::InsufficientBalance { .. }) => 1002,
            NodeError::Command(_) => 1003,
            NodeError::InvalidMessage(_) => 1004,
            NodeError::UnknownContact(_) => 1006,
            NodeError::InvalidContact(_) => 1007,
            NodeError::ContactExists(_) => 1008,
            NodeError::PackageRefused(_) => 1009,
            NodeError::InvalidConfig(_) => 1010,
            NodeError::PeerOffline(_) => 2001,
            NodeError::Timeout(_) => 2002,
            NodeError::PeerRefused { .. } => 2003,
            NodeError::ConnectionLost(_) => 2004,
            NodeError::Protocol(_) | NodeError::Codec(_) => 3001,
            NodeError::Voucher(_) => 3003,
            NodeError::Certificate(_) => 3004,
            NodeError::Ledger(LedgerError::InsufficientFunds { .. }) => 1005,
            NodeError::Ledger(e) if e.is_final() => 3002,
            NodeError::Ledger(_) => 4001,
            NodeError::Store(_) => 4002,
            NodeError::ShuttingDown => 4003,
            NodeError::LeaseLost(_) => 4004,
        }
    }
}
