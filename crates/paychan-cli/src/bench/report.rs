//! The results as a table or JSON, each beside its target and the limit that bounds it.
//!
//! The limits are models built from this run's own measurements:
//! - a sequential call cannot be faster than one sign, one recover and one loopback round
//!   trip in a row (plus two `fsync`s in a row with durability full: the payer's, then the
//!   payee's; at the faster of the two `fsync` rates measured);
//! - all payments together cannot exceed the sign + recover pairs all cores do per second;
//! - no latency is below that of one sequential call;
//! - an idle channel cannot take less memory than the core's channel state;
//! - a restart cannot be faster than the store reading every row.
//!
//! "% of limit" is achieved / limit for rates and limit / achieved for times and sizes, so
//! 100 % means the limit is reached.

use std::fmt::Write as _;

use anyhow::Result;
use serde_json::json;

use super::Results;

/// One line of the table.
struct Row {
    what: String,
    result: String,
    target: String,
    limit: String,
    /// Fraction of the limit reached.
    of_limit: f64,
    /// Whether the target is met (`None`: no target).
    met: Option<bool>,
}

/// Microseconds of one sequential call at the limit, with `fsyncs` syncs in a row.
fn call_floor_us(r: &Results, fsyncs: f64) -> f64 {
    r.limits.sign_recover_us() + r.limits.loopback_rtt_us + fsyncs * r.limits.fsync_us()
}

fn rows(r: &Results) -> Vec<Row> {
    let mut rows = vec![];
    for (name, t, target, fsyncs) in [
        ("normal", &r.sequential_normal, 5_000.0, 0.0),
        ("full", &r.sequential_full, 1_500.0, 2.0),
    ] {
        let limit = 1e6 / call_floor_us(r, fsyncs);
        rows.push(Row {
            what: format!("sequential pay-per-call, durability {name}"),
            result: format!("{:.0} calls/s", t.per_second),
            target: format!(">= {target:.0}/s"),
            limit: format!("{limit:.0}/s"),
            of_limit: t.per_second / limit,
            met: Some(t.per_second >= target),
        });
    }
    let limit = r.limits.sign_recover_all_cores;
    rows.push(Row {
        what: format!("pipelined, {} channels", r.channels),
        result: format!("{:.0} payments/s", r.aggregate.per_second),
        target: ">= 20000/s".to_string(),
        limit: format!("{limit:.0}/s"),
        of_limit: r.aggregate.per_second / limit,
        met: Some(r.aggregate.per_second >= 20_000.0),
    });
    let floor = call_floor_us(r, 0.0);
    let l = &r.latency;
    rows.push(Row {
        what: format!("latency at {:.0}/s, open loop", l.rate),
        result: format!("p50 {} p99 {} p99.9 {} us", l.p50_us, l.p99_us, l.p999_us),
        target: "p99 <= 2000 us".to_string(),
        limit: format!("{floor:.0} us"),
        of_limit: floor / (l.p99_us.max(1) as f64),
        met: Some(l.p99_us <= 2_000),
    });
    if let Some(idle) = &r.idle {
        rows.push(Row {
            what: format!("memory per idle channel ({})", idle.channels),
            result: format!("{:.0} B", idle.bytes_per_channel),
            target: "<= 2048 B".to_string(),
            limit: format!("{} B", idle.channel_struct_bytes),
            of_limit: idle.channel_struct_bytes as f64 / idle.bytes_per_channel.max(1.0),
            met: Some(idle.bytes_per_channel <= 2048.0),
        });
        rows.push(Row {
            what: format!("restart with {} channels", idle.channels),
            result: format!("{:.2} s", idle.restart_seconds),
            target: "-".to_string(),
            limit: format!("{:.2} s", idle.store_read_seconds),
            of_limit: idle.store_read_seconds / idle.restart_seconds.max(1e-9),
            met: None,
        });
    }
    rows
}

/// The human table.
pub(crate) fn table(r: &Results) -> String {
    let mut out = String::new();
    let l = &r.limits;
    let _ = writeln!(
        out,
        "\nlimits measured in this run ({} cores; load average {:.2} at the start, {:.2} at the end; \
         {:.0}% of the CPU time stolen by the hypervisor)",
        l.cores, r.load_average.0, r.load_average.1, r.steal_percent
    );
    let _ = writeln!(
        out,
        "  voucher sign + recover   {:>9.0}/s on 1 core ({:.1} us per pair), {:.0}/s on all cores, {:.1} us of CPU per pair",
        l.sign_recover_one_core,
        l.sign_recover_us(),
        l.sign_recover_all_cores,
        l.sign_recover_cpu_us
    );
    let later = l.fsyncs_per_second_later.map_or(String::new(), |rate| {
        format!(", {rate:.0}/s right before the full-durability run")
    });
    let _ = writeln!(
        out,
        "  fsync in the data dir    {:>9.0}/s at the start{later}; the limits use {:.0} us each",
        l.fsyncs_per_second,
        l.fsync_us()
    );
    let _ = writeln!(
        out,
        "  loopback TCP round trip  {:>9.1} us (median)",
        l.loopback_rtt_us
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<44} {:<30} {:<16} {:<10} {:>10} target met",
        "measurement", "result", "target", "limit", "% of limit"
    );
    for row in rows(r) {
        let met = match row.met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        let _ = writeln!(
            out,
            "{:<44} {:<30} {:<16} {:<10} {:>9.0}% {}",
            row.what,
            row.result,
            row.target,
            row.limit,
            row.of_limit * 100.0,
            met
        );
    }
    let _ = writeln!(
        out,
        "\npayee writes per group commit: sequential {:.1}, pipelined {:.1}; latency run: {} payments, max {} us, scheduler lag max {} us",
        r.sequential_normal.payee_writes_per_commit,
        r.aggregate.payee_writes_per_commit,
        r.latency.payments,
        r.latency.max_us,
        r.latency.max_schedule_lag_us
    );
    let _ = writeln!(
        out,
        "CPU per payment (both nodes, user + system): sequential normal {:.0} us, full {:.0} us, pipelined {:.0} us; sign + recover alone {:.0} us",
        r.sequential_normal.cpu_us_per_payment,
        r.sequential_full.cpu_us_per_payment,
        r.aggregate.cpu_us_per_payment,
        l.sign_recover_cpu_us
    );
    let _ = writeln!(
        out,
        "CPU time stolen by the hypervisor: sequential normal {:.0}%, full {:.0}%, pipelined {:.0}%, latency run {:.0}%",
        r.sequential_normal.steal_percent,
        r.sequential_full.steal_percent,
        r.aggregate.steal_percent,
        r.latency.steal_percent
    );
    if let Some(idle) = &r.idle {
        let _ = writeln!(
            out,
            "idle channels: provisioned in {:.1} s; stored state {} B per channel",
            idle.provision_seconds, idle.state_bytes
        );
    }
    out
}

/// The results and the table's rows as JSON.
pub(crate) fn json(r: &Results) -> Result<String> {
    let rows: Vec<_> = rows(r)
        .into_iter()
        .map(|row| {
            json!({
                "measurement": row.what,
                "result": row.result,
                "target": row.target,
                "limit": row.limit,
                "fraction_of_limit": row.of_limit,
                "target_met": row.met,
            })
        })
        .collect();
    Ok(serde_json::to_string_pretty(
        &json!({ "results": r, "table": rows }),
    )?)
}
