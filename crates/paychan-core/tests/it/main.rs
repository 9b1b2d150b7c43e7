//! Integration tests of paychan-core, as one test binary.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    missing_docs,
    unreachable_pub
)]

mod channel_props;
mod codec;
mod consistency;
mod eip712;
mod front_certificate;
mod ledger_rules;
