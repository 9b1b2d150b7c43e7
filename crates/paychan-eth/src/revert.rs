//! The adjudicator's custom errors as the ledger [`Rule`]s every backend reports.
//!
//! Every custom error of `contracts/src/PaychanAdjudicator.sol` (the ABI of the committed
//! artifact, through the `sol!` bindings) maps onto one rule; the match is exhaustive, so a new
//! Solidity error does not compile until it is mapped. Where the contract and the Rust
//! adjudicator draw the lines differently:
//!
//! - `InvalidParams(uint8 reason)` is five rules: 1 `ledger.same_parties`, 2
//!   `ledger.zero_party`, 3 `ledger.zero_challenge_period`, 4 `ledger.invalid_party` (a party
//!   index that a Rust [`Role`](paychan_core::Role) cannot express) and 5
//!   `ledger.zero_recipient` (a claim to the zero address).
//! - `BadSignature(uint8 who)` says A (0, also for a voucher's payer) or B (1); the rule is
//!   one, `ledger.bad_signature`, as the Rust adjudicator's message is the only place that
//!   names whose signature failed.
//! - `NativeTransferFailed`, `TokenTransferFailed` and OpenZeppelin's
//!   `SafeERC20FailedOperation` are all `ledger.transfer_failed`.
//! - `ChallengePeriodTooShort`, `WrongValue`, `UnsupportedToken`, `NothingToClaim` and
//!   `ReentrancyGuardReentrantCall` are rules only a chain breaks (the embedded ledger has no
//!   minimum challenge period, no call value, no foreign tokens, never defers a payout).
//! - OpenZeppelin's `InvalidShortString` and `StringTooLong` are raised only by the
//!   constructor (the EIP-712 name); they are no rule, and a revert with them is
//!   [`LedgerError::Chain`].

use alloy::sol_types::SolInterface;
use paychan_core::adjudicator::Rule;
use paychan_ledger::LedgerError;

use crate::bindings::{IERC20::IERC20Errors, PaychanAdjudicator::PaychanAdjudicatorErrors};

/// The rule a custom error of the adjudicator stands for; `None` for the errors that only
/// the constructor raises and for an `InvalidParams` reason this version does not know.
pub fn rule_of(e: &PaychanAdjudicatorErrors) -> Option<Rule> {
    use PaychanAdjudicatorErrors as E;
    Some(match e {
        E::UnknownChannel(_) => Rule::UnknownChannel,
        E::ChannelExists(_) => Rule::ChannelExists,
        E::InvalidParams(x) => match x.reason {
            1 => Rule::SameParties,
            2 => Rule::ZeroParty,
            3 => Rule::ZeroChallengePeriod,
            4 => Rule::InvalidParty,
            5 => Rule::ZeroRecipient,
            _ => return None,
        },
        E::ChallengePeriodTooShort(_) => Rule::ChallengePeriodTooShort,
        E::NotOpen(_) => Rule::NotOpen,
        E::NotClosing(_) => Rule::NotClosing,
        E::NotAParty(_) => Rule::NotAParty,
        E::BadSignature(_) => Rule::BadSignature,
        E::WrongChannel(_) => Rule::WrongChannel,
        E::Expired(_) => Rule::Expired,
        E::NotIncreasing(_) => Rule::NotIncreasing,
        E::OverBalance(_) => Rule::OverBalance,
        E::DeadlineNotReached(_) => Rule::DeadlineNotReached,
        E::DeadlinePassed(_) => Rule::DeadlinePassed,
        E::ZeroAmount(_) => Rule::ZeroAmount,
        E::Overflow(_) => Rule::Overflow,
        E::WrongValue(_) => Rule::WrongValue,
        E::UnsupportedToken(_) => Rule::UnsupportedToken,
        E::NothingToClaim(_) => Rule::NothingToClaim,
        E::NativeTransferFailed(_) | E::TokenTransferFailed(_) | E::SafeERC20FailedOperation(_) => {
            Rule::TransferFailed
        }
        E::ReentrancyGuardReentrantCall(_) => Rule::Reentrant,
        E::InvalidShortString(_) | E::StringTooLong(_) => return None,
    })
}

