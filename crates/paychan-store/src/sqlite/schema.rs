//! The SQLite schema, its stepwise migrations and the connection settings.
//!
//! The database records its schema version in the one-row table `schema_version` (a plain
//! integer, readable by every past and future paychan). [`MIGRATIONS`] is the ordered list of
//! steps; step `i` leads from version `i` to `i + 1`, so a database of any older version is
//! brought up to date one step at a time, each step in its own transaction together with the
//! version it leads to: an interrupted migration resumes where it stopped. A database whose
//! version is newer than [`SCHEMA_VERSION`] is refused, never touched.
//!
//! Steps are append-only: once released, a step is never edited, only followed by new ones.
//! The file is also marked with SQLite's `application_id` ([`APPLICATION_ID`]) so that
//! another application's database is recognized and refused.

use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};
use tracing::info;

use super::db_error;
use crate::{Durability, StoreError};

/// The steps of the schema, in order: `MIGRATIONS[i]` leads from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: settings, channels and the payment history.
    "CREATE TABLE meta (
        key   TEXT NOT NULL PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE channels (
        id         BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 32),
        peer       BLOB    NOT NULL CHECK (length(peer) = 20),
        phase      TEXT    NOT NULL,
        version    INTEGER NOT NULL,
        state      BLOB    NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE payments (
        channel_id BLOB    NOT NULL CHECK (length(channel_id) = 32),
        direction  INTEGER NOT NULL CHECK (direction IN (0, 1)),
        sequence   INTEGER NOT NULL,
        amount     BLOB    NOT NULL CHECK (length(amount) = 16),
        cumulative BLOB    NOT NULL CHECK (length(cumulative) = 16),
        memo       BLOB    NOT NULL CHECK (length(memo) = 32),
        time       INTEGER NOT NULL,
        PRIMARY KEY (channel_id, direction, sequence)
    ) WITHOUT ROWID;",
    // 2: channels by peer, and the ledger cursor (starting at 0, stored as -2^63).
    "CREATE INDEX channels_by_peer ON channels (peer);
    CREATE TABLE ledger_cursor (
        id     INTEGER NOT NULL PRIMARY KEY CHECK (id = 0),
        cursor INTEGER NOT NULL
    );
    INSERT INTO ledger_cursor (id, cursor) VALUES (0, -9223372036854775807 - 1);",
    // 3: contacts.
    "CREATE TABLE contacts (
        alias    TEXT NOT NULL PRIMARY KEY,
        address  BLOB NOT NULL CHECK (length(address) = 20),
        peer_url TEXT
    );",
];

/// The schema version this code writes and reads: the number of migration steps.
pub const SCHEMA_VERSION: u64 = MIGRATIONS.len() as u64;

/// SQLite's `application_id` of a paychan database: `"PCHN"` in ASCII.
pub const APPLICATION_ID: i32 = 0x5043_484E;

/// How long a connection waits for another one's lock before it reports
/// [`StoreError::Unavailable`].
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Sets up the write connection: write-ahead log (file databases), sync per `durability`.
///
/// This is the first statement that reads the file, so it is where a file that is not a
/// database is noticed.
pub(crate) fn configure_writer(
    conn: &Connection,
    durability: Durability,
    file: bool,
) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Reads the header: fails on a file that is not a database.
    conn.pragma_query_value(None, "application_id", |row| row.get::<_, i32>(0))?;
    if file {
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                Some(format!(
                    "cannot switch to write-ahead logging (journal mode is {mode})"
                )),
            ));
        }
    }
    match durability {
        Durability::Normal => conn.pragma_update(None, "synchronous", "NORMAL")?,
        Durability::Full => {
            conn.pragma_update(None, "synchronous", "FULL")?;
            // macOS only: a plain fsync does not reach the platter there.
            conn.pragma_update(None, "fullfsync", "ON")?;
        }
    }
    Ok(())
}

/// Sets up a read connection.
pub(crate) fn configure_reader(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "query_only", "ON")
}

