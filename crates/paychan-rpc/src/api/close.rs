//! `close {channel_id, force}` (also aa-channels' positional `close [aa_address]`): closes
//! cooperatively when the peer co-signs, otherwise (or with `force`) starts a unilateral
//! close that the node settles after the challenge period. Answers `{cooperative, channel}`.

use std::sync::Arc;

use jsonrpsee::types::Params;
use paychan_core::ChannelId;
use serde::Deserialize;

use super::Context;
use crate::{error::RpcError, params::parse, types::CloseResult};

/// The params of `close`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Close {
    pub(crate) channel_id: ChannelId,
    #[serde(default)]
    pub(crate) force: bool,
}

pub(crate) async fn handle(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<CloseResult, RpcError> {
    run(&ctx, parse(&params)?).await
}

/// Closes the channel (cooperatively unless `p.force` or the peer does not co-sign).
pub(crate) async fn run(ctx: &Context, p: Close) -> Result<CloseResult, RpcError> {
    let cooperative = if p.force {
        ctx.node.force_close(p.channel_id).await?;
        false
    } else {
        ctx.node.close(p.channel_id).await?
    };
    tracing::info!(channel = %p.channel_id, cooperative, "close");
    Ok(CloseResult {
        cooperative,
        channel: ctx.view(p.channel_id).await?,
    })
}
