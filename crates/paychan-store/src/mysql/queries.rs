//! The SQL of the MariaDB/MySQL backend: the commit transaction, the reads, the
//! single-statement writes, and the decoding of rows.
//!
//! Statements are prepared once per connection (`mysql_async` caches them). A commit is
//! `START TRANSACTION`, one statement per write, and `COMMIT`; the first write that is refused
//! (a version another writer got to first, a payment already stored) rolls the whole
//! transaction back, and its error reports the version stored right then (read in the same
//! transaction, at `READ COMMITTED`).

use mysql_async::{
    Conn, Params, Row, Transaction, TxOpts, Value,
    prelude::{FromValue, Queryable},
};
use paychan_core::{Address, ChannelId};

use super::{is_duplicate, my_error};
use crate::{
    Batch, ChannelRow, Contact, Direction, PaymentRow, Removal, StoreError,
    encoding::{
        address_from_sql, amount_from_sql, amount_to_sql, b256_from_sql, channel_id_from_sql,
        direction_from_sql, direction_to_sql, u64_from_sql, u64_to_sql,
    },
};

const INSERT_CHANNEL: &str = "INSERT INTO channels (id, peer, phase, version, state, updated_at) \
     VALUES (?, ?, ?, ?, ?, ?)";
const UPDATE_CHANNEL: &str = "UPDATE channels SET peer = ?, phase = ?, version = ?, state = ?, \
     updated_at = ? WHERE id = ? AND version = ?";
const SELECT_VERSION: &str = "SELECT version FROM channels WHERE id = ?";
const DELETE_CHANNEL: &str = "DELETE FROM channels WHERE id = ? AND version = ?";
const INSERT_PAYMENT: &str = "INSERT INTO payments \
     (channel_id, direction, sequence, amount, cumulative, memo, time) VALUES (?, ?, ?, ?, ?, ?, ?)";
const RAISE_CURSOR: &str = "UPDATE ledger_cursor SET `cursor` = ? WHERE id = 0 AND `cursor` < ?";
const SELECT_CHANNELS: &str =
    "SELECT id, peer, phase, version, state, updated_at FROM channels ORDER BY id";
const SELECT_CHANNEL: &str =
    "SELECT id, peer, phase, version, state, updated_at FROM channels WHERE id = ?";
const SELECT_CHANNELS_FOR_PEER: &str =
    "SELECT id, peer, phase, version, state, updated_at FROM channels WHERE peer = ? ORDER BY id";
const SELECT_PAYMENTS: &str = "SELECT channel_id, direction, sequence, amount, cumulative, memo, \
     time FROM payments WHERE channel_id = ? AND direction = ? ORDER BY sequence DESC LIMIT ?";
const SELECT_PAYMENTS_BEFORE: &str = "SELECT channel_id, direction, sequence, amount, cumulative, \
     memo, time FROM payments WHERE channel_id = ? AND direction = ? AND sequence < ? \
     ORDER BY sequence DESC LIMIT ?";
const SELECT_CURSOR: &str = "SELECT `cursor` FROM ledger_cursor WHERE id = 0";
const SELECT_META: &str = "SELECT value FROM meta WHERE `key` = ?";
const SET_META: &str = "INSERT INTO meta (`key`, value) VALUES (?, ?) \
     ON DUPLICATE KEY UPDATE value = VALUES(value)";
const SELECT_CONTACTS: &str = "SELECT alias, address, peer_url FROM contacts ORDER BY alias";
const SELECT_CONTACT: &str = "SELECT alias, address, peer_url FROM contacts WHERE alias = ?";
const PUT_CONTACT: &str = "INSERT INTO contacts (alias, address, peer_url) VALUES (?, ?, ?) \
     ON DUPLICATE KEY UPDATE address = VALUES(address), peer_url = VALUES(peer_url)";
const DELETE_CONTACT: &str = "DELETE FROM contacts WHERE alias = ?";

