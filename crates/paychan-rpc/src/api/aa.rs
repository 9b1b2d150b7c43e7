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
//! `asset` (`null`, `"base"`, `"native"` or the zero address: the native asset; any other is
//! refused) and `timeout` (the challenge period in seconds, within the node's policy bounds;
//! absent: the node's `challenge_period`).

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

/// The asset names of the native asset: absent or `null`, `"base"` (aa-channels' bytes),
/// `"native"` (paychan's name) and the zero address.
pub(crate) fn native(asset: Option<&str>) -> bool {
    match asset {
        None => true,
        Some(a) => {
            let a = a.trim();
            a == "base"
                || a == "native"
                || a.parse::<Address>()
                    .is_ok_and(|address| address == Address::ZERO)
        }
    }
}

/// Refuses any asset but the native one, saying why.
pub(crate) fn native_only(field: &str, asset: Option<&str>) -> Result<(), RpcError> {
    if native(asset) {
        return Ok(());
    }
    Err(RpcError::invalid_params(format!(
        "{field} {:?}: this node handles only the native asset (\"base\", \"native\" or the \
         zero address); other assets (tokens) are not supported at the node level yet",
        asset.unwrap_or_default()
    )))
}

/// The challenge period of a channel opened with aa-channels' `options.timeout`: the node's
/// own without one; the one given if it lies within the node's policy bounds
/// (`policy.min_challenge_period` to `policy.max_challenge_period`, the periods the node
/// accepts from peers) and is not shorter than the ledger lets this node defend.
pub(crate) async fn challenge_period(ctx: &Context, timeout: Option<u64>) -> Result<u64, RpcError> {
    let config = ctx.node.config();
    let Some(timeout) = timeout else {
        return Ok(config.challenge_period);
    };
    let mut min = config.policy.min_challenge_period;
    let max = config.policy.max_challenge_period;
    if let Some(ledger) = &ctx.ledger
        && let Ok(floor) = ledger.challenge_floor().await
    {
        min = min.max(floor.seconds);
    }
    if timeout < min || timeout > max {
        return Err(RpcError::invalid_params(format!(
            "options.timeout: {timeout} s is outside this node's bounds for a challenge period, \
             {min} s to {max} s (policy.min_challenge_period and what the ledger lets this node \
             defend, policy.max_challenge_period)"
        )));
    }
    Ok(timeout)
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
    native_only("options.asset", options.asset.as_deref())?;
    let period = challenge_period(&ctx, options.timeout).await?;
    let target = target(Some(peer), None)?;
    ctx.check_funds(initial_amount).await?;
    let peer = resolve(&ctx, target).await?;
    let id = ctx
        .node
        .create_channel_with_period(peer, initial_amount, period)
        .await?;
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
