//! Group commit: the one thread that owns the write connection.
//!
//! Callers send their writes over a channel and await their own reply. The writer takes the
//! first waiting write and every other one already queued (up to [`MAX_GROUP`]), and applies
//! them all in one transaction, so they share one commit and, with
//! [`Durability::Full`](crate::Durability::Full), one `fsync`:
//!
//! ```text
//! BEGIN IMMEDIATE
//!   SAVEPOINT batch  ...write 1...  RELEASE batch                    -> Ok
//!   SAVEPOINT batch  ...write 2 fails...  ROLLBACK TO batch; RELEASE  -> Err(Conflict)
//!   SAVEPOINT batch  ...write 3...  RELEASE batch                    -> Ok
//! COMMIT                                                              -> replies sent
//! ```
//!
//! A write that fails is rolled back to its savepoint and fails alone; the others commit. The
//! replies are sent only after `COMMIT` returned, so `Ok` always means durable. If the group
//! transaction itself fails (`BEGIN` or `COMMIT`), every write of the group gets that error
//! and nothing is written.
//!
//! Reads of an in-memory database (which has a single connection) are served here too,
//! between groups.
//!
//! The write connection sits behind a mutex: the only commit under way, finding the queue
//! empty and the connection free, commits its one write itself ([`commit_one`], the same
//! group transaction with one write), and the writer takes the connection for each of its
//! groups.

