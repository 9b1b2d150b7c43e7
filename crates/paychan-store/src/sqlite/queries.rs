//! The SQL statements of the SQLite backend and the decoding of their rows.
//!
//! Every statement but [`SET_META`] (an SQLite/PostgreSQL upsert) is plain SQL that
//! PostgreSQL and MariaDB accept as written, up to the placeholder syntax. Optimistic
//! concurrency is a conditional `UPDATE ... WHERE version = ?` (or a plain `INSERT` for
//! version 1), never a lock held across calls.

use paychan_core::{Address, ChannelId};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::db_error;
use crate::{
    ChannelRow, Contact, Direction, PaymentRow, Removal, StoreError,
    encoding::{
        address_from_sql, amount_from_sql, amount_to_sql, b256_from_sql, channel_id_from_sql,
        direction_from_sql, direction_to_sql, u64_from_sql, u64_to_sql,
    },
};

const SELECT_CHANNELS: &str =
    "SELECT id, peer, phase, version, state, updated_at FROM channels ORDER BY id";
const SELECT_CHANNEL: &str =
    "SELECT id, peer, phase, version, state, updated_at FROM channels WHERE id = ?";
const SELECT_CHANNELS_FOR_PEER: &str =
    "SELECT id, peer, phase, version, state, updated_at FROM channels WHERE peer = ? ORDER BY id";
const INSERT_CHANNEL: &str =
    "INSERT INTO channels (id, peer, phase, version, state, updated_at) VALUES (?, ?, ?, ?, ?, ?)";
const UPDATE_CHANNEL: &str = "UPDATE channels SET peer = ?, phase = ?, version = ?, state = ?, \
     updated_at = ? WHERE id = ? AND version = ?";
/// [`UPDATE_CHANNEL`] for the usual case of an unchanged peer: `peer` is not in the `SET`
/// list, so the `channels_by_peer` index is left alone (SQLite rewrites the index entries of
/// every column an `UPDATE` sets, changed or not): one page less per commit.
const UPDATE_CHANNEL_SAME_PEER: &str = "UPDATE channels SET phase = ?, version = ?, state = ?, \
     updated_at = ? WHERE id = ? AND version = ? AND peer = ?";
const SELECT_VERSION: &str = "SELECT version FROM channels WHERE id = ?";
const DELETE_CHANNEL: &str = "DELETE FROM channels WHERE id = ? AND version = ?";
const INSERT_PAYMENT: &str = "INSERT INTO payments \
     (channel_id, direction, sequence, amount, cumulative, memo, time) VALUES (?, ?, ?, ?, ?, ?, ?)";
const SELECT_PAYMENTS: &str = "SELECT channel_id, direction, sequence, amount, cumulative, memo, \
     time FROM payments WHERE channel_id = ? AND direction = ? ORDER BY sequence DESC LIMIT ?";
const SELECT_PAYMENTS_BEFORE: &str = "SELECT channel_id, direction, sequence, amount, cumulative, \
     memo, time FROM payments WHERE channel_id = ? AND direction = ? AND sequence < ? \
     ORDER BY sequence DESC LIMIT ?";
const RAISE_CURSOR: &str = "UPDATE ledger_cursor SET cursor = ? WHERE id = 0 AND cursor < ?";
const SELECT_CURSOR: &str = "SELECT cursor FROM ledger_cursor WHERE id = 0";
const SELECT_META: &str = "SELECT value FROM meta WHERE key = ?";
const SELECT_CONTACTS: &str = "SELECT alias, address, peer_url FROM contacts ORDER BY alias";
const SELECT_CONTACT: &str = "SELECT alias, address, peer_url FROM contacts WHERE alias = ?";
const DELETE_CONTACT: &str = "DELETE FROM contacts WHERE alias = ?";
/// Not portable to MariaDB either (`REPLACE INTO` there).
const PUT_CONTACT: &str = "INSERT INTO contacts (alias, address, peer_url) VALUES (?, ?, ?) \
     ON CONFLICT (alias) DO UPDATE SET address = excluded.address, peer_url = excluded.peer_url";
/// The one statement that is not portable to MariaDB (`ON DUPLICATE KEY UPDATE` there).
const SET_META: &str = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value";

