//! Throughput of the embedded ledger: deposits and voucher submissions per second.
//!
//! Each operation goes the full way a served request goes: sign the request (account key),
//! verify it, check the nonce, journal it, apply the rules. Three storage modes: in memory,
//! journaled (survives a crash of the process), journaled with an fsync per operation
//! (survives power loss). `submit_voucher` also recovers the voucher's signer.
//!
//! Run with `cargo bench -p paychan-ledger --bench ledger`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arithmetic_side_effects,
    missing_docs
)]

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::executor::block_on;
use paychan_core::{
    Address, B256, ChannelParams, Role, SignedVoucher, SigningKey, Voucher, eip712::Eip712,
};
use paychan_ledger::{Clock, EmbeddedLedger, LedgerClose, LedgerFunding};

const START: u64 = 1_700_000_000;

fn ledgers() -> Vec<(&'static str, EmbeddedLedger, Option<tempfile::TempDir>)> {
    let journaled = tempfile::tempdir().unwrap();
    let synced = tempfile::tempdir().unwrap();
    vec![
        (
            "memory",
            EmbeddedLedger::in_memory(Clock::manual(START)),
            None,
        ),
        (
            "journal",
            EmbeddedLedger::open(journaled.path(), Clock::manual(START), false).unwrap(),
            Some(journaled),
        ),
        (
            "journal+fsync",
            EmbeddedLedger::open(synced.path(), Clock::manual(START), true).unwrap(),
            Some(synced),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let a = SigningKey::from_entropy(&[1; 32]).unwrap();
    let b = SigningKey::from_entropy(&[2; 32]).unwrap();
    let mut group = c.benchmark_group("embedded");
    group.throughput(Throughput::Elements(1));
    group
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    group.sample_size(30);
    for (mode, ledger, _dir) in ledgers() {
        ledger
            .faucet(a.address(), Address::ZERO, u128::MAX / 2)
            .unwrap();
        let account = ledger.account(a.clone());
        let params = ChannelParams {
            party_a: a.address(),
            party_b: b.address(),
            token: Address::ZERO,
            challenge_period: 1_000_000_000,
            nonce: B256::repeat_byte(1),
        };
        let id = params.id(&ledger.domain());
        block_on(account.open(&params, 1)).unwrap();
        group.bench_function(format!("deposit/{mode}"), |bench| {
            bench.iter(|| block_on(account.deposit(id, Role::B, 1)).unwrap());
        });

        // A closing channel, and a voucher of A's to submit again and again (each submission
        // is verified in full; the counted maximum just stays where it is).
        let closing = ChannelParams {
            nonce: B256::repeat_byte(2),
            ..params
        };
        let closing_id = closing.id(&ledger.domain());
        block_on(account.open(&closing, 1_000)).unwrap();
        block_on(account.start_close(closing_id, None)).unwrap();
        let voucher = Voucher {
            channel_id: closing_id,
            payer: a.address(),
            cumulative: 10,
            sequence: 1,
            memo: B256::ZERO,
        };
        let signed = SignedVoucher {
            signature: voucher.sign(&ledger.domain(), &a),
            voucher,
        };
        group.bench_function(format!("submit_voucher/{mode}"), |bench| {
            bench.iter(|| block_on(account.submit_voucher(&signed)).unwrap());
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
