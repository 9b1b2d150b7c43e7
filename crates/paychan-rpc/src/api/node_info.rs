//! `node_info`: the node's address, its ledger, the API version, where peers reach it, its
//! balance, unclaimed payouts and the ledger's time when the ledger answers, the connected
//! peers, its channels counted by phase with what is available in the open ones, and its
//! ledger transactions still being confirmed ("2/3").

use std::sync::Arc;

use jsonrpsee::types::Params;
use paychan_core::Address;

use super::Context;
use crate::{
    error::RpcError,
    types::{ChannelTotals, LedgerInfo, NodeInfo, RPC_VERSION, amount_string},
};

pub(crate) async fn handle(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<NodeInfo, RpcError> {
    let _: crate::params::NoParams = crate::params::parse(&params)?;
    run(&ctx).await
}

/// The node's identity, ledger, balance and channel totals.
pub(crate) async fn run(ctx: &Context) -> Result<NodeInfo, RpcError> {
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
    let mut channels = ChannelTotals::default();
    let (mut mine, mut theirs) = (0u128, 0u128);
    for c in ctx.node.channels(None).await {
        channels.total = channels.total.saturating_add(1);
        match c.status.as_str() {
            "open" => {
                channels.open = channels.open.saturating_add(1);
                mine = mine.saturating_add(c.balances.my_available);
                theirs = theirs.saturating_add(c.balances.peer_available);
            }
            "closing" => channels.closing = channels.closing.saturating_add(1),
            "closed" => {}
            _ => channels.opening = channels.opening.saturating_add(1),
        }
    }
    channels.my_available = amount_string(mine);
    channels.peer_available = amount_string(theirs);
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
        connected_peers: u64::try_from(ctx.node.connected_peers()).unwrap_or(u64::MAX),
        channels,
        pending_transactions: ctx
            .ledger
            .as_ref()
            .map(|l| l.pending_transactions())
            .unwrap_or_default(),
    })
}
