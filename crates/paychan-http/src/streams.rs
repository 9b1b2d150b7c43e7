//! Pay-per-time streams, the server side: [`PaidStreams`] serves a stream (server-sent
//! events, or any chunked body) for as long as it is paid, one interval at a time.
//!
//! The first request is an ordinary paid call: the stream's route sits behind
//! [`PaidStreams::paywall`] (the `402` flow, at the price of one interval), and its handler
//! answers with [`PaidStreams::serve`]. That answer carries the terms in a `Payment-Stream`
//! header ([`StreamTerms`]: id, price per interval, interval, grace, payment path) and a body
//! that forwards the source only while the time it covers is paid:
//!
//! - interval `k` (from `start + k·interval`) may be served once `k + 1` intervals are paid;
//!   the first is paid by the opening request;
//! - each further interval is paid by a `POST <pay>` (routes of [`PaidStreams::routes`])
//!   with a package bound to that request, verified and recorded like any paid call;
//! - when the paid time runs out the source is no longer read; if no payment arrives within
//!   the grace period the body ends, which closes the stream;
//! - at most one interval may be paid ahead (`paid ≤ begun + 1`): a payment beyond that is
//!   refused before it is recorded, so a stream that ends has taken at most one interval
//!   it did not serve (only when the source itself ends, or the client disconnects).
//!
//! A payment is verified while holding the stream's gate, and the body decides to close
//! under the same gate: a payment is either recorded and credited to a live stream, or
//! refused without being recorded (`package_refused`, "the stream has ended") — never
//! recorded for a stream that was already cut.

use std::{
    collections::HashMap,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    BoxError, Json, Router,
    body::Body,
    extract::{Path, State},
    response::{IntoResponse, Response},
    routing::post,
};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use http::{HeaderValue, Request, StatusCode, header};
use paychan_core::Amount;
use paychan_node::VerifiedPayment;
use tokio::{
    sync::{Mutex, watch},
    time::Instant,
};

use crate::{
    header::{PaymentError, STREAM_HEADER, StreamTerms},
    paywall::{Paywall, attach_receipt, refusal},
};

/// Where interval payments are posted: `POST /paychan/stream/{id}`.
pub const PAY_PREFIX: &str = "/paychan/stream";

/// Counters over all streams of a [`PaidStreams`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Streams opened.
    pub opened: u64,
    /// Streams still open.
    pub open: u64,
    /// Intervals paid (the opening payments included).
    pub intervals_paid: u64,
    /// Intervals served: for each stream, the paid intervals that had begun when it ended
    /// (or by now, if it is open).
    pub intervals_served: u64,
}

/// One open stream.
struct Slot {
    start: Instant,
    interval: Duration,
    /// Intervals paid.
    paid: watch::Sender<u64>,
    /// Closed by the body (payment late). Held while a payment is verified.
    gate: Mutex<bool>,
    /// The body was dropped (the client went away, or the source ended).
    dropped: AtomicBool,
}

impl Slot {
    /// The intervals that have begun by `now` (the first begins at the start).
    fn begun(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.start).as_millis();
        let index = elapsed
            .checked_div(self.interval.as_millis())
            .unwrap_or_default();
        u64::try_from(index).unwrap_or(u64::MAX).saturating_add(1)
    }

    /// The end of the time `paid` intervals cover.
    fn paid_until(&self, paid: u64) -> Instant {
        let covered = self
            .interval
            .checked_mul(u32::try_from(paid).unwrap_or(u32::MAX))
            .unwrap_or(Duration::MAX);
        // An overflow cannot happen within the life of a process; if it did, nothing more is
        // served (never more than paid).
        self.start.checked_add(covered).unwrap_or(self.start)
    }

    fn served(&self, now: Instant) -> u64 {
        (*self.paid.borrow()).min(self.begun(now))
    }
}

struct Inner {
    paywall: Paywall,
    price: Amount,
    interval: Duration,
    grace: Duration,
    next_id: AtomicU64,
    slots: std::sync::Mutex<HashMap<String, Arc<Slot>>>,
    /// Counters of the streams that ended: (opened, paid, served).
    ended: std::sync::Mutex<(u64, u64, u64)>,
}

