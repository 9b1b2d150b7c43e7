//! The paywall: a tower layer for axum that charges per call.
//!
//! For each request the [`Paywall`] asks its price function for a price (`None`: free).
//! Without `Authorization: Paychan <package>` it answers `402 Payment Required` with the
//! challenge (header and JSON body). With a package it checks, before anything is recorded,
//! that the package is bound to this request (its message is `{"method", "path"}` of the
//! request, unless binding is turned off), then has the [`Verifier`] verify and record it
//! against the price; only then does the inner service run, with the [`VerifiedPayment`] in
//! the request's extensions, and the answer gets a `Payment-Receipt` header. A refused
//! package is answered `402` with `package_refused` and changes nothing.
//!
//! The payment is taken before the call is served: a service that then fails has been paid,
//! as with any prepaid API. The `Authorization` header is removed before the inner service
//! sees it, so a proxied upstream never gets the package.

use std::{
    convert::Infallible,
    sync::Arc,
    task::{Context, Poll},
};

use axum::{
    body::Body,
    response::{IntoResponse, Response},
};
use futures::future::BoxFuture;
use http::{HeaderValue, Request, StatusCode, header, request::Parts};
use paychan_core::{Amount, SigningKey};
use paychan_node::{PaymentPackage, VerifiedPayment};
use serde_json::Value;
use tower::{Layer, Service};

use crate::{
    header::{Challenge, PaymentError, RECEIPT_HEADER, Receipt, credentials},
    verifier::{Verifier, VerifyError},
};

/// The price of a request: `None` lets it through for free.
pub type PriceFn = dyn Fn(&Parts) -> Option<Amount> + Send + Sync;

/// The request a package must be bound to: `{"method": "GET", "path": "/a?b"}`, the message
/// a paying client puts in its package.
pub fn binding(method: &str, path_and_query: &str) -> Value {
    serde_json::json!({ "method": method, "path": path_and_query })
}

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
        self.with(|c| c.receipt_key = Some(key))
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

    /// What the paywall does with a request before the inner service: `Ok` with the
    /// request to serve (and the receipt to attach), or the answer that refuses it.
    pub(crate) async fn admit(
        &self,
        request: Request<Body>,
    ) -> Result<(Request<Body>, Option<Receipt>), Response> {
        let (mut parts, body) = request.into_parts();
        let price = if self.is_free(parts.uri.path()) {
            None
        } else {
            (self.config.price)(&parts)
        };
        let Some(price) = price else {
            return Ok((Request::from_parts(parts, body), None));
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
            return Err(refusal(
                &challenge,
                PaymentError::PAYMENT_REQUIRED,
                format!("this call costs {price}: pay with Authorization: Paychan <package>"),
            ));
        };
        let refused = |why: String| refusal(&challenge, PaymentError::PACKAGE_REFUSED, why);
        let package = PaymentPackage::parse(&presented)
            .map_err(|e| refused(paychan_node::NodeError::from(e).to_string()))?;
        let (method, path) = request_line(&parts);
        if self.config.bind_requests && package.message != Some(binding(&method, &path)) {
            return Err(refused(format!(
                "the package does not pay for this request: its message must be {}",
                binding(&method, &path)
            )));
        }
        let verified = self
            .config
            .verifier
            .verify(&package, price)
            .await
            .map_err(|e| match e {
                VerifyError::Refused(why) => refused(why),
                VerifyError::Failed(why) => {
                    refusal(&challenge, PaymentError::VERIFICATION_FAILED, why)
                }
                VerifyError::Unknown(why) => {
                    refusal(&challenge, PaymentError::VERIFICATION_UNKNOWN, why)
                }
            })?;
        tracing::debug!(channel = %verified.channel_id, amount = verified.amount, %path, "paid call");
        let mut receipt = Receipt {
            channel_id: verified.channel_id,
            payer: verified.payer,
            amount: verified.amount,
            cumulative: verified.cumulative,
            remaining: verified.remaining,
            request: format!("{method} {path}"),
            signature: None,
        };
        if let Some(key) = &self.config.receipt_key {
            receipt.sign(key);
        }
        parts.headers.remove(header::AUTHORIZATION);
        parts.extensions.insert::<VerifiedPayment>(verified);
        Ok((Request::from_parts(parts, body), Some(receipt)))
    }
}

/// A `402` (or `503` when the payee's node failed) with the challenge.
pub(crate) fn refusal(challenge: &Challenge, error: &str, message: String) -> Response {
    let status = match error {
        PaymentError::VERIFICATION_FAILED | PaymentError::VERIFICATION_UNKNOWN => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::PAYMENT_REQUIRED,
    };
    let body = PaymentError {
        error: error.to_owned(),
        message,
        challenge: challenge.clone(),
    };
    let mut response = (status, axum::Json(body)).into_response();
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
        Box::pin(async move {
            let (request, receipt) = match paywall.admit(request).await {
                Ok(admitted) => admitted,
                Err(refused) => return Ok(refused),
            };
            let mut response = inner.call(request).await?;
            attach_receipt(&mut response, receipt.as_ref());
            Ok(response)
        })
    }
}
