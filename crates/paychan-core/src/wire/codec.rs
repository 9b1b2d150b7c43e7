//! The versioned binary codec of the peer protocol.
//!
//! A frame is one version byte ([`WIRE_VERSION`]) followed by the message encoded with
//! `postcard` (compact, serde-based, varint integers). Decoding is bounded: frames above
//! [`MAX_FRAME_LEN`] are refused before any parsing, every length prefix is checked against
//! the bytes that remain before anything is allocated (so nothing allocates more than the
//! frame's length), bodies and texts have their own limits, trailing bytes are refused, and no input makes it panic (see the fuzz
//! target in `fuzz/` and the property test in `tests/it/codec.rs`).

use crate::wire::messages::{ErrorBody, Message, Reply};

/// The protocol version this codec speaks.
pub const WIRE_VERSION: u8 = 1;
/// The largest frame accepted or produced, version byte included.
pub const MAX_FRAME_LEN: usize = 1 << 20;
/// The largest message or response body.
pub const MAX_BODY_LEN: usize = 512 * 1024;
/// The largest free text (reasons, error messages).
pub const MAX_TEXT_LEN: usize = 1024;

/// Why a frame could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// An empty frame.
    #[error("empty frame")]
    Empty,
    /// A version this node does not speak.
    #[error("unsupported wire version {0} (this node speaks {WIRE_VERSION})")]
    UnsupportedVersion(u8),
    /// The frame is larger than [`MAX_FRAME_LEN`].
    #[error("frame of {0} bytes exceeds the limit of {MAX_FRAME_LEN}")]
    FrameTooLong(usize),
    /// A field is longer than its limit.
    #[error("{field} of {len} bytes exceeds the limit of {max}")]
    FieldTooLong {
        /// Which field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// Its limit.
        max: usize,
    },
    /// The bytes are not a message.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// Bytes left over after the message.
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
}

fn check_len(field: &'static str, len: usize, max: usize) -> Result<(), CodecError> {
    if len > max {
        Err(CodecError::FieldTooLong { field, len, max })
    } else {
        Ok(())
    }
}

fn check_reply(reply: &Reply) -> Result<(), CodecError> {
    match reply {
        Reply::Ok(body) => check_len("response body", body.len(), MAX_BODY_LEN),
        Reply::Err(e) => check_error(e),
    }
}

fn check_error(e: &ErrorBody) -> Result<(), CodecError> {
    check_len("error message", e.message.len(), MAX_TEXT_LEN)
}

/// Checks the per-field limits of a message (both when encoding and after decoding).
pub fn check_limits(msg: &Message) -> Result<(), CodecError> {
    match msg {
        Message::RejectChannel { reason, .. } => check_len("reason", reason.len(), MAX_TEXT_LEN),
        Message::Pay { body, .. } | Message::Request { body, .. } => {
            check_len("body", body.len(), MAX_BODY_LEN)
        }
        Message::PayResult { reply, .. } | Message::Response { reply, .. } => check_reply(reply),
        Message::Error { error, .. } => check_error(error),
        _ => Ok(()),
    }
}

/// Appends the frame of `msg` to `buf`. Refuses messages over the limits the peer would
/// refuse, leaving `buf` as it was.
pub fn encode_into(msg: &Message, buf: &mut Vec<u8>) -> Result<(), CodecError> {
    check_limits(msg)?;
    let start = buf.len();
    buf.push(WIRE_VERSION);
    let taken = std::mem::take(buf);
    match postcard::to_extend(msg, taken) {
        Ok(out) => *buf = out,
        // postcard's only failure modes for these types are impossible (no maps, no
        // unsized sequences); report rather than panic.
        Err(e) => return Err(CodecError::Malformed(e.to_string())),
    }
    let len = buf.len().saturating_sub(start);
    if len > MAX_FRAME_LEN {
        buf.truncate(start);
        return Err(CodecError::FrameTooLong(len));
    }
    Ok(())
}

/// The frame of `msg`.
pub fn encode(msg: &Message) -> Result<Vec<u8>, CodecError> {
    let mut buf = Vec::with_capacity(128);
    encode_into(msg, &mut buf)?;
    Ok(buf)
}

/// Decodes one frame. Never panics; allocates at most the frame's length.
pub fn decode(frame: &[u8]) -> Result<Message, CodecError> {
    if frame.len() > MAX_FRAME_LEN {
        return Err(CodecError::FrameTooLong(frame.len()));
    }
    let (&version, payload) = frame.split_first().ok_or(CodecError::Empty)?;
    if version != WIRE_VERSION {
        return Err(CodecError::UnsupportedVersion(version));
    }
    let (msg, rest) = postcard::take_from_bytes::<Message>(payload)
        .map_err(|e| CodecError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(CodecError::TrailingBytes(rest.len()));
    }
    check_limits(&msg)?;
    Ok(msg)
}
