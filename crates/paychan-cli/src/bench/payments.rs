//! Real payments between two nodes over loopback Noise/TCP: sequential pay-per-call on one
//! channel, pipelined payments over many channels, and open-loop latency at a fixed rate.
//!
//! Every payment is a full `send_message_and_pay`: the payer signs and commits a voucher, the
//! payee checks it, runs its handler, commits and answers, and the payer checks the answer.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, ensure};
use hdrhistogram::Histogram;
use paychan_core::{Address, Amount, ChannelId};
use paychan_ledger::EmbeddedLedger;
use paychan_node::{Incoming, Node};
use paychan_store::Durability;
use serde_json::json;

use super::cpu;
use crate::pair::{self, Party};

/// Two connected nodes and their channels from the payer to the payee.
pub(crate) struct Setup {
    /// Kept alive for the nodes.
    _ledger: EmbeddedLedger,
    /// The payer.
    pub(crate) payer: Party,
    /// The payee.
    pub(crate) payee: Party,
    /// Channels from the payer to the payee.
    pub(crate) channels: Vec<ChannelId>,
}

impl Setup {
    /// Stops both nodes.
    pub(crate) fn shutdown(&self) {
        self.payer.node.shutdown();
        self.payee.node.shutdown();
    }
}

/// What the payee's handler does: squares `n` (so each answer depends on its request).
fn install_handler(node: &Node) {
    node.set_payment_handler(|i: Incoming| async move {
        let n = i
            .message
            .get("n")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        Ok(json!({ "n": n, "square": n.saturating_mul(n) }))
    });
}

/// Plenty for any run: one unit per payment.
const DEPOSIT: Amount = 1_000_000_000_000;

/// Two nodes with stores in `dir` at `durability`, connected, with `channels` open channels.
pub(crate) async fn setup(dir: &Path, durability: Durability, channels: usize) -> Result<Setup> {
    setup_via(dir, durability, channels, None).await
}

/// As [`setup`], the nodes connected through the relay on `relay` if given (neither
/// listens), over loopback Noise/TCP otherwise.
pub(crate) async fn setup_via(
    dir: &Path,
    durability: Durability,
    channels: usize,
    relay: Option<std::net::SocketAddr>,
) -> Result<Setup> {
    let ledger = pair::manual_ledger();
    let payer = pair::party("alice", 1, pair::embedded(&ledger), dir, durability).await?;
    let payee = pair::party("bob", 1, pair::embedded(&ledger), dir, durability).await?;
    let needed = DEPOSIT.saturating_mul(Amount::try_from(channels)?);
    ledger.faucet(payer.key.address(), Address::ZERO, needed)?;
    install_handler(&payee.node);
    match relay {
        Some(relay) => pair::connect_via_relay(&payer, &payee, relay).await?,
        None => pair::connect(&payer, &payee).await?,
    };
    let mut ids = Vec::with_capacity(channels);
    for _ in 0..channels {
        ids.push(
            payer
                .node
                .create_channel(payee.key.address(), DEPOSIT)
                .await?,
        );
    }
    Ok(Setup {
        _ledger: ledger,
        payer,
        payee,
        channels: ids,
    })
}

/// One paid call `n` on `channel`, checked.
async fn call(node: &Node, channel: ChannelId, n: u64) -> Result<()> {
    let response = node
        .send_message_and_pay(channel, &json!({ "n": n }), 1)
        .await?;
    ensure!(
        response.get("square") == Some(&json!(n.saturating_mul(n))),
        "wrong answer to request {n}: {response}"
    );
    Ok(())
}

/// A throughput measurement.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub(crate) struct Throughput {
    /// Payments answered in the measured window.
    pub(crate) payments: u64,
    /// The window, seconds.
    pub(crate) seconds: f64,
    /// Payments per second.
    pub(crate) per_second: f64,
    /// Store writes per group commit on the payee's side during the window.
    pub(crate) payee_writes_per_commit: f64,
    /// CPU time of this process (both nodes, user + system) per payment, microseconds: what
    /// a payment costs whatever else runs on the machine.
    pub(crate) cpu_us_per_payment: f64,
    /// The share of the machine's CPU time the hypervisor gave to other guests during the
    /// window, percent.
    pub(crate) steal_percent: f64,
}

