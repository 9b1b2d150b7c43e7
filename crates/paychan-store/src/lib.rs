//! Durable storage of a paychan node: the [`Store`] interface and its backends.
//!
//! A node keeps every channel it takes part in as an opaque serialized state (the core's
//! `Channel`), the history of the payments it sent and received, how far it has read the
//! ledger's event stream, and a few settings. "Persisted" is a step of the protocol (design
//! §7): the payee commits a voucher before it answers, the payer commits its new counter
//! before it sends, and neither acts until [`Store::commit`] has returned `Ok`.
//!
//! - [`Store`] and [`Durability`]: the interface the node holds as `Arc<dyn Store>`.
//! - [`ChannelRow`], [`PaymentRow`], [`Batch`], [`Direction`]: what is stored.
//! - [`StoreError`]: what went wrong, and what the caller should do about it.
//! - [`sqlite`]: the embedded default backend, with group commit and stepwise migrations.
//! - `testkit` (feature `testkit`): the conformance suite every backend passes.
//!
//! # Concurrency
//!
//! Every channel row carries a `version` that starts at 1 and grows by one per write; a
//! commit states the version it writes and fails with [`StoreError::Conflict`] unless the
//! stored row is exactly one version older. Two writers of the same channel (two tasks, or two
//! nodes sharing a PostgreSQL database in high-availability mode) can therefore never
//! overwrite each other: one wins, the other reloads and retries. No locks are held between
//! calls.
//!
//! # Encoding (shared by every SQL backend)
//!
//! The same value is stored the same way by every backend, so the SQL stays portable and a
//! database can be moved between them with a plain copy:
//! - channel ids (32 bytes), addresses (20 bytes) and memos (32 bytes) are fixed-size binary
//!   strings (`BLOB` / `BYTEA` / `BINARY(n)`);
//! - amounts (`u128`) are 16-byte big-endian binary strings: exact, and their byte order is
//!   their numeric order in all three databases (decimal text would not sort, and SQLite's
//!   `NUMERIC` would round to a double);
//! - `u64` values (versions, sequences, times, the ledger cursor) are signed 64-bit integers
//!   (`INTEGER` / `BIGINT`) holding the value with its top bit flipped (`v XOR 2^63`, read as
//!   two's complement): every `u64` fits, and the integer order is the `u64` order, so
//!   `ORDER BY sequence` and `cursor < ?` mean what they say. `0` is stored as `-2^63`;
//! - a payment's direction is `0` (incoming) or `1` (outgoing); the channel phase is text.

mod encoding;
mod error;
#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod sqlite;
mod store;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use crate::{
    error::{Remedy, StoreError},
    sqlite::SqliteStore,
    store::{
        Batch, ChannelRow, Contact, Direction, Durability, ParseDurabilityError, PaymentRow,
        Removal, Store,
    },
};