impl Inner {
    fn slot(&self, id: &str) -> Option<Arc<Slot>> {
        lock(&self.slots).get(id).cloned()
    }

    fn end(&self, id: &str, slot: &Slot) {
        // Under the tally's lock: a payment credited while the stream ends is counted once,
        // here or by `pay` (which credits under the same lock).
        let mut ended = lock(&self.ended);
        slot.dropped.store(true, Ordering::SeqCst);
        if lock(&self.slots).remove(id).is_none() {
            return;
        }
        let paid = *slot.paid.borrow();
        ended.0 = ended.0.saturating_add(1);
        ended.1 = ended.1.saturating_add(paid);
        ended.2 = ended.2.saturating_add(slot.served(Instant::now()));
    }
}

/// Pay-per-time streams (see the [module docs](self)). Cheap to clone.
#[derive(Clone)]
pub struct PaidStreams {
    inner: Arc<Inner>,
}

impl PaidStreams {
    /// Streams paid `price` per `interval` through `paywall`'s verifier and payee; a payment
    /// may be up to `grace` late before the stream is closed (an `interval` under a
    /// millisecond is raised to one).
    pub fn new(paywall: &Paywall, price: Amount, interval: Duration, grace: Duration) -> Self {
        PaidStreams {
            inner: Arc::new(Inner {
                paywall: paywall.price(price),
                price,
                interval: interval.max(Duration::from_millis(1)),
                grace,
                next_id: AtomicU64::new(1),
                slots: std::sync::Mutex::default(),
                ended: std::sync::Mutex::default(),
            }),
        }
    }

    /// The paywall for a stream's route: it charges the first interval.
    pub fn paywall(&self) -> Paywall {
        self.inner.paywall.clone()
    }

    /// The routes interval payments are posted to; merge them into the app.
    pub fn routes(&self) -> Router {
        Router::new()
            .route(&format!("{PAY_PREFIX}/{{id}}"), post(pay))
            .with_state(self.inner.clone())
    }

    /// Counters over all streams.
    pub fn stats(&self) -> StreamStats {
        // The tally and the open streams read together: a stream that ends moves from one
        // to the other under the tally's lock.
        let ended = lock(&self.inner.ended);
        let (opened, mut paid, mut served) = *ended;
        let slots: Vec<Arc<Slot>> = lock(&self.inner.slots).values().cloned().collect();
        drop(ended);
        let now = Instant::now();
        for slot in &slots {
            paid = paid.saturating_add(*slot.paid.borrow());
            served = served.saturating_add(slot.served(now));
        }
        let open = u64::try_from(slots.len()).unwrap_or(u64::MAX);
        StreamStats {
            opened: opened.saturating_add(open),
            open,
            intervals_paid: paid,
            intervals_served: served,
        }
    }

