//! The pure-Rust backend of [`crypto`](super) (the `k256` feature): RustCrypto's `k256`, for
//! targets libsecp256k1 does not build for (wasm32-unknown-unknown, for the browser). The same
//! deterministic RFC 6979 nonces and low-s normalization as libsecp256k1, so a key signs byte
//! for byte alike on both (tested in `crypto::tests`); slower (`benches/crypto.rs`).

use k256::ecdsa::{RecoveryId, Signature, SigningKey, VerifyingKey};

use super::KeyError;

/// A secret key.
#[derive(Clone)]
pub(super) struct Key {
    secret: SigningKey,
}

impl Key {
    /// The key whose secret scalar is `bytes`, and its public key as `x || y`.
    pub(super) fn new(bytes: [u8; 32]) -> Result<(Self, [u8; 64]), KeyError> {
        let secret = SigningKey::from_slice(&bytes).map_err(|_| KeyError::OutOfRange)?;
        let public = xy(secret.verifying_key());
        Ok((Key { secret }, public))
    }

    /// The secret scalar, big-endian.
    pub(super) fn to_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(&self.secret.to_bytes());
        out
    }

    /// Nothing to re-blind: `k256`'s arithmetic is constant-time by construction.
    pub(super) fn reblind(&mut self, _seed: [u8; 32]) {}

    /// Signs `hash` (RFC 6979, low s): `r || s` and whether the recovery id is 1.
    pub(super) fn sign(&self, hash: [u8; 32]) -> ([u8; 64], bool) {
        let (sig, recid) = self.secret.sign_prehash_recoverable(&hash);
        let mut out = [0u8; 64];
        out.copy_from_slice(&sig.to_bytes());
        (out, recid.is_y_odd())
    }
}

/// The public key (`x || y`) that signed `hash` with `rs` and recovery id 0 or 1, if any.
pub(super) fn recover(rs: &[u8; 64], recid_one: bool, hash: [u8; 32]) -> Option<[u8; 64]> {
    let sig = Signature::from_slice(rs).ok()?;
    let recid = RecoveryId::new(recid_one, false);
    let public = VerifyingKey::recover_from_prehash(&hash, &sig, recid).ok()?;
    Some(xy(&public))
}

/// The 64 bytes `x || y` of a public key.
fn xy(public: &VerifyingKey) -> [u8; 64] {
    let point = public.to_sec1_point(false);
    let mut out = [0u8; 64];
    if let Some(tail) = point.as_bytes().get(1..65) {
        out.copy_from_slice(tail);
    }
    out
}
