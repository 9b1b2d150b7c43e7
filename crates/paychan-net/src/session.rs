//! A finished handshake's frames over a message carrier, without IO: what a driver that owns
//! its socket (paychan-wasm over the browser's WebSocket) exchanges with a node.
//!
//! Each Noise message is one carrier message (one binary WebSocket message, as a node's
//! WebSocket and relay connections carry them); frames are chunked and reassembled exactly
//! as [`crate::Connection`] does it (`frame`: the kind and length header, at most 65519
//! plaintext bytes per message, keep-alives never returned).

use paychan_core::Address;
use snow::StatelessTransportState;

use crate::{
    error::NetError,
    frame::{self, Assembled, Assembler, KIND_DATA, KIND_KEEPALIVE, MAX_NOISE_MSG, TAG_LEN},
    handshake::Session,
};

/// The transport of a finished handshake: encrypts frames into carrier messages and
/// decrypts carrier messages into frames. After any error the session is finished: the
/// driver closes the carrier.
pub struct NoiseSession {
    noise: StatelessTransportState,
    peer: Address,
    send_nonce: u64,
    recv_nonce: u64,
    assembler: Assembler,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for NoiseSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoiseSession")
            .field("peer", &self.peer)
            .field("sent", &self.send_nonce)
            .field("received", &self.recv_nonce)
            .finish_non_exhaustive()
    }
}

impl NoiseSession {
    pub(crate) fn new(session: Session) -> Self {
        NoiseSession {
            noise: session.noise,
            peer: session.peer,
            send_nonce: 0,
            recv_nonce: 0,
            assembler: Assembler::default(),
            scratch: Vec::new(),
        }
    }

    /// The address the peer proved in the handshake.
    pub fn peer(&self) -> Address {
        self.peer
    }

    /// Encrypts one plaintext message into a carrier message.
    fn seal(&mut self, plain: &[u8]) -> Result<Vec<u8>, NetError> {
        let mut out = Vec::with_capacity(plain.len().saturating_add(TAG_LEN + 2));
        frame::seal(&self.noise, &mut self.send_nonce, plain, &mut out)?;
        // `seal` writes the stream form: drop the 2-byte length a message carrier does not
        // need (it was checked to fit).
        out.drain(..2);
        Ok(out)
    }

    /// The carrier messages of one application frame (up to
    /// [`MAX_FRAME_LEN`](paychan_core::wire::MAX_FRAME_LEN) bytes), in order.
    pub fn seal_frame(&mut self, data: &[u8]) -> Result<Vec<Vec<u8>>, NetError> {
        let header = frame::header(KIND_DATA, data.len())?;
        let (first, rest) = frame::split(data);
        self.scratch.clear();
        self.scratch.extend_from_slice(&header);
        self.scratch.extend_from_slice(first);
        let first = std::mem::take(&mut self.scratch);
        let mut messages = vec![self.seal(&first)?];
        self.scratch = first;
        for chunk in rest {
            messages.push(self.seal(chunk)?);
        }
        Ok(messages)
    }

    /// The carrier message of a keep-alive (the peer closes a connection silent for three
    /// of its keep-alive intervals).
    pub fn seal_keepalive(&mut self) -> Result<Vec<u8>, NetError> {
        let header = frame::header(KIND_KEEPALIVE, 0)?;
        self.seal(&header)
    }

