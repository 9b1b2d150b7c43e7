//! Channel proposals decided over the API ([`paychan_node::decisions`]), offered when the
//! server is built with [`RpcServerBuilder::proposal_decisions`](crate::RpcServerBuilder::proposal_decisions):
//!
//! - `subscribe_proposals` / `unsubscribe_proposals` (WebSocket only): each proposal that
//!   passed the node's channel policy, as a notification of method `proposal` whose `result`
//!   is a [`ProposalView`] carrying its expiry;
//! - `list_proposals` → the proposals waiting now (for clients that were not subscribed);
//! - `accept_proposal {channel_id}` / `reject_proposal {channel_id, reason?}` → `true`.
//!
//! A proposal undecided at its expiry is rejected and told so; deciding it afterwards answers
//! error 1912 and changes nothing.

use std::sync::Arc;

use jsonrpsee::{
    PendingSubscriptionSink, RpcModule,
    core::{RegisterMethodError, SubscriptionResult},
    types::{ErrorObjectOwned, Params},
};
use paychan_core::ChannelId;
use paychan_node::{Category, decisions::ProposalDecisions};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::Context;
use crate::{
    error::{DECISIONS_NOT_ENABLED, RpcError, UNKNOWN_PROPOSAL},
    method,
    params::{NoParams, parse},
    types::ProposalView,
};

pub(crate) fn decisions(ctx: &Context) -> Result<&Arc<ProposalDecisions>, RpcError> {
    ctx.decisions.as_ref().ok_or_else(|| {
        RpcError::api(
            DECISIONS_NOT_ENABLED,
            Category::Client,
            "this node decides channel proposals by its policy alone: set rpc.proposal_decisions = true to decide them over the API",
        )
    })
}

/// `list_proposals` → the proposals waiting for a decision, oldest first.
pub(crate) async fn list(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<Vec<ProposalView>, RpcError> {
    parse::<NoParams>(&params)?;
    run_list(&ctx)
}

/// The proposals waiting for a decision, oldest first.
pub(crate) fn run_list(ctx: &Context) -> Result<Vec<ProposalView>, RpcError> {
    Ok(decisions(ctx)?
        .pending()
        .iter()
        .map(ProposalView::from)
        .collect())
}

/// The params of `accept_proposal`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Accept {
    pub(crate) channel_id: ChannelId,
}

/// The params of `reject_proposal`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Reject {
    pub(crate) channel_id: ChannelId,
    #[serde(default)]
    pub(crate) reason: Option<String>,
}

fn unknown(e: paychan_node::decisions::DecisionError) -> RpcError {
    RpcError::api(UNKNOWN_PROPOSAL, Category::Client, e.to_string())
}

/// `accept_proposal {channel_id}` → `true`.
pub(crate) async fn accept(ctx: Arc<Context>, params: Params<'static>) -> Result<bool, RpcError> {
    run_accept(&ctx, parse(&params)?)
}

/// Accepts a waiting proposal.
pub(crate) fn run_accept(ctx: &Context, p: Accept) -> Result<bool, RpcError> {
    decisions(ctx)?.accept(p.channel_id).map_err(unknown)?;
    tracing::info!(channel = %p.channel_id, "channel proposal accepted over the API");
    Ok(true)
}

/// `reject_proposal {channel_id, reason?}` → `true`.
pub(crate) async fn reject(ctx: Arc<Context>, params: Params<'static>) -> Result<bool, RpcError> {
    run_reject(&ctx, parse(&params)?)
}

/// Rejects a waiting proposal.
pub(crate) fn run_reject(ctx: &Context, p: Reject) -> Result<bool, RpcError> {
    let reason = p.reason.unwrap_or_default();
    decisions(ctx)?
        .reject(p.channel_id, &reason)
        .map_err(unknown)?;
    tracing::info!(channel = %p.channel_id, %reason, "channel proposal rejected over the API");
    Ok(true)
}

async fn forward(
    params: Params<'static>,
    pending: PendingSubscriptionSink,
    ctx: Arc<Context>,
) -> SubscriptionResult {
    if let Err(e) = parse::<NoParams>(&params) {
        pending.reject(ErrorObjectOwned::from(e)).await;
        return Ok(());
    }
    let mut proposals = match decisions(&ctx) {
        Ok(decisions) => decisions.subscribe(),
        Err(e) => {
            pending.reject(ErrorObjectOwned::from(e)).await;
            return Ok(());
        }
    };
    let sink = pending.accept().await?;
    loop {
        let next = tokio::select! {
            () = sink.closed() => return Ok(()),
            next = proposals.recv() => next,
        };
        let proposal = match next {
            Ok(proposal) => proposal,
            // Missed announcements are still listed by `list_proposals`.
            Err(RecvError::Lagged(lost)) => {
                tracing::warn!(lost, "a proposal subscriber fell behind");
                continue;
            }
            Err(RecvError::Closed) => return Ok(()),
        };
        let message = serde_json::value::to_raw_value(&ProposalView::from(&proposal))?;
        if sink.send(message).await.is_err() {
            return Ok(());
        }
    }
}

pub(crate) fn register(module: &mut RpcModule<Context>) -> Result<(), RegisterMethodError> {
    module.register_subscription(
        method::SUBSCRIBE_PROPOSALS,
        method::PROPOSAL_NOTIFICATION,
        method::UNSUBSCRIBE_PROPOSALS,
        |params, pending, ctx, _| forward(params, pending, ctx),
    )?;
    Ok(())
}
