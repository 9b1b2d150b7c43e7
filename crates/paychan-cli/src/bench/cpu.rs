//! CPU time and load from `/proc` (Linux): what the bench's own work costs, independently of
//! what else runs on a shared machine, and how loaded the machine was.

use std::time::Duration;

use anyhow::{Context, Result};

/// Clock ticks per second of `/proc/*/stat` (`USER_HZ`, 100 on every Linux ABI).
const TICKS_PER_SECOND: u64 = 100;

/// User + system CPU time of this process so far.
pub(crate) fn process() -> Result<Duration> {
    stat_cpu("/proc/self/stat")
}

/// User + system CPU time of the calling thread so far.
pub(crate) fn thread() -> Result<Duration> {
    stat_cpu("/proc/thread-self/stat")
}

fn stat_cpu(path: &str) -> Result<Duration> {
    let stat = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
    // The command name (field 2) may hold spaces: count fields after its closing ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("malformed stat")?;
    let mut fields = rest.split_whitespace();
    // After ')': state is field 3; utime and stime are fields 14 and 15.
    let utime: u64 = fields.nth(11).context("no utime")?.parse()?;
    let stime: u64 = fields.next().context("no stime")?.parse()?;
    let ticks = utime.saturating_add(stime);
    Ok(Duration::from_millis(
        ticks.saturating_mul(1000) / TICKS_PER_SECOND,
    ))
}

/// The one-minute load average.
pub(crate) fn load_average() -> Result<f64> {
    let load = std::fs::read_to_string("/proc/loadavg").context("cannot read /proc/loadavg")?;
    Ok(load
        .split_whitespace()
        .next()
        .context("empty /proc/loadavg")?
        .parse()?)
}
