//! `withdraw {channel_id, amount}`: withdraws from our side while the channel stays open
//! (the peer co-signs); answers the channel once the ledger has paid out.

use std::sync::Arc;

use jsonrpsee::types::Params;
use paychan_core::ChannelId;
use serde::Deserialize;

use super::Context;
use crate::{
    error::RpcError,
    params::{AmountParam, parse},
    types::ChannelView,
};

/// The params of `withdraw`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Withdraw {
    pub(crate) channel_id: ChannelId,
    pub(crate) amount: AmountParam,
}

pub(crate) async fn handle(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<ChannelView, RpcError> {
    run(&ctx, parse(&params)?).await
}

/// Withdraws `p.amount` and answers the channel.
pub(crate) async fn run(ctx: &Context, p: Withdraw) -> Result<ChannelView, RpcError> {
    let amount = p.amount.positive("amount")?;
    ctx.node.withdraw(p.channel_id, amount).await?;
    ctx.view(p.channel_id).await
}