use std::{
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use rusqlite::Connection;
use tokio::sync::{
    mpsc::{self, error::TryRecvError},
    oneshot,
};
use tracing::warn;

use super::{db_error, queries};
use crate::{Batch, Contact, StoreError};

/// The most writes merged into one transaction.
pub(crate) const MAX_GROUP: usize = 1024;

/// The reply to one write.
pub(crate) type Reply = oneshot::Sender<Result<(), StoreError>>;

/// A read run on the writer's connection (in-memory databases only).
pub(crate) type Read = Box<dyn FnOnce(&Connection) + Send>;

/// Work for the writer thread.
pub(crate) enum Job {
    /// Apply a batch.
    Commit {
        /// The batch.
        batch: Batch,
        /// Where its outcome goes.
        reply: Reply,
    },
    /// Set a setting.
    SetMeta {
        /// The setting.
        key: String,
        /// Its new value.
        value: String,
        /// Where the outcome goes.
        reply: Reply,
    },
    /// Store or remove a contact.
    Contact {
        /// What to do.
        change: ContactChange,
        /// Where the outcome goes.
        reply: Reply,
    },
    /// Run a read.
    Read(Read),
}

/// A change of the contacts.
pub(crate) enum ContactChange {
    /// Insert or replace.
    Put(Contact),
    /// Remove the alias.
    Remove(String),
}

/// Counters of the writer's work, shared with the store handle.
#[derive(Default)]
pub(crate) struct Counters {
    /// Group transactions committed.
    pub(crate) groups: AtomicU64,
    /// Writes committed (batches and settings).
    pub(crate) writes: AtomicU64,
}

/// The writer thread's loop: runs until every sender is gone. The connection is shared with
/// a lone committer that writes inline while the writer has nothing queued (see
/// `SqliteStore::commit_inline`); each group holds it for its transaction.
pub(crate) fn run(conn: &Mutex<Connection>, mut jobs: mpsc::Receiver<Job>, counters: &Counters) {
    let mut writes = Vec::new();
    let mut reads = Vec::new();
    let mut waiter = Waiter { spin: false };
    while let Some(first) = waiter.next(&mut jobs) {
        let mut next = Some(first);
        while let Some(job) = next {
            match job {
                Job::Read(read) => reads.push(read),
                write => writes.push(write),
            }
            next = if writes.len() < MAX_GROUP {
                jobs.try_recv().ok()
            } else {
                None
            };
        }
        let conn = lock(conn);
        if !writes.is_empty() {
            commit_group(&conn, &mut writes, counters);
        }
        for read in reads.drain(..) {
            read(&conn);
        }
    }
}

/// Locks the write connection. A panic while it was held cannot have left a transaction
/// half done behind an `Ok` (replies go out after `COMMIT`), and the next group rolls back
/// whatever is open: the poison is ignored.
pub(crate) fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Closes the write connection once the writer is gone (the last owner).
pub(crate) fn close(conn: Arc<Mutex<Connection>>) {
    let Ok(conn) = Arc::try_unwrap(conn) else {
        warn!("the store's write connection is still shared at close; it closes when dropped");
        return;
    };
    let conn = conn
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Err((_, error)) = conn.close() {
        warn!(%error, "closing the store's write connection failed");
    }
}

/// Commits one batch on its own, on the caller's thread: the group transaction with one
/// write in it.
pub(crate) fn commit_one(
    conn: &Connection,
    batch: Batch,
    counters: &Counters,
) -> Result<(), StoreError> {
    let (reply, mut outcome) = oneshot::channel();
    let mut writes = vec![Job::Commit { batch, reply }];
    commit_group(conn, &mut writes, counters);
    outcome
        .try_recv()
        .unwrap_or_else(|_| Err(StoreError::internal("the commit lost its outcome")))
}

/// Waits for the next job, spinning briefly first while traffic is dense.
///
/// Waking a parked thread costs tens of microseconds on a virtual machine (more than a
/// whole commit in [`Durability::Normal`](crate::Durability::Normal)), and a committer that
/// pays channel after channel sends its next write soon after it got its reply. So while
/// jobs keep arriving within [`DENSE`] of the writer parking, it first polls the queue for
/// up to [`SPIN`] (a pure spin: yielding to the OS scheduler instead was far slower on a
/// loaded machine); when traffic is sparse it parks at once and costs nothing.
struct Waiter {
    /// Whether the previous job came soon enough that the next one likely will too.
    spin: bool,
}

/// How long the writer polls for the next job before it parks.
const SPIN: Duration = Duration::from_micros(50);
/// A job that arrives within this time of parking means traffic is dense: spin next time.
const DENSE: Duration = Duration::from_micros(100);

impl Waiter {
    fn next(&mut self, jobs: &mut mpsc::Receiver<Job>) -> Option<Job> {
        match jobs.try_recv() {
            Ok(job) => return Some(job),
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => {}
        }
        if self.spin {
            let start = Instant::now();
            while start.elapsed() < SPIN {
                match jobs.try_recv() {
                    Ok(job) => return Some(job),
                    Err(TryRecvError::Disconnected) => return None,
                    Err(TryRecvError::Empty) => std::hint::spin_loop(),
                }
            }
        }
        let parked = Instant::now();
        let job = jobs.blocking_recv();
        self.spin = parked.elapsed() < DENSE;
        job
    }
}

/// Applies `writes` in one transaction and sends every reply.
fn commit_group(conn: &Connection, writes: &mut Vec<Job>, counters: &Counters) {
    let outcomes = apply_group(conn, writes);
    if let Ok(outcomes) = &outcomes {
        let committed = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
        if committed > 0 {
            counters.groups.fetch_add(1, Ordering::Relaxed);
            counters
                .writes
                .fetch_add(committed as u64, Ordering::Relaxed);
        }
    }
    let mut outcomes = match outcomes {
        Ok(outcomes) => outcomes.into_iter(),
        Err(error) => {
            warn!(%error, writes = writes.len(), "a group commit failed");
            vec![Err(error); writes.len()].into_iter()
        }
    };
    for job in writes.drain(..) {
        let outcome = outcomes.next().unwrap_or_else(|| {
            Err(StoreError::internal(
                "the group commit lost track of a write",
            ))
        });
        if let Job::Commit { reply, .. } | Job::SetMeta { reply, .. } | Job::Contact { reply, .. } =
            job
        {
            // The caller may have stopped waiting; its write stands either way.
            let _ = reply.send(outcome);
        }
    }
}

/// Runs the group transaction: the outcome of every write, or the error that failed the
/// whole group (nothing written).
fn apply_group(
    conn: &Connection,
    writes: &[Job],
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    if !conn.is_autocommit() {
        // A previous failure left a transaction open: end it before starting a new one.
        execute(conn, "ROLLBACK")?;
    }
    execute(conn, "BEGIN IMMEDIATE")?;
    let mut outcomes = Vec::with_capacity(writes.len());
    for job in writes {
        let outcome = execute(conn, "SAVEPOINT batch").and_then(|()| {
            let outcome = apply(conn, job);
            if outcome.is_ok() {
                execute(conn, "RELEASE batch")?;
            } else {
                execute(conn, "ROLLBACK TO batch")?;
                execute(conn, "RELEASE batch")?;
            }
            Ok(outcome)
        });
        match outcome {
            Ok(outcome) => outcomes.push(outcome),
            Err(error) => {
                // The savepoint machinery itself failed: the group's state is unknown.
                abandon(conn);
                return Err(error);
            }
        }
    }
    if outcomes.iter().any(Result::is_ok) {
        if let Err(error) = execute(conn, "COMMIT") {
            abandon(conn);
            return Err(error);
        }
    } else {
        execute(conn, "ROLLBACK")?;
    }
    Ok(outcomes)
}

/// Applies one write inside the group transaction.
fn apply(conn: &Connection, job: &Job) -> Result<(), StoreError> {
    match job {
        Job::Commit { batch, .. } => {
            for row in &batch.channels {
                queries::write_channel(conn, row)?;
            }
            for payment in &batch.payments {
                queries::insert_payment(conn, payment)?;
            }
            if let Some(cursor) = batch.ledger_cursor {
                queries::raise_cursor(conn, cursor)?;
            }
            for removal in &batch.removals {
                queries::remove_channel(conn, removal)?;
            }
            Ok(())
        }
        Job::SetMeta { key, value, .. } => queries::set_meta(conn, key, value),
        Job::Contact {
            change: ContactChange::Put(contact),
            ..
        } => queries::put_contact(conn, contact),
        Job::Contact {
            change: ContactChange::Remove(alias),
            ..
        } => queries::remove_contact(conn, alias),
        Job::Read(_) => Err(StoreError::internal("a read was queued as a write")),
    }
}

fn execute(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut statement| statement.execute([]))
        .map_err(db_error)?;
    Ok(())
}

/// Rolls back whatever is open after a failure, logging if even that fails (the next group
/// retries it).
fn abandon(conn: &Connection) {
    if !conn.is_autocommit()
        && let Err(error) = execute(conn, "ROLLBACK")
    {
        warn!(%error, "rolling back a failed group commit failed");
    }
}
