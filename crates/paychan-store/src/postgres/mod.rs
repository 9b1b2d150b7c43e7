//! The PostgreSQL backend (feature `postgres`): a store shared by several processes.
//!
//! - [`PostgresStore::connect`] takes a `postgres://` URL; connections come from a
//!   `deadpool-postgres` pool of `tokio-postgres` clients (chosen against sqlx on the commit
//!   path, see `benches/backends.rs`). [`PostgresOptions`] sets the pool size, the timeouts
//!   and the schema (set as `search_path` on every pooled connection).
//! - Every connection runs at `READ COMMITTED`, PostgreSQL's default, set explicitly so that
//!   a server configured otherwise does not change the store's behaviour.
//! - A commit is one transaction. Channel rows are written with optimistic concurrency only: a
//!   version-1 row is an `INSERT ... ON CONFLICT DO NOTHING` (no row inserted: the id is taken,
//!   a [`StoreError::Conflict`]), a later version an `UPDATE ... WHERE id = $ AND version = $`
//!   whose count of updated rows must be 1; removals are conditional `DELETE`s the same way. No
//!   advisory lock and no lock held between calls: two processes on one database can never both
//!   apply the same version; the loser gets `Conflict` and reloads.
//! - The statements of a commit are pipelined (see `commit.rs`): `BEGIN` and every write go out
//!   together and `COMMIT` follows once every count is checked, two round trips per commit
//!   whatever the batch holds. A batch that fails is rolled back and run again one statement at
//!   a time, which tells exactly which row failed and against which stored version.
//! - The schema is migrated step by step on connect, with a stored schema version (see
//!   `schema.rs`); a schema written by a newer paychan is refused.
//!
//! The encoding of values is the one every SQL backend shares (see the crate docs): `BYTEA`
//! for ids, amounts and states, `BIGINT` with the top bit flipped for `u64`s.

mod commit;
mod lease;
mod queries;
mod schema;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use deadpool_postgres::{
    HookError, Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
    TimeoutType,
};
use paychan_core::{Address, ChannelId};
use tokio_postgres::{NoTls, error::SqlState};

pub use self::schema::SCHEMA_VERSION;
use crate::{Batch, ChannelRow, Contact, Direction, LeaseAttempt, PaymentRow, Store, StoreError};

/// How a [`PostgresStore`] connects, beyond its URL.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PostgresOptions {
    /// The schema the store's tables live in, set as the `search_path` of every connection;
    /// `None` keeps the server's default (usually `public`). The schema must exist.
    pub schema: Option<String>,
    /// The most connections the pool opens.
    pub max_connections: usize,
    /// How long to wait for a connection (to open one, or for one to be free) before a call
    /// fails with [`StoreError::Unavailable`].
    pub timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            schema: None,
            max_connections: 16,
            timeout: Duration::from_secs(5),
        }
    }
}

impl PostgresOptions {
    /// The defaults, with the tables in `schema`.
    pub fn in_schema(schema: impl Into<String>) -> Self {
        PostgresOptions {
            schema: Some(schema.into()),
            ..PostgresOptions::default()
        }
    }
}

