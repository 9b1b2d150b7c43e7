//! The paying client: a reqwest client that answers `402 Payment Required` by paying.
//!
//! On a `402` with a `Paychan` challenge, [`PayingClient`] checks the challenge (our ledger,
//! a price within `max_price`), reserves the price in the host's budget, takes one of the
//! host's channels (opening one on the ledger with `open_channel_on_ledger` on first
//! contact, up to `max_channels` per host), creates a package bound to the request
//! (`{"method", "path"}`) and sends the request again with it. Later calls to a path whose
//! price it knows are paid at once, without the `402` round trip.
//!
//! # Never paying twice
//!
//! A channel carries one paid request at a time, from signing the package until the answer's
//! head arrives (the payee verifies before it answers), so the payee receives each channel's
//! packages in order and never sees a later package overtake an earlier one; parallel
//! calls use parallel channels or wait for one. A package the payee refused without
//! recording it (`package_refused`, `verification_failed`, or `service_failed`: the service
//! behind the paywall failed and the call is not charged) is taken back, so the next
//! package does not pay for it. A package whose fate is unknown (the connection broke) stays
//! counted and the call fails: it is never sent again or replaced by a second payment.
//!
//! # Budget
//!
//! Each host (`scheme://host:port`) has a budget: the most the client pays it in total. A
//! call whose price no longer fits fails with [`HttpPayError::BudgetExhausted`] before
//! anything is signed. Channel deposits are the smaller of `deposit` and what is left of the
//! budget.

use std::{collections::HashMap, sync::Arc};

use async_trait::async_trait;
use http::{HeaderValue, StatusCode, header};
use paychan_core::{Address, Amount, ChannelId};
use paychan_node::{Node, NodeError, PaymentPackage};
use tokio::sync::{Mutex, Semaphore};

use crate::{
    header::{Challenge, PaymentError, RECEIPT_HEADER, Receipt, authorization},
    paywall::binding,
};

/// The side that pays: opens channels and signs packages. Implemented by [`Node`].
#[async_trait]
pub trait Payer: Send + Sync + 'static {
    /// Our ledger's chain id and adjudicator.
    fn ledger(&self) -> (u64, Address);
    /// Opens a channel with `payee` on the ledger, depositing `deposit`.
    async fn open_channel(&self, payee: Address, deposit: Amount) -> Result<ChannelId, NodeError>;
    /// What we may still spend on channel `id`.
    async fn available(&self, id: ChannelId) -> Result<Amount, NodeError>;
    /// Signs a package paying `amount` on `id` for `message` (counted as paid at once).
    async fn create_package(
        &self,
        id: ChannelId,
        amount: Amount,
        message: &serde_json::Value,
    ) -> Result<PaymentPackage, NodeError>;
    /// Takes back the latest package, which the payee refused without recording it.
    async fn cancel_package(&self, package: &PaymentPackage) -> Result<(), NodeError>;
}

#[async_trait]
impl Payer for Node {
    fn ledger(&self) -> (u64, Address) {
        let domain = self.domain();
        (domain.chain_id(), domain.verifying_contract())
    }

    async fn open_channel(&self, payee: Address, deposit: Amount) -> Result<ChannelId, NodeError> {
        self.open_channel_on_ledger(payee, deposit).await
    }

    async fn available(&self, id: ChannelId) -> Result<Amount, NodeError> {
        Ok(self.channel_info(id).await?.balances.my_available)
    }

    async fn create_package(
        &self,
        id: ChannelId,
        amount: Amount,
        message: &serde_json::Value,
    ) -> Result<PaymentPackage, NodeError> {
        self.create_payment_package(id, amount, Some(message)).await
    }

    async fn cancel_package(&self, package: &PaymentPackage) -> Result<(), NodeError> {
        self.cancel_payment_package(package).await
    }
}