/// Applies `batch` in one transaction on `conn`.
pub(super) async fn commit(conn: &mut Conn, batch: &Batch) -> Result<(), StoreError> {
    // Dropped before `commit` (a failure, or the caller's future dropped), the transaction is
    // rolled back by the pool before the connection is used again.
    let mut tx = conn
        .start_transaction(TxOpts::default())
        .await
        .map_err(my_error)?;
    match apply(&mut tx, batch).await {
        Ok(()) => tx.commit().await.map_err(my_error),
        Err(error) => {
            // A failed rollback leaves the connection to the pool's cleanup, which rolls back
            // or closes it.
            let _ = tx.rollback().await;
            Err(error)
        }
    }
}

/// The statements of `batch`, in the order of [`Store::commit`](crate::Store::commit).
async fn apply(conn: &mut Transaction<'_>, batch: &Batch) -> Result<(), StoreError> {
    if let Some(fence) = &batch.fence
        && !super::lease::check_fence(conn, &fence.lease, fence.token).await?
    {
        return Err(StoreError::Fenced {
            lease: fence.lease.clone(),
            token: fence.token,
        });
    }
    for row in &batch.channels {
        write_channel(conn, row).await?;
    }
    for payment in &batch.payments {
        let params = vec![
            bytes(payment.channel_id.0.as_slice()),
            Value::Int(direction_to_sql(payment.direction)),
            Value::Int(u64_to_sql(payment.sequence)),
            bytes(&amount_to_sql(payment.amount)),
            bytes(&amount_to_sql(payment.cumulative)),
            bytes(payment.memo.as_slice()),
            Value::Int(u64_to_sql(payment.time)),
        ];
        match conn.exec_drop(INSERT_PAYMENT, params).await {
            Ok(()) => {}
            Err(error) if is_duplicate(&error) => {
                return Err(StoreError::DuplicatePayment {
                    channel_id: payment.channel_id,
                    direction: payment.direction,
                    sequence: payment.sequence,
                });
            }
            Err(error) => return Err(my_error(error)),
        }
    }
    if let Some(cursor) = batch.ledger_cursor {
        let cursor = Value::Int(u64_to_sql(cursor));
        conn.exec_drop(RAISE_CURSOR, vec![cursor.clone(), cursor])
            .await
            .map_err(my_error)?;
    }
    for removal in &batch.removals {
        remove_channel(conn, removal).await?;
    }
    Ok(())
}

/// Writes `row` if the stored version is `row.version - 1` (or absent for version 1).
async fn write_channel(conn: &mut Transaction<'_>, row: &ChannelRow) -> Result<(), StoreError> {
    let id = bytes(row.id.0.as_slice());
    let written = match row.version.checked_sub(1) {
        // Version 0 never follows anything.
        None => false,
        Some(0) => {
            let params = vec![
                id,
                bytes(row.peer.as_slice()),
                Value::from(row.phase.as_str()),
                Value::Int(u64_to_sql(row.version)),
                bytes(&row.state),
                Value::Int(u64_to_sql(row.updated_at)),
            ];
            match conn.exec_drop(INSERT_CHANNEL, params).await {
                Ok(()) => true,
                Err(error) if is_duplicate(&error) => false,
                Err(error) => return Err(my_error(error)),
            }
        }
        Some(previous) => {
            let params = vec![
                bytes(row.peer.as_slice()),
                Value::from(row.phase.as_str()),
                Value::Int(u64_to_sql(row.version)),
                bytes(&row.state),
                Value::Int(u64_to_sql(row.updated_at)),
                id,
                Value::Int(u64_to_sql(previous)),
            ];
            conn.exec_drop(UPDATE_CHANNEL, params)
                .await
                .map_err(my_error)?;
            conn.affected_rows() == 1
        }
    };
    if written {
        return Ok(());
    }
    Err(StoreError::Conflict {
        channel_id: row.id,
        stored_version: stored_version(conn, row.id).await?,
    })
}

/// Deletes the row of `removal.id` if its stored version is `removal.version`.
async fn remove_channel(conn: &mut Transaction<'_>, removal: &Removal) -> Result<(), StoreError> {
    let params = vec![
        bytes(removal.id.0.as_slice()),
        Value::Int(u64_to_sql(removal.version)),
    ];
    conn.exec_drop(DELETE_CHANNEL, params)
        .await
        .map_err(my_error)?;
    if conn.affected_rows() == 1 {
        return Ok(());
    }
    Err(StoreError::Conflict {
        channel_id: removal.id,
        stored_version: stored_version(conn, removal.id).await?,
    })
}

