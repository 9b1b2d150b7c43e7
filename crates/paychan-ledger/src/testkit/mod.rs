//! The conformance suite every ledger backend must pass (feature `testkit`).
//!
//! The suite drives a ledger only through the async [`Ledger`](crate::Ledger) role traits, so
//! the same cases run unchanged against the embedded ledger, the JSON-RPC served ledger and
//! the Ethereum contract. A backend provides a [`Harness`] (accounts, a faucet, a way to move
//! time forward) and instantiates one test per case with
//! [`conformance_suite!`](crate::conformance_suite):
//!
//! ```ignore
//! mod native {
//!     paychan_ledger::conformance_suite!(async {
//!         paychan_ledger::testkit::EmbeddedHarness::new()
//!     });
//! }
//! ```
//!
//! The calling crate needs `tokio` (features `macros` and `rt-multi-thread`) among its
//! dev-dependencies: the macro expands to `#[tokio::test]` functions.
//!
//! Every case is a public `async fn case<H: Harness>(h: &H)` listed in [`CASES`]; it panics
//! with the case's name and a clear message on the first violation. Each case checks, after
//! every operation it makes, successful or refused:
//! - the balance of every account it uses against a hand-computed expectation;
//! - the ledger's record of every channel it uses against the expected record;
//! - conservation: the asset held by its accounts plus `held()` of its channels equals what
//!   it funded (nothing created or destroyed);
//! - that events are numbered consecutively from 0 with no event for a refused operation;
//! - for a refusal, that the error is exactly the expected one: the ledger [`Rule`] broken
//!   (`LedgerError::Rejected(rule)`, the same rule on every backend) or insufficient funds
//!   with the exact amounts; that it is final
//!   ([`LedgerError::is_final`](crate::LedgerError)); and that nothing at all changed.
//!
//! Payouts are always compared with the settlement formula worked out by hand in the case,
//! so a case also checks that no honest party loses.
//!
//! # Lints
//!
//! This is test-support code compiled into the library only with the `testkit` feature: it
//! reports failures by panicking (that is how a test fails), indexes and adds freely in
//! hand-written expectations where an overflow would itself be a test failure, so the
//! panic-, unwrap- and arithmetic-related lints of the workspace are allowed here.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing
)]

mod cases;
mod world;

use async_trait::async_trait;
#[cfg(doc)]
use paychan_core::adjudicator::Rule;
use paychan_core::{Address, Amount, SigningKey};

pub use self::cases::*;
use crate::{
    Clock,
    embedded::{EmbeddedAccount, EmbeddedLedger},
};

/// What the suite needs from a ledger backend besides the [`Ledger`](crate::Ledger) traits.
///
/// Each value stands for a new, empty ledger: no channels, no events, no funded accounts. The
/// balances of the suite's asset must change only through the suite's own operations and
/// [`fund`](Harness::fund) (a backend whose transactions cost fees pays them in another
/// asset than [`asset`](Harness::asset)).
#[async_trait]
pub trait Harness: Send + Sync + 'static {
    /// A ledger handle acting for one account.
    type Account: crate::Ledger + Clone + Send + Sync + 'static;
    /// A handle acting for `key`'s account.
    async fn account(&self, key: SigningKey) -> Self::Account;
    /// Gives `owner` `amount` of the suite's asset (a faucet/mint; not counted as a ledger
    /// operation).
    async fn fund(&self, owner: Address, amount: Amount);
    /// The asset the suite puts in its channels (zero address = native).
    fn asset(&self) -> Address;
    /// Moves the ledger's time forward by at least `secs` seconds.
    async fn advance(&self, secs: u64);
}

/// The start of the embedded harness's manual clock.
pub const EMBEDDED_START: u64 = 1_700_000_000;

/// A [`Harness`] over an in-memory [`EmbeddedLedger`] with a manual clock starting at
/// [`EMBEDDED_START`].
#[derive(Clone, Debug)]
pub struct EmbeddedHarness {
    ledger: EmbeddedLedger,
    asset: Address,
}

impl EmbeddedHarness {
    /// A new empty ledger; the suite uses the native asset.
    pub fn new() -> Self {
        Self::with_asset(Address::ZERO)
    }

    /// A new empty ledger; the suite uses the embedded token called `name`
    /// ([`token`](crate::embedded::token)).
    pub fn with_token(name: &str) -> Self {
        Self::with_asset(crate::embedded::token(name))
    }

    fn with_asset(asset: Address) -> Self {
        EmbeddedHarness {
            ledger: EmbeddedLedger::in_memory(Clock::manual(EMBEDDED_START)),
            asset,
        }
    }

    /// The ledger behind the harness.
    pub fn ledger(&self) -> &EmbeddedLedger {
        &self.ledger
    }
}

