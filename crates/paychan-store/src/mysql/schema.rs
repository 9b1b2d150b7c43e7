//! The MariaDB/MySQL schema and its stepwise migrations.
//!
//! As in the other backends: [`MIGRATIONS`] is the ordered, append-only list of steps, step
//! `i` leading from version `i` to `i + 1`, and the version is stored in the one-row table
//! `schema_version`; a schema of a newer version is refused, never touched.
//!
//! Unlike PostgreSQL and SQLite, MySQL commits implicitly around every DDL statement, so a
//! step cannot share a transaction with its version. Each step is therefore a list of
//! statements that can run again harmlessly (`CREATE TABLE IF NOT EXISTS`, `INSERT IGNORE`,
//! an index whose "already exists" error is taken as done), and the version is raised after
//! the whole step with a conditional `UPDATE ... WHERE version = <the step's own>`: an
//! interrupted step runs again on the next connect, and two processes migrating at once both
//! run it (harmlessly) while only one raises the version. No named lock is taken.
//!
//! The tables live in the database named by the URL; a database that holds tables but no
//! `schema_version` is not paychan's and is refused. Every table is InnoDB (transactions,
//! row locks). Keys that are compared or ordered as text (settings' keys, contact aliases)
//! are `VARBINARY`: byte order of the UTF-8 text, as the [`Store`](crate::Store) contract
//! states, with no collation and no trailing-space padding.

use mysql_async::{Conn, prelude::Queryable};
use tracing::info;

use super::my_error;
use crate::StoreError;

/// MySQL's error code of an index name that already exists.
const ER_DUP_KEYNAME: u16 = 1061;

/// The steps of the schema, in order: `MIGRATIONS[i]` leads from version `i` to `i + 1`.
pub(super) const MIGRATIONS: &[&[&str]] = &[
    // 1: settings, channels and the payment history.
    &[
        "CREATE TABLE IF NOT EXISTS meta (
            `key` VARBINARY(512) NOT NULL PRIMARY KEY,
            value LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL
        ) ENGINE = InnoDB",
        "CREATE TABLE IF NOT EXISTS channels (
            id         VARBINARY(32) NOT NULL PRIMARY KEY CHECK (LENGTH(id) = 32),
            peer       VARBINARY(20) NOT NULL CHECK (LENGTH(peer) = 20),
            phase      TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
            version    BIGINT        NOT NULL,
            state      LONGBLOB      NOT NULL,
            updated_at BIGINT        NOT NULL
        ) ENGINE = InnoDB",
        "CREATE TABLE IF NOT EXISTS payments (
            channel_id VARBINARY(32) NOT NULL CHECK (LENGTH(channel_id) = 32),
            direction  SMALLINT      NOT NULL CHECK (direction IN (0, 1)),
            sequence   BIGINT        NOT NULL,
            amount     VARBINARY(16) NOT NULL CHECK (LENGTH(amount) = 16),
            cumulative VARBINARY(16) NOT NULL CHECK (LENGTH(cumulative) = 16),
            memo       VARBINARY(32) NOT NULL CHECK (LENGTH(memo) = 32),
            time       BIGINT        NOT NULL,
            PRIMARY KEY (channel_id, direction, sequence)
        ) ENGINE = InnoDB",
    ],
    // 2: channels by peer, and the ledger cursor (starting at 0, stored as -2^63).
    &[
        "CREATE INDEX channels_by_peer ON channels (peer)",
        "CREATE TABLE IF NOT EXISTS ledger_cursor (
            id       SMALLINT NOT NULL PRIMARY KEY CHECK (id = 0),
            `cursor` BIGINT   NOT NULL
        ) ENGINE = InnoDB",
        "INSERT IGNORE INTO ledger_cursor (id, `cursor`) VALUES (0, -9223372036854775807 - 1)",
    ],
    // 3: contacts.
    &["CREATE TABLE IF NOT EXISTS contacts (
        alias    VARBINARY(512) NOT NULL PRIMARY KEY,
        address  VARBINARY(20)  NOT NULL CHECK (LENGTH(address) = 20),
        peer_url TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin
    ) ENGINE = InnoDB"],
    // 4: leases with fencing tokens (expiry in milliseconds of the server's clock).
    &["CREATE TABLE IF NOT EXISTS leases (
        name       VARBINARY(255) NOT NULL PRIMARY KEY,
        holder     TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
        token      BIGINT         NOT NULL CHECK (token >= 0),
        expires_at BIGINT         NOT NULL
    ) ENGINE = InnoDB"],
];

