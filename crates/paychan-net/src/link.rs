//! Keeping a connection to one peer: dial, hand the connection over, wait for its end, dial
//! again with exponential backoff.
//!
//! A [`PeerLink`] reports through a channel: [`LinkEvent::Connected`] with each new
//! connection (so the node runs its counter resync on every connect and reconnect),
//! [`LinkEvent::Disconnected`] when that connection ends, and [`LinkEvent::DialFailed`] for
//! each failed attempt. The link learns that a connection ended from the connection itself
//! (its reader seeing the end, a send failing, the idle timeout, or every handle dropped),
//! so the node must keep reading from it.
//!
//! A link started with a hold ([`PeerLink::spawn_with_hold`]) does not dial while the hold is
//! `true`: the node uses it when it is connected to the peer by the peer's own dial, which it
//! keeps (two peers dialing each other converge on one connection), so that redialing never
//! replaces the connection in use. It reports [`LinkEvent::Held`] and dials again once the
//! hold is released.

use std::time::Duration;

use paychan_core::keccak256;
use tokio::{
    sync::{mpsc, oneshot, watch},
    task::JoinHandle,
    time::{Instant, sleep},
};

use crate::{
    addr::PeerAddr,
    config::NetConfig,
    connection::Connection,
    dial::connect_with,
    error::{CloseReason, NetError},
    identity::Identity,
};

/// How many events wait for the node to take them.
const EVENT_BUFFER: usize = 8;

/// Settings of a [`PeerLink`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkConfig {
    /// Connection settings.
    pub net: NetConfig,
    /// The first delay before redialing. Default 100 ms.
    pub initial_backoff: Duration,
    /// The largest delay between attempts. Default 30 s.
    pub max_backoff: Duration,
    /// A connection that lasted this long resets the backoff to its initial delay (shorter
    /// ones keep it growing, so a peer that hangs up at once is not hammered). Default 10 s.
    pub stable_after: Duration,
    /// Seed of the jitter; the node passes OS randomness. It is mixed with both addresses,
    /// so nodes that share a seed still spread their attempts.
    pub jitter_seed: u64,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            net: NetConfig::default(),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(30),
            stable_after: Duration::from_secs(10),
            jitter_seed: 0,
        }
    }
}

impl LinkConfig {
    /// Sets the connection settings.
    pub fn with_net(mut self, net: NetConfig) -> Self {
        self.net = net;
        self
    }

    /// Sets the first and the largest delay between attempts.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }

    /// Sets [`LinkConfig::stable_after`].
    pub fn with_stable_after(mut self, stable_after: Duration) -> Self {
        self.stable_after = stable_after;
        self
    }

    /// Sets the jitter seed.
    pub fn with_jitter_seed(mut self, seed: u64) -> Self {
        self.jitter_seed = seed;
        self
    }
}

/// Exponential backoff with "equal jitter": attempt `n` waits a uniformly random delay
/// between half and all of `min(initial × 2ⁿ, max)`.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    /// A backoff from `initial` doubling up to `max`, its jitter drawn from `seed`.
    pub fn new(initial: Duration, max: Duration, seed: u64) -> Self {
        Backoff {
            initial,
            max: max.max(initial),
            attempt: 0,
            rng: seed,
        }
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let factor = 2u32.saturating_pow(self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        let base = self.initial.saturating_mul(factor).min(self.max);
        let half = u64::try_from(base.as_nanos() / 2).unwrap_or(u64::MAX);
        let jitter = self
            .random()
            .checked_rem(half.saturating_add(1))
            .unwrap_or(0);
        Duration::from_nanos(half.saturating_add(jitter))
    }

    /// Starts again from the initial delay.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// How many delays were drawn since the last reset.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// SplitMix64.
    fn random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ z.wrapping_shr(30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ z.wrapping_shr(27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ z.wrapping_shr(31)
    }
}

/// What a [`PeerLink`] reports.
#[derive(Debug)]
#[non_exhaustive]
pub enum LinkEvent {
    /// A new authenticated connection to the peer: resync, then use it.
    Connected(Connection),
    /// The last connection ended; the link redials after a backoff.
    Disconnected(CloseReason),
    /// The link's hold is set (the node is connected to the peer otherwise): it does not dial
    /// until the hold is released.
    Held,
    /// An attempt failed; the next one starts after `retry_in`.
    DialFailed {
        /// Why it failed.
        error: NetError,
        /// How many attempts failed in a row.
        attempt: u32,
        /// The delay before the next attempt.
        retry_in: Duration,
    },
}

/// Keeps a connection to one peer. Stop it with [`PeerLink::stop`]; dropping it stops it
/// too. Either way its task ends (connections already handed over stay open).
#[derive(Debug)]
pub struct PeerLink {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl PeerLink {
    /// Starts keeping a connection to `peer`; events arrive on the returned receiver.
    /// Dropping the receiver stops the link as well.
    pub fn spawn(
        peer: PeerAddr,
        identity: Identity,
        config: LinkConfig,
    ) -> (PeerLink, mpsc::Receiver<LinkEvent>) {
        Self::start(peer, identity, config, None)
    }

    /// As [`spawn`](Self::spawn), but before each attempt the link waits while `hold` is
    /// `true` (reporting [`LinkEvent::Held`] once per wait); a hold whose sender is gone no
    /// longer holds. A wait ends the backoff: the peer was reachable meanwhile.
    pub fn spawn_with_hold(
        peer: PeerAddr,
        identity: Identity,
        config: LinkConfig,
        hold: watch::Receiver<bool>,
    ) -> (PeerLink, mpsc::Receiver<LinkEvent>) {
        Self::start(peer, identity, config, Some(hold))
    }

    fn start(
        peer: PeerAddr,
        identity: Identity,
        config: LinkConfig,
        hold: Option<watch::Receiver<bool>>,
    ) -> (PeerLink, mpsc::Receiver<LinkEvent>) {
        let (events, receiver) = mpsc::channel(EVENT_BUFFER);
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(run(peer, identity, config, hold, events, stopped));
        (
            PeerLink {
                stop: Some(stop),
                task: Some(task),
            },
            receiver,
        )
    }

    /// Stops the link and waits until its task has ended.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            // The task never panics; an error here could only be a cancellation.
            let _ = task.await;
        }
    }
}

