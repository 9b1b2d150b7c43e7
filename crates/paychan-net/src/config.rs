//! Timing and resource settings shared by dialers, listeners and connections.

use std::time::Duration;

/// Settings of connections, dials and listeners.
///
/// The defaults suit the Internet; tests shrink the durations to milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NetConfig {
    /// Send a keep-alive when nothing was sent for this long; a connection on which nothing
    /// was received for three times this long fails with an idle timeout. Default 15 s.
    pub keepalive: Duration,
    /// Limit for dialing plus the Noise handshake (and, on a listener, for the WebSocket
    /// upgrade plus the handshake of one incoming connection). Default 10 s.
    pub handshake_timeout: Duration,
    /// How many incoming handshakes a listener runs at once, per socket; connections beyond
    /// that are dropped unanswered. Default 256.
    pub max_pending_handshakes: usize,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            keepalive: Duration::from_secs(15),
            handshake_timeout: Duration::from_secs(10),
            max_pending_handshakes: 256,
        }
    }
}

impl NetConfig {
    /// Sets [`NetConfig::keepalive`].
    pub fn with_keepalive(mut self, keepalive: Duration) -> Self {
        self.keepalive = keepalive;
        self
    }

    /// Sets [`NetConfig::handshake_timeout`].
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets [`NetConfig::max_pending_handshakes`].
    pub fn with_max_pending_handshakes(mut self, max: usize) -> Self {
        self.max_pending_handshakes = max;
        self
    }

    /// How long a connection may receive nothing before it fails: three keep-alive periods.
    pub fn idle_timeout(&self) -> Duration {
        self.keepalive.saturating_mul(3)
    }
}
