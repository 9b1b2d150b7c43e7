//! `list_channels {peer?}`: every channel, or those with `peer`, ordered by id.

use std::sync::Arc;

use jsonrpsee::types::Params;
use paychan_core::Address;
use serde::Deserialize;

use super::Context;
use crate::{error::RpcError, params::parse, types::ChannelView};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListChannels {
    #[serde(default)]
    peer: Option<Address>,
}

pub(crate) async fn handle(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<Vec<ChannelView>, RpcError> {
    let p: ListChannels = parse(&params)?;
    Ok(ctx
        .node
        .channels(p.peer)
        .await
        .iter()
        .map(ChannelView::from)
        .collect())
}
