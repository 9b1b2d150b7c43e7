//! `channel_info {channel_id}`: a channel's balances and status.

use std::sync::Arc;

use jsonrpsee::types::Params;
use paychan_core::ChannelId;
use serde::Deserialize;

use super::Context;
use crate::{error::RpcError, params::parse, types::ChannelView};

/// The params of `channel_info`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChannelInfo {
    pub(crate) channel_id: ChannelId,
}

pub(crate) async fn handle(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<ChannelView, RpcError> {
    run(&ctx, parse(&params)?).await
}

/// The channel's view.
pub(crate) async fn run(ctx: &Context, p: ChannelInfo) -> Result<ChannelView, RpcError> {
    ctx.view(p.channel_id).await
}
