//! Integration tests of the node: two nodes in one process, a shared embedded ledger with a
//! manual clock, SQLite stores, connected by in-memory peer connections.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    missing_docs,
    unreachable_pub
)]

mod flows;
mod front;
mod ha;
mod lifecycle;
mod malicious;
mod network;
mod packages;
mod pending_deposit;
mod relay;
mod unconfirmed;