/// The schema version this code writes and reads: the number of migration steps.
pub const SCHEMA_VERSION: u64 = MIGRATIONS.len() as u64;

/// Brings the schema to [`SCHEMA_VERSION`], one step at a time.
pub(super) async fn migrate(conn: &mut Conn) -> Result<(), StoreError> {
    bootstrap(conn).await?;
    loop {
        let version: Option<i64> = conn
            .query_first("SELECT version FROM schema_version WHERE id = 0")
            .await
            .map_err(my_error)?;
        let version = version
            .and_then(|version| u64::try_from(version).ok())
            .ok_or_else(|| {
                StoreError::corrupt("schema_version must hold one non-negative version")
            })?;
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
            return Ok(());
        };
        // `step` exists, so `version < MIGRATIONS.len()`: no overflow, and both fit an i64.
        let next = version.saturating_add(1);
        let migration_error = |error: mysql_async::Error| StoreError::Migration {
            version: next,
            source: std::sync::Arc::new(error),
        };
        for statement in *step {
            match conn.query_drop(*statement).await {
                Ok(()) => {}
                // The index of an interrupted run of this step.
                Err(mysql_async::Error::Server(error)) if error.code == ER_DUP_KEYNAME => {}
                Err(error) => return Err(migration_error(error)),
            }
        }
        let stored = (
            i64::try_from(next).unwrap_or(i64::MAX),
            i64::try_from(version).unwrap_or(i64::MAX),
        );
        conn.exec_drop(
            "UPDATE schema_version SET version = ? WHERE id = 0 AND version = ?",
            stored,
        )
        .await
        .map_err(migration_error)?;
        info!(
            from = version,
            to = next,
            "migrated the MySQL store's schema"
        );
    }
}

/// Creates `schema_version` in an empty database; refuses a database that holds other tables.
async fn bootstrap(conn: &mut Conn) -> Result<(), StoreError> {
    let found: Option<(Option<String>, i64, i64)> = conn
        .query_first(
            "SELECT DATABASE(),
                (SELECT COUNT(*) FROM information_schema.tables
                 WHERE table_schema = DATABASE() AND table_name = 'schema_version'),
                (SELECT COUNT(*) FROM information_schema.tables
                 WHERE table_schema = DATABASE())",
        )
        .await
        .map_err(my_error)?;
    let Some((Some(database), has_version, tables)) = found else {
        return Err(StoreError::internal(
            "the MySQL URL names no database: add /DATABASE to it",
        ));
    };
    if has_version == 0 {
        if tables > 0 {
            return Err(StoreError::corrupt(format!(
                "not a paychan database: {database} has tables but no schema_version"
            )));
        }
        conn.query_drop(
            "CREATE TABLE IF NOT EXISTS schema_version (
                 id      SMALLINT NOT NULL PRIMARY KEY CHECK (id = 0),
                 version BIGINT   NOT NULL
             ) ENGINE = InnoDB",
        )
        .await
        .map_err(my_error)?;
    }
    // Also when the table was there: a process starting at the same moment may have created
    // it and not yet inserted its row (DDL commits at once). A row already there is kept.
    conn.query_drop("INSERT IGNORE INTO schema_version (id, version) VALUES (0, 0)")
        .await
        .map_err(my_error)?;
    Ok(())
}
