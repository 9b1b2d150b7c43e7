//! `channel_info {channel_id}`: a channel's balances and status.

use std::sync::Arc;

use jsonrpsee::types::Params;
use paychan_core::ChannelId;
use serde::Deserialize;

use super::Context;
use crate::{error::RpcError, params::parse, types::ChannelView};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelInfo {
    channel_id: ChannelId,
}

pub(crate) async fn handle(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<ChannelView, RpcError> {
    let p: ChannelInfo = parse(&params)?;
    ctx.view(p.channel_id).await
}
