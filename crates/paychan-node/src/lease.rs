//! The active background of a high-availability payee: a lease held in the shared store, and
//! a store that writes only while it is held (`docs/ARCHITECTURE.md`, high availability).
//!
//! Any number of background processes may run; one is active. [`ActiveLease::acquire`] waits
//! (a standby) until the store grants the lease, then keeps it renewed ([`ActiveLease::run`]).
//! Two guards stop a background that lost it, whatever the reason (it died and came back, it
//! was paused with `SIGSTOP`, the database was unreachable for longer than the lease):
//!
//! - every write goes through a [`FencedStore`], whose batches carry the lease's fencing
//!   token: the database refuses them once another background took the lease over, or once
//!   the lease expired on the database's clock;
//! - every signature and ledger operation ([`FencedLedger`]) first asks
//!   [`ActiveLease::check`], which answers
//!   from the process's monotonic clock (it keeps running while the process is paused): the
//!   lease is known held only until `ttl` after the last renewal *was sent*, never longer.
//!
//! A background that finds the lease lost stops for good ([`ActiveLease::lost`]); restarted,
//! it is a standby.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use paychan_core::{
    Address, Amount, ChannelId, ChannelParams, Domain, Role, Settlement, SignedVoucher, Withdrawal,
    adjudicator::ChannelRecord, channel::CoSigned,
};
use paychan_ledger::{
    ChallengeFloor, EventStream, Ledger, LedgerClose, LedgerError, LedgerEvents, LedgerFunding,
    LedgerQuery, LedgerWithdraw, Receipt,
};
use paychan_store::{
    Batch, ChannelRow, Contact, Direction, Fence, LeaseAttempt, PaymentRow, Store, StoreError,
};
use tokio::sync::watch;

use crate::error::NodeError;

/// The name of the background's lease in the shared store.
pub const BACKGROUND_LEASE: &str = "background";

/// The lease of the active background, renewed while it runs (see the [module docs](self)).
pub struct ActiveLease {
    store: Arc<dyn Store>,
    name: String,
    ttl: Duration,
    token: u64,
    /// Until when the lease is known held, on this process's monotonic clock.
    held_until: Mutex<Instant>,
    lost: watch::Sender<bool>,
}

