//! The remote payment handler over WebSocket: `subscribe_payments` makes this connection the
//! node's payment handler; each incoming payment or plain message arrives as a notification
//! of method `payment_request` carrying a [`PaymentRequest`]; the client answers it with
//! `answer_payment {request_id, response}` or `answer_payment {request_id, error}` within
//! the node's `handler_timeout`. The payer receives the response, or the error (its payment
//! is then not counted). Closing the subscription or the connection refuses the payments
//! still unanswered and hands the role back to the default answer.

use std::sync::Arc;

use jsonrpsee::{
    PendingSubscriptionSink, RpcModule,
    core::{RegisterMethodError, SubscriptionResult},
    types::{ErrorObjectOwned, Params},
};
use paychan_node::Category;
use serde::{Deserialize, Deserializer};

use super::Context;
use crate::{
    error::{HANDLER_NOT_ENABLED, HANDLER_REGISTERED, RpcError, UNKNOWN_REQUEST},
    method,
    params::{NoParams, parse},
    remote::PaymentRequest,
};

pub(crate) fn not_enabled() -> RpcError {
    RpcError::api(
        HANDLER_NOT_ENABLED,
        Category::Client,
        "this node's API does not offer the remote payment handler",
    )
}

async fn forward(
    params: Params<'static>,
    pending: PendingSubscriptionSink,
    ctx: Arc<Context>,
) -> SubscriptionResult {
    if let Err(e) = parse::<NoParams>(&params) {
        pending.reject(ErrorObjectOwned::from(e)).await;
        return Ok(());
    }
    let Some(remote) = ctx.remote.clone() else {
        pending.reject(ErrorObjectOwned::from(not_enabled())).await;
        return Ok(());
    };
    let mut registration = match remote.register() {
        Ok(registration) => registration,
        Err(e) => {
            let error = RpcError::api(HANDLER_REGISTERED, Category::Client, e.to_string());
            pending.reject(ErrorObjectOwned::from(error)).await;
            return Ok(());
        }
    };
    let id = registration.id;
    // Whatever ends this task (closed socket, unsubscribe, a failed send) ends the
    // registration and refuses the payments still waiting.
    let _unregister = Unregister(&remote, id);
    let sink = pending.accept().await?;
    tracing::info!(registration = id, "remote payment handler registered");
    loop {
        let request: PaymentRequest = tokio::select! {
            () = sink.closed() => break,
            request = registration.requests.recv() => match request {
                Some(request) => request,
                None => break,
            },
        };
        let message = serde_json::value::to_raw_value(&request)?;
        if sink.send(message).await.is_err() {
            break;
        }
    }
    tracing::info!(registration = id, "remote payment handler gone");
    Ok(())
}

struct Unregister<'a>(&'a crate::remote::RemoteHandler, u64);

impl Drop for Unregister<'_> {
    fn drop(&mut self) {
        self.0.unregister(self.1);
    }
}

/// `answer_payment` params: `response` (any JSON, `null` included) or `error` (a message).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AnswerPayment {
    pub(crate) request_id: u64,
    #[serde(default, deserialize_with = "present")]
    pub(crate) response: Option<serde_json::Value>,
    #[serde(default)]
    pub(crate) error: Option<String>,
}

/// A present field is `Some`, even when it is `null`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

/// `answer_payment {request_id, response | error}` → `true`.
pub(crate) async fn answer(ctx: Arc<Context>, params: Params<'static>) -> Result<bool, RpcError> {
    run_answer(&ctx, parse(&params)?)
}

/// Delivers the remote handler's answer to a waiting payment.
pub(crate) fn run_answer(ctx: &Context, p: AnswerPayment) -> Result<bool, RpcError> {
    let answer = match (p.response, p.error) {
        (Some(_), Some(_)) => {
            return Err(RpcError::invalid_params("give response or error, not both"));
        }
        (None, Some(error)) => Err(error),
        (Some(response), None) => Ok(response),
        (None, None) => {
            return Err(RpcError::invalid_params(
                "missing field `response` (or `error`)",
            ));
        }
    };
    let Some(remote) = &ctx.remote else {
        return Err(not_enabled());
    };
    remote
        .answer(p.request_id, answer)
        .map_err(|e| RpcError::api(UNKNOWN_REQUEST, Category::Client, e.to_string()))?;
    Ok(true)
}

pub(crate) fn register(module: &mut RpcModule<Context>) -> Result<(), RegisterMethodError> {
    module.register_subscription(
        method::SUBSCRIBE_PAYMENTS,
        method::PAYMENT_NOTIFICATION,
        method::UNSUBSCRIBE_PAYMENTS,
        |params, pending, ctx, _| forward(params, pending, ctx),
    )?;
    Ok(())
}
