//! The paywall: a tower layer for axum that charges per call.
//!
//! For each request the [`Paywall`] asks its price function for a price (`None`: free).
//! Without `Authorization: Paychan <package>` it answers `402 Payment Required` with the
//! challenge (header and JSON body). With a package it checks, before anything is recorded,
//! that the package is bound to this request (its message is `{"method", "path"}` of the
//! request, unless binding is turned off). A refused package is answered `402` with
//! `package_refused` and changes nothing. The `Authorization` header is removed before the
//! inner service sees it, so a proxied upstream never gets the package.
//!
//! # Charged only for a served call
//!
//! The payer is charged only for a call the service answered, and never gets an answer
//! without paying for it:
//!
//! 1. the [`Verifier`] **checks** the package against the price ([`Verifier::check`]:
//!    nothing recorded);
//! 2. the inner service runs (the proxy's upstream), with the checked [`VerifiedPayment`] in
//!    the request's extensions;
//! 3. if it answered a server error (`5xx`; the proxy answers `502` when its upstream is
//!    unreachable), its answer is dropped and the payer gets `502` with `service_failed`:
//!    nothing was recorded, so the payer's client takes the package back (its next package
//!    does not pay for this call). The failure is logged;
//! 4. otherwise the verifier **verifies and records** the package, and only then is the
//!    answer sent, with a `Payment-Receipt` header. If that fails (the node is down, or the
//!    same package was recorded meanwhile), the answer is dropped and the payer gets the
//!    refusal (`402`/`503`) instead: no served call without a recorded payment.
//!
//! Why not record first and refund (or undo) after a failure: a refund is a payment back
//! from the payee, which needs the peer connection or a second package the client would
//! have to understand, and an undo of a recorded voucher is impossible once a later one
//! builds on it; a package that was never recorded is simply taken back by the payer, with
//! the machinery that already handles refusals. The price is that the service may run for a
//! package that then fails to record (the node failing between the check and the record):
//! the payee loses that call, the payer never does. Calls paid on one channel go through
//! these steps one at a time (a paying client uses one channel per call in flight), so two
//! requests carrying the same package cannot both be checked before one is recorded.
//!
//! Every answer the paywall makes carries its [`CallOutcome`] in its extensions (free, paid,
//! or refused with its code), which the [`CallLog`](crate::observe::CallLog) layer logs and
//! counts.
//!
//! [`Paywall::admit`] (used by pay-per-time streams, which have no service that could fail)
//! records before serving.
//!
//! # Rate limits
//!
//! [`Paywall::rate_limit`] caps the calls each payer (the address that signs the packages)
//! makes per period (GCRA, the `governor` crate: a burst of the whole allowance, refilled
//! evenly). The check runs after the package is checked, so a forger cannot spend someone
//! else's allowance, and before the service: a call over the limit is answered `429` with
//! `rate_limited` and `Retry-After`, and its package is not recorded (the payer takes it
//! back). Pay-per-time streams are not limited (one package per period already paces them).

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{Arc, Mutex},
    task::{Context, Poll},
};

use axum::{
    body::Body,
    response::{IntoResponse, Response},
};
use futures::future::BoxFuture;
use http::{HeaderValue, Request, StatusCode, header, request::Parts};
use paychan_core::{Amount, ChannelId, SigningKey, front::SignedFrontCertificate};
use paychan_node::{PaymentPackage, VerifiedPayment};
use tower::{Layer, Service};

use crate::{
    header::{Challenge, PaymentError, RECEIPT_HEADER, Receipt, credentials},
    observe::CallOutcome,
    verifier::{Verifier, VerifyError},
};

/// The price of a request: `None` lets it through for free.
pub type PriceFn = dyn Fn(&Parts) -> Option<Amount> + Send + Sync;

pub use paychan_core::http::binding;

/// The `METHOD /path?query` of a request.
fn request_line(parts: &Parts) -> (String, String) {
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
    (parts.method.as_str().to_owned(), path)
}

