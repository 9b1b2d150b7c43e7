//! The Ethereum ledger of paychan: the `PaychanAdjudicator` contract (in `contracts/`) behind
//! the [`Ledger`](paychan_ledger::Ledger) interface, through alloy.
//!
//! - [`bindings`]: `sol!` bindings generated from the committed artifacts in `contracts/out`.
//! - [`config`]: where the contract is and how cautious to be (confirmations, polling, retries).
//! - [`error`]: contract reverts and RPC failures mapped onto [`LedgerError`] kinds.
//! - [`revert`]: each custom error of the contract as the ledger rule it stands for, the
//!   same [`Rule`](paychan_core::adjudicator::Rule) the embedded ledger reports.
//! - [`events`]: contract logs decoded into ledger events, numbered by a cursor that maps onto
//!   (block, log index) and survives restarts; only confirmed blocks are indexed.
//! - [`ledger`]: [`EthLedger`] (one connection to one contract) and [`EthAccount`] (a handle
//!   acting for one key) implementing every ledger role.
//! - `payouts`: deferred payouts and claims, and an `open` someone else front-ran.
//! - [`deploy`]: deploying the contract.
//! - `anvil` and `devnet` (feature `anvil`): a local anvil node started on a free port, with the
//!   adjudicator deployed and a faucet and a clock for development.
//! - `testkit` (feature `testkit`): the conformance-suite harness over it.
//!
//! [`LedgerError`]: paychan_ledger::LedgerError

#[cfg(feature = "anvil")]
pub mod anvil;
pub mod bindings;
pub mod config;
pub mod deploy;
#[cfg(feature = "anvil")]
pub mod devnet;
pub mod error;
pub mod events;
pub mod ledger;
mod payouts;
mod pending;
pub mod revert;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use crate::{
    config::EthConfig,
    deploy::{CHALLENGE_PERIOD_FLOOR, deploy_adjudicator},
    ledger::{EthAccount, EthLedger},
};
