//! `set_unconfirmed_credit {per_channel?, total?, min_wait?}`: changes at run time how much
//! this node accepts ahead of peers' unconfirmed deposits (the config's
//! `policy.unconfirmed_per_channel` and `policy.unconfirmed_total`) and how long an
//! unconfirmed deposit must have been seen before it backs any (`min_wait`, seconds); each
//! given value replaces that setting, absent ones stay. Credit is given only while both
//! amounts are positive. Lasts until the node restarts. Answers the settings in force
//! `{per_channel, total, min_wait}` (with no params: only reads them).

use std::sync::Arc;

use jsonrpsee::types::Params;
use serde::{Deserialize, Serialize};

use super::Context;
use crate::{
    error::RpcError,
    params::{AmountParam, optional_amount, parse},
};

/// The params of `set_unconfirmed_credit`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetUnconfirmedCredit {
    #[serde(default, deserialize_with = "optional_amount")]
    pub(crate) per_channel: Option<AmountParam>,
    #[serde(default, deserialize_with = "optional_amount")]
    pub(crate) total: Option<AmountParam>,
    #[serde(default)]
    pub(crate) min_wait: Option<u64>,
}

/// The settings in force.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct UnconfirmedCreditView {
    pub(crate) per_channel: String,
    pub(crate) total: String,
    pub(crate) min_wait: u64,
}

pub(crate) async fn handle(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<UnconfirmedCreditView, RpcError> {
    let p: SetUnconfirmedCredit = match params.as_str() {
        None => SetUnconfirmedCredit {
            per_channel: None,
            total: None,
            min_wait: None,
        },
        Some(_) => parse(&params)?,
    };
    Ok(run(&ctx, p))
}

/// Sets what is given and answers the settings in force.
pub(crate) fn run(ctx: &Context, p: SetUnconfirmedCredit) -> UnconfirmedCreditView {
    let (limits, min_wait) = ctx.node.set_unconfirmed_credit(
        p.per_channel.map(|a| a.0),
        p.total.map(|a| a.0),
        p.min_wait,
    );
    UnconfirmedCreditView {
        per_channel: limits.per_channel.to_string(),
        total: limits.total.to_string(),
        min_wait,
    }
}
