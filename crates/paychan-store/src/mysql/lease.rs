//! Leases on MariaDB/MySQL (see [`crate::lease`]): one row per lease, its expiry in
//! milliseconds of the server's clock (`SYSDATE(3)`, the time of the statement).

use std::time::Duration;

use mysql_async::{Conn, TxOpts, Value, prelude::Queryable};

use super::my_error;
use crate::{
    LeaseAttempt, StoreError,
    lease::{remaining, token_from_sql, token_to_sql, ttl_millis},
};

/// The server's clock in milliseconds since the Unix epoch.
pub(super) const NOW_MS: &str = "CAST(UNIX_TIMESTAMP(SYSDATE(3)) * 1000 AS SIGNED)";

/// Takes `lease` for `holder` if it is free, in one transaction that locks its row.
pub(super) async fn acquire(
    conn: &mut Conn,
    lease: &str,
    holder: &str,
    ttl: Duration,
) -> Result<LeaseAttempt, StoreError> {
    let name = Value::Bytes(lease.as_bytes().to_vec());
    let mut tx = conn
        .start_transaction(TxOpts::default())
        .await
        .map_err(my_error)?;
    tx.exec_drop(
        "INSERT IGNORE INTO leases (name, holder, token, expires_at) VALUES (?, '', 0, 0)",
        vec![name.clone()],
    )
    .await
    .map_err(my_error)?;
    let row: Option<(String, i64, i64, i64)> = tx
        .exec_first(
            format!(
                "SELECT holder, token, expires_at, {NOW_MS} FROM leases WHERE name = ? FOR UPDATE"
            ),
            vec![name.clone()],
        )
        .await
        .map_err(my_error)?;
    let Some((current, token, expires_at, now)) = row else {
        return Err(StoreError::internal(format!("lease {lease} vanished")));
    };
    if expires_at > now {
        tx.commit().await.map_err(my_error)?;
        return Ok(LeaseAttempt::Held {
            holder: current,
            token: token_from_sql(token),
            remaining: remaining(expires_at, now),
        });
    }
    let granted = token.saturating_add(1);
    tx.exec_drop(
        format!(
            "UPDATE leases SET holder = ?, token = ?, expires_at = {NOW_MS} + ? WHERE name = ?"
        ),
        vec![
            Value::from(holder),
            Value::Int(granted),
            Value::Int(ttl_millis(ttl)),
            name,
        ],
    )
    .await
    .map_err(my_error)?;
    tx.commit().await.map_err(my_error)?;
    Ok(LeaseAttempt::Granted {
        token: token_from_sql(granted),
    })
}

/// Extends `lease` if `token` holds it.
pub(super) async fn renew(
    conn: &mut Conn,
    lease: &str,
    token: u64,
    ttl: Duration,
) -> Result<bool, StoreError> {
    conn.exec_drop(
        // Never the same expiry twice (two renewals in one millisecond): MariaDB counts only
        // the rows an update changed.
        format!(
            "UPDATE leases SET expires_at = GREATEST(expires_at + 1, {NOW_MS} + ?) \
             WHERE name = ? AND token = ?"
        ),
        vec![
            Value::Int(ttl_millis(ttl)),
            Value::Bytes(lease.as_bytes().to_vec()),
            Value::Int(token_to_sql(token)),
        ],
    )
    .await
    .map_err(my_error)?;
    Ok(conn.affected_rows() == 1)
}

/// Ends `lease` now if `token` holds it.
pub(super) async fn release(conn: &mut Conn, lease: &str, token: u64) -> Result<bool, StoreError> {
    conn.exec_drop(
        "UPDATE leases SET holder = '', expires_at = 0 WHERE name = ? AND token = ?",
        vec![
            Value::Bytes(lease.as_bytes().to_vec()),
            Value::Int(token_to_sql(token)),
        ],
    )
    .await
    .map_err(my_error)?;
    Ok(conn.affected_rows() == 1)
}

/// Checks, inside a commit's transaction, that `token` holds the unexpired `lease`; the row
/// stays locked (shared) until the transaction ends, so that a takeover waits for it.
pub(super) async fn check_fence(
    tx: &mut mysql_async::Transaction<'_>,
    lease: &str,
    token: u64,
) -> Result<bool, StoreError> {
    let held: Option<i64> = tx
        .exec_first(
            format!(
                "SELECT 1 FROM leases WHERE name = ? AND token = ? AND expires_at > {NOW_MS} \
                 LOCK IN SHARE MODE"
            ),
            vec![
                Value::Bytes(lease.as_bytes().to_vec()),
                Value::Int(token_to_sql(token)),
            ],
        )
        .await
        .map_err(my_error)?;
    Ok(held.is_some())
}
