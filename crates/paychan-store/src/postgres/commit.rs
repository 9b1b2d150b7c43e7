//! One commit of the PostgreSQL backend: one transaction of conditional writes.
//!
//! The fast path pipelines the whole transaction but its end: `BEGIN` and every statement of
//! the batch are sent at once, in order, on one connection (the server runs them in that
//! order), their counts are checked as they come back, and then `COMMIT` (or `ROLLBACK`) is
//! sent. Two round trips, whatever the batch holds:
//!
//! ```text
//! BEGIN; INSERT channel ... ON CONFLICT DO NOTHING; UPDATE channel ... WHERE version = $;
//! INSERT payment ... ON CONFLICT DO NOTHING; UPDATE ledger_cursor ...; DELETE channel ...
//!                                               -> counts: every write touched its one row?
//! COMMIT                                        -> Ok
//! ```
//!
//! A write that touched no row (a version another writer got to first, a payment already
//! stored) rolls the transaction back, and the batch runs again statement by statement in a
//! new transaction: the first write that fails there is the one reported, with the stored
//! version read right after it in the same transaction, exactly as the SQLite backend reports
//! it. (That second run may also succeed, if the state changed in between: it is a transaction
//! of its own, with the same conditions.)
//!
//! A fenced batch starts with the lease check (`SELECT ... FOR SHARE`, one row or none),
//! refused like a write that touched no row.
//!
//! A connection is never returned to the pool inside a transaction: if the commit's future is
//! dropped, or the connection fails mid-way, the connection is taken out of the pool and
//! closed, and the server rolls back what it had.

use std::{
    future::Future,
    pin::Pin,
    sync::LazyLock,
    task::{Context, Waker},
};

use deadpool_postgres::Object;
use futures_util::future::{MaybeDone, maybe_done};
use paychan_core::ChannelId;
use tokio_postgres::{Statement, types::ToSql};

use super::{pg_error, queries};
use crate::{
    Batch, ChannelRow, Fence, PaymentRow, Removal, StoreError,
    encoding::{amount_to_sql, u64_from_sql, u64_to_sql},
    lease::token_to_sql,
};

const INSERT_CHANNEL: &str = "INSERT INTO channels (id, peer, phase, version, state, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING";
const UPDATE_CHANNEL: &str = "UPDATE channels SET peer = $1, phase = $2, version = $3, \
     state = $4, updated_at = $5 WHERE id = $6 AND version = $7";
const INSERT_PAYMENT: &str = "INSERT INTO payments \
     (channel_id, direction, sequence, amount, cumulative, memo, time) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (channel_id, direction, sequence) DO NOTHING";
const RAISE_CURSOR: &str = "UPDATE ledger_cursor SET cursor = $1 WHERE id = 0 AND cursor < $1";
const DELETE_CHANNEL: &str = "DELETE FROM channels WHERE id = $1 AND version = $2";
const SELECT_VERSION: &str = "SELECT version FROM channels WHERE id = $1";

/// The lease check of a fenced batch: one row while the token holds the unexpired lease,
/// locked (shared) until the transaction ends, so that a takeover waits for it.
static CHECK_FENCE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT 1 FROM leases WHERE name = $1 AND token = $2 AND expires_at > {} FOR SHARE",
        super::lease::NOW_MS
    )
});

/// Applies `batch` in one transaction on `client`.
pub(super) async fn commit(client: Object, batch: &Batch) -> Result<(), StoreError> {
    let statements = Statements::prepare(&client).await?;
    let writes = writes(batch);
    // A version-0 row can never be written: let the stepwise run report it.
    let client = if writes.iter().all(|write| !matches!(write, Write::Never(_))) {
        match pipelined(client, &statements, &writes).await? {
            None => return Ok(()),
            Some(client) => client,
        }
    } else {
        client
    };
    stepwise(client, &statements, &writes).await
}

