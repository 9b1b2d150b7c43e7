//! `paychan info`: the node's address, ledger, balance, peers, channel totals and the ledger
//! transactions it is still confirming ("confirmations 2/3").

use anyhow::Result;
use paychan_rpc::{method, types::NodeInfo};
use serde_json::json;

use crate::{
    channel::{InfoArgs, with_api},
    output::outln,
};

/// Runs `paychan info`.
pub(crate) fn run(args: &InfoArgs) -> Result<()> {
    with_api(&args.api, |api| async move {
        let info: NodeInfo = api.call(method::NODE_INFO, json!({})).await?;
        if api.json {
            outln!(
                "{}",
                serde_json::to_string(&info).map_err(anyhow::Error::from)?
            );
            return Ok(());
        }
        outln!(
            "node {} (paychan {}, API v{})",
            info.address,
            info.node_version,
            info.rpc_version
        );
        outln!(
            "  ledger   chain {} adjudicator {}",
            info.ledger.chain_id,
            info.ledger.verifying_contract
        );
        if let Some(balance) = &info.balance {
            outln!("  balance  {balance}");
        }
        if let Some(unclaimed) = info.unclaimed.as_ref().filter(|u| *u != "0") {
            outln!(
                "  unclaimed {unclaimed} (payouts the ledger could not deliver: `paychan eth claim`)"
            );
        }
        for addr in &info.listen {
            outln!("  reach me {addr}");
        }
        outln!("  peers    {} connected", info.connected_peers);
        let c = &info.channels;
        outln!(
            "  channels {} open, {} opening, {} closing ({} in all)",
            c.open,
            c.opening,
            c.closing,
            c.total
        );
        if c.open > 0 {
            outln!(
                "  open     we may pay {}, peers may pay {}",
                c.my_available,
                c.peer_available
            );
        }
        for tx in &info.pending_transactions {
            outln!("  pending  {}", describe_pending(tx));
        }
        Ok(())
    })
}

/// `open 0x1234…abcd: confirmations 2/3` (or `waiting to be mined`).
pub(crate) fn describe_pending(tx: &paychan_ledger::types::PendingTransaction) -> String {
    let hash = tx.hash.to_string();
    let short = match (hash.get(..6), hash.get(hash.len().saturating_sub(4)..)) {
        (Some(head), Some(tail)) => format!("{head}…{tail}"),
        _ => hash,
    };
    if tx.block.is_none() {
        format!("{} {short}: waiting to be mined", tx.action)
    } else {
        format!(
            "{} {short}: confirmations {}/{}",
            tx.action, tx.confirmations, tx.required
        )
    }
}
