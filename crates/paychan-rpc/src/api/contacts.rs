//! Contacts: `add_contact {alias, peer, replace?}`, `get_contact {alias}`, `list_contacts`,
//! `remove_contact {alias}`. `peer` is an address or a peer URL (`ADDRESS@HOST:PORT`,
//! `ADDRESS@ws://...`); an alias can then stand for the peer in `open_channel` and
//! `list_channels`. Contacts are persisted in the node's store.

use std::sync::Arc;

use jsonrpsee::types::Params;
use serde::Deserialize;

use super::Context;
use crate::{
    error::RpcError,
    params::{NoParams, parse},
    types::ContactView,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddContact {
    alias: String,
    peer: String,
    #[serde(default)]
    replace: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Alias {
    alias: String,
}

pub(crate) async fn add(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<ContactView, RpcError> {
    let p: AddContact = parse(&params)?;
    let contact = ctx.node.add_contact(&p.alias, &p.peer, p.replace).await?;
    Ok(ContactView::from(&contact))
}

pub(crate) async fn get(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<ContactView, RpcError> {
    let p: Alias = parse(&params)?;
    Ok(ContactView::from(&ctx.node.contact(&p.alias).await?))
}

pub(crate) async fn list(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<Vec<ContactView>, RpcError> {
    parse::<NoParams>(&params)?;
    Ok(ctx
        .node
        .contacts()
        .await?
        .iter()
        .map(ContactView::from)
        .collect())
}

pub(crate) async fn remove(ctx: Arc<Context>, params: Params<'static>) -> Result<bool, RpcError> {
    let p: Alias = parse(&params)?;
    ctx.node.remove_contact(&p.alias).await?;
    Ok(true)
}
