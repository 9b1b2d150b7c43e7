//! The two signature backends agree: the same public keys, byte-identical signatures (both
//! RFC 6979 with low `s`), the same recovered keys and the same refusals, on many keys and
//! messages, including signatures neither made.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use alloy_primitives::{B256, FixedBytes, U256, keccak256};

use super::{Signature, SignatureError, address_of, k256, libsecp};

/// A backend's recovery function.
type Recover = fn(&[u8; 64], bool, [u8; 32]) -> Option<[u8; 64]>;

/// Recovery as [`Signature::recover`] does it, with the backend's function `recover`.
fn recover_with(
    sig: &Signature,
    hash: &B256,
    recover: Recover,
) -> Result<alloy_primitives::Address, SignatureError> {
    let (rs, recid_one) = sig.parts()?;
    let public = recover(&rs, recid_one, hash.0).ok_or(SignatureError::Unrecoverable)?;
    Ok(address_of(&public))
}

fn both_recover(sig: &Signature, hash: &B256) -> Result<alloy_primitives::Address, SignatureError> {
    let lib = recover_with(sig, hash, libsecp::recover);
    let pure = recover_with(sig, hash, k256::recover);
    assert_eq!(lib, pure, "the backends disagree on {sig:?} over {hash}");
    lib
}

#[test]
fn both_backends_sign_and_recover_alike() {
    let n = U256::from_str_radix(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        16,
    )
    .unwrap();
    let mut keys = 0;
    for i in 0u32..300 {
        let bytes = keccak256(format!("backend key {i}")).0;
        let (Ok((lib_key, lib_public)), Ok((pure_key, pure_public))) =
            (libsecp::Key::new(bytes), k256::Key::new(bytes))
        else {
            panic!("key {i} refused by a backend");
        };
        keys += 1;
        assert_eq!(lib_public, pure_public, "key {i}");
        assert_eq!(lib_key.to_bytes(), pure_key.to_bytes());
        let address = address_of(&lib_public);
        for j in 0u32..8 {
            let hash = keccak256(format!("message {i} {j}"));
            let (lib_rs, lib_odd) = lib_key.sign(hash.0);
            let (pure_rs, pure_odd) = pure_key.sign(hash.0);
            assert_eq!(
                (lib_rs, lib_odd),
                (pure_rs, pure_odd),
                "key {i} message {j}"
            );
            let sig = Signature::from_parts(&lib_rs, lib_odd);
            assert_eq!(both_recover(&sig, &hash), Ok(address));

            // The malleated twin (s' = n - s, v flipped): refused by both.
            let s = U256::from_be_slice(&lib_rs[32..]);
            let mut twin = *sig.as_bytes();
            twin[32..64].copy_from_slice(&(n - s).to_be_bytes::<32>());
            twin[64] = if twin[64] == 27 { 28 } else { 27 };
            assert_eq!(
                both_recover(&Signature(FixedBytes(twin)), &hash),
                Err(SignatureError::HighS)
            );
            // A bad v: refused by both.
            let mut bad_v = *sig.as_bytes();
            bad_v[64] = 1 + (j as u8);
            assert_eq!(
                both_recover(&Signature(FixedBytes(bad_v)), &hash),
                Err(SignatureError::InvalidV(1 + j as u8))
            );
            // The other recovery id: another key (or none), the same for both.
            let mut flipped = *sig.as_bytes();
            flipped[64] = if flipped[64] == 27 { 28 } else { 27 };
            let other = both_recover(&Signature(FixedBytes(flipped)), &hash);
            assert_ne!(other, Ok(address));
            // Bytes nobody signed: r and s from a hash (s made low), both recover the same
            // key or both refuse.
            let mut forged = [0u8; 65];
            forged[..32].copy_from_slice(&keccak256(format!("r {i} {j}")).0);
            forged[32..64].copy_from_slice(&keccak256(format!("s {i} {j}")).0);
            forged[32] &= 0x7f;
            forged[64] = 27 + (j % 2) as u8;
            let _ = both_recover(&Signature(FixedBytes(forged)), &hash);
        }
    }
    assert_eq!(keys, 300);

    // Out-of-range keys: refused by both.
    for bad in [[0u8; 32], [0xff; 32], n.to_be_bytes::<32>()] {
        assert!(libsecp::Key::new(bad).is_err());
        assert!(k256::Key::new(bad).is_err());
    }
    // Zero and out-of-range r or s: refused by both.
    let hash = keccak256(b"edge");
    for (r, s) in [
        (U256::ZERO, U256::from(1)),
        (U256::from(1), U256::ZERO),
        (n, U256::from(1)),
        (U256::MAX, U256::from(1)),
    ] {
        let mut bytes = [0u8; 65];
        bytes[..32].copy_from_slice(&r.to_be_bytes::<32>());
        bytes[32..64].copy_from_slice(&s.to_be_bytes::<32>());
        bytes[64] = 27;
        assert_eq!(
            both_recover(&Signature(FixedBytes(bytes)), &hash),
            Err(SignatureError::Unrecoverable)
        );
    }
}
