//! One `paychan node` per data directory: an exclusive lock on `node.lock` in the directory,
//! held for the life of the process (the operating system releases it when the process
//! ends, however it ends), as `paychan ledger serve` locks its journal. The file holds the
//! holder's process id, so that a second node can name it.

use std::{
    fs::{File, OpenOptions},
    io::{Read, Seek, SeekFrom, Write},
    path::Path,
};

use anyhow::{Context, Result, bail};

/// The lock file's name in the data directory.
pub(crate) const LOCK_FILE: &str = "node.lock";

/// The held lock; dropping it releases the directory.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

/// Locks `dir` for this process, or fails naming the process that holds it.
pub(crate) fn lock(dir: &Path) -> Result<DirLock> {
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    if file.try_lock().is_err() {
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        let holder = holder.trim();
        let who = if holder.is_empty() {
            "another process".to_owned()
        } else {
            format!("another `paychan node` (pid {holder})")
        };
        bail!(
            "the data directory {} is in use by {who}: stop it first, or give this node its own --data-dir (lock file {})",
            dir.display(),
            path.display()
        );
    }
    let pid = std::process::id();
    file.set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| writeln!(file, "{pid}"))
        .and_then(|()| file.flush())
        .with_context(|| format!("cannot write the lock file {}", path.display()))?;
    Ok(DirLock { _file: file })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_directory_is_locked_once_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock(dir.path()).unwrap();
        let refused = format!("{:#}", lock(dir.path()).unwrap_err());
        assert!(
            refused.contains(&format!("pid {}", std::process::id())),
            "{refused}"
        );
        drop(held);
        lock(dir.path()).unwrap();
    }
}
