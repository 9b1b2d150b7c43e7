//! A blind WebSocket rendezvous relay for paychan (docs/PROTOCOL.md, "Relay").
//!
//! A party that cannot accept connections (a node without an open port, a browser page)
//! keeps a *control* WebSocket to the relay, registered under its node address by signing
//! the relay's challenge with its node key. A dialer connects to the relay naming that
//! address; the relay hands the party a one-time ticket, the party opens a *data* WebSocket
//! with it, and the relay forwards binary messages between the two sockets without reading
//! them: the Noise session of the two ends runs through it unchanged, so the relay holds no
//! key and sees only ciphertext.
//!
//! - [`proto`]: the protocol without IO (queries, control messages, registration signature,
//!   close codes), shared by the relay and its clients; it needs no tokio, so a WebAssembly
//!   client can depend on this crate with `default-features = false`.
//! - [`Relay`] (feature `server`, on by default): the relay itself, with its limits
//!   ([`RelayConfig`]).

pub mod proto;
#[cfg(feature = "server")]
mod server;

#[cfg(feature = "server")]
pub use crate::server::{Relay, RelayConfig};
