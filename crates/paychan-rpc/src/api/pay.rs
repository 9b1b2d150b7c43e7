//! `pay {channel_id, amount, message}`: pays `amount` for `message` (any JSON, `null` if
//! absent) and answers the peer's response. If the peer's handler fails, the payment is not
//! counted and the error (code 2003) carries the handler's message.

use std::sync::Arc;

use jsonrpsee::types::Params;
use paychan_core::ChannelId;
use serde::Deserialize;

use super::Context;
use crate::{
    error::RpcError,
    params::{AmountParam, parse},
    types::PayResult,
};

/// The params of `pay`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Pay {
    pub(crate) channel_id: ChannelId,
    pub(crate) amount: AmountParam,
    #[serde(default)]
    pub(crate) message: serde_json::Value,
}

/// What the call pays, for a `pay` token's limit.
pub(crate) fn amount(params: &Params<'_>) -> Result<paychan_core::Amount, RpcError> {
    let p: Pay = parse(params)?;
    p.amount.positive("amount")
}

pub(crate) async fn handle(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<PayResult, RpcError> {
    run(&ctx, parse(&params)?).await
}

/// Pays `p.amount` for `p.message` and answers the peer's response.
pub(crate) async fn run(ctx: &Context, p: Pay) -> Result<PayResult, RpcError> {
    let amount = p.amount.positive("amount")?;
    let response = ctx
        .node
        .send_message_and_pay(p.channel_id, &p.message, amount)
        .await?;
    Ok(PayResult { response })
}
