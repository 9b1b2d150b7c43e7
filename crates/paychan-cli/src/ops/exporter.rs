//! The Prometheus text format of what a component counts: each component turns its
//! counters into [`Family`]s at scrape time, and [`render`] encodes them with
//! `prometheus-client` (the text format 0.0.4 every Prometheus-compatible scraper reads).
//! Counters get the `_total` suffix from the encoder.

use paychan_core::{Amount, metrics::HistogramSnapshot};
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet},
    metrics::MetricType,
    registry::Registry,
};

/// One value of a metric.
#[derive(Clone, Debug)]
pub(crate) enum Sample {
    /// A count (of a counter, or the value of a gauge).
    Count(u64),
    /// An amount in the ledger's smallest unit (a counter; exact below 2^53).
    Amount(Amount),
    /// A histogram of durations.
    Histogram(HistogramSnapshot),
}

/// A label set: `(name, value)` pairs.
pub(crate) type Labels = Vec<(&'static str, String)>;

/// One metric with its help and every labelled value.
#[derive(Clone, Debug)]
pub(crate) struct Family {
    name: &'static str,
    help: &'static str,
    kind: MetricType,
    samples: Vec<(Labels, Sample)>,
}

impl Family {
    /// A counter (`name` without `_total`).
    pub(crate) fn counter(name: &'static str, help: &'static str) -> Self {
        Self::new(name, help, MetricType::Counter)
    }

    /// A gauge.
    pub(crate) fn gauge(name: &'static str, help: &'static str) -> Self {
        Self::new(name, help, MetricType::Gauge)
    }

    /// A histogram.
    pub(crate) fn histogram(name: &'static str, help: &'static str) -> Self {
        Self::new(name, help, MetricType::Histogram)
    }

    fn new(name: &'static str, help: &'static str, kind: MetricType) -> Self {
        Family {
            name,
            help,
            kind,
            samples: vec![],
        }
    }

    /// Adds a value without labels.
    pub(crate) fn value(self, sample: Sample) -> Self {
        self.labelled(vec![], sample)
    }

    /// Adds a value with `labels`.
    pub(crate) fn labelled(mut self, labels: Labels, sample: Sample) -> Self {
        self.samples.push((labels, sample));
        self
    }
}

/// The families of one scrape.
#[derive(Debug)]
struct Families(Vec<Family>);

impl Collector for Families {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        for family in &self.0 {
            let mut metric =
                encoder.encode_descriptor(family.name, family.help, None, family.kind)?;
            for (labels, sample) in &family.samples {
                if labels.is_empty() {
                    encode_sample(&mut metric, family.kind, sample)?;
                } else {
                    let labels: Vec<(&str, &str)> =
                        labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    encode_sample(&mut metric.encode_family(&labels)?, family.kind, sample)?;
                }
            }
        }
        Ok(())
    }
}

fn encode_sample(
    metric: &mut MetricEncoder<'_>,
    kind: MetricType,
    sample: &Sample,
) -> Result<(), std::fmt::Error> {
    match sample {
        Sample::Count(n) if kind == MetricType::Gauge => metric.encode_gauge(n),
        Sample::Count(n) => metric.encode_counter::<NoLabelSet, _, u64>(n, None),
        // A counter of amounts is a float, as every Prometheus value.
        Sample::Amount(a) => metric.encode_counter::<NoLabelSet, _, f64>(&(*a as f64), None),
        Sample::Histogram(h) => {
            metric.encode_histogram::<NoLabelSet>(h.sum, h.count, &h.buckets, None)
        }
    }
}

/// The Prometheus text of `families`.
pub(crate) fn render(families: Vec<Family>) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Families(families)));
    let mut text = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)?;
    Ok(text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use paychan_core::metrics::Histogram;

    use super::*;

    #[test]
    fn families_render_as_prometheus_text() {
        let h = Histogram::new(&[0.01]);
        h.observe(Duration::from_millis(2));
        h.observe(Duration::from_millis(20));
        let text = render(vec![
            Family::counter("demo_payments", "Payments.").value(Sample::Count(3)),
            Family::counter("demo_amount", "Amounts.").value(Sample::Amount(300)),
            Family::gauge("demo_peers", "Peers.").value(Sample::Count(2)),
            Family::counter("demo_refused", "Refusals.")
                .labelled(vec![("code", "x".into())], Sample::Count(1)),
            Family::histogram("demo_seconds", "Latency.").value(Sample::Histogram(h.snapshot())),
        ])
        .unwrap();
        for line in [
            "# TYPE demo_payments_total counter",
            "demo_payments_total 3",
            "demo_amount_total 300.0",
            "# TYPE demo_peers gauge",
            "demo_peers 2",
            "demo_refused_total{code=\"x\"} 1",
            "demo_seconds_bucket{le=\"0.01\"} 1",
            "demo_seconds_bucket{le=\"+Inf\"} 2",
            "demo_seconds_count 2",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
    }
}
