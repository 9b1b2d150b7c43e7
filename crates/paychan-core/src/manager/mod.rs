//! The sans-IO protocol logic above one channel: what a node decides, for many channels and
//! peers at once, between the network, the ledger, the store and the user.
//!
//! [`Manager`] holds the node's fixed settings (its address, its ledger, its channel policy,
//! how much it takes on unconfirmed credit) and answers, for each input, what to do:
//!
//! | input | handler | output |
//! |---|---|---|
//! | a peer's channel proposal | [`Manager::handle_proposal`] | the channel to persist before accepting, or a typed refusal |
//! | a channel the ledger shows, offered by a package | [`Manager::handle_ledger_channel`] | the channel to persist, or a typed refusal |
//! | a payment package | [`PaymentPackage::claim`] | the channel and voucher it claims, or a typed refusal |
//! | a voucher (over a connection or in a package) | [`Manager::check_voucher`] | the checked next state to commit before answering, a refusal, or which ledger read it needs first |
//! | ledger events of a channel | [`Manager::handle_ledger_events`] | the ledger calls it asks for, and what changed for the user |
//! | a (re)connect | [`Manager::counter_sync`] | the counter-sync message per channel |
//! | a peer's counter sync | [`Manager::handle_counter_sync`] | the next state to commit, if it moved |
//! | an answer from a peer | [`Replies::resolve`] | who waits for it |
//! | the clock, the ledger's clock | [`Timers::due`], [`Timers::poll_timeout`] | what expires now, and when to call again |
//!
//! The manager holds no channel map: the driver loads a channel (from memory, or from a
//! database several front processes share), asks the manager, and commits what it answers
//! conditionally on the version it loaded; a lost race reloads and asks again. Nothing here
//! reads a clock, the network, the store or the ledger: the driver (`paychan-node`) passes
//! the time and what it read in and carries out what comes out (`docs/ARCHITECTURE.md`).
//!
//! - [`policy`]: the one rule set for channels others open with us.
//! - [`package`]: the payment-package format and the checks that need only the package.
//! - [`payee`]: accepting a voucher, within the unconfirmed-credit limits.
//! - [`sync`]: the counter sync on every (re)connect.
//! - [`ledger`]: ledger events applied to a channel, and what they changed for the user.
//! - [`replies`]: matching answers to the requests and waits they answer.
//! - [`timers`]: every deadline of every channel, with `poll_timeout` for the driver.

use alloy_primitives::Address;

use crate::{
    adjudicator::{ChannelRecord, ChannelStatus},
    channel::{Channel, Reason},
    eip712::{ChannelParams, Domain},
    types::ChannelId,
    wire::ProposeChannel,
};

pub mod ledger;
pub mod package;
pub mod payee;
pub mod policy;
pub mod replies;
pub mod sync;
pub mod timers;

#[cfg(test)]
mod tests;

pub use self::{
    ledger::{ChannelChange, LedgerOutcome},
    package::{Claim, PackageRejection, PaymentPackage},
    payee::{Accepted, Funds, UnconfirmedCredit, VoucherStep},
    policy::{ChannelPolicy, DefenceFloor, Offer, PolicyRejection},
    replies::{Replies, Wait},
    sync::SyncOutcome,
    timers::{Clock, Timer, Timers},
};

/// Why a peer's channel proposal is refused. Nothing was recorded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProposalRejection {
    /// The channel policy refuses it.
    #[error(transparent)]
    Policy(PolicyRejection),
    /// A channel of this id exists already (proposed again, or replayed).
    #[error("channel {0} already exists")]
    Exists(ChannelId),
}

impl Reason for ProposalRejection {
    fn reason(&self) -> &'static str {
        match self {
            ProposalRejection::Policy(e) => e.reason(),
            ProposalRejection::Exists(_) => "proposal.exists",
        }
    }
}

/// The node's protocol logic above its channels (see the [module docs](self)).
#[derive(Clone, Debug)]
pub struct Manager {
    me: Address,
    domain: Domain,
    policy: ChannelPolicy,
    floor: DefenceFloor,
    credit: UnconfirmedCredit,
}

impl Manager {
    /// The manager of the node `me` on the ledger `domain`, accepting channels under `policy`
    /// (with challenge periods it can defend on its ledger, `floor`) and payments ahead of
    /// unconfirmed deposits up to `credit`.
    pub fn new(
        me: Address,
        domain: Domain,
        policy: ChannelPolicy,
        floor: DefenceFloor,
        credit: UnconfirmedCredit,
    ) -> Self {
        Manager {
            me,
            domain,
            policy,
            floor,
            credit,
        }
    }

    /// The node's address.
    pub fn me(&self) -> Address {
        self.me
    }

    /// The ledger.
    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// The unconfirmed-credit limits.
    pub fn credit(&self) -> &UnconfirmedCredit {
        &self.credit
    }

    /// The channel policy's verdict on a channel offered to us: the one rule set for
    /// proposals and for channels learned from the ledger.
    pub fn check_offer(&self, offer: &Offer<'_>) -> Result<(), PolicyRejection> {
        self.policy.check(self.me, &self.domain, &self.floor, offer)
    }

    /// A peer's channel proposal, received at `now` (the node's clock, in seconds):
    /// `exists` tells whether a channel of its id is known already. Answers the channel
    /// to persist in [`Phase::Proposed`](crate::channel::Phase::Proposed) before accepting
    /// (the driver may still ask its user), or why it is refused.
    pub fn handle_proposal(
        &self,
        peer: Address,
        proposal: &ProposeChannel,
        exists: bool,
        now: u64,
    ) -> Result<Channel, ProposalRejection> {
        let params = &proposal.params;
        self.check_offer(&Offer {
            peer,
            params,
            domain: &proposal.domain,
            deposit: proposal.deposit,
        })
        .map_err(ProposalRejection::Policy)?;
        let id = params.id(&proposal.domain);
        if exists {
            return Err(ProposalRejection::Exists(id));
        }
        // The policy has checked that we are party B.
        Channel::proposed(*params, proposal.domain, self.me, now).ok_or(ProposalRejection::Policy(
            PolicyRejection::NotOurParties { peer },
        ))
    }

    /// A channel someone opened with us on the ledger without proposing it (it pays by
    /// payment packages), as the ledger shows it (`record`, `None` if the ledger does not
    /// know it), seen at `now`. Answers the channel to persist if the ledger has it open with
    /// exactly these parameters and our channel policy accepts them; the driver then applies
    /// the ledger's deposits to it (which opens it).
    pub fn handle_ledger_channel(
        &self,
        params: ChannelParams,
        record: Option<&ChannelRecord>,
        now: u64,
    ) -> Result<Channel, PackageRejection> {
        let id = params.id(&self.domain);
        let record = match record {
            Some(r) if r.params == params && r.status == ChannelStatus::Open => r,
            found => {
                return Err(PackageRejection::NotOnLedger {
                    id,
                    known: found.is_some(),
                });
            }
        };
        self.check_offer(&Offer {
            peer: params.party_a,
            params: &params,
            domain: &self.domain,
            deposit: record.deposited.a,
        })
        .map_err(PackageRejection::Policy)?;
        Channel::proposed(params, self.domain, self.me, now).ok_or(PackageRejection::NotAParty)
    }
}
