//! The rules a ledger refuses an operation under, each with a stable machine name.
//!
//! A [`Rule`] is what every ledger backend reports when it refuses: the embedded ledger (from
//! the adjudicator's [`LedgerError`](super::LedgerError), [`LedgerError::rule`](super::LedgerError::rule)),
//! the served ledger (the name travels in the JSON-RPC error's `data`) and the Ethereum
//! contract (one or more Solidity custom errors per rule). The conformance suite asserts the
//! exact rule, so that every backend is checked to refuse for the same reason.
//!
//! Names are `ledger.<rule>` in snake case, stable across versions: match on them, never on
//! the message. The `ledger.` prefix keeps them apart from the channel's own refusals
//! (`voucher.*`, `certificate.*`, `command.*`) where the node reports both in one place.
//! A few rules are only ever broken on a chain (value, token and claim rules of the
//! contract): the adjudicator never refuses with them, but they share the one list.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A rule of the ledger that an operation broke: why it was refused. The same rule is
/// reported by every ledger backend (docs/PROTOCOL.md, section 6).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[non_exhaustive]
pub enum Rule {
    /// No channel with this id.
    UnknownChannel,
    /// The id was used before (open, closing or settled): ids are never reused.
    ChannelExists,
    /// Party A and party B are the same address.
    SameParties,
    /// A party is the zero address.
    ZeroParty,
    /// The challenge period is zero.
    ZeroChallengePeriod,
    /// The challenge period is shorter than the ledger's minimum (the contract's
    /// `minChallengePeriod`; the embedded ledger has none but zero).
    ChallengePeriodTooShort,
    /// A party index is neither A nor B (the contract's `uint8 party`; a [`Role`](crate::Role)
    /// cannot express it).
    InvalidParty,
    /// The operation needs an open channel.
    NotOpen,
    /// The operation needs a channel in its challenge period.
    NotClosing,
    /// The address must be a party of the channel (a close's caller, a withdrawal's party, a
    /// voucher's payer).
    NotAParty,
    /// A signature does not recover to the party it must come from.
    BadSignature,
    /// The object is for another channel.
    WrongChannel,
    /// The withdrawal certificate expired.
    Expired,
    /// The withdrawal does not increase the party's total withdrawn (replayed or stale).
    NotIncreasing,
    /// The withdrawal would leave the party, or the channel, below zero.
    OverBalance,
    /// Settle before the deadline.
    DeadlineNotReached,
    /// A voucher after the deadline.
    DeadlinePassed,
    /// A zero amount where a positive one is required.
    ZeroAmount,
    /// A total would exceed 2^128 - 1 units, or a deadline 2^64 - 1 seconds.
    Overflow,
    /// The value sent with the call is not the amount due (contract only).
    WrongValue,
    /// The token moved another amount than asked: fee-on-transfer and similar tokens are
    /// refused (contract only).
    UnsupportedToken,
    /// A token or native transfer the operation needs failed (contract only).
    TransferFailed,
    /// A claim to the zero address (contract only).
    ZeroRecipient,
    /// The account has no deferred payouts of the asset to claim.
    NothingToClaim,
    /// A call into the ledger while it is already executing one (contract only).
    Reentrant,
}

