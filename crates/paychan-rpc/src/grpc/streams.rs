//! The server streams of the gRPC API: the node's events, incoming channel proposals, and the
//! payment requests of the remote payment handler (a bidirectional call whose other half
//! carries the answers). Each ends when the server stops, when the node does, and (events and
//! proposals) at the first item after its scoped token was revoked, as the JSON-RPC
//! subscriptions do.

use std::{pin::Pin, sync::Arc};

use futures::{Stream, StreamExt};
use paychan_node::Category;
use tokio::sync::{broadcast, broadcast::error::RecvError, mpsc, watch};
use tonic::{Status, Streaming};

use super::{convert, pb, service::failed};
use crate::{
    api::{Context, events, payment_handler, proposals},
    error::{HANDLER_REGISTERED, RpcError},
    method,
    remote::{PaymentRequest, RemoteHandler},
    tokens::Caller,
};

/// A boxed server stream.
pub(crate) type Boxed<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// `PERMISSION_DENIED` if `caller`'s token was revoked since the stream opened.
fn still_allowed(ctx: &Context, caller: &Caller, method: &str) -> Result<(), Status> {
    match (caller, &ctx.tokens) {
        (Caller::Token(claims), Some(tokens)) => {
            tokens.check(claims).map_err(|e| failed(method, &e))
        }
        _ => Ok(()),
    }
}

/// What a broadcast-fed stream holds.
struct Feed<T: Clone> {
    items: broadcast::Receiver<T>,
    ctx: Arc<Context>,
    caller: Caller,
    stop: watch::Receiver<bool>,
    done: bool,
}

/// The next item of a broadcast-fed stream, `Err(lost)` when the subscriber fell behind;
/// `None` at the end.
async fn next_of<T: Clone>(feed: &mut Feed<T>) -> Option<Result<T, u64>> {
    if feed.done {
        return None;
    }
    let next = tokio::select! {
        _ = feed.stop.wait_for(|stop| *stop) => return None,
        next = feed.items.recv() => next,
    };
    match next {
        Ok(item) => Some(Ok(item)),
        Err(RecvError::Lagged(lost)) => Some(Err(lost)),
        Err(RecvError::Closed) => None,
    }
}

/// `SubscribeEvents`: listening has started when this returns.
pub(crate) fn events(
    ctx: Arc<Context>,
    caller: Caller,
    stop: watch::Receiver<bool>,
) -> Boxed<pb::Event> {
    let feed = Feed {
        items: ctx.node.subscribe(),
        ctx,
        caller,
        stop,
        done: false,
    };
    Box::pin(futures::stream::unfold(feed, |mut feed| async move {
        let next = next_of(&mut feed).await?;
        if let Err(status) = still_allowed(&feed.ctx, &feed.caller, method::SUBSCRIBE_EVENTS) {
            feed.done = true;
            return Some((Err(status), feed));
        }
        let next = next.map_err(RecvError::Lagged);
        match events::event_value(next)? {
            Ok(value) => Some((Ok(convert::event(value)), feed)),
            Err(e) => {
                feed.done = true;
                Some((Err(Status::internal(e.to_string())), feed))
            }
        }
    }))
}

/// `SubscribeProposals`: refused (`UNIMPLEMENTED`, 1911) without proposal decisions.
pub(crate) fn proposals(
    ctx: Arc<Context>,
    caller: Caller,
    stop: watch::Receiver<bool>,
) -> Result<Boxed<pb::Proposal>, RpcError> {
    let items = proposals::decisions(&ctx)?.subscribe();
    let feed = Feed {
        items,
        ctx,
        caller,
        stop,
        done: false,
    };
    Ok(Box::pin(futures::stream::unfold(
        feed,
        |mut feed| async move {
            loop {
                let next = next_of(&mut feed).await?;
                if let Err(status) =
                    still_allowed(&feed.ctx, &feed.caller, method::SUBSCRIBE_PROPOSALS)
                {
                    feed.done = true;
                    return Some((Err(status), feed));
                }
                match next {
                    Ok(proposal) => {
                        let view = crate::types::ProposalView::from(&proposal);
                        return Some((Ok(convert::proposal(&view)), feed));
                    }
                    // Missed announcements are still listed by ListProposals.
                    Err(lost) => tracing::warn!(lost, "a gRPC proposal subscriber fell behind"),
                }
            }
        },
    )))
}

