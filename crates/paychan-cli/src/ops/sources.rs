//! What each component exposes on its endpoints: the node's, the paywall's (`paychan
//! proxy`) and the served ledger's metrics and readiness checks. Every metric is listed in
//! `docs/OPERATIONS.md`.

use std::{net::SocketAddr, sync::Arc};

use async_trait::async_trait;
use paychan_core::metrics::Histogram;
use paychan_http::{PaywallMetrics, RpcVerifier};
use paychan_ledger::{EmbeddedLedger, Ledger, LedgerQuery, metrics::OPERATIONS};
use paychan_node::Node;
use paychan_store::Store;

use super::{
    Check, Source, accepts,
    exporter::{Family, Sample},
    within,
};

/// Every phase a channel can be in, so that a phase with no channel shows 0.
const PHASES: [&str; 6] = [
    "proposed",
    "open",
    "settling",
    "close requested",
    "closing",
    "closed",
];

fn histogram(h: &Histogram) -> Sample {
    Sample::Histogram(h.snapshot())
}

/// `paychan node`.
pub(crate) struct NodeSource {
    pub(crate) node: Node,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) ledger: Arc<dyn Ledger>,
    /// The API's address.
    pub(crate) api: SocketAddr,
}

#[async_trait]
impl Source for NodeSource {
    async fn families(&self) -> Vec<Family> {
        let m = self.node.metrics();
        let dir = |d: &str| vec![("direction", d.to_owned())];
        let mut refused = Family::counter(
            "paychan_node_refused",
            "Payments (over a connection) and payment packages this node refused, by kind, code and reason.",
        );
        for ((kind, code, reason), n) in m.refusals.snapshot() {
            let labels = vec![
                ("kind", kind.to_owned()),
                ("code", code.to_string()),
                ("reason", reason.to_owned()),
            ];
            refused = refused.labelled(labels, Sample::Count(n));
        }
        let phases = self.node.channels_by_phase().await;
        let mut channels = Family::gauge("paychan_node_channels", "Channels by phase.");
        for phase in PHASES {
            let n = phases.get(phase).copied().unwrap_or(0);
            channels = channels.labelled(vec![("phase", phase.to_owned())], Sample::Count(n));
        }
        let last = m.ledger_last_contact.get();
        vec![
            Family::counter("paychan_node_payments", "Payments received (in) and sent (out).")
                .labelled(dir("in"), Sample::Count(m.payments_received.get()))
                .labelled(dir("out"), Sample::Count(m.payments_sent.get())),
            Family::counter(
                "paychan_node_payment_amount",
                "Amounts received (in) and sent (out), in the ledger's smallest unit.",
            )
            .labelled(dir("in"), Sample::Amount(m.amount_received.get()))
            .labelled(dir("out"), Sample::Amount(m.amount_sent.get())),
            Family::counter(
                "paychan_node_payments_taken_back",
                "Payment packages the payee refused and this node took back (also counted as sent).",
            )
            .value(Sample::Count(m.payments_taken_back.get())),
            Family::counter(
                "paychan_node_payment_amount_taken_back",
                "Their amounts.",
            )
            .value(Sample::Amount(m.amount_taken_back.get())),
            Family::histogram(
                "paychan_node_payment_duration_seconds",
                "in: from a payment's arrival to its commit (handler included); out: from signing to the peer's answer (or the package's commit).",
            )
            .labelled(dir("in"), histogram(&m.receive_latency))
            .labelled(dir("out"), histogram(&m.send_latency)),
            Family::histogram(
                "paychan_node_store_commit_duration_seconds",
                "One commit of a channel's state to the store.",
            )
            .value(histogram(&m.store_commit)),
            refused,
            Family::gauge("paychan_node_peers_connected", "Peers connected now.")
                .value(Sample::Count(
                    u64::try_from(self.node.connected_peers()).unwrap_or(u64::MAX),
                )),
            channels,
            Family::gauge(
                "paychan_node_ledger_lag_seconds",
                "Seconds since the ledger last answered the node's watcher (an event, or its time on each tick).",
            )
            .value(Sample::Count(crate::when::now().saturating_sub(last))),
            Family::gauge(
                "paychan_node_ledger_last_contact_timestamp_seconds",
                "Unix time of the ledger's last answer to the watcher.",
            )
            .value(Sample::Count(last)),
        ]
    }

    async fn checks(&self) -> Vec<Check> {
        let store = within(async {
            self.store
                .ledger_cursor()
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        });
        let ledger = within(async { self.ledger.now().await.map(drop).map_err(|e| e.to_string()) });
        let (store, ledger, api) = tokio::join!(store, ledger, accepts(self.api));
        vec![("store", store), ("ledger", ledger), ("api", api)]
    }
}

/// Who verifies a paywall's packages.
pub(crate) enum Verifying {
    /// A node's API (`paychan proxy`).
    Node(RpcVerifier),
    /// A shared store and the ledger, in process (`paychan front`).
    Store {
        store: Arc<dyn Store>,
        ledger: Arc<dyn LedgerQuery>,
    },
}

