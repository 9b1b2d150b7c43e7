//! The ledger's data, apart from any runtime: its error type, the operations every backend
//! applies, and what a confirmed operation answers. Pure (serde only), so a client without
//! tokio (the browser's `paychan-wasm`) builds and reads the same wire forms
//! (`docs/LEDGER.md`).

use paychan_core::{
    Amount, ChannelId, ChannelParams, Role, Settlement, SignedVoucher, Withdrawal,
    adjudicator::{self, LedgerEvent, Rule},
    bank::BankError,
    channel::CoSigned,
};
use serde::{Deserialize, Serialize};

/// Why a ledger call failed.
///
/// Every variant but [`Unavailable`](LedgerError::Unavailable) is final. A refusal by the
/// ledger rules is [`Rejected`](LedgerError::Rejected) with the exact [`Rule`], the same on
/// every backend; the other variants are refusals that no channel rule stands for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum LedgerError {
    /// The ledger rules refused the operation (final; nothing changed).
    #[error("refused by the ledger rules: {0} ({name})", name = .0.name())]
    Rejected(Rule),
    /// The ledger refused under a rule this build does not know (a newer ledger; final,
    /// nothing changed).
    #[error(
        "refused by the ledger under rule `{name}`, which this version does not know: {message}"
    )]
    UnknownRule {
        /// The rule's name as the ledger sent it.
        name: String,
        /// The ledger's message.
        message: String,
    },
    /// The acting account holds less than the operation needs (final; nothing changed).
    #[error("insufficient funds: {needed} needed, {available} available")]
    InsufficientFunds {
        /// What the operation needs.
        needed: Amount,
        /// What the account holds.
        available: Amount,
    },
    /// The request's signature or nonce is not valid for the account (final).
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// A malformed request (final).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The ledger does not offer this method: the faucet, or moving the clock, of a ledger
    /// served without them (final).
    #[error("not offered by this ledger: {0}")]
    Disabled(String),
    /// The chain refused the transaction for a reason outside the ledger rules: a token's own
    /// revert, revert data that is not the adjudicator's, the node refusing the transaction
    /// (gas, fees), or a revert on chain whose replay does not say why (final; nothing
    /// changed). Only the Ethereum ledger reports it.
    #[error("refused by the chain: {0}")]
    Chain(String),
    /// The ledger cannot be reached or failed to persist; retry later (transient).
    #[error("ledger unavailable: {0}")]
    Unavailable(String),
}

impl LedgerError {
    /// Whether the same call would fail again: the operation was refused, nothing changed.
    pub fn is_final(&self) -> bool {
        !matches!(self, LedgerError::Unavailable(_))
    }

    /// A stable name for the error: the broken rule's name for a refusal by the rules
    /// (`ledger.not_open`), else the kind (`unauthorized`, `insufficient_funds`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            LedgerError::Rejected(rule) => rule.name(),
            LedgerError::UnknownRule { .. } => "unknown_rule",
            LedgerError::InsufficientFunds { .. } => "insufficient_funds",
            LedgerError::Unauthorized(_) => "unauthorized",
            LedgerError::Invalid(_) => "invalid",
            LedgerError::Disabled(_) => "disabled",
            LedgerError::Chain(_) => "chain",
            LedgerError::Unavailable(_) => "unavailable",
        }
    }

    /// The ledger rule the operation broke, if the error is such a refusal.
    pub fn rule(&self) -> Option<Rule> {
        match self {
            LedgerError::Rejected(rule) => Some(*rule),
            _ => None,
        }
    }
}

impl From<Rule> for LedgerError {
    fn from(rule: Rule) -> Self {
        LedgerError::Rejected(rule)
    }
}

impl From<adjudicator::LedgerError> for LedgerError {
    fn from(e: adjudicator::LedgerError) -> Self {
        LedgerError::Rejected(e.rule())
    }
}

impl From<BankError> for LedgerError {
    fn from(e: BankError) -> Self {
        match e {
            BankError::InsufficientFunds { needed, available } => {
                LedgerError::InsufficientFunds { needed, available }
            }
            BankError::Ledger(e) => e.into(),
            BankError::Overflow => LedgerError::Rejected(Rule::Overflow),
            other => LedgerError::Invalid(other.to_string()),
        }
    }
}

/// A state-changing ledger operation, as journaled and as sent over the wire.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Operation {
    /// Opens a channel with A's first deposit, paid by the acting account.
    #[serde(rename_all = "camelCase")]
    Open {
        /// The channel's parameters.
        params: ChannelParams,
        /// A's first deposit.
        amount: Amount,
    },
    /// Deposits for a party, paid by the acting account.
    #[serde(rename_all = "camelCase")]
    Deposit {
        /// The channel.
        channel_id: ChannelId,
        /// Whose deposit grows.
        party: Role,
        /// How much.
        amount: Amount,
    },
    /// Executes a co-signed withdrawal.
    #[serde(rename_all = "camelCase")]
    Withdraw {
        /// The certificate with both signatures.
        certificate: CoSigned<Withdrawal>,
    },
    /// Pays out on a co-signed settlement.
    #[serde(rename_all = "camelCase")]
    CloseCooperative {
        /// The settlement with both signatures.
        settlement: CoSigned<Settlement>,
    },
    /// Starts a unilateral close (the acting account must be a party).
    #[serde(rename_all = "camelCase")]
    StartClose {
        /// The channel.
        channel_id: ChannelId,
        /// The peer's latest voucher, counted at once.
        voucher: Option<SignedVoucher>,
    },
    /// Submits a voucher during the challenge period.
    #[serde(rename_all = "camelCase")]
    SubmitVoucher {
        /// The voucher.
        voucher: SignedVoucher,
    },
    /// Settles after the deadline.
    #[serde(rename_all = "camelCase")]
    Settle {
        /// The channel.
        channel_id: ChannelId,
    },
}

/// An event with its position in the ledger's log.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct EventRecord {
    /// The event's position: 0 for the first event, increasing by one.
    pub cursor: u64,
    /// Ledger time of the operation that emitted it.
    pub time: u64,
    /// The event.
    pub event: LedgerEvent,
    /// The id of the ledger operation that emitted it, when the ledger has one: the
    /// transaction hash on Ethereum; on the embedded ledger, the cursor of the operation's
    /// first event as a 32-byte big-endian number. Absent from records of older servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction: Option<paychan_core::B256>,
}

/// What a confirmed operation did.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Receipt {
    /// Its events, in order, with their cursors.
    pub events: Vec<EventRecord>,
}

/// A transaction this ledger handle sent and is still waiting on, with how deep it is: what
/// the CLI shows as "confirmations 2/3" while an open, a deposit or a close is confirmed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingTransaction {
    /// The transaction's hash.
    pub hash: paychan_core::B256,
    /// What it does: the contract function it calls (`open`, `deposit`, `approve`, ...).
    pub action: String,
    /// The block it was mined in, `None` while it waits in the mempool.
    pub block: Option<u64>,
    /// Blocks on top of it, its own included (0 while not mined).
    pub confirmations: u64,
    /// The depth the ledger waits for before it calls the transaction final.
    pub required: u64,
}

/// The shortest challenge period a node using this ledger handle can defend, and why: a
/// watcher must see a close (under the ledger's confirmation depth) and get its answer
/// confirmed before the deadline. A node refuses channels with shorter periods
/// (docs/ETHEREUM.md, "Challenge periods").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeFloor {
    /// The shortest challenge period, in seconds of ledger time.
    pub seconds: u64,
    /// How it is made up, for error messages.
    pub reason: String,
}
