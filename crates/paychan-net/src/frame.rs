//! Application frames over Noise transport messages: chunking and reassembly.
//!
//! A Noise transport message carries at most 65535 bytes of ciphertext, that is 65519 bytes
//! of plaintext after the 16-byte tag. An application frame (up to
//! [`MAX_FRAME_LEN`] bytes) is sent as one or more consecutive messages, never interleaved
//! with another frame:
//!
//! ```text
//! first message:  kind (1 byte) || frame length (4 bytes, big-endian) || up to 65514 bytes
//! continuations:  up to 65519 bytes of the frame, as many as the length announced
//! kind: 0 = keep-alive (length 0, never returned to the application), 1 = data
//! ```
//!
//! The sender encrypts and writes one message at a time, so at most one message (64 KiB) is
//! buffered per direction. The receiver refuses an announced length above [`MAX_FRAME_LEN`],
//! and grows a frame's buffer with the bytes that actually arrive, never with the length
//! announced: a 5-byte header cannot make it reserve a megabyte it may never receive.

// Without the runtime, only `NoiseSession` uses this module: the connection's helpers and the
// fuzzing exports are unused.
#![cfg_attr(not(feature = "runtime"), allow(dead_code, unreachable_pub))]

use paychan_core::wire::MAX_FRAME_LEN;
use snow::StatelessTransportState;

use crate::error::NetError;

/// The largest Noise message (ciphertext, tag included).
pub const MAX_NOISE_MSG: usize = 65535;
/// The Noise AEAD tag length.
pub(crate) const TAG_LEN: usize = 16;
/// The largest plaintext one Noise message carries.
pub(crate) const MAX_CHUNK: usize = MAX_NOISE_MSG - TAG_LEN;
/// Length of the header of a frame's first message.
pub(crate) const HEADER_LEN: usize = 5;
/// Frame kind: keep-alive.
pub(crate) const KIND_KEEPALIVE: u8 = 0;
/// Frame kind: application data.
pub(crate) const KIND_DATA: u8 = 1;

/// Encrypts `plain` as one Noise message appended to `out` in the stream form
/// `length (2 bytes, big-endian) || ciphertext`.
pub(crate) fn seal(
    noise: &StatelessTransportState,
    nonce: &mut u64,
    plain: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), NetError> {
    let overflow = || NetError::Protocol("Noise message too long".to_owned());
    let ct_len = plain.len().checked_add(TAG_LEN).ok_or_else(overflow)?;
    let prefix = u16::try_from(ct_len).map_err(|_| overflow())?;
    out.extend_from_slice(&prefix.to_be_bytes());
    let body = out.len();
    out.resize(body.checked_add(ct_len).ok_or_else(overflow)?, 0);
    let dst = out.get_mut(body..).ok_or_else(overflow)?;
    let written = noise
        .write_message(*nonce, plain, dst)
        .map_err(|e| NetError::Protocol(format!("encryption failed: {e}")))?;
    // 2^64 messages cannot be sent in practice; refusing is still better than reusing a nonce.
    *nonce = nonce.checked_add(1).ok_or(NetError::Closed)?;
    out.truncate(body.checked_add(written).ok_or_else(overflow)?);
    Ok(())
}

/// The header of a frame's first message; refuses frames above [`MAX_FRAME_LEN`].
pub(crate) fn header(kind: u8, len: usize) -> Result<[u8; HEADER_LEN], NetError> {
    let too_large = || NetError::FrameTooLarge {
        len,
        max: MAX_FRAME_LEN,
    };
    if len > MAX_FRAME_LEN {
        return Err(too_large());
    }
    let len = u32::try_from(len).map_err(|_| too_large())?.to_be_bytes();
    let [a, b, c, d] = len;
    Ok([kind, a, b, c, d])
}

/// Splits a frame into the data of its messages: the first message carries up to
/// `MAX_CHUNK - HEADER_LEN` bytes after the header, each continuation up to `MAX_CHUNK`.
pub(crate) fn split(frame: &[u8]) -> (&[u8], std::slice::Chunks<'_, u8>) {
    let (first, rest) = frame.split_at(frame.len().min(MAX_CHUNK - HEADER_LEN));
    (first, rest.chunks(MAX_CHUNK))
}

