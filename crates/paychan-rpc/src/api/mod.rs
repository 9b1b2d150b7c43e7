//! The service layer behind both APIs: the methods, one file each, and their JSON-RPC
//! registration.
//!
//! Each file holds the method's typed params (the serde struct the JSON-RPC parser fills)
//! and its logic as a typed function, `run(&Context, Params) -> Result<Answer, RpcError>`,
//! which calls the [`Node`] and maps the answer onto the serde types of [`crate::types`].
//! The JSON-RPC handler beside it only parses (`run(&ctx, parse(&params)?)`); the gRPC method
//! ([`crate::grpc`]) converts its request into the same params and calls the same `run`. The
//! params are parsed completely before `run` starts, so invalid params change nothing in
//! either API. A paying method runs inside [`paying`] in both APIs.

pub(crate) mod aa;
pub(crate) mod channel_info;
pub(crate) mod close;
pub(crate) mod contacts;
pub(crate) mod deposit;
pub(crate) mod events;
pub(crate) mod list_channels;
pub(crate) mod node_info;
pub(crate) mod open_channel;
pub(crate) mod packages;
pub(crate) mod pay;
pub(crate) mod payment_handler;
pub(crate) mod proposals;
pub(crate) mod send_message;
pub(crate) mod set_auto_refill;
pub(crate) mod tokens;
pub(crate) mod unconfirmed_credit;
pub(crate) mod withdraw;

use std::{future::Future, sync::Arc};

use jsonrpsee::{Extensions, RpcModule, core::RegisterMethodError, types::Params};
use paychan_core::{Address, Amount, ChannelId};
use paychan_ledger::LedgerQuery;
use paychan_node::{Category, Node};
use serde::Serialize;

use crate::{
    dial::{DialError, Dialer},
    error::{
        BAD_PEER_ADDRESS, DIAL_FAILED, INSUFFICIENT_LEDGER_FUNDS, NETWORKING_DISABLED, RpcError,
    },
    method,
    remote::RemoteHandler,
    tokens::{Caller, TokenRegistry},
    types::ChannelView,
};

/// What every handler sees.
pub(crate) struct Context {
    pub(crate) node: Node,
    pub(crate) ledger: Option<Arc<dyn LedgerQuery>>,
    pub(crate) dialer: Option<Arc<dyn Dialer>>,
    pub(crate) remote: Option<Arc<RemoteHandler>>,
    pub(crate) tokens: Option<Arc<TokenRegistry>>,
    pub(crate) decisions: Option<Arc<paychan_node::decisions::ProposalDecisions>>,
}

impl Context {
    /// The view of channel `id`.
    pub(crate) async fn view(&self, id: ChannelId) -> Result<ChannelView, RpcError> {
        Ok(ChannelView::from(&self.node.channel_info(id).await?))
    }

    /// Refuses `amount` if the ledger says this node holds less (when a ledger is known), so
    /// that an open or a deposit that cannot succeed is refused before anything is sent.
    pub(crate) async fn check_funds(&self, amount: Amount) -> Result<(), RpcError> {
        let Some(ledger) = &self.ledger else {
            return Ok(());
        };
        // If the ledger cannot be asked, let the operation itself report it.
        let Ok(balance) = ledger.balance(self.node.address(), Address::ZERO).await else {
            return Ok(());
        };
        if balance < amount {
            return Err(RpcError::api(
                INSUFFICIENT_LEDGER_FUNDS,
                Category::Client,
                format!("{amount} exceeds this node's ledger balance of {balance}"),
            ));
        }
        Ok(())
    }

    /// Makes sure `peer` is connected if the dialer knows where it is; a peer that stays
    /// offline is reported by the node itself.
    pub(crate) async fn reach(&self, peer: Address) -> Result<(), RpcError> {
        if self.node.is_connected(peer) {
            return Ok(());
        }
        if let Some(dialer) = &self.dialer {
            dialer.dial_known(peer).await.map_err(dial_error)?;
        }
        Ok(())
    }

