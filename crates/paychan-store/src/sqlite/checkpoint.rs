//! Checkpoints of the write-ahead log, off the commit path.
//!
//! SQLite copies the log back into the database file in a *checkpoint*. By default the
//! connection that commits runs one whenever the log passes 1,000 pages, and that commit,
//! with every commit queued behind it, waits for some megabytes of page copies and two
//! `fsync`s (with `synchronous = NORMAL` a commit never syncs, a checkpoint does). In
//! `paychan bench` these stalls set the 99th percentile latency: 16 ms with them, 4.5 ms
//! without.
//!
//! So the write connection does not checkpoint on its own; this thread does, with a
//! connection of its own:
//!
//! 1. After every commit the log reports its size (SQLite's WAL hook). Once it has grown by
//!    [`CHECKPOINT_PAGES`] since the last checkpoint, the commit wakes the checkpointer and
//!    goes on.
//! 2. The checkpointer runs a `PASSIVE` checkpoint on its own connection: it copies what the
//!    log held when it started, with its syncs, while commits go on appending. Commits do not
//!    wait for it.
//! 3. SQLite starts the log over from its beginning only when a commit finds it copied
//!    completely, which the frames appended during step 2 prevent under steady load. So once
//!    the log has reached [`RESTART_PAGES`], the checkpointer then takes the write connection
//!    (commits wait) and checkpoints the frames appended meanwhile on it: the next commit
//!    starts the log over.
//!
//! Commits thus wait only for step 3, once per [`RESTART_PAGES`] pages: a few frames' copy
//! and two `fsync`s. Doing it only every 8,192 pages rather than at every checkpoint cut the
//! number of these stalls eightfold, which `paychan bench`'s latency run shows in its 99th
//! percentile; the log grows to about 32 MiB for it. If the checkpointer falls far behind, a
//! commit that finds the log at [`BACKSTOP_PAGES`] checkpoints itself, as SQLite would.
//! In-memory databases have no log and no checkpointer.

use std::{
    ffi::c_int,
    path::Path,
    sync::{
        Arc, Mutex, OnceLock, Weak,
        atomic::{AtomicBool, AtomicI32, Ordering},
    },
    thread::{JoinHandle, Thread},
};

use rusqlite::{Connection, OpenFlags, hooks::Wal, wal::CheckpointMode};
use tracing::warn;

use super::{schema, writer};
use crate::{Durability, StoreError};

/// Pages appended to the log after which the checkpointer is woken (SQLite's own default for
/// its automatic checkpoint).
const CHECKPOINT_PAGES: c_int = 1_000;
/// The log size, in pages, from which a checkpoint completes on the write connection so that
/// the log starts over (32 MiB with 4 KiB pages).
const RESTART_PAGES: c_int = 8_192;
/// The log size at which a commit checkpoints on its own, as SQLite would: only reached if
/// the checkpointer cannot keep up.
const BACKSTOP_PAGES: c_int = 4 * RESTART_PAGES;

/// What commits tell the checkpointer.
#[derive(Default)]
pub(crate) struct WalState {
    /// A checkpoint was asked for and has not finished.
    pending: AtomicBool,
    /// The log's size, in pages, when the last checkpoint ran.
    checkpointed_at: AtomicI32,
    /// The store is closing.
    stop: AtomicBool,
    /// The checkpointer thread.
    thread: OnceLock<Thread>,
}

impl WalState {
    /// The WAL hook of the write connection: called after each commit with the log's size.
    ///
    /// Never fails: SQLite would report an error of the hook as the commit's although the
    /// commit happened, and the caller would take a durable write for a lost one. A failed
    /// backstop checkpoint is logged and tried again at the next commit.
    fn written(&self, wal: &mut Wal, pages: c_int) -> rusqlite::Result<()> {
        if pages >= BACKSTOP_PAGES {
            warn!(
                pages,
                "the write-ahead log outgrew the checkpointer: checkpointing inline"
            );
            if let Err(error) = wal.checkpoint_v2(CheckpointMode::PASSIVE) {
                warn!(%error, "the inline checkpoint failed");
            }
        } else if self.grown_since_checkpoint(pages) >= CHECKPOINT_PAGES
            && !self.pending.swap(true, Ordering::AcqRel)
            && let Some(thread) = self.thread.get()
        {
            thread.unpark();
        }
        Ok(())
    }