/// Writes `row` if the stored version is `row.version - 1` (or absent for version 1).
pub(crate) fn write_channel(conn: &Connection, row: &ChannelRow) -> Result<(), StoreError> {
    let conflict = |conn: &Connection| -> StoreError {
        match stored_version(conn, row.id) {
            Ok(stored_version) => StoreError::Conflict {
                channel_id: row.id,
                stored_version,
            },
            Err(error) => error,
        }
    };
    let id = row.id.0.as_slice();
    match row.version.checked_sub(1) {
        // Version 0 never follows anything.
        None => Err(conflict(conn)),
        Some(0) => {
            let inserted = conn
                .prepare_cached(INSERT_CHANNEL)
                .map_err(db_error)?
                .execute(params![
                    id,
                    row.peer.as_slice(),
                    row.phase,
                    u64_to_sql(row.version),
                    row.state,
                    u64_to_sql(row.updated_at),
                ]);
            match inserted {
                Ok(_) => Ok(()),
                Err(error) if is_key_violation(&error) => Err(conflict(conn)),
                Err(error) => Err(db_error(error)),
            }
        }
        Some(previous) => {
            let same_peer = conn
                .prepare_cached(UPDATE_CHANNEL_SAME_PEER)
                .map_err(db_error)?
                .execute(params![
                    row.phase,
                    u64_to_sql(row.version),
                    row.state,
                    u64_to_sql(row.updated_at),
                    id,
                    u64_to_sql(previous),
                    row.peer.as_slice(),
                ])
                .map_err(db_error)?;
            if same_peer == 1 {
                return Ok(());
            }
            // Another peer, or a version conflict: the full update tells which.
            let updated = conn
                .prepare_cached(UPDATE_CHANNEL)
                .map_err(db_error)?
                .execute(params![
                    row.peer.as_slice(),
                    row.phase,
                    u64_to_sql(row.version),
                    row.state,
                    u64_to_sql(row.updated_at),
                    id,
                    u64_to_sql(previous),
                ]);
            match updated.map_err(db_error)? {
                1 => Ok(()),
                _ => Err(conflict(conn)),
            }
        }
    }
}

/// Deletes the row of `removal.id` if its stored version is `removal.version`; otherwise
/// [`StoreError::Conflict`].
pub(crate) fn remove_channel(conn: &Connection, removal: &Removal) -> Result<(), StoreError> {
    let deleted = conn
        .prepare_cached(DELETE_CHANNEL)
        .map_err(db_error)?
        .execute(params![
            removal.id.0.as_slice(),
            u64_to_sql(removal.version)
        ])
        .map_err(db_error)?;
    if deleted == 1 {
        return Ok(());
    }
    Err(StoreError::Conflict {
        channel_id: removal.id,
        stored_version: stored_version(conn, removal.id)?,
    })
}

/// The stored version of channel `id` (0 if there is no row).
fn stored_version(conn: &Connection, id: ChannelId) -> Result<u64, StoreError> {
    let stored: Option<i64> = conn
        .prepare_cached(SELECT_VERSION)
        .and_then(|mut statement| {
            statement
                .query_row([id.0.as_slice()], |row| row.get(0))
                .optional()
        })
        .map_err(db_error)?;
    Ok(stored.map_or(0, u64_from_sql))
}

/// Inserts `payment`; an existing key is [`StoreError::DuplicatePayment`].
pub(crate) fn insert_payment(conn: &Connection, payment: &PaymentRow) -> Result<(), StoreError> {
    let inserted = conn
        .prepare_cached(INSERT_PAYMENT)
        .map_err(db_error)?
        .execute(params![
            payment.channel_id.0.as_slice(),
            direction_to_sql(payment.direction),
            u64_to_sql(payment.sequence),
            amount_to_sql(payment.amount),
            amount_to_sql(payment.cumulative),
            payment.memo.as_slice(),
            u64_to_sql(payment.time),
        ]);
    match inserted {
        Ok(_) => Ok(()),
        Err(error) if is_key_violation(&error) => Err(StoreError::DuplicatePayment {
            channel_id: payment.channel_id,
            direction: payment.direction,
            sequence: payment.sequence,
        }),
        Err(error) => Err(db_error(error)),
    }
}

/// Raises the ledger cursor to `cursor` if it is lower.
pub(crate) fn raise_cursor(conn: &Connection, cursor: u64) -> Result<(), StoreError> {
    let cursor = u64_to_sql(cursor);
    conn.prepare_cached(RAISE_CURSOR)
        .and_then(|mut statement| statement.execute([cursor, cursor]))
        .map_err(db_error)?;
    Ok(())
}

/// Sets the setting `key`.
pub(crate) fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<(), StoreError> {
    conn.prepare_cached(SET_META)
        .and_then(|mut statement| statement.execute([key, value]))
        .map_err(db_error)?;
    Ok(())
}

/// Stores `contact`, replacing the one with its alias.
pub(crate) fn put_contact(conn: &Connection, contact: &Contact) -> Result<(), StoreError> {
    conn.prepare_cached(PUT_CONTACT)
        .and_then(|mut statement| {
            statement.execute(params![
                contact.alias,
                contact.address.as_slice(),
                contact.peer_url
            ])
        })
        .map_err(db_error)?;
    Ok(())
}

/// Removes the contact `alias` (nothing if there is none).
pub(crate) fn remove_contact(conn: &Connection, alias: &str) -> Result<(), StoreError> {
    conn.prepare_cached(DELETE_CONTACT)
        .and_then(|mut statement| statement.execute([alias]))
        .map_err(db_error)?;
    Ok(())
}

/// Every contact, in alias order.
pub(crate) fn contacts(conn: &Connection) -> Result<Vec<Contact>, StoreError> {
    collect(conn, SELECT_CONTACTS, [], contact_row)
}

