//! The ledger rules of `docs/PROTOCOL.md` (section 6), as a pure state machine.
//!
//! An [`Adjudicator`] holds every channel of one ledger and applies the seven operations of
//! the rules table, refusing what the rules refuse with a typed [`LedgerError`] and changing
//! nothing when it does. Each refusal names the [`Rule`] it broke ([`LedgerError::rule`]), the
//! stable reason every ledger backend (and the contract's custom errors) reports. It moves no money itself: each operation returns the [`Outcome`] —
//! events to publish and payouts to credit — and the ledger that wraps it (the embedded ledger
//! with its accounts, or a test harness) applies it atomically. Deposits are debited by the
//! wrapper before it calls in, and given back if the call is refused. The Solidity contract
//! implements the same rules; both pass one conformance suite.
//!
//! Invariant kept by every operation, for every channel: `withdrawn.a + withdrawn.b +
//! payouts <= deposited.a + deposited.b`, so a channel can never pay out more than was put in
//! it, even if both parties collude.

mod rule;

use std::collections::BTreeMap;

use alloy_primitives::{Address, U256};
use serde::{Deserialize, Serialize};

use crate::{
    channel::CoSigned,
    crypto::Signature,
    eip712::{
        ChannelParams, Domain, Eip712, Settlement, SignedVoucher, Withdrawal, settlement_payouts,
    },
    types::{Amount, ChannelId, Pair, Role, sum},
};

pub use self::rule::Rule;

/// The chain id of the embedded ledger's EIP-712 domain.
pub const EMBEDDED_CHAIN_ID: u64 = 1337;

/// The adjudicator address of the embedded ledger (the ASCII bytes of
/// `paychan-embedded-ldg`): fixed, so signatures for it never verify on a real chain.
pub const EMBEDDED_ADJUDICATOR: Address =
    alloy_primitives::address!("0x7061796368616e2d656d6265646465642d6c6467");

/// The EIP-712 domain of the embedded ledger.
pub fn embedded_domain() -> Domain {
    Domain::new(EMBEDDED_CHAIN_ID, EMBEDDED_ADJUDICATOR)
}

/// Something that happened on the ledger, as every ledger backend reports it. Events carry
/// running totals, so applying one twice changes nothing.
///
/// Serialized externally tagged (`{"deposited": {...}}`): serde's internally tagged enums
/// cannot carry `u128` amounts.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum LedgerEvent {
    /// A channel was opened with A's first deposit.
    #[serde(rename_all = "camelCase")]
    Opened {
        /// The channel.
        channel_id: ChannelId,
        /// Its parameters.
        params: ChannelParams,
        /// A's deposit.
        deposit: Amount,
    },
    /// A party's deposit grew.
    #[serde(rename_all = "camelCase")]
    Deposited {
        /// The channel.
        channel_id: ChannelId,
        /// Whose deposit.
        party: Role,
        /// This deposit.
        amount: Amount,
        /// The party's total deposit now.
        total: Amount,
    },
    /// A co-signed withdrawal was executed.
    #[serde(rename_all = "camelCase")]
    Withdrawn {
        /// The channel.
        channel_id: ChannelId,
        /// Who withdrew.
        party: Role,
        /// Paid out now.
        amount: Amount,
        /// The party's total withdrawn now.
        total_withdrawn: Amount,
        /// A's floor now.
        paid_by_a: Amount,
        /// B's floor now.
        paid_by_b: Amount,
    },
    /// A unilateral close started.
    #[serde(rename_all = "camelCase")]
    CloseStarted {
        /// The channel.
        channel_id: ChannelId,
        /// Who started it.
        by: Role,
        /// Ledger time from which settle is allowed.
        deadline: u64,
    },
    /// A voucher was submitted during a close.
    #[serde(rename_all = "camelCase")]
    VoucherSubmitted {
        /// The channel.
        channel_id: ChannelId,
        /// Whose voucher.
        payer: Role,
        /// The voucher's cumulative.
        cumulative: Amount,
        /// What the ledger counts for that payer now (the maximum seen, never below the floor).
        counted: Amount,
    },
    /// The channel was paid out (cooperatively or after a close) and is finished forever.
    #[serde(rename_all = "camelCase")]
    Settled {
        /// The channel.
        channel_id: ChannelId,
        /// What each party received.
        payouts: Pair<Amount>,
    },
    /// Part of a payout of the channel (a settlement payout or a withdrawal) could not be
    /// delivered to `to` (a recipient that refuses the asset, a token that blocks it): the
    /// ledger keeps it for `to`, who claims it later. Only the Ethereum ledger defers payouts
    /// (docs/ETHEREUM.md, "Deferred payouts and claims"); the embedded ledger never does.
    #[serde(rename_all = "camelCase")]
    PayoutDeferred {
        /// The channel.
        channel_id: ChannelId,
        /// The asset (zero address: native).
        asset: Address,
        /// Whose payout it is.
        to: Address,
        /// The part not delivered.
        amount: Amount,
    },
    /// `owner` claimed every deferred payout of `asset` it had, paid to `to`.
    #[serde(rename_all = "camelCase")]
    Claimed {
        /// The asset.
        asset: Address,
        /// Whose deferred payouts they were.
        owner: Address,
        /// Who received them.
        to: Address,
        /// How much.
        amount: Amount,
    },
}

