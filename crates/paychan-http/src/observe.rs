//! What a paywall did with each call, for operators: one log line per call (method, path,
//! status, price, amount paid, payer, latency) and counters for Prometheus
//! (`docs/OPERATIONS.md`).
//!
//! The [`Paywall`](crate::Paywall) puts a [`CallOutcome`] in the extensions of every answer
//! it makes; the [`CallLog`] layer, put outside it (`paychan proxy` and `paychan front` do),
//! times the call, reads the outcome, logs the line (target `paychan::calls`; a refusal is
//! logged with its code) and counts it in [`PaywallMetrics`]: atomic additions, no lock on
//! a paid call.

use std::{
    convert::Infallible,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use axum::{body::Body, response::Response};
use futures::future::BoxFuture;
use http::Request;
use paychan_core::{
    Address, Amount, ChannelId,
    metrics::{AmountCounter, Counter, Histogram, Refusals},
};
use tower::{Layer, Service};

/// What the paywall made of one call (in the extensions of its answer).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallOutcome {
    /// A free path, or no price: served without payment.
    Free,
    /// Paid, recorded and served.
    Paid {
        /// The price of the call.
        price: Amount,
        /// What the package added to the payer's total (at least the price).
        amount: Amount,
        /// Who paid.
        payer: Address,
        /// On which channel.
        channel: ChannelId,
    },
    /// Refused (nothing recorded): `code` is the error of the answer's body
    /// ([`PaymentError`](crate::PaymentError)'s constants, as `payment_required`).
    Refused {
        /// The price of the call.
        price: Amount,
        /// The refusal's code.
        code: &'static str,
        /// Who presented the package, if one was read.
        payer: Option<Address>,
    },
}

/// A paywall's counters (see the [module docs](self)).
#[derive(Debug)]
pub struct PaywallMetrics {
    /// Calls served for free.
    pub free_calls: Counter,
    /// Calls paid and served.
    pub paid_calls: Counter,
    /// What they paid.
    pub amount_paid: AmountCounter,
    /// Refused calls, by code.
    pub refusals: Refusals<&'static str>,
    /// Calls the paywall did not answer itself or mark (another layer's answer).
    pub other_calls: Counter,
    /// From the request's arrival to its answer's head, every call.
    pub call_latency: Histogram,
}

impl Default for PaywallMetrics {
    fn default() -> Self {
        PaywallMetrics {
            free_calls: Counter::default(),
            paid_calls: Counter::default(),
            amount_paid: AmountCounter::default(),
            refusals: Refusals::default(),
            other_calls: Counter::default(),
            call_latency: Histogram::latency(),
        }
    }
}

/// The layer that logs and counts every call (see the [module docs](self)).
#[derive(Clone, Debug)]
pub struct CallLog {
    metrics: Arc<PaywallMetrics>,
}

impl CallLog {
    /// Logs calls and counts them in `metrics`.
    pub fn new(metrics: Arc<PaywallMetrics>) -> Self {
        CallLog { metrics }
    }

    fn record(&self, method: &str, path: &str, started: Instant, response: &Response) {
        let latency = started.elapsed();
        let metrics = &self.metrics;
        metrics.call_latency.observe(latency);
        let status = response.status().as_u16();
        let latency_ms = latency.as_secs_f64() * 1000.0;
        match response.extensions().get::<CallOutcome>() {
            Some(CallOutcome::Free) => {
                metrics.free_calls.inc();
                tracing::info!(target: "paychan::calls", method, path, status, price = 0u64, latency_ms, outcome = "free", "call");
            }
            Some(CallOutcome::Paid {
                price,
                amount,
                payer,
                channel,
            }) => {
                metrics.paid_calls.inc();
                metrics.amount_paid.add(*amount);
                tracing::info!(
                    target: "paychan::calls",
                    method,
                    path,
                    status,
                    price = %price,
                    amount = %amount,
                    payer = %payer,
                    channel = %channel,
                    latency_ms,
                    outcome = "paid",
                    "call"
                );
            }
            Some(CallOutcome::Refused { price, code, payer }) => {
                metrics.refusals.inc(code);
                let payer = payer.map(|p| p.to_string()).unwrap_or_default();
                tracing::info!(
                    target: "paychan::calls",
                    method,
                    path,
                    status,
                    price = %price,
                    payer,
                    latency_ms,
                    outcome = "refused",
                    code,
                    "call"
                );
            }
            None => {
                metrics.other_calls.inc();
                tracing::info!(target: "paychan::calls", method, path, status, latency_ms, outcome = "other", "call");
            }
        }
    }
}

impl<S> Layer<S> for CallLog {
    type Service = CallLogService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CallLogService {
            log: self.clone(),
            inner,
        }
    }
}

/// The service [`CallLog`] wraps around an inner service.
#[derive(Clone, Debug)]
pub struct CallLogService<S> {
    log: CallLog,
    inner: S,
}

impl<S> Service<Request<Body>> for CallLogService<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let started = Instant::now();
        let method = request.method().as_str().to_owned();
        let path = request.uri().path().to_owned();
        let log = self.log.clone();
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            log.record(&method, &path, started, &response);
            Ok(response)
        })
    }
}
