//! Contract reverts and RPC failures, mapped onto the [`LedgerError`] kinds every backend
//! shares.
//!
//! - A revert of the adjudicator (found by simulating the call before sending it, or by
//!   replaying a transaction that reverted on chain) is the ledger rules refusing:
//!   `Rejected` with the [`Rule`](paychan_core::adjudicator::Rule) of its custom error
//!   ([`crate::revert`]), final — nothing changed and the same call is refused again.
//! - A revert of the token (balance, allowance) or revert data that is not the adjudicator's
//!   is `Chain`, final too.
//! - An error response without revert data that the node will give again (bad transaction,
//!   insufficient funds for gas) is `Chain`; anything else the node or the network says
//!   (connection refused, timeouts, rate limits after the retry layer gave up, unknown
//!   responses) is `Unavailable`: the caller may retry.

use alloy::transports::{RpcError, TransportError};
use paychan_ledger::LedgerError;

use crate::revert::from_revert_data;

/// Maps an RPC error of a simulated or sent call.
pub fn from_rpc(e: TransportError) -> LedgerError {
    match &e {
        RpcError::ErrorResp(payload) => {
            if let Some(data) = payload.as_revert_data() {
                return from_revert_data(&data);
            }
            let message = payload.message.to_lowercase();
            if message.contains("revert")
                || message.contains("insufficient funds")
                || message.contains("intrinsic gas")
                || message.contains("exceeds block gas limit")
            {
                LedgerError::Chain(payload.message.to_string())
            } else {
                LedgerError::Unavailable(format!("node error: {payload}"))
            }
        }
        _ => LedgerError::Unavailable(format!("ethereum node: {e}")),
    }
}

/// A local failure that is not the ledger's refusal (bad configuration, undecodable data).
pub fn invalid(what: impl std::fmt::Display) -> LedgerError {
    LedgerError::Invalid(what.to_string())
}
