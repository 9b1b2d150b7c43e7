//! A node's network identity, and the binding of its Noise static key to its address.
//!
//! The Noise handshake authenticates X25519 static keys; the protocol knows nodes by their
//! secp256k1 addresses. Each side therefore sends, inside its encrypted handshake payload
//! (XX message 2 for the responder, message 3 for the initiator), a *binding*:
//!
//! ```text
//! version (1 byte, = 1) || address (20 bytes) || signature (65 bytes, r || s || v)
//! signature = sign(keccak256("paychan-noise-binding-v1" || noise_static_public_key))
//! ```
//!
//! The receiver recomputes the hash over the static key the handshake actually authenticated
//! and checks that the signature recovers to the claimed address, so a binding cannot be
//! replayed with another static key and a static key cannot be claimed by another address.

use paychan_core::{Address, B256, Signature, SigningKey, keccak256};
use snow::{
    params::DHChoice,
    resolvers::{CryptoResolver, DefaultResolver},
};

use crate::error::NetError;

/// The Noise protocol every paychan connection speaks.
pub const NOISE_PARAMS: &str = "Noise_XX_25519_ChaChaPoly_BLAKE2s";
/// The Noise prologue: both sides must agree on it, so it pins the protocol version.
pub const PROLOGUE: &[u8] = b"paychan-noise-v1";
/// Domain-separation tag of the binding signature.
pub const BINDING_TAG: &[u8] = b"paychan-noise-binding-v1";
/// Version byte at the start of a binding.
pub const BINDING_VERSION: u8 = 1;
/// Length of an encoded binding: version, address, signature.
pub const BINDING_LEN: usize = 1 + 20 + 65;
/// Length of an X25519 key.
pub const NOISE_KEY_LEN: usize = 32;

/// A node's identity on the network: its signing key (whose address peers know it by) and
/// its Noise static X25519 key, with the binding between them precomputed.
#[derive(Clone)]
pub struct Identity {
    key: SigningKey,
    noise_secret: [u8; NOISE_KEY_LEN],
    noise_public: [u8; NOISE_KEY_LEN],
    binding: [u8; BINDING_LEN],
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("address", &self.key.address())
            .field("noise_public", &B256::from(self.noise_public))
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// The identity of the node holding `key`, with the Noise static secret key
    /// `noise_secret` (32 bytes of entropy: the node passes OS randomness, tests pass fixed
    /// bytes; X25519 accepts any 32 bytes).
    pub fn new(key: SigningKey, noise_secret: [u8; NOISE_KEY_LEN]) -> Result<Self, NetError> {
        let mut dh = DefaultResolver
            .resolve_dh(&DHChoice::Curve25519)
            .ok_or_else(|| NetError::Handshake("X25519 is not available".to_owned()))?;
        dh.set(&noise_secret);
        let noise_public: [u8; NOISE_KEY_LEN] = dh
            .pubkey()
            .try_into()
            .map_err(|_| NetError::Handshake("unexpected X25519 key length".to_owned()))?;
        let binding = encode_binding(&key, &noise_public);
        Ok(Identity {
            key,
            noise_secret,
            noise_public,
            binding,
        })
    }

    /// The node address peers know this node by.
    pub fn address(&self) -> Address {
        self.key.address()
    }

    /// The Noise static public key.
    pub fn noise_public_key(&self) -> &[u8; NOISE_KEY_LEN] {
        &self.noise_public
    }

    /// The node's signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    pub(crate) fn noise_secret(&self) -> &[u8; NOISE_KEY_LEN] {
        &self.noise_secret
    }

    /// This node's encoded binding, sent in its handshake payload.
    pub fn binding(&self) -> &[u8; BINDING_LEN] {
        &self.binding
    }
}

/// The digest a binding signs: `keccak256(BINDING_TAG || noise_static_public_key)`.
pub fn binding_hash(noise_public: &[u8]) -> B256 {
    keccak256([BINDING_TAG, noise_public].concat())
}

/// Encodes the binding of `noise_public` to the address of `key`.
pub fn encode_binding(key: &SigningKey, noise_public: &[u8]) -> [u8; BINDING_LEN] {
    let signature = key.sign_hash(&binding_hash(noise_public));
    let mut out = [0u8; BINDING_LEN];
    let (version, rest) = out.split_at_mut(1);
    let (address, sig) = rest.split_at_mut(20);
    version.fill(BINDING_VERSION);
    address.copy_from_slice(key.address().as_slice());
    sig.copy_from_slice(signature.as_bytes());
    out
}

/// Checks a peer's binding against the static key its handshake authenticated and returns
/// the address it proves.
pub fn verify_binding(payload: &[u8], remote_static: &[u8]) -> Result<Address, NetError> {
    let bad = |what: &str| NetError::BadBinding(what.to_owned());
    if payload.len() != BINDING_LEN {
        return Err(NetError::BadBinding(format!(
            "payload of {} bytes, expected {BINDING_LEN}",
            payload.len()
        )));
    }
    let (version, rest) = payload.split_at(1);
    if version != [BINDING_VERSION] {
        return Err(bad("unknown binding version"));
    }
    let (address, signature) = rest.split_at(20);
    let claimed = Address::from_slice(address);
    let signature: [u8; 65] = signature
        .try_into()
        .map_err(|_| bad("signature is not 65 bytes"))?;
    let signer = Signature(signature.into())
        .recover(&binding_hash(remote_static))
        .map_err(|e| NetError::BadBinding(format!("signature: {e}")))?;
    if signer != claimed {
        return Err(NetError::BadBinding(format!(
            "signature over the authenticated static key recovers to {signer}, not to the \
             claimed {claimed}"
        )));
    }
    Ok(claimed)
}
