//! secp256k1 keys and Ethereum-compatible signatures.
//!
//! A signature is 65 bytes `r || s || v` with `v` in `{27, 28}`, the form `ecrecover` and
//! OpenZeppelin's `ECDSA.recover` accept. Recovery refuses malleable signatures (`s` in the
//! upper half of the curve order), exactly as the contract will, so a signature that passes
//! here passes on chain and vice versa.
//!
//! Backed by libsecp256k1 (the `secp256k1` crate, 0.31): see `benches/crypto.rs` for the
//! comparison with the pure-Rust `k256` that decided it. Each key signs with its own context,
//! blinded once when the key is made (libsecp256k1's side-channel hardening); `secp256k1`
//! 0.33 instead re-blinds a global context on every signature, which doubled the cost of a
//! signature (50 µs against 23 µs) for no protocol benefit.

use std::{
    fmt,
    sync::{Arc, LazyLock},
};

use alloy_primitives::{Address, B256, FixedBytes, keccak256};
use secp256k1::{
    Message, PublicKey, Secp256k1, SecretKey, SignOnly, VerifyOnly,
    ecdsa::{RecoverableSignature, RecoveryId},
};

/// The verification context: recovery needs no secret, so one context serves every thread.
static VERIFIER: LazyLock<Secp256k1<VerifyOnly>> = LazyLock::new(Secp256k1::verification_only);

/// Tag of the blinding seed derived from a key, so it is never equal to anything else.
const BLINDING_TAG: &[u8] = b"paychan-secp256k1-context-blinding";
use serde::{Deserialize, Serialize};

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
    secret: SecretKey,
    address: Address,
    context: Arc<Secp256k1<SignOnly>>,
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
        let secret = SecretKey::from_byte_array(bytes).map_err(|_| KeyError::OutOfRange)?;
        let mut context = Secp256k1::signing_only();
        // Blinded with a value only the key's owner can compute; `reblind` takes fresh
        // randomness from callers that have a random source.
        context.seeded_randomize(&keccak256([BLINDING_TAG, bytes.as_slice()].concat()).0);
        let address = address_of(&PublicKey::from_secret_key(&context, &secret));
        Ok(SigningKey {
            secret,
            address,
            context: Arc::new(context),
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
        self.secret.secret_bytes()
    }

    /// Re-blinds this key's signing context with 32 fresh random bytes (side-channel
    /// hardening; signatures are unchanged, RFC 6979 makes them deterministic).
    pub fn reblind(&mut self, seed: [u8; 32]) {
        let mut context = Secp256k1::signing_only();
        context.seeded_randomize(&seed);
        self.context = Arc::new(context);
    }

    /// Signs a 32-byte digest (RFC 6979 nonce; `s` is always in the lower half).
    pub fn sign_hash(&self, hash: &B256) -> Signature {
        let sig = self
            .context
            .sign_ecdsa_recoverable(Message::from_digest(hash.0), &self.secret);
        let (recid, rs) = sig.serialize_compact();
        let mut bytes = [0u8; 65];
        let (head, v) = bytes.split_at_mut(64);
        head.copy_from_slice(&rs);
        if let Some(v) = v.first_mut() {
            // The recovery id of a low-s signature is 0 or 1.
            *v = if i32::from(recid) == 0 { 27 } else { 28 };
        }
        Signature(FixedBytes(bytes))
    }
}

/// The Ethereum address of a public key: the last 20 bytes of keccak256 of its 64-byte
/// uncompressed form.
fn address_of(public: &PublicKey) -> Address {
    let uncompressed = public.serialize_uncompressed();
    let hash = keccak256(uncompressed.get(1..).unwrap_or_default());
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

    /// Recovers the address that signed `hash`, refusing malleable or malformed signatures.
    pub fn recover(&self, hash: &B256) -> Result<Address, SignatureError> {
        let bytes = self.as_bytes();
        let (rs, v) = bytes.split_at(64);
        let v = v.first().copied().unwrap_or_default();
        let recid = match v {
            27 => RecoveryId::Zero,
            28 => RecoveryId::One,
            other => return Err(SignatureError::InvalidV(other)),
        };
        let s = rs.get(32..64).unwrap_or_default();
        if s > HALF_ORDER.as_slice() {
            return Err(SignatureError::HighS);
        }
        let sig = RecoverableSignature::from_compact(rs, recid)
            .map_err(|_| SignatureError::Unrecoverable)?;
        let public = VERIFIER
            .recover_ecdsa(Message::from_digest(hash.0), &sig)
            .map_err(|_| SignatureError::Unrecoverable)?;
        Ok(address_of(&public))
    }

    /// Whether this signature over `hash` was made by `signer`.
    pub fn verify(&self, hash: &B256, signer: Address) -> bool {
        self.recover(hash).is_ok_and(|a| a == signer)
    }
}

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