/// The stored version of channel `id` (0 if there is no row).
async fn stored_version(conn: &mut Transaction<'_>, id: ChannelId) -> Result<u64, StoreError> {
    let stored: Option<i64> = conn
        .exec_first(SELECT_VERSION, vec![bytes(id.0.as_slice())])
        .await
        .map_err(my_error)?;
    Ok(stored.map_or(0, u64_from_sql))
}

/// Sets the setting `key` (one statement, committed on return).
pub(super) async fn set_meta(conn: &mut Conn, key: &str, value: &str) -> Result<(), StoreError> {
    conn.exec_drop(SET_META, vec![bytes(key.as_bytes()), Value::from(value)])
        .await
        .map_err(my_error)
}

/// Stores `contact`, replacing the one with its alias.
pub(super) async fn put_contact(conn: &mut Conn, contact: &Contact) -> Result<(), StoreError> {
    let params = vec![
        bytes(contact.alias.as_bytes()),
        bytes(contact.address.as_slice()),
        contact.peer_url.as_deref().map_or(Value::NULL, Value::from),
    ];
    conn.exec_drop(PUT_CONTACT, params).await.map_err(my_error)
}

/// Removes the contact `alias`; answers whether there was one.
pub(super) async fn remove_contact(conn: &mut Conn, alias: &str) -> Result<bool, StoreError> {
    conn.exec_drop(DELETE_CONTACT, vec![bytes(alias.as_bytes())])
        .await
        .map_err(my_error)?;
    Ok(conn.affected_rows() > 0)
}

/// Every channel, in id order.
pub(super) async fn channels(conn: &mut Conn) -> Result<Vec<ChannelRow>, StoreError> {
    collect(conn, SELECT_CHANNELS, Params::Empty, channel_row).await
}

/// The channel `id`.
pub(super) async fn channel(
    conn: &mut Conn,
    id: ChannelId,
) -> Result<Option<ChannelRow>, StoreError> {
    let params = Params::Positional(vec![bytes(id.0.as_slice())]);
    Ok(collect(conn, SELECT_CHANNEL, params, channel_row)
        .await?
        .pop())
}

/// The channels with `peer`, in id order.
pub(super) async fn channels_for_peer(
    conn: &mut Conn,
    peer: Address,
) -> Result<Vec<ChannelRow>, StoreError> {
    let params = Params::Positional(vec![bytes(peer.as_slice())]);
    collect(conn, SELECT_CHANNELS_FOR_PEER, params, channel_row).await
}

/// A page of payments, newest first.
pub(super) async fn payments(
    conn: &mut Conn,
    channel: ChannelId,
    direction: Direction,
    limit: u32,
    before: Option<u64>,
) -> Result<Vec<PaymentRow>, StoreError> {
    let id = bytes(channel.0.as_slice());
    let direction = Value::Int(direction_to_sql(direction));
    let limit = Value::Int(i64::from(limit));
    let (sql, params) = match before {
        None => (SELECT_PAYMENTS, vec![id, direction, limit]),
        Some(before) => (
            SELECT_PAYMENTS_BEFORE,
            vec![id, direction, Value::Int(u64_to_sql(before)), limit],
        ),
    };
    collect(conn, sql, Params::Positional(params), payment_row).await
}

/// The ledger cursor.
pub(super) async fn ledger_cursor(conn: &mut Conn) -> Result<u64, StoreError> {
    let stored: Option<i64> = conn
        .exec_first(SELECT_CURSOR, Params::Empty)
        .await
        .map_err(my_error)?;
    stored
        .map(u64_from_sql)
        .ok_or_else(|| StoreError::corrupt("the ledger_cursor table has no row"))
}

/// The setting `key`.
pub(super) async fn meta(conn: &mut Conn, key: &str) -> Result<Option<String>, StoreError> {
    let params = Params::Positional(vec![bytes(key.as_bytes())]);
    let mut rows = collect(conn, SELECT_META, params, |row| text(row, 0, "meta.value")).await?;
    Ok(rows.pop())
}