    /// Decrypts one carrier message: a whole application frame if it completed one,
    /// `None` for a keep-alive or part of a frame.
    pub fn open(&mut self, message: &[u8]) -> Result<Option<Vec<u8>>, NetError> {
        if message.len() > MAX_NOISE_MSG {
            return Err(NetError::Protocol(format!(
                "message of {} bytes, the most accepted is {MAX_NOISE_MSG}",
                message.len()
            )));
        }
        let mut plain = vec![0u8; message.len()];
        let len = self
            .noise
            .read_message(self.recv_nonce, message, &mut plain)
            .map_err(|e| NetError::Protocol(format!("undecryptable message: {e}")))?;
        self.recv_nonce = self.recv_nonce.checked_add(1).ok_or(NetError::Closed)?;
        plain.truncate(len);
        match self.assembler.push(&plain)? {
            Assembled::Frame(frame) => Ok(Some(frame)),
            Assembled::KeepAlive | Assembled::Partial => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use paychan_core::{SigningKey, wire::MAX_FRAME_LEN};

    use super::*;
    use crate::{Identity, Initiator, Responder};

    fn identity(seed: u8) -> Identity {
        let key = SigningKey::from_bytes([seed; 32]).unwrap();
        Identity::new(key, [seed.wrapping_add(100); 32]).unwrap()
    }

    /// A handshake driven message by message, with the caller's entropy on both sides.
    fn pair_with(entropy: u8) -> (NoiseSession, NoiseSession) {
        let (alice, bob) = (identity(1), identity(2));
        let (initiator, first) = Initiator::start_with_entropy(&alice, &[entropy; 32]).unwrap();
        let mut responder = Responder::with_entropy(&bob, &[entropy ^ 0xff; 32]).unwrap();
        let second = responder.answer(&first, bob.binding()).unwrap();
        let (third, a) = initiator.finish(&second, bob.address(), &alice).unwrap();
        let b = responder.complete(&third).unwrap();
        assert_eq!(a.peer(), bob.address());
        assert_eq!(b.peer(), alice.address());
        (a, b)
    }

    fn pair() -> (NoiseSession, NoiseSession) {
        pair_with(7)
    }

    #[test]
    fn frames_of_every_size_cross_both_ways() {
        let (mut a, mut b) = pair();
        for len in [0, 1, 65514, 65515, 200_000, MAX_FRAME_LEN] {
            let frame: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let messages = a.seal_frame(&frame).unwrap();
            let (last, rest) = messages.split_last().unwrap();
            for m in rest {
                assert!(m.len() <= MAX_NOISE_MSG);
                assert_eq!(b.open(m).unwrap(), None);
            }
            assert_eq!(b.open(last).unwrap(), Some(frame.clone()));
            let back = b.seal_frame(&frame).unwrap();
            let mut got = None;
            for m in &back {
                got = a.open(m).unwrap();
            }
            assert_eq!(got, Some(frame));
        }
        let ka = a.seal_keepalive().unwrap();
        assert_eq!(b.open(&ka).unwrap(), None);
    }

    #[test]
    fn a_tampered_replayed_or_foreign_message_ends_the_session() {
        let (mut a, mut b) = pair();
        let m = a.seal_frame(b"hello").unwrap().remove(0);
        let mut bad = m.clone();
        bad[3] ^= 1;
        assert!(b.open(&bad).is_err());
        let (mut a, mut b) = pair();
        let m = a.seal_frame(b"hello").unwrap().remove(0);
        assert_eq!(b.open(&m).unwrap(), Some(b"hello".to_vec()));
        assert!(b.open(&m).is_err(), "a replayed message is refused");
        let (mut c, _) = pair_with(8);
        let foreign = c.seal_frame(b"x").unwrap().remove(0);
        let (_, mut d) = pair_with(9);
        assert!(
            d.open(&foreign).is_err(),
            "another session's message is refused"
        );
    }

    #[test]
    fn the_callers_entropy_is_the_only_randomness_drawn() {
        // The same entropy gives the same first message: nothing else was drawn.
        let alice = identity(1);
        let (_, one) = Initiator::start_with_entropy(&alice, &[5; 32]).unwrap();
        let (_, two) = Initiator::start_with_entropy(&alice, &[5; 32]).unwrap();
        let (_, other) = Initiator::start_with_entropy(&alice, &[6; 32]).unwrap();
        assert_eq!(one, two);
        assert_ne!(one, other);
    }
}