impl std::fmt::Debug for ActiveLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActiveLease")
            .field("name", &self.name)
            .field("token", &self.token)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl ActiveLease {
    /// Waits until `store` grants the lease `name` to `holder` for `ttl`, polling a few times
    /// per `ttl`; `on_wait` hears who holds it meanwhile (once per change of holder or token).
    /// Fails only on a store error other than [`StoreError::Unavailable`] (which it waits
    /// out, reporting it).
    pub async fn acquire(
        store: Arc<dyn Store>,
        name: &str,
        holder: &str,
        ttl: Duration,
        mut on_wait: impl FnMut(Waiting),
    ) -> Result<Arc<Self>, StoreError> {
        let poll = ttl
            .checked_div(5)
            .unwrap_or(ttl)
            .clamp(Duration::from_millis(50), Duration::from_secs(1));
        let mut last: Option<Waiting> = None;
        loop {
            let sent = Instant::now();
            let waiting = match store.acquire_lease(name, holder, ttl).await {
                Ok(LeaseAttempt::Granted { token }) => {
                    let (lost, _) = watch::channel(false);
                    return Ok(Arc::new(ActiveLease {
                        store,
                        name: name.to_owned(),
                        ttl,
                        token,
                        held_until: Mutex::new(sent.checked_add(ttl).unwrap_or(sent)),
                        lost,
                    }));
                }
                Ok(LeaseAttempt::Held {
                    holder,
                    token,
                    remaining,
                }) => Waiting::Held {
                    holder,
                    token,
                    remaining,
                },
                Err(e @ StoreError::Unavailable { .. }) => Waiting::Unavailable(e.to_string()),
                Err(e) => return Err(e),
            };
            if last.as_ref().is_none_or(|last| !last.same(&waiting)) {
                on_wait(waiting.clone());
                last = Some(waiting);
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// The fencing token.
    pub fn token(&self) -> u64 {
        self.token
    }

    /// The condition of every write of this background.
    pub fn fence(&self) -> Fence {
        Fence {
            lease: self.name.clone(),
            token: self.token,
        }
    }

    /// Whether the lease is known held right now (see the [module docs](self)); if not, why.
    pub fn check(&self) -> Result<(), NodeError> {
        if *self.lost.borrow() {
            return Err(NodeError::LeaseLost(format!(
                "another background took lease {} over (token {} lost it)",
                self.name, self.token
            )));
        }
        let held_until = *self.held_until.lock().unwrap_or_else(|e| e.into_inner());
        if Instant::now() >= held_until {
            return Err(NodeError::LeaseLost(format!(
                "lease {} not renewed in time (token {}): not acting until it is",
                self.name, self.token
            )));
        }
        Ok(())
    }

    /// Becomes `true` once the lease is lost for good.
    pub fn lost(&self) -> watch::Receiver<bool> {
        self.lost.subscribe()
    }

    /// Marks the lease lost for good.
    fn give_up(&self) {
        self.lost.send_replace(true);
    }

    /// Renews the lease every third of its `ttl` until it is lost (another holder took it),
    /// which it reports through [`lost`](Self::lost) before returning. A renewal that fails
    /// (the database unreachable) is retried; meanwhile [`check`](Self::check) fails once
    /// the last renewal is `ttl` old.
    pub async fn run(self: Arc<Self>) {
        let period = self.ttl.checked_div(3).unwrap_or(self.ttl);
        loop {
            tokio::time::sleep(period).await;
            let sent = Instant::now();
            match self
                .store
                .renew_lease(&self.name, self.token, self.ttl)
                .await
            {
                Ok(true) => {
                    let mut held_until = self.held_until.lock().unwrap_or_else(|e| e.into_inner());
                    *held_until = sent.checked_add(self.ttl).unwrap_or(sent);
                }
                Ok(false) => {
                    tracing::error!(
                        lease = %self.name,
                        token = self.token,
                        "another background took the lease over"
                    );
                    self.give_up();
                    return;
                }
                Err(error) => {
                    tracing::warn!(lease = %self.name, %error, "cannot renew the lease; retrying");
                }
            }
        }
    }

    /// Ends the lease now (a clean shutdown: a standby takes over at once).
    pub async fn release(&self) -> Result<(), StoreError> {
        self.give_up();
        self.store.release_lease(&self.name, self.token).await?;
        Ok(())
    }
}

/// Why [`ActiveLease::acquire`] is still waiting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Waiting {
    /// Another background is active.
    Held {
        /// It, as it named itself.
        holder: String,
        /// Its token.
        token: u64,
        /// How long until its lease expires unless it renews it.
        remaining: Duration,
    },
    /// The store cannot be reached.
    Unavailable(String),
}

impl Waiting {
    /// Whether `other` reports the same situation (the time left aside).
    fn same(&self, other: &Waiting) -> bool {
        match (self, other) {
            (
                Waiting::Held { holder, token, .. },
                Waiting::Held {
                    holder: h,
                    token: t,
                    ..
                },
            ) => holder == h && token == t,
            (Waiting::Unavailable(_), Waiting::Unavailable(_)) => true,
            _ => false,
        }
    }
}

/// A [`Store`] whose every write is fenced by an [`ActiveLease`]: batches carry its token,
/// and no write is even tried once the lease is not known held. A write the database fences
/// marks the lease lost.
pub struct FencedStore {
    inner: Arc<dyn Store>,
    lease: Arc<ActiveLease>,
}

impl FencedStore {
    /// Writes to `inner` while `lease` holds.
    pub fn new(inner: Arc<dyn Store>, lease: Arc<ActiveLease>) -> Self {
        FencedStore { inner, lease }
    }

    fn check(&self) -> Result<(), StoreError> {
        self.lease.check().map_err(|_| StoreError::Fenced {
            lease: self.lease.name.clone(),
            token: self.lease.token,
        })
    }

    fn watch<T>(&self, outcome: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(StoreError::Fenced { .. }) = &outcome {
            self.lease.give_up();
        }
        outcome
    }
}

#[async_trait]
impl Store for FencedStore {
    async fn commit(&self, mut batch: Batch) -> Result<(), StoreError> {
        self.check()?;
        batch.fence = Some(self.lease.fence());
        let outcome = self.inner.commit(batch).await;
        self.watch(outcome)
    }

    async fn channels(&self) -> Result<Vec<ChannelRow>, StoreError> {
        self.inner.channels().await
    }

    async fn channel(&self, id: ChannelId) -> Result<Option<ChannelRow>, StoreError> {
        self.inner.channel(id).await
    }

    async fn channels_for_peer(&self, peer: Address) -> Result<Vec<ChannelRow>, StoreError> {
        self.inner.channels_for_peer(peer).await
    }

    async fn payments(
        &self,
        channel: ChannelId,
        direction: Direction,
        limit: u32,
        before: Option<u64>,
    ) -> Result<Vec<PaymentRow>, StoreError> {
        self.inner.payments(channel, direction, limit, before).await
    }

    async fn ledger_cursor(&self) -> Result<u64, StoreError> {
        self.inner.ledger_cursor().await
    }

    async fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.inner.meta(key).await
    }

    /// Settings and contacts are not money: written only while the lease is known held, but
    /// not fenced in the database.
    async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.check()?;
        self.inner.set_meta(key, value).await
    }

    async fn contacts(&self) -> Result<Vec<Contact>, StoreError> {
        self.inner.contacts().await
    }

    async fn contact(&self, alias: &str) -> Result<Option<Contact>, StoreError> {
        self.inner.contact(alias).await
    }

    async fn put_contact(&self, contact: &Contact) -> Result<(), StoreError> {
        self.check()?;
        self.inner.put_contact(contact).await
    }

    async fn remove_contact(&self, alias: &str) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.remove_contact(alias).await
    }
}