/// What one decrypted message completed.
#[derive(Debug, PartialEq, Eq)]
pub enum Assembled {
    /// A keep-alive.
    KeepAlive,
    /// A whole application frame.
    Frame(Vec<u8>),
    /// Part of a frame; more messages follow.
    Partial,
}

/// Reassembles frames from decrypted messages.
#[derive(Debug, Default)]
pub struct Assembler {
    /// The frame being received and its announced length.
    partial: Option<(Vec<u8>, usize)>,
}

impl Assembler {
    /// Whether a frame is half received (so the end of the stream is not clean).
    pub fn in_frame(&self) -> bool {
        self.partial.is_some()
    }

    /// The bytes of the frame half received, and the capacity holding them.
    pub fn buffered(&self) -> (usize, usize) {
        self.partial
            .as_ref()
            .map_or((0, 0), |(frame, _)| (frame.len(), frame.capacity()))
    }

    /// Takes one decrypted message.
    pub fn push(&mut self, plain: &[u8]) -> Result<Assembled, NetError> {
        if let Some((mut frame, total)) = self.partial.take() {
            let remaining = total.saturating_sub(frame.len());
            if plain.is_empty() || plain.len() > remaining {
                return Err(NetError::Protocol(format!(
                    "continuation of {} bytes where {remaining} remain",
                    plain.len()
                )));
            }
            frame.extend_from_slice(plain);
            return Ok(self.finish(frame, total));
        }
        let (header, data) = plain
            .split_at_checked(HEADER_LEN)
            .ok_or_else(|| NetError::Protocol(format!("message of {} bytes", plain.len())))?;
        let (kind, len) = header.split_at(1);
        let len: [u8; 4] = len
            .try_into()
            .map_err(|_| NetError::Protocol("short header".to_owned()))?;
        let total = usize::try_from(u32::from_be_bytes(len)).unwrap_or(usize::MAX);
        match kind {
            [KIND_KEEPALIVE] if total == 0 && data.is_empty() => Ok(Assembled::KeepAlive),
            [KIND_DATA] => {
                if total > MAX_FRAME_LEN {
                    return Err(NetError::FrameTooLarge {
                        len: total,
                        max: MAX_FRAME_LEN,
                    });
                }
                if data.len() > total {
                    return Err(NetError::Protocol(format!(
                        "{} bytes in a frame announced as {total}",
                        data.len()
                    )));
                }
                // Only what arrived: the rest is reserved as it comes (amortized doubling),
                // so the buffer never holds much more than the bytes received.
                Ok(self.finish(data.to_vec(), total))
            }
            _ => Err(NetError::Protocol(format!("bad frame header {header:?}"))),
        }
    }

    fn finish(&mut self, frame: Vec<u8>, total: usize) -> Assembled {
        if frame.len() == total {
            Assembled::Frame(frame)
        } else {
            self.partial = Some((frame, total));
            Assembled::Partial
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::panic
    )]

    use snow::Builder;

    use super::*;
    use crate::identity::NOISE_PARAMS;

    /// Two transport states that talk to each other (NN handshake, enough for framing).
    fn pair() -> (StatelessTransportState, StatelessTransportState) {
        let params = NOISE_PARAMS.replace("XX", "NN").parse().unwrap();
        let mut i = Builder::new(params).build_initiator().unwrap();
        let params = NOISE_PARAMS.replace("XX", "NN").parse().unwrap();
        let mut r = Builder::new(params).build_responder().unwrap();
        let (mut a, mut b) = ([0u8; 256], [0u8; 256]);
        let n = i.write_message(&[], &mut a).unwrap();
        r.read_message(&a[..n], &mut b).unwrap();
        let n = r.write_message(&[], &mut a).unwrap();
        i.read_message(&a[..n], &mut b).unwrap();
        (
            i.into_stateless_transport_mode().unwrap(),
            r.into_stateless_transport_mode().unwrap(),
        )
    }

