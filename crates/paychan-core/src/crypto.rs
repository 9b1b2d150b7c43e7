//! secp256k1 keys and Ethereum-compatible signatures.
//!
//! A signature is 65 bytes `r || s || v` with `v` in `{27, 28}`, the form `ecrecover` and
//! OpenZeppelin's `ECDSA.recover` accept. Recovery refuses malleable signatures (`s` in the
//! upper half of the curve order), exactly as the contract will, so a signature that passes
//! here passes on chain and vice versa.
//!
//! Two backends do the curve arithmetic, chosen by feature: libsecp256k1 (`libsecp`, the
//! `libsecp256k1` feature, the default: faster, `benches/crypto.rs`) and the pure-Rust `k256`
//! (the `k256` feature: for wasm32-unknown-unknown, where the C library does not build). With
//! both, libsecp256k1 is used. Both use RFC 6979 nonces and low `s`, so a key signs byte for
//! byte alike on either, and both refuse the same signatures (tested below). Everything
//! around the arithmetic (the address, the `v` byte, the high-`s` refusal) is this module's.

use std::fmt;

use alloy_primitives::{Address, B256, FixedBytes, keccak256};
use serde::{Deserialize, Serialize};

// Also in unit tests, to compare it with libsecp256k1 (`backends`). Unused outside them when
// libsecp256k1 is the backend too (both features: a workspace build with paychan-wasm).
#[cfg(any(feature = "k256", test))]
#[cfg_attr(feature = "libsecp256k1", allow(dead_code))]
mod k256;
#[cfg(feature = "libsecp256k1")]
mod libsecp;

#[cfg(feature = "libsecp256k1")]
use self::libsecp as backend;

#[cfg(all(feature = "k256", not(feature = "libsecp256k1")))]
use self::k256 as backend;

#[cfg(not(any(feature = "k256", feature = "libsecp256k1")))]
compile_error!("paychan-core needs a signature backend: the `libsecp256k1` or the `k256` feature");

/// Half of the secp256k1 group order `n`, big-endian: the largest `s` a signature may carry.
const HALF_ORDER: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
];

/// Why a key could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The 32 bytes are zero or not below the curve order.
    #[error("secret key is out of range (zero or not below the secp256k1 order)")]
    OutOfRange,
    /// Too little entropy was supplied to derive a key.
    #[error("at least 32 bytes of entropy are needed, got {0}")]
    NotEnoughEntropy(usize),
}

/// Why a signature did not yield a signer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// `v` is not 27 or 28.
    #[error("invalid recovery byte v = {0} (expected 27 or 28)")]
    InvalidV(u8),
    /// `s` is in the upper half of the curve order: a malleated signature.
    #[error("malleable signature: s is above half the curve order")]
    HighS,
    /// `r` or `s` is zero or out of range, or no key recovers from it.
    #[error("signature does not recover to any key")]
    Unrecoverable,
}

/// A secp256k1 secret key with its Ethereum address.
#[derive(Clone)]
pub struct SigningKey {
    key: backend::Key,
    address: Address,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// The key whose secret scalar is exactly `bytes` (big-endian).
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self, KeyError> {
        let (key, public) = backend::Key::new(bytes)?;
        Ok(SigningKey {
            key,
            address: address_of(&public),
        })
    }

    /// Derives a key from at least 32 bytes of caller-supplied entropy (the core never reads
    /// the OS random source): `keccak256(entropy || counter)` for the first counter that gives
    /// a valid scalar.
    pub fn from_entropy(entropy: &[u8]) -> Result<Self, KeyError> {
        if entropy.len() < 32 {
            return Err(KeyError::NotEnoughEntropy(entropy.len()));
        }
        let mut input = Vec::with_capacity(entropy.len().saturating_add(1));
        input.extend_from_slice(entropy);
        input.push(0);
        for counter in 0..=u8::MAX {
            if let Some(last) = input.last_mut() {
                *last = counter;
            }
            if let Ok(key) = Self::from_bytes(keccak256(&input).0) {
                return Ok(key);
            }
        }
        // 256 consecutive keccak outputs all out of range has probability ~2^-32000.
        Err(KeyError::OutOfRange)
    }

    /// The Ethereum address of this key.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The secret scalar, big-endian (for keystores).
    pub fn to_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Re-blinds this key's signing context with 32 fresh random bytes (side-channel
    /// hardening of libsecp256k1; signatures are unchanged, RFC 6979 makes them
    /// deterministic). Nothing to do on the `k256` backend.
    pub fn reblind(&mut self, seed: [u8; 32]) {
        self.key.reblind(seed);
    }

    /// Signs a 32-byte digest (RFC 6979 nonce; `s` is always in the lower half).
    pub fn sign_hash(&self, hash: &B256) -> Signature {
        let (rs, recid_one) = self.key.sign(hash.0);
        Signature::from_parts(&rs, recid_one)
    }
}

