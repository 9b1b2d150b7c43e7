//! `paychan bench`: the performance targets of `docs/PERFORMANCE.md`, measured on loopback against
//! the physical limits of the machine, in one run.
//!
//! - [`limits`]: sign + recover per second, `fsync`s per second, loopback round trip;
//! - [`payments`]: sequential pay-per-call (durability normal and full), pipelined payments
//!   over many channels, open-loop latency at half the peak rate;
//! - [`scale`]: memory per idle channel and restart time with many channels;
//! - [`report`]: the table (or JSON) with each result's ratio to the limit that bounds it;
//! - [`ha`] (`--ha URL`, instead of the above): paid HTTP calls through three fronts on a
//!   shared PostgreSQL or MariaDB store against one node on SQLite;
//! - [`relay`] (`--relay`, instead of the above): payments through a `paychan relay`
//!   against direct TCP.

mod cpu;
mod ha;
mod limits;
mod payments;
mod relay;
mod report;
mod scale;

use std::{path::PathBuf, time::Duration};

use crate::output::{errln, out, outln};
use anyhow::{Context, Result};
use paychan_store::Durability;

/// Options of `paychan bench`.
#[derive(clap::Args, Debug)]
pub(crate) struct BenchArgs {
    /// Seconds each throughput measurement lasts (after its warm-up).
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Seconds of warm-up before each throughput measurement.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Channels for the pipelined aggregate and the latency run.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    channels: u32,
    /// Seconds of the open-loop latency run.
    #[arg(long, default_value_t = 10.0)]
    latency_seconds: f64,
    /// Idle channels for the memory and restart measurement (0 skips it).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(0..=10_000_000))]
    idle_channels: u32,
    /// Seconds each limit is measured for.
    #[arg(long, default_value_t = 1.0)]
    limit_seconds: f64,
    /// Where the stores go (a temporary directory inside it; the system's by default). The
    /// `fsync` limit is measured there too.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Instead of the above: paid HTTP calls through three fronts on this shared store
    /// (`postgres://...` or `mysql://...`, a schema or database it may write to) against one
    /// payee node on SQLite, in one run (docs/HA.md).
    #[arg(long, value_name = "URL")]
    ha: Option<String>,
    /// Instead of the above: sequential and pipelined (`--channels`) payments through a
    /// `paychan relay` in this process, beside the same over direct TCP.
    #[arg(long, conflicts_with = "ha")]
    relay: bool,
    /// Concurrent paying workers of `--ha` (one channel each).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    ha_workers: u32,
}

/// Runs the benchmark and prints its results.
pub(crate) fn run(args: &BenchArgs) -> Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(bench(args))
}

fn seconds(value: f64, what: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(value).with_context(|| format!("--{what}: not a duration"))
}

/// Everything one run measured.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Results {
    /// The machine's limits.
    pub(crate) limits: limits::Limits,
    /// Sequential pay-per-call on one channel, durability normal.
    pub(crate) sequential_normal: payments::Throughput,
    /// The same with durability full.
    pub(crate) sequential_full: payments::Throughput,
    /// Channels of the aggregate run.
    pub(crate) channels: usize,
    /// Pipelined payments over all channels.
    pub(crate) aggregate: payments::Throughput,
    /// Open-loop latency at half the aggregate rate.
    pub(crate) latency: payments::Latency,
    /// Idle channels: memory and restart.
    pub(crate) idle: Option<scale::Scale>,
    /// The machine's one-minute load average at the start and at the end of the run.
    pub(crate) load_average: (f64, f64),
    /// The share of the machine's CPU time the hypervisor gave to other guests during the
    /// whole run, percent (0 on bare metal).
    pub(crate) steal_percent: f64,
}

