//! `send_message {channel_id, message}`: sends a message without payment and answers the
//! peer's response.

use std::sync::Arc;

use jsonrpsee::types::Params;
use paychan_core::ChannelId;
use serde::Deserialize;

use super::Context;
use crate::{error::RpcError, params::parse, types::PayResult};

/// The params of `send_message`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SendMessage {
    pub(crate) channel_id: ChannelId,
    pub(crate) message: serde_json::Value,
}

pub(crate) async fn handle(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<PayResult, RpcError> {
    run(&ctx, parse(&params)?).await
}

/// Sends `p.message` without payment and answers the peer's response.
pub(crate) async fn run(ctx: &Context, p: SendMessage) -> Result<PayResult, RpcError> {
    let response = ctx.node.send_message(p.channel_id, &p.message).await?;
    Ok(PayResult { response })
}
