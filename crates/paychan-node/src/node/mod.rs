//! [`Node`]: channels with other nodes over a shared ledger.
//!
//! The node owns one [`Channel`] state machine per channel, behind a per-channel lock, and
//! drives it: commands from the user (open, pay, message, deposit, withdraw, close),
//! messages from peers, events from the ledger. Every change is committed to the store before
//! anything that depends on it leaves the node (`docs/PROTOCOL.md`, section 2): the payer commits its new
//! counter before sending the voucher, the payee commits the voucher before answering.
//!
//! A channel carries at most one of our payments at a time: the payer waits for the answer
//! before signing the next voucher on the same channel, so a payment the payee's handler
//! refuses can be taken back exactly ([`Channel::cancel_payment`]). Throughput comes from many
//! channels in parallel.

use std::{
    collections::HashMap,
    future::Future,
    sync::{
        Arc, Mutex as StdMutex, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use async_trait::async_trait;
use paychan_core::{
    Address, Amount, ChannelId, ChannelParams, Domain, Pair, Role, SignedVoucher, SigningKey,
    adjudicator::LedgerEvent,
    channel::{Balances, CertificateRejection, Channel, Phase, VoucherRejection},
    eip712::memo_of,
    keccak256,
    manager::{
        Accepted, ChannelChange, DefenceFloor, Funds, Manager, Timers, VoucherStep,
        timers::Deadlines,
    },
    wire::{ErrorBody, MAX_BODY_LEN, Message, ProposeChannel, Reply},
};
use paychan_ledger::{Ledger, Receipt};
use paychan_store::{Batch, ChannelRow, Direction, PaymentRow, Removal, Store};
use serde::{Deserialize, Serialize};
use tokio::{
    sync::{Mutex, Notify, broadcast, watch},
    task::JoinHandle,
};

use crate::{
    config::{NodeConfig, UnconfirmedCredit},
    error::{NodeError, PackageRejection},
    events::NodeEvent,
    lease::{ActiveLease, FencedLedger, FencedStore},
    metrics::NodeMetrics,
    payouts::PayoutState,
    peers::{Peers, Wait},
};

mod commands;
mod incoming;
mod ledger;
mod shared;
mod unconfirmed;

pub(crate) use unconfirmed::{CreditLimits, PendingDeposit};

use ledger::user_events;

/// An incoming payment (or plain message, with amount zero) for the handler.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Incoming {
    /// The channel.
    pub channel_id: ChannelId,
    /// The peer that pays.
    pub peer: Address,
    /// The amount of this payment (zero for a plain message).
    pub amount: Amount,
    /// The message, as JSON.
    pub message: serde_json::Value,
}

/// Answers incoming payments: a response, or an error (then the payment is not counted).
#[async_trait]
pub trait PaymentHandler: Send + Sync + 'static {
    /// Handles one incoming payment or message.
    async fn handle(&self, incoming: Incoming) -> Result<serde_json::Value, String>;
}

#[async_trait]
impl<F, Fut> PaymentHandler for F
where
    F: Fn(Incoming) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<serde_json::Value, String>> + Send + 'static,
{
    async fn handle(&self, incoming: Incoming) -> Result<serde_json::Value, String> {
        self(incoming).await
    }
}

/// Decides on channel proposals that passed the [`ChannelPolicy`](crate::ChannelPolicy):
/// `Ok` accepts, `Err(reason)` refuses with that reason.
#[async_trait]
pub trait ProposalHandler: Send + Sync + 'static {
    /// Decides on a proposal from `peer` with the proposer's initial `deposit`.
    async fn decide(
        &self,
        peer: Address,
        params: ChannelParams,
        deposit: Amount,
    ) -> Result<(), String>;
}

#[async_trait]
impl<F, Fut> ProposalHandler for F
where
    F: Fn(Address, ChannelParams, Amount) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    async fn decide(
        &self,
        peer: Address,
        params: ChannelParams,
        deposit: Amount,
    ) -> Result<(), String> {
        self(peer, params, deposit).await
    }
}

