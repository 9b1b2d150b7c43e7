//! Integration tests of paychan-store, in one binary: the conformance suite against SQLite,
//! PostgreSQL and MariaDB, and each backend's own tests (migrations, refusals, races between
//! processes, group commit, `kill -9`).

// Tests fail by panicking, and compute expectations with plain arithmetic.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing
)]

mod backup;
mod conformance;
mod leases;
mod mysql;
mod postgres;
mod shared;
mod sqlite;
