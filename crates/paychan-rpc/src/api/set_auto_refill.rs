//! `set_auto_refill {channel_id, threshold, amount}`: deposits `amount` whenever what we may
//! spend falls below `threshold` after a payment. A zero or absent threshold or amount turns
//! it off. Answers the channel.

use std::sync::Arc;

use jsonrpsee::types::Params;
use paychan_core::{Amount, ChannelId};
use serde::Deserialize;

use super::Context;
use crate::{
    error::RpcError,
    params::{AmountParam, optional_amount, parse},
    types::ChannelView,
};

/// The params of `set_auto_refill`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetAutoRefill {
    pub(crate) channel_id: ChannelId,
    #[serde(default, deserialize_with = "optional_amount")]
    pub(crate) threshold: Option<AmountParam>,
    #[serde(default, deserialize_with = "optional_amount")]
    pub(crate) amount: Option<AmountParam>,
}

/// `Some((threshold, amount))` if both are positive, `None` (off) otherwise.
pub(crate) fn refill(
    threshold: Option<AmountParam>,
    amount: Option<AmountParam>,
) -> Option<(Amount, Amount)> {
    match (threshold, amount) {
        (Some(AmountParam(t)), Some(AmountParam(a))) if t > 0 && a > 0 => Some((t, a)),
        _ => None,
    }
}

pub(crate) async fn handle(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<ChannelView, RpcError> {
    run(&ctx, parse(&params)?).await
}

/// Sets (or turns off) auto-refill and answers the channel.
pub(crate) async fn run(ctx: &Context, p: SetAutoRefill) -> Result<ChannelView, RpcError> {
    ctx.node
        .set_auto_refill(p.channel_id, refill(p.threshold, p.amount))
        .await?;
    ctx.view(p.channel_id).await
}