/// The PostgreSQL store. See the [module docs](self).
///
/// Cheap to share (`Arc<dyn Store>`); dropping it closes its connections.
pub struct PostgresStore {
    pool: Pool,
    schema: Option<String>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("schema", &self.schema)
            .field("pool", &self.pool.status())
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user@host:port/database?...`, the
    /// options of `tokio_postgres::Config`) with the default [`PostgresOptions`], and migrates
    /// its schema to [`SCHEMA_VERSION`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if the server cannot be reached, [`StoreError::Internal`]
    /// if the URL is malformed or the server refuses the login, [`StoreError::Corrupt`] if
    /// the schema holds tables that are not paychan's, [`StoreError::SchemaTooNew`] and
    /// [`StoreError::Migration`] as for every backend.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, PostgresOptions::default()).await
    }

    /// [`connect`](Self::connect) with explicit options.
    pub async fn connect_with(url: &str, options: PostgresOptions) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::internal(format!("invalid PostgreSQL URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.timeout);
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let mut setup =
            "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED".to_owned();
        if let Some(schema) = &options.schema {
            setup.push_str("; SET search_path TO ");
            setup.push_str(&quote_identifier(schema));
        }
        let setup = Arc::new(setup);
        let pool = Pool::builder(manager)
            .max_size(options.max_connections.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.timeout))
            .create_timeout(Some(options.timeout))
            .recycle_timeout(Some(options.timeout))
            .post_create(deadpool_postgres::Hook::async_fn(move |client, _| {
                let setup = Arc::clone(&setup);
                Box::pin(async move {
                    client
                        .batch_execute(&setup)
                        .await
                        .map_err(HookError::Backend)
                })
            }))
            .build()
            .map_err(StoreError::internal)?;
        let store = PostgresStore {
            pool,
            schema: options.schema,
        };
        let mut client = store.client().await?;
        schema::migrate(&mut client).await?;
        Ok(store)
    }

    /// A connection of the pool.
    async fn client(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(pool_error)
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        commit::commit(self.client().await?, &batch).await
    }

    async fn channels(&self) -> Result<Vec<ChannelRow>, StoreError> {
        queries::channels(&self.client().await?).await
    }

    async fn channel(&self, id: ChannelId) -> Result<Option<ChannelRow>, StoreError> {
        queries::channel(&self.client().await?, id).await
    }

    async fn channels_for_peer(&self, peer: Address) -> Result<Vec<ChannelRow>, StoreError> {
        queries::channels_for_peer(&self.client().await?, peer).await
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
        queries::payments(&self.client().await?, channel, direction, limit, before).await
    }

    async fn ledger_cursor(&self) -> Result<u64, StoreError> {
        queries::ledger_cursor(&self.client().await?).await
    }

    async fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        queries::meta(&self.client().await?, key).await
    }

    async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        queries::set_meta(&self.client().await?, key, value).await
    }

    async fn contacts(&self) -> Result<Vec<Contact>, StoreError> {
        queries::contacts(&self.client().await?).await
    }

    async fn contact(&self, alias: &str) -> Result<Option<Contact>, StoreError> {
        queries::contact(&self.client().await?, alias).await
    }

    async fn put_contact(&self, contact: &Contact) -> Result<(), StoreError> {
        queries::put_contact(&self.client().await?, contact).await
    }

    async fn remove_contact(&self, alias: &str) -> Result<bool, StoreError> {
        queries::remove_contact(&self.client().await?, alias).await
    }

    async fn acquire_lease(
        &self,
        lease: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<LeaseAttempt, StoreError> {
        lease::acquire(&mut self.client().await?, lease, holder, ttl).await
    }

    async fn renew_lease(
        &self,
        lease: &str,
        token: u64,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        lease::renew(&self.client().await?, lease, token, ttl).await
    }

    async fn release_lease(&self, lease: &str, token: u64) -> Result<bool, StoreError> {
        lease::release(&self.client().await?, lease, token).await
    }
}

/// `name` as a quoted SQL identifier.
pub(crate) fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Classifies a PostgreSQL error by what the caller should do.
///
/// Lost or refused connections, a server shutting down or starting, exhausted resources
/// (connections, disk, memory), a read-only server (a standby before its promotion), and
/// transactions the server rolled back (deadlock, serialization) are worth retrying:
/// [`StoreError::Unavailable`]. A missing table or column, or data the server reports as
/// corrupted, is [`StoreError::Corrupt`]. Everything else (a refused login, a bad statement)
/// is [`StoreError::Internal`].
pub(crate) fn pg_error(error: tokio_postgres::Error) -> StoreError {
    let Some(code) = error.code().cloned() else {
        // No SQLSTATE: the client side (IO, a closed connection, a timeout) or decoding.
        let io = std::error::Error::source(&error)
            .is_some_and(|source| source.downcast_ref::<std::io::Error>().is_some());
        return if io || error.is_closed() {
            StoreError::unavailable(error)
        } else {
            StoreError::internal(error)
        };
    };
    // tokio-postgres shows a server error as "db error"; say what the server said.
    let error = match error.as_db_error() {
        Some(db) => PgError(format!("{db} (SQLSTATE {})", code.code())),
        None => PgError(error.to_string()),
    };
    let class = code.code().get(..2).unwrap_or_default();
    if matches!(class, "08" | "40" | "53" | "57" | "58")
        || code == SqlState::LOCK_NOT_AVAILABLE
        || code == SqlState::READ_ONLY_SQL_TRANSACTION
    {
        StoreError::unavailable(error)
    } else if code == SqlState::UNDEFINED_TABLE
        || code == SqlState::UNDEFINED_COLUMN
        || code == SqlState::DATA_CORRUPTED
        || code == SqlState::INDEX_CORRUPTED
    {
        StoreError::corrupt(format!(
            "the database does not hold what paychan wrote: {error}"
        ))
    } else {
        StoreError::internal(error)
    }
}

/// A server error, as the server said it.
#[derive(Debug)]
struct PgError(String);

impl std::fmt::Display for PgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PgError {}

/// Classifies an error of the pool.
pub(crate) fn pool_error(error: PoolError) -> StoreError {
    match error {
        PoolError::Backend(error) | PoolError::PostCreateHook(HookError::Backend(error)) => {
            pg_error(error)
        }
        PoolError::Timeout(TimeoutType::Wait) => StoreError::unavailable(
            "every PostgreSQL connection of the pool stayed busy beyond the timeout",
        ),
        PoolError::Timeout(TimeoutType::Create | TimeoutType::Recycle) => {
            StoreError::unavailable("connecting to PostgreSQL timed out")
        }
        other => StoreError::internal(other.to_string()),
    }
}
