//! What a node accepts and how long it waits: the policy for incoming channels, timeouts,
//! and the watcher's pace. Every option has a default that works on one machine.

use std::time::Duration;

pub use paychan_core::manager::{ChannelPolicy, UnconfirmedCredit};
use paychan_ledger::ChallengeFloor;

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
    /// Validity of the withdrawal certificates we propose, in seconds of ledger time. A
    /// certificate the peer never co-signed stays reserved until then.
    pub withdrawal_validity: u64,
    /// How long a channel may stay proposed (ours, or a peer's we accepted) without the
    /// ledger opening it; then it is forgotten, unless the ledger shows it after all.
    pub proposal_expiry: Duration,
    /// The response sent for incoming payments when no handler is registered.
    pub default_response: serde_json::Value,
    /// Payments accepted ahead of unconfirmed deposits.
    pub unconfirmed_credit: UnconfirmedCredit,
    /// The most messages of one peer (payments, requests, proposals, co-signature requests)
    /// the node handles at once; with that many in flight it stops reading from the peer
    /// until one is answered, so a peer flooding requests cannot grow the node's memory.
    /// Answers to our own requests are taken regardless. Zero counts as one.
    pub max_requests_per_peer: usize,
}

impl NodeConfig {
    /// Checks, at start-up, that the challenge period we open channels with can be defended
    /// on our ledger (`floor`) and that the policy accepts some period at or above it.
    pub fn check_challenge_floor(&self, floor: &ChallengeFloor) -> Result<(), String> {
        if self.challenge_period < floor.seconds {
            return Err(format!(
                "challenge_period = {} s is too short for this node to answer a close on its \
                 ledger: {}; set challenge_period to {} s or more",
                self.challenge_period, floor.reason, floor.seconds
            ));
        }
        if self.policy.max_challenge_period < floor.seconds {
            return Err(format!(
                "policy.max_challenge_period = {} s accepts no challenge period this node can \
                 defend on its ledger ({} s or more: {}); raise it to at least {} s",
                self.policy.max_challenge_period, floor.seconds, floor.reason, floor.seconds
            ));
        }
        Ok(())
    }
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
            proposal_expiry: Duration::from_secs(3600),
            default_response: serde_json::Value::Null,
            unconfirmed_credit: UnconfirmedCredit::default(),
            max_requests_per_peer: 64,
        }
    }
}