/// A channel's balances and status (aa-channels' `getBalancesAndStatus`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelInfo {
    /// The channel.
    pub channel_id: ChannelId,
    /// The peer.
    pub peer: Address,
    /// Our role (A opened it).
    pub role: Role,
    /// `proposed`, `open`, `settling`, `close requested`, `closing`, `closed`.
    pub status: String,
    /// Balances from our side.
    pub balances: Balances,
    /// What the settlement formula gives each party now.
    pub expected_payouts: Option<Pair<Amount>>,
    /// During a close: the ledger time after which it can be settled.
    pub deadline: Option<u64>,
    /// Auto-refill `(threshold, amount)`, if set.
    pub auto_refill: Option<(Amount, Amount)>,
    /// Our payouts of this channel that the ledger could not deliver (a recipient that
    /// refuses them) and that are not claimed yet (docs/ETHEREUM.md).
    pub unclaimed: Amount,
    /// Our deposits sent to the ledger and not yet applied to the channel (the initial
    /// deposit while the channel is being opened, then any deposit or refill on its way):
    /// aa-channels' `my_deposits`. Not part of [`Balances::my_deposit`] until applied.
    #[serde(default)]
    pub pending_deposit: Amount,
    /// During a unilateral close: who started it.
    #[serde(default)]
    pub close_started_by: Option<Role>,
}

/// What the node persists per channel, beside the core state. New fields go at the end
/// (rows written before them decode through `payouts::decode_persisted`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Persisted {
    pub(crate) channel: Channel,
    /// Whether the ledger has reported the channel open: written as "not
    /// [`Phase::Proposed`]", read only to upgrade channels stored before that phase existed
    /// (see [`Persisted::upgrade`]).
    opened: bool,
    auto_refill: Option<(Amount, Amount)>,
    /// Our payouts of this channel the ledger could not deliver and we have not claimed.
    pub(crate) payouts: PayoutState,
}

impl Persisted {
    pub(crate) fn new(channel: Channel) -> Self {
        let opened = !is_proposed(&channel);
        Persisted {
            channel,
            opened,
            auto_refill: None,
            payouts: PayoutState::default(),
        }
    }

    /// Writes "opened" as "not [`Phase::Proposed`]", before the state is stored.
    pub(crate) fn mark_opened(&mut self) {
        self.opened = !is_proposed(&self.channel);
    }

    /// A row written before `payouts` existed.
    pub(crate) fn from_v1(
        channel: Channel,
        opened: bool,
        auto_refill: Option<(Amount, Amount)>,
    ) -> Self {
        Persisted {
            channel,
            opened,
            auto_refill,
            payouts: PayoutState::default(),
        }
    }

    /// A channel stored before [`Phase::Proposed`] existed kept "proposed" as `opened ==
    /// false` with the phase `Open`: it becomes `Proposed` since `now`.
    fn upgrade(mut self, now: u64) -> Self {
        if !self.opened && self.channel.phase() == &Phase::Open {
            self.channel.mark_proposed(now);
        }
        self
    }
}

/// Whether the ledger has not opened the channel yet (as far as we know).
pub(crate) fn is_proposed(channel: &Channel) -> bool {
    matches!(channel.phase(), Phase::Proposed { .. })
}

pub(crate) struct Entry {
    pub(crate) state: Persisted,
    pub(crate) version: u64,
    refilling: bool,
    /// The deadlines last given to the node's [`Timers`].
    deadlines: Armed,
}

/// [`Deadlines`] in 24 bytes instead of 48 (there is one per channel in memory): each
/// deadline plus one, `None` for none. Only compared, to tell whether a channel's deadlines
/// moved; the two latest representable times (never reached) compare equal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Armed([Option<std::num::NonZeroU64>; 3]);

impl From<Deadlines> for Armed {
    fn from(deadlines: Deadlines) -> Self {
        Armed(deadlines.map(|at| at.and_then(|t| std::num::NonZeroU64::new(t.saturating_add(1)))))
    }
}

impl Entry {
    fn new(state: Persisted, version: u64) -> Self {
        Entry {
            state,
            version,
            refilling: false,
            deadlines: Armed::default(),
        }
    }
}

/// A voucher checked by [`Node::probe_voucher`] and not yet kept.
pub(crate) struct Probe {
    /// The manager's verdict: what it pays, the credit it needs, the channel with it counted.
    accepted: Accepted,
    /// The channel's version it was checked at.
    version: u64,
}

impl Probe {
    /// What it pays.
    pub(crate) fn amount(&self) -> Amount {
        self.accepted.amount
    }

    /// What the payer could still spend on the channel once it is kept.
    pub(crate) fn remaining(&self) -> Amount {
        let next = &self.accepted.next;
        next.available(next.role().peer())
    }
}