impl Rule {
    /// Every rule, in declaration order.
    pub const ALL: &'static [Rule] = &[
        Rule::UnknownChannel,
        Rule::ChannelExists,
        Rule::SameParties,
        Rule::ZeroParty,
        Rule::ZeroChallengePeriod,
        Rule::ChallengePeriodTooShort,
        Rule::InvalidParty,
        Rule::NotOpen,
        Rule::NotClosing,
        Rule::NotAParty,
        Rule::BadSignature,
        Rule::WrongChannel,
        Rule::Expired,
        Rule::NotIncreasing,
        Rule::OverBalance,
        Rule::DeadlineNotReached,
        Rule::DeadlinePassed,
        Rule::ZeroAmount,
        Rule::Overflow,
        Rule::WrongValue,
        Rule::UnsupportedToken,
        Rule::TransferFailed,
        Rule::ZeroRecipient,
        Rule::NothingToClaim,
        Rule::Reentrant,
    ];

    /// The rule's stable machine name, e.g. `"ledger.not_open"`.
    pub const fn name(self) -> &'static str {
        match self {
            Rule::UnknownChannel => "ledger.unknown_channel",
            Rule::ChannelExists => "ledger.channel_exists",
            Rule::SameParties => "ledger.same_parties",
            Rule::ZeroParty => "ledger.zero_party",
            Rule::ZeroChallengePeriod => "ledger.zero_challenge_period",
            Rule::ChallengePeriodTooShort => "ledger.challenge_period_too_short",
            Rule::InvalidParty => "ledger.invalid_party",
            Rule::NotOpen => "ledger.not_open",
            Rule::NotClosing => "ledger.not_closing",
            Rule::NotAParty => "ledger.not_a_party",
            Rule::BadSignature => "ledger.bad_signature",
            Rule::WrongChannel => "ledger.wrong_channel",
            Rule::Expired => "ledger.expired",
            Rule::NotIncreasing => "ledger.not_increasing",
            Rule::OverBalance => "ledger.over_balance",
            Rule::DeadlineNotReached => "ledger.deadline_not_reached",
            Rule::DeadlinePassed => "ledger.deadline_passed",
            Rule::ZeroAmount => "ledger.zero_amount",
            Rule::Overflow => "ledger.overflow",
            Rule::WrongValue => "ledger.wrong_value",
            Rule::UnsupportedToken => "ledger.unsupported_token",
            Rule::TransferFailed => "ledger.transfer_failed",
            Rule::ZeroRecipient => "ledger.zero_recipient",
            Rule::NothingToClaim => "ledger.nothing_to_claim",
            Rule::Reentrant => "ledger.reentrant",
        }
    }

    /// What the rule says, for people (the [`Display`](fmt::Display) form).
    pub const fn message(self) -> &'static str {
        match self {
            Rule::UnknownChannel => "unknown channel",
            Rule::ChannelExists => "the channel id was already used",
            Rule::SameParties => "party A and party B are the same",
            Rule::ZeroParty => "a party is the zero address",
            Rule::ZeroChallengePeriod => "the challenge period is zero",
            Rule::ChallengePeriodTooShort => {
                "the challenge period is shorter than the ledger's minimum"
            }
            Rule::InvalidParty => "the party is neither A nor B",
            Rule::NotOpen => "the channel is not open",
            Rule::NotClosing => "the channel is not closing",
            Rule::NotAParty => "the address is not a party of the channel",
            Rule::BadSignature => "a signature is not the party's",
            Rule::WrongChannel => "the object is for another channel",
            Rule::Expired => "the withdrawal certificate expired",
            Rule::NotIncreasing => "the total withdrawn does not increase",
            Rule::OverBalance => "the withdrawal exceeds the party's funds in the channel",
            Rule::DeadlineNotReached => "the challenge period has not ended",
            Rule::DeadlinePassed => "the challenge period has ended",
            Rule::ZeroAmount => "the amount must be positive",
            Rule::Overflow => "an amount or a time would overflow",
            Rule::WrongValue => "the value sent is not the amount due",
            Rule::UnsupportedToken => "the token moved another amount than asked",
            Rule::TransferFailed => "a transfer of the asset failed",
            Rule::ZeroRecipient => "the recipient is the zero address",
            Rule::NothingToClaim => "nothing to claim",
            Rule::Reentrant => "re-entrant call",
        }
    }

    /// The rule called `name` ([`Rule::name`]), if this build knows it.
    pub fn from_name(name: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.name() == name)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl crate::channel::Reason for Rule {
    fn reason(&self) -> &'static str {
        self.name()
    }
}

/// Serialized as its name (`"ledger.not_open"`).
impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// Parsed from its name; a name this build does not know is an error that says so.
impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Rule, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Rule::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format_args!("unknown ledger rule `{name}`")))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_prefixed_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for &rule in Rule::ALL {
            let name = rule.name();
            assert!(seen.insert(name), "{name} twice");
            assert!(name.starts_with("ledger."), "{name}");
            assert!(
                name.trim_start_matches("ledger.")
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_'),
                "{name}"
            );
            assert_eq!(Rule::from_name(name), Some(rule));
            let json = serde_json::to_string(&rule).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<Rule>(&json).unwrap(), rule);
        }
    }

    #[test]
    fn an_unknown_name_is_a_clear_error() {
        assert_eq!(Rule::from_name("ledger.no_such_rule"), None);
        let e = serde_json::from_str::<Rule>("\"ledger.no_such_rule\"").unwrap_err();
        assert!(
            e.to_string()
                .contains("unknown ledger rule `ledger.no_such_rule`"),
            "{e}"
        );
        assert!(serde_json::from_str::<Rule>("7").is_err());
    }
}
