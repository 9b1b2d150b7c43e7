//! The Noise XX handshake with the address binding.
//!
//! ```text
//! -> e                  (message 1, empty payload)
//! <- e, ee, s, es       (message 2, payload = responder's binding)
//! -> s, se              (message 3, payload = initiator's binding)
//! ```
//!
//! The initiator checks the responder's binding and that it proves the address it dialed
//! before it sends message 3, so a wrong or forged responder never learns the initiator's
//! identity and the responder gets no connection. See [`crate::identity`] for the binding.

use paychan_core::Address;
use snow::{Builder, HandshakeState, StatelessTransportState};

use crate::{
    error::NetError,
    identity::{Identity, NOISE_PARAMS, PROLOGUE, verify_binding},
    transport::{RawReader, RawWriter},
};

/// The largest handshake message accepted (message 2, the largest, is about 180 bytes).
const MAX_HANDSHAKE_MSG: usize = 1024;

/// A finished handshake: the transport keys and the peer's proven address.
pub(crate) struct Session {
    /// The transport cipher states.
    pub(crate) noise: StatelessTransportState,
    /// The address the peer proved.
    pub(crate) peer: Address,
}

fn noise_error(e: snow::Error) -> NetError {
    NetError::Handshake(e.to_string())
}

fn state(identity: &Identity, initiator: bool) -> Result<HandshakeState, NetError> {
    let params = NOISE_PARAMS.parse().map_err(noise_error)?;
    let builder = Builder::new(params)
        .local_private_key(identity.noise_secret())
        .map_err(noise_error)?
        .prologue(PROLOGUE)
        .map_err(noise_error)?;
    if initiator {
        builder.build_initiator()
    } else {
        builder.build_responder()
    }
    .map_err(noise_error)
}

/// Writes the next handshake message carrying `payload`.
async fn send(
    hs: &mut HandshakeState,
    writer: &mut RawWriter,
    payload: &[u8],
) -> Result<(), NetError> {
    let mut buf = [0u8; MAX_HANDSHAKE_MSG + 2];
    let (prefix, body) = buf.split_at_mut(2);
    let len = hs.write_message(payload, body).map_err(noise_error)?;
    let len16 = u16::try_from(len).map_err(|_| NetError::Handshake("message too long".into()))?;
    prefix.copy_from_slice(&len16.to_be_bytes());
    let message = buf
        .get(..len.saturating_add(2))
        .ok_or_else(|| NetError::Handshake("message too long".into()))?;
    writer.write_messages(message).await
}

/// Reads the next handshake message and returns its payload.
async fn receive(hs: &mut HandshakeState, reader: &mut RawReader) -> Result<Vec<u8>, NetError> {
    let mut message = Vec::new();
    if !reader.read_message(&mut message).await? {
        return Err(NetError::Closed);
    }
    if message.len() > MAX_HANDSHAKE_MSG {
        return Err(NetError::Handshake(format!(
            "handshake message of {} bytes",
            message.len()
        )));
    }
    let mut payload = vec![0u8; MAX_HANDSHAKE_MSG];
    let len = hs
        .read_message(&message, &mut payload)
        .map_err(noise_error)?;
    payload.truncate(len);
    Ok(payload)
}

/// The address proven by the binding in `payload` for the static key `hs` authenticated.
fn peer_address(hs: &HandshakeState, payload: &[u8]) -> Result<Address, NetError> {
    let remote_static = hs
        .get_remote_static()
        .ok_or_else(|| NetError::Handshake("no remote static key".into()))?;
    verify_binding(payload, remote_static)
}

fn finish(hs: HandshakeState, peer: Address) -> Result<Session, NetError> {
    Ok(Session {
        noise: hs.into_stateless_transport_mode().map_err(noise_error)?,
        peer,
    })
}

/// Runs the initiator side, refusing a responder that does not prove `expected`.
pub(crate) async fn initiate(
    reader: &mut RawReader,
    writer: &mut RawWriter,
    identity: &Identity,
    expected: Address,
) -> Result<Session, NetError> {
    let mut hs = state(identity, true)?;
    send(&mut hs, writer, &[]).await?;
    let payload = receive(&mut hs, reader).await?;
    let got = peer_address(&hs, &payload)?;
    if got != expected {
        return Err(NetError::WrongPeer { expected, got });
    }
    send(&mut hs, writer, identity.binding()).await?;
    finish(hs, got)
}

/// Runs the responder side and returns the initiator's proven address.
pub(crate) async fn respond(
    reader: &mut RawReader,
    writer: &mut RawWriter,
    identity: &Identity,
) -> Result<Session, NetError> {
    let mut hs = state(identity, false)?;
    let first = receive(&mut hs, reader).await?;
    if !first.is_empty() {
        return Err(NetError::Handshake(
            "unexpected payload in message 1".into(),
        ));
    }
    send(&mut hs, writer, identity.binding()).await?;
    let payload = receive(&mut hs, reader).await?;
    let peer = peer_address(&hs, &payload)?;
    finish(hs, peer)
}
