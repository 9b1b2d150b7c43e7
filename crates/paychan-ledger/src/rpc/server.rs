//! The JSON-RPC server of the embedded ledger: HTTP and WebSocket on one port.
//!
//! Every method that takes the ledger's state lock (which may be held across a journal write
//! and `fsync`) runs on tokio's blocking pool, so a slow disk never stalls the connections.
//! Parameters are parsed strictly (unknown keys, wrong types and negative numbers are the
//! standard invalid-params error) before anything is touched; the only state changes are
//! [`EmbeddedLedger::submit`], which checks the request's signature and nonce, and the
//! faucet and clock of a development ledger when [`ServeOptions`] enables them.

use std::{net::SocketAddr, sync::Mutex};

use futures::{FutureExt, StreamExt};
use jsonrpsee::{
    RpcModule,
    core::SubscriptionError,
    server::{Server, ServerHandle},
    types::{ErrorObject, ErrorObjectOwned, Params, error::ErrorCode},
};
use serde::de::DeserializeOwned;

use super::{
    AdvanceParams, BalanceParams, ChannelQuery, EventsParams, FaucetParams, MAX_EVENTS_PER_CALL,
    NonceParams, SubmitParams, SubscribeParams, error_object, method,
};
use crate::{
    api::{EventRecord, LedgerError},
    clock::Clock,
    embedded::EmbeddedLedger,
};

/// The latest time `ledger_advanceTime` may move the clock to (far beyond any real date, and
/// still representable as a signed 64-bit number of seconds).
const MAX_TIME: u64 = i64::MAX as u64;

/// What a served ledger offers besides the ledger itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServeOptions {
    /// Answer `ledger_faucet`: anyone may create funds (development ledgers only).
    pub faucet: bool,
    /// Answer `ledger_advanceTime`: anyone may move the ledger's clock forward. The ledger
    /// must have a manual clock ([`Clock::manual`]).
    pub manual_clock: bool,
}

/// A running server. Dropping it (or [`RpcServer::stop`]) stops the server.
#[derive(Debug)]
pub struct RpcServer {
    handle: ServerHandle,
    addr: SocketAddr,
}

impl RpcServer {
    /// The address the server listens on (with the actual port when started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://` URL of the server, for [`RpcLedger::connect`](super::RpcLedger::connect).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://` URL of the server (the same port).
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// A handle that can stop the server; the server also stops when every handle and this
    /// value are dropped.
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// Tells the server to stop (without waiting); does nothing if it already stopped.
    pub fn stop(&self) {
        let _ = self.handle.stop();
    }

    /// Waits until the server has stopped.
    pub async fn stopped(self) {
        self.handle.stopped().await
    }
}

/// What every method sees.
struct Context {
    ledger: EmbeddedLedger,
    options: ServeOptions,
    /// Serializes `ledger_advanceTime`, so the overflow check and the move are atomic.
    advancing: Mutex<()>,
}

/// Serves `ledger` on `addr` (HTTP and WebSocket on the same port) until the returned
/// [`RpcServer`] is stopped or dropped. Fails with `Unavailable` if the address cannot be
/// bound (in use, not local), and with `Invalid` if `options.manual_clock` is set for a
/// ledger on the system clock.
pub async fn serve(
    ledger: EmbeddedLedger,
    addr: SocketAddr,
    options: ServeOptions,
) -> Result<RpcServer, LedgerError> {
    if options.manual_clock && matches!(ledger.clock(), Clock::System) {
        return Err(LedgerError::Invalid(
            "manual_clock needs a ledger with a manual clock".into(),
        ));
    }
    let module = module(Context {
        ledger,
        options,
        advancing: Mutex::new(()),
    })
    .map_err(|e| LedgerError::Invalid(format!("cannot register the RPC methods: {e}")))?;
    let server = Server::builder()
        .build(addr)
        .await
        .map_err(|e| LedgerError::Unavailable(format!("cannot listen on {addr}: {e}")))?;
    let addr = server
        .local_addr()
        .map_err(|e| LedgerError::Unavailable(format!("cannot listen on {addr}: {e}")))?;
    let handle = server.start(module);
    tracing::info!(%addr, faucet = options.faucet, manual_clock = options.manual_clock, "ledger JSON-RPC server listening");
    Ok(RpcServer { handle, addr })
}

/// Parses named (or positional) parameters; a failure is the standard invalid-params error.
fn parse<T: DeserializeOwned>(params: &Params<'_>) -> Result<T, ErrorObjectOwned> {
    params.parse()
}

/// Maps a ledger result onto a JSON-RPC one.
fn answer<T>(result: Result<T, LedgerError>) -> Result<T, ErrorObjectOwned> {
    result.map_err(|e| error_object(&e))
}

/// The error for a method this ledger does not offer.
fn disabled(why: &str) -> ErrorObjectOwned {
    error_object(&LedgerError::Disabled(why.to_owned()))
}

fn invalid_params(why: String) -> ErrorObjectOwned {
    ErrorObject::owned(ErrorCode::InvalidParams.code(), why, None::<()>)
}

