//! The embedded ledger served over JSON-RPC, and the client that implements the `Ledger`
//! traits over it, so separate node processes share one ledger.
//!
//! - [`server`]: [`serve`] puts an [`EmbeddedLedger`](crate::EmbeddedLedger) behind a
//!   jsonrpsee server answering HTTP and WebSocket on the same port (`paychan ledger serve`).
//! - [`client`]: [`RpcLedger`], a full [`Ledger`](crate::Ledger) bound to one key, and
//!   [`RpcReader`], its read-only half.
//!
//! # Methods
//!
//! Parameters are passed by name (a JSON object, camelCase keys); values use the serde form of
//! the crate's types (addresses and ids as `0x` hex strings, amounts as JSON integers).
//!
//! | method | params | result |
//! |---|---|---|
//! | `ledger_domain` | none | `{chainId, verifyingContract}` |
//! | `ledger_now` | none | ledger time, seconds |
//! | `ledger_balance` | `owner`, `asset` (default: native) | amount |
//! | `ledger_channel` | `channelId` | `ChannelRecord` or `null` |
//! | `ledger_nonce` | `account` | the last nonce accepted from `account` (0 if none) |
//! | `ledger_submit` | `request`: a `SignedRequest` | `Receipt` |
//! | `ledger_faucet` | `owner`, `asset` (default: native), `amount` | `owner`'s balance of `asset` after it |
//! | `ledger_advanceTime` | `secs` | the ledger time after it |
//! | `ledger_events` | `from`, `limit` (default and at most 1000) | `[EventRecord]` |
//! | `ledger_subscribeEvents` | `from` | subscription of `EventRecord`s (WebSocket) |
//! | `ledger_unsubscribeEvents` | the subscription id | `bool` |
//!
//! `ledger_submit` is the only path that changes channels or moves funds between accounts:
//! the ledger verifies the request's signature and nonce before applying it. The faucet and
//! `ledger_advanceTime` exist only on development ledgers ([`ServeOptions`]).
//!
//! # Errors
//!
//! A [`LedgerError`] is answered with a stable code per variant and the serialized error in
//! `error.data`, from which the client rebuilds the exact variant:
//!
//! | code | meaning |
//! |---|---|
//! | -32010 | [`LedgerError::Rejected`] |
//! | -32011 | [`LedgerError::InsufficientFunds`] |
//! | -32012 | [`LedgerError::Unauthorized`] (bad signature, used nonce) |
//! | -32013 | [`LedgerError::Invalid`] |
//! | -32014 | [`LedgerError::Unavailable`] (retry later) |
//! | -32015 | the method is disabled on this ledger (faucet, advancing time); `data` holds a `Rejected` |
//! | -32602 | the standard invalid-params error: missing, unknown or ill-typed parameters |

pub mod client;
pub mod server;

use jsonrpsee::types::{ErrorObject, ErrorObjectOwned, error::ErrorCode};
use paychan_core::{Address, Amount, ChannelId};
use serde::{Deserialize, Serialize};

pub use self::{
    client::{RpcLedger, RpcReader},
    server::{RpcServer, ServeOptions, serve},
};
use crate::{api::LedgerError, request::SignedRequest};

/// Error code of [`LedgerError::Rejected`].
pub const REJECTED: i32 = -32010;
/// Error code of [`LedgerError::InsufficientFunds`].
pub const INSUFFICIENT_FUNDS: i32 = -32011;
/// Error code of [`LedgerError::Unauthorized`].
pub const UNAUTHORIZED: i32 = -32012;
/// Error code of [`LedgerError::Invalid`].
pub const INVALID: i32 = -32013;
/// Error code of [`LedgerError::Unavailable`].
pub const UNAVAILABLE: i32 = -32014;
/// Error code of a method this ledger does not offer (faucet, advancing time).
pub const DISABLED: i32 = -32015;

/// The most events one `ledger_events` call returns.
pub const MAX_EVENTS_PER_CALL: u64 = 1000;

