//! Scoped tokens (see [`crate::tokens`]), for the full-access token only: `create_token
//! {scopes, limit?, period?, label?}` mints one and answers `{token, info}` (the token's text
//! is shown only here); `list_tokens` answers every token's info; `revoke_token {id}` revokes
//! one at once, on open WebSocket connections too.

use std::sync::Arc;

use jsonrpsee::types::Params;
use paychan_node::Category;
use serde::Deserialize;

use super::Context;
use crate::{
    error::{RpcError, TOKENS_DISABLED},
    params::{AmountParam, NoParams, parse},
    tokens::{PayLimit, Scope, TokenInfo, TokenRegistry},
    types::CreatedToken,
};

/// The params of `create_token`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Create {
    pub(crate) scopes: Vec<Scope>,
    #[serde(default)]
    pub(crate) limit: Option<AmountParam>,
    /// Seconds.
    #[serde(default)]
    pub(crate) period: Option<u64>,
    #[serde(default)]
    pub(crate) label: Option<String>,
}

/// The params of `revoke_token`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Revoke {
    pub(crate) id: u64,
}

fn registry(ctx: &Context) -> Result<&TokenRegistry, RpcError> {
    ctx.tokens.as_deref().ok_or_else(|| {
        RpcError::api(
            TOKENS_DISABLED,
            Category::Client,
            "this API does not offer scoped tokens",
        )
    })
}

pub(crate) async fn create(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<CreatedToken, RpcError> {
    run_create(&ctx, parse(&params)?).await
}

/// Mints a scoped token.
pub(crate) async fn run_create(ctx: &Context, p: Create) -> Result<CreatedToken, RpcError> {
    let limit = match (p.limit, p.period) {
        (None, None) => None,
        (Some(amount), Some(period)) => Some(PayLimit {
            amount: amount.positive("limit")?,
            period,
        }),
        _ => {
            return Err(RpcError::invalid_params(
                "limit and period go together (a pay token needs both)",
            ));
        }
    };
    let (info, token) = registry(ctx)?.create(&p.scopes, limit, p.label).await?;
    tracing::info!(id = info.id, scopes = ?info.scopes, "scoped token created");
    Ok(CreatedToken { token, info })
}

pub(crate) async fn list(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<Vec<TokenInfo>, RpcError> {
    parse::<NoParams>(&params)?;
    run_list(&ctx)
}

/// Every scoped token's info, by id.
pub(crate) fn run_list(ctx: &Context) -> Result<Vec<TokenInfo>, RpcError> {
    Ok(registry(ctx)?.list())
}

pub(crate) async fn revoke(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<TokenInfo, RpcError> {
    run_revoke(&ctx, parse(&params)?).await
}

/// Revokes a scoped token.
pub(crate) async fn run_revoke(ctx: &Context, p: Revoke) -> Result<TokenInfo, RpcError> {
    let info = registry(ctx)?.revoke(p.id).await?;
    tracing::info!(id = info.id, "scoped token revoked");
    Ok(info)
}
