//! Many idle channels: memory per channel and restart time.
//!
//! The channels are real: each is opened on the embedded ledger (a signed request, checked
//! and journaled like any other), and both parties' stores get the channel's first row
//! exactly as a node writes it ([`paychan_node::import_row`]). Then the payer's node is
//! restarted from its store (open the database, restore every channel): the time that takes
//! is the restart time, and the growth of the process's resident memory over it, divided by
//! the number of channels, is the memory per idle channel. Finally the payee's node is
//! restarted too, they connect, and one payment on one of the restored channels proves the
//! channels usable.

use std::{
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, ensure};
use paychan_core::{
    Address, Amount, ChannelParams, adjudicator::LedgerEvent, channel::Channel, keccak256,
};
use paychan_ledger::LedgerFunding;
use paychan_node::import_row;
use paychan_store::{Batch, Durability, Store, sqlite::SqliteStore};
use serde_json::json;

use crate::pair;

/// What the run measured.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub(crate) struct Scale {
    /// Channels held by the restarted node.
    pub(crate) channels: usize,
    /// Seconds to open them on the ledger and write both stores.
    pub(crate) provision_seconds: f64,
    /// Seconds to open the store and restore every channel.
    pub(crate) restart_seconds: f64,
    /// Seconds for the store alone to read every channel row (a floor of the restart).
    pub(crate) store_read_seconds: f64,
    /// Resident memory growth over the restart, bytes per channel.
    pub(crate) bytes_per_channel: f64,
    /// The encoded size of one channel's state, bytes (what the store holds).
    pub(crate) state_bytes: usize,
    /// The in-memory size of the core channel state, bytes.
    pub(crate) channel_struct_bytes: usize,
}

/// Channels per store commit while provisioning.
const CHUNK: usize = 1_000;
/// Each channel's deposit.
const DEPOSIT: Amount = 1_000;

/// Opens `count` channels, restarts the payer's node from its store and pays once.
pub(crate) async fn run(dir: &Path, count: usize) -> Result<Scale> {
    ensure!(count > 0, "no channels");
    let ledger = pair::manual_ledger();
    let (a_key, b_key) = (pair::key("alice", 1)?, pair::key("bob", 1)?);
    let (a, b) = (a_key.address(), b_key.address());
    ledger.faucet(
        a,
        Address::ZERO,
        DEPOSIT.saturating_mul(Amount::try_from(count)?),
    )?;
    let domain = ledger.domain();
    let account = ledger.account(a_key);

    let provision = Instant::now();
    let mut state_bytes = 0;
    {
        let stores = [
            SqliteStore::open(pair::db_path(dir, "alice"), Durability::Normal)?,
            SqliteStore::open(pair::db_path(dir, "bob"), Durability::Normal)?,
        ];
        let mut batches = [Batch::default(), Batch::default()];
        for i in 0..count {
            let params = ChannelParams {
                party_a: a,
                party_b: b,
                token: Address::ZERO,
                challenge_period: 24 * 3600,
                nonce: keccak256([b"bench-idle".as_slice(), &i.to_be_bytes()].concat()),
            };
            let receipt = account.open(&params, DEPOSIT).await?;
            for (me, batch) in [a, b].into_iter().zip(batches.iter_mut()) {
                let mut channel = Channel::new(params, domain, me).context("not a party")?;
                for record in &receipt.events {
                    let _ = channel.handle_ledger_event(&record.event);
                    ensure!(
                        !matches!(record.event, LedgerEvent::Opened { .. })
                            || record.event.channel_id() == Some(channel.id()),
                        "the ledger opened another channel"
                    );
                    let next = record.cursor.saturating_add(1);
                    batch.ledger_cursor = Some(batch.ledger_cursor.map_or(next, |c| c.max(next)));
                }
                let row = import_row(channel)?;
                state_bytes = row.state.len();
                batch.channels.push(row);
            }
            if batches.first().map_or(0, |b| b.channels.len()) >= CHUNK
                || i.saturating_add(1) == count
            {
                for (store, batch) in stores.iter().zip(batches.iter_mut()) {
                    store.commit(std::mem::take(batch)).await?;
                }
            }
        }
    }
    let provision_seconds = provision.elapsed().as_secs_f64();

    // The restart measured: open the store, restore every channel.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss_before = resident_bytes()?;
    let began = Instant::now();
    let payer = pair::party("alice", 1, pair::embedded(&ledger), dir, Durability::Normal).await?;
    let restart_seconds = began.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss_after = resident_bytes()?;
    let restored = payer.node.channels(None).await;
    ensure!(
        restored.len() == count,
        "restored {} channels of {count}",
        restored.len()
    );

    // The floor of a restart: the store reading every row, nothing more.
    let began = Instant::now();
    let store = Arc::new(SqliteStore::open(
        pair::db_path(dir, "alice"),
        Durability::Normal,
    )?);
    let rows = store.channels().await?;
    let store_read_seconds = began.elapsed().as_secs_f64();
    ensure!(rows.len() == count, "the store holds {} rows", rows.len());
    drop(rows);
    drop(store);

    // The restored channels are real: the payee restarts too, and one is paid on.
    let payee = pair::party("bob", 1, pair::embedded(&ledger), dir, Durability::Normal).await?;
    pair::connect(&payer, &payee).await?;
    let index = count / 2;
    let channel = restored
        .get(index)
        .map(|info| info.channel_id)
        .context("no channel")?;
    payer
        .node
        .send_message_and_pay(channel, &json!({ "idle": index }), 7)
        .await?;
    let info = payee.node.channel_info(channel).await?;
    ensure!(
        info.balances.paid_by_peer == 7,
        "the payee counts {} paid",
        info.balances.paid_by_peer
    );
    payer.node.shutdown();
    payee.node.shutdown();

    let grown = rss_after.saturating_sub(rss_before);
    Ok(Scale {
        channels: count,
        provision_seconds,
        restart_seconds,
        store_read_seconds,
        bytes_per_channel: grown as f64 / count as f64,
        state_bytes,
        channel_struct_bytes: std::mem::size_of::<Channel>(),
    })
}

/// The process's resident memory, bytes (`VmRSS` of `/proc/self/status`).
pub(crate) fn resident_bytes() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")
        .context("cannot read /proc/self/status (Linux only)")?;
    let kb = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .context("no VmRSS in /proc/self/status")?;
    Ok(kb.saturating_mul(1024))
}
