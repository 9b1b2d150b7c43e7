//! What the process tests share: the `paychan` binary as a command, free ports, and child
//! processes that are killed when dropped, with their output in a log file.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub(crate) mod nodes;
pub(crate) mod paid;

use std::{
    fs::{self, OpenOptions},
    io::Write,
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    thread::sleep,
    time::{Duration, Instant},
};

/// How long a process may take to become ready (builds and CI machines are slow).
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The `paychan` binary under test, with no passphrase or data directory from the
/// environment and no input.
pub(crate) fn command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_paychan"));
    command
        .env_remove("PAYCHAN_PASSPHRASE")
        .env_remove("PAYCHAN_DATA_DIR")
        .stdin(Stdio::null());
    command
}

/// A loopback port free at the time of asking (prefer a port read from the program's own
/// banner: another test may take this one first).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether something accepts connections on loopback `port`.
pub(crate) fn listening(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// The port in the first `127.0.0.1:PORT` that follows `prefix` in `log`.
pub(crate) fn port_after(log: &str, prefix: &str) -> Option<u16> {
    log.split(prefix)
        .nth(1)?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// A child process killed (SIGKILL) when dropped; its output appended to a log file.
pub(crate) struct Process {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Starts `command` as `name`, its output appended to `log`.
    pub(crate) fn spawn(name: &str, mut command: Command, log: &Path) -> Process {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        writeln!(file, "===== {name} starts =====").unwrap();
        let child = command
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {name}: {e}"));
        Process {
            name: name.to_owned(),
            child,
            log: log.to_path_buf(),
        }
    }

    /// The process id.
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// The whole log.
    pub(crate) fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last lines of the log.
    pub(crate) fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Fails if the process has exited.
    pub(crate) fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!(
                "{} exited by itself with {status}:\n{}",
                self.name,
                self.log_tail()
            );
        }
    }

    /// Waits until `ready` holds, failing if the process exits first or it takes longer
    /// than [`READY_TIMEOUT`].
    pub(crate) fn wait_until(&mut self, what: &str, mut ready: impl FnMut() -> bool) {
        self.wait_for(what, |_| ready().then_some(()));
    }

    /// Waits until `ready` finds something in the log, failing if the process exits first or
    /// it takes longer than [`READY_TIMEOUT`].
    pub(crate) fn wait_for<T>(
        &mut self,
        what: &str,
        mut ready: impl FnMut(&str) -> Option<T>,
    ) -> T {
        let start = Instant::now();
        loop {
            if let Some(found) = ready(&self.log()) {
                return found;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "{} exited with {status} before {what}:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            assert!(
                start.elapsed() < READY_TIMEOUT,
                "{}: not {what} after {READY_TIMEOUT:?}:\n{}",
                self.name,
                self.log_tail()
            );
            sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the process to exit by itself.
    pub(crate) fn exit_status(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < READY_TIMEOUT,
                "{} did not exit:\n{}",
                self.name,
                self.log_tail()
            );
            sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL, and reap.
    pub(crate) fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
