//! Errors of the API: a stable paychan code, a category and a message in `error.data`, and
//! the JSON-RPC `error.code` derived from the paychan code.
//!
//! | `error.code` | meaning | `error.data.code` |
//! |---|---|---|
//! | -32700, -32600, -32601 | standard: parse error, invalid request, unknown method | none |
//! | -32602 | standard invalid params: missing, unknown, ill-typed, negative, zero or too large values; nothing was done | 1000 |
//! | `-33000 - c` | a node or API error with paychan code `c` (so -34001 is code 1001) | `c` |
//!
//! Paychan codes are grouped by category: 1xxx client (fix the request), 2xxx peer (retry
//! later or close the channel), 3xxx protocol (the peer or the ledger broke the rules;
//! nothing changed), 4xxx internal (this node failed; retry later). Codes below x900 are the
//! node's own ([`NodeError::code`]); x900 and up are added by this API:
//!
//! | code | category | meaning |
//! |---|---|---|
//! | 1000 | client | invalid params (JSON-RPC code -32602) |
//! | 1001 | client | unknown channel |
//! | 1002 | client | insufficient channel balance |
//! | 1003 | client | the channel refused the command (phase, amount, pending withdrawal) |
//! | 1004 | client | invalid message (not JSON, too large) |
//! | 1005 | client | the ledger refused for lack of funds |
//! | 1006 | client | unknown contact (alias) |
//! | 1007 | client | invalid contact (alias or peer malformed) |
//! | 1008 | client | the contact's alias is taken (use `replace`) |
//! | 1009 | client | the payment package was refused; nothing was recorded |
//! | 1010 | client | the node's configuration cannot work with its ledger (start-up only) |
//! | 1901 | client | peer networking is not enabled on this node |
//! | 1902 | client | malformed peer address (`ADDRESS@HOST:PORT`, `ADDRESS@ws://...`) |
//! | 1903 | client | the amount exceeds this node's balance on the ledger |
//! | 1904 | client | this API does not offer the remote payment handler |
//! | 1905 | client | another client is already the remote payment handler |
//! | 1906 | client | no payment waits for this `request_id` (unknown, answered, or timed out) |
//! | 1907 | client | the token's scopes do not allow this method, or the token was revoked; nothing was done |
//! | 1908 | client | the payment would take the token's spending over its limit for the period; nothing was paid |
//! | 1909 | client | no scoped token with this id |
//! | 1910 | client | this API does not offer scoped tokens |
//! | 1911 | client | this API does not decide channel proposals (`rpc.proposal_decisions` is off) |
//! | 1912 | client | no proposal of this channel waits for a decision: unknown, decided, or expired |
//! | 2001 | peer | the peer is not connected |
//! | 2002 | peer | the peer did not answer in time |
//! | 2003 | peer | the peer refused (its handler failed, it rejected the proposal) |
//! | 2004 | peer | the connection was lost before the peer answered (a payment's outcome is unknown) |
//! | 2901 | peer | the peer could not be reached (dial or handshake failed) |
//! | 3001 | protocol | the peer broke the protocol |
//! | 3002 | protocol | the ledger refused the operation (`reason`: the ledger rule, `ledger.*`) |
//! | 3003 | protocol | a voucher was refused by the channel's rules |
//! | 3004 | protocol | a withdrawal or settlement certificate was refused by the channel's rules |
//! | 4001 | internal | the ledger is unreachable |
//! | 4002 | internal | the store failed |
//! | 4003 | internal | the node is shutting down |
//! | 4004 | internal | not the active background of a high-availability payee (lease lost) |
//!
//! A refusal by the protocol's rules also carries `error.data.reason`, a stable name of the
//! rule (`"voucher.not_monotonic"`, `"package.underpaid"`, `"policy.challenge_period"`,
//! `"command.withdrawal_pending"`, a ledger rule such as `"ledger.not_open"`, ...): match on
//! it, never on the message.

use jsonrpsee::types::{ErrorObject, ErrorObjectOwned, error::ErrorCode};
use paychan_node::{Category, NodeError};
use serde::{Deserialize, Serialize};

/// `error.code` of a node or API error is `NODE_ERROR_BASE - data.code`.
pub const NODE_ERROR_BASE: i32 = -33000;

