//! A local anvil node for tests and demos (feature `testkit`): started on a free loopback port
//! chosen by anvil itself (`--port 0`), whose address is read from anvil's own
//! `Listening on …` line, and killed when dropped.
//!
//! The binary is, in order: `$PAYCHAN_ANVIL`; the one the project's npm package installs
//! (`contracts/node_modules/@foundry-rs/anvil-<platform>/bin/anvil`, after `npm ci` in
//! `contracts/`); `anvil` on the `PATH`.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

/// The chain id of the anvil node.
pub const ANVIL_CHAIN_ID: u64 = 31337;
/// How long anvil may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running anvil process.
#[derive(Debug)]
pub struct Anvil {
    child: Child,
    url: String,
}

/// Why anvil could not be started.
#[derive(Debug, thiserror::Error)]
pub enum AnvilError {
    /// No anvil binary was found.
    #[error(
        "anvil not found: run `npm ci` in contracts/ (it installs the pinned @foundry-rs/anvil), \
         or set PAYCHAN_ANVIL to an anvil binary (looked in: {0})"
    )]
    NotFound(String),
    /// The binary could not be run or did not start listening.
    #[error("anvil ({path}) did not start: {reason}")]
    Start {
        /// The binary.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

/// The `contracts/` directory of the source tree this crate was built from.
pub fn contracts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts")
}

/// Finds the anvil binary (see the module docs).
pub fn find_anvil() -> Result<PathBuf, AnvilError> {
    let mut looked = vec![];
    if let Some(p) = std::env::var_os("PAYCHAN_ANVIL") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        return Err(AnvilError::NotFound(format!(
            "PAYCHAN_ANVIL={}",
            p.display()
        )));
    }
    let npm = contracts_dir().join("node_modules/@foundry-rs");
    looked.push(npm.display().to_string());
    if let Ok(dir) = std::fs::read_dir(&npm) {
        let mut candidates: Vec<PathBuf> = dir
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin/anvil"))
            .filter(|p| p.is_file())
            .collect();
        candidates.sort();
        if let Some(p) = candidates.into_iter().next() {
            return Ok(p);
        }
    }
    looked.push("PATH".into());
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("anvil");
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(AnvilError::NotFound(looked.join(", ")))
}

impl Anvil {
    /// Starts anvil on a free loopback port with `extra` arguments.
    pub fn spawn(extra: &[&str]) -> Result<Anvil, AnvilError> {
        let path = find_anvil()?;
        let fail = |reason: String| AnvilError::Start {
            path: path.display().to_string(),
            reason,
        };
        let mut child = Command::new(&path)
            .args(["--host", "127.0.0.1", "--port", "0", "--accounts", "1"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| fail(e.to_string()))?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            return Err(fail("no stdout".into()));
        };
        let (tx, rx) = mpsc::channel();
        // Reads anvil's output: the listening address first, then drains it so anvil never
        // blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !sent && let Some(addr) = line.strip_prefix("Listening on ") {
                    sent = tx.send(addr.trim().to_string()).is_ok();
                }
            }
        });
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(addr) => Ok(Anvil {
                child,
                url: format!("http://{addr}"),
            }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(fail(format!(
                    "no `Listening on` line within {START_TIMEOUT:?}"
                )))
            }
        }
    }

    /// The node's HTTP endpoint.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
