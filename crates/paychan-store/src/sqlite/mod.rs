//! The SQLite backend: the embedded default store of a node.
//!
//! - One file, in write-ahead-log mode, `synchronous = NORMAL` or `FULL` per [`Durability`].
//! - Writes go to one dedicated thread that owns the write connection and merges concurrent
//!   commits into one transaction (group commit, see `writer.rs`): many channels share one
//!   commit and one sync, and each caller still gets its own outcome.
//! - Except when nobody else is writing: with [`Durability::Normal`] a commit with no other
//!   commit under way runs on the caller's thread (see `SqliteStore::commit_inline`). A
//!   `Normal` commit costs about 15 µs of SQLite work, and on a virtual machine waking a
//!   parked thread can cost as much or more, twice per commit (to the writer and back).
//! - While commits keep coming, the writer polls its queue for up to 50 µs before it parks
//!   (see `writer.rs`). Committers do not poll for their reply: measured on a loaded 2-core
//!   VM (where the node's other work keeps the CPUs busy), polling on both sides made
//!   sequential commits three to four times slower, because busy threads lose the
//!   scheduler's preference for threads that wake from sleep.
//! - The log is checkpointed by a thread of its own, so that commits do not wait for
//!   checkpoints (see `checkpoint.rs`).
//! - Reads run on a small pool of read connections on tokio's blocking threads; the log lets
//!   them proceed while the writer writes, and they see every commit that has returned.
//! - The schema is migrated step by step on open (see `schema.rs`); a database written by a
//!   newer paychan is refused.
//!
//! - [`backup`] copies a store while a node writes to it (SQLite's online backup) and puts a
//!   backup back in place.
//!
//! The store is meant to be used from a tokio runtime (reads run on `spawn_blocking`).

pub mod backup;
mod checkpoint;
mod queries;
mod schema;
mod writer;

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    thread::JoinHandle,
};

use async_trait::async_trait;
use paychan_core::{Address, ChannelId};
use rusqlite::{Connection, ErrorCode, OpenFlags};
use tokio::sync::{mpsc, oneshot};
use tracing::error;

pub use self::schema::{APPLICATION_ID, SCHEMA_VERSION};
use self::{
    checkpoint::Checkpointer,
    writer::{ContactChange, Counters, Job},
};
use crate::{Batch, ChannelRow, Contact, Direction, Durability, PaymentRow, Store, StoreError};

/// How many writes may wait for the writer before `commit` itself waits.
const QUEUE: usize = 4096;
/// How many idle read connections are kept open.
const IDLE_READERS: usize = 4;

/// The SQLite store. See the [module docs](self).
///
/// Dropping it waits for the writes already queued, then closes the database.
pub struct SqliteStore {
    /// Feeds the writer thread; `None` only while dropping.
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<JoinHandle<()>>,
    /// The write connection, shared with the writer thread (see [`Self::commit_inline`]);
    /// `None` only while dropping.
    conn: Option<Arc<Mutex<Connection>>>,
    /// Checkpoints the write-ahead log (file databases).
    checkpointer: Option<Checkpointer>,
    /// Commits under way (inline or queued, until their outcome is known).
    committing: AtomicUsize,
    readers: Readers,
    counters: Arc<Counters>,
    durability: Durability,
}

/// Where reads run.
enum Readers {
    /// A file database: a pool of read connections.
    Pool(Arc<ReadPool>),
    /// An in-memory database: its only connection, the writer's.
    Writer,
}

/// What the group commit has done so far (see [`SqliteStore::stats`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct CommitStats {
    /// Transactions committed: each one synced once.
    pub groups: u64,
    /// Writes (batches and settings) committed in them; `writes / groups` is the average
    /// number of writes that shared a sync.
    pub writes: u64,
}