/// The paychan code of invalid params (JSON-RPC code -32602).
pub const INVALID_PARAMS: u16 = 1000;
/// Peer networking is not enabled on this node (no dialer).
pub const NETWORKING_DISABLED: u16 = 1901;
/// A malformed peer address.
pub const BAD_PEER_ADDRESS: u16 = 1902;
/// The amount exceeds this node's balance on the ledger.
pub const INSUFFICIENT_LEDGER_FUNDS: u16 = 1903;
/// This API does not offer the remote payment handler.
pub const HANDLER_NOT_ENABLED: u16 = 1904;
/// Another client is already the remote payment handler.
pub const HANDLER_REGISTERED: u16 = 1905;
/// No payment waits for this `request_id`.
pub const UNKNOWN_REQUEST: u16 = 1906;
/// The token's scopes do not allow the method (or the token was revoked).
pub const SCOPE_DENIED: u16 = 1907;
/// The payment would take a `pay` token over its limit for the period.
pub const PAY_LIMIT_EXCEEDED: u16 = 1908;
/// No scoped token with this id.
pub const UNKNOWN_TOKEN: u16 = 1909;
/// This API does not offer scoped tokens.
pub const TOKENS_DISABLED: u16 = 1910;
/// This API does not decide channel proposals (`rpc.proposal_decisions` is off).
pub const DECISIONS_NOT_ENABLED: u16 = 1911;
/// No proposal of this channel waits for a decision.
pub const UNKNOWN_PROPOSAL: u16 = 1912;
/// The peer could not be reached.
pub const DIAL_FAILED: u16 = 2901;

/// What `error.data` holds for every paychan error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorData {
    /// Whose fault it is.
    pub category: Category,
    /// The stable paychan code (see the [module docs](self)).
    pub code: u16,
    /// A human message (the same as `error.message`).
    pub message: String,
    /// The rule a refusal applied, e.g. `"voucher.not_monotonic"` (see the [module
    /// docs](self)); absent for other errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// An API error before it becomes a JSON-RPC error object.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RpcError {
    /// The node refused or failed.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// The params are missing, unknown, ill-typed or out of range.
    #[error("invalid params: {0}")]
    InvalidParams(String),
    /// Another API-level error with its code (1901..).
    #[error("{message}")]
    Api {
        /// The paychan code.
        code: u16,
        /// The category.
        category: Category,
        /// What went wrong.
        message: String,
    },
}

impl RpcError {
    /// An invalid-params error.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        RpcError::InvalidParams(message.into())
    }

    /// An API-level error.
    pub fn api(code: u16, category: Category, message: impl Into<String>) -> Self {
        RpcError::Api {
            code,
            category,
            message: message.into(),
        }
    }

    /// The paychan code and category.
    pub fn code(&self) -> (u16, Category) {
        match self {
            RpcError::Node(e) => (e.code(), e.category()),
            RpcError::InvalidParams(_) => (INVALID_PARAMS, Category::Client),
            RpcError::Api { code, category, .. } => (*code, *category),
        }
    }
}

impl From<RpcError> for ErrorObjectOwned {
    fn from(error: RpcError) -> Self {
        let (code, category) = error.code();
        let message = match &error {
            RpcError::Node(e) => e.to_string(),
            RpcError::InvalidParams(m) => m.clone(),
            RpcError::Api { message, .. } => message.clone(),
        };
        let rpc_code = match error {
            RpcError::InvalidParams(_) => ErrorCode::InvalidParams.code(),
            _ => rpc_code_of(code),
        };
        let reason = match &error {
            RpcError::Node(e) => e.reason().map(str::to_owned),
            _ => None,
        };
        let data = ErrorData {
            category,
            code,
            message: message.clone(),
            reason,
        };
        ErrorObject::owned(rpc_code, message, Some(data))
    }
}

/// The JSON-RPC `error.code` of paychan code `code`.
pub fn rpc_code_of(code: u16) -> i32 {
    NODE_ERROR_BASE.saturating_sub(i32::from(code))
}

/// The paychan error in a JSON-RPC error, if it carries one: `error.data` when it is an
/// [`ErrorData`], otherwise derived from the code (standard errors become
/// [`INVALID_PARAMS`] or `None`).
pub fn error_data(error: &ErrorObject<'_>) -> Option<ErrorData> {
    if let Some(data) = error.data()
        && let Ok(parsed) = serde_json::from_str::<ErrorData>(data.get())
    {
        return Some(parsed);
    }
    if error.code() == ErrorCode::InvalidParams.code() {
        return Some(ErrorData {
            category: Category::Client,
            code: INVALID_PARAMS,
            message: error.message().to_owned(),
            reason: None,
        });
    }
    None
}
