//! `subscribe_events` / `unsubscribe_events` (WebSocket only): the node's events in the
//! order the node emitted them, as notifications of method `event` whose `result` is a
//! [`NodeEvent`](paychan_node::NodeEvent) (`{"event": "payment_received", ...}`).
//!
//! The subscription starts listening before it is confirmed, so no event emitted after the
//! confirmation is missed. A subscriber too slow to keep up (more than the node's event
//! buffer behind) gets an `error` event saying how many events it lost, then the stream goes
//! on. A subscription made with a scoped token ends at the first event after the token is
//! revoked.

use std::sync::Arc;

use jsonrpsee::{
    PendingSubscriptionSink, RpcModule,
    core::{RegisterMethodError, SubscriptionResult},
    types::{ErrorObjectOwned, Params},
};
use paychan_node::NodeEvent;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::Context;
use crate::{
    method,
    params::{NoParams, parse},
    tokens::Caller,
};

async fn forward(
    params: Params<'static>,
    pending: PendingSubscriptionSink,
    ctx: Arc<Context>,
    caller: Option<Caller>,
) -> SubscriptionResult {
    if let Err(e) = parse::<NoParams>(&params) {
        pending.reject(ErrorObjectOwned::from(e)).await;
        return Ok(());
    }
    let mut events = ctx.node.subscribe();
    let sink = pending.accept().await?;
    loop {
        let next = tokio::select! {
            () = sink.closed() => return Ok(()),
            next = events.recv() => next,
        };
        if let (Some(Caller::Token(claims)), Some(tokens)) = (&caller, &ctx.tokens)
            && let Err(e) = tokens.check(claims)
        {
            // An error closes the subscription with a notification saying why.
            return Err(e.to_string().into());
        }
        let Some(value) = event_value(next) else {
            return Ok(());
        };
        let value = value?;
        let message = serde_json::value::to_raw_value(&value)?;
        if sink.send(message).await.is_err() {
            return Ok(());
        }
    }
}

/// What a subscriber (of either API) receives for `next`, the next item of the node's event
/// broadcast: the event as its JSON object, or, when the subscriber fell behind, an `error`
/// event saying how many events it lost; `None` once the node has stopped.
pub(crate) fn event_value(
    next: Result<NodeEvent, RecvError>,
) -> Option<Result<serde_json::Value, serde_json::Error>> {
    match next {
        Ok(event) => Some(serde_json::to_value(&event)),
        Err(RecvError::Lagged(lost)) => Some(Ok(json!({
            "event": "error",
            "channel_id": null,
            "message": format!("{lost} events were lost: this subscriber fell too far behind"),
        }))),
        Err(RecvError::Closed) => None,
    }
}

pub(crate) fn register(module: &mut RpcModule<Context>) -> Result<(), RegisterMethodError> {
    module.register_subscription(
        method::SUBSCRIBE_EVENTS,
        method::EVENT_NOTIFICATION,
        method::UNSUBSCRIBE_EVENTS,
        |params, pending, ctx, extensions| {
            forward(params, pending, ctx, extensions.get::<Caller>().cloned())
        },
    )?;
    Ok(())
}
