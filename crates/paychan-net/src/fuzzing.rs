//! The decoders a stranger reaches before (and right after) authentication, without I/O, for
//! the fuzz targets in `fuzz/` and for tests. Not a stable API: hidden from the docs.
//!
//! - [`take_message`]: the TCP carrier's de-framing (2-byte length prefix), with the limit
//!   the handshake ([`MAX_HANDSHAKE_MSG`]) or a connection ([`MAX_NOISE_MSG`]) applies.
//! - [`Assembler`]: frame reassembly from decrypted messages; [`frame_messages`] is what the
//!   writer sends for a frame.
//! - [`Initiator`], [`Responder`]: the Noise XX handshake with the address binding, one
//!   message at a time; [`initiator_finish`] and [`responder_finish`] end it with the peer's
//!   proven address.
//!
//! The wire formats are described in the crate docs and in docs/PROTOCOL.md.

use paychan_core::Address;

use crate::{
    error::NetError,
    frame::{self, KIND_DATA, KIND_KEEPALIVE},
};
pub use crate::{
    frame::{Assembled, Assembler, MAX_NOISE_MSG},
    handshake::{Initiator, MAX_HANDSHAKE_MSG, Responder},
    transport::take_message,
};

/// The plaintext messages a writer sends for `frame` (before encryption), in order.
pub fn frame_messages(frame: &[u8]) -> Result<Vec<Vec<u8>>, NetError> {
    let header = frame::header(KIND_DATA, frame.len())?;
    let (first, rest) = frame::split(frame);
    let mut messages = vec![[&header[..], first].concat()];
    messages.extend(rest.map(<[u8]>::to_vec));
    Ok(messages)
}

/// The plaintext of a keep-alive message.
pub fn keepalive_message() -> Vec<u8> {
    frame::header(KIND_KEEPALIVE, 0).map_or_else(|_| Vec::new(), |h| h.to_vec())
}

/// Reads message 2 as the initiator expecting `expected`, and writes message 3 carrying
/// `binding`: message 3 and the responder's proven address.
pub fn initiator_finish(
    initiator: Initiator,
    second: &[u8],
    expected: Address,
    binding: &[u8],
) -> Result<(Vec<u8>, Address), NetError> {
    initiator
        .answer(second, expected, binding)
        .map(|(third, session)| (third, session.peer))
}

/// Reads message 3 as the responder: the initiator's proven address.
pub fn responder_finish(responder: Responder, third: &[u8]) -> Result<Address, NetError> {
    responder.finish(third).map(|session| session.peer)
}
