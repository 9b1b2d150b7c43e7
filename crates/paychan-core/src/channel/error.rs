//! Typed reasons why the channel state machine refuses a command or a peer's object.
//!
//! Each variant says what happened and, in its docs, what the caller should do.

use alloy_primitives::{Address, B256};

use crate::{
    crypto::SignatureError,
    types::{Amount, ChannelId},
};

/// Why a command of ours ([`pay`](super::Channel::pay), proposals, closes) was refused.
/// Nothing was signed and the state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The amount is zero where a positive amount is required.
    #[error("amount must be positive")]
    ZeroAmount,
    /// Paying or withdrawing this much would exceed what we may still spend.
    #[error("insufficient balance: {requested} requested, {available} available")]
    InsufficientBalance {
        /// What was asked for.
        requested: Amount,
        /// What we may still spend.
        available: Amount,
    },
    /// The channel is not open (a close or settlement is under way, or it is closed).
    #[error("channel is not open (phase: {0})")]
    NotOpen(&'static str),
    /// The key given is not this party's key.
    #[error("key of {given} cannot act for party {expected}")]
    WrongKey {
        /// The channel's address for us.
        expected: Address,
        /// The key's address.
        given: Address,
    },
    /// A counter would overflow (2^128 units or 2^64 vouchers).
    #[error("counter overflow")]
    Overflow,
    /// A withdrawal of ours is already awaiting the peer's signature or the ledger.
    #[error("a withdrawal is already pending")]
    WithdrawalPending,
    /// There is no pending proposal of ours that this signature could complete.
    #[error("no pending proposal for this signature")]
    NothingPending,
    /// The peer's signature does not complete our proposal.
    #[error("the peer's signature does not match our proposal")]
    BadPeerSignature,
    /// The expiry is not in the future.
    #[error("expiry {expiry} is not after now ({now})")]
    Expired {
        /// The expiry asked for.
        expiry: u64,
        /// The time now.
        now: u64,
    },
}

/// Why a voucher from the peer was refused. The state is unchanged; the peer is told the
/// reason and the payment does not count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VoucherRejection {
    /// The voucher is for another channel — or for the same parties on another ledger, since
    /// the channel id binds the ledger's domain.
    #[error("voucher is for channel {got}, not {expected}")]
    WrongChannel {
        /// This channel.
        expected: ChannelId,
        /// The voucher's channel.
        got: ChannelId,
    },
    /// The voucher names a payer other than the peer.
    #[error("voucher payer {got} is not the peer {expected}")]
    WrongPayer {
        /// The peer.
        expected: Address,
        /// The voucher's payer.
        got: Address,
    },
    /// The signature does not recover to the payer under this ledger's domain (forged, or
    /// signed for another ledger).
    #[error("bad signature: {0}")]
    BadSignature(SignatureError),
    /// The signature is well-formed but made by another key.
    #[error("signature recovers to {0}, not the payer")]
    ForeignSigner(Address),
    /// Sequence not greater or cumulative smaller than the last accepted voucher: a replay,
    /// a duplicate, a reordered voucher, or a peer that lost its counter (it should resync).
    #[error(
        "not monotonic: sequence {sequence} (last {last_sequence}), cumulative {cumulative} (last {last_cumulative})"
    )]
    NotMonotonic {
        /// The voucher's sequence.
        sequence: u64,
        /// The last accepted sequence.
        last_sequence: u64,
        /// The voucher's cumulative.
        cumulative: Amount,
        /// The last accepted cumulative.
        last_cumulative: Amount,
    },
    /// The memo is not the hash of the message the payment came with.
    #[error("memo {got} does not match the message (expected {expected})")]
    MemoMismatch {
        /// keccak256 of the message.
        expected: B256,
        /// The voucher's memo.
        got: B256,
    },
    /// The payer does not have that much in the channel.
    #[error("voucher cumulative {cumulative} exceeds the payer's limit {limit}")]
    OverBalance {
        /// The voucher's cumulative.
        cumulative: Amount,
        /// The most the payer may have paid in total now.
        limit: Amount,
    },
    /// The channel no longer accepts payments.
    #[error("channel is not open (phase: {0})")]
    NotOpen(&'static str),
}