impl Drop for PeerLink {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn run(
    peer: PeerAddr,
    identity: Identity,
    config: LinkConfig,
    mut hold: Option<watch::Receiver<bool>>,
    events: mpsc::Sender<LinkEvent>,
    mut stopped: oneshot::Receiver<()>,
) {
    let mixed = keccak256([identity.address().as_slice(), peer.address().as_slice()].concat());
    let mut seed = [0u8; 8];
    seed.copy_from_slice(mixed.get(..8).unwrap_or(&[0; 8]));
    let mut backoff = Backoff::new(
        config.initial_backoff,
        config.max_backoff,
        config.jitter_seed ^ u64::from_be_bytes(seed),
    );
    let mut failures = 0u32;
    // Sends an event unless the link is stopped or nobody listens; `false` means: stop.
    macro_rules! report {
        ($event:expr) => {
            tokio::select! {
                sent = events.send($event) => sent.is_ok(),
                _ = &mut stopped => false,
            }
        };
    }
    loop {
        if hold.as_mut().is_some_and(|h| *h.borrow_and_update()) {
            tracing::debug!(peer = %peer, "link held");
            if !report!(LinkEvent::Held) {
                return;
            }
            while let Some(h) = hold.as_mut() {
                if !*h.borrow_and_update() {
                    break;
                }
                let released = tokio::select! {
                    changed = h.changed() => changed.is_err(),
                    _ = &mut stopped => return,
                    () = events.closed() => return,
                };
                if released {
                    // Nobody can set the hold any more.
                    hold = None;
                }
            }
            backoff.reset();
        }
        let attempt = tokio::select! {
            attempt = connect_with(&peer, &identity, &config.net) => attempt,
            _ = &mut stopped => return,
        };
        match attempt {
            Ok(connection) => {
                failures = 0;
                let connected_at = Instant::now();
                let mut watch = connection.close_watch();
                tracing::debug!(peer = %peer, "link connected");
                if !report!(LinkEvent::Connected(connection)) {
                    return;
                }
                let reason = tokio::select! {
                    reason = watch.closed() => reason,
                    _ = &mut stopped => return,
                    () = events.closed() => return,
                };
                tracing::debug!(peer = %peer, %reason, "link disconnected");
                if connected_at.elapsed() >= config.stable_after {
                    backoff.reset();
                }
                if !report!(LinkEvent::Disconnected(reason)) {
                    return;
                }
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                let retry_in = backoff.next_delay();
                tracing::debug!(peer = %peer, %error, ?retry_in, "link dial failed");
                if !report!(LinkEvent::DialFailed {
                    error,
                    attempt: failures,
                    retry_in,
                }) {
                    return;
                }
                tokio::select! {
                    () = sleep(retry_in) => {}
                    _ = &mut stopped => return,
                }
                continue;
            }
        }
        let delay = backoff.next_delay();
        tokio::select! {
            () = sleep(delay) => {}
            _ = &mut stopped => return,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]

    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let initial = Duration::from_millis(100);
        let max = Duration::from_secs(30);
        let mut backoff = Backoff::new(initial, max, 42);
        for n in 0..20u32 {
            let base = (initial * 2u32.saturating_pow(n)).min(max);
            let delay = backoff.next_delay();
            assert!(
                delay >= base / 2 && delay <= base,
                "attempt {n}: {delay:?} vs {base:?}"
            );
        }
        backoff.reset();
        assert!(backoff.next_delay() <= initial);
        // Different seeds spread the attempts.
        let a: Vec<_> = (0..5)
            .map({
                let mut b = Backoff::new(initial, max, 1);
                move |_| b.next_delay()
            })
            .collect();
        let b: Vec<_> = (0..5)
            .map({
                let mut b = Backoff::new(initial, max, 2);
                move |_| b.next_delay()
            })
            .collect();
        assert_ne!(a, b);
    }
}
