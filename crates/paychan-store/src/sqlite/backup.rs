//! Online backup and restore of a SQLite store file, through SQLite's backup API.
//!
//! [`backup`] copies a store while a node may be writing to it: it reads the source through
//! its own connection, and copies every page in one step, so inside one read transaction: the
//! copy is the database as of one commit, never a mix of two (in write-ahead-log mode a
//! reader does not block the writer, so the node goes on meanwhile). The copy is written to a
//! temporary file beside the destination, switched to a rollback journal (one self-contained
//! file, no `-wal` beside it), checked (`PRAGMA integrity_check`, a paychan schema this code
//! knows), synced, and only then renamed to the destination: a backup that fails leaves no
//! file that looks like a backup.
//!
//! [`restore`] puts a backup in place of a store that no process has open (the caller makes
//! sure of that: `paychan restore` holds the data directory's lock). It checks the backup the
//! same way first, keeps the current store (with its `-wal` and `-shm` files) beside it under
//! a new name, and copies the backup in.

use std::{
    fs,
    path::{Path, PathBuf},
    thread,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use rusqlite::{
    Connection, OpenFlags,
    backup::{Backup, StepResult},
};

use super::{db_error, open_error, schema};
use crate::StoreError;

/// How many times a busy source is retried, [`BUSY_PAUSE`] apart.
const BUSY_TRIES: u32 = 200;
const BUSY_PAUSE: Duration = Duration::from_millis(25);

/// What a backup or a restore copied.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackupReport {
    /// The file written.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// The channels it holds.
    pub channels: u64,
    /// The payments of its history.
    pub payments: u64,
    /// Where a restore kept the store it replaced (`None` for a backup, or if there was none).
    pub replaced: Option<PathBuf>,
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> StoreError {
    move |e| StoreError::unavailable(format!("{what}: {e}"))
}

fn open_existing(path: &Path) -> Result<Connection, StoreError> {
    if !path.is_file() {
        return Err(StoreError::unavailable(format!(
            "{} does not exist or is not a file",
            path.display()
        )));
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(path, e))?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(db_error)?;
    Ok(conn)
}

/// Checks that `conn` holds an intact paychan store this code can read; answers its channel
/// and payment counts.
fn check(conn: &Connection, path: &Path) -> Result<(u64, u64), StoreError> {
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .map_err(|e| open_error(path, e))?;
    if integrity != "ok" {
        return Err(StoreError::corrupt(format!(
            "{} fails SQLite's integrity check: {integrity}",
            path.display()
        )));
    }
    schema::check_readable(conn)?;
    let count = |table: &str| -> Result<u64, StoreError> {
        let n: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
                row.get(0)
            })
            .map_err(db_error)?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    Ok((count("channels")?, count("payments")?))
}

/// Copies every page of `from` into `to` in one step (one read transaction of the source).
fn copy(from: &Connection, to: &mut Connection) -> Result<(), StoreError> {
    let backup = Backup::new(from, to).map_err(db_error)?;
    for _ in 0..BUSY_TRIES {
        match backup.step(-1).map_err(db_error)? {
            StepResult::Done => return Ok(()),
            // -1 copies everything at once; anything else means the source was busy.
            _ => thread::sleep(BUSY_PAUSE),
        }
    }
    Err(StoreError::unavailable(
        "the database stayed busy: try the backup again",
    ))
}

/// Writes a checked, self-contained copy of the database `from` to `tmp`.
fn write_copy(from: &Connection, tmp: &Path) -> Result<(u64, u64), StoreError> {
    let mut to = Connection::open(tmp).map_err(|e| open_error(tmp, e))?;
    copy(from, &mut to)?;
    // One file: no write-ahead log beside the copy.
    let mode: String = to
        .query_row("PRAGMA journal_mode = DELETE", [], |row| row.get(0))
        .map_err(db_error)?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(StoreError::unavailable(format!(
            "cannot leave write-ahead-log mode in {} (SQLite answered {mode})",
            tmp.display()
        )));
    }
    let counts = check(&to, tmp)?;
    to.close().map_err(|(_, e)| db_error(e))?;
    fs::File::open(tmp)
        .and_then(|f| f.sync_all())
        .map_err(io(format!("cannot sync {}", tmp.display())))?;
    Ok(counts)
}

fn temporary(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".partial-{}", std::process::id()));
    path.with_file_name(name)
}

fn sync_dir(path: &Path) {
    // Makes the rename durable where directories can be synced (not on every platform).
    if let Some(dir) = path.parent()
        && let Ok(dir) = fs::File::open(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        })
    {
        let _ = dir.sync_all();
    }
}

/// Copies `from` to `dest`, `tmp` first, then renamed.
fn copy_to(from: &Connection, dest: &Path) -> Result<(u64, u64), StoreError> {
    let tmp = temporary(dest);
    let _ = fs::remove_file(&tmp);
    let result = write_copy(from, &tmp).and_then(|counts| {
        fs::rename(&tmp, dest).map_err(io(format!(
            "cannot rename {} to {}",
            tmp.display(),
            dest.display()
        )))?;
        sync_dir(dest);
        Ok(counts)
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn report(path: &Path, (channels, payments): (u64, u64)) -> Result<BackupReport, StoreError> {
    let bytes = fs::metadata(path)
        .map_err(io(format!("cannot read {}", path.display())))?
        .len();
    Ok(BackupReport {
        path: path.to_path_buf(),
        bytes,
        channels,
        payments,
        replaced: None,
    })
}

/// Backs up the store at `store` to the new file `dest`, consistently even while a node
/// writes to the store (see the [module docs](self)). Refuses to overwrite `dest`.
pub fn backup(store: &Path, dest: &Path) -> Result<BackupReport, StoreError> {
    if dest.exists() {
        return Err(StoreError::unavailable(format!(
            "{} exists already: choose a new file name",
            dest.display()
        )));
    }
    let from = open_existing(store)?;
    schema::check_readable(&from)?;
    let counts = copy_to(&from, dest)?;
    report(dest, counts)
}

/// Replaces the store at `store` with the backup `backup`, which it checks first. The
/// current store, if any, is kept beside it as `<store>.before-restore-<unix time>` (with its
/// `-wal` and `-shm` files). No process may have `store` open.
pub fn restore(backup: &Path, store: &Path) -> Result<BackupReport, StoreError> {
    let from = open_existing(backup)?;
    check(&from, backup)?;
    let replaced = if store.exists() {
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut aside = store.as_os_str().to_os_string();
        aside.push(format!(".before-restore-{stamp}"));
        let aside = PathBuf::from(aside);
        for suffix in ["", "-wal", "-shm"] {
            let mut file = store.as_os_str().to_os_string();
            file.push(suffix);
            let file = PathBuf::from(file);
            if file.exists() {
                let mut target = aside.as_os_str().to_os_string();
                target.push(suffix);
                fs::rename(&file, &target)
                    .map_err(io(format!("cannot move {} aside", file.display())))?;
            }
        }
        sync_dir(store);
        Some(aside)
    } else {
        None
    };
    let counts = copy_to(&from, store)?;
    let mut report = report(store, counts)?;
    report.replaced = replaced;
    Ok(report)
}
