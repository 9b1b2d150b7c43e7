//! The PostgreSQL schema and its stepwise migrations.
//!
//! As in the SQLite backend: [`MIGRATIONS`] is the ordered, append-only list of steps, step
//! `i` leading from version `i` to `i + 1`; the version is stored in the one-row table
//! `schema_version`; each step runs in one transaction together with the version it leads to
//! (PostgreSQL's DDL is transactional), so an interrupted migration resumes where it stopped;
//! a schema of a newer version is refused, never touched. The version row is read `FOR
//! UPDATE`, so that two processes opening the same database at once migrate it one after the
//! other (a row lock inside the migration's own transaction, not a lock held across calls).
//!
//! The tables live in the connection's current schema (the first of its `search_path`); a
//! schema that holds tables but no `schema_version` is not paychan's and is refused.
//!
//! Text that is ordered (contact aliases) uses the `"C"` collation: byte order of the UTF-8
//! text, as the [`Store`](crate::Store) contract states, whatever the database's locale.

use deadpool_postgres::Object;
use tokio_postgres::error::SqlState;
use tracing::info;

use super::pg_error;
use crate::StoreError;

/// The steps of the schema, in order: `MIGRATIONS[i]` leads from version `i` to `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: settings, channels and the payment history.
    "CREATE TABLE meta (
        key   TEXT COLLATE \"C\" NOT NULL PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE channels (
        id         BYTEA  NOT NULL PRIMARY KEY CHECK (octet_length(id) = 32),
        peer       BYTEA  NOT NULL CHECK (octet_length(peer) = 20),
        phase      TEXT   NOT NULL,
        version    BIGINT NOT NULL,
        state      BYTEA  NOT NULL,
        updated_at BIGINT NOT NULL
    );
    CREATE TABLE payments (
        channel_id BYTEA    NOT NULL CHECK (octet_length(channel_id) = 32),
        direction  SMALLINT NOT NULL CHECK (direction IN (0, 1)),
        sequence   BIGINT   NOT NULL,
        amount     BYTEA    NOT NULL CHECK (octet_length(amount) = 16),
        cumulative BYTEA    NOT NULL CHECK (octet_length(cumulative) = 16),
        memo       BYTEA    NOT NULL CHECK (octet_length(memo) = 32),
        time       BIGINT   NOT NULL,
        PRIMARY KEY (channel_id, direction, sequence)
    );",
    // 2: channels by peer, and the ledger cursor (starting at 0, stored as -2^63).
    "CREATE INDEX channels_by_peer ON channels (peer);
    CREATE TABLE ledger_cursor (
        id     SMALLINT NOT NULL PRIMARY KEY CHECK (id = 0),
        cursor BIGINT   NOT NULL
    );
    INSERT INTO ledger_cursor (id, cursor) VALUES (0, -9223372036854775807 - 1);",
    // 3: contacts.
    "CREATE TABLE contacts (
        alias    TEXT COLLATE \"C\" NOT NULL PRIMARY KEY,
        address  BYTEA NOT NULL CHECK (octet_length(address) = 20),
        peer_url TEXT
    );",
    // 4: leases with fencing tokens (expiry in milliseconds of the database's clock).
    "CREATE TABLE leases (
        name       TEXT COLLATE \"C\" NOT NULL PRIMARY KEY,
        holder     TEXT   NOT NULL,
        token      BIGINT NOT NULL CHECK (token >= 0),
        expires_at BIGINT NOT NULL
    );",
];

/// The schema version this code writes and reads: the number of migration steps.
pub const SCHEMA_VERSION: u64 = MIGRATIONS.len() as u64;

