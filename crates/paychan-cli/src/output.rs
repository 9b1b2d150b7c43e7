//! What the commands print on stdout, written without panicking when stdout is gone.
//!
//! `println!` panics when stdout is a pipe whose reader has exited (`paychan channel open … |
//! head -1`), and by then the command has done its work: a script retrying the "failed"
//! command would open a second channel. Every command therefore prints through [`outln!`]
//! and [`out!`]: when stdout is closed (`EPIPE`) the rest of the output is dropped, the
//! command carries on to the end of what it was asked to do (never stopping between two of
//! its actions), and `paychan` exits with status 0 without a word, as the command succeeded
//! and only its report had no reader. Any other write error (a full disk, say) is reported
//! at the end, with exit status 1, saying that the command itself completed. Lines for
//! stderr go through [`errln!`], which drops them when stderr is closed.

use std::{
    fmt,
    io::{self, Write},
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

/// Set once a write to stdout failed: later output is dropped.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// The first write error other than a closed pipe.
static FAILURE: Mutex<Option<String>> = Mutex::new(None);

/// Writes `args` to stdout; see the [module docs](self).
pub(crate) fn write_stdout(args: fmt::Arguments<'_>) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut stdout = io::stdout().lock();
    let result = stdout.write_fmt(args);
    if let Err(e) = result {
        CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != io::ErrorKind::BrokenPipe {
            let mut failure = match FAILURE.lock() {
                Ok(failure) => failure,
                Err(poisoned) => poisoned.into_inner(),
            };
            failure.get_or_insert_with(|| e.to_string());
        }
    }
}

/// Flushes stdout (a closed pipe is no failure) and answers the write error to report, if
/// any.
pub(crate) fn finish() -> Option<String> {
    if !CLOSED.load(Ordering::Relaxed)
        && let Err(e) = io::stdout().lock().flush()
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        return Some(e.to_string());
    }
    match FAILURE.lock() {
        Ok(failure) => failure.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

/// `println!` that never panics: see the [module docs](self).
macro_rules! outln {
    () => {
        $crate::output::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` that never panics: see the [module docs](self).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!($($arg)*))
    };
}

/// `eprintln!` that never panics (a closed stderr loses the line; the exit status still
/// tells).
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub(crate) use {errln, out, outln};
