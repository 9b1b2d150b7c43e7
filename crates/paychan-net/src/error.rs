//! The errors of the peer transports.
//!
//! [`NetError`] is what a connection, a dial or a listener reports; [`CloseReason`] is why a
//! live connection ended, as seen by a [`CloseWatch`](crate::CloseWatch) or a
//! [`PeerLink`](crate::PeerLink).

use std::{fmt, io, sync::Arc};

use paychan_core::Address;

/// Why a dial, a handshake or a connection failed.
///
/// What the caller must do: after [`NetError::FrameTooLarge`] returned by a *send* the
/// connection is still usable (nothing was written). Every other error means the connection
/// is finished: drop it and dial again (a [`PeerLink`](crate::PeerLink) does that).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The peer proved a different address than the one dialed: refused, nothing was sent
    /// to it after the handshake.
    #[error("dialed {expected} but the peer is {got}")]
    WrongPeer {
        /// The address the dialer expected.
        expected: Address,
        /// The address the peer proved.
        got: Address,
    },
    /// The peer's binding of its Noise static key to its address is malformed or forged.
    #[error("invalid address binding: {0}")]
    BadBinding(String),
    /// The Noise handshake failed (malformed message, failed decryption, wrong pattern).
    #[error("noise handshake failed: {0}")]
    Handshake(String),
    /// A socket operation failed (connection refused, reset, ...).
    #[error("I/O error: {0}")]
    Io(#[source] Arc<io::Error>),
    /// The WebSocket layer failed (upgrade refused, malformed WebSocket frame).
    #[error("WebSocket error: {0}")]
    WebSocket(String),
    /// TLS could not be set up for a `wss://` peer.
    #[error("TLS error: {0}")]
    Tls(String),
    /// Something took too long.
    #[error("{0} timed out")]
    Timeout(TimeoutKind),
    /// A frame is larger than [`MAX_FRAME_LEN`](paychan_core::wire::MAX_FRAME_LEN): refused
    /// before anything was written (on send) or allocated (on receive).
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    FrameTooLarge {
        /// The length of the frame.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The peer broke the transport's framing (bad chunk header, undecryptable message).
    #[error("peer violated the transport protocol: {0}")]
    Protocol(String),
    /// The other end closed the WebSocket with a code and reason: a relay refusing a dial
    /// or a registration (docs/PROTOCOL.md, "Relay", lists the codes), or ending a pipe.
    #[error("closed by the relay: {reason} (code {code})")]
    Refused {
        /// The WebSocket close code.
        code: u16,
        /// The reason given.
        reason: String,
    },
    /// The connection is closed (by either side, or after an earlier error).
    #[error("connection closed")]
    Closed,
}

impl From<io::Error> for NetError {
    fn from(e: io::Error) -> Self {
        NetError::Io(Arc::new(e))
    }
}

#[cfg(feature = "runtime")]
impl From<tokio_tungstenite::tungstenite::Error> for NetError {
    fn from(e: tokio_tungstenite::tungstenite::Error) -> Self {
        use tokio_tungstenite::tungstenite::Error as Ws;
        match e {
            Ws::Io(e) => NetError::from(e),
            Ws::ConnectionClosed | Ws::AlreadyClosed => NetError::Closed,
            Ws::Tls(e) => NetError::Tls(e.to_string()),
            other => NetError::WebSocket(other.to_string()),
        }
    }
}

/// What timed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// Dialing plus the handshake (or, on a listener, the upgrade plus the handshake).
    Handshake,
    /// Nothing was received for three keep-alive periods.
    Idle,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutKind::Handshake => "handshake",
            TimeoutKind::Idle => "idle connection (no keep-alive from the peer)",
        })
    }
}

/// Why a connection ended.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer closed the connection cleanly.
    PeerClosed,
    /// This side closed the connection or dropped every handle to it.
    Local,
    /// The connection failed (I/O error, idle timeout, protocol violation).
    Failed(NetError),
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::PeerClosed => f.write_str("closed by the peer"),
            CloseReason::Local => f.write_str("closed locally"),
            CloseReason::Failed(e) => write!(f, "failed: {e}"),
        }
    }
}