/// Errors of a paid call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpPayError {
    /// The call's price does not fit in what is left of the host's budget; nothing was paid.
    #[error(
        "the budget for {host} is exhausted: {spent} of {budget} spent, the call costs {price}"
    )]
    BudgetExhausted {
        /// The host.
        host: String,
        /// Its budget.
        budget: Amount,
        /// What was paid to it so far.
        spent: Amount,
        /// The price asked.
        price: Amount,
    },
    /// The price is above the most the client pays for one call; nothing was paid.
    #[error("{host} asks {price} for one call, more than the {max} allowed")]
    TooExpensive {
        /// The host.
        host: String,
        /// The price asked.
        price: Amount,
        /// The client's maximum.
        max: Amount,
    },
    /// The challenge is malformed, for another ledger, or for another payee than before.
    #[error("bad challenge from {host}: {why}")]
    BadChallenge {
        /// The host.
        host: String,
        /// What is wrong.
        why: String,
    },
    /// The payee refused the package and recorded nothing; it was taken back.
    #[error("the payee refused the payment ({code}): {message}")]
    Refused {
        /// The payee's code (`package_refused`, `verification_failed`, …).
        code: String,
        /// The payee's explanation.
        message: String,
    },
    /// The call was paid but its outcome is unknown (the connection broke, or the payee
    /// could not tell whether it recorded the package). The payment stays counted.
    #[error("paid {amount}, but the call's outcome is unknown: {why}")]
    OutcomeUnknown {
        /// What was paid.
        amount: Amount,
        /// What happened.
        why: String,
    },
    /// The request could not be sent (nothing was paid for it).
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    /// The request's body is a stream and cannot be sent again with a payment.
    #[error("the request cannot be repeated with a payment (streaming body)")]
    NotRepeatable,
    /// The answer is not a pay-per-time stream (no or bad `Payment-Stream` terms); what its
    /// opening cost stays paid.
    #[error("{url} is not a paid stream: {why}")]
    NotAStream {
        /// The URL.
        url: String,
        /// What is wrong.
        why: String,
    },
    /// Our node failed to open a channel or sign a package (nothing was paid).
    #[error("our node: {0}")]
    Node(#[from] NodeError),
}

/// The client's limits.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The most paid to one host in total.
    pub budget_per_host: Amount,
    /// The deposit of each new channel (capped by what is left of the budget).
    pub deposit: Amount,
    /// The most one call may cost.
    pub max_price: Amount,
    /// Channels per host: how many paid calls to one host may be in flight at once.
    pub max_channels: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            budget_per_host: 10_000,
            deposit: 1_000,
            max_price: 100,
            max_channels: 4,
        }
    }
}

/// A channel to a host, idle.
#[derive(Clone, Copy, Debug)]
struct Lane {
    id: ChannelId,
    available: Amount,
}

#[derive(Default)]
struct HostState {
    payee: Option<Address>,
    spent: Amount,
    idle: Vec<Lane>,
    opened: usize,
    /// The challenge last seen per `METHOD path`: such calls are paid at once.
    prices: HashMap<(String, String), Challenge>,
}

struct Host {
    state: Mutex<HostState>,
    lanes: Semaphore,
}

/// What a paid call returns.
#[derive(Debug)]
pub struct PaidResponse {
    /// The answer.
    pub response: reqwest::Response,
    /// What this call paid (0 if it was free).
    pub paid: Amount,
    /// The payee's receipt, if it sent one that reads.
    pub receipt: Option<Receipt>,
    /// Why the payee's `Payment-Receipt` header could not be read, if it sent one that does
    /// not (also logged as a warning): the call was paid and served all the same.
    pub receipt_error: Option<String>,
}

/// The paying client (see the [module docs](self)). Cheap to clone.
#[derive(Clone)]
pub struct PayingClient {
    http: reqwest::Client,
    payer: Arc<dyn Payer>,
    config: ClientConfig,
    hosts: Arc<std::sync::Mutex<HashMap<String, Arc<Host>>>>,
}

