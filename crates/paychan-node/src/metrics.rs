//! What the node counts for its operator: payments and amounts in and out, their latency,
//! the store's commit time, refusals by code, and when the ledger last answered. Filled on
//! the paths that do the work with relaxed atomic additions ([`paychan_core::metrics`]: no
//! lock and no allocation per payment); read by an exporter (`paychan node` serves them to
//! Prometheus: `docs/OPERATIONS.md`). Connected peers and channels by phase are not
//! counted here: [`Node::connected_peers`] and [`Node::channels_by_phase`] read them when
//! asked.

use std::{
    collections::BTreeMap,
    time::{SystemTime, UNIX_EPOCH},
};

use paychan_core::{
    Amount,
    metrics::{AmountCounter, Counter, Gauge, Histogram, Refusals},
    wire::ErrorBody,
};

use crate::{Node, NodeError, node::status_of};

/// A refusal's labels: what was refused (`payment` over a connection, `package`), its
/// code (the wire's [`ErrorBody`] code for a payment, [`NodeError::code`] for a package)
/// and its stable reason name (empty when the code says it all).
pub type RefusalKey = (&'static str, u16, &'static str);

/// The node's counters (see the [module docs](self)). Every field only grows, except the
/// ledger's last contact.
#[derive(Debug)]
pub struct NodeMetrics {
    /// Payments (vouchers and packages) accepted from peers and committed.
    pub payments_received: Counter,
    /// Their amounts.
    pub amount_received: AmountCounter,
    /// Payments the peer answered (over the connection) or packages created (counted as
    /// paid at once).
    pub payments_sent: Counter,
    /// Their amounts.
    pub amount_sent: AmountCounter,
    /// Packages the payee refused that we took back (still counted in `payments_sent`).
    pub payments_taken_back: Counter,
    /// Their amounts.
    pub amount_taken_back: AmountCounter,
    /// From a voucher's arrival to its commit (the handler's time included).
    pub receive_latency: Histogram,
    /// From signing our voucher to the peer's answer, or to the package's commit.
    pub send_latency: Histogram,
    /// One store commit of a channel's state.
    pub store_commit: Histogram,
    /// Payments and packages refused, by [`RefusalKey`].
    pub refusals: Refusals<RefusalKey>,
    /// Unix time (seconds) of the ledger's last answer to the watcher (an event or its
    /// time); zero before the first.
    pub ledger_last_contact: Gauge,
}

impl Default for NodeMetrics {
    fn default() -> Self {
        NodeMetrics {
            payments_received: Counter::default(),
            amount_received: AmountCounter::default(),
            payments_sent: Counter::default(),
            amount_sent: AmountCounter::default(),
            payments_taken_back: Counter::default(),
            amount_taken_back: AmountCounter::default(),
            receive_latency: Histogram::latency(),
            send_latency: Histogram::latency(),
            store_commit: Histogram::latency(),
            refusals: Refusals::default(),
            ledger_last_contact: Gauge::default(),
        }
    }
}

impl NodeMetrics {
    /// A payment received.
    pub(crate) fn received(&self, amount: Amount) {
        self.payments_received.inc();
        self.amount_received.add(amount);
    }

    /// A payment sent.
    pub(crate) fn sent(&self, amount: Amount) {
        self.payments_sent.inc();
        self.amount_sent.add(amount);
    }

    /// A package taken back.
    pub(crate) fn taken_back(&self, amount: Amount) {
        self.payments_taken_back.inc();
        self.amount_taken_back.add(amount);
    }

    /// A payment over a connection refused with `error`.
    pub(crate) fn payment_refused(&self, error: &ErrorBody) {
        self.refusals
            .inc(("payment", error.code, wire_reason(error.code)));
    }

    /// A package refused with `error`.
    pub(crate) fn package_refused(&self, error: &NodeError) {
        self.refusals
            .inc(("package", error.code(), error.reason().unwrap_or("")));
    }

    /// The ledger answered the watcher now.
    pub(crate) fn ledger_answered(&self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.ledger_last_contact.set(now);
    }
}

/// The name of a wire error code (`docs/PROTOCOL.md`).
fn wire_reason(code: u16) -> &'static str {
    match code {
        ErrorBody::HANDLER_ERROR => "handler_error",
        ErrorBody::HANDLER_TIMEOUT => "handler_timeout",
        ErrorBody::VOUCHER_REJECTED => "voucher_rejected",
        ErrorBody::UNKNOWN_CHANNEL => "unknown_channel",
        ErrorBody::CERTIFICATE_REJECTED => "certificate_rejected",
        ErrorBody::MALFORMED => "malformed",
        ErrorBody::INTERNAL => "internal",
        ErrorBody::REFUSED => "refused",
        _ => "",
    }
}

impl Node {
    /// The node's counters.
    pub fn metrics(&self) -> &NodeMetrics {
        &self.inner.metrics
    }

    /// How many channels are in each phase now (`open`, `closing`, ...: the phase names of
    /// [`ChannelInfo::status`](crate::ChannelInfo)).
    pub async fn channels_by_phase(&self) -> BTreeMap<&'static str, u64> {
        let mut phases = BTreeMap::new();
        for (_, slot) in self.slots() {
            let entry = slot.entry.lock().await;
            let count = phases.entry(status_of(&entry.state)).or_insert(0u64);
            *count = count.saturating_add(1);
        }
        phases
    }
}
