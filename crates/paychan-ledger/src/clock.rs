//! The ledger's clock: seconds since the Unix epoch, real or manual.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{SystemTime, UNIX_EPOCH},
};

/// Where a ledger reads the time. Cloning a manual clock shares it.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    /// The system's real time.
    #[default]
    System,
    /// A time that moves only when told to (tests, demos).
    Manual(Arc<AtomicU64>),
}

impl Clock {
    /// A manual clock starting at `start`.
    pub fn manual(start: u64) -> Clock {
        Clock::Manual(Arc::new(AtomicU64::new(start)))
    }

    /// Seconds since the Unix epoch.
    pub fn now(&self) -> u64 {
        match self {
            Clock::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            Clock::Manual(t) => t.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock forward by `secs` and returns the new time; `None` for the
    /// system clock, which cannot be moved.
    pub fn advance(&self, secs: u64) -> Option<u64> {
        match self {
            Clock::System => None,
            Clock::Manual(t) => {
                let previous = t.fetch_add(secs, Ordering::SeqCst);
                Some(previous.saturating_add(secs))
            }
        }
    }
}