pub(crate) struct Slot {
    pub(crate) entry: Mutex<Entry>,
    /// Held for a whole payment round trip: one payment of ours in flight per channel.
    pub(crate) paying: Mutex<()>,
    /// Our deposits sent to the ledger whose receipt has not been applied yet (aa-channels'
    /// `my_deposits`): counted from before the ledger call until its outcome is known.
    pending_deposit: StdMutex<Amount>,
}

pub(crate) struct Inner {
    key: SigningKey,
    domain: Domain,
    config: NodeConfig,
    /// The protocol logic above the channels (policy, packages, vouchers, counter sync).
    manager: Manager,
    pub(crate) ledger: Arc<dyn Ledger>,
    pub(crate) store: Arc<dyn Store>,
    channels: StdMutex<HashMap<ChannelId, Arc<Slot>>>,
    /// Every peer's connection, and who waits for which answer.
    pub(crate) peers: Peers,
    next_id: AtomicU64,
    events: broadcast::Sender<NodeEvent>,
    handler: RwLock<Option<Arc<dyn PaymentHandler>>>,
    proposals: RwLock<Option<Arc<dyn ProposalHandler>>>,
    pub(crate) shutdown: watch::Sender<bool>,
    tasks: StdMutex<Vec<JoinHandle<()>>>,
    /// Per channel, what vouchers accepted on credit put at risk (see
    /// [`UnconfirmedCredit`](crate::UnconfirmedCredit)); only channels with some.
    exposures: StdMutex<HashMap<ChannelId, Amount>>,
    /// Serializes the decisions that give credit, so the total limit holds.
    credit: Mutex<()>,
    /// The credit limits now: [`NodeConfig::unconfirmed_credit`] until changed at run time
    /// ([`Node::set_unconfirmed_credit`]).
    pub(crate) credit_limits: StdMutex<CreditLimits>,
    /// Every channel's deadlines (see [`crate::lifecycle`]).
    pub(crate) timers: StdMutex<Timers>,
    /// Woken when the earliest deadline on the node's clock may have moved.
    pub(crate) timers_changed: Notify,
    /// The lease of a high-availability background ([`NodeBuilder::lease`]); `None` for a
    /// node that owns its store.
    lease: Option<Arc<ActiveLease>>,
    /// What the node counts for its operator.
    pub(crate) metrics: NodeMetrics,
}

/// A paychan node. Cheap to clone: clones share the node.
#[derive(Clone)]
pub struct Node {
    pub(crate) inner: Arc<Inner>,
}

/// Builds a [`Node`] from explicitly chosen parts (no global registration).
#[derive(Default)]
pub struct NodeBuilder {
    key: Option<SigningKey>,
    ledger: Option<Arc<dyn Ledger>>,
    store: Option<Arc<dyn Store>>,
    config: NodeConfig,
    lease: Option<Arc<ActiveLease>>,
}

