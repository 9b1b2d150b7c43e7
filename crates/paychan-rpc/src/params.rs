//! Parsing of method params: strict (unknown keys, wrong types and out-of-range values are
//! refused before anything is done), and amounts as decimal strings or JSON integers.
//!
//! Amounts are `u128`: a JSON number loses precision above 2^53 in JavaScript, so the API
//! writes amounts as decimal strings and accepts both strings and integers. Negative
//! numbers, fractions, exponents, empty strings and values above `u128::MAX` are refused.

use std::fmt;

use jsonrpsee::types::Params;
use paychan_core::Amount;
use serde::{
    Deserialize, Deserializer, Serialize, Serializer,
    de::{self, DeserializeOwned, Visitor},
};

use crate::error::RpcError;

/// An amount param: a decimal string or a non-negative JSON integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AmountParam(pub Amount);

impl AmountParam {
    /// The amount, refused if zero (`what` names the param in the message).
    pub fn positive(self, what: &str) -> Result<Amount, RpcError> {
        if self.0 == 0 {
            return Err(RpcError::invalid_params(format!("{what} must be positive")));
        }
        Ok(self.0)
    }
}

struct AmountVisitor;

impl Visitor<'_> for AmountVisitor {
    type Value = AmountParam;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "an amount: a whole number from 0 to {} as a decimal string or a JSON integer",
            Amount::MAX
        )
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<AmountParam, E> {
        Ok(AmountParam(Amount::from(v)))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<AmountParam, E> {
        Ok(AmountParam(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<AmountParam, E> {
        u64::try_from(v)
            .map(|v| AmountParam(Amount::from(v)))
            .map_err(|_| E::custom(format!("amount {v} is negative")))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<AmountParam, E> {
        u128::try_from(v)
            .map(AmountParam)
            .map_err(|_| E::custom(format!("amount {v} is negative")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<AmountParam, E> {
        Err(E::custom(format!(
            "amount {v} is not a whole number that fits a JSON integer: write large amounts as \
             decimal strings"
        )))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<AmountParam, E> {
        parse_amount(v).map(AmountParam).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for AmountParam {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AmountVisitor)
    }
}

impl Serialize for AmountParam {
    /// As a decimal string, the form the API writes amounts in.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.to_string())
    }
}

/// The params of a method that takes none: absent, `{}` or `[]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// An optional amount param (`null` or absent is `None`).
pub fn optional_amount<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<AmountParam>, D::Error> {
    Option::<AmountParam>::deserialize(deserializer)
}

/// Parses a decimal amount: digits only (no sign, no fraction, no exponent, no spaces).
pub use paychan_core::types::parse_amount;

/// Parses named (a JSON object) or positional (a JSON array, in the order of the fields)
/// params; absent params parse as an empty object. A failure is an invalid-params error.
pub fn parse<T: DeserializeOwned>(params: &Params<'_>) -> Result<T, RpcError> {
    let raw = params.as_str().unwrap_or("{}");
    serde_json::from_str(raw).map_err(|e| RpcError::invalid_params(e.to_string()))
}

/// Params given only as an array (the aa-channels aliases), one value per element.
pub fn positional(params: &Params<'_>) -> Result<Vec<serde_json::Value>, RpcError> {
    match params.as_str() {
        None => Ok(vec![]),
        Some(raw) => serde_json::from_str::<Vec<serde_json::Value>>(raw).map_err(|_| {
            RpcError::invalid_params("this method takes positional params (a JSON array)")
        }),
    }
}

/// Element `index` of positional params, parsed as `T` (`name` is used in messages). A
/// missing element parses from `null` (so optional elements may be left out).
pub fn element<T: DeserializeOwned>(
    values: &[serde_json::Value],
    index: usize,
    name: &str,
) -> Result<T, RpcError> {
    let value = values
        .get(index)
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    serde_json::from_value(value).map_err(|e| RpcError::invalid_params(format!("{name}: {e}")))
}

/// Refuses positional params with more than `max` elements.
pub fn at_most(values: &[serde_json::Value], max: usize) -> Result<(), RpcError> {
    if values.len() > max {
        return Err(RpcError::invalid_params(format!(
            "expected at most {max} params, got {}",
            values.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn amount(json: &str) -> Result<Amount, String> {
        serde_json::from_str::<AmountParam>(json)
            .map(|a| a.0)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn amounts_parse_strictly() {
        assert_eq!(amount("12").unwrap(), 12);
        assert_eq!(amount("\"12\"").unwrap(), 12);
        assert_eq!(amount(&format!("\"{}\"", u128::MAX)).unwrap(), u128::MAX);
        for bad in [
            "-1",
            "\"-1\"",
            "1.5",
            "1e3",
            "\"1e3\"",
            "\"\"",
            "\" 1\"",
            "\"0x10\"",
            "true",
            "null",
            "{}",
            "340282366920938463463374607431768211456",
            "\"340282366920938463463374607431768211456\"",
        ] {
            assert!(amount(bad).is_err(), "{bad} must be refused");
        }
    }
}
