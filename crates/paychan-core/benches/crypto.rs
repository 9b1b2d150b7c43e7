//! Micro-benchmarks of the per-payment hot path of paychan-core.
//!
//! Every payment hashes a voucher (EIP-712), signs it on the payer's side, recovers the signer
//! on the payee's side, and crosses the wire as a `Message::Pay` frame. This file measures each
//! of those steps:
//!
//! - `voucher/eip712_hash`: `Voucher::signing_hash` (struct hash plus the `0x1901` domain digest).
//! - `voucher/sign`: `secp256k1` (libsecp256k1 through `paychan_core::SigningKey::sign_hash`)
//!   against `k256` (pure Rust, `sign_prehash_recoverable`, RFC 6979, low-s), both producing the
//!   65-byte `r || s || v` form.
//! - `voucher/recover`: `secp256k1` (`paychan_core::Signature::recover`, which includes keccak of
//!   the public key) against `k256` (`recover_from_prehash` plus keccak of the uncompressed key).
//! - `wire/encode_pay` and `wire/decode_pay`: the codec on a `Pay` frame with a 64-byte body.
//! - `channel/pay` and `channel/handle_voucher`: the payer's and the payee's whole step in the
//!   channel state machine (checks, hash, sign or recover, state update).
//!
//! The secp256k1-vs-k256 comparison is what decided the signature backend of `crypto.rs`
//! (libsecp256k1 through `secp256k1` 0.31 with a per-key blinded context: faster at both).
//! Before timing, the two backends are checked to produce the same signature byte for byte
//! (both use deterministic RFC 6979 nonces) and to recover the same address.
//!
//! Run with `cargo bench -p paychan-core --bench crypto`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    missing_docs
)]

use std::{hint::black_box, time::Duration};

use criterion::{Criterion, criterion_group, criterion_main};
use paychan_core::{
    Address, B256, ChannelId, ChannelParams, Domain, SignedVoucher, SigningKey, Voucher,
    adjudicator::LedgerEvent,
    channel::Channel,
    crypto::Signature,
    eip712::{Eip712, memo_of},
    keccak256,
    wire::{Message, decode, encode},
};

/// A 64-byte JSON body, as the node would put in a `Pay`.
const BODY: &[u8; 64] = br#"{"method":"chat","params":{"text":"hello, paid world!!!!!!!!!"}}"#;

struct Fixture {
    domain: Domain,
    voucher: Voucher,
    digest: B256,
    key: SigningKey,
    k256_key: k256::ecdsa::SigningKey,
}

fn fixture() -> Fixture {
    let domain = Domain::new(
        31337,
        "0x5FbDB2315678afecb367f032d93F642f64180aa3"
            .parse::<Address>()
            .unwrap(),
    );
    let key = SigningKey::from_entropy(&[42u8; 32]).unwrap();
    let voucher = Voucher {
        channel_id: ChannelId(keccak256(b"bench channel")),
        payer: key.address(),
        cumulative: 1_234_567_890_000_000_000,
        sequence: 4242,
        memo: memo_of(BODY),
    };
    let digest = voucher.signing_hash(&domain);
    let k256_key = k256::ecdsa::SigningKey::from_slice(&key.to_bytes()).unwrap();
    Fixture {
        domain,
        voucher,
        digest,
        key,
        k256_key,
    }
}

/// k256: sign a prehash into the Ethereum 65-byte `r || s || v` form.
fn k256_sign(key: &k256::ecdsa::SigningKey, digest: &B256) -> [u8; 65] {
    let (sig, recid) = key.sign_prehash_recoverable(digest.as_slice());
    let mut out = [0u8; 65];
    out[..64].copy_from_slice(&sig.to_bytes());
    out[64] = 27 + recid.to_byte();
    out
}

/// k256: recover the Ethereum address from a 65-byte `r || s || v` signature over a prehash.
fn k256_recover(sig: &[u8; 65], digest: &B256) -> Address {
    let signature = k256::ecdsa::Signature::from_slice(&sig[..64]).unwrap();
    let recid = k256::ecdsa::RecoveryId::from_byte(sig[64] - 27).unwrap();
    let vk = k256::ecdsa::VerifyingKey::recover_from_prehash(digest.as_slice(), &signature, recid)
        .unwrap();
    let point = vk.to_sec1_point(false);
    let hash = keccak256(&point.as_bytes()[1..]);
    Address::from_slice(&hash[12..])
}