/// `paychan proxy` and `paychan front`.
pub(crate) struct PaywallSource {
    pub(crate) metrics: Arc<PaywallMetrics>,
    /// Who verifies the packages.
    pub(crate) verifying: Verifying,
    /// The upstream services' `host:port`, all of which must accept connections.
    pub(crate) upstreams: Vec<String>,
    /// The proxy's own address.
    pub(crate) listen: SocketAddr,
}

#[async_trait]
impl Source for PaywallSource {
    async fn families(&self) -> Vec<Family> {
        let m = &self.metrics;
        let outcome = |o: &str| vec![("outcome", o.to_owned())];
        let refusals = m.refusals.snapshot();
        let refused_calls = refusals
            .iter()
            .fold(0u64, |sum, (_, n)| sum.saturating_add(*n));
        let mut refused = Family::counter(
            "paychan_proxy_refused",
            "Calls refused, by the code of the answer (payment_required, package_refused, verification_failed, verification_unknown, service_failed).",
        );
        for (code, n) in refusals {
            refused = refused.labelled(vec![("code", code.to_owned())], Sample::Count(n));
        }
        vec![
            Family::counter("paychan_proxy_calls", "Calls, by outcome.")
                .labelled(outcome("paid"), Sample::Count(m.paid_calls.get()))
                .labelled(outcome("free"), Sample::Count(m.free_calls.get()))
                .labelled(outcome("refused"), Sample::Count(refused_calls))
                .labelled(outcome("other"), Sample::Count(m.other_calls.get())),
            Family::counter(
                "paychan_proxy_paid_amount",
                "What paid calls paid, in the ledger's smallest unit.",
            )
            .value(Sample::Amount(m.amount_paid.get())),
            refused,
            Family::histogram(
                "paychan_proxy_call_duration_seconds",
                "From a call's arrival to its answer (payment checks, the upstream and the record included).",
            )
            .value(histogram(&m.call_latency)),
        ]
    }

    async fn checks(&self) -> Vec<Check> {
        let upstream = within(async {
            for upstream in &self.upstreams {
                tokio::net::TcpStream::connect(upstream.as_str())
                    .await
                    .map(drop)
                    .map_err(|e| format!("{upstream}: {e}"))?;
            }
            Ok(())
        });
        let (upstream, listener) = tokio::join!(upstream, accepts(self.listen));
        let mut checks = match &self.verifying {
            Verifying::Node(verifier) => {
                let node = within(async {
                    verifier
                        .node_info()
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string())
                });
                vec![("node", node.await)]
            }
            Verifying::Store { store, ledger } => {
                let store = within(async {
                    store
                        .ledger_cursor()
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string())
                });
                let ledger =
                    within(async { ledger.now().await.map(drop).map_err(|e| e.to_string()) });
                let (store, ledger) = tokio::join!(store, ledger);
                vec![("store", store), ("ledger", ledger)]
            }
        };
        checks.extend([("upstream", upstream), ("listener", listener)]);
        checks
    }
}

/// `paychan ledger serve`.
pub(crate) struct LedgerSource {
    pub(crate) ledger: EmbeddedLedger,
    /// The JSON-RPC server's address.
    pub(crate) listen: SocketAddr,
}

#[async_trait]
impl Source for LedgerSource {
    async fn families(&self) -> Vec<Family> {
        let m = self.ledger.metrics();
        let mut applied = Family::counter(
            "paychan_ledger_operations",
            "Operations applied, by operation.",
        );
        for (name, counter) in OPERATIONS.iter().zip(m.applied.iter()) {
            applied = applied.labelled(
                vec![("operation", (*name).to_owned())],
                Sample::Count(counter.get()),
            );
        }
        let mut refused = Family::counter(
            "paychan_ledger_refused",
            "Requests refused (nothing applied), by operation and code (the rule's name, or the error's kind).",
        );
        for ((operation, code), n) in m.refusals.snapshot() {
            let labels = vec![
                ("operation", operation.to_owned()),
                ("code", code.to_owned()),
            ];
            refused = refused.labelled(labels, Sample::Count(n));
        }
        let mut families = vec![
            applied,
            refused,
            Family::histogram(
                "paychan_ledger_journal_write_duration_seconds",
                "One write of the journal (with its fsync under --sync).",
            )
            .value(histogram(&m.journal_write)),
            Family::gauge("paychan_ledger_events", "Events recorded.")
                .value(Sample::Count(self.ledger.events_recorded())),
        ];
        if let Ok(time) = self.ledger.time() {
            families.push(
                Family::gauge(
                    "paychan_ledger_time_seconds",
                    "The ledger's clock (unix time).",
                )
                .value(Sample::Count(time)),
            );
        }
        families
    }

    async fn checks(&self) -> Vec<Check> {
        let journal = self.ledger.time().map(drop).map_err(|e| e.to_string());
        vec![
            ("journal", journal),
            ("listener", accepts(self.listen).await),
        ]
    }
}
