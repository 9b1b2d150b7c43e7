//! Peer transports of paychan: TCP and WebSocket carrying Noise sessions bound to node
//! addresses.
//!
//! Every connection runs `Noise_XX_25519_ChaChaPoly_BLAKE2s`; inside its encrypted
//! handshake each side proves that its Noise static key belongs to its node address (a
//! secp256k1 signature over the key, see [`verify_binding`]). A dialer names the address it
//! expects ([`PeerAddr`]) and refuses anyone else; a listener learns who connected.
//!
//! - [`addr`]: `ADDRESS@HOST:PORT`, `ADDRESS@ws(s)://HOST[:PORT]/PATH` and
//!   `ADDRESS@relay+ws(s)://HOST[:PORT]/PATH` peer addresses.
//! - [`Identity`]: a node's signing key and Noise static key, with their binding.
//! - [`connect`] / [`Listener`]: dialing and accepting, over TCP or WebSocket.
//! - [`Connection`]: frames of up to [`MAX_FRAME_LEN`](paychan_core::wire::MAX_FRAME_LEN)
//!   bytes both ways, with keep-alive and an idle timeout; splits into a reader and a writer.
//! - [`PeerLink`]: keeps a connection to one peer, redialing with exponential backoff.
//! - [`RelayListener`]: keeps this node registered at `paychan relay`s, so peers reach it
//!   without an open port (docs/PROTOCOL.md, "Relay").
//!
//! # Wire format
//!
//! Carriers: on TCP each Noise message is prefixed by its length (2 bytes, big-endian); on
//! WebSocket each Noise message is one binary WebSocket message (at most 65535 bytes);
//! through a relay, the same binary messages travel over the dialer's and the party's
//! WebSockets to the relay, which forwards them unread.
//!
//! Handshake (`Noise_XX_25519_ChaChaPoly_BLAKE2s`, prologue [`PROLOGUE`]): message 1 has an
//! empty payload; message 2 carries the responder's binding, message 3 the initiator's:
//!
//! ```text
//! binding   = version (1 byte, = 1) || address (20 bytes) || signature (65 bytes, r||s||v)
//! signature = sign_hash(keccak256("paychan-noise-binding-v1" || noise_static_public_key))
//! ```
//!
//! Frames: an application frame of up to
//! [`MAX_FRAME_LEN`](paychan_core::wire::MAX_FRAME_LEN) bytes travels in one or more
//! consecutive Noise transport messages (at most 65519 plaintext bytes each), never
//! interleaved with another frame:
//!
//! ```text
//! first message:  kind (1 byte) || frame length (4 bytes, big-endian) || up to 65514 bytes
//! continuations:  the next up to 65519 bytes of the frame, until the announced length
//! kind:           0 = keep-alive (length 0, never returned by recv), 1 = data
//! ```
//!
//! Before authentication a receiver reads handshake messages of at most 1 KiB (a longer one
//! is refused from its length prefix, before its body is read). A receiver refuses an
//! announced frame length above the limit, grows a frame's buffer with the bytes that
//! actually arrive (never with the length announced), and treats any other deviation (unknown kind, extra bytes, undecryptable message, a frame cut
//! by the end of the stream) as the end of the connection.

//!
//! # Without IO
//!
//! Without its default feature `runtime` the crate is only what needs no socket, task or
//! clock: [`addr`], [`Identity`], the handshake one message at a time ([`Initiator`],
//! [`Responder`]) and [`NoiseSession`], the frames of a finished handshake over a message
//! carrier (a WebSocket). That part builds for `wasm32-unknown-unknown` (with the `k256`
//! feature instead of `libsecp256k1`), where paychan-wasm drives it over the browser's
//! WebSocket: the same handshake and framing as a node's, not a second implementation.

pub mod addr;
#[cfg(feature = "runtime")]
mod config;
#[cfg(feature = "runtime")]
mod connection;
#[cfg(feature = "runtime")]
mod dial;
mod error;
mod frame;
#[cfg(feature = "runtime")]
#[doc(hidden)]
pub mod fuzzing;
mod handshake;
mod identity;
#[cfg(feature = "runtime")]
mod link;
#[cfg(feature = "runtime")]
mod listener;
#[cfg(feature = "runtime")]
mod relay;
mod session;
#[cfg(feature = "runtime")]
mod transport;

pub use crate::{
    addr::{AddrError, Endpoint, PeerAddr, WsUrl},
    error::{CloseReason, NetError, TimeoutKind},
    handshake::{HANDSHAKE_ENTROPY, Initiator, MAX_HANDSHAKE_MSG, Responder},
    identity::{
        BINDING_LEN, BINDING_TAG, BINDING_VERSION, Identity, NOISE_KEY_LEN, NOISE_PARAMS, PROLOGUE,
        binding_hash, encode_binding, verify_binding,
    },
    session::NoiseSession,
};
#[cfg(feature = "runtime")]
pub use crate::{
    config::NetConfig,
    connection::{CloseWatch, Connection, ConnectionReader, ConnectionWriter},
    dial::{connect, connect_with},
    link::{Backoff, LinkConfig, LinkEvent, PeerLink},
    listener::{ListenConfig, Listener},
    relay::RelayListener,
    transport::TransportKind,
};