/// Checks, once and outside any timing loop, that both backends agree.
fn check_backends_agree(f: &Fixture) {
    let lib = f.key.sign_hash(&f.digest);
    let k = k256_sign(&f.k256_key, &f.digest);
    assert_eq!(
        lib.as_bytes(),
        &k,
        "libsecp256k1 and k256 signatures differ (both should be RFC 6979, low-s)"
    );
    let lib_addr = lib.recover(&f.digest).unwrap();
    let k_addr = k256_recover(&k, &f.digest);
    assert_eq!(lib_addr, f.key.address());
    assert_eq!(k_addr, f.key.address());
    // And cross-recovery: each backend accepts the other's signature.
    assert_eq!(k256_recover(lib.as_bytes(), &f.digest), f.key.address());
    assert_eq!(
        Signature(k.into()).recover(&f.digest).unwrap(),
        f.key.address()
    );
    assert!(f.voucher.recover(&f.domain, &lib).unwrap() == f.key.address());
}

/// Short runs: the whole file finishes in well under two minutes.
fn config() -> Criterion {
    Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

fn bench_eip712(c: &mut Criterion) {
    let f = fixture();
    let mut g = c.benchmark_group("voucher/eip712_hash");
    g.bench_function("signing_hash", |b| {
        b.iter(|| black_box(&f.voucher).signing_hash(black_box(&f.domain)))
    });
    g.finish();
}

fn bench_sign(c: &mut Criterion) {
    let f = fixture();
    check_backends_agree(&f);
    let mut g = c.benchmark_group("voucher/sign");
    g.bench_function("secp256k1", |b| {
        b.iter(|| black_box(&f.key).sign_hash(black_box(&f.digest)))
    });
    g.bench_function("k256", |b| {
        b.iter(|| k256_sign(black_box(&f.k256_key), black_box(&f.digest)))
    });
    g.finish();
}

fn bench_recover(c: &mut Criterion) {
    let f = fixture();
    let sig = f.key.sign_hash(&f.digest);
    let raw = *sig.as_bytes();
    let mut g = c.benchmark_group("voucher/recover");
    g.bench_function("secp256k1", |b| {
        b.iter(|| black_box(&sig).recover(black_box(&f.digest)).unwrap())
    });
    g.bench_function("k256", |b| {
        b.iter(|| k256_recover(black_box(&raw), black_box(&f.digest)))
    });
    g.finish();
}

fn pay_message(f: &Fixture) -> Message {
    Message::Pay {
        request_id: 7,
        voucher: SignedVoucher {
            voucher: f.voucher,
            signature: f.voucher.sign(&f.domain, &f.key),
        },
        body: BODY.to_vec(),
    }
}

fn bench_wire(c: &mut Criterion) {
    let f = fixture();
    let msg = pay_message(&f);
    let frame = encode(&msg).unwrap();
    assert_eq!(decode(&frame).unwrap(), msg);

    c.bench_function("wire/encode_pay", |b| {
        b.iter(|| encode(black_box(&msg)).unwrap())
    });
    c.bench_function("wire/decode_pay", |b| {
        b.iter(|| decode(black_box(&frame)).unwrap())
    });
}

/// A channel between `payer` and another party, opened on the ledger with a large deposit,
/// seen by `me`.
fn open_channel(f: &Fixture, me: Address) -> Channel {
    let params = ChannelParams {
        party_a: f.key.address(),
        party_b: Address::repeat_byte(0xbb),
        token: Address::ZERO,
        challenge_period: 3600,
        nonce: keccak256(b"bench nonce"),
    };
    let mut channel = Channel::new(params, f.domain, me).unwrap();
    channel.handle_ledger_event(&LedgerEvent::Opened {
        channel_id: channel.id(),
        params,
        deposit: u128::MAX / 4,
    });
    channel
}

fn bench_channel(c: &mut Criterion) {
    let f = fixture();
    let payer = open_channel(&f, f.key.address());
    let payee = open_channel(&f, Address::repeat_byte(0xbb));
    let memo = memo_of(BODY);
    let mut signing = payer.clone();
    let voucher = signing.pay(&f.key, 1, memo).unwrap();
    c.bench_function("channel/pay", |b| {
        b.iter(|| signing.pay(&f.key, 1, black_box(memo)).unwrap())
    });
    c.bench_function("channel/handle_voucher", |b| {
        b.iter(|| {
            let mut channel = payee.clone();
            channel.handle_voucher(black_box(&voucher), memo).unwrap()
        })
    });
}

criterion_group! {
    name = crypto;
    config = config();
    targets = bench_eip712, bench_sign, bench_recover, bench_wire, bench_channel
}
criterion_main!(crypto);
