//! `open_channel {peer | peer_url, deposit}`: proposes a channel to a peer with our initial
//! deposit and opens it on the ledger once the peer accepts; answers the new channel.
//!
//! `peer` is the address of a connected peer or of one the node knows where to reach, or a
//! contact's alias (dialed at the contact's URL if it has one and is not connected);
//! `peer_url` (or a `peer` containing `@`) is `ADDRESS@HOST:PORT` or
//! `ADDRESS@ws(s)://HOST[:PORT]/PATH`, dialed first. The deposit may be zero (the peer may
//! fund the channel); it is checked against the ledger balance before anything is sent.
//! With `propose: false` the channel is opened on the ledger without asking the peer (who
//! need not be online): the peer learns it from the first payment package.

use std::{str::FromStr, sync::Arc};

use jsonrpsee::types::Params;
use paychan_core::Address;
use serde::Deserialize;

use super::Context;
use crate::{
    error::RpcError,
    params::{AmountParam, parse},
    types::ChannelView,
};

/// The params of `open_channel`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OpenChannel {
    #[serde(default)]
    pub(crate) peer: Option<String>,
    pub(crate) deposit: AmountParam,
    #[serde(default)]
    pub(crate) peer_url: Option<String>,
    #[serde(default = "yes")]
    pub(crate) propose: bool,
}

fn yes() -> bool {
    true
}

/// Who to open a channel with.
pub(crate) enum Target {
    Address(Address),
    Url(String),
    Alias(String),
}

/// Parses `peer` (an address, or a URL if it contains `@`) or `peer_url`.
pub(crate) fn target(peer: Option<String>, peer_url: Option<String>) -> Result<Target, RpcError> {
    match (peer, peer_url) {
        (Some(_), Some(_)) => Err(RpcError::invalid_params("give peer or peer_url, not both")),
        (None, None) => Err(RpcError::invalid_params(
            "missing field `peer` (or `peer_url`)",
        )),
        (None, Some(url)) => Ok(Target::Url(url)),
        (Some(peer), None) if peer.contains('@') => Ok(Target::Url(peer)),
        (Some(peer), None) if peer.trim().starts_with("0x") => Address::from_str(peer.trim())
            .map(Target::Address)
            .map_err(|_| {
                RpcError::invalid_params(format!(
                    "peer {peer:?} is not an address (0x and 40 hex digits), a contact's \
                     alias, nor ADDRESS@HOST:PORT"
                ))
            }),
        (Some(alias), None) => Ok(Target::Alias(alias)),
    }
}

/// Connects to the target if needed and returns its address.
pub(crate) async fn resolve(ctx: &Context, target: Target) -> Result<Address, RpcError> {
    match target {
        Target::Address(peer) => {
            ctx.reach(peer).await?;
            Ok(peer)
        }
        Target::Url(url) => ctx.dial(&url).await,
        Target::Alias(alias) => {
            let contact = ctx.node.contact(&alias).await?;
            match contact.peer_url {
                Some(url) if !ctx.node.is_connected(contact.address) && ctx.dialer.is_some() => {
                    ctx.dial(&url).await
                }
                _ => {
                    ctx.reach(contact.address).await?;
                    Ok(contact.address)
                }
            }
        }
    }
}

pub(crate) async fn handle(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<ChannelView, RpcError> {
    run(&ctx, parse(&params)?).await
}

/// Opens a channel and answers it.
pub(crate) async fn run(ctx: &Context, p: OpenChannel) -> Result<ChannelView, RpcError> {
    let target = target(p.peer, p.peer_url)?;
    let deposit = p.deposit.0;
    ctx.check_funds(deposit).await?;
    let id = if p.propose {
        let peer = resolve(ctx, target).await?;
        ctx.node.create_channel(peer, deposit).await?
    } else {
        // Nothing to dial: the peer learns the channel from the ledger.
        let peer = match target {
            Target::Address(peer) => peer,
            Target::Url(url) => paychan_node::contacts::parse_peer(&url)?.0,
            Target::Alias(alias) => ctx.node.contact(&alias).await?.address,
        };
        ctx.node.open_channel_on_ledger(peer, deposit).await?
    };
    let peer = ctx.view(id).await?.peer;
    tracing::info!(channel = %id, %peer, deposit, "channel opened");
    ctx.view(id).await
}
