//! The conformance suite every store backend must pass (feature `testkit`).
//!
//! The suite drives a store only through the [`Store`] trait, so the same cases run unchanged
//! against SQLite, PostgreSQL and MariaDB. A backend provides a [`Harness`] (how to open its
//! database for one test, and to open it again) and instantiates one test per case with
//! [`store_conformance_suite!`](crate::store_conformance_suite):
//!
//! ```ignore
//! mod sqlite_normal {
//!     paychan_store::store_conformance_suite!(crate::sqlite_harness(Durability::Normal));
//! }
//! ```
//!
//! The argument is an async expression evaluated afresh for every test; each evaluation must
//! yield a harness over a new, empty database. The calling crate needs `tokio` (features
//! `macros` and `rt-multi-thread`) among its dev-dependencies: the macro expands to
//! `#[tokio::test]` functions.
//!
//! Every case is a public `async fn case(h: &Harness)` in this module; it panics with a clear
//! message on the first violation. Refusals are checked for their exact error and for having
//! changed nothing at all: no channel row, no payment, no cursor move.
//!
//! # Lints
//!
//! This is test-support code compiled into the library only with the `testkit` feature: it
//! reports failures by panicking (that is how a test fails) and computes expectations with
//! plain arithmetic and indexing on small hand-picked values, so the panic-, unwrap- and
//! arithmetic-related lints of the workspace are allowed here.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing
)]

mod cases;
#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "postgres")]
pub mod postgres;

use std::{future::Future, pin::Pin, sync::Arc};

use tokio::sync::Mutex;

pub use self::cases::*;
use crate::{Store, StoreError};

type Opening = Pin<Box<dyn Future<Output = Result<Arc<dyn Store>, StoreError>> + Send>>;

/// One test's database, as the suite sees it: a store, and the same database reopened.
pub struct Harness {
    open: Box<dyn Fn() -> Opening + Send + Sync>,
    current: Mutex<Option<Arc<dyn Store>>>,
}

impl Harness {
    /// A harness whose `open` opens the test's database, the same one on every call. Whatever
    /// `open` captures (a temporary directory, a database to drop) lives as long as the
    /// harness.
    pub fn new<F, Fut>(open: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Arc<dyn Store>, StoreError>> + Send + 'static,
    {
        Harness {
            open: Box::new(move || Box::pin(open())),
            current: Mutex::new(None),
        }
    }

    /// The store, opened on first use.
    pub async fn store(&self) -> Arc<dyn Store> {
        let mut current = self.current.lock().await;
        if let Some(store) = &*current {
            return Arc::clone(store);
        }
        let store = (self.open)()
            .await
            .unwrap_or_else(|e| panic!("opening the store: {e}"));
        *current = Some(Arc::clone(&store));
        store
    }

    /// Drops the store (the case must hold no other handle to it) and opens the same
    /// database again.
    pub async fn reopen(&self) -> Arc<dyn Store> {
        let mut current = self.current.lock().await;
        if let Some(store) = current.take() {
            assert_eq!(
                Arc::strong_count(&store),
                1,
                "the case still holds the store it asks to reopen"
            );
            drop(store);
        }
        let store = (self.open)()
            .await
            .unwrap_or_else(|e| panic!("reopening the store: {e}"));
        *current = Some(Arc::clone(&store));
        store
    }
}

/// Generates one `#[tokio::test]` per conformance case, each with a fresh harness from
/// `$make` (an async expression yielding a [`Harness`]). See the [module docs](self).
#[macro_export]
macro_rules! store_conformance_suite {
    ($make:expr) => {
        $crate::store_conformance_suite!(@cases $make;
            empty_store,
            commit_and_read_back_every_field,
            large_empty_and_shrinking_states,
            versions_advance_one_at_a_time,
            stale_version_refuses_the_whole_batch,
            duplicate_payment_refuses_the_whole_batch,
            payments_newest_first_with_pagination,
            payment_order_spans_the_whole_u64_range,
            payments_are_kept_apart_by_channel_and_direction,
            channels_for_peer,
            ledger_cursor_is_never_lowered,
            meta_get_set_overwrite,
            contacts_add_replace_remove_persist,
            persistence_across_reopen,
            concurrent_commits_of_distinct_channels,
            concurrent_writers_of_one_channel_one_wins_per_version,
            racing_writers_that_reload_and_retry_lose_nothing,
            conflicting_batches_in_a_group_fail_alone,
            removal_deletes_only_the_version_read,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let harness: $crate::testkit::Harness = $make.await;
                $crate::testkit::$case(&harness).await;
            }
        )*
    };
}