/// Brings the database to [`SCHEMA_VERSION`], one step at a time.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    bootstrap(conn)?;
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_error)?;
        let version = stored_version(&tx)?;
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
            return tx.commit().map_err(db_error);
        };
        // `step` exists, so `version < MIGRATIONS.len()`: no overflow, and it fits an i64.
        let next = version.saturating_add(1);
        let stored_next = i64::try_from(next).unwrap_or(i64::MAX);
        let migration_error = |error: rusqlite::Error| StoreError::Migration {
            version: next,
            source: std::sync::Arc::new(error),
        };
        tx.execute_batch(step).map_err(migration_error)?;
        tx.execute("UPDATE schema_version SET version = ?", [stored_next])
            .map_err(migration_error)?;
        tx.commit().map_err(migration_error)?;
        info!(from = version, to = next, "migrated the store's schema");
    }
}

/// Creates `schema_version` in a new database; refuses another application's database.
fn bootstrap(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_error)?;
    let application_id: i32 = tx
        .pragma_query_value(None, "application_id", |row| row.get(0))
        .map_err(db_error)?;
    if application_id != 0 && application_id != APPLICATION_ID {
        return Err(StoreError::corrupt(format!(
            "not a paychan database: its SQLite application_id is {application_id:#x}"
        )));
    }
    let has_version: bool = tx
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
            [],
            |row| row.get::<_, i64>(0),
        )
        .map_err(db_error)?
        > 0;
    if !has_version {
        let objects: i64 = tx
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'",
                [],
                |row| row.get(0),
            )
            .map_err(db_error)?;
        if objects > 0 {
            return Err(StoreError::corrupt(
                "not a paychan database: it has tables but no schema_version",
            ));
        }
        tx.execute_batch(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version (version) VALUES (0);",
        )
        .map_err(db_error)?;
    }
    if application_id == 0 {
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(db_error)?;
    }
    tx.commit().map_err(db_error)
}

/// Checks, without writing, that `conn` holds a paychan database whose schema this code can
/// read (its version is at most [`SCHEMA_VERSION`]); answers the version.
pub(crate) fn check_readable(conn: &Connection) -> Result<u64, StoreError> {
    let application_id: i32 = conn
        .pragma_query_value(None, "application_id", |row| row.get(0))
        .map_err(db_error)?;
    if application_id != APPLICATION_ID {
        return Err(StoreError::corrupt(format!(
            "not a paychan store: its SQLite application_id is {application_id:#x}"
        )));
    }
    let version = stored_version(conn)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(version)
}

/// The version in `schema_version`, which must hold exactly one row.
fn stored_version(conn: &Connection) -> Result<u64, StoreError> {
    let mut statement = conn
        .prepare("SELECT version FROM schema_version")
        .map_err(db_error)?;
    let mut rows = statement.query([]).map_err(db_error)?;
    let version: Option<i64> = rows
        .next()
        .map_err(db_error)?
        .map(|row| row.get(0))
        .transpose()
        .map_err(db_error)?;
    let extra = rows.next().map_err(db_error)?.is_some();
    match (version.map(u64::try_from), extra) {
        (Some(Ok(version)), false) => Ok(version),
        _ => Err(StoreError::corrupt(
            "schema_version must hold exactly one non-negative version",
        )),
    }
}

#[cfg(test)]
// Tests fail by panicking.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn schema_version_counts_the_steps() {
        assert_eq!(SCHEMA_VERSION, 3);
    }

    #[test]
    fn a_new_database_is_at_the_current_version_and_migrating_again_is_a_no_op() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(stored_version(&conn).unwrap(), SCHEMA_VERSION);
        migrate(&mut conn).unwrap();
        assert_eq!(stored_version(&conn).unwrap(), SCHEMA_VERSION);
        let cursor: i64 = conn
            .query_row("SELECT cursor FROM ledger_cursor", [], |row| row.get(0))
            .unwrap();
        assert_eq!(cursor, i64::MIN);
    }
}
