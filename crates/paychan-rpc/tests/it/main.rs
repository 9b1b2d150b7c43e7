//! Integration tests of the JSON-RPC API: two in-process nodes over an in-memory embedded
//! ledger with a manual clock, SQLite stores, wired by in-memory peer connections; each node
//! served by the API on a free loopback port and driven by real HTTP and WebSocket clients.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    missing_docs,
    unreachable_pub
)]

mod aa_compat;
mod auth;
mod contacts;
mod events;
mod grpc;
mod grpc_streams;
mod harness;
mod methods;
mod openrpc;
mod packages;
mod params;
mod proposals;
mod remote_handler;
mod tokens;