/// Runs closed-loop payers on every channel of `setup` (one payment in flight per channel):
/// `warmup`, then measures for `duration`.
pub(crate) async fn closed_loop(
    setup: &Setup,
    warmup: Duration,
    duration: Duration,
) -> Result<Throughput> {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::with_capacity(setup.channels.len());
    for (i, &channel) in setup.channels.iter().enumerate() {
        let (node, done, stop) = (setup.payer.node.clone(), done.clone(), stop.clone());
        let mut n = u64::try_from(i)?.saturating_mul(1 << 32);
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                call(&node, channel, n).await?;
                n = n.saturating_add(1);
                done.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    tokio::time::sleep(warmup).await;
    let (count0, stats0, cpu0, machine0, start) = (
        done.load(Ordering::Relaxed),
        setup.payee.store.stats(),
        cpu::process()?,
        cpu::MachineTime::now(),
        Instant::now(),
    );
    tokio::time::sleep(duration).await;
    let (count1, stats1, cpu1, machine1, seconds) = (
        done.load(Ordering::Relaxed),
        setup.payee.store.stats(),
        cpu::process()?,
        cpu::MachineTime::now(),
        start.elapsed().as_secs_f64(),
    );
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.context("a payer task failed")??;
    }
    let payments = count1.saturating_sub(count0);
    let groups = stats1.groups.saturating_sub(stats0.groups);
    let writes = stats1.writes.saturating_sub(stats0.writes);
    Ok(Throughput {
        payments,
        seconds,
        per_second: payments as f64 / seconds.max(1e-9),
        payee_writes_per_commit: writes as f64 / (groups.max(1) as f64),
        cpu_us_per_payment: cpu1.saturating_sub(cpu0).as_secs_f64() * 1e6
            / (payments.max(1) as f64),
        steal_percent: machine1.steal_percent_since(&machine0),
    })
}

/// Latency percentiles of an open-loop run.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub(crate) struct Latency {
    /// The offered rate, payments per second.
    pub(crate) rate: f64,
    /// Payments sent (all answered, or the run fails).
    pub(crate) payments: u64,
    /// Median, microseconds.
    pub(crate) p50_us: u64,
    /// 99th percentile, microseconds.
    pub(crate) p99_us: u64,
    /// 99.9th percentile, microseconds.
    pub(crate) p999_us: u64,
    /// Maximum, microseconds.
    pub(crate) max_us: u64,
    /// The latest the scheduler started a payment after its planned time, microseconds
    /// (included in the latencies above).
    pub(crate) max_schedule_lag_us: u64,
    /// The share of the machine's CPU time the hypervisor gave to other guests during the
    /// run, percent.
    pub(crate) steal_percent: f64,
}

/// Sends payments at `rate` per second for `duration`, round-robin over the channels, on a
/// fixed schedule whatever the answers (open loop: no coordinated omission). Each latency
/// runs from the payment's planned start to its answer, so time spent queued behind a slow
/// one counts.
pub(crate) async fn open_loop(setup: &Setup, rate: f64, duration: Duration) -> Result<Latency> {
    ensure!(
        rate >= 1.0,
        "the rate must be at least one payment per second"
    );
    ensure!(!setup.channels.is_empty(), "no channels");
    let interval = Duration::from_secs_f64(1.0 / rate);
    let runtime = tokio::runtime::Handle::current();
    let (node, channels) = (setup.payer.node.clone(), setup.channels.clone());
    // A plain thread keeps the schedule: tokio's timer has a 1 ms resolution.
    let machine0 = cpu::MachineTime::now();
    let scheduler = std::thread::spawn(move || {
        let start = Instant::now();
        let mut tasks = Vec::new();
        let mut max_lag = Duration::ZERO;
        let mut n: u64 = 0;
        let mut planned = start;
        while planned.duration_since(start) < duration {
            let now = Instant::now();
            if planned > now {
                std::thread::sleep(planned.duration_since(now));
            }
            max_lag = max_lag.max(Instant::now().saturating_duration_since(planned));
            let len = u64::try_from(channels.len()).unwrap_or(1).max(1);
            let index = usize::try_from(n.checked_rem(len).unwrap_or(0)).unwrap_or(0);
            let channel = channels.get(index).copied();
            let node = node.clone();
            let task = runtime.spawn(async move {
                let channel = channel.context("no channel")?;
                call(&node, channel, n.saturating_add(1 << 62)).await?;
                anyhow::Ok(Instant::now().saturating_duration_since(planned))
            });
            tasks.push(task);
            n = n.saturating_add(1);
            planned = planned.checked_add(interval).unwrap_or(planned);
        }
        (tasks, max_lag)
    });
    let (tasks, max_lag) = tokio::task::spawn_blocking(move || scheduler.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the scheduler thread panicked"))?;
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let payments = u64::try_from(tasks.len())?;
    for task in tasks {
        let latency = task.await.context("a payment task failed")??;
        histogram.saturating_record(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
    }
    Ok(Latency {
        rate,
        payments,
        p50_us: histogram.value_at_quantile(0.50),
        p99_us: histogram.value_at_quantile(0.99),
        p999_us: histogram.value_at_quantile(0.999),
        max_us: histogram.max(),
        max_schedule_lag_us: u64::try_from(max_lag.as_micros()).unwrap_or(u64::MAX),
        steal_percent: cpu::MachineTime::now().steal_percent_since(&machine0),
    })
}
