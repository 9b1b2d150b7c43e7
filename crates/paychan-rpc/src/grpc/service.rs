//! The `paychan.v1.Node` service: each method authorizes its caller under the name of the
//! JSON-RPC method it mirrors, converts its request into that method's typed params, and calls
//! the service layer ([`crate::api`]); the paying methods go through the same spending check
//! ([`crate::api::paying`]) as their JSON-RPC twins.

use std::{pin::Pin, sync::Arc};

use futures::Stream;
use tokio::sync::{broadcast::error::RecvError, watch};
use tonic::{Request, Response, Status};

use super::{convert, pb};
use crate::{
    api::{
        self, Context, channel_info, close, contacts, deposit, list_channels, node_info,
        open_channel, pay, send_message, set_auto_refill, withdraw,
    },
    auth::AuthLayer,
    error::RpcError,
    method,
    tokens::{Caller, guard::verdict},
};

/// The service over a node's [`Context`].
pub(crate) struct NodeApi {
    ctx: Arc<Context>,
    auth: AuthLayer,
    stop: watch::Receiver<bool>,
}

impl NodeApi {
    pub(crate) fn new(ctx: Arc<Context>, auth: AuthLayer, stop: watch::Receiver<bool>) -> Self {
        NodeApi { ctx, auth, stop }
    }

    /// Who calls, if they may call `method`: `UNAUTHENTICATED` without an accepted token,
    /// the refusal of the scope check (`PERMISSION_DENIED`) outside its scopes.
    fn authorize<T>(&self, request: &Request<T>, method: &str) -> Result<Caller, Status> {
        let caller = request
            .metadata()
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| self.auth.caller_of(value))
            .ok_or_else(|| {
                Status::unauthenticated(
                    "missing or wrong token: send the metadata authorization: Bearer <token>",
                )
            })?;
        verdict(method, Some(&caller), self.ctx.tokens.as_deref())
            .map_err(|e| failed(method, &e))?;
        Ok(caller)
    }
}

/// The status of a call of `method` that failed with `error`.
fn failed(method: &str, error: &RpcError) -> Status {
    tracing::debug!(method, %error, api = "grpc", "call failed");
    convert::status(error)
}

/// The answer of a call of `method`: `result` converted by `into`.
fn answer<T, R>(
    method: &str,
    result: Result<T, RpcError>,
    into: impl FnOnce(T) -> R,
) -> Result<Response<R>, Status> {
    result
        .map(|value| Response::new(into(value)))
        .map_err(|e| failed(method, &e))
}

/// A server stream of events.
type EventStream = Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send>>;

#[tonic::async_trait]
impl pb::node_server::Node for NodeApi {
    async fn node_info(
        &self,
        request: Request<pb::NodeInfoRequest>,
    ) -> Result<Response<pb::NodeInfoResponse>, Status> {
        self.authorize(&request, method::NODE_INFO)?;
        let result = node_info::run(&self.ctx).await;
        answer(method::NODE_INFO, result, convert::node_info)
    }

    async fn open_channel(
        &self,
        request: Request<pb::OpenChannelRequest>,
    ) -> Result<Response<pb::Channel>, Status> {
        let m = method::OPEN_CHANNEL;
        self.authorize(&request, m)?;
        let result = match convert::open_channel(request.into_inner()) {
            Ok(p) => open_channel::run(&self.ctx, p).await,
            Err(e) => Err(e),
        };
        answer(m, result, convert::channel)
    }

    async fn pay(
        &self,
        request: Request<pb::PayRequest>,
    ) -> Result<Response<pb::PayResponse>, Status> {
        let m = method::PAY;
        let caller = self.authorize(&request, m)?;
        let result = match convert::pay(request.into_inner()) {
            Ok(p) => {
                let amount = p.amount;
                api::paying(
                    &self.ctx,
                    Some(&caller),
                    || amount.positive("amount"),
                    pay::run(&self.ctx, p),
                )
                .await
            }
            Err(e) => Err(e),
        };
        answer(m, result, convert::pay_result)
    }

    async fn send_message(
        &self,
        request: Request<pb::SendMessageRequest>,
    ) -> Result<Response<pb::PayResponse>, Status> {
        let m = method::SEND_MESSAGE;
        self.authorize(&request, m)?;
        let result = match convert::send_message(request.into_inner()) {
            Ok(p) => send_message::run(&self.ctx, p).await,
            Err(e) => Err(e),
        };
        answer(m, result, convert::pay_result)
    }

    async fn deposit(
        &self,
        request: Request<pb::DepositRequest>,
    ) -> Result<Response<pb::Channel>, Status> {
        let m = method::DEPOSIT;
        self.authorize(&request, m)?;
        let result = match convert::deposit(request.into_inner()) {
            Ok(p) => deposit::run(&self.ctx, p).await,
            Err(e) => Err(e),
        };
        answer(m, result, convert::channel)
    }

    async fn withdraw(
        &self,
        request: Request<pb::WithdrawRequest>,
    ) -> Result<Response<pb::Channel>, Status> {
        let m = method::WITHDRAW;
        self.authorize(&request, m)?;
        let result = match convert::withdraw(request.into_inner()) {
            Ok(p) => withdraw::run(&self.ctx, p).await,
            Err(e) => Err(e),
        };
        answer(m, result, convert::channel)
    }