/// Brings the schema to [`SCHEMA_VERSION`], one step at a time.
pub(super) async fn migrate(client: &mut Object) -> Result<(), StoreError> {
    bootstrap(client).await?;
    loop {
        let tx = client.transaction().await.map_err(pg_error)?;
        let row = tx
            .query_one(
                "SELECT version FROM schema_version WHERE id = 0 FOR UPDATE",
                &[],
            )
            .await
            .map_err(|e| match e.code() {
                None => pg_error(e),
                Some(_) => StoreError::corrupt(format!(
                    "schema_version must hold exactly one version: {e}"
                )),
            })?;
        let version: i64 = row
            .try_get(0)
            .map_err(|e| StoreError::corrupt(format!("schema_version.version: {e}")))?;
        let version = u64::try_from(version)
            .map_err(|_| StoreError::corrupt("schema_version holds a negative version"))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        let Some(step) = usize::try_from(version)
            .ok()
            .and_then(|index| MIGRATIONS.get(index))
        else {
            // At the current version.
            return tx.commit().await.map_err(pg_error);
        };
        // `step` exists, so `version < MIGRATIONS.len()`: no overflow, and it fits an i64.
        let next = version.saturating_add(1);
        let stored_next = i64::try_from(next).unwrap_or(i64::MAX);
        let migration_error = |error: tokio_postgres::Error| StoreError::Migration {
            version: next,
            source: std::sync::Arc::new(error),
        };
        tx.batch_execute(step).await.map_err(migration_error)?;
        tx.execute(
            "UPDATE schema_version SET version = $1 WHERE id = 0",
            &[&stored_next],
        )
        .await
        .map_err(migration_error)?;
        tx.commit().await.map_err(migration_error)?;
        info!(
            from = version,
            to = next,
            "migrated the PostgreSQL store's schema"
        );
    }
}

/// Creates `schema_version` in an empty schema; refuses a schema that holds other tables.
///
/// Processes that start together on an empty schema may race to create the table: the losers'
/// `CREATE TABLE IF NOT EXISTS` can still fail on PostgreSQL's catalog (a unique violation, or
/// the table or its row type "already exists") and they look again, finding it.
async fn bootstrap(client: &mut Object) -> Result<(), StoreError> {
    let mut attempts = 0u32;
    loop {
        match try_bootstrap(client).await {
            Err(Retry::Again(error)) if attempts < 5 => {
                attempts = attempts.saturating_add(1);
                tracing::debug!(%error, "another process is creating the schema; looking again");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(Retry::Again(error)) => return Err(pg_error(error)),
            Err(Retry::Fail(error)) => return Err(error),
            Ok(()) => return Ok(()),
        }
    }
}

/// The failure of one attempt at [`bootstrap`].
enum Retry {
    /// Another process created the table at the same moment.
    Again(tokio_postgres::Error),
    /// Anything else.
    Fail(StoreError),
}

impl From<StoreError> for Retry {
    fn from(error: StoreError) -> Self {
        Retry::Fail(error)
    }
}

async fn try_bootstrap(client: &mut Object) -> Result<(), Retry> {
    let tx = client.transaction().await.map_err(pg_error)?;
    let row = tx
        .query_one(
            "SELECT current_schema(),
                (SELECT count(*) FROM information_schema.tables
                 WHERE table_schema = current_schema() AND table_name = 'schema_version'),
                (SELECT count(*) FROM information_schema.tables
                 WHERE table_schema = current_schema())",
            &[],
        )
        .await
        .map_err(pg_error)?;
    let schema: Option<String> = row.try_get(0).map_err(StoreError::internal)?;
    let has_version: i64 = row.try_get(1).map_err(StoreError::internal)?;
    let tables: i64 = row.try_get(2).map_err(StoreError::internal)?;
    let Some(schema) = schema else {
        return Err(Retry::Fail(StoreError::internal(
            "the connection's search_path names no existing schema: create it first",
        )));
    };
    if has_version == 0 {
        if tables > 0 {
            return Err(Retry::Fail(StoreError::corrupt(format!(
                "not a paychan database: schema {schema} has tables but no schema_version"
            ))));
        }
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_version (
                 id      SMALLINT NOT NULL PRIMARY KEY CHECK (id = 0),
                 version BIGINT   NOT NULL
             );
             INSERT INTO schema_version (id, version) VALUES (0, 0) ON CONFLICT (id) DO NOTHING;",
        )
        .await
        .map_err(|error| {
            let code = error.code();
            if [
                SqlState::UNIQUE_VIOLATION,
                SqlState::DUPLICATE_TABLE,
                SqlState::DUPLICATE_OBJECT,
            ]
            .iter()
            .any(|raced| code == Some(raced))
            {
                Retry::Again(error)
            } else {
                Retry::Fail(pg_error(error))
            }
        })?;
    }
    Ok(tx.commit().await.map_err(pg_error)?)
}
