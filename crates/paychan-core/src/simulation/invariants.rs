//! The properties the simulation checks after every step and at the end.
//!
//! After every step:
//! - **the ledger conserves money**: accounts plus what channels hold equal what was minted
//!   ([`Bank::total`] = [`Bank::supply`]), and the channel holds exactly its deposits minus
//!   its withdrawals and payouts;
//! - **the channel creates no money**: settled now, with the ledger's floors and the
//!   vouchers each party holds, the settlement formula needs no clamp for a party that never
//!   lost data: its deposits minus withdrawals minus its payments the peer holds plus the
//!   peer's payments it holds stay at or above zero (`docs/PROTOCOL.md`, sections 2 and 5:
//!   a payer signs, and a payee accepts, only within the payer's funds),;
//! - **nothing leaves uncommitted**: each party's live state is its latest committed one
//!   (`docs/PROTOCOL.md`, section 2: an answer leaves only after its record is durable);
//! - **views trail the ledger**: no party counts deposits, withdrawals or floors the ledger
//!   does not have;
//! - **counters only grow**: what a party accepted from its peer never decreases, except
//!   across a restart; its own counter never exceeds what it signed (or the ledger's floor).
//!
//! At the end, once the channel is settled: the ledger paid out exactly what the channel
//! held, both parties see the ledger's payouts, each account holds what it was minted minus
//! its deposits plus its withdrawals and payout, and each honest party received at least
//! what it is owed: `deposited − withdrawn − the most it ever signed + the peer's latest
//! voucher in its latest durable state` (`docs/PROTOCOL.md`, section 5).

use alloy_primitives::{Address, U256};

use crate::{
    adjudicator::{ChannelRecord, ChannelStatus},
    bank::Bank,
    channel::Phase,
    eip712::settlement_payouts,
    simulation::party::Party,
    types::{Amount, Pair, Role},
};

/// The asset of the simulated channel (the native one).
pub const ASSET: Address = Address::ZERO;

/// A broken invariant, described.
pub type Broken = String;

fn u(a: Amount) -> U256 {
    U256::from(a)
}

/// The channel's record, or why not.
pub fn record<'a>(bank: &'a Bank, parties: &Pair<Party>) -> Result<&'a ChannelRecord, Broken> {
    bank.adjudicator()
        .channel(&parties.a.channel_id())
        .ok_or_else(|| "the ledger lost the channel".to_string())
}

/// The checks after every step.
pub fn check_step(
    bank: &Bank,
    parties: &Pair<Party>,
    baseline: &Pair<Amount>,
) -> Result<(), Broken> {
    if bank.total(ASSET) != bank.supply(ASSET) {
        return Err(format!(
            "money not conserved on the ledger: it holds {} of {} minted",
            bank.total(ASSET),
            bank.supply(ASSET)
        ));
    }
    let rec = record(bank, parties)?;
    let put_in = u(rec.deposited.a).saturating_add(u(rec.deposited.b));
    let paid_out = match rec.status {
        ChannelStatus::Settled { payouts } => u(payouts.a).saturating_add(u(payouts.b)),
        _ => U256::ZERO,
    };
    let taken_out = u(rec.withdrawn.a)
        .saturating_add(u(rec.withdrawn.b))
        .saturating_add(paid_out);
    if taken_out > put_in || u(rec.held()) != put_in.saturating_sub(taken_out) {
        return Err(format!(
            "the channel holds {} but {put_in} went in and {taken_out} out",
            rec.held()
        ));
    }
    if !matches!(rec.status, ChannelStatus::Settled { .. }) {
        check_balances(rec, parties)?;
    }
    for party in [&parties.a, &parties.b] {
        check_party(rec, party, baseline.at(party.role))?;
    }
    Ok(())
}

/// What the ledger would count for each payer if it settled now: the floor, raised by what
/// a close already counted and by the payer's latest voucher the peer holds.
fn claims(rec: &ChannelRecord, parties: &Pair<Party>) -> Pair<Amount> {
    let counted = match rec.status {
        ChannelStatus::Closing { counted, .. } => counted,
        _ => Pair::default(),
    };
    let held_by = |holder: &Party| {
        holder
            .channel
            .as_ref()
            .and_then(|c| c.latest_received())
            .map_or(0, |v| v.voucher.cumulative)
    };
    Pair::new(
        rec.floors.a.max(counted.a).max(held_by(&parties.b)),
        rec.floors.b.max(counted.b).max(held_by(&parties.a)),
    )
}

