//! An in-memory ledger: the [`Adjudicator`] plus account balances, applied atomically.
//!
//! Each operation debits what goes into a channel, runs the ledger rule, and credits the
//! payouts — or, if the rule refuses, changes nothing at all. Time is an argument. This is
//! what the demo and the property tests run against; the embedded ledger adds persistence,
//! authentication and a clock around the same rules.

use std::collections::BTreeMap;

use alloy_primitives::Address;

use crate::{
    adjudicator::{Adjudicator, LedgerError, LedgerEvent, Outcome},
    channel::CoSigned,
    eip712::{ChannelParams, Domain, Settlement, SignedVoucher, Withdrawal},
    types::{Amount, ChannelId, Role},
};

/// Why a bank operation was refused. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BankError {
    /// The payer's account holds less than the operation needs.
    #[error("insufficient funds: {needed} needed, {available} available")]
    InsufficientFunds {
        /// What the operation needs.
        needed: Amount,
        /// What the account holds.
        available: Amount,
    },
    /// A balance would overflow.
    #[error("balance overflow")]
    Overflow,
    /// The ledger rules refused.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// The adjudicator with accounts, per (owner, asset); asset zero is the native one.
#[derive(Clone, Debug)]
pub struct Bank {
    adjudicator: Adjudicator,
    balances: BTreeMap<(Address, Address), Amount>,
    supply: BTreeMap<Address, Amount>,
    events: Vec<LedgerEvent>,
}

impl Bank {
    /// An empty ledger under `domain`.
    pub fn new(domain: Domain) -> Self {
        Bank {
            adjudicator: Adjudicator::new(domain),
            balances: BTreeMap::new(),
            supply: BTreeMap::new(),
            events: vec![],
        }
    }

    /// The rules and every channel's record.
    pub fn adjudicator(&self) -> &Adjudicator {
        &self.adjudicator
    }

    /// Every event so far, in order.
    pub fn events(&self) -> &[LedgerEvent] {
        &self.events
    }

    /// `owner`'s balance of `asset`.
    pub fn balance(&self, owner: Address, asset: Address) -> Amount {
        self.balances.get(&(owner, asset)).copied().unwrap_or(0)
    }

    /// Everything of `asset` the ledger minted.
    pub fn supply(&self, asset: Address) -> Amount {
        self.supply.get(&asset).copied().unwrap_or(0)
    }

    /// Everything of `asset` the ledger holds: accounts plus channels. Equals
    /// [`supply`](Self::supply) unless money was created or destroyed.
    pub fn total(&self, asset: Address) -> u128 {
        let accounts = self
            .balances
            .iter()
            .filter(|((_, a), _)| *a == asset)
            .fold(0u128, |acc, (_, v)| acc.saturating_add(*v));
        self.adjudicator
            .channels()
            .filter(|(_, r)| r.params.token == asset)
            .fold(accounts, |acc, (_, r)| acc.saturating_add(r.held()))
    }

    /// Creates `amount` of `asset` for `owner` (a development faucet). The total supply of
    /// each asset stays below 2^128, so no later credit can overflow an account.
    pub fn mint(
        &mut self,
        owner: Address,
        asset: Address,
        amount: Amount,
    ) -> Result<(), BankError> {
        let supply = self.supply.entry(asset).or_default();
        let new_supply = supply.checked_add(amount).ok_or(BankError::Overflow)?;
        *supply = new_supply;
        self.credit(owner, asset, amount);
        Ok(())
    }

    /// Adds to an account; cannot overflow because no account exceeds the asset's supply.
    fn credit(&mut self, owner: Address, asset: Address, amount: Amount) {
        let b = self.balances.entry((owner, asset)).or_default();
        *b = b.saturating_add(amount);
    }

    fn debit(&mut self, owner: Address, asset: Address, amount: Amount) -> Result<(), BankError> {
        let available = self.balance(owner, asset);
        let rest = available
            .checked_sub(amount)
            .ok_or(BankError::InsufficientFunds {
                needed: amount,
                available,
            })?;
        self.balances.insert((owner, asset), rest);
        Ok(())
    }

    /// Debits `debit` (payer, asset, amount), runs `rule`, credits the payouts — or, if the
    /// rule refuses, refunds the debit: the operation is all or nothing (the adjudicator
    /// itself changes nothing when it refuses).
    fn apply(
        &mut self,
        debit: Option<(Address, Address, Amount)>,
        rule: impl FnOnce(&mut Adjudicator) -> Result<Outcome, LedgerError>,
    ) -> Result<Vec<LedgerEvent>, BankError> {
        if let Some((payer, asset, amount)) = debit {
            self.debit(payer, asset, amount)?;
        }
        let outcome = match rule(&mut self.adjudicator) {
            Ok(outcome) => outcome,
            Err(e) => {
                if let Some((payer, asset, amount)) = debit {
                    self.credit(payer, asset, amount);
                }
                return Err(e.into());
            }
        };
        let asset = outcome
            .events
            .first()
            .and_then(LedgerEvent::channel_id)
            .and_then(|id| self.adjudicator.channel(&id))
            .map(|r| r.params.token)
            .unwrap_or_default();
        for (to, amount) in &outcome.payouts {
            self.credit(*to, asset, *amount);
        }
        self.events.extend(outcome.events.iter().copied());
        Ok(outcome.events)
    }

    /// Opens a channel, `payer` funding A's first deposit.
    pub fn open(
        &mut self,
        payer: Address,
        params: ChannelParams,
        amount: Amount,
    ) -> Result<Vec<LedgerEvent>, BankError> {
        self.apply(Some((payer, params.token, amount)), |adj| {
            adj.open(params, amount)
        })
    }

    /// Deposits for `party`, paid by `payer`.
    pub fn deposit(
        &mut self,
        payer: Address,
        id: &ChannelId,
        party: Role,
        amount: Amount,
    ) -> Result<Vec<LedgerEvent>, BankError> {
        let asset = self
            .adjudicator
            .channel(id)
            .ok_or(LedgerError::UnknownChannel(*id))?
            .params
            .token;
        self.apply(Some((payer, asset, amount)), |adj| {
            adj.deposit(id, party, amount)
        })
    }

    /// Executes a co-signed withdrawal.
    pub fn withdraw(
        &mut self,
        cert: &CoSigned<Withdrawal>,
        now: u64,
    ) -> Result<Vec<LedgerEvent>, BankError> {
        self.apply(None, |adj| adj.withdraw(cert, now))
    }

    /// Closes at once on a co-signed settlement.
    pub fn close_cooperative(
        &mut self,
        settlement: &CoSigned<Settlement>,
    ) -> Result<Vec<LedgerEvent>, BankError> {
        self.apply(None, |adj| adj.close_cooperative(settlement))
    }

    /// Starts a unilateral close.
    pub fn start_close(
        &mut self,
        caller: Address,
        id: &ChannelId,
        voucher: Option<&SignedVoucher>,
        now: u64,
    ) -> Result<Vec<LedgerEvent>, BankError> {
        self.apply(None, |adj| adj.start_close(id, caller, voucher, now))
    }

    /// Submits a voucher during a close.
    pub fn submit_voucher(
        &mut self,
        voucher: &SignedVoucher,
        now: u64,
    ) -> Result<Vec<LedgerEvent>, BankError> {
        self.apply(None, |adj| adj.submit_voucher(voucher, now))
    }

    /// Settles after the deadline.
    pub fn settle(&mut self, id: &ChannelId, now: u64) -> Result<Vec<LedgerEvent>, BankError> {
        self.apply(None, |adj| adj.settle(id, now))
    }
}