/// The contact `alias`.
pub(crate) fn contact(conn: &Connection, alias: &str) -> Result<Option<Contact>, StoreError> {
    Ok(collect(conn, SELECT_CONTACT, [alias], contact_row)?.pop())
}

/// Every channel, in id order.
pub(crate) fn channels(conn: &Connection) -> Result<Vec<ChannelRow>, StoreError> {
    collect(conn, SELECT_CHANNELS, [], channel_row)
}

/// The channel `id`.
pub(crate) fn channel(conn: &Connection, id: ChannelId) -> Result<Option<ChannelRow>, StoreError> {
    Ok(collect(conn, SELECT_CHANNEL, [id.0.as_slice()], channel_row)?.pop())
}

/// The channels with `peer`, in id order.
pub(crate) fn channels_for_peer(
    conn: &Connection,
    peer: Address,
) -> Result<Vec<ChannelRow>, StoreError> {
    collect(
        conn,
        SELECT_CHANNELS_FOR_PEER,
        [peer.as_slice()],
        channel_row,
    )
}

/// A page of payments, newest first.
pub(crate) fn payments(
    conn: &Connection,
    channel: ChannelId,
    direction: Direction,
    limit: u32,
    before: Option<u64>,
) -> Result<Vec<PaymentRow>, StoreError> {
    let id = channel.0.as_slice();
    let direction = direction_to_sql(direction);
    let limit = i64::from(limit);
    match before {
        None => collect(
            conn,
            SELECT_PAYMENTS,
            params![id, direction, limit],
            payment_row,
        ),
        Some(before) => {
            let before = u64_to_sql(before);
            collect(
                conn,
                SELECT_PAYMENTS_BEFORE,
                params![id, direction, before, limit],
                payment_row,
            )
        }
    }
}

/// The ledger cursor.
pub(crate) fn ledger_cursor(conn: &Connection) -> Result<u64, StoreError> {
    let stored: Option<i64> = conn
        .prepare_cached(SELECT_CURSOR)
        .and_then(|mut statement| statement.query_row([], |row| row.get(0)).optional())
        .map_err(db_error)?;
    stored
        .map(u64_from_sql)
        .ok_or_else(|| StoreError::corrupt("the ledger_cursor table has no row"))
}

/// The setting `key`.
pub(crate) fn meta(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    conn.prepare_cached(SELECT_META)
        .and_then(|mut statement| statement.query_row([key], |row| row.get(0)).optional())
        .map_err(db_error)
}

/// Runs a query and decodes every row.
fn collect<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    decode: fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut statement = conn.prepare_cached(sql).map_err(db_error)?;
    let mut rows = statement.query(params).map_err(db_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db_error)? {
        out.push(decode(row)?);
    }
    Ok(out)
}

fn channel_row(row: &Row<'_>) -> Result<ChannelRow, StoreError> {
    Ok(ChannelRow {
        id: channel_id_from_sql(blob(row, 0, "channels.id")?, "channels.id")?,
        peer: address_from_sql(blob(row, 1, "channels.peer")?, "channels.peer")?,
        phase: row.get(2).map_err(|e| decode_error("channels.phase", e))?,
        version: u64_from_sql(integer(row, 3, "channels.version")?),
        state: blob(row, 4, "channels.state")?.to_vec(),
        updated_at: u64_from_sql(integer(row, 5, "channels.updated_at")?),
    })
}

fn contact_row(row: &Row<'_>) -> Result<Contact, StoreError> {
    let alias: String = row.get(0).map_err(db_error)?;
    let address = address_from_sql(blob(row, 1, "address")?, "address")?;
    let peer_url: Option<String> = row.get(2).map_err(db_error)?;
    Ok(Contact {
        alias,
        address,
        peer_url,
    })
}

fn payment_row(row: &Row<'_>) -> Result<PaymentRow, StoreError> {
    Ok(PaymentRow {
        channel_id: channel_id_from_sql(
            blob(row, 0, "payments.channel_id")?,
            "payments.channel_id",
        )?,
        direction: direction_from_sql(integer(row, 1, "payments.direction")?)?,
        sequence: u64_from_sql(integer(row, 2, "payments.sequence")?),
        amount: amount_from_sql(blob(row, 3, "payments.amount")?, "payments.amount")?,
        cumulative: amount_from_sql(blob(row, 4, "payments.cumulative")?, "payments.cumulative")?,
        memo: b256_from_sql(blob(row, 5, "payments.memo")?, "payments.memo")?,
        time: u64_from_sql(integer(row, 6, "payments.time")?),
    })
}

fn blob<'a>(row: &'a Row<'_>, index: usize, column: &str) -> Result<&'a [u8], StoreError> {
    row.get_ref(index)
        .map_err(|e| decode_error(column, e))?
        .as_blob()
        .map_err(|e| decode_error(column, e))
}

fn integer(row: &Row<'_>, index: usize, column: &str) -> Result<i64, StoreError> {
    row.get(index).map_err(|e| decode_error(column, e))
}

fn decode_error(column: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::corrupt(format!("{column} cannot be read: {error}"))
}

/// Whether `error` is a primary-key or unique violation.
fn is_key_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                || failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}
