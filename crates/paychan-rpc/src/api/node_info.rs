//! `node_info`: the node's address, its ledger, the API version, where peers reach it, and
//! its balance, unclaimed payouts and the ledger's time when the ledger answers.

use std::sync::Arc;

use jsonrpsee::types::Params;
use paychan_core::Address;

use super::Context;
use crate::{
    error::RpcError,
    types::{LedgerInfo, NodeInfo, RPC_VERSION, amount_string},
};

pub(crate) async fn handle(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<NodeInfo, RpcError> {
    let _: crate::params::NoParams = crate::params::parse(&params)?;
    let domain = ctx.node.domain();
    let (balance, ledger_time, unclaimed) = match &ctx.ledger {
        Some(ledger) => (
            ledger
                .balance(ctx.node.address(), Address::ZERO)
                .await
                .ok()
                .map(amount_string),
            ledger.now().await.ok(),
            ledger
                .unclaimed(ctx.node.address(), Address::ZERO)
                .await
                .ok()
                .map(amount_string),
        ),
        None => (None, None, None),
    };
    Ok(NodeInfo {
        address: ctx.node.address(),
        ledger: LedgerInfo {
            chain_id: domain.chain_id(),
            verifying_contract: domain.verifying_contract(),
        },
        rpc_version: RPC_VERSION,
        node_version: env!("CARGO_PKG_VERSION").to_owned(),
        listen: ctx
            .dialer
            .as_ref()
            .map(|d| d.listen_addresses())
            .unwrap_or_default(),
        balance,
        ledger_time,
        unclaimed,
    })
}