/// Why a withdrawal certificate or a settlement proposed by the peer was not co-signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateRejection {
    /// For another channel or ledger.
    #[error("certificate is for channel {0}")]
    WrongChannel(ChannelId),
    /// A withdrawal for someone other than the peer (the peer cannot withdraw our funds).
    #[error("withdrawal party {0} is not the peer")]
    WrongParty(Address),
    /// The peer's signature is missing, forged or for another domain.
    #[error("the peer's signature is invalid")]
    BadSignature,
    /// The peer's paid counter is below the latest voucher it gave us: signing would let the
    /// peer take back payments.
    #[error("peer's paid counter {claimed} is below its latest voucher {known}")]
    PeerCounterTooLow {
        /// The counter in the certificate.
        claimed: Amount,
        /// The latest cumulative we accepted.
        known: Amount,
    },
    /// Our paid counter is above what we ever signed: signing would pay the peer for nothing.
    #[error("our paid counter {claimed} is above what we signed ({known})")]
    OurCounterTooHigh {
        /// The counter in the certificate.
        claimed: Amount,
        /// Our latest signed cumulative.
        known: Amount,
    },
    /// The withdrawal would leave the peer below zero with these counters.
    #[error("withdrawal of total {total_withdrawn} exceeds the peer's funds")]
    OverBalance {
        /// The total asked for.
        total_withdrawn: Amount,
    },
    /// The total withdrawn does not increase.
    #[error("total withdrawn {0} does not increase")]
    NotIncreasing(Amount),
    /// Already expired.
    #[error("certificate expired at {expiry} (now {now})")]
    Expired {
        /// Its expiry.
        expiry: u64,
        /// Now.
        now: u64,
    },
    /// The channel is not open.
    #[error("channel is not open (phase: {0})")]
    NotOpen(&'static str),
}

/// Why a counter sync from the peer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyncRejection {
    /// The copy of our voucher is not for this channel or not from us.
    #[error("the peer's copy of our voucher is not ours for this channel")]
    NotOurs,
    /// Our own signature does not verify on it: the peer's copy is forged.
    #[error("our signature does not verify on the peer's copy")]
    BadSignature,
}

/// A stable, machine-readable name for each refusal: what APIs report beside the human
/// message (`error.data.reason` over JSON-RPC), so that clients match on it, never on text.
pub trait Reason {
    /// `"<domain>.<variant>"` in snake case, e.g. `"voucher.not_monotonic"`.
    fn reason(&self) -> &'static str;
}

impl Reason for CommandError {
    fn reason(&self) -> &'static str {
        match self {
            CommandError::ZeroAmount => "command.zero_amount",
            CommandError::InsufficientBalance { .. } => "command.insufficient_balance",
            CommandError::NotOpen(_) => "command.not_open",
            CommandError::WrongKey { .. } => "command.wrong_key",
            CommandError::Overflow => "command.overflow",
            CommandError::WithdrawalPending => "command.withdrawal_pending",
            CommandError::NothingPending => "command.nothing_pending",
            CommandError::BadPeerSignature => "command.bad_peer_signature",
            CommandError::Expired { .. } => "command.expired",
        }
    }
}

impl Reason for VoucherRejection {
    fn reason(&self) -> &'static str {
        match self {
            VoucherRejection::WrongChannel { .. } => "voucher.wrong_channel",
            VoucherRejection::WrongPayer { .. } => "voucher.wrong_payer",
            VoucherRejection::BadSignature(_) => "voucher.bad_signature",
            VoucherRejection::ForeignSigner(_) => "voucher.foreign_signer",
            VoucherRejection::NotMonotonic { .. } => "voucher.not_monotonic",
            VoucherRejection::MemoMismatch { .. } => "voucher.memo_mismatch",
            VoucherRejection::OverBalance { .. } => "voucher.over_balance",
            VoucherRejection::NotOpen(_) => "voucher.not_open",
        }
    }
}

impl Reason for CertificateRejection {
    fn reason(&self) -> &'static str {
        match self {
            CertificateRejection::WrongChannel(_) => "certificate.wrong_channel",
            CertificateRejection::WrongParty(_) => "certificate.wrong_party",
            CertificateRejection::BadSignature => "certificate.bad_signature",
            CertificateRejection::PeerCounterTooLow { .. } => "certificate.peer_counter_too_low",
            CertificateRejection::OurCounterTooHigh { .. } => "certificate.our_counter_too_high",
            CertificateRejection::OverBalance { .. } => "certificate.over_balance",
            CertificateRejection::NotIncreasing(_) => "certificate.not_increasing",
            CertificateRejection::Expired { .. } => "certificate.expired",
            CertificateRejection::NotOpen(_) => "certificate.not_open",
        }
    }
}

impl Reason for SyncRejection {
    fn reason(&self) -> &'static str {
        match self {
            SyncRejection::NotOurs => "sync.not_ours",
            SyncRejection::BadSignature => "sync.bad_signature",
        }
    }
}