/// What `party` is owed: its deposits minus its withdrawals minus the most it ever signed
/// plus the peer's latest voucher it holds (`docs/PROTOCOL.md`, section 5), at least zero.
fn owed(rec: &ChannelRecord, party: &Party) -> U256 {
    let role = party.role;
    let held = party
        .channel
        .as_ref()
        .map_or(0, |c| c.balances().paid_by_peer);
    let plus = u(rec.deposited.at(role)).saturating_add(u(held));
    let minus = u(rec.withdrawn.at(role)).saturating_add(u(party.max_signed));
    plus.saturating_sub(minus)
}

/// Were the channel settled now, with the floors, what a close counted and the vouchers
/// each party holds, every honest party would get at least what it is owed. This is what
/// makes a payee's balance check and a co-signer's certificate check matter: accepting a
/// voucher or co-signing a withdrawal beyond the payer's funds breaks it.
fn check_balances(rec: &ChannelRecord, parties: &Pair<Party>) -> Result<(), Broken> {
    let paid = claims(rec, parties);
    let Some(payouts) = settlement_payouts(rec.deposited, rec.withdrawn, paid) else {
        return Err(format!("withdrawals exceed deposits: {rec:?}"));
    };
    for party in [&parties.a, &parties.b] {
        let owed = owed(rec, party);
        if party.honest && u(payouts.at(party.role)) < owed {
            return Err(format!(
                "settled now, honest {} would get {} but is owed {owed} (counted {paid:?})",
                party.role,
                payouts.at(party.role)
            ));
        }
    }
    Ok(())
}

fn check_party(rec: &ChannelRecord, party: &Party, baseline: Amount) -> Result<(), Broken> {
    let role = party.role;
    if !party.is_committed() {
        return Err(format!("{role} holds a state it did not commit"));
    }
    let Some(channel) = &party.channel else {
        return Ok(());
    };
    let view = channel.ledger();
    for r in [Role::A, Role::B] {
        if view.deposited.at(r) > rec.deposited.at(r)
            || view.withdrawn.at(r) > rec.withdrawn.at(r)
            || view.floors.at(r) > rec.floors.at(r)
        {
            return Err(format!(
                "{role} counts more than the ledger has for {r}: {view:?} vs {rec:?}"
            ));
        }
    }
    let balances = channel.balances();
    if balances.paid_by_peer < baseline {
        return Err(format!(
            "{role}'s count of the peer's payments fell from {baseline} to {}",
            balances.paid_by_peer
        ));
    }
    if balances.paid_by_me > party.max_signed.max(view.floors.at(role)) {
        return Err(format!(
            "{role} counts {} paid but signed at most {}",
            balances.paid_by_me, party.max_signed
        ));
    }
    Ok(())
}

/// What each party's count of the peer's payments is now (the baseline of the next check).
pub fn received(parties: &Pair<Party>) -> Pair<Amount> {
    let of = |p: &Party| p.channel.as_ref().map_or(0, |c| c.balances().paid_by_peer);
    Pair::new(of(&parties.a), of(&parties.b))
}

/// The checks once the channel is settled and both parties have read every event.
/// `minted` is what each account was given at the start.
pub fn check_final(bank: &Bank, parties: &Pair<Party>, minted: Amount) -> Result<(), Broken> {
    let rec = record(bank, parties)?;
    let ChannelStatus::Settled { payouts } = rec.status else {
        return Err(format!("the channel is not settled: {:?}", rec.status));
    };
    if rec.held() != 0 {
        return Err(format!("a settled channel still holds {}", rec.held()));
    }
    if bank.total(ASSET) != bank.supply(ASSET) {
        return Err("money not conserved at the end".into());
    }
    for party in [&parties.a, &parties.b] {
        let role = party.role;
        let Some(channel) = party.committed() else {
            return Err(format!("{role} forgot the channel"));
        };
        if channel.phase() != &(Phase::Closed { payouts }) {
            return Err(format!(
                "{role} sees {:?}, the ledger paid {payouts:?}",
                channel.phase()
            ));
        }
        let account = u(minted)
            .saturating_add(u(rec.withdrawn.at(role)))
            .saturating_add(u(payouts.at(role)))
            .checked_sub(u(rec.deposited.at(role)));
        let balance = bank.balance(party.key().address(), ASSET);
        if Some(u(balance)) != account {
            return Err(format!(
                "{role}'s account holds {balance}, its deposits, withdrawals and payout say {account:?}"
            ));
        }
        if !party.honest {
            continue;
        }
        let owed = owed(rec, party);
        if u(payouts.at(role)) < owed {
            return Err(format!(
                "honest {role} was paid {} but is owed {owed}",
                payouts.at(role)
            ));
        }
    }
    Ok(())
}
