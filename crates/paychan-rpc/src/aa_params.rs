//! The positional params of the aa-channels calls, parsed completely before a handler touches
//! the node ([`AaCall::parse`]) and written back in the form the API documents
//! ([`AaCall::to_params`]: amounts as decimal strings, ids and addresses as `0x` hex). What
//! the writer writes parses to the same call.
//!
//! | method | params |
//! |---|---|
//! | `createNewChannel` | `[peer, initial_amount, options?]` |
//! | `sendMessageAndPay` | `[aa_address, message_to_peer, amount]` (amount > 0) |
//! | `setAutoRefill` | `[aa_address, auto_refill_amount, auto_refill_threshold]` |
//! | `getBalancesAndStatus` | `[aa_address]` |
//! | `getChannelsForPeer` | `[peer, asset?]` |
//! | `createPaymentPackage` | `[aa_address, amount, message?]` |
//! | `verifyPaymentPackage` | `[package]` |

use paychan_core::{Amount, ChannelId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    error::RpcError,
    method::aa,
    params::{AmountParam, at_most, element, optional_amount},
};

/// `options` of `createNewChannel`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AaOptions {
    /// Must equal the node's challenge period (checked by the handler).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// `null` or `"base"`: the native asset (checked by the handler).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset: Option<String>,
    /// Refill below this.
    #[serde(
        default,
        deserialize_with = "optional_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub auto_refill_threshold: Option<AmountParam>,
    /// Refill by this.
    #[serde(
        default,
        deserialize_with = "optional_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub auto_refill_amount: Option<AmountParam>,
    /// Accepted and ignored: every channel gets a fresh nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<Value>,
}

/// An aa-channels call with its params.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum AaCall {
    /// `createNewChannel`.
    CreateNewChannel {
        /// An address, a contact's alias or `ADDRESS@HOST:PORT`.
        peer: String,
        /// The deposit.
        initial_amount: Amount,
        /// The options.
        options: AaOptions,
    },
    /// `sendMessageAndPay`.
    SendMessageAndPay {
        /// The channel.
        aa_address: ChannelId,
        /// The message.
        message: Value,
        /// What to pay (positive).
        amount: Amount,
    },
    /// `setAutoRefill`.
    SetAutoRefill {
        /// The channel.
        aa_address: ChannelId,
        /// The refill amount.
        amount: Option<Amount>,
        /// The refill threshold.
        threshold: Option<Amount>,
    },
    /// `getBalancesAndStatus`.
    GetBalancesAndStatus {
        /// The channel.
        aa_address: ChannelId,
    },
    /// `getChannelsForPeer`.
    GetChannelsForPeer {
        /// The peer (an address, or `ADDRESS@…`).
        peer: String,
        /// The asset.
        asset: Option<String>,
    },
    /// `createPaymentPackage`.
    CreatePaymentPackage {
        /// The channel.
        aa_address: ChannelId,
        /// What to pay.
        amount: Amount,
        /// The message, if it travels in the package.
        message: Option<Value>,
    },
    /// `verifyPaymentPackage`.
    VerifyPaymentPackage {
        /// The package: an object, or a string holding its JSON or compact form.
        package: Value,
    },
}

/// Params given only as an array, one value per element (absent: none).
fn positional(raw: Option<&str>) -> Result<Vec<Value>, RpcError> {
    match raw {
        None => Ok(vec![]),
        Some(raw) => serde_json::from_str::<Vec<Value>>(raw).map_err(|_| {
            RpcError::invalid_params("this method takes positional params (a JSON array)")
        }),
    }
}

fn amount(value: Amount) -> Value {
    Value::String(value.to_string())
}

fn id(value: &ChannelId) -> Value {
    Value::String(value.to_string())
}

impl AaCall {
    /// Parses the params (`raw`, the JSON text; `None` when absent) of aa-channels method
    /// `method`; `Ok(None)` if `method` is not one of them.
    pub fn parse(method: &str, raw: Option<&str>) -> Result<Option<Self>, RpcError> {
        let max = match method {
            aa::CREATE_NEW_CHANNEL
            | aa::SEND_MESSAGE_AND_PAY
            | aa::SET_AUTO_REFILL
            | aa::CREATE_PAYMENT_PACKAGE => 3,
            aa::GET_CHANNELS_FOR_PEER => 2,
            aa::GET_BALANCES_AND_STATUS | aa::VERIFY_PAYMENT_PACKAGE => 1,
            _ => return Ok(None),
        };
        let v = positional(raw)?;
        at_most(&v, max)?;
        let call = match method {
            aa::CREATE_NEW_CHANNEL => AaCall::CreateNewChannel {
                peer: element(&v, 0, "peer")?,
                initial_amount: element::<AmountParam>(&v, 1, "initial_amount")?.0,
                options: element::<Option<AaOptions>>(&v, 2, "options")?.unwrap_or_default(),
            },
            aa::SEND_MESSAGE_AND_PAY => AaCall::SendMessageAndPay {
                aa_address: element(&v, 0, "aa_address")?,
                message: element(&v, 1, "message_to_peer")?,
                amount: element::<AmountParam>(&v, 2, "amount")?.positive("amount")?,
            },
            aa::SET_AUTO_REFILL => AaCall::SetAutoRefill {
                aa_address: element(&v, 0, "aa_address")?,
                amount: element::<Option<AmountParam>>(&v, 1, "auto_refill_amount")?.map(|a| a.0),
                threshold: element::<Option<AmountParam>>(&v, 2, "auto_refill_threshold")?
                    .map(|a| a.0),
            },
            aa::GET_BALANCES_AND_STATUS => AaCall::GetBalancesAndStatus {
                aa_address: element(&v, 0, "aa_address")?,
            },
            aa::GET_CHANNELS_FOR_PEER => AaCall::GetChannelsForPeer {
                peer: element(&v, 0, "peer")?,
                asset: element(&v, 1, "asset")?,
            },
            aa::CREATE_PAYMENT_PACKAGE => AaCall::CreatePaymentPackage {
                aa_address: element(&v, 0, "aa_address")?,
                amount: element::<AmountParam>(&v, 1, "amount")?.0,
                message: element(&v, 2, "message")?,
            },
            _ => AaCall::VerifyPaymentPackage {
                package: element(&v, 0, "package")?,
            },
        };
        Ok(Some(call))
    }