/// The prepared statements of a commit (prepared once per connection, then cached).
struct Statements {
    insert_channel: Statement,
    update_channel: Statement,
    insert_payment: Statement,
    raise_cursor: Statement,
    delete_channel: Statement,
    select_version: Statement,
    check_fence: Statement,
}

impl Statements {
    async fn prepare(client: &Object) -> Result<Self, StoreError> {
        let prepare = |sql| async move { client.prepare_cached(sql).await.map_err(pg_error) };
        Ok(Statements {
            insert_channel: prepare(INSERT_CHANNEL).await?,
            update_channel: prepare(UPDATE_CHANNEL).await?,
            insert_payment: prepare(INSERT_PAYMENT).await?,
            raise_cursor: prepare(RAISE_CURSOR).await?,
            delete_channel: prepare(DELETE_CHANNEL).await?,
            select_version: prepare(SELECT_VERSION).await?,
            check_fence: prepare(CHECK_FENCE.as_str()).await?,
        })
    }
}

/// One statement of a batch, with its parameters encoded.
enum Write<'a> {
    /// The lease check of a fenced batch (first of all).
    Fence { fence: &'a Fence, token: i64 },
    /// A channel row of version 0, which follows nothing: always a conflict.
    Never(ChannelId),
    /// A channel row: inserted (`previous` is `None`, version 1) or updated from `previous`.
    Channel {
        row: &'a ChannelRow,
        id: &'a [u8],
        peer: &'a [u8],
        version: i64,
        updated_at: i64,
        previous: Option<i64>,
    },
    /// A payment.
    Payment {
        payment: &'a PaymentRow,
        id: &'a [u8],
        direction: i16,
        sequence: i64,
        amount: Vec<u8>,
        cumulative: Vec<u8>,
        memo: &'a [u8],
        time: i64,
    },
    /// Raise the ledger cursor.
    Cursor(i64),
    /// A removal at a version.
    Removal {
        removal: &'a Removal,
        id: &'a [u8],
        version: i64,
    },
}

/// The statements of `batch`, in the order of [`Store::commit`](crate::Store::commit).
fn writes(batch: &Batch) -> Vec<Write<'_>> {
    let channels = batch
        .channels
        .iter()
        .map(|row| match row.version.checked_sub(1) {
            None => Write::Never(row.id),
            Some(previous) => Write::Channel {
                row,
                id: row.id.0.as_slice(),
                peer: row.peer.as_slice(),
                version: u64_to_sql(row.version),
                updated_at: u64_to_sql(row.updated_at),
                previous: (previous > 0).then(|| u64_to_sql(previous)),
            },
        });
    let payments = batch.payments.iter().map(|payment| Write::Payment {
        payment,
        id: payment.channel_id.0.as_slice(),
        direction: queries::direction_to_pg(payment.direction),
        sequence: u64_to_sql(payment.sequence),
        amount: amount_to_sql(payment.amount).to_vec(),
        cumulative: amount_to_sql(payment.cumulative).to_vec(),
        memo: payment.memo.as_slice(),
        time: u64_to_sql(payment.time),
    });
    let cursor = batch
        .ledger_cursor
        .map(|cursor| Write::Cursor(u64_to_sql(cursor)));
    let removals = batch.removals.iter().map(|removal| Write::Removal {
        removal,
        id: removal.id.0.as_slice(),
        version: u64_to_sql(removal.version),
    });
    let fence = batch.fence.as_ref().map(|fence| Write::Fence {
        fence,
        token: token_to_sql(fence.token),
    });
    fence
        .into_iter()
        .chain(channels)
        .chain(payments)
        .chain(cursor)
        .chain(removals)
        .collect()
}

