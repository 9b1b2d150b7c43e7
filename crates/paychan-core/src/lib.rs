//! The sans-IO protocol core of paychan.
//!
//! Everything that decides whether money moves lives here, and nothing here performs IO:
//! no sockets, no clock, no threads, no database. Time and randomness are arguments, so the
//! same code runs in the node, in the embedded ledger, in the demo and in property tests.
//!
//! - [`types`]: addresses, channel ids, amounts and the two roles of a channel.
//! - [`crypto`]: secp256k1 keys, Ethereum-compatible 65-byte signatures, recovery.
//! - [`eip712`]: the typed structs of the protocol and their EIP-712 hashes.
//! - [`channel`]: the state machine of one party in one channel.
//! - [`front`]: front certificates: a payee's key lets a front's key speak for it, never
//!   move its funds.
//! - [`http`]: the HTTP payment headers: the `402` challenge, the credentials, the receipt.
//! - [`manager`]: what decides above one channel: proposals, vouchers, packages, counter
//!   sync, ledger events, replies, the channel policy and every deadline.
//! - [`metrics`]: lock-free counters and histograms the adapters fill, for an exporter.
//! - [`adjudicator`]: the ledger rules, as a pure state machine the ledgers wrap.
//! - [`bank`]: the adjudicator with account balances, in memory (demo, tests).
//! - [`wire`]: the peer protocol's messages and their versioned binary codec.
//! - `simulation` (hidden): two parties and a ledger driven by bytes, for the consistency
//!   fuzzer and its property test.

pub mod adjudicator;
pub mod bank;
pub mod channel;
pub mod crypto;
pub mod eip712;
pub mod front;
pub mod http;
pub mod manager;
pub mod metrics;
#[doc(hidden)]
pub mod simulation;
pub mod types;
pub mod wire;

pub use alloy_primitives::{Address, B256, U256, keccak256};

pub use crate::{
    crypto::{Signature, SignatureError, SigningKey},
    eip712::{ChannelParams, Domain, Settlement, SignedVoucher, Voucher, Withdrawal},
    types::{Amount, ChannelId, Pair, Role},
};
