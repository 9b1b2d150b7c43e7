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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Create {
    scopes: Vec<Scope>,
    #[serde(default)]
    limit: Option<AmountParam>,
    /// Seconds.
    #[serde(default)]
    period: Option<u64>,
    #[serde(default)]
    label: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Revoke {
    id: u64,
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
    let p: Create = parse(&params)?;
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
    let (info, token) = registry(&ctx)?.create(&p.scopes, limit, p.label).await?;
    tracing::info!(id = info.id, scopes = ?info.scopes, "scoped token created");
    Ok(CreatedToken { token, info })
}

pub(crate) async fn list(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<Vec<TokenInfo>, RpcError> {
    parse::<NoParams>(&params)?;
    Ok(registry(&ctx)?.list())
}

pub(crate) async fn revoke(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<TokenInfo, RpcError> {
    let p: Revoke = parse(&params)?;
    let info = registry(&ctx)?.revoke(p.id).await?;
    tracing::info!(id = info.id, "scoped token revoked");
    Ok(info)
}
