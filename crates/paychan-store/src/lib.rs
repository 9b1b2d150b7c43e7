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
//! - [`lease`]: leases with fencing tokens, so that one process among several is active.
//! - [`sqlite`]: the embedded default backend, with group commit and stepwise migrations.
//! - `postgres` (feature `postgres`): `postgres::PostgresStore`, a
//!   PostgreSQL database shared by several processes, from a `postgres://` URL.
//! - `mysql` (feature `mysql`): `mysql::MysqlStore`, the same on MariaDB or
//!   MySQL, from a `mysql://` URL.
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
//! The server backends implement this the same way: each commit is one transaction (at `READ
//! COMMITTED`) whose channel writes are compare-and-set on the stored version, a plain
//! `INSERT` for version 1 (a taken id is a conflict) and `UPDATE ... WHERE id = ? AND
//! version = ?` that must change exactly one row after that; removals are `DELETE ... WHERE
//! version = ?` the same way. They take no advisory or named lock, so nothing is held on a
//! pooled connection between calls and a process that dies holds nothing. A refused write
//! rolls the whole transaction back. Lost connections, a server restarting, deadlocks and
//! lock timeouts are [`StoreError::Unavailable`]: nothing was written, or (for a failed
//! `COMMIT`) the outcome is unknown and a retry tells, as documented there.
//!
//! # Migrations
//!
//! Every backend stores its schema version in the database and brings an older schema up to
//! date one step at a time on open; the steps are append-only, and a newer schema is refused
//! ([`StoreError::SchemaTooNew`]). SQLite and PostgreSQL run each step in one transaction with
//! its version; MariaDB/MySQL commit DDL implicitly, so there every step is written to run
//! again harmlessly, and the version is raised after it.
//!
//! # Encoding (shared by every SQL backend)
//!
//! The same value is stored the same way by every backend, so the SQL stays portable and a
//! database can be moved between them with a plain copy:
//! - channel ids (32 bytes), addresses (20 bytes) and memos (32 bytes) are fixed-size binary
//!   strings (`BLOB` / `BYTEA` / `VARBINARY(n)` with a length check);
//! - amounts (`u128`) are 16-byte big-endian binary strings: exact, and their byte order is
//!   their numeric order in all three databases (decimal text would not sort, and SQLite's
//!   `NUMERIC` would round to a double);
//! - `u64` values (versions, sequences, times, the ledger cursor) are signed 64-bit integers
//!   (`INTEGER` / `BIGINT`) holding the value with its top bit flipped (`v XOR 2^63`, read as
//!   two's complement): every `u64` fits, and the integer order is the `u64` order, so
//!   `ORDER BY sequence` and `cursor < ?` mean what they say. `0` is stored as `-2^63`;
//! - a payment's direction is `0` (incoming) or `1` (outgoing); the channel phase is text;
//! - text that is ordered or compared (contact aliases, settings' keys) compares by bytes:
//!   SQLite's default, `COLLATE "C"` on PostgreSQL, `VARBINARY` on MariaDB/MySQL (whose text
//!   collations would fold case or ignore trailing spaces).

mod encoding;
mod error;
pub mod lease;
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
    lease::{Fence, LeaseAttempt},
    sqlite::SqliteStore,
    store::{
        Batch, ChannelRow, Contact, Direction, Durability, ParseDurabilityError, PaymentRow,
        Removal, Store,
    },
};