    /// The answer of a stream's route: `source` served while paid, the first interval paid
    /// by `first` (the opening request's payment, which the paywall put in its extensions).
    /// Set the content type on the answer (`text/event-stream` for server-sent events).
    pub fn serve<S, E>(&self, first: &VerifiedPayment, source: S) -> Response
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        let inner = &self.inner;
        let id = inner.next_id.fetch_add(1, Ordering::Relaxed).to_string();
        let (paid, paid_rx) = watch::channel(1u64);
        let slot = Arc::new(Slot {
            start: Instant::now(),
            interval: inner.interval,
            paid,
            gate: Mutex::new(false),
            dropped: AtomicBool::new(false),
        });
        lock(&inner.slots).insert(id.clone(), slot.clone());
        tracing::debug!(%id, channel = %first.channel_id, "paid stream opened");
        let terms = StreamTerms {
            id: id.clone(),
            price: inner.price,
            interval_ms: u64::try_from(inner.interval.as_millis()).unwrap_or(u64::MAX),
            grace_ms: u64::try_from(inner.grace.as_millis()).unwrap_or(u64::MAX),
            pay: format!("{PAY_PREFIX}/{id}"),
        };
        let gated = Gated {
            inner: inner.clone(),
            id,
            slot,
            paid_rx,
            source: Box::pin(source.map(|item| item.map_err(Into::into))),
        };
        let body = futures::stream::unfold(gated, |mut gated| async move {
            gated.next_chunk().await.map(|chunk| (chunk, gated))
        });
        let mut response = Response::new(Body::from_stream(body));
        match HeaderValue::from_str(&terms.to_header()) {
            Ok(value) => {
                response.headers_mut().insert(STREAM_HEADER, value);
            }
            Err(_) => tracing::warn!(pay = %terms.pay, "the stream terms do not fit in a header"),
        }
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

type Source = Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send>>;

/// The body of a stream: the source, read only while paid.
struct Gated {
    inner: Arc<Inner>,
    id: String,
    slot: Arc<Slot>,
    paid_rx: watch::Receiver<u64>,
    source: Source,
}

impl Gated {
    async fn next_chunk(&mut self) -> Option<Result<Bytes, BoxError>> {
        loop {
            let paid = *self.paid_rx.borrow();
            let paid_until = self.slot.paid_until(paid);
            if Instant::now() >= paid_until {
                let deadline = paid_until
                    .checked_add(self.inner.grace)
                    .unwrap_or(paid_until);
                let more = tokio::time::timeout_at(deadline, self.paid_rx.wait_for(|p| *p > paid));
                if let Ok(Ok(_)) = more.await {
                    continue;
                }
                // Late (or the sender is gone, which cannot be while we hold the slot): close,
                // unless a payment verified meanwhile was credited.
                let mut closed = self.slot.gate.lock().await;
                if *self.paid_rx.borrow() > paid {
                    continue;
                }
                *closed = true;
                tracing::info!(id = %self.id, paid, "stream closed: the next interval is unpaid");
                return None;
            }
            tokio::select! {
                item = self.source.next() => return item,
                () = tokio::time::sleep_until(paid_until) => {}
            }
        }
    }
}

impl Drop for Gated {
    fn drop(&mut self) {
        self.inner.end(&self.id, &self.slot);
    }
}

/// `POST /paychan/stream/{id}`: pays the next interval of stream `id`.
async fn pay(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    request: Request<Body>,
) -> Response {
    let with_package = request.headers().contains_key(header::AUTHORIZATION);
    let challenge = inner.paywall.challenge().clone();
    let challenge = crate::header::Challenge {
        price: inner.price,
        ..challenge
    };
    let ended = || {
        let message = format!("stream {id} has ended");
        if with_package {
            // Nothing is recorded: the payer takes its package back.
            refusal(&challenge, PaymentError::PACKAGE_REFUSED, message)
        } else {
            let body = serde_json::json!({ "error": "stream_ended", "message": message });
            (StatusCode::GONE, Json(body)).into_response()
        }
    };
    let Some(slot) = inner.slot(&id) else {
        return ended();
    };
    let closed = slot.gate.lock().await;
    if *closed || slot.dropped.load(Ordering::SeqCst) {
        return ended();
    }
    let paid = *slot.paid.borrow();
    if with_package && paid > slot.begun(Instant::now()) {
        return refusal(
            &challenge,
            PaymentError::PACKAGE_REFUSED,
            format!("stream {id}: {paid} intervals are paid already; pay the next once it began"),
        );
    }
    let (_, receipt) = match inner.paywall.admit(request).await {
        Ok(admitted) => admitted,
        Err(refused) => return refused,
    };
    {
        let mut ended = lock(&inner.ended);
        slot.paid.send_modify(|p| *p = p.saturating_add(1));
        if slot.dropped.load(Ordering::SeqCst) {
            // The body went away while the payment was verified, and its stream was tallied
            // without it: the payment is recorded, so it counts.
            ended.1 = ended.1.saturating_add(1);
        }
    }
    let paid = *slot.paid.borrow();
    drop(closed);
    let body = serde_json::json!({ "stream": id, "paid_intervals": paid });
    let mut response = Json(body).into_response();
    attach_receipt(&mut response, receipt.as_ref());
    response
}

/// Locks `mutex`, taking over its data if a thread panicked while holding it.
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