struct Config {
    verifier: Arc<dyn Verifier>,
    challenge: Challenge,
    price: Arc<PriceFn>,
    free_paths: Vec<String>,
    bind_requests: bool,
    receipt_key: Option<SigningKey>,
    /// The payee's certificate of `receipt_key`, when a front signs (docs/HA.md).
    receipt_certificate: Option<SignedFrontCertificate>,
    turns: Arc<Turns>,
    rate: Option<Arc<PayerLimit>>,
}

/// Calls per period per payer (see the [module docs](self#rate-limits)).
struct PayerLimit {
    limiter: governor::DefaultKeyedRateLimiter<paychan_core::Address>,
    /// Checks since the limiter last forgot idle payers.
    checks: std::sync::atomic::AtomicU32,
}

/// How many checks between two sweeps of the payers at full allowance.
const SWEEP_EVERY: u32 = 4096;

impl PayerLimit {
    /// `Err(wait)`: `payer` is over its limit for `wait`.
    fn check(&self, payer: paychan_core::Address) -> Result<(), std::time::Duration> {
        use std::sync::atomic::Ordering;
        if self.checks.fetch_add(1, Ordering::Relaxed) >= SWEEP_EVERY {
            self.checks.store(0, Ordering::Relaxed);
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&payer).map_err(|not_until| {
            not_until.wait_time_from(governor::clock::Clock::now(self.limiter.clock()))
        })
    }
}

/// The channels with a call between its check and its record, one call per channel at a
/// time.
#[derive(Default)]
struct Turns {
    channels: Mutex<HashMap<ChannelId, Arc<tokio::sync::Mutex<()>>>>,
}

/// A channel's turn; dropping it lets the next call on the channel go.
struct Turn<'a> {
    turns: &'a Turns,
    channel: ChannelId,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Turns {
    fn channels(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<ChannelId, Arc<tokio::sync::Mutex<()>>>> {
        self.channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn turn(&self, channel: ChannelId) -> Turn<'_> {
        let lock = self.channels().entry(channel).or_default().clone();
        let guard = lock.lock_owned().await;
        Turn {
            turns: self,
            channel,
            guard: Some(guard),
        }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut channels = self.turns.channels();
        // Only the map holds it: no call waits on this channel.
        if channels
            .get(&self.channel)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            channels.remove(&self.channel);
        }
    }
}

/// What the paywall makes of a request before any payment is checked.
enum Admission {
    /// Free: served as it is.
    Free(Request<Body>),
    /// Refused: the answer.
    Refused(Response),
    /// It carries a package bound to it (boxed: a package is large).
    Paying(Box<Paying>),
}

/// A request with a package to check against `challenge.price`.
struct Paying {
    parts: Parts,
    body: Body,
    package: PaymentPackage,
    challenge: Challenge,
    /// `METHOD /path?query`.
    request: String,
}

/// The paywall layer (see the [module docs](self)). Cheap to clone.
#[derive(Clone)]
pub struct Paywall {
    config: Arc<Config>,
}

impl Paywall {
    /// A paywall charging `challenge.price` per call to the payee `challenge` names, whose
    /// packages `verifier` checks and records.
    pub fn new(verifier: Arc<dyn Verifier>, challenge: Challenge) -> Self {
        let price = challenge.price;
        Paywall {
            config: Arc::new(Config {
                verifier,
                challenge,
                price: Arc::new(move |_: &Parts| Some(price)),
                free_paths: vec![],
                bind_requests: true,
                receipt_key: None,
                receipt_certificate: None,
                turns: Arc::default(),
                rate: None,
            }),
        }
    }

    fn with(&self, edit: impl FnOnce(&mut Config)) -> Self {
        let c = &self.config;
        let mut config = Config {
            verifier: c.verifier.clone(),
            challenge: c.challenge.clone(),
            price: c.price.clone(),
            free_paths: c.free_paths.clone(),
            bind_requests: c.bind_requests,
            receipt_key: c.receipt_key.clone(),
            receipt_certificate: c.receipt_certificate,
            turns: c.turns.clone(),
            rate: c.rate.clone(),
        };
        edit(&mut config);
        Paywall {
            config: Arc::new(config),
        }
    }

