//! The ledger side of paychan.
//!
//! - [`types`]: the ledger's data: its error type, the operations and receipts.
//! - [`request`]: ledger operations signed by the account that makes them, so a ledger served
//!   to other processes knows who is asking.
//!
//! Both are pure (no runtime): without the default `runtime` feature the crate is just them,
//! for wasm32 (`paychan-wasm`, whose signature backend is paychan-core's `k256`). The rest
//! needs `runtime`:
//!
//! - [`api`]: the `Ledger` interface, split into small role traits with documented
//!   contracts, the operations and events every backend shares, and its error type, whose
//!   refusals name the ledger [`Rule`] they broke.
//! - [`clock`]: the ledger's time: real by default, manual in tests.
//! - [`embedded`]: the embedded ledger: the core's ledger rules with accounts (native asset
//!   and named tokens), a write-ahead journal that survives restarts, and a faucet.
//! - [`metrics`]: what the embedded ledger counts for its operator.
//! - [`rpc`]: `paychan ledger serve` (JSON-RPC over HTTP and WebSocket) and the client that
//!   implements the `Ledger` traits over it, so separate node processes share one ledger.
//! - `testkit` (feature `testkit`): the conformance suite every backend must pass.

#[cfg(feature = "runtime")]
pub mod api;
#[cfg(feature = "runtime")]
pub mod clock;
#[cfg(feature = "runtime")]
pub mod embedded;
#[cfg(feature = "runtime")]
pub mod metrics;
pub mod request;
#[cfg(feature = "runtime")]
pub mod rpc;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod types;

pub use paychan_core::adjudicator::Rule;

#[cfg(feature = "runtime")]
pub use crate::{
    api::{
        EventStream, Ledger, LedgerClose, LedgerEvents, LedgerFunding, LedgerQuery, LedgerWithdraw,
    },
    clock::Clock,
    embedded::{EmbeddedAccount, EmbeddedLedger},
};
pub use crate::{
    request::SignedRequest,
    types::{ChallengeFloor, EventRecord, LedgerError, Operation, PendingTransaction, Receipt},
};