impl SqliteStore {
    /// Opens (creating it if needed) the database at `path` and migrates it to
    /// [`SCHEMA_VERSION`].
    ///
    /// Blocks on file IO: in async code, call it before serving or from `spawn_blocking`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] if the file is not a paychan database,
    /// [`StoreError::SchemaTooNew`] if a newer paychan wrote it, [`StoreError::Migration`] if
    /// a migration step failed, [`StoreError::Unavailable`] if it cannot be opened (missing
    /// directory, permissions, locked by another process beyond the busy timeout).
    pub fn open(path: impl AsRef<Path>, durability: Durability) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn =
            Connection::open_with_flags(&path, flags).map_err(|e| open_error(&path, e))?;
        schema::configure_writer(&conn, durability, true).map_err(|e| open_error(&path, e))?;
        schema::migrate(&mut conn)?;
        let pool = Arc::new(ReadPool {
            path: path.clone(),
            idle: Mutex::new(Vec::new()),
        });
        // Open one reader now, so that a problem shows at open rather than at the first read.
        let reader = pool.connect()?;
        pool.put_back(reader);
        let wal = checkpoint::install(&mut conn)?;
        let mut store = Self::start(conn, Readers::Pool(pool), durability)?;
        if let Some(conn) = &store.conn {
            store.checkpointer = Some(Checkpointer::start(
                &path,
                durability,
                Arc::downgrade(conn),
                wal,
            )?);
        }
        Ok(store)
    }

    /// A fresh database in memory, for tests: nothing survives the handle.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let mut conn = Connection::open_in_memory().map_err(db_error)?;
        schema::configure_writer(&conn, Durability::Normal, false).map_err(db_error)?;
        schema::migrate(&mut conn)?;
        Self::start(conn, Readers::Writer, Durability::Normal)
    }

    fn start(
        conn: Connection,
        readers: Readers,
        durability: Durability,
    ) -> Result<Self, StoreError> {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let counters = Arc::new(Counters::default());
        let writer_counters = Arc::clone(&counters);
        let conn = Arc::new(Mutex::new(conn));
        let writer_conn = Arc::clone(&conn);
        let writer = std::thread::Builder::new()
            .name("paychan-store-writer".to_owned())
            .spawn(move || writer::run(&writer_conn, queue, &writer_counters))
            .map_err(StoreError::unavailable)?;
        Ok(SqliteStore {
            jobs: Some(jobs),
            writer: Some(writer),
            conn: Some(conn),
            checkpointer: None,
            committing: AtomicUsize::new(0),
            readers,
            counters,
            durability,
        })
    }

    /// The durability the store was opened with.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// What the group commit has done since the store was opened.
    pub fn stats(&self) -> CommitStats {
        CommitStats {
            groups: self.counters.groups.load(Ordering::Relaxed),
            writes: self.counters.writes.load(Ordering::Relaxed),
        }
    }

    /// How many writes are queued for the writer, not yet taken into a group.
    pub fn queued_writes(&self) -> usize {
        self.jobs.as_ref().map_or(0, |jobs| {
            jobs.max_capacity().saturating_sub(jobs.capacity())
        })
    }

    async fn send(&self, job: Job) -> Result<(), StoreError> {
        let jobs = self.jobs.as_ref().ok_or_else(writer_stopped)?;
        jobs.send(job).await.map_err(|_| writer_stopped())
    }

    /// Commits `batch` right here, on the caller's thread, if it is the only commit under
    /// way and the store is [`Durability::Normal`] (no `fsync`: a commit is some 15 µs of
    /// SQLite work). Answers the batch back otherwise, for the writer's queue.
    ///
    /// The writer thread is the way to group concurrent commits (the pipelined bench puts
    /// 2.5 writes in a group that way, and 1.2 if every commit tries to go inline first),
    /// but for a lone committer it costs two thread wake-ups per commit (to the writer and
    /// back), each as long as the commit itself or longer on a virtual machine. A commit done
    /// here is the same group transaction with one write in it, so its outcome and
    /// durability are those of the writer's.
    fn commit_inline(&self, batch: Batch, alone: bool) -> Result<Result<(), StoreError>, Batch> {
        if !alone || self.durability != Durability::Normal || self.queued_writes() > 0 {
            return Err(batch);
        }
        let Some(conn) = &self.conn else {
            return Err(batch);
        };
        let conn = match conn.try_lock() {
            Ok(conn) => conn,
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Err(batch),
        };
        Ok(writer::commit_one(&conn, batch, &self.counters))
    }

    async fn write(&self, job: impl FnOnce(writer::Reply) -> Job) -> Result<(), StoreError> {
        let (reply, outcome) = oneshot::channel();
        self.send(job(reply)).await?;
        outcome.await.map_err(|_| writer_stopped())?
    }

    /// Runs `read` on a read connection.
    async fn read<T, F>(&self, read: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        match &self.readers {
            Readers::Pool(pool) => {
                let pool = Arc::clone(pool);
                tokio::task::spawn_blocking(move || pool.run(read))
                    .await
                    .map_err(StoreError::internal)?
            }
            Readers::Writer => {
                let (reply, outcome) = oneshot::channel();
                self.send(Job::Read(Box::new(move |conn| {
                    // The caller may have stopped waiting.
                    let _ = reply.send(read(conn));
                })))
                .await?;
                outcome.await.map_err(|_| writer_stopped())?
            }
        }
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let location = match &self.readers {
            Readers::Pool(pool) => pool.path.display().to_string(),
            Readers::Writer => ":memory:".to_owned(),
        };
        f.debug_struct("SqliteStore")
            .field("location", &location)
            .field("durability", &self.durability)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Closing the queue lets the writer finish what is queued; then the database closes.
        drop(self.jobs.take());
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            error!("the store's writer thread panicked");
        }
        drop(self.checkpointer.take());
        if let Some(conn) = self.conn.take() {
            writer::close(conn);
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        if batch.fence.is_some() {
            // One process holds the database (its directory is locked): nothing to fence.
            return Err(StoreError::Unsupported { what: "leases" });
        }
        let alone = self.committing.fetch_add(1, Ordering::AcqRel) == 0;
        let _done = Finished(&self.committing);
        match self.commit_inline(batch, alone) {
            Ok(outcome) => outcome,
            Err(batch) => self.write(|reply| Job::Commit { batch, reply }).await,
        }
    }

    async fn channels(&self) -> Result<Vec<ChannelRow>, StoreError> {
        self.read(queries::channels).await
    }

    async fn channel(&self, id: ChannelId) -> Result<Option<ChannelRow>, StoreError> {
        self.read(move |conn| queries::channel(conn, id)).await
    }

    async fn channels_for_peer(&self, peer: Address) -> Result<Vec<ChannelRow>, StoreError> {
        self.read(move |conn| queries::channels_for_peer(conn, peer))
            .await
    }

    async fn payments(
        &self,
        channel: ChannelId,
        direction: Direction,
        limit: u32,
        before: Option<u64>,
    ) -> Result<Vec<PaymentRow>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.read(move |conn| queries::payments(conn, channel, direction, limit, before))
            .await
    }

    async fn ledger_cursor(&self) -> Result<u64, StoreError> {
        self.read(queries::ledger_cursor).await
    }

    async fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        let key = key.to_owned();
        self.read(move |conn| queries::meta(conn, &key)).await
    }

    async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.write(|reply| Job::SetMeta { key, value, reply }).await
    }

    async fn contacts(&self) -> Result<Vec<Contact>, StoreError> {
        self.read(queries::contacts).await
    }

    async fn contact(&self, alias: &str) -> Result<Option<Contact>, StoreError> {
        let alias = alias.to_owned();
        self.read(move |conn| queries::contact(conn, &alias)).await
    }

    async fn put_contact(&self, contact: &Contact) -> Result<(), StoreError> {
        let change = ContactChange::Put(contact.clone());
        self.write(|reply| Job::Contact { change, reply }).await
    }

    async fn remove_contact(&self, alias: &str) -> Result<bool, StoreError> {
        if self.contact(alias).await?.is_none() {
            return Ok(false);
        }
        let change = ContactChange::Remove(alias.to_owned());
        self.write(|reply| Job::Contact { change, reply }).await?;
        Ok(true)
    }
}