    /// The same paywall at a fixed `price` per call (for one route, say).
    pub fn price(&self, price: Amount) -> Self {
        self.with(|c| c.price = Arc::new(move |_: &Parts| Some(price)))
    }

    /// The same paywall with the price a function of the request (`None`: free).
    pub fn price_fn(
        &self,
        price: impl Fn(&Parts) -> Option<Amount> + Send + Sync + 'static,
    ) -> Self {
        self.with(|c| c.price = Arc::new(price))
    }

    /// Paths served for free: a request whose path equals one of them, or starts with one
    /// ending in `/`, passes without payment.
    pub fn free_paths(&self, paths: Vec<String>) -> Self {
        self.with(|c| c.free_paths = paths)
    }

    /// Whether a package must name its request (default `true`): with binding, a package
    /// stolen in transit cannot pay for another call.
    pub fn bind_requests(&self, bind: bool) -> Self {
        self.with(|c| c.bind_requests = bind)
    }

    /// Signs every receipt with the payee's key (which must be the challenge's payee).
    pub fn sign_receipts(&self, key: SigningKey) -> Self {
        self.with(|c| {
            c.receipt_key = Some(key);
            c.receipt_certificate = None;
        })
    }

    /// The same paywall, signing receipts as a front of the payee: with the front's own
    /// `key`, presenting the payee's `certificate` of it (clients check both with
    /// [`Receipt::signer_for`](crate::Receipt::signer_for)).
    pub fn sign_receipts_as_front(
        &self,
        key: SigningKey,
        certificate: SignedFrontCertificate,
    ) -> Self {
        self.with(|c| {
            c.receipt_key = Some(key);
            c.receipt_certificate = Some(certificate);
        })
    }

    /// At most `calls` paid calls per `period` for each payer (see the
    /// [module docs](self#rate-limits)); `calls` of zero or a zero period turn it off.
    pub fn rate_limit(&self, calls: u32, period: std::time::Duration) -> Self {
        let quota = std::num::NonZeroU32::new(calls).and_then(|burst| {
            governor::Quota::with_period(period.checked_div(burst.get())?)
                .map(|q| q.allow_burst(burst))
        });
        self.with(|c| {
            c.rate = quota.map(|quota| {
                Arc::new(PayerLimit {
                    limiter: governor::RateLimiter::keyed(quota),
                    checks: std::sync::atomic::AtomicU32::new(0),
                })
            });
        })
    }

    /// The challenge this paywall answers with (at its base price).
    pub fn challenge(&self) -> &Challenge {
        &self.config.challenge
    }

    fn is_free(&self, path: &str) -> bool {
        self.config
            .free_paths
            .iter()
            .any(|free| path == free || (free.ends_with('/') && path.starts_with(free.as_str())))
    }

    /// Prices `request` and reads its package, refusing a missing, malformed or unbound one.
    fn admission(&self, request: Request<Body>) -> Admission {
        let (parts, body) = request.into_parts();
        let price = if self.is_free(parts.uri.path()) {
            None
        } else {
            (self.config.price)(&parts)
        };
        let Some(price) = price else {
            return Admission::Free(Request::from_parts(parts, body));
        };
        let challenge = Challenge {
            price,
            ..self.config.challenge.clone()
        };
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(credentials)
            .map(str::to_owned);
        let Some(presented) = presented else {
            return Admission::Refused(refusal(
                &challenge,
                PaymentError::PAYMENT_REQUIRED,
                format!("this call costs {price}: pay with Authorization: Paychan <package>"),
            ));
        };
        let refused = |why: String| refusal(&challenge, PaymentError::PACKAGE_REFUSED, why);
        let package = match PaymentPackage::parse(&presented) {
            Ok(package) => package,
            Err(e) => {
                return Admission::Refused(refused(paychan_node::NodeError::from(e).to_string()));
            }
        };
        let (method, path) = request_line(&parts);
        if self.config.bind_requests && package.message != Some(binding(&method, &path)) {
            return Admission::Refused(refused(format!(
                "the package does not pay for this request: its message must be {}",
                binding(&method, &path)
            )));
        }
        Admission::Paying(Box::new(Paying {
            parts,
            body,
            package,
            challenge,
            request: format!("{method} {path}"),
        }))
    }