    async fn close(
        &self,
        request: Request<pb::CloseRequest>,
    ) -> Result<Response<pb::CloseResponse>, Status> {
        let m = method::CLOSE;
        self.authorize(&request, m)?;
        let result = match convert::close(request.into_inner()) {
            Ok(p) => close::run(&self.ctx, p).await,
            Err(e) => Err(e),
        };
        answer(m, result, convert::close_result)
    }

    async fn channel_info(
        &self,
        request: Request<pb::ChannelInfoRequest>,
    ) -> Result<Response<pb::Channel>, Status> {
        let m = method::CHANNEL_INFO;
        self.authorize(&request, m)?;
        let result = match convert::channel_info(request.into_inner()) {
            Ok(p) => channel_info::run(&self.ctx, p).await,
            Err(e) => Err(e),
        };
        answer(m, result, convert::channel)
    }

    async fn list_channels(
        &self,
        request: Request<pb::ListChannelsRequest>,
    ) -> Result<Response<pb::ListChannelsResponse>, Status> {
        let m = method::LIST_CHANNELS;
        self.authorize(&request, m)?;
        let p = convert::list_channels(request.into_inner());
        let result = list_channels::run(&self.ctx, p).await;
        answer(m, result, |channels| pb::ListChannelsResponse {
            channels: channels.into_iter().map(convert::channel).collect(),
        })
    }

    async fn set_auto_refill(
        &self,
        request: Request<pb::SetAutoRefillRequest>,
    ) -> Result<Response<pb::Channel>, Status> {
        let m = method::SET_AUTO_REFILL;
        self.authorize(&request, m)?;
        let result = match convert::set_auto_refill(request.into_inner()) {
            Ok(p) => set_auto_refill::run(&self.ctx, p).await,
            Err(e) => Err(e),
        };
        answer(m, result, convert::channel)
    }

    async fn add_contact(
        &self,
        request: Request<pb::AddContactRequest>,
    ) -> Result<Response<pb::Contact>, Status> {
        let m = method::ADD_CONTACT;
        self.authorize(&request, m)?;
        let p = convert::add_contact(request.into_inner());
        let result = contacts::run_add(&self.ctx, p).await;
        answer(m, result, convert::contact)
    }

    async fn get_contact(
        &self,
        request: Request<pb::GetContactRequest>,
    ) -> Result<Response<pb::Contact>, Status> {
        let m = method::GET_CONTACT;
        self.authorize(&request, m)?;
        let p = convert::alias(request.into_inner().alias);
        let result = contacts::run_get(&self.ctx, p).await;
        answer(m, result, convert::contact)
    }

    async fn list_contacts(
        &self,
        request: Request<pb::ListContactsRequest>,
    ) -> Result<Response<pb::ListContactsResponse>, Status> {
        let m = method::LIST_CONTACTS;
        self.authorize(&request, m)?;
        let result = contacts::run_list(&self.ctx).await;
        answer(m, result, |contacts| pb::ListContactsResponse {
            contacts: contacts.into_iter().map(convert::contact).collect(),
        })
    }

    async fn remove_contact(
        &self,
        request: Request<pb::RemoveContactRequest>,
    ) -> Result<Response<pb::RemoveContactResponse>, Status> {
        let m = method::REMOVE_CONTACT;
        self.authorize(&request, m)?;
        let p = convert::alias(request.into_inner().alias);
        let result = contacts::run_remove(&self.ctx, p).await;
        answer(m, result, |_| pb::RemoveContactResponse {})
    }

    type SubscribeEventsStream = EventStream;

    async fn subscribe_events(
        &self,
        request: Request<pb::SubscribeEventsRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let caller = self.authorize(&request, method::SUBSCRIBE_EVENTS)?;
        // Listening starts before the answer, so no event after the headers is missed.
        let events = self.ctx.node.subscribe();
        let state = EventState {
            events,
            ctx: self.ctx.clone(),
            caller,
            stop: self.stop.clone(),
            done: false,
        };
        let stream = futures::stream::unfold(state, next_event);
        Ok(Response::new(Box::pin(stream)))
    }
}

/// What an event stream holds.
struct EventState {
    events: tokio::sync::broadcast::Receiver<paychan_node::NodeEvent>,
    ctx: Arc<Context>,
    caller: Caller,
    stop: watch::Receiver<bool>,
    done: bool,
}

/// The next item of an event stream: as `subscribe_events` does, an `error` event when the
/// subscriber fell behind, and the end (`PERMISSION_DENIED`) at the first event after its
/// token was revoked; it also ends when the node or the server stops.
async fn next_event(mut state: EventState) -> Option<(Result<pb::Event, Status>, EventState)> {
    if state.done {
        return None;
    }
    let next = tokio::select! {
        _ = state.stop.wait_for(|stop| *stop) => return None,
        next = state.events.recv() => next,
    };
    if let (Caller::Token(claims), Some(tokens)) = (&state.caller, &state.ctx.tokens)
        && let Err(e) = tokens.check(claims)
    {
        state.done = true;
        return Some((Err(failed(method::SUBSCRIBE_EVENTS, &e)), state));
    }
    let value = match next {
        Ok(event) => match serde_json::to_value(&event) {
            Ok(value) => value,
            Err(e) => {
                state.done = true;
                return Some((Err(Status::internal(e.to_string())), state));
            }
        },
        Err(RecvError::Lagged(lost)) => serde_json::json!({
            "event": "error",
            "channel_id": null,
            "message": format!("{lost} events were lost: this subscriber fell too far behind"),
        }),
        Err(RecvError::Closed) => return None,
    };
    Some((Ok(convert::event(value)), state))
}
