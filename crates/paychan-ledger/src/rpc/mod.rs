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
//! `error.data`, from which the client rebuilds the exact variant. A refusal by the ledger
//! rules carries the rule's stable name: `{"Rejected": "ledger.not_open"}`
//! ([`Rule`](paychan_core::adjudicator::Rule), listed in `docs/PROTOCOL.md`, section 6). A
//! client that does not know the name (an older client of a newer ledger) answers
//! [`LedgerError::UnknownRule`] with the name and the server's message.
//!
//! | code | meaning |
//! |---|---|
//! | -32010 | [`LedgerError::Rejected`] (and `UnknownRule`, `Chain`: the other refusals) |
//! | -32011 | [`LedgerError::InsufficientFunds`] |
//! | -32012 | [`LedgerError::Unauthorized`] (bad signature, used nonce) |
//! | -32013 | [`LedgerError::Invalid`] |
//! | -32014 | [`LedgerError::Unavailable`] (retry later) |
//! | -32015 | [`LedgerError::Disabled`]: the method is not offered on this ledger (faucet, advancing time) |
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
/// Error code of [`LedgerError::Disabled`]: a method this ledger does not offer (faucet,
/// advancing time).
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
        LedgerError::Rejected(_) | LedgerError::UnknownRule { .. } | LedgerError::Chain(_) => {
            REJECTED
        }
        LedgerError::Disabled(_) => DISABLED,
        LedgerError::InsufficientFunds { .. } => INSUFFICIENT_FUNDS,
        LedgerError::Unauthorized(_) => UNAUTHORIZED,
        LedgerError::Invalid(_) => INVALID,
        LedgerError::Unavailable(_) => UNAVAILABLE,
    };
    ErrorObject::owned(code, error.to_string(), Some(error))
}

/// The ledger error a JSON-RPC error stands for: the exact one from `data` when the server
/// put it there (a refusal under a rule this build does not know is
/// [`LedgerError::UnknownRule`]); otherwise `Invalid` for a malformed call (parse error,
/// invalid request or params, unknown method) or a refusal whose rule cannot be read, and
/// `Unavailable` for anything else, since then nothing says that the call changed nothing.
pub fn ledger_error(error: &ErrorObject<'_>) -> LedgerError {
    if let Some(data) = error.data() {
        if let Ok(parsed) = serde_json::from_str::<LedgerError>(data.get()) {
            return parsed;
        }
        if let Some(name) = rejected_rule_name(data.get()) {
            return LedgerError::UnknownRule {
                name,
                message: error.message().to_owned(),
            };
        }
    }
    let detail = match error.data() {
        Some(data) => format!("{}: {}", error.message(), data.get()),
        None => error.message().to_owned(),
    };
    match error.code() {
        REJECTED => LedgerError::Invalid(format!(
            "a refusal without a rule this version can read: {detail} (JSON-RPC error {REJECTED})"
        )),
        DISABLED => LedgerError::Disabled(detail),
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

/// The rule name of a `{"Rejected": "<name>"}` error, whether or not this build knows it.
fn rejected_rule_name(data: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(data).ok()?;
    Some(value.get("Rejected")?.as_str()?.to_owned())
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use paychan_core::adjudicator::Rule;

    use super::*;

    fn round_trip(e: &LedgerError) -> LedgerError {
        let object = error_object(e);
        let text = match serde_json::to_string(&object) {
            Ok(text) => text,
            Err(err) => panic!("cannot serialize {object:?}: {err}"),
        };
        match serde_json::from_str::<ErrorObjectOwned>(&text) {
            Ok(parsed) => ledger_error(&parsed),
            Err(err) => panic!("cannot parse {text}: {err}"),
        }
    }

    #[test]
    fn every_rule_travels_by_its_name() {
        for &rule in Rule::ALL {
            let e = LedgerError::Rejected(rule);
            let object = error_object(&e);
            assert_eq!(object.code(), REJECTED);
            let data = object.data().map(|d| d.get().to_owned());
            assert_eq!(data, Some(format!("{{\"Rejected\":\"{}\"}}", rule.name())));
            assert_eq!(round_trip(&e), e);
        }
    }

    #[test]
    fn other_errors_travel_exactly() {
        for e in [
            LedgerError::InsufficientFunds {
                needed: 2,
                available: 1,
            },
            LedgerError::Unauthorized("nonce".into()),
            LedgerError::Invalid("bad".into()),
            LedgerError::Disabled("faucet".into()),
            LedgerError::Chain("gas".into()),
            LedgerError::Unavailable("disk".into()),
            LedgerError::UnknownRule {
                name: "ledger.new".into(),
                message: "new".into(),
            },
        ] {
            assert_eq!(round_trip(&e), e);
        }
    }

    #[test]
    fn an_unknown_rule_is_named_not_lost() {
        let object = ErrorObject::owned(
            REJECTED,
            "refused by the ledger rules: a rule from the future",
            Some(serde_json::json!({"Rejected": "ledger.from_the_future"})),
        );
        assert_eq!(
            ledger_error(&object),
            LedgerError::UnknownRule {
                name: "ledger.from_the_future".into(),
                message: "refused by the ledger rules: a rule from the future".into(),
            }
        );
        // A refusal without a readable rule is still final.
        let bare = ErrorObject::owned(REJECTED, "refused", None::<()>);
        let e = ledger_error(&bare);
        assert!(
            matches!(e, LedgerError::Invalid(_)) && e.is_final(),
            "{e:?}"
        );
    }
}
