//! Ledger times for people: a ledger time (Unix seconds) as a UTC date in RFC 3339 form, and
//! how long until it ("in 23 h 59 min"), instead of a raw epoch; and this machine's time in
//! the same unit ([`now`]).

use chrono::DateTime;

/// This machine's time in Unix seconds (0 before 1970).
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `epoch` (Unix seconds) as `2026-12-04T11:45:33Z`, or the raw number if out of range.
pub(crate) fn date(epoch: u64) -> String {
    i64::try_from(epoch)
        .ok()
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
        .map_or_else(
            || format!("{epoch} (ledger time)"),
            |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
}

/// A duration in its two largest units: `2 d 3 h`, `23 h 59 min`, `4 min 10 s`, `9 s`.
pub(crate) fn span(secs: u64) -> String {
    let (days, hours) = (secs / 86_400, secs % 86_400 / 3_600);
    let (minutes, seconds) = (secs % 3_600 / 60, secs % 60);
    if days > 0 {
        format!("{days} d {hours} h")
    } else if hours > 0 {
        format!("{hours} h {minutes} min")
    } else if minutes > 0 {
        format!("{minutes} min {seconds} s")
    } else {
        format!("{seconds} s")
    }
}

/// A deadline as its date and, when the ledger's time `now` is known, the time left:
/// `2026-12-04T11:45:33Z (in 23 h 59 min)`, or `… (passed 5 min 0 s ago)`.
pub(crate) fn deadline(deadline: u64, now: Option<u64>) -> String {
    let date = date(deadline);
    match now {
        Some(now) if now < deadline => {
            format!("{date} (in {})", span(deadline.saturating_sub(now)))
        }
        Some(now) if now == deadline => format!("{date} (now)"),
        Some(now) => format!("{date} (passed {} ago)", span(now.saturating_sub(deadline))),
        None => date,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_rfc3339() {
        assert_eq!(date(0), "1970-01-01T00:00:00Z");
        assert_eq!(date(1_796_316_385), "2026-12-03T16:46:25Z");
        assert_eq!(date(u64::MAX), format!("{} (ledger time)", u64::MAX));
    }

    #[test]
    fn spans_show_their_two_largest_units() {
        assert_eq!(span(0), "0 s");
        assert_eq!(span(59), "59 s");
        assert_eq!(span(250), "4 min 10 s");
        assert_eq!(span(86_399), "23 h 59 min");
        assert_eq!(span(86_400), "1 d 0 h");
        assert_eq!(span(3 * 86_400 + 7_300), "3 d 2 h");
    }

    #[test]
    fn deadlines_say_the_time_left() {
        let start = 1_796_316_385;
        assert_eq!(
            deadline(start + 86_340, Some(start)),
            "2026-12-04T16:45:25Z (in 23 h 59 min)"
        );
        assert_eq!(deadline(start, Some(start)), "2026-12-03T16:46:25Z (now)");
        assert_eq!(
            deadline(start, Some(start + 300)),
            "2026-12-03T16:46:25Z (passed 5 min 0 s ago)"
        );
        assert_eq!(deadline(start, None), "2026-12-03T16:46:25Z");
    }
}
