//! The `paychan.v1.Node` service: each method authorizes its caller under the name of the
//! JSON-RPC method it mirrors, converts its request into that method's typed params, and calls
//! the service layer ([`crate::api`]); the paying methods go through the same spending check
//! ([`crate::api::paying`]) as their JSON-RPC twins.

use std::sync::Arc;

use tokio::sync::watch;
use tonic::{Request, Response, Status, Streaming};

use super::{
    convert, pb,
    streams::{self, Boxed},
};
use crate::{
    api::{
        self, Context, channel_info, close, contacts, deposit, list_channels, node_info,
        open_channel, packages, pay, payment_handler, proposals, send_message, set_auto_refill,
        tokens, unconfirmed_credit, withdraw,
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
pub(super) fn failed(method: &str, error: &RpcError) -> Status {
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

    async fn set_unconfirmed_credit(
        &self,
        request: Request<pb::SetUnconfirmedCreditRequest>,
    ) -> Result<Response<pb::UnconfirmedCredit>, Status> {
        let m = method::SET_UNCONFIRMED_CREDIT;
        self.authorize(&request, m)?;
        let result = convert::unconfirmed_credit(request.into_inner())
            .map(|p| unconfirmed_credit::run(&self.ctx, p));
        answer(m, result, convert::unconfirmed_credit_view)
    }

    async fn create_payment_package(
        &self,
        request: Request<pb::CreatePaymentPackageRequest>,
    ) -> Result<Response<pb::CreatedPackage>, Status> {
        let m = method::CREATE_PAYMENT_PACKAGE;
        let caller = self.authorize(&request, m)?;
        let result = match convert::create_package(request.into_inner()) {
            Ok(p) => {
                let amount = p.amount;
                api::paying(
                    &self.ctx,
                    Some(&caller),
                    || amount.positive("amount"),
                    packages::create_package(&self.ctx, p.channel_id, p.amount, p.message),
                )
                .await
            }
            Err(e) => Err(e),
        };
        answer(m, result, convert::created_package)
    }

    async fn verify_payment_package(
        &self,
        request: Request<pb::VerifyPaymentPackageRequest>,
    ) -> Result<Response<pb::VerifiedPayment>, Status> {
        let m = method::VERIFY_PAYMENT_PACKAGE;
        self.authorize(&request, m)?;
        let result = match convert::verify_package(request.into_inner()) {
            Ok(p) => packages::verify_package(&self.ctx, p.package, p.min_amount, p.dry_run).await,
            Err(e) => Err(e),
        };
        answer(m, result, convert::verified)
    }

    async fn cancel_payment_package(
        &self,
        request: Request<pb::CancelPaymentPackageRequest>,
    ) -> Result<Response<pb::Channel>, Status> {
        let m = method::CANCEL_PAYMENT_PACKAGE;
        self.authorize(&request, m)?;
        let p = convert::cancel_package(request.into_inner());
        let result = packages::run_cancel(&self.ctx, p).await;
        answer(m, result, convert::channel)
    }

    async fn create_token(
        &self,
        request: Request<pb::CreateTokenRequest>,
    ) -> Result<Response<pb::CreatedToken>, Status> {
        let m = method::CREATE_TOKEN;
        self.authorize(&request, m)?;
        let result = match convert::create_token(request.into_inner()) {
            Ok(p) => tokens::run_create(&self.ctx, p).await,
            Err(e) => Err(e),
        };
        answer(m, result, convert::created_token)
    }

    async fn list_tokens(
        &self,
        request: Request<pb::ListTokensRequest>,
    ) -> Result<Response<pb::ListTokensResponse>, Status> {
        let m = method::LIST_TOKENS;
        self.authorize(&request, m)?;
        let result = tokens::run_list(&self.ctx);
        answer(m, result, |list| pb::ListTokensResponse {
            tokens: list.into_iter().map(convert::token_info).collect(),
        })
    }

    async fn revoke_token(
        &self,
        request: Request<pb::RevokeTokenRequest>,
    ) -> Result<Response<pb::TokenInfo>, Status> {
        let m = method::REVOKE_TOKEN;
        self.authorize(&request, m)?;
        let p = tokens::Revoke {
            id: request.into_inner().id,
        };
        let result = tokens::run_revoke(&self.ctx, p).await;
        answer(m, result, convert::token_info)
    }

    async fn list_proposals(
        &self,
        request: Request<pb::ListProposalsRequest>,
    ) -> Result<Response<pb::ListProposalsResponse>, Status> {
        let m = method::LIST_PROPOSALS;
        self.authorize(&request, m)?;
        let result = proposals::run_list(&self.ctx);
        answer(m, result, |list| pb::ListProposalsResponse {
            proposals: list.iter().map(convert::proposal).collect(),
        })
    }

    async fn accept_proposal(
        &self,
        request: Request<pb::AcceptProposalRequest>,
    ) -> Result<Response<pb::AcceptProposalResponse>, Status> {
        let m = method::ACCEPT_PROPOSAL;
        self.authorize(&request, m)?;
        let result =
            convert::accept(request.into_inner()).and_then(|p| proposals::run_accept(&self.ctx, p));
        answer(m, result, |_| pb::AcceptProposalResponse {})
    }

    async fn reject_proposal(
        &self,
        request: Request<pb::RejectProposalRequest>,
    ) -> Result<Response<pb::RejectProposalResponse>, Status> {
        let m = method::REJECT_PROPOSAL;
        self.authorize(&request, m)?;
        let result =
            convert::reject(request.into_inner()).and_then(|p| proposals::run_reject(&self.ctx, p));
        answer(m, result, |_| pb::RejectProposalResponse {})
    }

    async fn answer_payment(
        &self,
        request: Request<pb::PaymentAnswer>,
    ) -> Result<Response<pb::AnswerPaymentResponse>, Status> {
        let m = method::ANSWER_PAYMENT;
        self.authorize(&request, m)?;
        let result = convert::payment_answer(request.into_inner())
            .and_then(|p| payment_handler::run_answer(&self.ctx, p));
        answer(m, result, |_| pb::AnswerPaymentResponse {})
    }

    type SubscribeEventsStream = Boxed<pb::Event>;

    async fn subscribe_events(
        &self,
        request: Request<pb::SubscribeEventsRequest>,
    ) -> Result<Response<Self::SubscribeEventsStream>, Status> {
        let caller = self.authorize(&request, method::SUBSCRIBE_EVENTS)?;
        // Listening starts before the answer, so no event after the headers is missed.
        let stream = streams::events(self.ctx.clone(), caller, self.stop.clone());
        Ok(Response::new(stream))
    }

    type SubscribeProposalsStream = Boxed<pb::Proposal>;

    async fn subscribe_proposals(
        &self,
        request: Request<pb::SubscribeProposalsRequest>,
    ) -> Result<Response<Self::SubscribeProposalsStream>, Status> {
        let m = method::SUBSCRIBE_PROPOSALS;
        let caller = self.authorize(&request, m)?;
        let result = streams::proposals(self.ctx.clone(), caller, self.stop.clone());
        answer(m, result, |stream| stream)
    }

    type HandlePaymentsStream = Boxed<pb::PaymentRequest>;

    async fn handle_payments(
        &self,
        request: Request<Streaming<pb::PaymentAnswer>>,
    ) -> Result<Response<Self::HandlePaymentsStream>, Status> {
        let m = method::SUBSCRIBE_PAYMENTS;
        self.authorize(&request, m)?;
        let result = streams::payments(self.ctx.clone(), request.into_inner(), self.stop.clone());
        answer(m, result, |stream| stream)
    }
}