impl Default for EmbeddedHarness {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Harness for EmbeddedHarness {
    type Account = EmbeddedAccount;

    async fn account(&self, key: SigningKey) -> EmbeddedAccount {
        self.ledger.account(key)
    }

    async fn fund(&self, owner: Address, amount: Amount) {
        if let Err(e) = self.ledger.faucet(owner, self.asset, amount) {
            panic!("faucet of {amount} to {owner} failed: {e}");
        }
    }

    fn asset(&self) -> Address {
        self.asset
    }

    async fn advance(&self, secs: u64) {
        assert!(
            self.ledger.clock().advance(secs).is_some(),
            "the embedded harness's clock is manual"
        );
    }
}

/// The name of every case, in the order
/// [`conformance_suite!`](crate::conformance_suite) generates them.
pub const CASES: &[&str] = &[
    "open_debits_the_opener",
    "deposits_by_either_party_and_third_parties",
    "withdrawal_floors_are_honoured_at_settlement",
    "cooperative_close_pays_out_at_once",
    "cooperative_close_during_a_close",
    "unilateral_close_with_voucher_at_start",
    "vouchers_submitted_by_party_and_watchtower",
    "settle_after_deadline_by_third_party",
    "channel_state_machines_end_to_end",
    "event_stream_replays_and_follows",
    "forged_voucher_is_refused",
    "tampered_voucher_is_refused",
    "voucher_of_another_channel_is_refused",
    "foreign_domain_signatures_are_refused",
    "stale_voucher_never_lowers_the_count",
    "replayed_withdrawal_is_refused",
    "withdrawal_beyond_balance_is_refused",
    "colluding_parties_cannot_drain_other_channels",
    "expired_withdrawal_is_refused",
    "withdrawal_of_a_closing_channel_or_stranger_is_refused",
    "settle_before_deadline_is_refused",
    "settle_twice_is_refused",
    "voucher_after_deadline_is_refused",
    "start_close_by_stranger_is_refused",
    "start_close_twice_is_refused",
    "deposit_while_closing_is_refused",
    "channel_id_is_never_reused",
    "cooperative_close_needs_both_signatures",
    "zero_deposit_is_refused",
    "amounts_at_the_integer_limits",
    "open_without_funds_is_refused",
    "invalid_channel_params_are_refused",
    "unknown_channel_is_refused",
];

/// Generates one `#[tokio::test]` per case of the conformance suite, plus a test that the
/// generated list matches [`CASES`](crate::testkit::CASES).
///
/// `$make` is an expression evaluated afresh in each test (typically an `async` block) whose
/// `.await` gives a [`Harness`](crate::testkit::Harness) over a new, empty ledger. Invoke it
/// inside a module of its own, since it defines one function per case name.
#[macro_export]
macro_rules! conformance_suite {
    ($make:expr) => {
        $crate::conformance_suite!(@cases $make;
            open_debits_the_opener,
            deposits_by_either_party_and_third_parties,
            withdrawal_floors_are_honoured_at_settlement,
            cooperative_close_pays_out_at_once,
            cooperative_close_during_a_close,
            unilateral_close_with_voucher_at_start,
            vouchers_submitted_by_party_and_watchtower,
            settle_after_deadline_by_third_party,
            channel_state_machines_end_to_end,
            event_stream_replays_and_follows,
            forged_voucher_is_refused,
            tampered_voucher_is_refused,
            voucher_of_another_channel_is_refused,
            foreign_domain_signatures_are_refused,
            stale_voucher_never_lowers_the_count,
            replayed_withdrawal_is_refused,
            withdrawal_beyond_balance_is_refused,
            colluding_parties_cannot_drain_other_channels,
            expired_withdrawal_is_refused,
            withdrawal_of_a_closing_channel_or_stranger_is_refused,
            settle_before_deadline_is_refused,
            settle_twice_is_refused,
            voucher_after_deadline_is_refused,
            start_close_by_stranger_is_refused,
            start_close_twice_is_refused,
            deposit_while_closing_is_refused,
            channel_id_is_never_reused,
            cooperative_close_needs_both_signatures,
            zero_deposit_is_refused,
            amounts_at_the_integer_limits,
            open_without_funds_is_refused,
            invalid_channel_params_are_refused,
            unknown_channel_is_refused,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let harness = $make.await;
                $crate::testkit::$case(&harness).await;
            }
        )*

        #[test]
        fn conformance_suite_covers_every_case() {
            let generated: &[&str] = &[$(stringify!($case)),*];
            assert_eq!(
                generated,
                $crate::testkit::CASES,
                "conformance_suite! and testkit::CASES disagree"
            );
        }
    };
}
