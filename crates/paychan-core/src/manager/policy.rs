//! [`ChannelPolicy`]: which channels others may open with us, checked in one place for a
//! proposal over a peer connection and for a channel learned from the ledger (a payment
//! package on a channel we never saw), so that both paths enforce the same rules.

use alloy_primitives::Address;
use serde::{Deserialize, Serialize};

use crate::{
    eip712::{ChannelParams, Domain},
    types::Amount,
};

/// The policy for channels other nodes open with us.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChannelPolicy {
    /// Accept channels only from these addresses (empty: from anyone).
    pub allowed_peers: Vec<Address>,
    /// The shortest challenge period we accept, in seconds (too short: no time to answer a
    /// close while we are offline).
    pub min_challenge_period: u64,
    /// The longest challenge period we accept, in seconds (too long: our funds are stuck
    /// that long if the peer disappears).
    pub max_challenge_period: u64,
    /// The smallest initial deposit of the opener we accept.
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

/// A channel someone offers us: proposed over a connection, or found open on the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offer<'a> {
    /// Who offers it: the proposer, or the payer of a package.
    pub peer: Address,
    /// The channel's parameters.
    pub params: &'a ChannelParams,
    /// The ledger it is on.
    pub domain: &'a Domain,
    /// The opener's initial deposit (announced in a proposal, or on the ledger).
    pub deposit: Amount,
}

/// The shortest challenge period this node can answer a close in on its ledger (its
/// confirmation depth, block time and inclusion delay make it up), and how.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DefenceFloor {
    /// Seconds of ledger time.
    pub seconds: u64,
    /// How it is made up, for refusals.
    pub reason: String,
}

/// Why the policy refuses a channel. Nothing was recorded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyRejection {
    /// The channel is on another ledger than ours.
    #[error("the channel is on another ledger (chain {got_chain}, contract {got_contract})")]
    OtherLedger {
        /// Its chain id.
        got_chain: u64,
        /// Its adjudicator.
        got_contract: Address,
    },
    /// The offerer must be party A (the opener) and we party B.
    #[error("the channel must be opened by you ({peer}) with this node as party B")]
    NotOurParties {
        /// The offerer.
        peer: Address,
    },
    /// The peer is not on our list of allowed peers.
    #[error("not accepting channels from {0}")]
    PeerNotAllowed(Address),
    /// The challenge period is too short for this node to answer a close in on its ledger.
    #[error(
        "a challenge period of {got} s is too short for this node to answer a close on its \
         ledger: {why}; it accepts {min} to {max} s"
    )]
    TooShortToDefend {
        /// The offered period.
        got: u64,
        /// Our shortest (the policy's, raised to the floor).
        min: u64,
        /// Our longest.
        max: u64,
        /// How the floor is made up.
        why: String,
    },
    /// The challenge period is outside our bounds.
    #[error(
        "the challenge period of {got} s is not accepted: it must be between {min} and {max} s"
    )]
    ChallengePeriod {
        /// The offered period.
        got: u64,
        /// Our shortest.
        min: u64,
        /// Our longest.
        max: u64,
    },
    /// Only the ledger's native asset is accepted so far.
    #[error("only channels in the native asset are accepted, not token {0}")]
    Token(Address),
    /// The opener's deposit is below our minimum.
    #[error("the opener's deposit of {got} is below the minimum of {min}")]
    Deposit {
        /// The opener's deposit.
        got: Amount,
        /// Our minimum.
        min: Amount,
    },
}

impl crate::channel::Reason for PolicyRejection {
    fn reason(&self) -> &'static str {
        match self {
            PolicyRejection::OtherLedger { .. } => "policy.other_ledger",
            PolicyRejection::NotOurParties { .. } => "policy.not_our_parties",
            PolicyRejection::PeerNotAllowed(_) => "policy.peer_not_allowed",
            PolicyRejection::TooShortToDefend { .. } => "policy.too_short_to_defend",
            PolicyRejection::ChallengePeriod { .. } => "policy.challenge_period",
            PolicyRejection::Token(_) => "policy.token",
            PolicyRejection::Deposit { .. } => "policy.deposit",
        }
    }
}

