//! The ledger side of paychan.
//!
//! - [`api`]: the `Ledger` interface, split into small role traits with documented
//!   contracts, the operations and events every backend shares, and its error type, whose
//!   refusals name the ledger [`Rule`] they broke.
//! - [`request`]: ledger operations signed by the account that makes them, so a ledger served
//!   to other processes knows who is asking.
//! - [`clock`]: the ledger's time: real by default, manual in tests.
//! - [`embedded`]: the embedded ledger: the core's ledger rules with accounts (native asset
//!   and named tokens), a write-ahead journal that survives restarts, and a faucet.
//! - [`metrics`]: what the embedded ledger counts for its operator.
//! - [`rpc`]: `paychan ledger serve` (JSON-RPC over HTTP and WebSocket) and the client that
//!   implements the `Ledger` traits over it, so separate node processes share one ledger.
//! - `testkit` (feature `testkit`): the conformance suite every backend must pass.

pub mod api;
pub mod clock;
pub mod embedded;
pub mod metrics;
pub mod request;
pub mod rpc;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use paychan_core::adjudicator::Rule;

pub use crate::{
    api::{
        ChallengeFloor, EventRecord, EventStream, Ledger, LedgerClose, LedgerError, LedgerEvents,
        LedgerFunding, LedgerQuery, LedgerWithdraw, Operation, Receipt,
    },
    clock::Clock,
    embedded::{EmbeddedAccount, EmbeddedLedger},
};
