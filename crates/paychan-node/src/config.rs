//! What a node accepts and how long it waits: the policy for incoming channels, timeouts,
//! and the watcher's pace. Every option has a default that works on one machine.

use std::time::Duration;

use paychan_core::{Address, Amount};
use serde::{Deserialize, Serialize};

/// The policy for channels other nodes propose to us.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChannelPolicy {
    /// Accept proposals only from these addresses (empty: from anyone).
    pub allowed_peers: Vec<Address>,
    /// The shortest challenge period we accept, in seconds (too short: no time to answer a
    /// close while we are offline).
    pub min_challenge_period: u64,
    /// The longest challenge period we accept, in seconds (too long: our funds are stuck
    /// that long if the peer disappears).
    pub max_challenge_period: u64,
    /// The smallest initial deposit of the proposer we accept.
    pub min_deposit: Amount,
}

impl Default for ChannelPolicy {
    fn default() -> Self {
        ChannelPolicy {
            allowed_peers: vec![],
            min_challenge_period: 60,
            max_challenge_period: 30 * 24 * 3600,
            min_deposit: 0,
        }
    }
}

/// How much a payee accepts ahead of a peer's deposits that the ledger shows but has not yet
/// confirmed (its confirmation depth is the ledger backend's setting). Zero, the default,
/// waits for confirmation. What is accepted this way is at risk until the deposit confirms:
/// if it never does, the ledger pays at most the peer's confirmed funds.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UnconfirmedCredit {
    /// The most accepted ahead of confirmation in one channel.
    pub per_channel: Amount,
    /// The most accepted ahead of confirmation in all channels together.
    pub total: Amount,
}

impl UnconfirmedCredit {
    /// Whether any credit is given.
    pub fn enabled(&self) -> bool {
        self.per_channel > 0 && self.total > 0
    }
}

/// A node's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    /// Incoming channel proposals.
    pub policy: ChannelPolicy,
    /// The challenge period of channels we open.
    pub challenge_period: u64,
    /// How long we wait for the peer's answer to a request (payment, proposal, signature).
    pub request_timeout: Duration,
    /// How long the payment handler may take before the payer gets a timeout error.
    pub handler_timeout: Duration,
    /// How often the watcher checks whether a closing channel can be settled.
    pub settle_check_interval: Duration,
    /// Validity of the withdrawal certificates we propose, in seconds of ledger time.
    pub withdrawal_validity: u64,
    /// The response sent for incoming payments when no handler is registered.
    pub default_response: serde_json::Value,
    /// Payments accepted ahead of unconfirmed deposits.
    pub unconfirmed_credit: UnconfirmedCredit,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            policy: ChannelPolicy::default(),
            challenge_period: 24 * 3600,
            request_timeout: Duration::from_secs(30),
            handler_timeout: Duration::from_secs(20),
            settle_check_interval: Duration::from_secs(1),
            withdrawal_validity: 600,
            default_response: serde_json::Value::Null,
            unconfirmed_credit: UnconfirmedCredit::default(),
        }
    }
}
