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
use snow::{
    Builder, HandshakeState, StatelessTransportState,
    params::{CipherChoice, DHChoice, HashChoice},
    resolvers::{CryptoResolver, DefaultResolver},
    types::{Cipher, Dh, Hash, Random},
};

#[cfg(feature = "runtime")]
use crate::transport::{RawReader, RawWriter};
use crate::{
    error::NetError,
    identity::{Identity, NOISE_PARAMS, PROLOGUE, verify_binding},
    session::NoiseSession,
};

/// The bytes of entropy a handshake draws: one X25519 ephemeral key.
pub const HANDSHAKE_ENTROPY: usize = 32;

/// The largest handshake message accepted (message 2, the largest, is about 180 bytes): the
/// most an unauthenticated peer can make us read at once.
pub const MAX_HANDSHAKE_MSG: usize = 1024;

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

/// A random source that hands out the caller's entropy once: where the OS has none to give
/// (wasm32 in a browser, whose `crypto.getRandomValues` bytes the caller passes in).
struct Entropy(Vec<u8>);

impl Random for Entropy {
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), snow::Error> {
        if dest.len() > self.0.len() {
            return Err(snow::Error::Rng);
        }
        let rest = self.0.split_off(dest.len());
        dest.copy_from_slice(&self.0);
        self.0 = rest;
        Ok(())
    }
}

/// snow's pure-Rust primitives with [`Entropy`] as the random source.
struct EntropyResolver(std::sync::Mutex<Option<Entropy>>);

impl CryptoResolver for EntropyResolver {
    fn resolve_rng(&self) -> Option<Box<dyn Random>> {
        let taken = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        taken.map(|e| Box::new(e) as Box<dyn Random>)
    }

    fn resolve_dh(&self, choice: &DHChoice) -> Option<Box<dyn Dh>> {
        DefaultResolver.resolve_dh(choice)
    }

    fn resolve_hash(&self, choice: &HashChoice) -> Option<Box<dyn Hash>> {
        DefaultResolver.resolve_hash(choice)
    }

    fn resolve_cipher(&self, choice: &CipherChoice) -> Option<Box<dyn Cipher>> {
        DefaultResolver.resolve_cipher(choice)
    }
}

