//! A connection to a peer, as the node sees it: frames in, frames out, the peer's address,
//! already authenticated by the transport (`paychan-net` binds the Noise session to the
//! address), and which side dialed. Keeping the node on this small interface lets tests wire
//! two nodes in one process and lets any transport (TCP, WebSocket, a relay) plug in.

use paychan_core::Address;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// Which side opened a connection. When two peers dial each other, the node keeps the
/// connection dialed by the lower address (see `docs/ARCHITECTURE.md`, paychan-node).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// This node dialed the peer.
    Dialed,
    /// The peer dialed this node.
    Accepted,
}

/// Frames to and from one authenticated peer.
#[derive(Debug)]
pub struct PeerConnection {
    /// The peer's address, as proven by the transport's handshake.
    pub peer: Address,
    /// Whether this node dialed the connection or accepted it.
    pub origin: Origin,
    /// Frames to send. Closing it closes the connection.
    pub outgoing: mpsc::Sender<Vec<u8>>,
    /// Frames received. Ends when the connection is gone.
    pub incoming: mpsc::Receiver<Vec<u8>>,
}

impl PeerConnection {
    /// Two connected ends in one process, `a` dialing `b`: `(a's view of b, b's view of a)`.
    pub fn pair(a: Address, b: Address, capacity: usize) -> (PeerConnection, PeerConnection) {
        let (to_b, from_a) = mpsc::channel(capacity);
        let (to_a, from_b) = mpsc::channel(capacity);
        (
            PeerConnection {
                peer: b,
                origin: Origin::Dialed,
                outgoing: to_b,
                incoming: from_b,
            },
            PeerConnection {
                peer: a,
                origin: Origin::Accepted,
                outgoing: to_a,
                incoming: from_a,
            },
        )
    }
}
