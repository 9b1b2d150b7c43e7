//! The reads and the single-statement writes (settings, contacts) of the PostgreSQL backend,
//! and the decoding of its rows. The statements of a commit are in `commit.rs`.

use deadpool_postgres::Object;
use paychan_core::{Address, ChannelId};
use tokio_postgres::{Row, types::ToSql};

use super::pg_error;
use crate::{
    ChannelRow, Contact, Direction, PaymentRow, StoreError,
    encoding::{
        address_from_sql, amount_from_sql, b256_from_sql, channel_id_from_sql, direction_from_sql,
        direction_to_sql, u64_from_sql, u64_to_sql,
    },
};

const SELECT_CHANNELS: &str =
    "SELECT id, peer, phase, version, state, updated_at FROM channels ORDER BY id";
const SELECT_CHANNEL: &str =
    "SELECT id, peer, phase, version, state, updated_at FROM channels WHERE id = $1";
const SELECT_CHANNELS_FOR_PEER: &str = "SELECT id, peer, phase, version, state, updated_at \
     FROM channels WHERE peer = $1 ORDER BY id";
const SELECT_PAYMENTS: &str = "SELECT channel_id, direction, sequence, amount, cumulative, memo, \
     time FROM payments WHERE channel_id = $1 AND direction = $2 ORDER BY sequence DESC LIMIT $3";
const SELECT_PAYMENTS_BEFORE: &str = "SELECT channel_id, direction, sequence, amount, cumulative, \
     memo, time FROM payments WHERE channel_id = $1 AND direction = $2 AND sequence < $3 \
     ORDER BY sequence DESC LIMIT $4";
const SELECT_CURSOR: &str = "SELECT cursor FROM ledger_cursor WHERE id = 0";
const SELECT_META: &str = "SELECT value FROM meta WHERE key = $1";
const SET_META: &str = "INSERT INTO meta (key, value) VALUES ($1, $2) \
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";
const SELECT_CONTACTS: &str = "SELECT alias, address, peer_url FROM contacts ORDER BY alias";
const SELECT_CONTACT: &str = "SELECT alias, address, peer_url FROM contacts WHERE alias = $1";
const PUT_CONTACT: &str = "INSERT INTO contacts (alias, address, peer_url) VALUES ($1, $2, $3) \
     ON CONFLICT (alias) DO UPDATE SET address = excluded.address, peer_url = excluded.peer_url";
const DELETE_CONTACT: &str = "DELETE FROM contacts WHERE alias = $1";

/// Every channel, in id order.
pub(super) async fn channels(client: &Object) -> Result<Vec<ChannelRow>, StoreError> {
    collect(client, SELECT_CHANNELS, &[], channel_row).await
}

/// The channel `id`.
pub(super) async fn channel(
    client: &Object,
    id: ChannelId,
) -> Result<Option<ChannelRow>, StoreError> {
    let id = id.0.as_slice();
    Ok(collect(client, SELECT_CHANNEL, &[&id], channel_row)
        .await?
        .pop())
}

/// The channels with `peer`, in id order.
pub(super) async fn channels_for_peer(
    client: &Object,
    peer: Address,
) -> Result<Vec<ChannelRow>, StoreError> {
    let peer = peer.as_slice();
    collect(client, SELECT_CHANNELS_FOR_PEER, &[&peer], channel_row).await
}

/// A page of payments, newest first.
pub(super) async fn payments(
    client: &Object,
    channel: ChannelId,
    direction: Direction,
    limit: u32,
    before: Option<u64>,
) -> Result<Vec<PaymentRow>, StoreError> {
    let id = channel.0.as_slice();
    let direction = direction_to_pg(direction);
    let limit = i64::from(limit);
    match before {
        None => {
            collect(
                client,
                SELECT_PAYMENTS,
                &[&id, &direction, &limit],
                payment_row,
            )
            .await
        }
        Some(before) => {
            let before = u64_to_sql(before);
            collect(
                client,
                SELECT_PAYMENTS_BEFORE,
                &[&id, &direction, &before, &limit],
                payment_row,
            )
            .await
        }
    }
}

/// The ledger cursor.
pub(super) async fn ledger_cursor(client: &Object) -> Result<u64, StoreError> {
    let statement = client
        .prepare_cached(SELECT_CURSOR)
        .await
        .map_err(pg_error)?;
    let row = client
        .query_opt(&statement, &[])
        .await
        .map_err(pg_error)?
        .ok_or_else(|| StoreError::corrupt("the ledger_cursor table has no row"))?;
    Ok(u64_from_sql(integer(&row, 0, "ledger_cursor.cursor")?))
}