impl ChannelPolicy {
    /// Checks a channel offered to `me` on the ledger `ours`.
    pub fn check(
        &self,
        me: Address,
        ours: &Domain,
        floor: &DefenceFloor,
        offer: &Offer<'_>,
    ) -> Result<(), PolicyRejection> {
        if offer.domain != ours {
            return Err(PolicyRejection::OtherLedger {
                got_chain: offer.domain.chain_id(),
                got_contract: offer.domain.verifying_contract(),
            });
        }
        let params = offer.params;
        if params.party_a != offer.peer || params.party_b != me || offer.peer == me {
            return Err(PolicyRejection::NotOurParties { peer: offer.peer });
        }
        if !self.allowed_peers.is_empty() && !self.allowed_peers.contains(&offer.peer) {
            return Err(PolicyRejection::PeerNotAllowed(offer.peer));
        }
        let period = params.challenge_period;
        let min = self.min_challenge_period.max(floor.seconds);
        if period < floor.seconds {
            return Err(PolicyRejection::TooShortToDefend {
                got: period,
                min,
                max: self.max_challenge_period,
                why: floor.reason.clone(),
            });
        }
        if period < min || period > self.max_challenge_period {
            return Err(PolicyRejection::ChallengePeriod {
                got: period,
                min,
                max: self.max_challenge_period,
            });
        }
        if params.token != Address::ZERO {
            return Err(PolicyRejection::Token(params.token));
        }
        if offer.deposit < self.min_deposit {
            return Err(PolicyRejection::Deposit {
                got: offer.deposit,
                min: self.min_deposit,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use alloy_primitives::B256;

    use super::*;

    fn params(a: u8, b: u8) -> ChannelParams {
        ChannelParams {
            party_a: Address::repeat_byte(a),
            party_b: Address::repeat_byte(b),
            token: Address::ZERO,
            challenge_period: 3600,
            nonce: B256::repeat_byte(1),
        }
    }

    #[test]
    fn every_rule_refuses_with_its_reason() {
        let ours = Domain::new(1, Address::repeat_byte(0xad));
        let me = Address::repeat_byte(2);
        let peer = Address::repeat_byte(1);
        let policy = ChannelPolicy {
            min_deposit: 10,
            ..ChannelPolicy::default()
        };
        let good = params(1, 2);
        let offer = |params: &ChannelParams, domain: &Domain, deposit| {
            policy.check(
                me,
                &ours,
                &DefenceFloor::default(),
                &Offer {
                    peer,
                    params,
                    domain,
                    deposit,
                },
            )
        };
        assert_eq!(offer(&good, &ours, 10), Ok(()));
        let other = Domain::new(2, Address::repeat_byte(0xad));
        assert!(matches!(
            offer(&good, &other, 10),
            Err(PolicyRejection::OtherLedger { got_chain: 2, .. })
        ));
        for wrong in [params(2, 1), params(1, 3), params(3, 2)] {
            assert_eq!(
                offer(&wrong, &ours, 10),
                Err(PolicyRejection::NotOurParties { peer })
            );
        }
        for period in [59, 30 * 24 * 3600 + 1] {
            let p = ChannelParams {
                challenge_period: period,
                ..good
            };
            assert_eq!(
                offer(&p, &ours, 10),
                Err(PolicyRejection::ChallengePeriod {
                    got: period,
                    min: 60,
                    max: 30 * 24 * 3600
                })
            );
        }
        let token = ChannelParams {
            token: Address::repeat_byte(9),
            ..good
        };
        assert_eq!(
            offer(&token, &ours, 10),
            Err(PolicyRejection::Token(Address::repeat_byte(9)))
        );
        assert_eq!(
            offer(&good, &ours, 9),
            Err(PolicyRejection::Deposit { got: 9, min: 10 })
        );
        let only_others = ChannelPolicy {
            allowed_peers: vec![Address::repeat_byte(7)],
            ..ChannelPolicy::default()
        };
        assert_eq!(
            only_others.check(
                me,
                &ours,
                &DefenceFloor::default(),
                &Offer {
                    peer,
                    params: &good,
                    domain: &ours,
                    deposit: 0
                }
            ),
            Err(PolicyRejection::PeerNotAllowed(peer))
        );
    }

    #[test]
    fn a_period_below_what_the_node_can_defend_is_refused_with_the_reason() {
        let ours = Domain::new(1, Address::repeat_byte(0xad));
        let floor = DefenceFloor {
            seconds: 900,
            reason: "12 confirmations of 12 s blocks".into(),
        };
        let policy = ChannelPolicy::default();
        let check = |period| {
            let params = ChannelParams {
                challenge_period: period,
                ..params(1, 2)
            };
            policy.check(
                Address::repeat_byte(2),
                &ours,
                &floor,
                &Offer {
                    peer: Address::repeat_byte(1),
                    params: &params,
                    domain: &ours,
                    deposit: 0,
                },
            )
        };
        let refused = check(899).unwrap_err();
        assert_eq!(
            refused,
            PolicyRejection::TooShortToDefend {
                got: 899,
                min: 900,
                max: 30 * 24 * 3600,
                why: "12 confirmations of 12 s blocks".into()
            }
        );
        assert!(
            refused.to_string().contains("it accepts 900 to 2592000 s"),
            "{refused}"
        );
        assert_eq!(check(900), Ok(()));
    }

    #[test]
    fn the_policy_deserializes_with_defaults_and_refuses_unknown_fields() {
        let policy: ChannelPolicy = serde_json::from_str(r#"{"min_deposit": 5}"#).unwrap();
        assert_eq!(policy.min_deposit, 5);
        assert_eq!(policy.min_challenge_period, 60);
        assert!(serde_json::from_str::<ChannelPolicy>(r#"{"min_deposits": 5}"#).is_err());
    }
}