/// Ends a registration as the payment handler when dropped: its unanswered payments are
/// refused to their payers.
struct Registered {
    remote: Arc<RemoteHandler>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.remote.unregister(self.id);
        tracing::info!(
            registration = self.id,
            api = "grpc",
            "remote payment handler gone"
        );
    }
}

/// What the outbound half of `HandlePayments` holds.
struct Handling {
    requests: mpsc::Receiver<PaymentRequest>,
    /// A failure of the inbound half, which ends the call with its status.
    failures: mpsc::Receiver<Status>,
    stop: watch::Receiver<bool>,
    _registered: Registered,
    done: bool,
}

/// `HandlePayments`: registers the caller as the node's payment handler (refused with
/// `ALREADY_EXISTS`, 1905, while another client is), streams it the payments, and delivers
/// the answers it sends back, each as `answer_payment` would. An answer to a payment no longer
/// waiting (timed out) is dropped with a log line, as the payer was already told; an answer
/// that is neither a response nor an error ends the call with `INVALID_ARGUMENT`.
pub(crate) fn payments(
    ctx: Arc<Context>,
    mut answers: Streaming<pb::PaymentAnswer>,
    stop: watch::Receiver<bool>,
) -> Result<Boxed<pb::PaymentRequest>, RpcError> {
    let remote = ctx
        .remote
        .clone()
        .ok_or_else(payment_handler::not_enabled)?;
    let registration = remote
        .register()
        .map_err(|e| RpcError::api(HANDLER_REGISTERED, Category::Client, e.to_string()))?;
    tracing::info!(
        registration = registration.id,
        api = "grpc",
        "remote payment handler registered"
    );
    let registered = Registered {
        remote,
        id: registration.id,
    };
    let (fail, failures) = mpsc::channel(1);
    // The inbound half: answers until the client closes its side or the call ends.
    tokio::spawn(async move {
        while let Some(answer) = answers.next().await {
            let answer = match answer {
                Ok(answer) => answer,
                Err(status) => {
                    tracing::debug!(%status, "the payment handler's stream failed");
                    break;
                }
            };
            let outcome = convert::payment_answer(answer)
                .and_then(|answer| payment_handler::run_answer(&ctx, answer));
            match outcome {
                Ok(_) => {}
                Err(e @ RpcError::InvalidParams(_)) => {
                    let _ = fail.send(failed(method::ANSWER_PAYMENT, &e)).await;
                    return;
                }
                Err(e) => tracing::info!(error = %e, "a payment answer came too late"),
            }
        }
        // The client is done answering: end the role.
        let _ = fail
            .send(Status::cancelled("the payment handler closed its answers"))
            .await;
    });
    let state = Handling {
        requests: registration.requests,
        failures,
        stop,
        _registered: registered,
        done: false,
    };
    Ok(Box::pin(futures::stream::unfold(state, next_payment)))
}

/// The next payment request of `HandlePayments`.
async fn next_payment(
    mut state: Handling,
) -> Option<(Result<pb::PaymentRequest, Status>, Handling)> {
    enum Next {
        Stop,
        Failure(Option<Status>),
        Request(Option<PaymentRequest>),
    }
    if state.done {
        return None;
    }
    let next = tokio::select! {
        _ = state.stop.wait_for(|stop| *stop) => Next::Stop,
        failure = state.failures.recv() => Next::Failure(failure),
        request = state.requests.recv() => Next::Request(request),
    };
    match next {
        Next::Stop | Next::Request(None) => None,
        Next::Failure(failure) => {
            state.done = true;
            match failure {
                Some(status) if status.code() != tonic::Code::Cancelled => {
                    Some((Err(status), state))
                }
                _ => None,
            }
        }
        Next::Request(Some(request)) => Some((Ok(convert::payment_request(&request)), state)),
    }
}