    /// The method name.
    pub fn method(&self) -> &'static str {
        match self {
            AaCall::CreateNewChannel { .. } => aa::CREATE_NEW_CHANNEL,
            AaCall::SendMessageAndPay { .. } => aa::SEND_MESSAGE_AND_PAY,
            AaCall::SetAutoRefill { .. } => aa::SET_AUTO_REFILL,
            AaCall::GetBalancesAndStatus { .. } => aa::GET_BALANCES_AND_STATUS,
            AaCall::GetChannelsForPeer { .. } => aa::GET_CHANNELS_FOR_PEER,
            AaCall::CreatePaymentPackage { .. } => aa::CREATE_PAYMENT_PACKAGE,
            AaCall::VerifyPaymentPackage { .. } => aa::VERIFY_PAYMENT_PACKAGE,
        }
    }

    /// The positional params, as a client writes them.
    pub fn to_params(&self) -> Vec<Value> {
        let optional = |a: &Option<Amount>| a.map_or(Value::Null, amount);
        match self {
            AaCall::CreateNewChannel {
                peer,
                initial_amount,
                options,
            } => vec![
                Value::String(peer.clone()),
                amount(*initial_amount),
                serde_json::to_value(options).unwrap_or(Value::Null),
            ],
            AaCall::SendMessageAndPay {
                aa_address,
                message,
                amount: paid,
            } => vec![id(aa_address), message.clone(), amount(*paid)],
            AaCall::SetAutoRefill {
                aa_address,
                amount,
                threshold,
            } => vec![id(aa_address), optional(amount), optional(threshold)],
            AaCall::GetBalancesAndStatus { aa_address } => vec![id(aa_address)],
            AaCall::GetChannelsForPeer { peer, asset } => vec![
                Value::String(peer.clone()),
                asset.clone().map_or(Value::Null, Value::String),
            ],
            AaCall::CreatePaymentPackage {
                aa_address,
                amount: paid,
                message,
            } => vec![
                id(aa_address),
                amount(*paid),
                message.clone().unwrap_or(Value::Null),
            ],
            AaCall::VerifyPaymentPackage { package } => vec![package.clone()],
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn round_trip(method: &str, raw: &str) -> AaCall {
        let call = AaCall::parse(method, Some(raw)).unwrap().unwrap();
        let written = serde_json::to_string(&call.to_params()).unwrap();
        assert_eq!(
            AaCall::parse(call.method(), Some(&written)).unwrap(),
            Some(call.clone())
        );
        call
    }

    #[test]
    fn aa_calls_parse_and_write_back() {
        let id = format!("\"0x{}\"", "11".repeat(32));
        round_trip(
            aa::CREATE_NEW_CHANNEL,
            r#"["peer", 1000, {"salt": 5, "auto_refill_amount": "10", "asset": "base"}]"#,
        );
        let call = round_trip(
            aa::SEND_MESSAGE_AND_PAY,
            &format!("[{id}, {{\"a\": 1}}, \"7\"]"),
        );
        assert!(matches!(call, AaCall::SendMessageAndPay { amount: 7, .. }));
        round_trip(aa::SET_AUTO_REFILL, &format!("[{id}, null, 5]"));
        round_trip(aa::GET_BALANCES_AND_STATUS, &format!("[{id}]"));
        round_trip(aa::GET_CHANNELS_FOR_PEER, "[\"0xab@h:1\"]");
        round_trip(aa::CREATE_PAYMENT_PACKAGE, &format!("[{id}, 1]"));
        round_trip(aa::VERIFY_PAYMENT_PACKAGE, "[\"abc\"]");
        assert_eq!(AaCall::parse("pay", Some("[]")).unwrap(), None);
        for (method, bad) in [
            (aa::SEND_MESSAGE_AND_PAY, format!("[{id}, 1, 0]")),
            (aa::GET_BALANCES_AND_STATUS, format!("[{id}, 1]")),
            (aa::CREATE_NEW_CHANNEL, "[\"p\", 1, {\"x\": 1}]".into()),
            (aa::CREATE_PAYMENT_PACKAGE, "{\"aa_address\": 1}".into()),
            (aa::SET_AUTO_REFILL, "[\"0x12\"]".into()),
        ] {
            assert!(AaCall::parse(method, Some(&bad)).is_err(), "{method} {bad}");
        }
    }
}