/// The custom error with its arguments, for logs and for the errors that are no rule.
pub fn describe(e: &PaychanAdjudicatorErrors) -> String {
    use PaychanAdjudicatorErrors as E;
    match e {
        E::UnknownChannel(x) => format!("UnknownChannel({})", x.channelId),
        E::ChannelExists(x) => format!("ChannelExists({})", x.channelId),
        E::InvalidParams(x) => format!("InvalidParams({})", x.reason),
        E::ChallengePeriodTooShort(x) => format!(
            "ChallengePeriodTooShort(challengePeriod: {}, minimum: {})",
            x.challengePeriod, x.minimum
        ),
        E::NotAParty(x) => format!("NotAParty({})", x.account),
        E::BadSignature(x) => format!("BadSignature(who: {})", x.who),
        E::Expired(x) => format!("Expired(expiry: {}, timestamp: {})", x.expiry, x.timestamp),
        E::DeadlineNotReached(x) => format!(
            "DeadlineNotReached(deadline: {}, timestamp: {})",
            x.deadline, x.timestamp
        ),
        E::DeadlinePassed(x) => format!(
            "DeadlinePassed(deadline: {}, timestamp: {})",
            x.deadline, x.timestamp
        ),
        E::WrongValue(x) => format!("WrongValue(value: {}, amount: {})", x.value, x.amount),
        E::UnsupportedToken(x) => format!(
            "UnsupportedToken(token: {}, received: {}, amount: {})",
            x.token, x.received, x.amount
        ),
        other => format!("{other:?}"),
    }
}