/// The setting `key`.
pub(super) async fn meta(client: &Object, key: &str) -> Result<Option<String>, StoreError> {
    let statement = client.prepare_cached(SELECT_META).await.map_err(pg_error)?;
    let row = client
        .query_opt(&statement, &[&key])
        .await
        .map_err(pg_error)?;
    row.map(|row| row.try_get(0).map_err(|e| decode_error("meta.value", e)))
        .transpose()
}

/// Sets the setting `key` (one statement, committed on return).
pub(super) async fn set_meta(client: &Object, key: &str, value: &str) -> Result<(), StoreError> {
    execute(client, SET_META, &[&key, &value]).await.map(drop)
}

/// Every contact, in alias order.
pub(super) async fn contacts(client: &Object) -> Result<Vec<Contact>, StoreError> {
    collect(client, SELECT_CONTACTS, &[], contact_row).await
}

/// The contact `alias`.
pub(super) async fn contact(client: &Object, alias: &str) -> Result<Option<Contact>, StoreError> {
    Ok(collect(client, SELECT_CONTACT, &[&alias], contact_row)
        .await?
        .pop())
}

/// Stores `contact`, replacing the one with its alias.
pub(super) async fn put_contact(client: &Object, contact: &Contact) -> Result<(), StoreError> {
    let address = contact.address.as_slice();
    execute(
        client,
        PUT_CONTACT,
        &[&contact.alias, &address, &contact.peer_url],
    )
    .await
    .map(drop)
}

/// Removes the contact `alias`; answers whether there was one.
pub(super) async fn remove_contact(client: &Object, alias: &str) -> Result<bool, StoreError> {
    Ok(execute(client, DELETE_CONTACT, &[&alias]).await? > 0)
}

/// A direction as its stored `SMALLINT`.
pub(super) fn direction_to_pg(direction: Direction) -> i16 {
    match direction_to_sql(direction) {
        0 => 0,
        _ => 1,
    }
}

async fn execute(
    client: &Object,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, StoreError> {
    let statement = client.prepare_cached(sql).await.map_err(pg_error)?;
    client.execute(&statement, params).await.map_err(pg_error)
}

/// Runs a query and decodes every row.
async fn collect<T>(
    client: &Object,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    decode: fn(&Row) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let statement = client.prepare_cached(sql).await.map_err(pg_error)?;
    let rows = client.query(&statement, params).await.map_err(pg_error)?;
    rows.iter().map(decode).collect()
}

fn channel_row(row: &Row) -> Result<ChannelRow, StoreError> {
    Ok(ChannelRow {
        id: channel_id_from_sql(bytes(row, 0, "channels.id")?, "channels.id")?,
        peer: address_from_sql(bytes(row, 1, "channels.peer")?, "channels.peer")?,
        phase: row
            .try_get(2)
            .map_err(|e| decode_error("channels.phase", e))?,
        version: u64_from_sql(integer(row, 3, "channels.version")?),
        state: bytes(row, 4, "channels.state")?.to_vec(),
        updated_at: u64_from_sql(integer(row, 5, "channels.updated_at")?),
    })
}

fn contact_row(row: &Row) -> Result<Contact, StoreError> {
    Ok(Contact {
        alias: row
            .try_get(0)
            .map_err(|e| decode_error("contacts.alias", e))?,
        address: address_from_sql(bytes(row, 1, "contacts.address")?, "contacts.address")?,
        peer_url: row
            .try_get(2)
            .map_err(|e| decode_error("contacts.peer_url", e))?,
    })
}

fn payment_row(row: &Row) -> Result<PaymentRow, StoreError> {
    let direction: i16 = row
        .try_get(1)
        .map_err(|e| decode_error("payments.direction", e))?;
    Ok(PaymentRow {
        channel_id: channel_id_from_sql(
            bytes(row, 0, "payments.channel_id")?,
            "payments.channel_id",
        )?,
        direction: direction_from_sql(i64::from(direction))?,
        sequence: u64_from_sql(integer(row, 2, "payments.sequence")?),
        amount: amount_from_sql(bytes(row, 3, "payments.amount")?, "payments.amount")?,
        cumulative: amount_from_sql(bytes(row, 4, "payments.cumulative")?, "payments.cumulative")?,
        memo: b256_from_sql(bytes(row, 5, "payments.memo")?, "payments.memo")?,
        time: u64_from_sql(integer(row, 6, "payments.time")?),
    })
}

fn bytes<'a>(row: &'a Row, index: usize, column: &str) -> Result<&'a [u8], StoreError> {
    row.try_get(index).map_err(|e| decode_error(column, e))
}

pub(super) fn integer(row: &Row, index: usize, column: &str) -> Result<i64, StoreError> {
    row.try_get(index).map_err(|e| decode_error(column, e))
}

fn decode_error(column: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::corrupt(format!("{column} cannot be read: {error}"))
}