impl LedgerEvent {
    /// The channel the event is about (`None` for a claim, which is about an account).
    pub fn channel_id(&self) -> Option<ChannelId> {
        match *self {
            LedgerEvent::Opened { channel_id, .. }
            | LedgerEvent::Deposited { channel_id, .. }
            | LedgerEvent::Withdrawn { channel_id, .. }
            | LedgerEvent::CloseStarted { channel_id, .. }
            | LedgerEvent::VoucherSubmitted { channel_id, .. }
            | LedgerEvent::Settled { channel_id, .. }
            | LedgerEvent::PayoutDeferred { channel_id, .. } => Some(channel_id),
            LedgerEvent::Claimed { .. } => None,
        }
    }
}

/// Why the ledger refused an operation. Every refusal is final for the same inputs and
/// changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// No channel with this id.
    #[error("unknown channel {0}")]
    UnknownChannel(ChannelId),
    /// The id was used before (open, closing or settled): ids are never reused.
    #[error("channel id {0} was already used")]
    ChannelExists(ChannelId),
    /// The parameters are unusable (same or zero parties, zero challenge period).
    #[error("invalid channel parameters: {0}")]
    InvalidParams(ParamsError),
    /// The operation needs an open channel.
    #[error("channel is not open")]
    NotOpen,
    /// The operation needs a channel in its challenge period.
    #[error("channel is not closing")]
    NotClosing,
    /// The caller may not do this (only A or B may start a close).
    #[error("{0} is not a party of the channel")]
    NotAParty(Address),
    /// A signature does not recover to the party it must come from.
    #[error("invalid signature of {0}")]
    BadSignature(&'static str),
    /// The object is for another channel (or another ledger).
    #[error("object is for another channel")]
    WrongChannel,
    /// The withdrawal certificate expired.
    #[error("certificate expired at {expiry}, now is {now}")]
    Expired {
        /// The certificate's expiry.
        expiry: u64,
        /// Ledger time now.
        now: u64,
    },
    /// The withdrawal does not increase the party's total (replayed or stale certificate).
    #[error("total withdrawn does not increase")]
    NotIncreasing,
    /// The withdrawal would leave the party, or the channel, below zero.
    #[error("withdrawal exceeds the party's funds in the channel")]
    OverBalance,
    /// Settle before the deadline.
    #[error("challenge period runs until {deadline}, now is {now}")]
    DeadlineNotReached {
        /// The deadline.
        deadline: u64,
        /// Ledger time now.
        now: u64,
    },
    /// Submit after the deadline.
    #[error("challenge period ended at {deadline}, now is {now}")]
    DeadlinePassed {
        /// The deadline.
        deadline: u64,
        /// Ledger time now.
        now: u64,
    },
    /// A zero amount where a positive one is required.
    #[error("amount must be positive")]
    ZeroAmount,
    /// A total would exceed 2^128 - 1 units, or a deadline 2^64 - 1 seconds.
    #[error("amount or time overflow")]
    Overflow,
}

