//! Integration tests of paychan-ledger, as one test binary.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    missing_docs,
    unreachable_pub
)]

mod conformance_embedded;
mod conformance_served;
mod journal;
mod rpc;