impl NodeBuilder {
    /// The node's key (its address identifies it to peers and on the ledger).
    pub fn key(mut self, key: SigningKey) -> Self {
        self.key = Some(key);
        self
    }
    /// The ledger, as a handle acting for the node's account.
    pub fn ledger(mut self, ledger: Arc<dyn Ledger>) -> Self {
        self.ledger = Some(ledger);
        self
    }
    /// Where channel states are persisted.
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }
    /// Settings (defaults otherwise).
    pub fn config(mut self, config: NodeConfig) -> Self {
        self.config = config;
        self
    }

    /// Runs the node as the active background of a high-availability payee
    /// ([`crate::lease`]): the store is shared with fronts that write channel rows too, so the
    /// node reloads a channel before it acts on it and after losing a race; every write is
    /// fenced by `lease`, every signature and ledger operation waits on it, and the node
    /// keeps it renewed.
    pub fn lease(mut self, lease: Arc<ActiveLease>) -> Self {
        self.lease = Some(lease);
        self
    }

    /// Loads the persisted channels and starts the ledger watcher.
    pub async fn build(self) -> Result<Node, NodeError> {
        let missing = |what: &str| NodeError::InvalidMessage(format!("node builder: no {what}"));
        let key = self.key.ok_or_else(|| missing("key"))?;
        let mut ledger = self.ledger.ok_or_else(|| missing("ledger"))?;
        let mut store = self.store.ok_or_else(|| missing("store"))?;
        if let Some(lease) = &self.lease {
            store = Arc::new(FencedStore::new(store, Arc::clone(lease)));
            ledger = Arc::new(FencedLedger::new(ledger, Arc::clone(lease)));
        }
        if ledger.account() != key.address() {
            return Err(NodeError::InvalidMessage(format!(
                "the ledger handle acts for {}, not for the node's key {}",
                ledger.account(),
                key.address()
            )));
        }
        let domain = ledger.domain().await?;
        let challenge_floor = ledger.challenge_floor().await?;
        self.config
            .check_challenge_floor(&challenge_floor)
            .map_err(NodeError::InvalidConfig)?;
        let mut channels = HashMap::new();
        let mut exposures = HashMap::new();
        let mut timers = Timers::new();
        let now = unix_now();
        let proposal_age = self.config.proposal_expiry.as_secs();
        for row in store.channels().await? {
            let state = crate::payouts::decode_persisted(&row.state).map_err(|e| {
                NodeError::Protocol(format!("stored channel {} does not decode: {e}", row.id))
            })?;
            let state = state.upgrade(now);
            if state.channel.me() != key.address() || *state.channel.domain() != domain {
                return Err(NodeError::InvalidMessage(format!(
                    "stored channel {} belongs to another key or ledger",
                    row.id
                )));
            }
            let exposure = state.channel.exposure();
            if exposure > 0 {
                exposures.insert(row.id, exposure);
            }
            let mut entry = Entry::new(state, row.version);
            let deadlines = Timers::deadlines(&entry.state.channel, proposal_age);
            entry.deadlines = deadlines.into();
            timers.update(row.id, deadlines);
            channels.insert(row.id, Arc::new(Slot::new(entry)));
        }
        let (events, _) = broadcast::channel(4096);
        let (shutdown, _) = watch::channel(false);
        let peers = Peers::new(key.address(), self.config.max_requests_per_peer);
        let credit_limits = self.config.unconfirmed_credit.clone();
        let me = key.address();
        let node = Node {
            inner: Arc::new(Inner {
                key,
                domain,
                manager: Manager::new(
                    me,
                    domain,
                    self.config.policy.clone(),
                    DefenceFloor {
                        seconds: challenge_floor.seconds,
                        reason: challenge_floor.reason,
                    },
                    self.config.unconfirmed_credit.clone(),
                ),
                config: self.config,
                ledger,
                store,
                channels: StdMutex::new(channels),
                peers,
                next_id: AtomicU64::new(1),
                events,
                handler: RwLock::new(None),
                proposals: RwLock::new(None),
                shutdown,
                tasks: StdMutex::new(vec![]),
                exposures: StdMutex::new(exposures),
                credit_limits: StdMutex::new(CreditLimits {
                    limits: credit_limits,
                    min_wait: 0,
                    first_seen: HashMap::new(),
                }),
                credit: Mutex::new(()),
                timers: StdMutex::new(timers),
                timers_changed: Notify::new(),
                lease: self.lease.clone(),
                metrics: NodeMetrics::default(),
            }),
        };
        // It answered the domain and the challenge floor just now.
        node.inner.metrics.ledger_answered();
        if let Some(lease) = self.lease {
            node.track(tokio::spawn(lease.run()));
        }
        let watcher = tokio::spawn(crate::watcher::run(node.clone()));
        node.track(watcher);
        node.track(tokio::spawn(crate::lifecycle::run(node.clone())));
        Ok(node)
    }
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(crate) fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these short locks cannot leave their maps inconsistent
    // (single inserts and removes), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Node {
    /// A builder.
    pub fn builder() -> NodeBuilder {
        NodeBuilder::default()
    }

    /// The node's address.
    pub fn address(&self) -> Address {
        self.inner.key.address()
    }

    /// The ledger's domain.
    pub fn domain(&self) -> Domain {
        self.inner.domain
    }

    /// The node's settings.
    pub fn config(&self) -> &NodeConfig {
        &self.inner.config
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<NodeEvent> {
        self.inner.events.subscribe()
    }

    /// Registers the handler of incoming payments (aa-channels'
    /// `setCallBackForPaymentReceived`).
    pub fn set_payment_handler(&self, handler: impl PaymentHandler) {
        let mut slot = self
            .inner
            .handler
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *slot = Some(Arc::new(handler));
    }

    /// Registers a callback that decides on incoming channel proposals after the policy
    /// checks (without one, every proposal within the policy is accepted).
    pub fn set_proposal_handler(&self, handler: impl ProposalHandler) {
        let mut slot = self
            .inner
            .proposals
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *slot = Some(Arc::new(handler));
    }

    /// Whether anyone listens to the node's events.
    pub(crate) fn has_subscribers(&self) -> bool {
        self.inner.events.receiver_count() > 0
    }

    pub(crate) fn emit(&self, event: NodeEvent) {
        // No subscriber is not an error.
        let _ = self.inner.events.send(event);
    }

    /// The node's signing key (for its transport identity).
    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.inner.key
    }

    /// Changes to `true` when the node shuts down.
    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }

    /// A number never handed out before by this node (request ids, channel nonces).
    pub(crate) fn next_id(&self) -> u64 {
        self.inner.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn track(&self, task: JoinHandle<()>) {
        let mut tasks = lock(&self.inner.tasks);
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
    }

    /// Stops the node's tasks (watcher, peer readers). Persisted state is untouched.
    pub fn shutdown(&self) {
        let _ = self.inner.shutdown.send(true);
        for task in lock(&self.inner.tasks).drain(..) {
            task.abort();
        }
        self.inner.peers.clear();
    }

    pub(crate) fn slot(&self, id: &ChannelId) -> Result<Arc<Slot>, NodeError> {
        lock(&self.inner.channels)
            .get(id)
            .cloned()
            .ok_or(NodeError::UnknownChannel(*id))
    }

    pub(crate) fn slots(&self) -> Vec<(ChannelId, Arc<Slot>)> {
        lock(&self.inner.channels)
            .iter()
            .map(|(id, s)| (*id, s.clone()))
            .collect()
    }

    // ---- persistence ----

    /// Commits `next` as the channel's new state (with payments and a ledger cursor), then
    /// installs it. If the store fails, the old state stays: nothing happened.
    pub(crate) async fn save(
        &self,
        entry: &mut Entry,
        mut next: Persisted,
        payments: Vec<PaymentRow>,
        cursor: Option<u64>,
    ) -> Result<(), NodeError> {
        next.mark_opened();
        let version = entry.version.saturating_add(1);
        let row = ChannelRow {
            id: next.channel.id(),
            peer: next.channel.peer(),
            phase: status_of(&next).to_string(),
            version,
            state: postcard::to_stdvec(&next)
                .map_err(|e| NodeError::Protocol(format!("cannot encode channel: {e}")))?,
            updated_at: unix_now(),
        };
        let started = Instant::now();
        let committed = self
            .inner
            .store
            .commit(Batch {
                channels: vec![row],
                payments,
                ledger_cursor: cursor,
                removals: vec![],
                fence: None,
            })
            .await
            .map_err(NodeError::from);
        if let Err(NodeError::Store(paychan_store::StoreError::Conflict { .. })) = &committed {
            // Another process wrote the channel: the next attempt starts from its state.
            self.reload(entry).await?;
        }
        committed?;
        self.inner.metrics.store_commit.observe(started.elapsed());
        let exposure = next.channel.exposure();
        let id = next.channel.id();
        entry.state = next;
        entry.version = version;
        self.rearm(id, entry);
        let mut exposures = lock(&self.inner.exposures);
        if exposure > 0 {
            exposures.insert(id, exposure);
        } else if !exposures.is_empty() {
            exposures.remove(&id);
        }
        Ok(())
    }

    /// Gives the node's [`Timers`] the deadlines of the channel's new state, if they moved.
    fn rearm(&self, id: ChannelId, entry: &mut Entry) {
        let deadlines = Timers::deadlines(
            &entry.state.channel,
            self.inner.config.proposal_expiry.as_secs(),
        );
        if Armed::from(deadlines) != entry.deadlines {
            entry.deadlines = deadlines.into();
            lock(&self.inner.timers).update(id, deadlines);
            self.inner.timers_changed.notify_one();
        }
    }

    /// Deletes a channel that never opened from the store and from the node, if it is still
    /// [`Phase::Proposed`] in `entry` (answers whether it did). Its id is never used again.
    pub(crate) async fn forget_proposed(&self, entry: &mut Entry) -> Result<bool, NodeError> {
        if !is_proposed(&entry.state.channel) {
            return Ok(false);
        }
        let id = entry.state.channel.id();
        self.inner
            .store
            .commit(Batch {
                removals: vec![Removal {
                    id,
                    version: entry.version,
                }],
                ..Batch::default()
            })
            .await?;
        lock(&self.inner.channels).remove(&id);
        lock(&self.inner.timers).remove(id);
        lock(&self.inner.exposures).remove(&id);
        entry.deadlines = Armed::default();
        Ok(true)
    }

    fn insert_slot(&self, id: ChannelId, entry: Entry) -> Result<Arc<Slot>, NodeError> {
        let mut channels = lock(&self.inner.channels);
        if channels.contains_key(&id) {
            return Err(NodeError::Protocol(format!("channel {id} already exists")));
        }
        let slot = Arc::new(Slot::new(entry));
        channels.insert(id, slot.clone());
        Ok(slot)
    }
}