    /// How many pages the log has grown by since the last checkpoint, now that it has `pages`
    /// (all of them if it was started over meanwhile).
    fn grown_since_checkpoint(&self, pages: c_int) -> c_int {
        let last = self.checkpointed_at.load(Ordering::Acquire);
        if pages < last {
            pages
        } else {
            pages.saturating_sub(last)
        }
    }
}

/// Installs the WAL hook on the write connection `write` (replacing SQLite's automatic
/// checkpoint there); its commits then wake the checkpointer started with the answered state.
pub(crate) fn install(write: &mut Connection) -> Result<Arc<WalState>, StoreError> {
    let state = Arc::new(WalState::default());
    let hook = Arc::clone(&state);
    write
        .wal_hook(Some(move |wal: &mut Wal, pages| hook.written(wal, pages)))
        .map_err(super::db_error)?;
    Ok(state)
}

/// The running checkpointer of a file database. Dropping it stops the thread.
pub(crate) struct Checkpointer {
    state: Arc<WalState>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the checkpointer of the database at `path`, whose write connection is `write`
    /// with the hook [`install`]ed that gave `state`.
    pub(crate) fn start(
        path: &Path,
        durability: Durability,
        write: Weak<Mutex<Connection>>,
        state: Arc<WalState>,
    ) -> Result<Self, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .and_then(|conn| {
                // A checkpoint syncs as its connection's `synchronous` says: as the writer.
                schema::configure_writer(&conn, durability, true)?;
                Ok(conn)
            })
            .map_err(super::db_error)?;
        let thread_state = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name("paychan-store-checkpoint".to_owned())
            .spawn(move || run(&conn, &write, &thread_state))
            .map_err(StoreError::unavailable)?;
        // A commit before this finds no thread to wake; the loop sees its request first thing.
        let _ = state.thread.set(thread.thread().clone());
        Ok(Checkpointer {
            state,
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            if thread.join().is_err() {
                warn!("the store's checkpoint thread panicked");
            }
        }
    }
}

/// The checkpointer's loop, until the store closes.
fn run(conn: &Connection, write: &Weak<Mutex<Connection>>, state: &WalState) {
    while !state.stop.load(Ordering::Acquire) {
        if !state.pending.load(Ordering::Acquire) {
            // Woken by a commit (or the store closing); a spurious wake-up just loops.
            std::thread::park();
            continue;
        }
        // The bulk of the work, with its syncs, while commits go on.
        let last = state.checkpointed_at.load(Ordering::Acquire);
        let mut checkpointed_at = match passive(conn) {
            Ok(log) => log,
            Err(error) => {
                warn!(%error, "a checkpoint of the write-ahead log failed");
                last.saturating_add(CHECKPOINT_PAGES)
            }
        };
        // Commits appended meanwhile keep the log from starting over: once it is long, the
        // rest on the write connection, after which the next commit starts it over.
        if checkpointed_at >= RESTART_PAGES {
            let Some(write) = write.upgrade() else { return };
            let outcome = passive(&writer::lock(&write));
            drop(write);
            // If a reader kept the log from starting over, the next checkpoint comes after
            // another CHECKPOINT_PAGES, not at the next commit.
            match outcome {
                Ok(log) => checkpointed_at = log,
                Err(error) => {
                    warn!(%error, "completing a checkpoint of the write-ahead log failed");
                }
            }
        }
        state
            .checkpointed_at
            .store(checkpointed_at, Ordering::Release);
        state.pending.store(false, Ordering::Release);
    }
}

/// Runs a `PASSIVE` checkpoint on `conn`: answers the log's size in pages when it started.
fn passive(conn: &Connection) -> rusqlite::Result<c_int> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_is_due_after_checkpoint_pages_more_or_of_a_log_started_over() {
        let state = WalState::default();
        assert_eq!(state.grown_since_checkpoint(999), 999, "none yet");
        state.checkpointed_at.store(5_000, Ordering::Release);
        assert_eq!(state.grown_since_checkpoint(5_500), 500);
        assert_eq!(state.grown_since_checkpoint(6_000), CHECKPOINT_PAGES);
        // Started over since: the log's whole size is new.
        assert_eq!(state.grown_since_checkpoint(300), 300);
        assert_eq!(state.grown_since_checkpoint(1_200), 1_200);
    }
}
