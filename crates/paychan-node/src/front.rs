//! A payee that holds no channel in memory and no key: it verifies payment packages against
//! a store that other processes share (`docs/ARCHITECTURE.md`, high availability).
//!
//! [`StorePayee`] is the part of a front process that counts payments: each package is
//! checked by the manager against the channel's row as stored now, and the accepted state
//! is committed conditionally on the version it was read at, in one transaction with the
//! payment's row. Two fronts verifying the same package at the same instant both read
//! version `n`; one commits `n + 1`, the other's commit fails with a conflict, and it reloads
//! and decides again, where the package is now a replay: it is counted once. No lock is held
//! between the read and the commit.
//!
//! The paywall checks a package before the call and records it after: the row a check read
//! is kept in memory (at most [`CACHE_CAPACITY`] channels) and the record of the same voucher
//! decides on it and commits its next version without reading it again: one read and one
//! commit per paid call. The compare-and-set makes the copy safe: the commit succeeds only if
//! the stored version is the copy's, that is, if the copy *is* the stored row; otherwise the
//! payee reloads and decides again. A refusal is never decided on a copy: the package is
//! decided again on the row as read now. (Keeping rows across calls would not pay: behind a
//! round-robin load balancer a channel's next call goes to another front, whose copy is then
//! always one version old.)
//!
//! A channel new to the store is learnt from the ledger (open, with these parameters, under
//! the channel policy) and written as version 1, conditionally too. The payee's key is not
//! needed: accepting a voucher signs nothing. What a store-only payee does not do is the
//! background's work: it follows no ledger events, so a close started on the ledger shows
//! in the row only once the process that watches the ledger writes it (until then a front
//! may accept vouchers on a closing channel — at the payee's risk only, since the payer's
//! voucher still counts if submitted during the challenge period).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use paychan_core::{
    Address, Amount, ChannelId, Role,
    adjudicator::LedgerEvent,
    manager::{ChannelPolicy, DefenceFloor, Funds, Manager, UnconfirmedCredit, VoucherStep},
};
use paychan_ledger::LedgerQuery;
use paychan_store::{Batch, ChannelRow, Direction, PaymentRow, Store, StoreError};

use crate::{
    error::{NodeError, PackageRejection},
    node::{Persisted, lock, status_of, unix_now},
    package::{Claim, PaymentPackage, VerifiedPayment},
    payouts::decode_persisted,
};

/// How many times a verification reloads after losing a race before it gives up (with a
/// retryable store conflict): each loss means another writer committed a newer state.
const MAX_ATTEMPTS: usize = 16;

/// How many channels' rows a payee keeps in memory; beyond it, an arbitrary one is dropped
/// (and read again when needed).
pub const CACHE_CAPACITY: usize = 10_000;

/// A payee verifying payment packages against a shared store (see the [module
/// docs](self)).
pub struct StorePayee {
    manager: Manager,
    store: Arc<dyn Store>,
    ledger: Arc<dyn LedgerQuery>,
    /// The rows checks read, by channel, with the voucher sequence they were read for (see
    /// the [module docs](self)).
    cache: Mutex<HashMap<ChannelId, (u64, Loaded)>>,
}

/// A channel's state as read from the store, and the version it was read at (0: no row).
struct Loaded {
    state: Persisted,
    version: u64,
}

