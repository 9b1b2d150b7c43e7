//! The methods, one handler per file, and their registration.
//!
//! Every handler parses its params completely before it touches the node, so invalid params
//! change nothing; then it calls one [`Node`] method and maps the answer onto the serde types
//! of [`crate::types`].

pub(crate) mod aa;
mod channel_info;
mod close;
mod contacts;
mod deposit;
mod events;
mod list_channels;
mod node_info;
mod open_channel;
pub(crate) mod packages;
mod pay;
mod payment_handler;
mod send_message;
mod set_auto_refill;
mod unconfirmed_credit;
mod withdraw;

use std::{future::Future, sync::Arc};

use jsonrpsee::{RpcModule, core::RegisterMethodError, types::Params};
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
    types::ChannelView,
};

/// What every handler sees.
pub(crate) struct Context {
    pub(crate) node: Node,
    pub(crate) ledger: Option<Arc<dyn LedgerQuery>>,
    pub(crate) dialer: Option<Arc<dyn Dialer>>,
    pub(crate) remote: Option<Arc<RemoteHandler>>,
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

/// All methods over `ctx`.
pub(crate) fn module(ctx: Arc<Context>) -> Result<RpcModule<Context>, RegisterMethodError> {
    let mut module = RpcModule::from_arc(ctx);
    register(&mut module, method::NODE_INFO, node_info::handle)?;
    register(&mut module, method::OPEN_CHANNEL, open_channel::handle)?;
    register(&mut module, method::PAY, pay::handle)?;
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
    register(
        &mut module,
        method::aa::SEND_MESSAGE_AND_PAY,
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
    register(
        &mut module,
        method::CREATE_PAYMENT_PACKAGE,
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
    register(
        &mut module,
        method::aa::CREATE_PAYMENT_PACKAGE,
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
    events::register(&mut module)?;
    payment_handler::register(&mut module)?;
    Ok(module)
}
