//! The watcher: follows the ledger's events from the cursor the store remembers, applies
//! them to our channels, submits the peer's latest voucher when a close counts less than it,
//! and reads the ledger's time on every tick for what is due then (settles, expired
//! withdrawal certificates: see `lifecycle`).

use futures::StreamExt;
use paychan_core::channel::LedgerAction;
use paychan_ledger::LedgerError;

use crate::{
    events::NodeEvent,
    node::{LEDGER_RETRY, Node},
};

/// Runs until the node shuts down; reconnects to the ledger's event stream when it breaks.
pub(crate) async fn run(node: Node) {
    let mut shutdown = node.inner.shutdown.subscribe();
    let mut ticker = tokio::time::interval(node.config().settle_check_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let cursor = match node.inner.store.ledger_cursor().await {
            Ok(c) => c,
            Err(e) => {
                node.emit(NodeEvent::Error {
                    channel_id: None,
                    message: format!("watcher: {e}"),
                });
                tokio::time::sleep(LEDGER_RETRY).await;
                continue;
            }
        };
        let mut stream = match node.inner.ledger.events(cursor).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "watcher: cannot follow the ledger; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(LEDGER_RETRY) => continue,
                    _ = shutdown.changed() => return,
                }
            }
        };
        loop {
            tokio::select! {
                item = stream.next() => match item {
                    Some(Ok(record)) => {
                        node.inner.metrics.ledger_answered();
                        if let Some(LedgerAction::SubmitVoucher(voucher)) = node.apply_ledger_event(&record).await {
                            let node = node.clone();
                            tokio::spawn(async move { submit(node, voucher).await });
                        }
                    }
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "watcher: the event stream failed; reconnecting");
                        break;
                    }
                    None => break,
                },
                _ = ticker.tick() => settle_due(&node).await,
                _ = shutdown.changed() => return,
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(LEDGER_RETRY) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Submits the peer's latest voucher, retrying while the ledger is unreachable.
async fn submit(node: Node, voucher: paychan_core::SignedVoucher) {
    let id = voucher.voucher.channel_id;
    loop {
        match node.inner.ledger.submit_voucher(&voucher).await {
            Ok(_) => {
                tracing::info!(channel = %id, cumulative = voucher.voucher.cumulative, "watcher submitted the peer's latest voucher");
                return;
            }
            Err(LedgerError::Unavailable(e)) => {
                tracing::warn!(channel = %id, error = %e, "watcher: ledger unavailable; retrying");
                tokio::time::sleep(LEDGER_RETRY).await;
            }
            Err(e) => {
                node.emit(NodeEvent::Error {
                    channel_id: Some(id),
                    message: format!("watcher could not submit: {e}"),
                });
                return;
            }
        }
    }
}

/// Runs what is due at the ledger's time (settles, expired withdrawals).
async fn settle_due(node: &Node) {
    if let Ok(now) = node.inner.ledger.now().await {
        node.inner.metrics.ledger_answered();
        node.on_ledger_time(now).await;
    }
}
