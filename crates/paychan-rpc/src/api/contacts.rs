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

/// The params of `add_contact`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddContact {
    pub(crate) alias: String,
    pub(crate) peer: String,
    #[serde(default)]
    pub(crate) replace: bool,
}

/// The params of `get_contact` and `remove_contact`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Alias {
    pub(crate) alias: String,
}

pub(crate) async fn add(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<ContactView, RpcError> {
    run_add(&ctx, parse(&params)?).await
}

/// Adds (or with `replace`, replaces) a contact.
pub(crate) async fn run_add(ctx: &Context, p: AddContact) -> Result<ContactView, RpcError> {
    let contact = ctx.node.add_contact(&p.alias, &p.peer, p.replace).await?;
    Ok(ContactView::from(&contact))
}

pub(crate) async fn get(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<ContactView, RpcError> {
    run_get(&ctx, parse(&params)?).await
}

/// The contact of an alias.
pub(crate) async fn run_get(ctx: &Context, p: Alias) -> Result<ContactView, RpcError> {
    Ok(ContactView::from(&ctx.node.contact(&p.alias).await?))
}

pub(crate) async fn list(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<Vec<ContactView>, RpcError> {
    parse::<NoParams>(&params)?;
    run_list(&ctx).await
}

/// Every contact, ordered by alias.
pub(crate) async fn run_list(ctx: &Context) -> Result<Vec<ContactView>, RpcError> {
    Ok(ctx
        .node
        .contacts()
        .await?
        .iter()
        .map(ContactView::from)
        .collect())
}

pub(crate) async fn remove(ctx: Arc<Context>, params: Params<'static>) -> Result<bool, RpcError> {
    run_remove(&ctx, parse(&params)?).await
}

/// Removes a contact.
pub(crate) async fn run_remove(ctx: &Context, p: Alias) -> Result<bool, RpcError> {
    ctx.node.remove_contact(&p.alias).await?;
    Ok(true)
}