impl LedgerError {
    /// The rule the operation broke: the stable reason every ledger backend reports.
    pub fn rule(&self) -> Rule {
        match self {
            LedgerError::UnknownChannel(_) => Rule::UnknownChannel,
            LedgerError::ChannelExists(_) => Rule::ChannelExists,
            LedgerError::InvalidParams(p) => p.rule(),
            LedgerError::NotOpen => Rule::NotOpen,
            LedgerError::NotClosing => Rule::NotClosing,
            LedgerError::NotAParty(_) => Rule::NotAParty,
            LedgerError::BadSignature(_) => Rule::BadSignature,
            LedgerError::WrongChannel => Rule::WrongChannel,
            LedgerError::Expired { .. } => Rule::Expired,
            LedgerError::NotIncreasing => Rule::NotIncreasing,
            LedgerError::OverBalance => Rule::OverBalance,
            LedgerError::DeadlineNotReached { .. } => Rule::DeadlineNotReached,
            LedgerError::DeadlinePassed { .. } => Rule::DeadlinePassed,
            LedgerError::ZeroAmount => Rule::ZeroAmount,
            LedgerError::Overflow => Rule::Overflow,
        }
    }
}

impl From<&LedgerError> for Rule {
    fn from(e: &LedgerError) -> Rule {
        e.rule()
    }
}

/// Why channel parameters are unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamsError {
    /// Party A and party B are the same address.
    #[error("partyA and partyB are the same")]
    SameParties,
    /// A party is the zero address.
    #[error("a party is the zero address")]
    ZeroParty,
    /// The challenge period is zero.
    #[error("challenge period is zero")]
    ZeroChallengePeriod,
}

impl ParamsError {
    /// The rule broken.
    pub fn rule(self) -> Rule {
        match self {
            ParamsError::SameParties => Rule::SameParties,
            ParamsError::ZeroParty => Rule::ZeroParty,
            ParamsError::ZeroChallengePeriod => Rule::ZeroChallengePeriod,
        }
    }
}

/// What an operation did: the events to publish and the payouts to credit, in order.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Outcome {
    /// Events, in the order they happened.
    pub events: Vec<LedgerEvent>,
    /// Credits of the channel's asset to party addresses.
    pub payouts: Vec<(Address, Amount)>,
}

/// Where a channel is on the ledger.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ChannelStatus {
    /// Open: deposits, withdrawals, closes.
    Open,
    /// In the challenge period.
    Closing {
        /// Ledger time from which settle is allowed.
        deadline: u64,
        /// The highest cumulative counted per payer.
        counted: Pair<Amount>,
    },
    /// Finished forever.
    Settled {
        /// What each party received.
        payouts: Pair<Amount>,
    },
}

/// The ledger's record of one channel.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ChannelRecord {
    /// The channel's parameters.
    pub params: ChannelParams,
    /// Total deposited per party.
    pub deposited: Pair<Amount>,
    /// Total withdrawn per party while open.
    pub withdrawn: Pair<Amount>,
    /// Paid counters recorded by withdrawals.
    pub floors: Pair<Amount>,
    /// Open, closing or settled.
    pub status: ChannelStatus,
}

