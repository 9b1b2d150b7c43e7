//! `send_message {channel_id, message}`: sends a message without payment and answers the
//! peer's response.

use std::sync::Arc;

use jsonrpsee::types::Params;
use paychan_core::ChannelId;
use serde::Deserialize;

use super::Context;
use crate::{error::RpcError, params::parse, types::PayResult};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendMessage {
    channel_id: ChannelId,
    message: serde_json::Value,
}

pub(crate) async fn handle(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<PayResult, RpcError> {
    let p: SendMessage = parse(&params)?;
    let response = ctx.node.send_message(p.channel_id, &p.message).await?;
    Ok(PayResult { response })
}
