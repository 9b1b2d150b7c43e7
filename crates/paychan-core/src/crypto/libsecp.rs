//! The libsecp256k1 backend of [`crypto`](super) (the `libsecp256k1` feature, the default):
//! the C library through the `secp256k1` crate, 0.31. Each key signs with its own context,
//! blinded once when the key is made (libsecp256k1's side-channel hardening); `secp256k1`
//! 0.33 instead re-blinds a global context on every signature, which doubled the cost of a
//! signature (50 µs against 23 µs) for no protocol benefit. See `benches/crypto.rs` for the
//! comparison with the pure-Rust `k256` that made this the default.

use std::sync::{Arc, LazyLock};

use alloy_primitives::keccak256;
use secp256k1::{
    Message, PublicKey, Secp256k1, SecretKey, SignOnly, VerifyOnly,
    ecdsa::{RecoverableSignature, RecoveryId},
};

use super::KeyError;

/// The verification context: recovery needs no secret, so one context serves every thread.
static VERIFIER: LazyLock<Secp256k1<VerifyOnly>> = LazyLock::new(Secp256k1::verification_only);

/// Tag of the blinding seed derived from a key, so it is never equal to anything else.
const BLINDING_TAG: &[u8] = b"paychan-secp256k1-context-blinding";

/// A secret key with its own blinded signing context.
#[derive(Clone)]
pub(super) struct Key {
    secret: SecretKey,
    context: Arc<Secp256k1<SignOnly>>,
}

impl Key {
    /// The key whose secret scalar is `bytes`, and its public key as `x || y`.
    pub(super) fn new(bytes: [u8; 32]) -> Result<(Self, [u8; 64]), KeyError> {
        let secret = SecretKey::from_byte_array(bytes).map_err(|_| KeyError::OutOfRange)?;
        let mut context = Secp256k1::signing_only();
        // Blinded with a value only the key's owner can compute; `reblind` takes fresh
        // randomness from callers that have a random source.
        context.seeded_randomize(&keccak256([BLINDING_TAG, bytes.as_slice()].concat()).0);
        let public = xy(&PublicKey::from_secret_key(&context, &secret));
        let key = Key {
            secret,
            context: Arc::new(context),
        };
        Ok((key, public))
    }

    /// The secret scalar, big-endian.
    pub(super) fn to_bytes(&self) -> [u8; 32] {
        self.secret.secret_bytes()
    }

    /// Re-blinds the signing context with `seed`.
    pub(super) fn reblind(&mut self, seed: [u8; 32]) {
        let mut context = Secp256k1::signing_only();
        context.seeded_randomize(&seed);
        self.context = Arc::new(context);
    }

    /// Signs `hash` (RFC 6979, low s): `r || s` and whether the recovery id is 1.
    pub(super) fn sign(&self, hash: [u8; 32]) -> ([u8; 64], bool) {
        let sig = self
            .context
            .sign_ecdsa_recoverable(Message::from_digest(hash), &self.secret);
        let (recid, rs) = sig.serialize_compact();
        (rs, i32::from(recid) != 0)
    }
}

/// The public key (`x || y`) that signed `hash` with `rs` and recovery id 0 or 1, if any.
pub(super) fn recover(rs: &[u8; 64], recid_one: bool, hash: [u8; 32]) -> Option<[u8; 64]> {
    let recid = if recid_one {
        RecoveryId::One
    } else {
        RecoveryId::Zero
    };
    let sig = RecoverableSignature::from_compact(rs, recid).ok()?;
    let public = VERIFIER
        .recover_ecdsa(Message::from_digest(hash), &sig)
        .ok()?;
    Some(xy(&public))
}

/// The 64 bytes `x || y` of a public key.
fn xy(public: &PublicKey) -> [u8; 64] {
    let uncompressed = public.serialize_uncompressed();
    let mut out = [0u8; 64];
    if let Some(tail) = uncompressed.get(1..) {
        out.copy_from_slice(tail);
    }
    out
}
