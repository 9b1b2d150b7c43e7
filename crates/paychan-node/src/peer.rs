//! A connection to a peer, as the node sees it: frames in, frames out, and the peer's
//! address, already authenticated by the transport (`paychan-net` binds the Noise session to
//! the address). Keeping the node on this small interface lets tests wire two nodes in one
//! process and lets any transport (TCP, WebSocket, a relay) plug in.

use paychan_core::Address;
use tokio::sync::mpsc;

/// Frames to and from one authenticated peer.
#[derive(Debug)]
pub struct PeerConnection {
    /// The peer's address, as proven by the transport's handshake.
    pub peer: Address,
    /// Frames to send. Closing it closes the connection.
    pub outgoing: mpsc::Sender<Vec<u8>>,
    /// Frames received. Ends when the connection is gone.
    pub incoming: mpsc::Receiver<Vec<u8>>,
}

impl PeerConnection {
    /// Two connected ends in one process: `(a's view of b, b's view of a)`.
    pub fn pair(a: Address, b: Address, capacity: usize) -> (PeerConnection, PeerConnection) {
        let (to_b, from_a) = mpsc::channel(capacity);
        let (to_a, from_b) = mpsc::channel(capacity);
        (
            PeerConnection {
                peer: b,
                outgoing: to_b,
                incoming: from_b,
            },
            PeerConnection {
                peer: a,
                outgoing: to_a,
                incoming: from_a,
            },
        )
    }
}
