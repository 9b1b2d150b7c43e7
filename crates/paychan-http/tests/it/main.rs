//! paychan-http over real HTTP on loopback: the 402 flow, concurrent clients, bad packages,
//! budgets, the reverse proxy and pay-per-time streams.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(clippy::arithmetic_side_effects, missing_docs, unreachable_pub)]

mod flow;
mod front;
mod harness;
mod observe;
mod packages;
mod proxy;
mod streams;
