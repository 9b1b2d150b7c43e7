//! What the tests of the paywall commands (`paychan proxy`, `paychan front`) share: reading
//! a URL from a banner, and a paying node in the test's process on a served ledger.

#![allow(clippy::unwrap_used)]

use std::{path::Path, sync::Arc};

use paychan_core::{Address, SigningKey};
use paychan_ledger::rpc::{RpcLedger, RpcReader};
use paychan_node::{Node, NodeConfig};
use paychan_store::{Durability, sqlite::SqliteStore};

/// The `http://HOST:PORT` that follows `prefix` in a banner line of `log`.
pub(crate) fn banner_url(log: &str, prefix: &str) -> Option<String> {
    let rest = log.lines().find_map(|line| line.strip_prefix(prefix))?;
    let url = rest.split_whitespace().next()?;
    (url.starts_with("http://") || url.starts_with("https://")).then(|| url.to_owned())
}

/// A payer node in this process on the served ledger at `ledger_url`, its key from `seed`,
/// funded by the ledger's faucet, its store in `dir`.
pub(crate) async fn payer(ledger_url: &str, dir: &Path, seed: u8) -> Node {
    let key = SigningKey::from_entropy(&[seed; 32]).unwrap();
    RpcReader::connect(ledger_url)
        .await
        .unwrap()
        .faucet(key.address(), Address::ZERO, 1_000_000)
        .await
        .unwrap();
    let store = SqliteStore::open(dir.join("payer.db"), Durability::Normal).unwrap();
    Node::builder()
        .key(key.clone())
        .ledger(Arc::new(RpcLedger::connect(ledger_url, key).await.unwrap()))
        .store(Arc::new(store))
        .config(NodeConfig::default())
        .build()
        .await
        .unwrap()
}
