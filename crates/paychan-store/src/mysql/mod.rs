//! The MariaDB/MySQL backend (feature `mysql`): a store shared by several processes.
//!
//! - [`MysqlStore::connect`] takes a `mysql://user:password@host:port/database` URL (the
//!   options of `mysql_async::Opts`); connections come from `mysql_async`'s own pool (chosen
//!   against sqlx on the commit path, see `benches/backends.rs`). Every connection runs at
//!   `READ COMMITTED`, so that a statement that follows a refused write reads the latest
//!   committed row (the stored version a [`StoreError::Conflict`] reports), and InnoDB takes no
//!   gap locks.
//! - A commit is one InnoDB transaction. Channel rows are written with optimistic concurrency
//!   only: a version-1 row is a plain `INSERT`, whose duplicate-key error is a
//!   [`StoreError::Conflict`]; a later version an `UPDATE ... WHERE id = ? AND version = ?`
//!   that must change exactly one row; removals are conditional `DELETE`s the same way. No
//!   named lock (`GET_LOCK`) and no lock held between calls: two processes on one database can
//!   never both apply the same version; the loser gets `Conflict` and reloads. (A duplicate
//!   key fails only its statement in MariaDB, not the transaction, which is rolled back as a
//!   whole.)
//! - If a commit's future is dropped mid-way, `mysql_async` rolls the transaction back before
//!   the connection is used again.
//! - The schema is migrated step by step on connect, with a stored schema version (see
//!   `schema.rs`); a schema written by a newer paychan is refused.
//!
//! The encoding of values is the one every SQL backend shares (see the crate docs):
//! `VARBINARY` for ids, amounts and settings' keys, `LONGBLOB` for states, `BIGINT` with the
//! top bit flipped for `u64`s. Tested on MariaDB 10.11; MySQL 8 takes the same SQL.

mod lease;
mod queries;
mod schema;

use std::time::Duration;

use async_trait::async_trait;
use mysql_async::{Conn, OptsBuilder, Pool, PoolConstraints, PoolOpts};
use paychan_core::{Address, ChannelId};

pub use self::schema::SCHEMA_VERSION;
use crate::{Batch, ChannelRow, Contact, Direction, LeaseAttempt, PaymentRow, Store, StoreError};

/// How a [`MysqlStore`] connects, beyond its URL.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct MysqlOptions {
    /// The most connections the pool opens.
    pub max_connections: usize,
    /// How long to wait for a connection (to open one, or for one to be free) before a call
    /// fails with [`StoreError::Unavailable`].
    pub timeout: Duration,
}

impl Default for MysqlOptions {
    fn default() -> Self {
        MysqlOptions {
            max_connections: 16,
            timeout: Duration::from_secs(5),
        }
    }
}

/// The MariaDB/MySQL store. See the [module docs](self).
pub struct MysqlStore {
    pool: Pool,
    timeout: Duration,
}

impl std::fmt::Debug for MysqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MysqlStore")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl MysqlStore {
    /// Connects to the database named in `url` with the default [`MysqlOptions`], and
    /// migrates its schema to [`SCHEMA_VERSION`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if the server cannot be reached, [`StoreError::Internal`]
    /// if the URL is malformed, names no database, or the server refuses the login,
    /// [`StoreError::Corrupt`] if the database holds tables that are not paychan's,
    /// [`StoreError::SchemaTooNew`] and [`StoreError::Migration`] as for every backend.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, MysqlOptions::default()).await
    }

    /// [`connect`](Self::connect) with explicit options.
    pub async fn connect_with(url: &str, options: MysqlOptions) -> Result<Self, StoreError> {
        let opts = mysql_async::Opts::from_url(url)
            .map_err(|e| StoreError::internal(format!("invalid MySQL URL: {e}")))?;
        // The pool keeps every connection it opened (min = max): with a lower bound under
        // the upper one, `mysql_async` closes the connections above it as soon as they idle,
        // and a pool under load kept reconnecting (a third of the throughput with 16
        // committers, see `benches/backends.rs`). Connections are still opened on demand.
        let constraints = PoolConstraints::new(
            options.max_connections.max(1),
            options.max_connections.max(1),
        )
        .ok_or_else(|| StoreError::internal("invalid pool size"))?;
        // `setup` runs on every new connection and after every reset. The pool does not reset
        // a connection handed back to it (a `COM_RESET_CONNECTION`, the default, costs a round
        // trip and drops the prepared statements every time): the store leaves no session
        // state behind (no temporary table, variable or named lock), and a connection handed
        // back inside a transaction is rolled back by the pool.
        let opts = OptsBuilder::from_opts(opts)
            .setup(vec![
                "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
                "SET NAMES utf8mb4",
            ])
            .pool_opts(
                PoolOpts::default()
                    .with_constraints(constraints)
                    .with_reset_connection(false),
            );
        let store = MysqlStore {
            pool: Pool::new(opts),
            timeout: options.timeout,
        };
        let mut conn = store.conn().await?;
        schema::migrate(&mut conn).await?;
        Ok(store)
    }

    /// A connection of the pool.
    async fn conn(&self) -> Result<Conn, StoreError> {
        match tokio::time::timeout(self.timeout, self.pool.get_conn()).await {
            Ok(conn) => conn.map_err(my_error),
            Err(_) => Err(StoreError::unavailable(format!(
                "no MySQL connection within {:?}",
                self.timeout
            ))),
        }
    }
}

