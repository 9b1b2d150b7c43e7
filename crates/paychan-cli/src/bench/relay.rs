//! `paychan bench --relay`: payments between two nodes through a `paychan relay` in this
//! process (neither node listens; the relay pipes their Noise messages), beside the same
//! measurements over direct loopback Noise/TCP: sequential pay-per-call on one channel and
//! pipelined payments over many channels.

use std::{path::Path, time::Duration};

use anyhow::Result;
use paychan_relay::{Relay, RelayConfig};
use paychan_store::Durability;

use super::payments::{self, Throughput};

/// The four measurements.
#[derive(Debug, serde::Serialize)]
pub(crate) struct RelayResults {
    /// Channels of the pipelined runs.
    pub(crate) channels: usize,
    /// Sequential, direct TCP.
    pub(crate) sequential_direct: Throughput,
    /// Sequential, through the relay.
    pub(crate) sequential_relay: Throughput,
    /// Pipelined, direct TCP.
    pub(crate) pipelined_direct: Throughput,
    /// Pipelined, through the relay.
    pub(crate) pipelined_relay: Throughput,
}

/// Runs the four measurements with stores under `dir`.
pub(crate) async fn run(
    dir: &Path,
    channels: usize,
    warmup: Duration,
    window: Duration,
    say: impl Fn(&str),
) -> Result<RelayResults> {
    // The relay's defaults, with room for a benchmark's rate (one machine, one connection).
    let mut config = RelayConfig::default();
    config.rate_bytes_per_sec = 1 << 30;
    config.rate_frames_per_sec = 10_000_000;
    let relay = Relay::bind("127.0.0.1:0".parse()?, config).await?;
    let measure = async |name: &str, channels: usize, via: bool| -> Result<Throughput> {
        let how = if via {
            "through the relay"
        } else {
            "direct TCP"
        };
        say(&format!(
            "paychan bench: {name} payments over {channels} channel(s), {how}"
        ));
        let sub = dir.join(format!("{name}-{how}").replace(' ', "-"));
        std::fs::create_dir_all(&sub)?;
        let relay = via.then(|| relay.local_addr());
        let setup = payments::setup_via(&sub, Durability::Normal, channels, relay).await?;
        let result = payments::closed_loop(&setup, warmup, window).await;
        setup.shutdown();
        result
    };
    let sequential_direct = measure("sequential", 1, false).await?;
    let sequential_relay = measure("sequential", 1, true).await?;
    let pipelined_direct = measure("pipelined", channels, false).await?;
    let pipelined_relay = measure("pipelined", channels, true).await?;
    relay.shutdown().await;
    Ok(RelayResults {
        channels,
        sequential_direct,
        sequential_relay,
        pipelined_direct,
        pipelined_relay,
    })
}

/// The results as a table.
pub(crate) fn table(r: &RelayResults) -> String {
    let row = |name: String, direct: &Throughput, relay: &Throughput| {
        format!(
            "  {name:<26} {:>9.0} {:>9.0}   {:>5.0} %\n",
            direct.per_second,
            relay.per_second,
            relay.per_second / direct.per_second.max(1e-9) * 100.0
        )
    };
    let mut out = format!(
        "payments/s                    direct    relay   relay/direct\n{}",
        row(
            "sequential (1 channel)".to_owned(),
            &r.sequential_direct,
            &r.sequential_relay
        )
    );
    out.push_str(&row(
        format!("pipelined ({} channels)", r.channels),
        &r.pipelined_direct,
        &r.pipelined_relay,
    ));
    out
}
