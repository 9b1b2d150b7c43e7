//! Leases on PostgreSQL (see [`crate::lease`]): one row per lease, its expiry in milliseconds
//! of the server's clock (`clock_timestamp()`, the time of the statement, not of the
//! transaction's start).

use std::time::Duration;

use deadpool_postgres::Object;

use super::pg_error;
use crate::{
    LeaseAttempt, StoreError,
    lease::{remaining, token_from_sql, token_to_sql, ttl_millis},
};

/// The server's clock in milliseconds since the Unix epoch.
pub(super) const NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::BIGINT";

/// Takes `lease` for `holder` if it is free, in one transaction that locks its row.
pub(super) async fn acquire(
    client: &mut Object,
    lease: &str,
    holder: &str,
    ttl: Duration,
) -> Result<LeaseAttempt, StoreError> {
    let ttl = ttl_millis(ttl);
    let tx = client.transaction().await.map_err(pg_error)?;
    tx.execute(
        "INSERT INTO leases (name, holder, token, expires_at) VALUES ($1, '', 0, 0) \
         ON CONFLICT (name) DO NOTHING",
        &[&lease],
    )
    .await
    .map_err(pg_error)?;
    let row = tx
        .query_one(
            &format!(
                "SELECT holder, token, expires_at, {NOW_MS} FROM leases WHERE name = $1 FOR UPDATE"
            ),
            &[&lease],
        )
        .await
        .map_err(pg_error)?;
    let current: String = row.try_get(0).map_err(StoreError::internal)?;
    let token: i64 = row.try_get(1).map_err(StoreError::internal)?;
    let expires_at: i64 = row.try_get(2).map_err(StoreError::internal)?;
    let now: i64 = row.try_get(3).map_err(StoreError::internal)?;
    if expires_at > now {
        tx.commit().await.map_err(pg_error)?;
        return Ok(LeaseAttempt::Held {
            holder: current,
            token: token_from_sql(token),
            remaining: remaining(expires_at, now),
        });
    }
    let granted = token.saturating_add(1);
    tx.execute(
        &format!(
            "UPDATE leases SET holder = $2, token = $3, expires_at = {NOW_MS} + $4 WHERE name = $1"
        ),
        &[&lease, &holder, &granted, &ttl],
    )
    .await
    .map_err(pg_error)?;
    tx.commit().await.map_err(pg_error)?;
    Ok(LeaseAttempt::Granted {
        token: token_from_sql(granted),
    })
}

/// Extends `lease` if `token` holds it.
pub(super) async fn renew(
    client: &Object,
    lease: &str,
    token: u64,
    ttl: Duration,
) -> Result<bool, StoreError> {
    let rows = client
        .execute(
            &format!("UPDATE leases SET expires_at = {NOW_MS} + $3 WHERE name = $1 AND token = $2"),
            &[&lease, &token_to_sql(token), &ttl_millis(ttl)],
        )
        .await
        .map_err(pg_error)?;
    Ok(rows == 1)
}

/// Ends `lease` now if `token` holds it.
pub(super) async fn release(client: &Object, lease: &str, token: u64) -> Result<bool, StoreError> {
    let rows = client
        .execute(
            "UPDATE leases SET holder = '', expires_at = 0 WHERE name = $1 AND token = $2",
            &[&lease, &token_to_sql(token)],
        )
        .await
        .map_err(pg_error)?;
    Ok(rows == 1)
}
