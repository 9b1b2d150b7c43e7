//! Lock-free counters and histograms that the adapters (node, paywall, ledger) fill on their
//! hot paths and an exporter reads when it is scraped (`docs/OPERATIONS.md`).
//!
//! Recording a value is one or a few relaxed atomic additions: no lock, no allocation, no
//! clock (a duration is an argument, as everywhere in this crate). Only refusals, which are
//! rare and keyed by a name, are counted under a lock. Nothing here knows a metrics format:
//! readers take a snapshot and encode it.

use std::{
    collections::BTreeMap,
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use crate::types::Amount;

/// A monotonic count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// The count so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down (connections, a timestamp).
#[derive(Debug, Default)]
pub struct Gauge(AtomicU64);

impl Gauge {
    /// Sets the value.
    pub fn set(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }

    /// The value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A monotonic sum of amounts (`u128`, the ledger's smallest unit), kept exactly as two
/// 64-bit halves: the low half's carry goes into the high half. A reader racing a writer may
/// see the low half wrapped before the carry lands (off by 2^64 for an instant); amounts
/// below 2^64 in total are always exact.
#[derive(Debug, Default)]
pub struct AmountCounter {
    low: AtomicU64,
    high: AtomicU64,
}

impl AmountCounter {
    /// Adds `amount`.
    pub fn add(&self, amount: Amount) {
        // Truncations on purpose: the two halves of the amount.
        let low = amount as u64;
        let high = amount.checked_shr(64).unwrap_or(0) as u64;
        let before = self.low.fetch_add(low, Ordering::Relaxed);
        let carry = u64::from(before.checked_add(low).is_none());
        let high = high.wrapping_add(carry);
        if high != 0 {
            self.high.fetch_add(high, Ordering::Relaxed);
        }
    }

    /// The sum so far.
    pub fn get(&self) -> Amount {
        let high = Amount::from(self.high.load(Ordering::Relaxed));
        let low = Amount::from(self.low.load(Ordering::Relaxed));
        high.checked_shl(64).unwrap_or(0) | low
    }
}

/// Bucket bounds of latencies, in seconds: 100 µs to 10 s.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Durations in fixed buckets (upper bounds in seconds), with their count and sum: the
/// classic Prometheus histogram, recorded with three atomic additions.
#[derive(Debug)]
pub struct Histogram {
    /// Upper bounds in seconds (for the snapshot) and in nanoseconds (to record).
    bounds: &'static [f64],
    bounds_nanos: Box<[u64]>,
    /// Per bucket (not cumulative); the last one is beyond every bound (`+Inf`).
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

/// What a [`Histogram`] holds at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramSnapshot {
    /// `(upper bound in seconds, observations in this bucket)`: above the previous bound and
    /// at or below this one (not cumulative, as Prometheus encoders take them), ending with
    /// `f64::INFINITY`.
    pub buckets: Vec<(f64, u64)>,
    /// The number of observations.
    pub count: u64,
    /// Their sum, in seconds.
    pub sum: f64,
}

impl Histogram {
    /// A histogram with these upper bounds (in seconds, increasing).
    pub fn new(bounds: &'static [f64]) -> Self {
        let bounds_nanos = bounds
            .iter()
            // A bound too large (or not a number) catches everything below it.
            .map(|secs| {
                Duration::try_from_secs_f64(secs.max(0.0)).map_or(u128::MAX, |d| d.as_nanos())
            })
            .map(|nanos| u64::try_from(nanos).unwrap_or(u64::MAX))
            .collect();
        let buckets = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        Histogram {
            bounds,
            bounds_nanos,
            buckets,
            count: AtomicU64::new(0),
            sum_nanos: AtomicU64::new(0),
        }
    }

    /// A histogram of latencies ([`LATENCY_BUCKETS`]).
    pub fn latency() -> Self {
        Self::new(LATENCY_BUCKETS)
    }

    /// Records one observation.
    pub fn observe(&self, duration: Duration) {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        let index = self
            .bounds_nanos
            .iter()
            .position(|bound| nanos <= *bound)
            .unwrap_or(self.bounds_nanos.len());
        if let Some(bucket) = self.buckets.get(index) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The buckets, count and sum now.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut count = 0u64;
        let mut buckets = Vec::with_capacity(self.buckets.len());
        let bounds = self.bounds.iter().copied().chain([f64::INFINITY]);
        for (bound, bucket) in bounds.zip(self.buckets.iter()) {
            let n = bucket.load(Ordering::Relaxed);
            count = count.saturating_add(n);
            buckets.push((bound, n));
        }
        HistogramSnapshot {
            buckets,
            // The buckets' total, so that `+Inf` and the count agree within one snapshot.
            count,
            sum: Duration::from_nanos(self.sum_nanos.load(Ordering::Relaxed)).as_secs_f64(),
        }
    }
}

/// Refusals counted by their code (a stable name or number the component already answers
/// with). Refusals are rare: a lock here costs nothing on the path of a payment.
#[derive(Debug)]
pub struct Refusals<K> {
    counts: Mutex<BTreeMap<K, u64>>,
}

impl<K> Default for Refusals<K> {
    fn default() -> Self {
        Refusals {
            counts: Mutex::new(BTreeMap::new()),
        }
    }
}

impl<K: Ord + Clone> Refusals<K> {
    /// Counts one refusal with `code`.
    pub fn inc(&self, code: K) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(code).or_insert(0);
        *count = count.saturating_add(1);
    }

    /// Every code seen, with its count, in order.
    pub fn snapshot(&self) -> Vec<(K, u64)> {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn amounts_carry_into_the_high_half() {
        let sum = AmountCounter::default();
        sum.add(u128::from(u64::MAX));
        sum.add(2);
        sum.add(1 << 70);
        assert_eq!(sum.get(), u128::from(u64::MAX) + 2 + (1 << 70));
    }

    #[test]
    fn a_histogram_counts_each_observation_in_its_bucket() {
        let h = Histogram::new(&[0.001, 0.01]);
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(1));
        h.observe(Duration::from_millis(5));
        h.observe(Duration::from_secs(3));
        let s = h.snapshot();
        assert_eq!(s.buckets, vec![(0.001, 2), (0.01, 1), (f64::INFINITY, 1)]);
        assert_eq!(s.count, 4);
        assert!((s.sum - 3.0065).abs() < 1e-9, "{}", s.sum);
    }

    #[test]
    fn refusals_are_counted_per_code() {
        let r = Refusals::default();
        r.inc("b");
        r.inc("a");
        r.inc("b");
        assert_eq!(r.snapshot(), vec![("a", 1), ("b", 2)]);
    }
}
