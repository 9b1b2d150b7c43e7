//! `close {channel_id, force}` (also aa-channels' positional `close [aa_address]`): closes
//! cooperatively when the peer co-signs, otherwise (or with `force`) starts a unilateral
//! close that the node settles after the challenge period. Answers `{cooperative, channel}`.

use std::sync::Arc;

use jsonrpsee::types::Params;
use paychan_core::ChannelId;
use serde::Deserialize;

use super::Context;
use crate::{error::RpcError, params::parse, types::CloseResult};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Close {
    channel_id: ChannelId,
    #[serde(default)]
    force: bool,
}

pub(crate) async fn handle(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<CloseResult, RpcError> {
    let p: Close = parse(&params)?;
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