/// Method names.
pub mod method {
    /// `ledger_domain`.
    pub const DOMAIN: &str = "ledger_domain";
    /// `ledger_now`.
    pub const NOW: &str = "ledger_now";
    /// `ledger_balance`.
    pub const BALANCE: &str = "ledger_balance";
    /// `ledger_channel`.
    pub const CHANNEL: &str = "ledger_channel";
    /// `ledger_nonce`.
    pub const NONCE: &str = "ledger_nonce";
    /// `ledger_submit`.
    pub const SUBMIT: &str = "ledger_submit";
    /// `ledger_faucet`.
    pub const FAUCET: &str = "ledger_faucet";
    /// `ledger_advanceTime`.
    pub const ADVANCE_TIME: &str = "ledger_advanceTime";
    /// `ledger_events`.
    pub const EVENTS: &str = "ledger_events";
    /// `ledger_subscribeEvents`.
    pub const SUBSCRIBE_EVENTS: &str = "ledger_subscribeEvents";
    /// The method name of the subscription's notifications.
    pub const EVENT_NOTIFICATION: &str = "ledger_event";
    /// `ledger_unsubscribeEvents`.
    pub const UNSUBSCRIBE_EVENTS: &str = "ledger_unsubscribeEvents";
}

/// Parameters of `ledger_balance`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct BalanceParams {
    pub(crate) owner: Address,
    #[serde(default)]
    pub(crate) asset: Address,
}

/// Parameters of `ledger_channel`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ChannelQuery {
    pub(crate) channel_id: ChannelId,
}

/// Parameters of `ledger_nonce`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct NonceParams {
    pub(crate) account: Address,
}

/// Parameters of `ledger_submit`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SubmitParams {
    pub(crate) request: SignedRequest,
}

/// Parameters of `ledger_faucet`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct FaucetParams {
    pub(crate) owner: Address,
    #[serde(default)]
    pub(crate) asset: Address,
    pub(crate) amount: Amount,
}

/// Parameters of `ledger_advanceTime`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct AdvanceParams {
    pub(crate) secs: u64,
}

/// Parameters of `ledger_events`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct EventsParams {
    pub(crate) from: u64,
    #[serde(default)]
    pub(crate) limit: Option<u64>,
}

/// Parameters of `ledger_subscribeEvents`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SubscribeParams {
    pub(crate) from: u64,
}

/// The JSON-RPC error for a ledger error: its code, its message, and itself as `data`.
pub fn error_object(error: &LedgerError) -> ErrorObjectOwned {
    let code = match error {
        LedgerError::Rejected(_) => REJECTED,
        LedgerError::InsufficientFunds { .. } => INSUFFICIENT_FUNDS,
        LedgerError::Unauthorized(_) => UNAUTHORIZED,
        LedgerError::Invalid(_) => INVALID,
        LedgerError::Unavailable(_) => UNAVAILABLE,
    };
    ErrorObject::owned(code, error.to_string(), Some(error))
}

/// The ledger error a JSON-RPC error stands for: the exact one from `data` when the server
/// put it there; otherwise `Invalid` for a malformed call (parse error, invalid request or
/// params, unknown method) and `Unavailable` for anything else, since then nothing says
/// that the call changed nothing.
pub fn ledger_error(error: &ErrorObject<'_>) -> LedgerError {
    if let Some(data) = error.data()
        && let Ok(parsed) = serde_json::from_str::<LedgerError>(data.get())
    {
        return parsed;
    }
    let detail = match error.data() {
        Some(data) => format!("{}: {}", error.message(), data.get()),
        None => error.message().to_owned(),
    };
    match error.code() {
        REJECTED | DISABLED => LedgerError::Rejected(detail),
        UNAUTHORIZED => LedgerError::Unauthorized(detail),
        INVALID => LedgerError::Invalid(detail),
        code if code == ErrorCode::ParseError.code()
            || code == ErrorCode::InvalidRequest.code()
            || code == ErrorCode::InvalidParams.code()
            || code == ErrorCode::MethodNotFound.code() =>
        {
            LedgerError::Invalid(format!("{detail} (JSON-RPC error {code})"))
        }
        code => LedgerError::Unavailable(format!("{detail} (JSON-RPC error {code})")),
    }
}
