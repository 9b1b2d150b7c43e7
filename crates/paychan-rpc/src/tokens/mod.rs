//! Scoped API tokens, in the spirit of LND's macaroons: besides the full-access token of the
//! data directory (`rpc.token`), the node mints tokens that may call a part of the API only.
//!
//! | scope | may call |
//! |---|---|
//! | `read` | `node_info` and what only reads: `channel_info`, `list_channels`, contacts, events, aa-channels' `getBalancesAndStatus` and `getChannelsForPeer` |
//! | `verify` | `node_info` and `verify_payment_package` (aa-channels' `verifyPaymentPackage`): what `paychan proxy` needs, nothing that spends |
//! | `pay` | `node_info`, the `read` methods and the payments (`pay`, `send_message`, `create_payment_package`, `cancel_payment_package`, aa-channels' `sendMessageAndPay` and `createPaymentPackage`), up to a limit per period |
//!
//! Every other method (opening, depositing, withdrawing, closing, auto-refill, changing
//! contacts, the remote payment handler, the tokens themselves, and any method not listed in
//! [`class_of`]) needs the full-access token. A call outside a token's scopes is refused with
//! code 1907 before it runs, so it changes nothing.
//!
//! A `pay` token carries a limit: an amount per period (fixed periods counted from the
//! token's creation). The spent-in-period counter lives in the node's store and is raised,
//! durably, *before* the payment is made; it is lowered again only when the node's answer
//! says nothing was paid (a timeout or a lost connection leave it counted). So neither a crash
//! nor a restart can reset it, and two concurrent calls cannot both pass the last of the
//! limit (see [`registry`]).
//!
//! Why an own scheme rather than a crate: the node is the only party that mints and checks
//! tokens, and it must keep state per token anyway (revocation, the spent counter across
//! restarts), so the offline attenuation and third-party verification of `macaroon` or
//! `biscuit-auth` (a Datalog engine, public-key signatures, protobuf) would add code that
//! nothing uses. The token is an HMAC-SHA256 (the RustCrypto `hmac` and `sha2` crates) over
//! its claims, keyed by a root key in the data directory ([`format`]).

pub mod format;
pub(crate) mod guard;
pub mod registry;

use std::{fmt, str::FromStr, time::Duration};

use paychan_core::Amount;
use serde::{Deserialize, Serialize};

pub use self::registry::{TokenInfo, TokenRegistry};

/// What a scoped token may do (see the [module docs](self)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read the node's state.
    Read,
    /// Verify (and record) payment packages paid to this node.
    Verify,
    /// Pay, up to a limit per period.
    Pay,
}

impl Scope {
    /// Its name: `read`, `verify` or `pay`.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Verify => "verify",
            Scope::Pay => "pay",
        }
    }

    /// Whether this scope allows methods of `class`.
    fn allows(self, class: Class) -> bool {
        match class {
            Class::Info => true,
            Class::Read => matches!(self, Scope::Read | Scope::Pay),
            Class::Verify => self == Scope::Verify,
            Class::Pay => self == Scope::Pay,
            Class::Admin => false,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "read" => Ok(Scope::Read),
            "verify" => Ok(Scope::Verify),
            "pay" => Ok(Scope::Pay),
            other => Err(format!(
                "unknown scope {other:?}: expected read, verify or pay"
            )),
        }
    }
}

/// A `pay` token's limit: at most `amount` in each period of `period` seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayLimit {
    /// The most the token may pay per period.
    #[serde(with = "amount_text")]
    pub amount: Amount,
    /// The period, in seconds (at least 1).
    pub period: u64,
}

/// Amounts as decimal strings in stored and minted JSON.
mod amount_text {
    use paychan_core::Amount;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(amount: &Amount, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&amount.to_string())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Amount, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(D::Error::custom)
    }
}

/// Parses a period: a whole number followed by `s`, `m`, `h` or `d` (`90s`, `30m`, `1h`,
/// `7d`), or plain seconds.
pub fn parse_period(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("period {text:?}: expected a number and s, m, h or d, as in 1h"))?;
    let unit_secs: u64 = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        other => {
            return Err(format!(
                "period {text:?}: unknown unit {other:?} (s, m, h or d)"
            ));
        }
    };
    let secs = number
        .checked_mul(unit_secs)
        .ok_or_else(|| format!("period {text:?} is too long"))?;
    if secs == 0 {
        return Err("the period must be at least one second".into());
    }
    Ok(Duration::from_secs(secs))
}