impl ChannelRecord {
    /// Funds still held for the channel: deposits minus withdrawals and payouts.
    pub fn held(&self) -> Amount {
        let paid_out = match self.status {
            ChannelStatus::Settled { payouts } => sum(payouts.a, payouts.b),
            _ => U256::ZERO,
        };
        sum(self.deposited.a, self.deposited.b)
            .saturating_sub(sum(self.withdrawn.a, self.withdrawn.b).saturating_add(paid_out))
            .try_into()
            .unwrap_or(Amount::MAX)
    }
}

/// Every channel of one ledger, under one EIP-712 domain.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Adjudicator {
    domain: Domain,
    channels: BTreeMap<ChannelId, ChannelRecord>,
}

impl Adjudicator {
    /// An adjudicator with no channels.
    pub fn new(domain: Domain) -> Self {
        Adjudicator {
            domain,
            channels: BTreeMap::new(),
        }
    }

    /// The ledger's domain.
    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// The record of a channel.
    pub fn channel(&self, id: &ChannelId) -> Option<&ChannelRecord> {
        self.channels.get(id)
    }

    /// All channel records.
    pub fn channels(&self) -> impl Iterator<Item = (&ChannelId, &ChannelRecord)> {
        self.channels.iter()
    }

    fn record_mut(&mut self, id: &ChannelId) -> Result<&mut ChannelRecord, LedgerError> {
        self.channels
            .get_mut(id)
            .ok_or(LedgerError::UnknownChannel(*id))
    }

    /// Opens a channel with `amount` deposited for A (the caller has debited it).
    pub fn open(&mut self, params: ChannelParams, amount: Amount) -> Result<Outcome, LedgerError> {
        if params.party_a == params.party_b {
            return Err(LedgerError::InvalidParams(ParamsError::SameParties));
        }
        if params.party_a == Address::ZERO || params.party_b == Address::ZERO {
            return Err(LedgerError::InvalidParams(ParamsError::ZeroParty));
        }
        if params.challenge_period == 0 {
            return Err(LedgerError::InvalidParams(ParamsError::ZeroChallengePeriod));
        }
        let id = params.id(&self.domain);
        if self.channels.contains_key(&id) {
            return Err(LedgerError::ChannelExists(id));
        }
        self.channels.insert(
            id,
            ChannelRecord {
                params,
                deposited: Pair::new(amount, 0),
                withdrawn: Pair::default(),
                floors: Pair::default(),
                status: ChannelStatus::Open,
            },
        );
        Ok(Outcome {
            events: vec![LedgerEvent::Opened {
                channel_id: id,
                params,
                deposit: amount,
            }],
            payouts: vec![],
        })
    }

    /// Adds `amount` to `party`'s deposit (the caller has debited it). Refused unless open.
    pub fn deposit(
        &mut self,
        id: &ChannelId,
        party: Role,
        amount: Amount,
    ) -> Result<Outcome, LedgerError> {
        let rec = self.record_mut(id)?;
        if rec.status != ChannelStatus::Open {
            return Err(LedgerError::NotOpen);
        }
        if amount == 0 {
            return Err(LedgerError::ZeroAmount);
        }
        let total = rec
            .deposited
            .at(party)
            .checked_add(amount)
            .ok_or(LedgerError::Overflow)?;
        // Keep the sum of both deposits representable too, so payouts always fit.
        rec.deposited
            .at(party.peer())
            .checked_add(total)
            .ok_or(LedgerError::Overflow)?;
        *rec.deposited.get_mut(party) = total;
        Ok(Outcome {
            events: vec![LedgerEvent::Deposited {
                channel_id: *id,
                party,
                amount,
                total,
            }],
            payouts: vec![],
        })
    }

    fn check_cosigned<T: Eip712>(
        domain: &Domain,
        params: &ChannelParams,
        c: &CoSigned<T>,
    ) -> Result<(), LedgerError> {
        let hash = c.body.signing_hash(domain);
        let ok = |sig: &Signature, who| sig.verify(&hash, params.party(who));
        if !ok(&c.sig_a, Role::A) {
            return Err(LedgerError::BadSignature("party A"));
        }
        if !ok(&c.sig_b, Role::B) {
            return Err(LedgerError::BadSignature("party B"));
        }
        Ok(())
    }

