//! The peer protocol: messages two nodes exchange, and their binary codec.
//!
//! - [`messages`]: what is said (channel proposals, payments and their results, plain
//!   messages, withdrawal and settlement signatures, counter sync, keep-alive, errors).
//! - [`codec`]: how it is framed: a version byte, then the message in `postcard`, decoded
//!   with hard length limits, never panicking and never allocating more than the frame.

pub mod codec;
pub mod messages;

pub use self::{
    codec::{CodecError, MAX_BODY_LEN, MAX_FRAME_LEN, MAX_TEXT_LEN, WIRE_VERSION, decode, encode},
    messages::{ErrorBody, Message, ProposeChannel, Reply},
};