/// A [`Ledger`] that acts (opens, deposits, withdraws, closes, settles, claims) only while
/// an [`ActiveLease`] is known held; queries and events pass through. A background that lost
/// its lease sends no transaction.
pub struct FencedLedger {
    inner: Arc<dyn Ledger>,
    lease: Arc<ActiveLease>,
}

impl FencedLedger {
    /// Acts on `inner` while `lease` holds.
    pub fn new(inner: Arc<dyn Ledger>, lease: Arc<ActiveLease>) -> Self {
        FencedLedger { inner, lease }
    }

    fn check(&self) -> Result<(), LedgerError> {
        self.lease
            .check()
            .map_err(|e| LedgerError::Unauthorized(e.to_string()))
    }
}

#[async_trait]
impl LedgerQuery for FencedLedger {
    async fn domain(&self) -> Result<Domain, LedgerError> {
        self.inner.domain().await
    }

    async fn now(&self) -> Result<u64, LedgerError> {
        self.inner.now().await
    }

    async fn balance(&self, owner: Address, asset: Address) -> Result<Amount, LedgerError> {
        self.inner.balance(owner, asset).await
    }

    async fn channel(&self, id: ChannelId) -> Result<Option<ChannelRecord>, LedgerError> {
        self.inner.channel(id).await
    }

    async fn channel_unconfirmed(
        &self,
        id: ChannelId,
    ) -> Result<Option<ChannelRecord>, LedgerError> {
        self.inner.channel_unconfirmed(id).await
    }

    async fn challenge_floor(&self) -> Result<ChallengeFloor, LedgerError> {
        self.inner.challenge_floor().await
    }

    async fn unclaimed(&self, owner: Address, asset: Address) -> Result<Amount, LedgerError> {
        self.inner.unclaimed(owner, asset).await
    }

    fn pending_transactions(&self) -> Vec<paychan_ledger::types::PendingTransaction> {
        self.inner.pending_transactions()
    }

    async fn chain_id(&self) -> Result<u64, LedgerError> {
        self.inner.chain_id().await
    }

    async fn adjudicator(&self) -> Result<Address, LedgerError> {
        self.inner.adjudicator().await
    }
}

#[async_trait]
impl LedgerFunding for FencedLedger {
    fn account(&self) -> Address {
        self.inner.account()
    }

    async fn open(&self, params: &ChannelParams, amount: Amount) -> Result<Receipt, LedgerError> {
        self.check()?;
        self.inner.open(params, amount).await
    }

    async fn deposit(
        &self,
        id: ChannelId,
        party: Role,
        amount: Amount,
    ) -> Result<Receipt, LedgerError> {
        self.check()?;
        self.inner.deposit(id, party, amount).await
    }
}

#[async_trait]
impl LedgerWithdraw for FencedLedger {
    async fn withdraw(&self, certificate: &CoSigned<Withdrawal>) -> Result<Receipt, LedgerError> {
        self.check()?;
        self.inner.withdraw(certificate).await
    }
}

#[async_trait]
impl LedgerClose for FencedLedger {
    async fn close_cooperative(
        &self,
        settlement: &CoSigned<Settlement>,
    ) -> Result<Receipt, LedgerError> {
        self.check()?;
        self.inner.close_cooperative(settlement).await
    }

    async fn start_close(
        &self,
        id: ChannelId,
        voucher: Option<&SignedVoucher>,
    ) -> Result<Receipt, LedgerError> {
        self.check()?;
        self.inner.start_close(id, voucher).await
    }

    async fn submit_voucher(&self, voucher: &SignedVoucher) -> Result<Receipt, LedgerError> {
        self.check()?;
        self.inner.submit_voucher(voucher).await
    }

    async fn settle(&self, id: ChannelId) -> Result<Receipt, LedgerError> {
        self.check()?;
        self.inner.settle(id).await
    }

    async fn claim(&self, asset: Address, to: Address) -> Result<Receipt, LedgerError> {
        self.check()?;
        self.inner.claim(asset, to).await
    }
}

#[async_trait]
impl LedgerEvents for FencedLedger {
    async fn events(&self, from: u64) -> Result<EventStream, LedgerError> {
        self.inner.events(from).await
    }
}