/// What a method does, for the scope check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Who the node is: every token may ask.
    Info,
    /// Reads state.
    Read,
    /// Verifies payment packages paid to the node.
    Verify,
    /// Pays from the node's channels.
    Pay,
    /// Everything else: the full-access token only.
    Admin,
}

/// The class of `method`; `None` for a method this table does not know, which only the
/// full-access token may call.
pub fn class_of(method: &str) -> Option<Class> {
    use crate::method::{self as m, aa};
    let class = match method {
        m::NODE_INFO => Class::Info,
        m::CHANNEL_INFO
        | m::LIST_CHANNELS
        | m::GET_CONTACT
        | m::LIST_CONTACTS
        | m::SUBSCRIBE_EVENTS
        | m::LIST_PROPOSALS
        | m::SUBSCRIBE_PROPOSALS
        | m::UNSUBSCRIBE_PROPOSALS
        | m::UNSUBSCRIBE_EVENTS
        | aa::GET_BALANCES_AND_STATUS
        | aa::GET_CHANNELS_FOR_PEER => Class::Read,
        m::VERIFY_PAYMENT_PACKAGE | aa::VERIFY_PAYMENT_PACKAGE => Class::Verify,
        m::PAY
        | m::SEND_MESSAGE
        | m::CREATE_PAYMENT_PACKAGE
        | m::CANCEL_PAYMENT_PACKAGE
        | aa::SEND_MESSAGE_AND_PAY
        | aa::CREATE_PAYMENT_PACKAGE => Class::Pay,
        m::OPEN_CHANNEL
        | m::DEPOSIT
        | m::WITHDRAW
        | m::CLOSE
        | m::SET_AUTO_REFILL
        | m::SET_UNCONFIRMED_CREDIT
        | m::ADD_CONTACT
        | m::REMOVE_CONTACT
        | m::SUBSCRIBE_PAYMENTS
        | m::UNSUBSCRIBE_PAYMENTS
        | m::ANSWER_PAYMENT
        | m::ACCEPT_PROPOSAL
        | m::REJECT_PROPOSAL
        | m::CREATE_TOKEN
        | m::LIST_TOKENS
        | m::REVOKE_TOKEN
        | aa::CREATE_NEW_CHANNEL
        | aa::SET_AUTO_REFILL => Class::Admin,
        _ => return None,
    };
    Some(class)
}

/// Who is calling: set by the [`auth`](crate::auth) middleware on every request it lets
/// through, read by the scope check and the paying methods.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// The full-access token of the data directory.
    Full,
    /// A scoped token.
    Token(Claims),
}

pub use self::format::Claims;

impl Caller {
    /// Whether the caller may call methods of `class` (revocation aside).
    pub fn allows(&self, class: Option<Class>) -> bool {
        match self {
            Caller::Full => true,
            Caller::Token(claims) => {
                class.is_some_and(|class| claims.scopes.iter().any(|scope| scope.allows(class)))
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_method_is_classified() {
        for method in crate::method::ALL {
            assert!(class_of(method).is_some(), "{method} has no scope class");
        }
        assert_eq!(class_of("rpc.discover"), None);
    }

    #[test]
    fn scopes_allow_their_classes_only() {
        let token = |scopes: Vec<Scope>| {
            Caller::Token(Claims {
                id: 1,
                scopes,
                limit: None,
            })
        };
        let verify = token(vec![Scope::Verify]);
        assert!(verify.allows(class_of("node_info")));
        assert!(verify.allows(class_of("verify_payment_package")));
        assert!(!verify.allows(class_of("pay")));
        assert!(!verify.allows(class_of("list_channels")));
        assert!(!verify.allows(class_of("open_channel")));
        assert!(!verify.allows(None));
        let read = token(vec![Scope::Read]);
        assert!(read.allows(class_of("list_channels")));
        assert!(!read.allows(class_of("verify_payment_package")));
        assert!(!read.allows(class_of("create_payment_package")));
        let pay = token(vec![Scope::Pay]);
        assert!(pay.allows(class_of("channel_info")));
        assert!(pay.allows(class_of("pay")));
        assert!(!pay.allows(class_of("close")));
        assert!(!pay.allows(class_of("create_token")));
        assert!(Caller::Full.allows(None));
        assert!(token(vec![Scope::Read, Scope::Verify]).allows(class_of("verify_payment_package")));
    }

    #[test]
    fn periods_parse_with_units() {
        assert_eq!(parse_period("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_period("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_period("2d").unwrap(), Duration::from_secs(172_800));
        assert!(parse_period("0s").is_err());
        assert!(parse_period("1w").is_err());
        assert!(parse_period("h").is_err());
        assert!(parse_period("").is_err());
    }
}
