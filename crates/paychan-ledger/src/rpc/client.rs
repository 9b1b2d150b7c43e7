//! The client of a served ledger: the `Ledger` traits over JSON-RPC.
//!
//! [`RpcReader`] reads (queries, events, the development faucet and clock); [`RpcLedger`] adds
//! the account of one [`SigningKey`] and signs every state-changing operation as a
//! [`SignedRequest`]. Requests go over HTTP; [`LedgerEvents::events`] opens a WebSocket to the
//! same host and port for each stream.
//!
//! Errors: a refusal by the server is rebuilt as the exact [`LedgerError`] it sent; anything
//! else (connection refused or lost, timeout, an answer that does not parse) is
//! [`LedgerError::Unavailable`], since nothing then proves that the call changed nothing.
//!
//! Nonces: the ledger accepts a request only with a nonce above the last one it accepted from
//! the account. A handle fetches that nonce when it connects and then counts locally; its
//! clones share the counter and send one request at a time, so they never reuse a nonce.
//! Another process using the same account can still take a nonce first: the ledger then
//! refuses the request as a replay, which changes nothing, so the handle re-reads the nonce
//! from the ledger and signs again (a bounded number of times, with a random pause).

use std::{
    hash::{BuildHasher, RandomState},
    sync::Arc,
    time::Duration,
};