/// Every contact, in alias order.
pub(super) async fn contacts(conn: &mut Conn) -> Result<Vec<Contact>, StoreError> {
    collect(conn, SELECT_CONTACTS, Params::Empty, contact_row).await
}

/// The contact `alias`.
pub(super) async fn contact(conn: &mut Conn, alias: &str) -> Result<Option<Contact>, StoreError> {
    let params = Params::Positional(vec![bytes(alias.as_bytes())]);
    Ok(collect(conn, SELECT_CONTACT, params, contact_row)
        .await?
        .pop())
}

fn bytes(value: &[u8]) -> Value {
    Value::Bytes(value.to_vec())
}

/// Runs a query and decodes every row.
async fn collect<T>(
    conn: &mut Conn,
    sql: &str,
    params: Params,
    decode: fn(&mut Row) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let rows: Vec<Row> = conn.exec(sql, params).await.map_err(my_error)?;
    rows.into_iter().map(|mut row| decode(&mut row)).collect()
}

fn channel_row(row: &mut Row) -> Result<ChannelRow, StoreError> {
    Ok(ChannelRow {
        id: channel_id_from_sql(&take::<Vec<u8>>(row, 0, "channels.id")?, "channels.id")?,
        peer: address_from_sql(&take::<Vec<u8>>(row, 1, "channels.peer")?, "channels.peer")?,
        phase: text(row, 2, "channels.phase")?,
        version: u64_from_sql(take(row, 3, "channels.version")?),
        state: take(row, 4, "channels.state")?,
        updated_at: u64_from_sql(take(row, 5, "channels.updated_at")?),
    })
}

fn contact_row(row: &mut Row) -> Result<Contact, StoreError> {
    let peer_url: Option<Vec<u8>> = take(row, 2, "contacts.peer_url")?;
    Ok(Contact {
        alias: text(row, 0, "contacts.alias")?,
        address: address_from_sql(
            &take::<Vec<u8>>(row, 1, "contacts.address")?,
            "contacts.address",
        )?,
        peer_url: peer_url
            .map(|url| utf8(url, "contacts.peer_url"))
            .transpose()?,
    })
}

fn payment_row(row: &mut Row) -> Result<PaymentRow, StoreError> {
    Ok(PaymentRow {
        channel_id: channel_id_from_sql(
            &take::<Vec<u8>>(row, 0, "payments.channel_id")?,
            "payments.channel_id",
        )?,
        direction: direction_from_sql(take(row, 1, "payments.direction")?)?,
        sequence: u64_from_sql(take(row, 2, "payments.sequence")?),
        amount: amount_from_sql(
            &take::<Vec<u8>>(row, 3, "payments.amount")?,
            "payments.amount",
        )?,
        cumulative: amount_from_sql(
            &take::<Vec<u8>>(row, 4, "payments.cumulative")?,
            "payments.cumulative",
        )?,
        memo: b256_from_sql(&take::<Vec<u8>>(row, 5, "payments.memo")?, "payments.memo")?,
        time: u64_from_sql(take(row, 6, "payments.time")?),
    })
}

/// Column `index` of `row`, decoded.
fn take<T: FromValue>(row: &mut Row, index: usize, column: &str) -> Result<T, StoreError> {
    match row.take_opt::<T, usize>(index) {
        Some(Ok(value)) => Ok(value),
        Some(Err(error)) => Err(StoreError::corrupt(format!(
            "{column} cannot be read: {error}"
        ))),
        None => Err(StoreError::corrupt(format!("{column} is missing"))),
    }
}

/// A text column (stored as bytes: `VARBINARY` keys, or text read over the binary protocol).
fn text(row: &mut Row, index: usize, column: &str) -> Result<String, StoreError> {
    utf8(take(row, index, column)?, column)
}

fn utf8(bytes: Vec<u8>, column: &str) -> Result<String, StoreError> {
    String::from_utf8(bytes).map_err(|e| StoreError::corrupt(format!("{column} is not UTF-8: {e}")))
}