impl PayingClient {
    /// A client paying with `payer` within `config`.
    pub fn new(http: reqwest::Client, payer: Arc<dyn Payer>, config: ClientConfig) -> Self {
        PayingClient {
            http,
            payer,
            config,
            hosts: Arc::default(),
        }
    }

    /// The underlying reqwest client, to build requests.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// What was paid to `host` (`scheme://host:port`) so far.
    pub async fn spent(&self, host: &str) -> Amount {
        match self.host(host) {
            Some(h) => h.state.lock().await.spent,
            None => 0,
        }
    }

    /// The channels opened to `host`.
    pub async fn channels(&self, host: &str) -> usize {
        match self.host(host) {
            Some(h) => h.state.lock().await.opened,
            None => 0,
        }
    }

    /// The challenge last paid for `METHOD path` on `host`, if any.
    pub(crate) async fn known_price(
        &self,
        host: &str,
        method: &str,
        path: &str,
    ) -> Option<Challenge> {
        let host = self.host(host)?;
        let state = host.state.lock().await;
        state
            .prices
            .get(&(method.to_owned(), path.to_owned()))
            .cloned()
    }

    /// Pays `METHOD path` on `host` at once with `challenge`, without a `402` round trip.
    pub(crate) async fn remember_price(
        &self,
        host: &str,
        method: &str,
        path: &str,
        challenge: Challenge,
    ) {
        let host = self.host_entry(host);
        let mut state = host.state.lock().await;
        state
            .prices
            .insert((method.to_owned(), path.to_owned()), challenge);
    }

    /// Forgets the price of `METHOD path` on `host` (a path that is gone).
    pub(crate) async fn forget_price(&self, host: &str, method: &str, path: &str) {
        if let Some(host) = self.host(host) {
            let mut state = host.state.lock().await;
            state.prices.remove(&(method.to_owned(), path.to_owned()));
        }
    }

    fn host(&self, key: &str) -> Option<Arc<Host>> {
        self.hosts.lock().ok()?.get(key).cloned()
    }

    fn host_entry(&self, key: &str) -> Arc<Host> {
        let mut hosts = match self.hosts.lock() {
            Ok(hosts) => hosts,
            Err(poisoned) => poisoned.into_inner(),
        };
        hosts
            .entry(key.to_owned())
            .or_insert_with(|| {
                Arc::new(Host {
                    state: Mutex::new(HostState::default()),
                    lanes: Semaphore::new(self.config.max_channels.max(1)),
                })
            })
            .clone()
    }

    /// `GET url`, paying if asked.
    pub async fn get(&self, url: &str) -> Result<PaidResponse, HttpPayError> {
        self.execute(self.http.get(url).build()?).await
    }

    /// Sends `request`, paying if the server asks for payment.
    pub async fn execute(&self, request: reqwest::Request) -> Result<PaidResponse, HttpPayError> {
        let url = request.url();
        let key = host_key(url);
        let method = request.method().as_str().to_owned();
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let host = self.host_entry(&key);
        let known = host
            .state
            .lock()
            .await
            .prices
            .get(&(method.clone(), path.clone()))
            .cloned();
        let mut challenge = match known {
            Some(challenge) => challenge,
            None => {
                let first = request.try_clone().ok_or(HttpPayError::NotRepeatable)?;
                let response = self.http.execute(first).await?;
                if response.status() != StatusCode::PAYMENT_REQUIRED {
                    return Ok(PaidResponse {
                        response,
                        paid: 0,
                        receipt: None,
                        receipt_error: None,
                    });
                }
                self.challenge_of(&key, &response)?
            }
        };
        // At most one retry: after a refusal whose answer names a new price.
        let mut attempts: u8 = 0;
        loop {
            attempts = attempts.saturating_add(1);
            let paid = request.try_clone().ok_or(HttpPayError::NotRepeatable)?;
            match self
                .pay_and_send(&key, &host, &challenge, paid, &method, &path)
                .await?
            {
                Ok(done) => return Ok(done),
                Err(next) if attempts < 2 && next != challenge => challenge = next,
                Err(_) => {
                    return Err(HttpPayError::Refused {
                        code: PaymentError::PACKAGE_REFUSED.into(),
                        message: "refused again after paying the price asked".into(),
                    });
                }
            }
        }
    }