/// The Ethereum address of a public key `x || y`: the last 20 bytes of its keccak256.
fn address_of(public: &[u8; 64]) -> Address {
    let hash = keccak256(public);
    Address::from_slice(hash.get(12..).unwrap_or_default())
}

/// A 65-byte Ethereum signature `r || s || v`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Signature(pub FixedBytes<65>);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.0)
    }
}

impl Signature {
    /// The raw 65 bytes.
    pub fn as_bytes(&self) -> &[u8; 65] {
        &self.0.0
    }

    /// `r || s || v` from a backend's `r || s` and recovery id (0 or 1 for low `s`).
    fn from_parts(rs: &[u8; 64], recid_one: bool) -> Self {
        let mut bytes = [0u8; 65];
        let (head, v) = bytes.split_at_mut(64);
        head.copy_from_slice(rs);
        if let Some(v) = v.first_mut() {
            *v = if recid_one { 28 } else { 27 };
        }
        Signature(FixedBytes(bytes))
    }

    /// Splits into `r || s` and the recovery id, refusing a bad `v` or a high `s`: the
    /// checks every backend shares.
    fn parts(&self) -> Result<([u8; 64], bool), SignatureError> {
        let bytes = self.as_bytes();
        let (rs, v) = bytes.split_at(64);
        let recid_one = match v.first().copied().unwrap_or_default() {
            27 => false,
            28 => true,
            other => return Err(SignatureError::InvalidV(other)),
        };
        if rs.get(32..64).unwrap_or_default() > HALF_ORDER.as_slice() {
            return Err(SignatureError::HighS);
        }
        let mut out = [0u8; 64];
        out.copy_from_slice(rs);
        Ok((out, recid_one))
    }

    /// Recovers the address that signed `hash`, refusing malleable or malformed signatures.
    pub fn recover(&self, hash: &B256) -> Result<Address, SignatureError> {
        let (rs, recid_one) = self.parts()?;
        let public =
            backend::recover(&rs, recid_one, hash.0).ok_or(SignatureError::Unrecoverable)?;
        Ok(address_of(&public))
    }

    /// Whether this signature over `hash` was made by `signer`.
    pub fn verify(&self, hash: &B256, signer: Address) -> bool {
        self.recover(hash).is_ok_and(|a| a == signer)
    }
}

#[cfg(all(test, feature = "libsecp256k1"))]
mod backends;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn known_address_of_key_one() {
        // The address of secret key 1 is well known.
        let mut one = [0u8; 32];
        one[31] = 1;
        let key = SigningKey::from_bytes(one).unwrap();
        assert_eq!(
            key.address(),
            "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
                .parse::<Address>()
                .unwrap()
        );
    }

    #[test]
    fn sign_and_recover_roundtrip() {
        let key = SigningKey::from_entropy(&[7u8; 32]).unwrap();
        let hash = keccak256(b"hello");
        let sig = key.sign_hash(&hash);
        assert_eq!(sig.recover(&hash).unwrap(), key.address());
        assert!(sig.verify(&hash, key.address()));
        assert!(!sig.verify(&keccak256(b"other"), key.address()));
    }

    #[test]
    fn refuses_bad_keys_and_short_entropy() {
        assert_eq!(
            SigningKey::from_bytes([0; 32]).unwrap_err(),
            KeyError::OutOfRange
        );
        assert_eq!(
            SigningKey::from_bytes([0xff; 32]).unwrap_err(),
            KeyError::OutOfRange
        );
        assert_eq!(
            SigningKey::from_entropy(&[1; 31]).unwrap_err(),
            KeyError::NotEnoughEntropy(31)
        );
    }

    #[test]
    fn refuses_malleated_and_malformed_signatures() {
        let key = SigningKey::from_entropy(&[9u8; 32]).unwrap();
        let hash = keccak256(b"x");
        let sig = key.sign_hash(&hash);

        // s' = n - s, with v flipped, is the malleated twin; it must be refused.
        let n = alloy_primitives::U256::from_str_radix(
            "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
            16,
        )
        .unwrap();
        let s = alloy_primitives::U256::from_be_slice(&sig.as_bytes()[32..64]);
        let mut twin = *sig.as_bytes();
        twin[32..64].copy_from_slice(&(n - s).to_be_bytes::<32>());
        twin[64] = if twin[64] == 27 { 28 } else { 27 };
        assert_eq!(
            Signature(FixedBytes(twin)).recover(&hash),
            Err(SignatureError::HighS)
        );

        let mut bad_v = *sig.as_bytes();
        bad_v[64] = 1;
        assert_eq!(
            Signature(FixedBytes(bad_v)).recover(&hash),
            Err(SignatureError::InvalidV(1))
        );

        assert_eq!(
            Signature(FixedBytes([0; 65])).recover(&hash),
            Err(SignatureError::InvalidV(0))
        );
        let mut zero_rs = [0u8; 65];
        zero_rs[64] = 27;
        assert_eq!(
            Signature(FixedBytes(zero_rs)).recover(&hash),
            Err(SignatureError::Unrecoverable)
        );
    }
}