/// A handshake state; its ephemeral key from `entropy` if given, else from the OS.
fn state(
    identity: &Identity,
    initiator: bool,
    entropy: Option<&[u8; HANDSHAKE_ENTROPY]>,
) -> Result<HandshakeState, NetError> {
    let params = NOISE_PARAMS.parse().map_err(noise_error)?;
    let builder = match entropy {
        Some(bytes) => Builder::with_resolver(
            params,
            Box::new(EntropyResolver(std::sync::Mutex::new(Some(Entropy(
                bytes.to_vec(),
            ))))),
        ),
        None => Builder::new(params),
    };
    let builder = builder
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

/// The next handshake message, carrying `payload`.
fn write(hs: &mut HandshakeState, payload: &[u8]) -> Result<Vec<u8>, NetError> {
    let mut buf = vec![0u8; MAX_HANDSHAKE_MSG];
    let len = hs.write_message(payload, &mut buf).map_err(noise_error)?;
    buf.truncate(len);
    Ok(buf)
}

/// Reads a handshake message and returns its payload.
fn read(hs: &mut HandshakeState, message: &[u8]) -> Result<Vec<u8>, NetError> {
    if message.len() > MAX_HANDSHAKE_MSG {
        return Err(NetError::Handshake(format!(
            "handshake message of {} bytes",
            message.len()
        )));
    }
    let mut payload = vec![0u8; MAX_HANDSHAKE_MSG];
    let len = hs
        .read_message(message, &mut payload)
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

/// The initiator's side, one message at a time, without I/O.
pub struct Initiator {
    hs: HandshakeState,
}

impl Initiator {
    /// Starts a handshake as `identity`; returns message 1 (an empty payload) too.
    pub fn start(identity: &Identity) -> Result<(Self, Vec<u8>), NetError> {
        let mut hs = state(identity, true, None)?;
        let first = write(&mut hs, &[])?;
        Ok((Initiator { hs }, first))
    }

    /// [`start`](Self::start) with the ephemeral key drawn from `entropy` (32 fresh random
    /// bytes, never used twice) instead of the OS.
    pub fn start_with_entropy(
        identity: &Identity,
        entropy: &[u8; HANDSHAKE_ENTROPY],
    ) -> Result<(Self, Vec<u8>), NetError> {
        let mut hs = state(identity, true, Some(entropy))?;
        let first = write(&mut hs, &[])?;
        Ok((Initiator { hs }, first))
    }

    /// Reads message 2, refusing a responder that does not prove `expected`, and answers
    /// message 3 carrying `identity`'s binding, with the session to exchange frames on.
    pub fn finish(
        self,
        second: &[u8],
        expected: Address,
        identity: &Identity,
    ) -> Result<(Vec<u8>, NoiseSession), NetError> {
        let (third, session) = self.answer(second, expected, identity.binding())?;
        Ok((third, NoiseSession::new(session)))
    }

    /// Reads message 2 and checks that its binding proves `expected`; then writes message 3
    /// carrying `binding` (ours, except in tests). Returns message 3 and the session.
    pub(crate) fn answer(
        mut self,
        second: &[u8],
        expected: Address,
        binding: &[u8],
    ) -> Result<(Vec<u8>, Session), NetError> {
        let payload = read(&mut self.hs, second)?;
        let got = peer_address(&self.hs, &payload)?;
        if got != expected {
            return Err(NetError::WrongPeer { expected, got });
        }
        let third = write(&mut self.hs, binding)?;
        Ok((third, finish(self.hs, got)?))
    }
}

/// The responder's side, one message at a time, without I/O.
pub struct Responder {
    hs: HandshakeState,
}

impl Responder {
    /// Waits for a handshake as `identity`.
    pub fn new(identity: &Identity) -> Result<Self, NetError> {
        Ok(Responder {
            hs: state(identity, false, None)?,
        })
    }

    /// [`new`](Self::new) with the ephemeral key drawn from `entropy` (32 fresh random
    /// bytes, never used twice) instead of the OS.
    pub fn with_entropy(
        identity: &Identity,
        entropy: &[u8; HANDSHAKE_ENTROPY],
    ) -> Result<Self, NetError> {
        Ok(Responder {
            hs: state(identity, false, Some(entropy))?,
        })
    }

    /// Reads message 3: the session to exchange frames on, with the initiator's proven
    /// address.
    pub fn complete(self, third: &[u8]) -> Result<NoiseSession, NetError> {
        self.finish(third).map(NoiseSession::new)
    }

    /// Reads message 1 (whose payload must be empty) and writes message 2 carrying `binding`
    /// (ours, except in tests).
    pub fn answer(&mut self, first: &[u8], binding: &[u8]) -> Result<Vec<u8>, NetError> {
        if !read(&mut self.hs, first)?.is_empty() {
            return Err(NetError::Handshake(
                "unexpected payload in message 1".into(),
            ));
        }
        write(&mut self.hs, binding)
    }

    /// Reads message 3 and returns the session with the initiator's proven address.
    pub(crate) fn finish(mut self, third: &[u8]) -> Result<Session, NetError> {
        let payload = read(&mut self.hs, third)?;
        let peer = peer_address(&self.hs, &payload)?;
        finish(self.hs, peer)
    }
}

#[cfg(feature = "runtime")]
/// Writes one handshake message, prefixed by its length (stream form).
async fn send(writer: &mut RawWriter, message: &[u8]) -> Result<(), NetError> {
    let len =
        u16::try_from(message.len()).map_err(|_| NetError::Handshake("message too long".into()))?;
    writer
        .write_messages(&[&len.to_be_bytes()[..], message].concat())
        .await
}

#[cfg(feature = "runtime")]
/// Reads the next handshake message, refusing one above [`MAX_HANDSHAKE_MSG`] before its
/// body is read.
async fn receive(reader: &mut RawReader) -> Result<Vec<u8>, NetError> {
    let mut message = Vec::new();
    if !reader.read_message(&mut message, MAX_HANDSHAKE_MSG).await? {
        return Err(NetError::Closed);
    }
    Ok(message)
}

#[cfg(feature = "runtime")]
/// Runs the initiator side, refusing a responder that does not prove `expected`.
pub(crate) async fn initiate(
    reader: &mut RawReader,
    writer: &mut RawWriter,
    identity: &Identity,
    expected: Address,
) -> Result<Session, NetError> {
    let (initiator, first) = Initiator::start(identity)?;
    send(writer, &first).await?;
    let second = receive(reader).await?;
    let (third, session) = initiator.answer(&second, expected, identity.binding())?;
    send(writer, &third).await?;
    Ok(session)
}

#[cfg(feature = "runtime")]
/// Runs the responder side and returns the initiator's proven address.
pub(crate) async fn respond(
    reader: &mut RawReader,
    writer: &mut RawWriter,
    identity: &Identity,
) -> Result<Session, NetError> {
    let mut responder = Responder::new(identity)?;
    let first = receive(reader).await?;
    let second = responder.answer(&first, identity.binding())?;
    send(writer, &second).await?;
    let third = receive(reader).await?;
    responder.finish(&third)
}