    fn challenge_of(
        &self,
        key: &str,
        response: &reqwest::Response,
    ) -> Result<Challenge, HttpPayError> {
        let bad = |why: String| HttpPayError::BadChallenge {
            host: key.to_owned(),
            why,
        };
        let header = response
            .headers()
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| Challenge::parse(v).ok())
            .ok_or_else(|| bad("a 402 without a Paychan challenge".into()))?;
        if (header.chain_id, header.contract) != self.payer.ledger() {
            return Err(bad(format!(
                "the payee is on ledger {}/{}, not ours",
                header.chain_id, header.contract
            )));
        }
        if header.price > self.config.max_price {
            return Err(HttpPayError::TooExpensive {
                host: key.to_owned(),
                price: header.price,
                max: self.config.max_price,
            });
        }
        Ok(header)
    }

    /// Pays `challenge` and sends `request` with the package. `Ok(Err(challenge))`: the
    /// payee refused the package and recorded nothing (it was taken back); it asks
    /// `challenge` now.
    async fn pay_and_send(
        &self,
        key: &str,
        host: &Host,
        challenge: &Challenge,
        mut request: reqwest::Request,
        method: &str,
        path: &str,
    ) -> Result<Result<PaidResponse, Challenge>, HttpPayError> {
        let price = challenge.price;
        let _lane_permit = host
            .lanes
            .acquire()
            .await
            .map_err(|_| HttpPayError::BadChallenge {
                host: key.to_owned(),
                why: "the client is shutting down".into(),
            })?;
        let lane = self.reserve(key, host, challenge).await?;
        let package = match self
            .payer
            .create_package(lane.id, price, &binding(method, path))
            .await
        {
            Ok(package) => package,
            Err(e) => {
                self.release(host, lane, price, false).await;
                return Err(e.into());
            }
        };
        let value = HeaderValue::from_str(&authorization(&package.to_compact()));
        let Ok(value) = value else {
            // A base64url string is always a valid header value; if not, take it back.
            let _ = self.payer.cancel_package(&package).await;
            self.release(host, lane, price, false).await;
            return Err(HttpPayError::BadChallenge {
                host: key.to_owned(),
                why: "the package does not fit in a header".into(),
            });
        };
        request.headers_mut().insert(header::AUTHORIZATION, value);
        let response = match self.http.execute(request).await {
            Ok(response) => response,
            Err(e) if e.is_connect() => {
                // Never reached the payee: take it back.
                let cancelled = self.payer.cancel_package(&package).await.is_ok();
                self.release(host, lane, price, !cancelled).await;
                return Err(e.into());
            }
            Err(e) => {
                self.release(host, lane, price, true).await;
                return Err(HttpPayError::OutcomeUnknown {
                    amount: price,
                    why: e.to_string(),
                });
            }
        };
        let status = response.status();
        // 502: the service behind the paywall failed (`service_failed`, not charged); 429:
        // over the payer's rate limit (`rate_limited`, not recorded).
        if status == StatusCode::PAYMENT_REQUIRED
            || status == StatusCode::SERVICE_UNAVAILABLE
            || status == StatusCode::BAD_GATEWAY
            || status == StatusCode::TOO_MANY_REQUESTS
        {
            let next = self.challenge_of(key, &response).ok();
            let body: Option<PaymentError> = match response.bytes().await {
                Ok(bytes) => serde_json::from_slice(&bytes).ok(),
                Err(_) => None,
            };
            match body {
                Some(refusal) if refusal.nothing_recorded() => {
                    let cancelled = self.payer.cancel_package(&package).await.is_ok();
                    self.release(host, lane, price, !cancelled).await;
                    let mut state = host.state.lock().await;
                    state.prices.remove(&(method.to_owned(), path.to_owned()));
                    drop(state);
                    return match next {
                        Some(next) if next.price != price => Ok(Err(next)),
                        _ => Err(HttpPayError::Refused {
                            code: refusal.error,
                            message: refusal.message,
                        }),
                    };
                }
                other => {
                    self.release(host, lane, price, true).await;
                    return Err(HttpPayError::OutcomeUnknown {
                        amount: price,
                        why: other.map_or_else(
                            || format!("the payee answered {status}"),
                            |r| format!("{}: {}", r.error, r.message),
                        ),
                    });
                }
            }
        }
        self.release(host, lane, price, true).await;
        host.state
            .lock()
            .await
            .prices
            .insert((method.to_owned(), path.to_owned()), challenge.clone());
        let (receipt, receipt_error) = match read_receipt(response.headers()) {
            Ok(receipt) => (receipt, None),
            Err(why) => {
                tracing::warn!(%key, %method, %path, error = %why, "unreadable payment receipt");
                (None, Some(why))
            }
        };
        Ok(Ok(PaidResponse {
            response,
            paid: price,
            receipt,
            receipt_error,
        }))
    }

    /// Reserves `challenge.price` in the host's budget and takes a channel with enough
    /// left, opening one if needed.
    async fn reserve(
        &self,
        key: &str,
        host: &Host,
        challenge: &Challenge,
    ) -> Result<Lane, HttpPayError> {
        let price = challenge.price;
        let mut state = host.state.lock().await;
        match state.payee {
            Some(payee) if payee != challenge.payee => {
                return Err(HttpPayError::BadChallenge {
                    host: key.to_owned(),
                    why: format!("the payee changed from {payee} to {}", challenge.payee),
                });
            }
            _ => state.payee = Some(challenge.payee),
        }
        let budget = self.config.budget_per_host;
        let spent = state.spent;
        let left = budget.saturating_sub(spent);
        if price > left {
            return Err(HttpPayError::BudgetExhausted {
                host: key.to_owned(),
                budget,
                spent,
                price,
            });
        }
        state.spent = spent.saturating_add(price);
        if let Some(at) = state.idle.iter().position(|l| l.available >= price) {
            return Ok(state.idle.swap_remove(at));
        }
        // A new channel: deposit what the budget still allows.
        let deposit = self.config.deposit.min(left).max(price);
        state.opened = state.opened.saturating_add(1);
        drop(state);
        match self.payer.open_channel(challenge.payee, deposit).await {
            Ok(id) => {
                tracing::info!(%key, channel = %id, deposit, "opened a channel to pay");
                Ok(Lane {
                    id,
                    available: deposit,
                })
            }
            Err(e) => {
                let mut state = host.state.lock().await;
                state.opened = state.opened.saturating_sub(1);
                state.spent = state.spent.saturating_sub(price);
                Err(e.into())
            }
        }
    }

    /// Returns a channel to the idle ones; `paid` says whether the price stays spent.
    async fn release(&self, host: &Host, mut lane: Lane, price: Amount, paid: bool) {
        let mut state = host.state.lock().await;
        if paid {
            lane.available = lane.available.saturating_sub(price);
        } else {
            state.spent = state.spent.saturating_sub(price);
        }
        if let Ok(available) = self.payer.available(lane.id).await {
            lane.available = available;
        }
        state.idle.push(lane);
    }
}

/// The `Payment-Receipt` of an answer: `None` if there is none, an error if there is one
/// that does not read.
pub fn read_receipt(headers: &http::HeaderMap) -> Result<Option<Receipt>, String> {
    let Some(value) = headers.get(RECEIPT_HEADER) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| "the Payment-Receipt header is not visible ASCII".to_owned())?;
    Receipt::parse(text)
        .map(Some)
        .map_err(|why| format!("the Payment-Receipt header does not read: {why}"))
}

/// `scheme://host:port` of a URL.
pub fn host_key(url: &reqwest::Url) -> String {
    format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or_default()
    )
}
