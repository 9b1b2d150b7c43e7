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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetAutoRefill {
    channel_id: ChannelId,
    #[serde(default, deserialize_with = "optional_amount")]
    threshold: Option<AmountParam>,
    #[serde(default, deserialize_with = "optional_amount")]
    amount: Option<AmountParam>,
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
    let p: SetAutoRefill = parse(&params)?;
    ctx.node
        .set_auto_refill(p.channel_id, refill(p.threshold, p.amount))
        .await?;
    ctx.view(p.channel_id).await
}