    fn roundtrip(frame: &[u8]) -> usize {
        let (tx, rx) = pair();
        let (mut out, mut nonce) = (Vec::new(), 0);
        let (first, rest) = split(frame);
        let first = [&header(KIND_DATA, frame.len()).unwrap()[..], first].concat();
        seal(&tx, &mut nonce, &first, &mut out).unwrap();
        for chunk in rest {
            seal(&tx, &mut nonce, chunk, &mut out).unwrap();
        }
        let mut asm = Assembler::default();
        let (mut rest, mut rx_nonce, mut messages) = (&out[..], 0u64, 0);
        loop {
            let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
            let mut plain = vec![0u8; len];
            let n = rx
                .read_message(rx_nonce, &rest[2..2 + len], &mut plain)
                .unwrap();
            rx_nonce += 1;
            messages += 1;
            rest = &rest[2 + len..];
            match asm.push(&plain[..n]).unwrap() {
                Assembled::Frame(f) => {
                    assert_eq!(f, frame);
                    assert!(rest.is_empty());
                    return messages;
                }
                Assembled::Partial => assert!(!rest.is_empty()),
                Assembled::KeepAlive => panic!("keep-alive"),
            }
        }
    }

    #[test]
    fn frames_split_into_the_fewest_messages() {
        assert_eq!(roundtrip(&[]), 1);
        assert_eq!(roundtrip(&[7]), 1);
        assert_eq!(roundtrip(&vec![1; MAX_CHUNK - HEADER_LEN]), 1);
        assert_eq!(roundtrip(&vec![2; MAX_CHUNK - HEADER_LEN + 1]), 2);
        assert_eq!(roundtrip(&vec![3; MAX_FRAME_LEN]), 17);
    }

    #[test]
    fn refuses_bad_messages() {
        let mut asm = Assembler::default();
        assert!(matches!(asm.push(&[]), Err(NetError::Protocol(_))));
        assert!(matches!(asm.push(&[1, 0, 0]), Err(NetError::Protocol(_))));
        assert!(matches!(
            asm.push(&[9, 0, 0, 0, 0]),
            Err(NetError::Protocol(_))
        ));
        assert!(matches!(
            asm.push(&[0, 0, 0, 0, 1]),
            Err(NetError::Protocol(_))
        ));
        assert_eq!(asm.push(&[0, 0, 0, 0, 0]).unwrap(), Assembled::KeepAlive);
        let too_big = u32::try_from(MAX_FRAME_LEN + 1).unwrap().to_be_bytes();
        assert!(matches!(
            asm.push(&[1, too_big[0], too_big[1], too_big[2], too_big[3]]),
            Err(NetError::FrameTooLarge { .. })
        ));
        assert!(matches!(
            asm.push(&[1, 0xff, 0xff, 0xff, 0xff]),
            Err(NetError::FrameTooLarge { .. })
        ));
        // More data than announced.
        assert!(matches!(
            asm.push(&[1, 0, 0, 0, 1, 5, 6]),
            Err(NetError::Protocol(_))
        ));
        // A continuation longer than what remains.
        assert_eq!(asm.push(&[1, 0, 0, 0, 3, 5]).unwrap(), Assembled::Partial);
        assert!(asm.in_frame());
        assert!(matches!(asm.push(&[1, 2, 3]), Err(NetError::Protocol(_))));
    }

    #[test]
    fn a_header_alone_reserves_nothing_for_the_length_it_announces() {
        // Issue 21, defect 2: a 5-byte header announcing 1 MiB made the receiver reserve it.
        let mut asm = Assembler::default();
        let len = u32::try_from(MAX_FRAME_LEN).unwrap().to_be_bytes();
        let header = [KIND_DATA, len[0], len[1], len[2], len[3]];
        assert_eq!(asm.push(&header).unwrap(), Assembled::Partial);
        assert_eq!(asm.buffered().0, 0);
        assert!(asm.buffered().1 < 1024, "{:?}", asm.buffered());
        let mut received = 0;
        for chunk in [&[7u8; 10][..], &[8; 1000], &vec![9; MAX_CHUNK]] {
            assert_eq!(asm.push(chunk).unwrap(), Assembled::Partial);
            received += chunk.len();
            let (held, capacity) = asm.buffered();
            assert_eq!(held, received);
            assert!(capacity <= 2 * received.max(8), "{capacity} for {received}");
        }
    }

    #[test]
    fn refuses_oversize_frames_on_send() {
        assert!(header(KIND_DATA, MAX_FRAME_LEN).is_ok());
        assert!(matches!(
            header(KIND_DATA, MAX_FRAME_LEN + 1),
            Err(NetError::FrameTooLarge { .. })
        ));
    }
}