use async_trait::async_trait;
use jsonrpsee::{
    core::{
        ClientError,
        client::{ClientT, SubscriptionClientT, SubscriptionCloseReason},
        params::ArrayParams,
        traits::ToRpcParams,
    },
    http_client::{HttpClient, HttpClientBuilder},
    ws_client::{PingConfig, WsClient, WsClientBuilder},
};
use paychan_core::{
    Address, Amount, ChannelId, ChannelParams, Domain, Role, Settlement, SignedVoucher, SigningKey,
    Withdrawal, adjudicator::ChannelRecord, channel::CoSigned,
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::value::RawValue;
use tokio::sync::Mutex;

use super::{
    AdvanceParams, BalanceParams, ChannelQuery, EventsParams, FaucetParams, NonceParams,
    SubmitParams, SubscribeParams, ledger_error, method,
};
use crate::{
    api::{
        EventRecord, EventStream, LedgerClose, LedgerError, LedgerEvents, LedgerFunding,
        LedgerQuery, LedgerWithdraw, Operation, Receipt,
    },
    request::SignedRequest,
};

/// How long one call may take before it is `Unavailable`.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How many times a request refused for its nonce is signed again with a fresh one.
const NONCE_RETRIES: u32 = 16;

/// Events the client buffers per subscription before it gives up on a slow reader.
const SUBSCRIPTION_BUFFER: usize = 4096;

/// Named parameters: serialized as one JSON object.
struct Named<T>(T);

impl<T: Serialize> ToRpcParams for Named<T> {
    fn to_rpc_params(self) -> Result<Option<Box<RawValue>>, serde_json::Error> {
        serde_json::value::to_raw_value(&self.0).map(Some)
    }
}

/// The HTTP and WebSocket URLs of a ledger given either.
fn urls(url: &str) -> Result<(String, String), LedgerError> {
    let url = url.trim().trim_end_matches('/');
    let (secure, rest) = if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("ws://") {
        (false, rest)
    } else if let Some(rest) = url.strip_prefix("wss://") {
        (true, rest)
    } else {
        return Err(LedgerError::Invalid(format!(
            "the ledger URL must start with http:// or https:// (got {url:?})"
        )));
    };
    if rest.is_empty() {
        return Err(LedgerError::Invalid(format!(
            "the ledger URL has no host (got {url:?})"
        )));
    }
    Ok(if secure {
        (format!("https://{rest}"), format!("wss://{rest}"))
    } else {
        (format!("http://{rest}"), format!("ws://{rest}"))
    })
}

/// A read-only handle on a served ledger. Cheap to clone: clones share the connection pool.
#[derive(Clone, Debug)]
pub struct RpcReader {
    inner: Arc<ReaderInner>,
}

#[derive(Debug)]
struct ReaderInner {
    http: HttpClient,
    url: String,
    ws_url: String,
    domain: Domain,
}

impl RpcReader {
    /// Connects to the ledger served at `url` (`http://host:port`) and reads its domain.
    /// `Invalid` for a malformed URL, `Unavailable` if the ledger cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, LedgerError> {
        let (url, ws_url) = urls(url)?;
        let http = HttpClientBuilder::default()
            .request_timeout(REQUEST_TIMEOUT)
            .build(&url)
            .map_err(|e| LedgerError::Invalid(format!("bad ledger URL {url}: {e}")))?;
        let domain = call(&http, &url, method::DOMAIN, ArrayParams::new()).await?;
        Ok(RpcReader {
            inner: Arc::new(ReaderInner {
                http,
                url,
                ws_url,
                domain,
            }),
        })
    }

    /// The ledger's `http://` URL.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The ledger's `ws://` URL (same host and port).
    pub fn ws_url(&self) -> &str {
        &self.inner.ws_url
    }

    async fn call<R: DeserializeOwned, P: Serialize + Send>(
        &self,
        method: &str,
        params: P,
    ) -> Result<R, LedgerError> {
        call(&self.inner.http, &self.inner.url, method, Named(params)).await
    }

    /// The last nonce the ledger accepted from `account` (0 if none).
    pub async fn nonce(&self, account: Address) -> Result<u64, LedgerError> {
        self.call(method::NONCE, NonceParams { account }).await
    }

    /// Submits a request signed elsewhere (`ledger_submit`).
    pub async fn submit(&self, request: &SignedRequest) -> Result<Receipt, LedgerError> {
        self.call(
            method::SUBMIT,
            SubmitParams {
                request: request.clone(),
            },
        )
        .await
    }

    /// Creates `amount` of `asset` for `owner` (development ledgers served with the faucet);
    /// returns `owner`'s balance of `asset` after it.
    pub async fn faucet(
        &self,
        owner: Address,
        asset: Address,
        amount: Amount,
    ) -> Result<Amount, LedgerError> {
        self.call(
            method::FAUCET,
            FaucetParams {
                owner,
                asset,
                amount,
            },
        )
        .await
    }

    /// Moves the ledger's clock forward by `secs` (development ledgers with a manual clock);
    /// returns the ledger time after it.
    pub async fn advance_time(&self, secs: u64) -> Result<u64, LedgerError> {
        self.call(method::ADVANCE_TIME, AdvanceParams { secs })
            .await
    }

    /// At most `limit` recorded events from cursor `from` (HTTP polling; the server returns
    /// at most 1000 per call). Empty when `from` is past the last event.
    pub async fn events_page(
        &self,
        from: u64,
        limit: u64,
    ) -> Result<Vec<EventRecord>, LedgerError> {
        self.call(
            method::EVENTS,
            EventsParams {
                from,
                limit: Some(limit),
            },
        )
        .await
    }
}

async fn call<R: DeserializeOwned, P: ToRpcParams + Send>(
    http: &HttpClient,
    url: &str,
    method: &str,
    params: P,
) -> Result<R, LedgerError> {
    http.request(method, params)
        .await
        .map_err(|e| client_error(url, method, e))
}

fn client_error(url: &str, method: &str, error: ClientError) -> LedgerError {
    match error {
        ClientError::Call(object) => ledger_error(&object),
        other => LedgerError::Unavailable(format!("{method} at {url}: {other}")),
    }
}

/// The state of one event stream: the WebSocket client lives as long as the stream.
struct Subscribed {
    _client: WsClient,
    subscription: jsonrpsee::core::client::Subscription<EventRecord>,
    url: String,
    next: u64,
    done: bool,
}