    /// Executes a co-signed withdrawal at ledger time `now`: pays out the increase of the
    /// party's total, raises both floors. Refused if expired, not increasing, or if the party
    /// (or the channel) would go below zero with the certificate's counters.
    pub fn withdraw(
        &mut self,
        cert: &CoSigned<Withdrawal>,
        now: u64,
    ) -> Result<Outcome, LedgerError> {
        let w = &cert.body;
        let domain = self.domain;
        let rec = self.record_mut(&w.channel_id)?;
        if rec.status != ChannelStatus::Open {
            return Err(LedgerError::NotOpen);
        }
        let party = rec
            .params
            .role_of(w.party)
            .ok_or(LedgerError::NotAParty(w.party))?;
        if now >= w.expiry {
            return Err(LedgerError::Expired {
                expiry: w.expiry,
                now,
            });
        }
        Self::check_cosigned(&domain, &rec.params, cert)?;
        let previous = rec.withdrawn.at(party);
        if w.total_withdrawn <= previous {
            return Err(LedgerError::NotIncreasing);
        }
        let floors = Pair::new(rec.floors.a.max(w.paid_by_a), rec.floors.b.max(w.paid_by_b));
        // The party stays at or above zero: depP - totalP - paidP + paidOther >= 0.
        if sum(w.total_withdrawn, floors.at(party))
            > sum(rec.deposited.at(party), floors.at(party.peer()))
        {
            return Err(LedgerError::OverBalance);
        }
        // And the channel never pays out more than was put in, whatever the counters say.
        if sum(w.total_withdrawn, rec.withdrawn.at(party.peer()))
            > sum(rec.deposited.a, rec.deposited.b)
        {
            return Err(LedgerError::OverBalance);
        }
        let amount = w.total_withdrawn.saturating_sub(previous);
        *rec.withdrawn.get_mut(party) = w.total_withdrawn;
        rec.floors = floors;
        Ok(Outcome {
            events: vec![LedgerEvent::Withdrawn {
                channel_id: w.channel_id,
                party,
                amount,
                total_withdrawn: w.total_withdrawn,
                paid_by_a: floors.a,
                paid_by_b: floors.b,
            }],
            payouts: vec![(w.party, amount)],
        })
    }

    /// Pays out at once on a co-signed settlement, open or closing. Counters below the floors
    /// count as the floors.
    pub fn close_cooperative(
        &mut self,
        settlement: &CoSigned<Settlement>,
    ) -> Result<Outcome, LedgerError> {
        let s = &settlement.body;
        let domain = self.domain;
        let rec = self.record_mut(&s.channel_id)?;
        if matches!(rec.status, ChannelStatus::Settled { .. }) {
            return Err(LedgerError::NotOpen);
        }
        Self::check_cosigned(&domain, &rec.params, settlement)?;
        let paid = Pair::new(rec.floors.a.max(s.paid_by_a), rec.floors.b.max(s.paid_by_b));
        Self::pay_out(s.channel_id, rec, paid)
    }

    fn pay_out(
        id: ChannelId,
        rec: &mut ChannelRecord,
        paid: Pair<Amount>,
    ) -> Result<Outcome, LedgerError> {
        // `withdraw` keeps withdrawals within deposits, so the formula always has an answer;
        // were it ever not so, the channel would stay as it is rather than pay out wrongly.
        let payouts = settlement_payouts(rec.deposited, rec.withdrawn, paid)
            .ok_or(LedgerError::OverBalance)?;
        rec.status = ChannelStatus::Settled { payouts };
        let mut credits = Vec::with_capacity(2);
        for role in [Role::A, Role::B] {
            if payouts.at(role) > 0 {
                credits.push((rec.params.party(role), payouts.at(role)));
            }
        }
        Ok(Outcome {
            events: vec![LedgerEvent::Settled {
                channel_id: id,
                payouts,
            }],
            payouts: credits,
        })
    }

