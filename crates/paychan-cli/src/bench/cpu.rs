//! CPU time and load from `/proc` (Linux): what the bench's own work costs, independently of
//! what else runs on a shared machine, how loaded the machine was, and how much of its CPU
//! time the hypervisor gave to other guests (steal).

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

/// The machine's CPU time so far, summed over its CPUs (from `/proc/stat`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct MachineTime {
    /// Ticks the hypervisor ran something else while a CPU of this guest wanted to run.
    steal: u64,
    /// All ticks (busy, idle and stolen).
    total: u64,
}

impl MachineTime {
    /// Reads `/proc/stat`; all zero where there is none (steal then reads as 0 %).
    pub(crate) fn now() -> Self {
        std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|stat| Self::parse(&stat))
            .unwrap_or_default()
    }

    fn parse(stat: &str) -> Option<Self> {
        let line = stat.lines().find(|line| line.starts_with("cpu "))?;
        // user nice system idle iowait irq softirq steal (guest time is inside user).
        let fields: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .take(8)
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        Some(MachineTime {
            steal: *fields.get(7)?,
            total: fields.iter().sum(),
        })
    }

    /// The share of the machine's CPU time stolen between `earlier` and `self`, in percent.
    pub(crate) fn steal_percent_since(&self, earlier: &Self) -> f64 {
        let total = self.total.saturating_sub(earlier.total);
        if total == 0 {
            return 0.0;
        }
        self.steal.saturating_sub(earlier.steal) as f64 * 100.0 / total as f64
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::MachineTime;

    #[test]
    fn steal_is_read_from_proc_stat() {
        let before = MachineTime::parse("cpu  100 0 50 800 10 0 5 35 0 0\ncpu0 1 2 3\n").unwrap();
        let after = MachineTime::parse("cpu  150 0 60 900 10 0 5 75 0 0\n").unwrap();
        assert_eq!(before.steal, 35);
        assert_eq!(before.total, 1000);
        // 40 of 200 ticks stolen.
        assert!((after.steal_percent_since(&before) - 20.0).abs() < 1e-9);
        assert!(MachineTime::parse("intr 1 2 3").is_none());
    }
}
