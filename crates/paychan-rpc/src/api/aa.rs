//! The aa-channels-lib names, with their positional params, so an aa-channels RPC user can
//! switch by changing the URL. `deposit [aa_address, amount]` and `close [aa_address]` are
//! the snake_case methods themselves (positional params follow the named fields' order).
//! The channel id plays the part of the `aa_address`.
//!
//! | method | params | result |
//! |---|---|---|
//! | `createNewChannel` | `[peer, initial_amount, options?]` | the channel id |
//! | `sendMessageAndPay` | `[aa_address, message_to_peer, amount]` | the peer's response |
//! | `setAutoRefill` | `[aa_address, auto_refill_amount, auto_refill_threshold]` | `null` |
//! | `getBalancesAndStatus` | `[aa_address]` | aa-channels' fields plus `channel_info`'s |
//! | `getChannelsForPeer` | `[peer, asset?]` | the channel ids |
//!
//! `options` of `createNewChannel` may hold `auto_refill_threshold` and `auto_refill_amount`
//! (applied once the channel is open), `salt` (ignored: every channel gets a fresh nonce),
//! `asset` (`null` or `"base"`: the native asset) and `timeout` (must equal the node's
//! challenge period, which is set in its configuration).

use std::sync::Arc;

use jsonrpsee::types::Params;
use paychan_core::{Address, ChannelId};

use super::{
    Context,
    open_channel::{resolve, target},
    set_auto_refill::refill,
};
use crate::{aa_params::AaCall, error::RpcError, params::AmountParam, types::BalancesAndStatus};

/// The parsed params of aa-channels method `method`.
pub(super) fn call(method: &str, params: &Params<'_>) -> Result<AaCall, RpcError> {
    AaCall::parse(method, params.as_str())?
        .ok_or_else(|| RpcError::invalid_params(format!("{method} is not an aa-channels call")))
}

/// Whether an aa-channels asset names the native asset.
fn native(asset: Option<&str>) -> bool {
    match asset {
        None => true,
        Some(a) => {
            a == "base"
                || a.parse::<Address>()
                    .is_ok_and(|address| address == Address::ZERO)
        }
    }
}

pub(crate) async fn create_new_channel(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<ChannelId, RpcError> {
    let AaCall::CreateNewChannel {
        peer,
        initial_amount,
        options,
    } = call(crate::method::aa::CREATE_NEW_CHANNEL, &params)?
    else {
        return Err(RpcError::invalid_params("not createNewChannel"));
    };
    if !native(options.asset.as_deref()) {
        return Err(RpcError::invalid_params(
            "options.asset: only the native asset (\"base\") is supported",
        ));
    }
    let period = ctx.node.config().challenge_period;
    if options.timeout.is_some_and(|t| t != period) {
        return Err(RpcError::invalid_params(format!(
            "options.timeout: this node opens channels with a challenge period of {period} s (set in its configuration)"
        )));
    }
    let target = target(Some(peer), None)?;
    ctx.check_funds(initial_amount).await?;
    let peer = resolve(&ctx, target).await?;
    let id = ctx.node.create_channel(peer, initial_amount).await?;
    if let Some(auto) = refill(options.auto_refill_threshold, options.auto_refill_amount) {
        ctx.node.set_auto_refill(id, Some(auto)).await?;
    }
    Ok(id)
}

/// What `sendMessageAndPay` pays, for a `pay` token's limit.
pub(crate) fn send_message_and_pay_amount(
    params: &Params<'_>,
) -> Result<paychan_core::Amount, RpcError> {
    match call(crate::method::aa::SEND_MESSAGE_AND_PAY, params)? {
        AaCall::SendMessageAndPay { amount, .. } => Ok(amount),
        _ => Err(RpcError::invalid_params("not sendMessageAndPay")),
    }
}

pub(crate) async fn send_message_and_pay(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<serde_json::Value, RpcError> {
    let AaCall::SendMessageAndPay {
        aa_address: id,
        message,
        amount,
    } = call(crate::method::aa::SEND_MESSAGE_AND_PAY, &params)?
    else {
        return Err(RpcError::invalid_params("not sendMessageAndPay"));
    };
    Ok(ctx.node.send_message_and_pay(id, &message, amount).await?)
}

pub(crate) async fn set_auto_refill(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<(), RpcError> {
    let AaCall::SetAutoRefill {
        aa_address: id,
        amount,
        threshold,
    } = call(crate::method::aa::SET_AUTO_REFILL, &params)?
    else {
        return Err(RpcError::invalid_params("not setAutoRefill"));
    };
    let (amount, threshold) = (amount.map(AmountParam), threshold.map(AmountParam));
    ctx.node
        .set_auto_refill(id, refill(threshold, amount))
        .await?;
    Ok(())
}

pub(crate) async fn get_balances_and_status(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<BalancesAndStatus, RpcError> {
    let AaCall::GetBalancesAndStatus { aa_address: id } =
        call(crate::method::aa::GET_BALANCES_AND_STATUS, &params)?
    else {
        return Err(RpcError::invalid_params("not getBalancesAndStatus"));
    };
    Ok(ctx.view(id).await?.into())
}

pub(crate) async fn get_channels_for_peer(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<Vec<ChannelId>, RpcError> {
    let AaCall::GetChannelsForPeer { peer, asset } =
        call(crate::method::aa::GET_CHANNELS_FOR_PEER, &params)?
    else {
        return Err(RpcError::invalid_params("not getChannelsForPeer"));
    };
    // A peer URL names the peer by its address before the '@'.
    let address = peer
        .split_once('@')
        .map_or(peer.as_str(), |(a, _)| a)
        .trim();
    let peer: Address = address.parse().map_err(|_| {
        RpcError::invalid_params(format!(
            "peer {peer:?} is not an address (0x and 40 hex digits)"
        ))
    })?;
    if !native(asset.as_deref()) {
        return Ok(vec![]);
    }
    Ok(ctx
        .node
        .channels(Some(peer))
        .await
        .iter()
        .map(|c| c.channel_id)
        .collect())
}