/// The first stored row of a channel opened outside this node (bulk provisioning, imports):
/// `channel` must already hold the ledger's record of it (its `Opened` and `Deposited`
/// events applied). Committed to a node's store before the node is built, it is restored
/// like any channel the node opened itself, and can be paid on.
pub fn import_row(channel: Channel) -> Result<ChannelRow, NodeError> {
    let state = Persisted::new(channel);
    Ok(ChannelRow {
        id: state.channel.id(),
        peer: state.channel.peer(),
        phase: status_of(&state).to_string(),
        version: 1,
        state: postcard::to_stdvec(&state)
            .map_err(|e| NodeError::Protocol(format!("cannot encode channel: {e}")))?,
        updated_at: unix_now(),
    })
}

pub(crate) fn status_of(state: &Persisted) -> &'static str {
    state.channel.phase().name()
}

fn info_of(state: &Persisted, pending_deposit: Amount) -> ChannelInfo {
    let channel = &state.channel;
    ChannelInfo {
        channel_id: channel.id(),
        peer: channel.peer(),
        role: channel.role(),
        status: status_of(state).to_string(),
        balances: channel.balances(),
        expected_payouts: channel.expected_payouts(),
        deadline: match channel.phase() {
            Phase::Closing { deadline, .. } => Some(*deadline),
            _ => None,
        },
        auto_refill: state.auto_refill,
        unclaimed: state.payouts.unclaimed,
        pending_deposit,
        close_started_by: match channel.phase() {
            Phase::Closing { started_by, .. } => Some(*started_by),
            Phase::CloseRequested => Some(channel.role()),
            _ => None,
        },
    }
}