    /// Dials `peer_url` and returns the peer's address.
    pub(crate) async fn dial(&self, peer_url: &str) -> Result<Address, RpcError> {
        let Some(dialer) = &self.dialer else {
            return Err(RpcError::api(
                NETWORKING_DISABLED,
                Category::Client,
                "peer networking is not enabled on this node: cannot dial a peer URL",
            ));
        };
        dialer.dial(peer_url).await.map_err(dial_error)
    }
}

fn dial_error(e: DialError) -> RpcError {
    match e {
        DialError::BadAddress(m) => RpcError::api(BAD_PEER_ADDRESS, Category::Client, m),
        other => RpcError::api(DIAL_FAILED, Category::Peer, other.to_string()),
    }
}

/// Registers an async handler `handler(ctx, params)`.
fn register<T, F, Fut>(
    module: &mut RpcModule<Context>,
    name: &'static str,
    handler: F,
) -> Result<(), RegisterMethodError>
where
    T: Serialize + Clone + Send + 'static,
    F: Fn(Arc<Context>, Params<'static>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<T, RpcError>> + Send + 'static,
{
    module.register_async_method(name, move |params, ctx, _| {
        let handler = handler.clone();
        async move {
            let result = handler(ctx, params).await;
            if let Err(e) = &result {
                tracing::debug!(method = name, error = %e, "call failed");
            }
            result
        }
    })?;
    Ok(())
}

/// Whether a failed paying call may still have paid: only when the peer's answer is unknown
/// (a timeout, a lost connection); every other error of the node says nothing was paid.
fn may_have_paid(error: &RpcError) -> bool {
    matches!(
        error,
        RpcError::Node(
            paychan_node::NodeError::Timeout(_) | paychan_node::NodeError::ConnectionLost(_)
        )
    )
}

/// Registers a method that pays `amount(params)`: for a `pay` token, the amount is counted
/// against its limit before the handler runs (and refused over it), and taken back if the
/// call failed without paying (see [`crate::tokens::registry`]).
fn register_paying<T, F, Fut>(
    module: &mut RpcModule<Context>,
    name: &'static str,
    amount: fn(&Params<'_>) -> Result<Amount, RpcError>,
    handler: F,
) -> Result<(), RegisterMethodError>
where
    T: Serialize + Clone + Send + 'static,
    F: Fn(Arc<Context>, Params<'static>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<T, RpcError>> + Send + 'static,
{
    module.register_async_method(name, move |params, ctx, extensions: Extensions| {
        let handler = handler.clone();
        async move {
            let caller = extensions.get::<Caller>();
            let result = paying(
                &ctx,
                caller,
                || amount(&params),
                handler(ctx.clone(), params.clone()),
            )
            .await;
            if let Err(e) = &result {
                tracing::debug!(method = name, error = %e, "call failed");
            }
            result
        }
    })?;
    Ok(())
}

/// Runs `call`, a call that pays what `amount` says, for `caller`: for a `pay` token, the
/// amount is counted against its limit before `call` runs (refused over it, and `call` never
/// runs), and taken back if `call` failed without paying (see [`crate::tokens::registry`]).
/// The JSON-RPC and the gRPC paying methods both go through here.
pub(crate) async fn paying<T>(
    ctx: &Context,
    caller: Option<&Caller>,
    amount: impl FnOnce() -> Result<Amount, RpcError>,
    call: impl Future<Output = Result<T, RpcError>>,
) -> Result<T, RpcError> {
    let claims = match caller {
        Some(Caller::Token(claims)) => claims,
        _ => return call.await,
    };
    // Scoped tokens are accepted only where there is a registry.
    let Some(tokens) = &ctx.tokens else {
        return Err(RpcError::api(
            crate::error::SCOPE_DENIED,
            Category::Client,
            format!("token {} is unknown to this node", claims.id),
        ));
    };
    let amount = amount()?;
    let reservation = tokens.reserve(claims, amount).await?;
    let result = call.await;
    match &result {
        Err(e) if !may_have_paid(e) => tokens.refund(reservation).await,
        _ => {}
    }
    result
}

/// All methods over `ctx`.
pub(crate) fn module(ctx: Arc<Context>) -> Result<RpcModule<Context>, RegisterMethodError> {
    let mut module = RpcModule::from_arc(ctx);
    register(&mut module, method::NODE_INFO, node_info::handle)?;
    register(&mut module, method::OPEN_CHANNEL, open_channel::handle)?;
    register_paying(&mut module, method::PAY, pay::amount, pay::handle)?;
    register(&mut module, method::SEND_MESSAGE, send_message::handle)?;
    register(&mut module, method::DEPOSIT, deposit::handle)?;
    register(&mut module, method::WITHDRAW, withdraw::handle)?;
    register(&mut module, method::CLOSE, close::handle)?;
    register(&mut module, method::CHANNEL_INFO, channel_info::handle)?;
    register(&mut module, method::LIST_CHANNELS, list_channels::handle)?;
    register(
        &mut module,
        method::SET_AUTO_REFILL,
        set_auto_refill::handle,
    )?;
    register(
        &mut module,
        method::SET_UNCONFIRMED_CREDIT,
        unconfirmed_credit::handle,
    )?;
    register(
        &mut module,
        method::aa::CREATE_NEW_CHANNEL,
        aa::create_new_channel,
    )?;
    register_paying(
        &mut module,
        method::aa::SEND_MESSAGE_AND_PAY,
        aa::send_message_and_pay_amount,
        aa::send_message_and_pay,
    )?;
    register(
        &mut module,
        method::aa::SET_AUTO_REFILL,
        aa::set_auto_refill,
    )?;
    register(
        &mut module,
        method::aa::GET_BALANCES_AND_STATUS,
        aa::get_balances_and_status,
    )?;
    register(
        &mut module,
        method::aa::GET_CHANNELS_FOR_PEER,
        aa::get_channels_for_peer,
    )?;
    register_paying(
        &mut module,
        method::CREATE_PAYMENT_PACKAGE,
        packages::create_amount,
        packages::create,
    )?;
    register(
        &mut module,
        method::VERIFY_PAYMENT_PACKAGE,
        packages::verify,
    )?;
    register(
        &mut module,
        method::CANCEL_PAYMENT_PACKAGE,
        packages::cancel,
    )?;
    register_paying(
        &mut module,
        method::aa::CREATE_PAYMENT_PACKAGE,
        packages::aa_create_amount,
        packages::aa_create,
    )?;
    register(
        &mut module,
        method::aa::VERIFY_PAYMENT_PACKAGE,
        packages::aa_verify,
    )?;
    register(&mut module, method::ADD_CONTACT, contacts::add)?;
    register(&mut module, method::GET_CONTACT, contacts::get)?;
    register(&mut module, method::LIST_CONTACTS, contacts::list)?;
    register(&mut module, method::REMOVE_CONTACT, contacts::remove)?;
    register(&mut module, method::ANSWER_PAYMENT, payment_handler::answer)?;
    register(&mut module, method::CREATE_TOKEN, tokens::create)?;
    register(&mut module, method::LIST_TOKENS, tokens::list)?;
    register(&mut module, method::REVOKE_TOKEN, tokens::revoke)?;
    register(&mut module, method::LIST_PROPOSALS, proposals::list)?;
    register(&mut module, method::ACCEPT_PROPOSAL, proposals::accept)?;
    register(&mut module, method::REJECT_PROPOSAL, proposals::reject)?;
    events::register(&mut module)?;
    proposals::register(&mut module)?;
    payment_handler::register(&mut module)?;
    Ok(module)
}