impl Subscribed {
    async fn next(&mut self) -> Option<Result<EventRecord, LedgerError>> {
        if self.done {
            return None;
        }
        loop {
            let item = self.subscription.next().await;
            let failure = match item {
                Some(Ok(record)) if record.cursor < self.next => continue,
                Some(Ok(record)) if record.cursor == self.next => {
                    self.next = self.next.saturating_add(1);
                    return Some(Ok(record));
                }
                Some(Ok(record)) => format!(
                    "the ledger at {} skipped from cursor {} to {}",
                    self.url, self.next, record.cursor
                ),
                Some(Err(e)) => format!(
                    "cannot decode the event at cursor {} from {}: {e}",
                    self.next, self.url
                ),
                None => {
                    let why = match self.subscription.close_reason() {
                        Some(SubscriptionCloseReason::Lagged) => "the reader fell too far behind",
                        _ => "the connection was lost or closed by the ledger",
                    };
                    format!(
                        "event stream from {} ended before cursor {}: {why}",
                        self.url, self.next
                    )
                }
            };
            self.done = true;
            return Some(Err(LedgerError::Unavailable(failure)));
        }
    }
}

#[async_trait]
impl LedgerQuery for RpcReader {
    async fn domain(&self) -> Result<Domain, LedgerError> {
        Ok(self.inner.domain)
    }

    async fn now(&self) -> Result<u64, LedgerError> {
        call(
            &self.inner.http,
            &self.inner.url,
            method::NOW,
            ArrayParams::new(),
        )
        .await
    }

    async fn balance(&self, owner: Address, asset: Address) -> Result<Amount, LedgerError> {
        self.call(method::BALANCE, BalanceParams { owner, asset })
            .await
    }

    async fn channel(&self, id: ChannelId) -> Result<Option<ChannelRecord>, LedgerError> {
        self.call(method::CHANNEL, ChannelQuery { channel_id: id })
            .await
    }
}

#[async_trait]
impl LedgerEvents for RpcReader {
    /// Opens a WebSocket subscription from `from`. If the socket drops (or the reader falls
    /// more than a few thousand events behind what the ledger sends), the stream yields one
    /// `Unavailable` error and ends; call again with the next cursor to resume.
    async fn events(&self, from: u64) -> Result<EventStream, LedgerError> {
        let url = self.inner.ws_url.clone();
        let client = WsClientBuilder::default()
            .request_timeout(REQUEST_TIMEOUT)
            .max_buffer_capacity_per_subscription(SUBSCRIPTION_BUFFER)
            .enable_ws_ping(PingConfig::new())
            .build(&url)
            .await
            .map_err(|e| client_error(&url, method::SUBSCRIBE_EVENTS, e))?;
        let subscription = client
            .subscribe(
                method::SUBSCRIBE_EVENTS,
                Named(SubscribeParams { from }),
                method::UNSUBSCRIBE_EVENTS,
            )
            .await
            .map_err(|e| client_error(&url, method::SUBSCRIBE_EVENTS, e))?;
        let state = Subscribed {
            _client: client,
            subscription,
            url,
            next: from,
            done: false,
        };
        Ok(Box::pin(futures::stream::unfold(
            state,
            |mut state| async move { state.next().await.map(|item| (item, state)) },
        )))
    }
}

/// A full ledger handle on a served ledger, acting for one key's account. Cheap to clone:
/// clones share the connection pool and the nonce counter.
#[derive(Clone, Debug)]
pub struct RpcLedger {
    reader: RpcReader,
    key: SigningKey,
    /// The last nonce this handle used (or the ledger accepted, when re-read).
    nonce: Arc<Mutex<u64>>,
}

impl RpcLedger {
    /// Connects to the ledger served at `url` (`http://host:port`) acting for `key`'s
    /// account, and reads the account's nonce.
    pub async fn connect(url: &str, key: SigningKey) -> Result<Self, LedgerError> {
        let reader = RpcReader::connect(url).await?;
        let nonce = reader.nonce(key.address()).await?;
        Ok(RpcLedger {
            reader,
            key,
            nonce: Arc::new(Mutex::new(nonce)),
        })
    }

    /// A read-only handle on the ledger served at `url`.
    pub async fn reader(url: &str) -> Result<RpcReader, LedgerError> {
        RpcReader::connect(url).await
    }

    /// The read-only half of this handle.
    pub fn as_reader(&self) -> &RpcReader {
        &self.reader
    }