    /// The receipt of `verified`, signed if the paywall has the key.
    fn receipt(&self, verified: &VerifiedPayment, request: String) -> Receipt {
        let mut receipt = Receipt {
            channel_id: verified.channel_id,
            payer: verified.payer,
            amount: verified.amount,
            cumulative: verified.cumulative,
            remaining: verified.remaining,
            request,
            signature: None,
            certificate: None,
        };
        match (&self.config.receipt_key, self.config.receipt_certificate) {
            (Some(key), Some(certificate)) => receipt.sign_as_front(key, certificate),
            (Some(key), None) => receipt.sign(key),
            (None, _) => {}
        }
        receipt
    }

    /// What the paywall does with a request before the inner service, recording the payment
    /// first (pay-per-time streams): `Ok` with the request to serve (and the receipt to
    /// attach), or the answer that refuses it.
    pub(crate) async fn admit(
        &self,
        request: Request<Body>,
    ) -> Result<(Request<Body>, Option<Receipt>), Response> {
        let Paying {
            mut parts,
            body,
            package,
            challenge,
            request,
        } = match self.admission(request) {
            Admission::Free(request) => return Ok((request, None)),
            Admission::Refused(answer) => return Err(answer),
            Admission::Paying(paying) => *paying,
        };
        let verified = self
            .config
            .verifier
            .verify(&package, challenge.price)
            .await
            .map_err(|e| verify_refusal(&challenge, e))?;
        tracing::debug!(channel = %verified.channel_id, amount = verified.amount, %request, "paid call");
        let receipt = self.receipt(&verified, request);
        parts.headers.remove(header::AUTHORIZATION);
        parts.extensions.insert::<VerifiedPayment>(verified);
        Ok((Request::from_parts(parts, body), Some(receipt)))
    }

    /// Serves `request` through `inner`, charging only for a served call (see the
    /// [module docs](self#charged-only-for-a-served-call)).
    async fn serve<S>(&self, inner: &mut S, request: Request<Body>) -> Result<Response, Infallible>
    where
        S: Service<Request<Body>, Response = Response, Error = Infallible>,
    {
        let Paying {
            mut parts,
            body,
            package,
            challenge,
            request,
        } = match self.admission(request) {
            Admission::Free(request) => {
                let mut response = inner.call(request).await?;
                response.extensions_mut().insert(CallOutcome::Free);
                return Ok(response);
            }
            Admission::Refused(answer) => return Ok(answer),
            Admission::Paying(paying) => *paying,
        };
        let verifier = &self.config.verifier;
        let price = challenge.price;
        let payer = package.voucher.payer;
        let _turn = self.config.turns.turn(package.voucher.channel_id).await;
        let checked = match verifier.check(&package, price).await {
            Ok(checked) => checked,
            Err(e) => return Ok(with_payer(verify_refusal(&challenge, e), payer)),
        };
        if let Some(rate) = &self.config.rate
            && let Err(wait) = rate.check(checked.payer)
        {
            let secs = wait.as_secs().saturating_add(1);
            let mut answer = refusal(
                &challenge,
                PaymentError::RATE_LIMITED,
                format!(
                    "{} made too many calls: try again in {secs} s (the package was not recorded: take it back)",
                    checked.payer
                ),
            );
            answer
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            return Ok(with_payer(answer, payer));
        }
        parts.headers.remove(header::AUTHORIZATION);
        parts.extensions.insert::<VerifiedPayment>(checked);
        let mut response = inner.call(Request::from_parts(parts, body)).await?;
        let status = response.status();
        if status.is_server_error() {
            tracing::warn!(
                %request,
                %status,
                channel = %package.voucher.channel_id,
                "the service failed: the call is not charged (the package is not recorded)"
            );
            return Ok(with_payer(
                refusal(
                    &challenge,
                    PaymentError::SERVICE_FAILED,
                    format!(
                        "the service answered {status}: this call is not charged and the package \
                         was not recorded (take it back)"
                    ),
                ),
                payer,
            ));
        }
        let verified = match verifier.verify(&package, price).await {
            Ok(verified) => verified,
            Err(e) => {
                tracing::warn!(%request, error = %e, "served, but the payment was not recorded: the answer is withheld");
                return Ok(with_payer(verify_refusal(&challenge, e), payer));
            }
        };
        tracing::debug!(channel = %verified.channel_id, amount = verified.amount, %request, "paid call");
        response.extensions_mut().insert(CallOutcome::Paid {
            price,
            amount: verified.amount,
            payer: verified.payer,
            channel: verified.channel_id,
        });
        attach_receipt(&mut response, Some(&self.receipt(&verified, request)));
        Ok(response)
    }
}