    /// Starts a unilateral close at ledger time `now`, by party `caller`, optionally counting
    /// a voucher at once. The deadline is `now + challengePeriod`.
    pub fn start_close(
        &mut self,
        id: &ChannelId,
        caller: Address,
        voucher: Option<&SignedVoucher>,
        now: u64,
    ) -> Result<Outcome, LedgerError> {
        let domain = self.domain;
        let rec = self.record_mut(id)?;
        let by = rec
            .params
            .role_of(caller)
            .ok_or(LedgerError::NotAParty(caller))?;
        if rec.status != ChannelStatus::Open {
            return Err(LedgerError::NotOpen);
        }
        let payer = match voucher {
            Some(v) => Some(Self::check_voucher(&domain, id, &rec.params, v)?),
            None => None,
        };
        let deadline = now
            .checked_add(rec.params.challenge_period)
            .ok_or(LedgerError::Overflow)?;
        let mut counted = rec.floors;
        let mut events = vec![LedgerEvent::CloseStarted {
            channel_id: *id,
            by,
            deadline,
        }];
        if let (Some(v), Some(payer)) = (voucher, payer) {
            let c = counted.get_mut(payer);
            *c = (*c).max(v.voucher.cumulative);
            events.push(LedgerEvent::VoucherSubmitted {
                channel_id: *id,
                payer,
                cumulative: v.voucher.cumulative,
                counted: *c,
            });
        }
        rec.status = ChannelStatus::Closing { deadline, counted };
        Ok(Outcome {
            events,
            payouts: vec![],
        })
    }

    fn check_voucher(
        domain: &Domain,
        id: &ChannelId,
        params: &ChannelParams,
        v: &SignedVoucher,
    ) -> Result<Role, LedgerError> {
        if v.voucher.channel_id != *id {
            return Err(LedgerError::WrongChannel);
        }
        let payer = params
            .role_of(v.voucher.payer)
            .ok_or(LedgerError::NotAParty(v.voucher.payer))?;
        if !v.is_signed_by_payer(domain) {
            return Err(LedgerError::BadSignature("payer"));
        }
        Ok(payer)
    }

    /// Counts a voucher during the challenge period, submitted by anyone: the ledger keeps
    /// the highest cumulative per payer, so a stale voucher changes nothing.
    pub fn submit_voucher(
        &mut self,
        voucher: &SignedVoucher,
        now: u64,
    ) -> Result<Outcome, LedgerError> {
        let id = voucher.voucher.channel_id;
        let domain = self.domain;
        let rec = self.record_mut(&id)?;
        let ChannelStatus::Closing {
            deadline,
            mut counted,
        } = rec.status
        else {
            return Err(LedgerError::NotClosing);
        };
        if now >= deadline {
            return Err(LedgerError::DeadlinePassed { deadline, now });
        }
        let payer = Self::check_voucher(&domain, &id, &rec.params, voucher)?;
        let c = counted.get_mut(payer);
        *c = (*c).max(voucher.voucher.cumulative);
        let event = LedgerEvent::VoucherSubmitted {
            channel_id: id,
            payer,
            cumulative: voucher.voucher.cumulative,
            counted: *c,
        };
        rec.status = ChannelStatus::Closing { deadline, counted };
        Ok(Outcome {
            events: vec![event],
            payouts: vec![],
        })
    }

    /// Settles a closing channel once its deadline has passed (anyone may call).
    pub fn settle(&mut self, id: &ChannelId, now: u64) -> Result<Outcome, LedgerError> {
        let rec = self.record_mut(id)?;
        let ChannelStatus::Closing { deadline, counted } = rec.status else {
            return Err(LedgerError::NotClosing);
        };
        if now < deadline {
            return Err(LedgerError::DeadlineNotReached { deadline, now });
        }
        Self::pay_out(*id, rec, counted)
    }
}