/// The ledger error for revert data: the adjudicator's custom error as its [`Rule`], a
/// token's or an unknown revert as [`LedgerError::Chain`]. Every one is final.
pub fn from_revert_data(data: &[u8]) -> LedgerError {
    if let Ok(err) = PaychanAdjudicatorErrors::abi_decode(data) {
        let description = describe(&err);
        return match rule_of(&err) {
            Some(rule) => {
                tracing::debug!(revert = %description, rule = rule.name(), "the adjudicator refused");
                LedgerError::Rejected(rule)
            }
            None => LedgerError::Chain(format!("the adjudicator reverted: {description}")),
        };
    }
    if let Ok(err) = IERC20Errors::abi_decode(data) {
        return LedgerError::Chain(format!("the token refused the transfer: {err:?}"));
    }
    LedgerError::Chain(format!(
        "execution reverted: {}",
        alloy::primitives::hex::encode_prefixed(data)
    ))
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use alloy::{
        primitives::{Address, B256, U256},
        sol_types::SolError,
    };

    use super::*;
    use crate::bindings::PaychanAdjudicator as C;

    fn rejected(data: Vec<u8>) -> Option<Rule> {
        match from_revert_data(&data) {
            LedgerError::Rejected(rule) => Some(rule),
            LedgerError::Chain(_) => None,
            other => panic!("revert data mapped to {other:?}"),
        }
    }

    /// Every custom error of the contract decodes from its revert data to its rule.
    #[test]
    fn every_custom_error_maps_to_its_rule() {
        let t = U256::from(7u8);
        let cases: Vec<(Vec<u8>, Option<Rule>)> = vec![
            (
                C::UnknownChannel {
                    channelId: B256::ZERO,
                }
                .abi_encode(),
                Some(Rule::UnknownChannel),
            ),
            (
                C::ChannelExists {
                    channelId: B256::ZERO,
                }
                .abi_encode(),
                Some(Rule::ChannelExists),
            ),
            (
                C::InvalidParams { reason: 1 }.abi_encode(),
                Some(Rule::SameParties),
            ),
            (
                C::InvalidParams { reason: 2 }.abi_encode(),
                Some(Rule::ZeroParty),
            ),
            (
                C::InvalidParams { reason: 3 }.abi_encode(),
                Some(Rule::ZeroChallengePeriod),
            ),
            (
                C::InvalidParams { reason: 4 }.abi_encode(),
                Some(Rule::InvalidParty),
            ),
            (
                C::InvalidParams { reason: 5 }.abi_encode(),
                Some(Rule::ZeroRecipient),
            ),
            (C::InvalidParams { reason: 6 }.abi_encode(), None),
            (
                C::ChallengePeriodTooShort {
                    challengePeriod: 1,
                    minimum: 2,
                }
                .abi_encode(),
                Some(Rule::ChallengePeriodTooShort),
            ),
            (C::NotOpen {}.abi_encode(), Some(Rule::NotOpen)),
            (C::NotClosing {}.abi_encode(), Some(Rule::NotClosing)),
            (
                C::NotAParty {
                    account: Address::ZERO,
                }
                .abi_encode(),
                Some(Rule::NotAParty),
            ),
            (
                C::BadSignature { who: 0 }.abi_encode(),
                Some(Rule::BadSignature),
            ),
            (
                C::BadSignature { who: 1 }.abi_encode(),
                Some(Rule::BadSignature),
            ),
            (C::WrongChannel {}.abi_encode(), Some(Rule::WrongChannel)),
            (
                C::Expired {
                    expiry: 1,
                    timestamp: t,
                }
                .abi_encode(),
                Some(Rule::Expired),
            ),
            (C::NotIncreasing {}.abi_encode(), Some(Rule::NotIncreasing)),
            (C::OverBalance {}.abi_encode(), Some(Rule::OverBalance)),
            (
                C::DeadlineNotReached {
                    deadline: 9,
                    timestamp: t,
                }
                .abi_encode(),
                Some(Rule::DeadlineNotReached),
            ),
            (
                C::DeadlinePassed {
                    deadline: 1,
                    timestamp: t,
                }
                .abi_encode(),
                Some(Rule::DeadlinePassed),
            ),
            (C::ZeroAmount {}.abi_encode(), Some(Rule::ZeroAmount)),
            (C::Overflow {}.abi_encode(), Some(Rule::Overflow)),
            (
                C::WrongValue {
                    value: t,
                    amount: U256::ZERO,
                }
                .abi_encode(),
                Some(Rule::WrongValue),
            ),
            (
                C::UnsupportedToken {
                    token: Address::ZERO,
                    received: t,
                    amount: t,
                }
                .abi_encode(),
                Some(Rule::UnsupportedToken),
            ),
            (
                C::NothingToClaim {}.abi_encode(),
                Some(Rule::NothingToClaim),
            ),
            (
                C::NativeTransferFailed { to: Address::ZERO }.abi_encode(),
                Some(Rule::TransferFailed),
            ),
            (
                C::TokenTransferFailed {
                    token: Address::ZERO,
                    to: Address::ZERO,
                    moved: U256::ZERO,
                    amount: t,
                }
                .abi_encode(),
                Some(Rule::TransferFailed),
            ),
            (
                C::SafeERC20FailedOperation {
                    token: Address::ZERO,
                }
                .abi_encode(),
                Some(Rule::TransferFailed),
            ),
            (
                C::ReentrancyGuardReentrantCall {}.abi_encode(),
                Some(Rule::Reentrant),
            ),
            (C::InvalidShortString {}.abi_encode(), None),
            (C::StringTooLong { str: "x".into() }.abi_encode(), None),
        ];
        for (data, rule) in cases {
            assert_eq!(rejected(data), rule);
        }
        assert_eq!(rejected(vec![0xde, 0xad, 0xbe, 0xef]), None);
        assert_eq!(rejected(vec![]), None);
    }
}