/// Counts a commit as finished when dropped (also when its caller stops waiting).
struct Finished<'a>(&'a AtomicUsize);

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Idle read connections of a file database.
struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    /// Runs `read` on an idle connection, or a new one.
    fn run<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match idle {
            Some(conn) => conn,
            None => self.connect()?,
        };
        let outcome = read(&conn);
        // A connection that failed may be broken: let it go.
        if outcome.is_ok() {
            self.put_back(conn);
        }
        outcome
    }

    fn connect(&self) -> Result<Connection, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)
            .map_err(|e| open_error(&self.path, e))?;
        schema::configure_reader(&conn).map_err(|e| open_error(&self.path, e))?;
        Ok(conn)
    }

    fn put_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < IDLE_READERS
        {
            idle.push(conn);
        }
    }
}

/// The error of every operation once the writer thread is gone.
fn writer_stopped() -> StoreError {
    StoreError::internal("the store's writer thread has stopped")
}

/// Classifies an SQLite error by what the caller should do.
pub(crate) fn db_error(error: rusqlite::Error) -> StoreError {
    match &error {
        rusqlite::Error::SqliteFailure(failure, _) => match failure.code {
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::CannotOpen
            | ErrorCode::PermissionDenied
            | ErrorCode::ReadOnly
            | ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure
            | ErrorCode::OutOfMemory
            | ErrorCode::FileLockingProtocolFailed => StoreError::unavailable(error),
            ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt => {
                StoreError::corrupt(error.to_string())
            }
            _ => StoreError::internal(error),
        },
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::Utf8Error(..) => StoreError::corrupt(error.to_string()),
        _ => StoreError::internal(error),
    }
}

/// [`db_error`], naming the file when it is not a database.
fn open_error(path: &Path, error: rusqlite::Error) -> StoreError {
    match error.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreError::corrupt(format!(
            "{} is not a database (SQLite: {error})",
            path.display()
        )),
        Some(ErrorCode::CannotOpen) => {
            StoreError::unavailable(format!("cannot open {}: {error}", path.display()))
        }
        _ => db_error(error),
    }
}
