//! The cases of the conformance suite, one public async function each, by topic: rows and
//! their versions (`rows`), the payment history, settings, contacts and persistence
//! (`history`), and writers racing (`concurrency`); the fixtures they share are here.

use std::{collections::BTreeMap, sync::Arc};

use paychan_core::{Address, B256, ChannelId, keccak256};
use tokio::sync::Barrier;

use super::Harness;
use crate::{
    Batch, ChannelRow, Contact, Direction, PaymentRow, Remedy, Removal, Store, StoreError,
};

// ----- fixtures -------------------------------------------------------------------------------

/// Channel `n`'s id: a hash, so that id order differs from creation order.
fn id(n: u32) -> ChannelId {
    ChannelId(keccak256(n.to_be_bytes()))
}

fn peer(n: u8) -> Address {
    Address::repeat_byte(n)
}

/// A state of about 300 bytes that names its channel and version.
fn state(n: u32, version: u64) -> Vec<u8> {
    let mut state = format!("channel {n} version {version} ").into_bytes();
    state.resize(300, (n as u8) ^ (version as u8));
    state
}

fn row(n: u32, peer_n: u8, version: u64) -> ChannelRow {
    ChannelRow {
        id: id(n),
        peer: peer(peer_n),
        phase: "open".to_owned(),
        version,
        state: state(n, version),
        updated_at: 1_700_000_000 + version,
    }
}

fn payment(channel: ChannelId, direction: Direction, sequence: u64) -> PaymentRow {
    PaymentRow {
        channel_id: channel,
        direction,
        sequence,
        amount: u128::from(sequence) * 1_000 + 7,
        cumulative: u128::from(sequence) * 1_000_000 + 11,
        memo: keccak256(sequence.to_be_bytes()),
        time: sequence.wrapping_add(1_700_000_000),
    }
}

fn batch(channels: Vec<ChannelRow>, payments: Vec<PaymentRow>, cursor: Option<u64>) -> Batch {
    Batch {
        channels,
        payments,
        ledger_cursor: cursor,
        removals: vec![],
        fence: None,
    }
}

async fn commit_ok(store: &dyn Store, batch: Batch, what: &str) {
    if let Err(e) = store.commit(batch).await {
        panic!("{what}: commit failed: {e}");
    }
}

async fn channel_of(store: &dyn Store, id: ChannelId) -> Option<ChannelRow> {
    store
        .channel(id)
        .await
        .unwrap_or_else(|e| panic!("reading channel {id}: {e}"))
}

async fn all_payments(store: &dyn Store, id: ChannelId, direction: Direction) -> Vec<PaymentRow> {
    store
        .payments(id, direction, u32::MAX, None)
        .await
        .unwrap_or_else(|e| panic!("reading payments of {id}: {e}"))
}

async fn cursor_of(store: &dyn Store) -> u64 {
    store
        .ledger_cursor()
        .await
        .unwrap_or_else(|e| panic!("reading the ledger cursor: {e}"))
}

fn sequences(payments: &[PaymentRow]) -> Vec<u64> {
    payments.iter().map(|p| p.sequence).collect()
}

fn sorted_by_id(mut rows: Vec<ChannelRow>) -> Vec<ChannelRow> {
    rows.sort_by_key(|row| row.id);
    rows
}

fn assert_conflict(outcome: Result<(), StoreError>, channel: ChannelId, stored: u64, what: &str) {
    match outcome {
        Err(
            e @ StoreError::Conflict {
                channel_id,
                stored_version,
            },
        ) => {
            assert_eq!(
                channel_id, channel,
                "{what}: conflict names the wrong channel"
            );
            assert_eq!(
                stored_version, stored,
                "{what}: conflict reports the wrong version"
            );
            assert_eq!(e.remedy(), Remedy::ReloadAndRetry, "{what}");
        }
        other => {
            panic!("{what}: expected a conflict on {channel} at version {stored}, got {other:?}")
        }
    }
}

mod concurrency;
mod history;
mod rows;

pub use self::{concurrency::*, history::*, rows::*};