/// Events from `from` that are already recorded, at most `limit`.
fn recorded_events(
    ledger: &EmbeddedLedger,
    from: u64,
    limit: u64,
) -> Result<Vec<EventRecord>, LedgerError> {
    let mut stream = ledger.event_stream(from);
    let mut events = Vec::new();
    while (events.len() as u64) < limit {
        // Recorded events are ready at once; the first pending poll is the end of the log.
        match stream.next().now_or_never() {
            Some(Some(Ok(record))) => events.push(record),
            Some(Some(Err(e))) => return Err(e),
            Some(None) | None => break,
        }
    }
    Ok(events)
}

fn advance(ctx: &Context, secs: u64) -> Result<u64, ErrorObjectOwned> {
    if !ctx.options.manual_clock {
        return Err(disabled(match ctx.ledger.clock() {
            Clock::System => {
                "advancing time is disabled: this ledger runs on the system clock \
                 (serve it with --manual-clock)"
            }
            Clock::Manual(_) => "advancing time is disabled on this ledger",
        }));
    }
    let _guard = ctx
        .advancing
        .lock()
        .map_err(|_| error_object(&LedgerError::Unavailable("clock lock poisoned".into())))?;
    let clock = ctx.ledger.clock();
    let now = clock.now();
    match now.checked_add(secs) {
        Some(to) if to <= MAX_TIME => {}
        _ => {
            return Err(invalid_params(format!(
                "advancing {secs} s from {now} passes the latest time the ledger allows ({MAX_TIME})"
            )));
        }
    }
    if clock.advance(secs).is_none() {
        return Err(disabled("this ledger's clock cannot be moved"));
    }
    answer(ctx.ledger.time())
}

fn module(ctx: Context) -> Result<RpcModule<Context>, jsonrpsee::core::RegisterMethodError> {
    let mut module = RpcModule::new(ctx);

    module.register_method(method::DOMAIN, |_, ctx, _| {
        Ok::<_, ErrorObjectOwned>(ctx.ledger.domain())
    })?;
    module.register_blocking_method(method::NOW, |_, ctx, _| answer(ctx.ledger.time()))?;
    module.register_blocking_method(method::BALANCE, |params, ctx, _| {
        let p: BalanceParams = parse(&params)?;
        answer(ctx.ledger.balance_of(p.owner, p.asset))
    })?;
    module.register_blocking_method(method::CHANNEL, |params, ctx, _| {
        let p: ChannelQuery = parse(&params)?;
        answer(ctx.ledger.channel_record(&p.channel_id))
    })?;
    module.register_blocking_method(method::NONCE, |params, ctx, _| {
        let p: NonceParams = parse(&params)?;
        answer(ctx.ledger.nonce(p.account))
    })?;
    module.register_blocking_method(method::SUBMIT, |params, ctx, _| {
        let p: SubmitParams = parse(&params)?;
        let request = p.request;
        let result = ctx.ledger.submit(&request);
        match &result {
            Ok(receipt) => tracing::debug!(
                from = %request.from,
                nonce = request.nonce,
                events = receipt.events.len(),
                "request applied"
            ),
            Err(e) => tracing::debug!(
                from = %request.from,
                nonce = request.nonce,
                error = %e,
                "request refused"
            ),
        }
        answer(result)
    })?;
    module.register_blocking_method(method::FAUCET, |params, ctx, _| {
        if !ctx.options.faucet {
            return Err(disabled(
                "the faucet is disabled on this ledger (it was served with --no-faucet)",
            ));
        }
        let p: FaucetParams = parse(&params)?;
        answer(ctx.ledger.faucet(p.owner, p.asset, p.amount))?;
        tracing::info!(owner = %p.owner, asset = %p.asset, amount = p.amount, "faucet");
        answer(ctx.ledger.balance_of(p.owner, p.asset))
    })?;
    module.register_blocking_method(method::ADVANCE_TIME, |params, ctx, _| {
        let p: AdvanceParams = parse(&params)?;
        let now = advance(&ctx, p.secs)?;
        tracing::info!(secs = p.secs, now, "clock advanced");
        Ok::<_, ErrorObjectOwned>(now)
    })?;
    module.register_blocking_method(method::EVENTS, |params, ctx, _| {
        let p: EventsParams = parse(&params)?;
        let limit = p
            .limit
            .unwrap_or(MAX_EVENTS_PER_CALL)
            .min(MAX_EVENTS_PER_CALL);
        answer(recorded_events(&ctx.ledger, p.from, limit))
    })?;
    module.register_subscription(
        method::SUBSCRIBE_EVENTS,
        method::EVENT_NOTIFICATION,
        method::UNSUBSCRIBE_EVENTS,
        |params, pending, ctx, _| async move {
            let from = match parse::<SubscribeParams>(&params) {
                Ok(p) => p.from,
                Err(e) => {
                    pending.reject(e).await;
                    return Ok(());
                }
            };
            // Opened before accepting, so no event recorded in between is missed.
            let mut events = ctx.ledger.event_stream(from);
            let sink = pending.accept().await?;
            loop {
                let next = tokio::select! {
                    () = sink.closed() => return Ok(()),
                    next = events.next() => next,
                };
                match next {
                    Some(Ok(record)) => {
                        let message = serde_json::value::to_raw_value(&record)?;
                        if sink.send(message).await.is_err() {
                            return Ok(());
                        }
                    }
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "event subscription ends");
                        return Err(SubscriptionError::from(e));
                    }
                    None => return Ok(()),
                }
            }
        },
    )?;
    Ok(module)
}