async fn bench(args: &BenchArgs) -> Result<()> {
    let (window, warmup) = (
        seconds(args.seconds, "seconds")?,
        seconds(args.warmup, "warmup")?,
    );
    let base = match &args.dir {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .context("cannot create a temporary directory")?;
    let say = |line: &str| {
        if !args.json {
            errln!("{line}");
        }
    };
    let subdir = |name: &str| -> Result<PathBuf> {
        let dir = base.path().join(name);
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    };

    if let Some(url) = &args.ha {
        say(&format!(
            "paychan bench: paid HTTP calls, one node on SQLite, then three fronts on {url}"
        ));
        let results = ha::run(
            url,
            &subdir("ha")?,
            usize::try_from(args.ha_workers)?,
            warmup,
            window,
        )
        .await?;
        if args.json {
            outln!("{}", serde_json::to_string_pretty(&results)?);
        } else {
            outln!(
                "paid calls/s, {} workers, {:.1} s each:\n  one node (SQLite)        {:>9.0}\n  {:<24} {:>9.0}   {:.0} % of one node",
                results.workers,
                results.seconds,
                results.single_node_per_second,
                format!("{} fronts ({})", results.fronts, results.backend),
                results.ha_per_second,
                results.ratio * 100.0
            );
        }
        return Ok(());
    }
    if args.relay {
        let channels = usize::try_from(args.channels)?;
        let results = relay::run(&subdir("relay")?, channels, warmup, window, say).await?;
        if args.json {
            outln!("{}", serde_json::to_string_pretty(&results)?);
        } else {
            out!("{}", relay::table(&results));
        }
        return Ok(());
    }
    let load_at_start = cpu::load_average()?;
    let machine_at_start = cpu::MachineTime::now();
    say("paychan bench: limits (sign + recover, fsync, loopback round trip)");
    let limit_window = seconds(args.limit_seconds, "limit-seconds")?;
    let mut limits = limits::measure(base.path(), limit_window)?;

    let mut sequential = vec![];
    for durability in [Durability::Normal, Durability::Full] {
        say(&format!(
            "paychan bench: sequential pay-per-call, durability {durability}"
        ));
        let dir = subdir(&format!("sequential-{durability}"))?;
        if durability == Durability::Full {
            limits.fsyncs_per_second_later = Some(limits::fsyncs(&dir, limit_window)?);
        }
        let setup = payments::setup(&dir, durability, 1).await?;
        sequential.push(payments::closed_loop(&setup, warmup, window).await?);
        setup.shutdown();
    }
    let mut sequential = sequential.into_iter();
    let (sequential_normal, sequential_full) = (
        sequential.next().context("no sequential result")?,
        sequential.next().context("no sequential result")?,
    );

    let channels = usize::try_from(args.channels)?;
    say(&format!(
        "paychan bench: pipelined payments over {channels} channels"
    ));
    let setup = payments::setup(&subdir("aggregate")?, Durability::Normal, channels).await?;
    let aggregate = payments::closed_loop(&setup, warmup, window).await?;
    let rate = (aggregate.per_second / 2.0).max(1.0);
    say(&format!(
        "paychan bench: open-loop latency at {rate:.0} payments/s (half the peak)"
    ));
    let latency = payments::open_loop(
        &setup,
        rate,
        seconds(args.latency_seconds, "latency-seconds")?,
    )
    .await?;
    setup.shutdown();
    drop(setup);

    let idle = if args.idle_channels > 0 {
        let count = usize::try_from(args.idle_channels)?;
        say(&format!(
            "paychan bench: {count} idle channels (memory, restart)"
        ));
        Some(scale::run(&subdir("idle")?, count).await?)
    } else {
        None
    };

    let results = Results {
        limits,
        sequential_normal,
        sequential_full,
        channels,
        aggregate,
        latency,
        idle,
        load_average: (load_at_start, cpu::load_average()?),
        steal_percent: cpu::MachineTime::now().steal_percent_since(&machine_at_start),
    };
    if args.json {
        outln!("{}", report::json(&results)?);
    } else {
        out!("{}", report::table(&results));
    }
    Ok(())
}
