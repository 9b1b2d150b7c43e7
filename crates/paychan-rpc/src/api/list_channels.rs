//! `list_channels {peer?}`: every channel, or those with `peer` (an address or a contact's
//! alias), ordered by id.

use std::{str::FromStr, sync::Arc};

use jsonrpsee::types::Params;
use paychan_core::Address;
use serde::Deserialize;

use super::Context;
use crate::{error::RpcError, params::parse, types::ChannelView};

/// The params of `list_channels`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListChannels {
    #[serde(default)]
    pub(crate) peer: Option<String>,
}

pub(crate) async fn handle(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<Vec<ChannelView>, RpcError> {
    run(&ctx, parse(&params)?).await
}

/// The channels, all or with one peer.
pub(crate) async fn run(ctx: &Context, p: ListChannels) -> Result<Vec<ChannelView>, RpcError> {
    let peer = match p.peer {
        None => None,
        Some(peer) if peer.trim().starts_with("0x") => {
            Some(Address::from_str(peer.trim()).map_err(|_| {
                RpcError::invalid_params(format!(
                    "peer {peer:?} is neither an address (0x and 40 hex digits) nor an alias"
                ))
            })?)
        }
        Some(alias) => Some(ctx.node.contact(&alias).await?.address),
    };
    Ok(ctx
        .node
        .channels(peer)
        .await
        .iter()
        .map(ChannelView::from)
        .collect())
}
