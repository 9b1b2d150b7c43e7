//! Pay-per-time streams, the client side: [`PayingClient::stream`] opens a stream served by
//! [`PaidStreams`](crate::streams::PaidStreams) (paying its first interval through the usual
//! `402` flow) and answers a [`PaidStream`] of the body's chunks, while a background task
//! pays each further interval half way through the one before it (a `POST` to the stream's
//! payment path, paid like any call: same channels, budget and never-twice rules).
//!
//! Paying stops when the [`PaidStream`] is dropped or [`PaidStream::stop_paying`] is called
//! (a payment in flight is finished, never abandoned half way), when the budget is spent,
//! or when the server says the stream has ended; the server then closes the stream once the
//! paid time and its grace period are over.

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use futures::Stream;
use paychan_core::Amount;
use tokio::{sync::watch, task::JoinHandle, time::Instant};

use crate::{
    client::{HttpPayError, PayingClient, host_key},
    header::{Challenge, Receipt, STREAM_HEADER, StreamTerms},
};

type Chunks = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// What a stream's payments came to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamPayments {
    /// Intervals paid, the first included.
    pub intervals: u64,
    /// The amount paid.
    pub amount: Amount,
    /// Why paying stopped, if not because we asked (an error, the budget, the stream ended).
    pub stopped_by: Option<String>,
}

/// A paid stream being consumed (see the [module docs](self)): a [`Stream`] of the body's
/// chunks. Dropping it stops the payments.
pub struct PaidStream {
    chunks: Chunks,
    terms: StreamTerms,
    receipt: Option<Receipt>,
    stop: watch::Sender<bool>,
    payments: watch::Receiver<StreamPayments>,
    payer: Option<JoinHandle<()>>,
}

impl PaidStream {
    /// The stream's terms (id, price per interval, interval, grace, payment path).
    pub fn terms(&self) -> &StreamTerms {
        &self.terms
    }

    /// The receipt of the opening payment, if the server sent one.
    pub fn receipt(&self) -> Option<&Receipt> {
        self.receipt.as_ref()
    }

    /// What was paid so far.
    pub fn payments(&self) -> StreamPayments {
        self.payments.borrow().clone()
    }

    /// Stops paying (the stream goes on until the paid time and the grace are over) and
    /// waits for a payment in flight to finish; answers what was paid in total.
    pub async fn stop_paying(&mut self) -> StreamPayments {
        let _ = self.stop.send(true);
        if let Some(payer) = self.payer.take() {
            let _ = payer.await;
        }
        self.payments()
    }
}

impl Stream for PaidStream {
    type Item = reqwest::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.chunks.as_mut().poll_next(cx)
    }
}

impl std::fmt::Debug for PaidStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaidStream")
            .field("terms", &self.terms)
            .field("payments", &*self.payments.borrow())
            .finish_non_exhaustive()
    }
}

impl PayingClient {
    /// Opens the pay-per-time stream at `url` (`GET`, paid on `402`) and pays every interval
    /// in the background while the answer is consumed (see the [module docs](self)).
    pub async fn stream(&self, url: &str) -> Result<PaidStream, HttpPayError> {
        let opened = self.get(url).await?;
        let status = opened.response.status();
        let not_a_stream = |why: String| HttpPayError::NotAStream {
            url: url.to_owned(),
            why,
        };
        if !status.is_success() {
            return Err(not_a_stream(format!("the server answered {status}")));
        }
        let terms = opened
            .response
            .headers()
            .get(STREAM_HEADER)
            .ok_or_else(|| not_a_stream("no Payment-Stream header".into()))?
            .to_str()
            .map_err(|_| not_a_stream("a Payment-Stream header that is not text".into()))
            .and_then(|text| StreamTerms::parse(text).map_err(not_a_stream))?;
        let start = Instant::now();
        let base = opened.response.url().clone();
        let pay_url = base
            .join(&terms.pay)
            .map_err(|e| not_a_stream(format!("bad payment path {:?}: {e}", terms.pay)))?;
        if opened.paid == 0 {
            return Err(not_a_stream("its opening was not paid".into()));
        }
        // Interval payments go to the payee of the opening call, at the announced price.
        let key = host_key(&pay_url);
        if let Some(known) = self.known_price(&key, "GET", &path_of(&base)).await {
            let challenge = Challenge {
                price: terms.price,
                ..known
            };
            self.remember_price(&key, "POST", &path_of(&pay_url), challenge)
                .await;
        }
        let (stop, stop_rx) = watch::channel(false);
        let (payments_tx, payments) = watch::channel(StreamPayments {
            intervals: 1,
            amount: opened.paid,
            stopped_by: None,
        });
        let payer = tokio::spawn(pay_intervals(
            self.clone(),
            pay_url,
            Duration::from_millis(terms.interval_ms),
            start,
            stop_rx,
            payments_tx,
        ));
        Ok(PaidStream {
            chunks: Box::pin(opened.response.bytes_stream()),
            terms,
            receipt: opened.receipt,
            stop,
            payments,
            payer: Some(payer),
        })
    }
}

fn path_of(url: &reqwest::Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

/// Pays interval `k` (from 1) at `start + (k - ½)·interval`, until told to stop.
async fn pay_intervals(
    client: PayingClient,
    pay_url: reqwest::Url,
    interval: Duration,
    start: Instant,
    mut stop: watch::Receiver<bool>,
    payments: watch::Sender<StreamPayments>,
) {
    let key = host_key(&pay_url);
    let path = path_of(&pay_url);
    let stopped_by = |why: String| payments.send_modify(|p| p.stopped_by = Some(why));
    let mut next: u32 = 1;
    loop {
        let due = interval
            .checked_mul(next)
            .and_then(|d| d.checked_sub(interval.checked_div(2).unwrap_or_default()))
            .and_then(|d| start.checked_add(d));
        let Some(due) = due else {
            stopped_by("the stream outlived the clock".into());
            break;
        };
        tokio::select! {
            () = tokio::time::sleep_until(due) => {}
            // Asked to stop, or the stream was dropped.
            _ = stop.wait_for(|stop| *stop) => break,
        }
        let request = match client.http().post(pay_url.clone()).build() {
            Ok(request) => request,
            Err(e) => {
                stopped_by(e.to_string());
                break;
            }
        };
        match client.execute(request).await {
            Ok(answer) if answer.response.status().is_success() && answer.paid > 0 => {
                payments.send_modify(|p| {
                    p.intervals = p.intervals.saturating_add(1);
                    p.amount = p.amount.saturating_add(answer.paid);
                });
            }
            Ok(answer) => {
                stopped_by(format!(
                    "the payment path answered {} (the stream ended)",
                    answer.response.status()
                ));
                break;
            }
            Err(e) => {
                stopped_by(e.to_string());
                break;
            }
        }
        next = next.saturating_add(1);
    }
    client.forget_price(&key, "POST", &path).await;
}