#[async_trait]
impl Store for MysqlStore {
    async fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        queries::commit(&mut self.conn().await?, &batch).await
    }

    async fn channels(&self) -> Result<Vec<ChannelRow>, StoreError> {
        queries::channels(&mut self.conn().await?).await
    }

    async fn channel(&self, id: ChannelId) -> Result<Option<ChannelRow>, StoreError> {
        queries::channel(&mut self.conn().await?, id).await
    }

    async fn channels_for_peer(&self, peer: Address) -> Result<Vec<ChannelRow>, StoreError> {
        queries::channels_for_peer(&mut self.conn().await?, peer).await
    }

    async fn payments(
        &self,
        channel: ChannelId,
        direction: Direction,
        limit: u32,
        before: Option<u64>,
    ) -> Result<Vec<PaymentRow>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        queries::payments(&mut self.conn().await?, channel, direction, limit, before).await
    }

    async fn ledger_cursor(&self) -> Result<u64, StoreError> {
        queries::ledger_cursor(&mut self.conn().await?).await
    }

    async fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        queries::meta(&mut self.conn().await?, key).await
    }

    async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        queries::set_meta(&mut self.conn().await?, key, value).await
    }

    async fn contacts(&self) -> Result<Vec<Contact>, StoreError> {
        queries::contacts(&mut self.conn().await?).await
    }

    async fn contact(&self, alias: &str) -> Result<Option<Contact>, StoreError> {
        queries::contact(&mut self.conn().await?, alias).await
    }

    async fn put_contact(&self, contact: &Contact) -> Result<(), StoreError> {
        queries::put_contact(&mut self.conn().await?, contact).await
    }

    async fn remove_contact(&self, alias: &str) -> Result<bool, StoreError> {
        queries::remove_contact(&mut self.conn().await?, alias).await
    }

    async fn acquire_lease(
        &self,
        lease: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<LeaseAttempt, StoreError> {
        lease::acquire(&mut self.conn().await?, lease, holder, ttl).await
    }

    async fn renew_lease(
        &self,
        lease: &str,
        token: u64,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        lease::renew(&mut self.conn().await?, lease, token, ttl).await
    }

    async fn release_lease(&self, lease: &str, token: u64) -> Result<bool, StoreError> {
        lease::release(&mut self.conn().await?, lease, token).await
    }
}

/// MySQL's error code of a duplicate key.
pub(crate) const ER_DUP_ENTRY: u16 = 1062;

/// Classifies a MariaDB/MySQL error by what the caller should do.
///
/// IO errors, a closed connection, a server shutting down, a lock wait timeout or deadlock
/// (the transaction was rolled back), too many connections, a full disk or table, a read-only
/// server (a replica before its promotion): [`StoreError::Unavailable`]. A missing table or
/// column: [`StoreError::Corrupt`]. Everything else: [`StoreError::Internal`].
pub(crate) fn my_error(error: mysql_async::Error) -> StoreError {
    use mysql_async::{DriverError, Error};
    match &error {
        Error::Io(_)
        | Error::Driver(DriverError::ConnectionClosed | DriverError::PoolDisconnected) => {
            StoreError::unavailable(error)
        }
        Error::Server(server) => match server.code {
            // Disk full, too many connections, server shutdown, lock wait timeout, table full,
            // network errors, deadlock, read-only server, interrupted or killed statement.
            1021
            | 1040
            | 1053
            | 1114
            | 1152..=1161
            | 1205
            | 1213
            | 1290
            | 1317
            | 1836
            | 1927
            | 1969
            | 2006
            | 2013
            | 3024 => StoreError::unavailable(error),
            // No such table, unknown column.
            1146 | 1054 => StoreError::corrupt(format!(
                "the database does not hold what paychan wrote: {error}"
            )),
            _ => StoreError::internal(error),
        },
        _ => StoreError::internal(error),
    }
}

/// Whether `error` is a duplicate key.
pub(crate) fn is_duplicate(error: &mysql_async::Error) -> bool {
    matches!(error, mysql_async::Error::Server(server) if server.code == ER_DUP_ENTRY)
}