/// Why a write was refused (it touched no row).
enum Refusal<'a> {
    /// The fence's token no longer holds its lease.
    Fenced(&'a Fence),
    /// A channel row or removal: the stored version was not the expected one.
    Conflict(ChannelId),
    /// A payment already stored.
    Duplicate(&'a PaymentRow),
}

impl<'a> Write<'a> {
    /// The statement and its parameters (`None` for [`Write::Never`]).
    fn statement<'s>(
        &'s self,
        statements: &'s Statements,
    ) -> Option<(&'s Statement, Vec<&'s (dyn ToSql + Sync)>)> {
        Some(match self {
            Write::Never(_) => return None,
            Write::Fence { fence, token } => (&statements.check_fence, vec![&fence.lease, token]),
            Write::Channel {
                row,
                id,
                peer,
                version,
                updated_at,
                previous: None,
            } => (
                &statements.insert_channel,
                vec![id, peer, &row.phase, version, &row.state, updated_at],
            ),
            Write::Channel {
                row,
                id,
                peer,
                version,
                updated_at,
                previous: Some(previous),
            } => (
                &statements.update_channel,
                vec![
                    peer, &row.phase, version, &row.state, updated_at, id, previous,
                ],
            ),
            Write::Payment {
                id,
                direction,
                sequence,
                amount,
                cumulative,
                memo,
                time,
                ..
            } => (
                &statements.insert_payment,
                vec![id, direction, sequence, amount, cumulative, memo, time],
            ),
            Write::Cursor(cursor) => (&statements.raise_cursor, vec![cursor]),
            Write::Removal { id, version, .. } => (&statements.delete_channel, vec![id, version]),
        })
    }

    /// Whether `rows`, the count of rows the statement touched, is what it must be.
    fn check(&self, rows: u64) -> Result<(), Refusal<'a>> {
        match self {
            Write::Never(id) => Err(Refusal::Conflict(*id)),
            Write::Cursor(_) => Ok(()),
            _ if rows == 1 => Ok(()),
            Write::Channel { row, .. } => Err(Refusal::Conflict(row.id)),
            Write::Removal { removal, .. } => Err(Refusal::Conflict(removal.id)),
            Write::Payment { payment, .. } => Err(Refusal::Duplicate(payment)),
            Write::Fence { fence, .. } => Err(Refusal::Fenced(fence)),
        }
    }
}

