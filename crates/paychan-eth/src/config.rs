//! Configuration of the Ethereum ledger: where the contract is and how cautious to be.

use std::{path::PathBuf, time::Duration};

use paychan_core::Address;
use serde::{Deserialize, Serialize};

/// How to reach one deployed `PaychanAdjudicator` (the `[ledger] kind = "ethereum"` section of
/// the node configuration).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EthConfig {
    /// The JSON-RPC endpoint (HTTP or HTTPS).
    pub rpc_url: String,
    /// The adjudicator's address.
    pub contract: Address,
    /// The chain id the node must report (signatures are bound to it).
    pub chain_id: u64,
    /// A transaction counts, and an event is delivered, once its block has this many blocks on
    /// top of it, itself included (1 = mined). Reorgs shallower than this are invisible.
    #[serde(default = "default_confirmations")]
    pub confirmations: u64,
    /// The block the contract was deployed in: the event log starts there.
    #[serde(default)]
    pub start_block: u64,
    /// How often to poll the node for receipts, new blocks and logs.
    #[serde(default = "default_poll", with = "millis")]
    pub poll_interval: Duration,
    /// The chain's time between blocks (mainnet: 12 s). With `confirmations` it says how long
    /// a close takes to reach the watcher, and so the shortest challenge period the node can
    /// defend ([`EthConfig::challenge_floor`]).
    #[serde(default = "default_block_time", with = "millis")]
    pub block_time: Duration,
    /// How long a transaction may wait before a block includes it (congestion, fee spikes):
    /// part of the time the watcher needs to answer a close.
    #[serde(default = "default_inclusion_delay", with = "millis")]
    pub inclusion_delay: Duration,
    /// How long to wait for a sent transaction to be mined and confirmed before answering
    /// `Unavailable`.
    #[serde(default = "default_tx_timeout", with = "millis")]
    pub tx_timeout: Duration,
    /// The most blocks asked for in one `eth_getLogs`.
    #[serde(default = "default_log_range")]
    pub max_log_range: u64,
    /// Retries of rate-limited requests (HTTP 429 and similar) by the transport layer.
    #[serde(default = "default_retries")]
    pub max_retries: u32,
    /// Where the event index (cursor and confirmed events) is kept across restarts; `None`
    /// keeps it in memory and rebuilds it from the logs at start.
    #[serde(default)]
    pub index_dir: Option<PathBuf>,
    /// Fixed fees per gas (max fee, priority fee) instead of the node's estimate; `Some((0, 0))`
    /// on a development chain without fees.
    #[serde(default)]
    pub fixed_fees: Option<(u128, u128)>,
}

impl EthConfig {
    /// A configuration with the defaults: 3 confirmations (mainnet users want more), 1 s
    /// polling, 10 min transaction timeout.
    pub fn new(rpc_url: impl Into<String>, contract: Address, chain_id: u64) -> Self {
        EthConfig {
            rpc_url: rpc_url.into(),
            contract,
            chain_id,
            confirmations: default_confirmations(),
            start_block: 0,
            poll_interval: default_poll(),
            block_time: default_block_time(),
            inclusion_delay: default_inclusion_delay(),
            tx_timeout: default_tx_timeout(),
            max_log_range: default_log_range(),
            max_retries: default_retries(),
            index_dir: None,
            fixed_fees: None,
        }
    }
}

fn default_confirmations() -> u64 {
    3
}
fn default_block_time() -> Duration {
    Duration::from_secs(12)
}
fn default_inclusion_delay() -> Duration {
    Duration::from_secs(120)
}

/// Whole seconds of `d`, rounded up.
fn ceil_secs(d: Duration) -> u64 {
    d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0))
}
impl EthConfig {
    /// The shortest challenge period a node with this configuration can defend, and how it is
    /// made up (docs/ETHEREUM.md, "Challenge periods"): the close must reach the watcher
    /// (`confirmations` blocks of `block_time`, plus one poll), then the watcher's answer
    /// must be included (`inclusion_delay`) and confirmed (`confirmations` blocks again)
    /// before the deadline; twice that, as a margin for slow blocks and a node that restarts.
    pub fn challenge_floor(&self) -> (u64, String) {
        let block = ceil_secs(self.block_time);
        let depth = self.confirmations.max(1).saturating_mul(block);
        let see = depth.saturating_add(ceil_secs(self.poll_interval));
        let answer = ceil_secs(self.inclusion_delay).saturating_add(depth);
        let floor = see.saturating_add(answer).saturating_mul(2);
        let reason = format!(
            "seeing a close takes {see} s ({} confirmations of {block} s blocks, plus a {} s \
             poll) and getting the answer included and confirmed {answer} s (a {} s \
             inclusion delay, plus the confirmations), doubled as a margin",
            self.confirmations.max(1),
            ceil_secs(self.poll_interval),
            ceil_secs(self.inclusion_delay),
        );
        (floor, reason)
    }
}

fn default_poll() -> Duration {
    Duration::from_secs(1)
}
fn default_tx_timeout() -> Duration {
    Duration::from_secs(600)
}
fn default_log_range() -> u64 {
    10_000
}
fn default_retries() -> u32 {
    10
}

/// Durations as integer milliseconds in the configuration file.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}
