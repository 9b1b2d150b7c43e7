//! Leases with fencing tokens: one active process among several sharing a database.
//!
//! A high-availability payee runs any number of stateless fronts but exactly one active
//! background (the process that holds the payee's key and follows the ledger,
//! `docs/ARCHITECTURE.md`). Which one is active is a row of the database, a *lease*: a name,
//! its holder, a *fencing token* and an expiry on the database's own clock (so that the
//! processes' clocks never have to agree).
//!
//! - [`Store::acquire_lease`](crate::Store::acquire_lease) takes a lease that is free (never
//!   taken, released, or expired) and answers a token one higher than any before it.
//! - [`Store::renew_lease`](crate::Store::renew_lease) extends it while the token still holds
//!   it; a holder that finds it taken has lost it for good.
//! - A [`Batch`](crate::Batch) with a [`Fence`] is written only if its token still holds the
//!   unexpired lease, checked inside the batch's own transaction under a shared lock of the
//!   lease row: a takeover waits for a fenced commit in progress, and a commit that starts
//!   after the expiry (a paused process that wakes up, say) writes nothing
//!   ([`StoreError::Fenced`](crate::StoreError::Fenced)).
//!
//! The embedded SQLite backend serves one process, which locks its data directory: it has no
//! leases ([`StoreError::Unsupported`](crate::StoreError::Unsupported)).

// The helpers serve the server backends only.
#![cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]

use std::time::Duration;

/// A commit's condition: the lease `lease` is held by `token` and has not expired.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Fence {
    /// The lease's name.
    pub lease: String,
    /// The token [`Store::acquire_lease`](crate::Store::acquire_lease) granted.
    pub token: u64,
}

/// The outcome of [`Store::acquire_lease`](crate::Store::acquire_lease).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum LeaseAttempt {
    /// The lease is ours until `ttl` from now on the database's clock.
    Granted {
        /// The fencing token: higher than any granted before for this lease.
        token: u64,
    },
    /// Another holder has it, for `remaining` still unless it renews.
    Held {
        /// Who holds it (as it named itself).
        holder: String,
        /// Its token.
        token: u64,
        /// How long until it expires.
        remaining: Duration,
    },
}

/// Milliseconds of `ttl` as the databases store them (saturating; at least 1).
pub(crate) fn ttl_millis(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1)
}

/// A stored token (a positive `BIGINT`) as a `u64`.
pub(crate) fn token_from_sql(token: i64) -> u64 {
    u64::try_from(token).unwrap_or(0)
}

/// A token as stored.
pub(crate) fn token_to_sql(token: u64) -> i64 {
    i64::try_from(token).unwrap_or(i64::MAX)
}

/// How long is left of a lease expiring at `expires_at` when the database's clock reads
/// `now` (both in milliseconds).
pub(crate) fn remaining(expires_at: i64, now: i64) -> Duration {
    Duration::from_millis(u64::try_from(expires_at.saturating_sub(now)).unwrap_or(0))
}
