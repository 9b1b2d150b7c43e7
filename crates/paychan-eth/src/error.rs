//! Contract reverts and RPC failures, mapped onto the [`LedgerError`] kinds every backend
//! shares.
//!
//! - A revert of the adjudicator (found by simulating the call before sending it, or by
//!   replaying a transaction that reverted on chain) is the ledger rules refusing:
//!   `Rejected`, final — nothing changed and the same call is refused again.
//! - A revert of the token (balance, allowance) is `Rejected` too.
//! - An error response without revert data that the node will give again (bad transaction,
//!   insufficient funds for gas) is `Rejected`; anything else the node or the network says
//!   (connection refused, timeouts, rate limits after the retry layer gave up, unknown
//!   responses) is `Unavailable`: the caller may retry.

use alloy::{
    sol_types::SolInterface,
    transports::{RpcError, TransportError},
};
use paychan_ledger::LedgerError;

use crate::bindings::{IERC20::IERC20Errors, PaychanAdjudicator::PaychanAdjudicatorErrors};

/// The rule a contract error stands for, in the words of the Rust adjudicator.
pub fn describe(e: &PaychanAdjudicatorErrors) -> String {
    use PaychanAdjudicatorErrors as E;
    match e {
        E::UnknownChannel(x) => format!("unknown channel {}", x.channelId),
        E::ChannelExists(x) => format!("channel id {} was already used", x.channelId),
        E::InvalidParams(x) => format!(
            "invalid channel parameters: {}",
            match x.reason {
                1 => "partyA and partyB are the same",
                2 => "a party is the zero address",
                3 => "challenge period is zero",
                _ => "party index is neither A nor B",
            }
        ),
        E::NotOpen(_) => "channel is not open".into(),
        E::NotClosing(_) => "channel is not closing".into(),
        E::NotAParty(x) => format!("{} is not a party of the channel", x.account),
        E::BadSignature(x) => format!(
            "invalid signature of {}",
            if x.who == 0 {
                "party A or the payer"
            } else {
                "party B"
            }
        ),
        E::WrongChannel(_) => "object is for another channel".into(),
        E::Expired(x) => format!(
            "certificate expired at {}, now is {}",
            x.expiry, x.timestamp
        ),
        E::NotIncreasing(_) => "total withdrawn does not increase".into(),
        E::OverBalance(_) => "withdrawal exceeds the party's funds in the channel".into(),
        E::DeadlineNotReached(x) => format!(
            "challenge period runs until {}, now is {}",
            x.deadline, x.timestamp
        ),
        E::DeadlinePassed(x) => format!(
            "challenge period ended at {}, now is {}",
            x.deadline, x.timestamp
        ),
        E::ZeroAmount(_) => "amount must be positive".into(),
        E::Overflow(_) => "amount or time overflow".into(),
        E::WrongValue(x) => format!("sent {} wei where {} was due", x.value, x.amount),
        E::UnsupportedToken(x) => format!(
            "token {} moved {} instead of {} (fee-on-transfer tokens are refused)",
            x.token, x.received, x.amount
        ),
        E::ReentrancyGuardReentrantCall(_) => "re-entrant call refused".into(),
        other => format!("{other:?}"),
    }
}

/// Maps an RPC error of a simulated or sent call.
pub fn from_rpc(e: TransportError) -> LedgerError {
    match &e {
        RpcError::ErrorResp(payload) => {
            if let Some(data) = payload.as_revert_data() {
                if let Ok(err) = PaychanAdjudicatorErrors::abi_decode(&data) {
                    return LedgerError::Rejected(describe(&err));
                }
                if let Ok(err) = IERC20Errors::abi_decode(&data) {
                    return LedgerError::Rejected(format!("token refused the transfer: {err:?}"));
                }
                return LedgerError::Rejected(format!("execution reverted: {data}"));
            }
            let message = payload.message.to_lowercase();
            if message.contains("revert")
                || message.contains("insufficient funds")
                || message.contains("intrinsic gas")
                || message.contains("exceeds block gas limit")
            {
                LedgerError::Rejected(payload.message.to_string())
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
