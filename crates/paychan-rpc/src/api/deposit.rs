//! `deposit {channel_id, amount}` (also aa-channels' positional `deposit [aa_address,
//! amount]`): deposits more into our side of the channel; answers the channel once the
//! ledger has the deposit.

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

/// The params of `deposit`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Deposit {
    pub(crate) channel_id: ChannelId,
    pub(crate) amount: AmountParam,
}

pub(crate) async fn handle(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<ChannelView, RpcError> {
    run(&ctx, parse(&params)?).await
}

/// Deposits `p.amount` and answers the channel.
pub(crate) async fn run(ctx: &Context, p: Deposit) -> Result<ChannelView, RpcError> {
    let amount = p.amount.positive("amount")?;
    // Unknown channels are refused before the ledger is asked.
    ctx.node.channel_info(p.channel_id).await?;
    ctx.check_funds(amount).await?;
    ctx.node.deposit(p.channel_id, amount).await?;
    ctx.view(p.channel_id).await
}