    /// Signs `op` with the next nonce and submits it; on a nonce refusal (another user of the
    /// account took the nonce first, nothing changed) re-reads the nonce and signs again.
    async fn run(&self, op: Operation) -> Result<Receipt, LedgerError> {
        let account = self.key.address();
        let domain = self.reader.inner.domain;
        let mut last = self.nonce.lock().await;
        let mut attempt: u32 = 0;
        loop {
            let nonce = last
                .checked_add(1)
                .ok_or_else(|| LedgerError::Invalid("the account's nonces are used up".into()))?;
            let request = SignedRequest::sign(&domain, &self.key, nonce, op.clone())?;
            // Used from now on, whatever happens: a lost answer may hide an accepted request.
            *last = nonce;
            let refusal = match self.reader.submit(&request).await {
                Err(LedgerError::Unauthorized(why)) if attempt < NONCE_RETRIES => why,
                other => return other,
            };
            // Was it the nonce? Then the ledger has accepted at least this one from someone.
            match self.reader.nonce(account).await {
                Ok(accepted) if accepted >= nonce => *last = accepted,
                _ => return Err(LedgerError::Unauthorized(refusal)),
            }
            attempt = attempt.saturating_add(1);
            tracing::debug!(%account, nonce, attempt, "nonce taken by another client; signing again");
            let jitter = RandomState::new()
                .hash_one(attempt)
                .checked_rem(u64::from(attempt.saturating_mul(5)))
                .unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(jitter.saturating_add(1))).await;
        }
    }
}

#[async_trait]
impl LedgerQuery for RpcLedger {
    async fn domain(&self) -> Result<Domain, LedgerError> {
        self.reader.domain().await
    }
    async fn now(&self) -> Result<u64, LedgerError> {
        self.reader.now().await
    }
    async fn balance(&self, owner: Address, asset: Address) -> Result<Amount, LedgerError> {
        self.reader.balance(owner, asset).await
    }
    async fn channel(&self, id: ChannelId) -> Result<Option<ChannelRecord>, LedgerError> {
        self.reader.channel(id).await
    }
}

#[async_trait]
impl LedgerEvents for RpcLedger {
    async fn events(&self, from: u64) -> Result<EventStream, LedgerError> {
        self.reader.events(from).await
    }
}

#[async_trait]
impl LedgerFunding for RpcLedger {
    fn account(&self) -> Address {
        self.key.address()
    }
    async fn open(&self, params: &ChannelParams, amount: Amount) -> Result<Receipt, LedgerError> {
        self.run(Operation::Open {
            params: *params,
            amount,
        })
        .await
    }
    async fn deposit(
        &self,
        id: ChannelId,
        party: Role,
        amount: Amount,
    ) -> Result<Receipt, LedgerError> {
        self.run(Operation::Deposit {
            channel_id: id,
            party,
            amount,
        })
        .await
    }
}

#[async_trait]
impl LedgerWithdraw for RpcLedger {
    async fn withdraw(&self, certificate: &CoSigned<Withdrawal>) -> Result<Receipt, LedgerError> {
        self.run(Operation::Withdraw {
            certificate: *certificate,
        })
        .await
    }
}

#[async_trait]
impl LedgerClose for RpcLedger {
    async fn close_cooperative(
        &self,
        settlement: &CoSigned<Settlement>,
    ) -> Result<Receipt, LedgerError> {
        self.run(Operation::CloseCooperative {
            settlement: *settlement,
        })
        .await
    }
    async fn start_close(
        &self,
        id: ChannelId,
        voucher: Option<&SignedVoucher>,
    ) -> Result<Receipt, LedgerError> {
        self.run(Operation::StartClose {
            channel_id: id,
            voucher: voucher.copied(),
        })
        .await
    }
    async fn submit_voucher(&self, voucher: &SignedVoucher) -> Result<Receipt, LedgerError> {
        self.run(Operation::SubmitVoucher { voucher: *voucher })
            .await
    }
    async fn settle(&self, id: ChannelId) -> Result<Receipt, LedgerError> {
        self.run(Operation::Settle { channel_id: id }).await
    }
}