pub(crate) fn encode_message(message: &serde_json::Value) -> Result<Vec<u8>, NodeError> {
    let body = serde_json::to_vec(message).map_err(|e| NodeError::InvalidMessage(e.to_string()))?;
    if body.len() > MAX_BODY_LEN {
        return Err(NodeError::InvalidMessage(format!(
            "the message is {} bytes, the limit is {MAX_BODY_LEN}",
            body.len()
        )));
    }
    Ok(body)
}

/// The error for an answer that is not the one awaited: the peer's own error, or a breach of
/// the protocol.
fn not_the_answer(answer: Message) -> NodeError {
    match answer {
        Message::Error { error, .. } => NodeError::PeerRefused {
            code: error.code,
            message: error.message,
        },
        other => NodeError::Protocol(format!("unexpected answer {}", other.kind())),
    }
}

/// Cuts a text to what the wire accepts.
pub(crate) fn truncate(mut text: String) -> String {
    let max = paychan_core::wire::MAX_TEXT_LEN;
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end = end.saturating_sub(1);
        }
        text.truncate(end);
    }
    text
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("address", &self.address())
            .finish_non_exhaustive()
    }
}

/// How long the watcher waits before it retries the ledger.
pub(crate) const LEDGER_RETRY: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::Armed;

    #[test]
    fn armed_deadlines_tell_every_change_apart_in_half_the_space() {
        assert_eq!(std::mem::size_of::<Armed>(), 24);
        let cases = [
            [None, None, None],
            [Some(0), None, None],
            [Some(1), None, None],
            [None, Some(0), None],
            [None, None, Some(1_700_000_000)],
            [Some(5), Some(5), Some(5)],
        ];
        for (i, a) in cases.iter().enumerate() {
            for (j, b) in cases.iter().enumerate() {
                assert_eq!(Armed::from(*a) == Armed::from(*b), i == j, "{a:?} vs {b:?}");
            }
        }
        assert_eq!(Armed::from([None; 3]), Armed::default());
    }
}
