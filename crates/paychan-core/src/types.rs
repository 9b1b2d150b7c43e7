//! Basic value types shared by every part of the protocol.

use std::fmt;

use alloy_primitives::B256;
use serde::{Deserialize, Serialize};

/// An amount of the channel's asset, in its smallest unit.
///
/// The ledger encodes amounts as `uint256`; paychan bounds them to `u128`, which is more than
/// the total supply of any real asset and keeps arithmetic on the hot path cheap. Every sum is
/// computed with checked or widened arithmetic.
pub type Amount = u128;

/// The id of a channel: the EIP-712 digest of its [`ChannelParams`](crate::ChannelParams)
/// under the ledger's domain, so an id is unique per ledger and binds the ledger too.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChannelId(pub B256);

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChannelId({})", self.0)
    }
}

impl std::str::FromStr for ChannelId {
    type Err = alloy_primitives::hex::FromHexError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<B256>().map(ChannelId)
    }
}

/// Which of the two parties of a channel: A opened it, B was invited.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Role {
    /// The party that opened the channel (`partyA`).
    A,
    /// The other party (`partyB`).
    B,
}

impl Role {
    /// The other party.
    pub fn peer(self) -> Role {
        match self {
            Role::A => Role::B,
            Role::B => Role::A,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::A => "A",
            Role::B => "B",
        })
    }
}

/// One value per party, indexed by [`Role`].
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Pair<T> {
    /// Party A's value.
    pub a: T,
    /// Party B's value.
    pub b: T,
}

impl<T> Pair<T> {
    /// Builds a pair.
    pub const fn new(a: T, b: T) -> Self {
        Pair { a, b }
    }

    /// The value of `role`.
    pub fn get(&self, role: Role) -> &T {
        match role {
            Role::A => &self.a,
            Role::B => &self.b,
        }
    }

    /// The value of `role`, mutably.
    pub fn get_mut(&mut self, role: Role) -> &mut T {
        match role {
            Role::A => &mut self.a,
            Role::B => &mut self.b,
        }
    }
}

impl<T: Copy> Pair<T> {
    /// The value of `role`, copied.
    pub fn at(&self, role: Role) -> T {
        *self.get(role)
    }
}

/// `a + b` exactly, in 256 bits (two amounts can never overflow it).
pub(crate) fn sum(a: Amount, b: Amount) -> alloy_primitives::U256 {
    alloy_primitives::U256::from(a).saturating_add(alloy_primitives::U256::from(b))
}

/// Parses a decimal amount: digits only (no sign, no fraction, no exponent, no spaces). The
/// one parser of amounts written as text (API params, HTTP headers).
pub fn parse_amount(text: &str) -> Result<Amount, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{text:?} is not an amount: expected a whole number of the asset's smallest unit in \
             decimal digits"
        ));
    }
    text.parse::<Amount>()
        .map_err(|_| format!("amount {text} is too large: the most is {}", Amount::MAX))
}