/// The fast path: the whole batch in one go. `None` once committed; the connection back if a
/// write was refused (the transaction is rolled back), for [`stepwise`].
async fn pipelined(
    client: Object,
    statements: &Statements,
    writes: &[Write<'_>],
) -> Result<Option<Object>, StoreError> {
    type Pending<'f> =
        MaybeDone<Pin<Box<dyn Future<Output = Result<u64, tokio_postgres::Error>> + Send + 'f>>>;
    let open = Open::begin_later(client);
    let outcome = {
        let client = open.client()?;
        let mut pending: Vec<Pending<'_>> = Vec::with_capacity(writes.len().saturating_add(1));
        pending.push(maybe_done(Box::pin(async move {
            client.batch_execute("BEGIN").await.map(|()| 0)
        })));
        for write in writes {
            if let Some((statement, params)) = write.statement(statements) {
                pending.push(maybe_done(Box::pin(client.execute_raw(statement, params))));
            }
        }
        // Poll each request once, in order: that sends it (the client queues it for the
        // connection at its first poll), so the server gets them all, in this order, before
        // any answer is awaited.
        send_in_order(&mut pending);
        let mut counts = Vec::with_capacity(pending.len());
        for mut request in pending {
            (&mut request).await;
            counts.push(Pin::new(&mut request).take_output());
        }
        counts
    };
    let mut counts = outcome.into_iter();
    if let Some(Some(Err(error))) = counts.next() {
        // BEGIN failed: nothing ran in a transaction, and the connection is suspect.
        drop(open);
        return Err(pg_error(error));
    }
    let mut refused = false;
    for (write, count) in writes.iter().zip(counts) {
        match count {
            Some(Ok(rows)) => refused |= write.check(rows).is_err(),
            None => {
                return Err(StoreError::internal(
                    "a pipelined statement lost its outcome",
                ));
            }
            Some(Err(error)) => {
                // The first error; later statements failed because the transaction aborted.
                open.abandon().await;
                return Err(pg_error(error));
            }
        }
    }
    if refused {
        return open.end("ROLLBACK").await.map(Some);
    }
    open.end("COMMIT").await.map(|_| None)
}

/// Polls each of `requests` once, in order, with a waker that does nothing: each is then
/// queued for the connection (awaiting it later polls it again with the task's own waker).
fn send_in_order<F: Future + Unpin>(requests: &mut [F]) {
    let mut cx = Context::from_waker(Waker::noop());
    for request in requests {
        let _ = Pin::new(request).poll(&mut cx);
    }
}

/// The exact path: one statement at a time in a transaction, stopping at the first refusal.
async fn stepwise(
    client: Object,
    statements: &Statements,
    writes: &[Write<'_>],
) -> Result<(), StoreError> {
    let open = Open::begin_later(client);
    open.client()?
        .batch_execute("BEGIN")
        .await
        .map_err(pg_error)?;
    for write in writes {
        let rows = match write.statement(statements) {
            None => 0,
            Some((statement, params)) => {
                match open.client()?.execute_raw(statement, params).await {
                    Ok(rows) => rows,
                    Err(error) => {
                        open.abandon().await;
                        return Err(pg_error(error));
                    }
                }
            }
        };
        if let Err(refusal) = write.check(rows) {
            let error = match refusal {
                Refusal::Fenced(fence) => StoreError::Fenced {
                    lease: fence.lease.clone(),
                    token: fence.token,
                },
                Refusal::Duplicate(payment) => StoreError::DuplicatePayment {
                    channel_id: payment.channel_id,
                    direction: payment.direction,
                    sequence: payment.sequence,
                },
                Refusal::Conflict(channel_id) => {
                    let id = channel_id.0.as_slice();
                    let stored = open
                        .client()?
                        .query_opt(&statements.select_version, &[&id])
                        .await
                        .map_err(pg_error)?;
                    let stored_version = match stored {
                        None => 0,
                        Some(row) => u64_from_sql(queries::integer(&row, 0, "channels.version")?),
                    };
                    StoreError::Conflict {
                        channel_id,
                        stored_version,
                    }
                }
            };
            open.abandon().await;
            return Err(error);
        }
    }
    open.end("COMMIT").await.map(drop)
}

/// A connection inside a transaction. Ended by [`Open::end`]; dropped otherwise (a failure, or
/// the commit's future dropped), it takes the connection out of the pool and closes it, so
/// that the server rolls back and no one gets a connection in the middle of a transaction.
struct Open(Option<Object>);

impl Open {
    /// Wraps `client`, whose `BEGIN` is sent (or about to be).
    fn begin_later(client: Object) -> Self {
        Open(Some(client))
    }

    fn client(&self) -> Result<&Object, StoreError> {
        self.0
            .as_ref()
            .ok_or_else(|| StoreError::internal("the transaction's connection is gone"))
    }

    /// Sends `COMMIT` or `ROLLBACK`; answers the connection, back out of the transaction.
    async fn end(mut self, sql: &str) -> Result<Object, StoreError> {
        let client = self
            .0
            .take()
            .ok_or_else(|| StoreError::internal("the transaction's connection is gone"))?;
        match client.batch_execute(sql).await {
            Ok(()) => Ok(client),
            Err(error) => {
                // The outcome is unknown (for COMMIT): never reuse this connection.
                drop(Object::take(client));
                Err(pg_error(error))
            }
        }
    }
}

impl Open {
    /// Rolls back after a failure that is reported instead (a failed rollback closes the
    /// connection: the server rolls back then).
    async fn abandon(self) {
        let _ = self.end("ROLLBACK").await;
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            drop(Object::take(client));
        }
    }
}