/// The answer to a package the verifier refused or could not handle.
fn verify_refusal(challenge: &Challenge, e: VerifyError) -> Response {
    match e {
        VerifyError::Refused(why) => refusal(challenge, PaymentError::PACKAGE_REFUSED, why),
        VerifyError::Failed(why) => refusal(challenge, PaymentError::VERIFICATION_FAILED, why),
        VerifyError::Unknown(why) => refusal(challenge, PaymentError::VERIFICATION_UNKNOWN, why),
    }
}

/// Names the payer in the [`CallOutcome`] of a refusal.
fn with_payer(mut response: Response, who: paychan_core::Address) -> Response {
    if let Some(CallOutcome::Refused { payer, .. }) = response.extensions_mut().get_mut() {
        *payer = Some(who);
    }
    response
}

/// A `402` (`503` when the payee's node failed, `502` when the service did) with the
/// challenge, marked with its [`CallOutcome`].
pub(crate) fn refusal(challenge: &Challenge, error: &'static str, message: String) -> Response {
    let status = match error {
        PaymentError::VERIFICATION_FAILED | PaymentError::VERIFICATION_UNKNOWN => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        PaymentError::SERVICE_FAILED => StatusCode::BAD_GATEWAY,
        PaymentError::RATE_LIMITED => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::PAYMENT_REQUIRED,
    };
    let body = PaymentError {
        error: error.to_owned(),
        message,
        challenge: challenge.clone(),
    };
    let mut response = (status, axum::Json(body)).into_response();
    response.extensions_mut().insert(CallOutcome::Refused {
        price: challenge.price,
        code: error,
        payer: None,
    });
    if let Ok(value) = HeaderValue::from_str(&challenge.to_header()) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// Adds the `Payment-Receipt` header for `receipt`, if any.
pub(crate) fn attach_receipt(response: &mut Response, receipt: Option<&Receipt>) {
    if let Some(receipt) = receipt {
        match HeaderValue::from_str(&receipt.to_header()) {
            Ok(value) => {
                response.headers_mut().insert(RECEIPT_HEADER, value);
            }
            Err(_) => tracing::warn!(
                request = %receipt.request,
                "the receipt does not fit in a header value: sent without it"
            ),
        }
    }
}

impl<S> Layer<S> for Paywall {
    type Service = PaywallService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PaywallService {
            paywall: self.clone(),
            inner,
        }
    }
}

/// The service [`Paywall`] wraps around an inner service.
#[derive(Clone)]
pub struct PaywallService<S> {
    paywall: Paywall,
    inner: S,
}

impl<S> Service<Request<Body>> for PaywallService<S>
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
        // The clone that was driven to readiness serves this request (tower's rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let paywall = self.paywall.clone();
        Box::pin(async move { paywall.serve(&mut inner, request).await })
    }
}
