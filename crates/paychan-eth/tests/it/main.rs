//! Integration tests of paychan-eth against anvil, as one test binary.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    missing_docs,
    unreachable_pub
)]

#[cfg(not(paychan_skip_anvil))]
mod attacks;
#[cfg(not(paychan_skip_anvil))]
mod challenge;
#[cfg(not(paychan_skip_anvil))]
mod conformance;
#[cfg(not(paychan_skip_anvil))]
mod events;
#[cfg(not(paychan_skip_anvil))]
mod gas;
#[cfg(not(paychan_skip_anvil))]
mod hardening;
#[cfg(not(paychan_skip_anvil))]
mod two_nodes;
#[cfg(not(paychan_skip_anvil))]
mod unconfirmed;

#[cfg(paychan_skip_anvil)]
#[test]
fn anvil_tests_skipped() {
    eprintln!("NOTICE: PAYCHAN_SKIP_ANVIL=1: the paychan-eth tests against anvil were skipped");
}