impl StorePayee {
    /// The payee `payee` on `ledger`, counting payments in `store`, accepting channels under
    /// `policy` (with the challenge periods its ledger lets it defend).
    pub async fn new(
        payee: Address,
        store: Arc<dyn Store>,
        ledger: Arc<dyn LedgerQuery>,
        policy: ChannelPolicy,
    ) -> Result<Self, NodeError> {
        let domain = ledger.domain().await?;
        let floor = ledger.challenge_floor().await?;
        let manager = Manager::new(
            payee,
            domain,
            policy,
            DefenceFloor {
                seconds: floor.seconds,
                reason: floor.reason,
            },
            // Credit ahead of unconfirmed deposits needs a total across channels, which
            // fronts would have to share: not given.
            UnconfirmedCredit::default(),
        );
        Ok(StorePayee {
            manager,
            store,
            ledger,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The payee's address.
    pub fn address(&self) -> Address {
        self.manager.me()
    }

    /// The manager (the payee's ledger and policy).
    pub fn manager(&self) -> &Manager {
        &self.manager
    }

    /// Verifies `package` and records it if it pays at least `min_amount`, exactly as
    /// [`Node::verify_payment_package_min`](crate::Node::verify_payment_package_min) does,
    /// against the store. A refused package changes nothing.
    pub async fn verify_payment_package(
        &self,
        package: &PaymentPackage,
        min_amount: Amount,
    ) -> Result<VerifiedPayment, NodeError> {
        self.decide(package, min_amount, true).await
    }

    /// Checks `package` as [`verify_payment_package`](Self::verify_payment_package) would,
    /// recording nothing (the paywall checks before it serves and records after).
    pub async fn check_payment_package(
        &self,
        package: &PaymentPackage,
        min_amount: Amount,
    ) -> Result<VerifiedPayment, NodeError> {
        self.decide(package, min_amount, false).await
    }

    async fn decide(
        &self,
        package: &PaymentPackage,
        min_amount: Amount,
        record: bool,
    ) -> Result<VerifiedPayment, NodeError> {
        let refuse = NodeError::PackageRefused;
        let Claim { params, voucher } = package.claim(self.manager.domain(), self.address())?;
        let v = &voucher.voucher;
        let id = v.channel_id;
        let mut attempt: usize = 0;
        loop {
            attempt = attempt.saturating_add(1);
            // A record's first decision may use the row its check read; every later one
            // reads the store.
            let cached = (record && attempt == 1)
                .then(|| self.take_checked(id, v.sequence))
                .flatten();
            let from_cache = cached.is_some();
            let mut loaded = match cached {
                Some(loaded) => loaded,
                None => self.load(id, &params).await?,
            };
            let mut step =
                self.manager
                    .check_voucher(&loaded.state.channel, &voucher, v.memo, Funds::Known);
            if let VoucherStep::RefreshDeposits { .. } = step {
                // Our rows may lag behind the ledger's confirmed deposits.
                self.refresh(id, &mut loaded.state).await?;
                step = self.manager.check_voucher(
                    &loaded.state.channel,
                    &voucher,
                    v.memo,
                    Funds::Refreshed,
                );
            }
            let accepted = match step {
                VoucherStep::Accept(accepted) => accepted,
                // Never refuse on the copy in memory: decide again on the stored row.
                _ if from_cache => continue,
                VoucherStep::Refuse(why)
                | VoucherStep::RefreshDeposits { over: why }
                | VoucherStep::AskCredit { over: why } => {
                    return Err(refuse(PackageRejection::Voucher(why)));
                }
            };
            if accepted.amount < min_amount {
                return Err(refuse(PackageRejection::Underpaid {
                    amount: accepted.amount,
                    min: min_amount,
                }));
            }
            let remaining = accepted.next.available(accepted.next.role().peer());
            let payment = PaymentRow {
                channel_id: id,
                direction: Direction::Incoming,
                sequence: v.sequence,
                amount: accepted.amount,
                cumulative: v.cumulative,
                memo: v.memo,
                time: unix_now(),
            };
            let verified = VerifiedPayment {
                channel_id: id,
                payer: v.payer,
                amount: accepted.amount,
                cumulative: v.cumulative,
                remaining,
                memo: v.memo,
                message: package.message.clone(),
            };
            if !record {
                // The record of this voucher that follows the call starts from this row.
                self.remember(id, v.sequence, loaded);
                return Ok(verified);
            }
            let mut next = loaded.state;
            next.channel = accepted.next;
            let row = row_of(next, loaded.version)?;
            let batch = Batch {
                channels: vec![row],
                payments: vec![payment],
                ledger_cursor: None,
                removals: vec![],
                fence: None,
            };
            match self.store.commit(batch).await {
                Ok(()) => return Ok(verified),
                // Another writer got there first: decide again on what it wrote.
                Err(StoreError::Conflict { .. }) if attempt < MAX_ATTEMPTS => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The row a check of voucher `sequence` of channel `id` read, taken out of memory.
    fn take_checked(&self, id: ChannelId, sequence: u64) -> Option<Loaded> {
        let mut cache = lock(&self.cache);
        match cache.remove(&id) {
            Some((checked, loaded)) if checked == sequence => Some(loaded),
            _ => None,
        }
    }

    /// Keeps `loaded`, the row a check of voucher `sequence` read, as channel `id`'s.
    fn remember(&self, id: ChannelId, sequence: u64, loaded: Loaded) {
        let mut cache = lock(&self.cache);
        if cache.len() >= CACHE_CAPACITY
            && !cache.contains_key(&id)
            && let Some(evicted) = cache.keys().next().copied()
        {
            cache.remove(&evicted);
        }
        cache.insert(id, (sequence, loaded));
    }

    /// The channel's stored state, or, if the store has none, the channel learnt from the
    /// ledger (open with these parameters, under the policy) with the ledger's deposits, not
    /// yet stored (version 0).
    async fn load(
        &self,
        id: ChannelId,
        params: &paychan_core::ChannelParams,
    ) -> Result<Loaded, NodeError> {
        if let Some(row) = self.store.channel(id).await? {
            let state = decode_persisted(&row.state).map_err(|e| {
                NodeError::Protocol(format!("stored channel {id} does not decode: {e}"))
            })?;
            if state.channel.me() != self.address()
                || state.channel.domain() != self.manager.domain()
            {
                return Err(NodeError::PackageRefused(PackageRejection::OtherPayee));
            }
            return Ok(Loaded {
                state,
                version: row.version,
            });
        }
        let record = self.ledger.channel(id).await?;
        let channel = self
            .manager
            .handle_ledger_channel(*params, record.as_ref(), unix_now())?;
        let mut state = Persisted::new(channel);
        if let Some(record) = &record {
            self.apply_deposits(&mut state, id, record.deposited);
        }
        Ok(Loaded { state, version: 0 })
    }

    /// Brings `state` up to the ledger's confirmed deposits (totals: idempotent).
    async fn refresh(&self, id: ChannelId, state: &mut Persisted) -> Result<(), NodeError> {
        if let Some(record) = self.ledger.channel(id).await? {
            self.apply_deposits(state, id, record.deposited);
        }
        Ok(())
    }

    fn apply_deposits(
        &self,
        state: &mut Persisted,
        id: ChannelId,
        deposited: paychan_core::Pair<Amount>,
    ) {
        let events = [Role::A, Role::B].map(|party| LedgerEvent::Deposited {
            channel_id: id,
            party,
            amount: 0,
            total: deposited.at(party),
        });
        // Opens a proposed (learnt) channel too: the ledger has it.
        let _ = self
            .manager
            .handle_ledger_events(&mut state.channel, &events);
    }
}

/// The row of `next` as the version after `read` (stored only if the row is still at
/// `read`: the store's compare-and-set).
fn row_of(mut next: Persisted, read: u64) -> Result<ChannelRow, NodeError> {
    next.mark_opened();
    Ok(ChannelRow {
        id: next.channel.id(),
        peer: next.channel.peer(),
        phase: status_of(&next).to_string(),
        version: read.saturating_add(1),
        state: postcard::to_stdvec(&next)
            .map_err(|e| NodeError::Protocol(format!("cannot encode channel: {e}")))?,
        updated_at: unix_now(),
    })
}
