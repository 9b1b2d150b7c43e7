//! The networking hook: how `open_channel` reaches a peer that is not connected yet.
//!
//! The API does not depend on a transport. The process that serves it (the `paychan node`
//! daemon, a test) passes a [`Dialer`] that connects to peers written
//! `ADDRESS@HOST:PORT` or `ADDRESS@ws(s)://HOST[:PORT]/PATH` and hands the connection to the
//! node, and remembers where known peers listen.

use async_trait::async_trait;
use paychan_core::Address;

/// Why a peer could not be connected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DialError {
    /// The peer address is malformed (a client error: nothing was tried).
    #[error("bad peer address: {0}")]
    BadAddress(String),
    /// Dialing or the handshake failed (the peer is down, unreachable, or proved another
    /// address).
    #[error("cannot reach the peer: {0}")]
    Failed(String),
}

/// Connects the node to peers.
#[async_trait]
pub trait Dialer: Send + Sync + 'static {
    /// Connects to the peer at `peer_url` (`ADDRESS@HOST:PORT` or
    /// `ADDRESS@ws(s)://HOST[:PORT]/PATH`), hands the connection to the node, and returns the
    /// peer's address once the node holds the connection. Returns at once if the peer is
    /// already connected. The dialer keeps the peer connected afterwards (reconnecting).
    async fn dial(&self, peer_url: &str) -> Result<Address, DialError>;

    /// Connects to a peer known by its address only (from the configuration or an earlier
    /// dial). `Ok(false)` if the dialer does not know where `peer` listens.
    async fn dial_known(&self, peer: Address) -> Result<bool, DialError>;

    /// Where peers reach this node (`ADDRESS@HOST:PORT`, `ADDRESS@ws://HOST:PORT`).
    fn listen_addresses(&self) -> Vec<String>;
}
