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
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use async_trait::async_trait;
use paychan_core::{
    Address, Amount, ChannelId, ChannelParams, Domain, Pair, Role, SignedVoucher, SigningKey,
    adjudicator::LedgerEvent,
    channel::{Balances, CertificateRejection, Channel, Phase, VoucherRejection},
    eip712::memo_of,
    keccak256,
    manager::{DefenceFloor, Offer, PolicyRejection, Timers, timers::Deadlines},
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
    config::NodeConfig,
    error::{NodeError, PackageRejection},
    events::NodeEvent,
    payouts::PayoutState,
    peers::{Peers, Wait},
};

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
    fn new(channel: Channel) -> Self {
        let opened = !is_proposed(&channel);
        Persisted {
            channel,
            opened,
            auto_refill: None,
            payouts: PayoutState::default(),
        }
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
    deadlines: Deadlines,
}

impl Entry {
    fn new(state: Persisted, version: u64) -> Self {
        Entry {
            state,
            version,
            refilling: false,
            deadlines: [None; 3],
        }
    }
}

/// A voucher checked by [`Node::probe_voucher`] and not yet kept.
pub(crate) struct Probe {
    /// What it pays.
    pub(crate) amount: Amount,
    /// The credit it needs beyond the peer's confirmed funds.
    credit: Amount,
    /// The channel with the voucher accepted.
    checked: Channel,
    /// The channel's version it was checked at.
    version: u64,
}

pub(crate) struct Slot {
    pub(crate) entry: Mutex<Entry>,
    /// Held for a whole payment round trip: one payment of ours in flight per channel.
    pub(crate) paying: Mutex<()>,
}

pub(crate) struct Inner {
    key: SigningKey,
    domain: Domain,
    config: NodeConfig,
    /// The shortest challenge period we can defend on our ledger.
    /// The shortest challenge period this node can answer a close in on its ledger.
    challenge_floor: DefenceFloor,
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
    /// Every channel's deadlines (see [`crate::lifecycle`]).
    pub(crate) timers: StdMutex<Timers>,
    /// Woken when the earliest deadline on the node's clock may have moved.
    pub(crate) timers_changed: Notify,
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

    /// Loads the persisted channels and starts the ledger watcher.
    pub async fn build(self) -> Result<Node, NodeError> {
        let missing = |what: &str| NodeError::InvalidMessage(format!("node builder: no {what}"));
        let key = self.key.ok_or_else(|| missing("key"))?;
        let ledger = self.ledger.ok_or_else(|| missing("ledger"))?;
        let store = self.store.ok_or_else(|| missing("store"))?;
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
            entry.deadlines = Timers::deadlines(&entry.state.channel, proposal_age);
            timers.update(row.id, entry.deadlines);
            channels.insert(
                row.id,
                Arc::new(Slot {
                    entry: Mutex::new(entry),
                    paying: Mutex::new(()),
                }),
            );
        }
        let (events, _) = broadcast::channel(4096);
        let (shutdown, _) = watch::channel(false);
        let peers = Peers::new(key.address(), self.config.max_requests_per_peer);
        let node = Node {
            inner: Arc::new(Inner {
                key,
                domain,
                config: self.config,
                challenge_floor: DefenceFloor {
                    seconds: challenge_floor.seconds,
                    reason: challenge_floor.reason,
                },
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
                credit: Mutex::new(()),
                timers: StdMutex::new(timers),
                timers_changed: Notify::new(),
            }),
        };
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
        next.opened = !is_proposed(&next.channel);
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
        self.inner
            .store
            .commit(Batch {
                channels: vec![row],
                payments,
                ledger_cursor: cursor,
                removals: vec![],
            })
            .await?;
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
        if deadlines != entry.deadlines {
            entry.deadlines = deadlines;
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
        entry.deadlines = [None; 3];
        Ok(true)
    }

    fn insert_slot(&self, id: ChannelId, entry: Entry) -> Result<Arc<Slot>, NodeError> {
        let mut channels = lock(&self.inner.channels);
        if channels.contains_key(&id) {
            return Err(NodeError::Protocol(format!("channel {id} already exists")));
        }
        let slot = Arc::new(Slot {
            entry: Mutex::new(entry),
            paying: Mutex::new(()),
        });
        channels.insert(id, slot.clone());
        Ok(slot)
    }

    // ---- incoming messages ----

    /// Runs the handler of a message from `peer` that is not an answer (answers go to
    /// their waiters in `peers`).
    pub(crate) async fn dispatch(&self, peer: Address, message: Message) {
        match message {
            Message::ProposeChannel(p) => self.on_proposal(peer, p).await,
            m @ (Message::AcceptChannel { .. }
            | Message::RejectChannel { .. }
            | Message::WithdrawSignature { .. }
            | Message::SettlementSignature { .. }
            | Message::PayResult { .. }
            | Message::Response { .. }
            | Message::Pong { .. }) => {
                let _ = self.resolve_answer(peer, m);
            }
            Message::Pay {
                request_id,
                voucher,
                body,
            } => self.on_pay(peer, request_id, voucher, body).await,
            Message::Request {
                request_id,
                channel_id,
                body,
            } => self.on_request(peer, request_id, channel_id, body).await,
            Message::WithdrawRequest {
                withdrawal,
                signature,
            } => self.on_withdraw_request(peer, withdrawal, signature).await,
            Message::SettlementRequest {
                settlement,
                signature,
            } => {
                self.on_settlement_request(peer, settlement, signature)
                    .await
            }
            Message::CounterSync {
                channel_id,
                yours,
                mine,
            } => self.on_sync(peer, channel_id, yours, mine).await,
            Message::Ping { nonce } => {
                let _ = self.send(peer, &Message::Pong { nonce }).await;
            }
            m @ Message::Error { .. } => self.on_error(peer, m),
            other => tracing::debug!(%peer, kind = other.kind(), "ignored message"),
        }
    }

    /// The slot of `id` if it is a channel with `peer`; answers the peer otherwise.
    async fn peer_slot(&self, peer: Address, id: ChannelId) -> Option<Arc<Slot>> {
        let slot = self.slot(&id).ok();
        let ours = match &slot {
            Some(s) => s.entry.lock().await.state.channel.peer() == peer,
            None => false,
        };
        if ours {
            slot
        } else {
            self.reply_error(
                peer,
                Some(id),
                ErrorBody::UNKNOWN_CHANNEL,
                format!("no channel {id} with you"),
            )
            .await;
            None
        }
    }

    async fn on_proposal(&self, peer: Address, p: ProposeChannel) {
        let id = p.params.id(&p.domain);
        let decider = self
            .inner
            .proposals
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let verdict = match self.check_proposal(peer, &p) {
            Err(why) => Err(why),
            Ok(()) => match decider {
                Some(d) => d.decide(peer, p.params, p.deposit).await,
                None => Ok(()),
            },
        };
        if let Err(why) = verdict {
            let reason = truncate(why);
            let _ = self
                .send(
                    peer,
                    &Message::RejectChannel {
                        channel_id: id,
                        reason,
                    },
                )
                .await;
            return;
        }
        let Some(channel) = Channel::proposed(p.params, p.domain, self.address(), unix_now())
        else {
            return;
        };
        let state = Persisted::new(channel);
        let result = async {
            let slot = self.insert_slot(id, Entry::new(state.clone(), 0))?;
            let mut entry = slot.entry.lock().await;
            self.save(&mut entry, state, vec![], None).await
        }
        .await;
        match result {
            Ok(()) => {
                let _ = self
                    .send(peer, &Message::AcceptChannel { channel_id: id })
                    .await;
            }
            Err(e) => {
                lock(&self.inner.channels).remove(&id);
                let _ = self
                    .send(
                        peer,
                        &Message::RejectChannel {
                            channel_id: id,
                            reason: truncate(e.to_string()),
                        },
                    )
                    .await;
            }
        }
    }

    /// The channel policy's verdict on a proposal, and no channel of that id yet.
    fn check_proposal(&self, peer: Address, p: &ProposeChannel) -> Result<(), String> {
        self.check_offer(&Offer {
            peer,
            params: &p.params,
            domain: &p.domain,
            deposit: p.deposit,
        })
        .map_err(|e| e.to_string())?;
        if lock(&self.inner.channels).contains_key(&p.params.id(&p.domain)) {
            return Err("this channel already exists".into());
        }
        Ok(())
    }

    /// The channel policy's verdict on a channel offered to us (the one rule set for
    /// proposals and for channels learned from the ledger).
    pub(crate) fn check_offer(&self, offer: &Offer<'_>) -> Result<(), PolicyRejection> {
        self.inner.config.policy.check(
            self.address(),
            &self.inner.domain,
            &self.inner.challenge_floor,
            offer,
        )
    }

    async fn on_pay(&self, peer: Address, request_id: u64, voucher: SignedVoucher, body: Vec<u8>) {
        let id = voucher.voucher.channel_id;
        let reply = self.serve_payment(peer, &voucher, &body).await;
        let reply = match reply {
            Ok(response) => Reply::Ok(response),
            Err(error) => Reply::Err(error),
        };
        let _ = self
            .send(
                peer,
                &Message::PayResult {
                    request_id,
                    channel_id: id,
                    reply,
                },
            )
            .await;
    }

    /// Checks the voucher, runs the handler, and keeps the voucher only if the handler
    /// answered — committed before the answer goes out.
    async fn serve_payment(
        &self,
        peer: Address,
        voucher: &SignedVoucher,
        body: &[u8],
    ) -> Result<Vec<u8>, ErrorBody> {
        let id = voucher.voucher.channel_id;
        let slot = self
            .slot(&id)
            .map_err(|e| ErrorBody::new(ErrorBody::UNKNOWN_CHANNEL, e.to_string()))?;
        let memo = memo_of(body);
        if slot.entry.lock().await.state.channel.peer() != peer {
            return Err(ErrorBody::new(
                ErrorBody::UNKNOWN_CHANNEL,
                format!("no channel {id} with you"),
            ));
        }
        let probe = self
            .probe_voucher(&slot, voucher, memo)
            .await
            .map_err(|e| ErrorBody::new(ErrorBody::VOUCHER_REJECTED, e.to_string()))?;
        let amount = probe.amount;
        let message: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
            ErrorBody::new(
                ErrorBody::MALFORMED,
                format!("the message is not JSON: {e}"),
            )
        })?;
        // The message goes to the handler; a copy only if someone listens for the event.
        let for_event = self.has_subscribers().then(|| message.clone());
        let response = self
            .run_handler(Incoming {
                channel_id: id,
                peer,
                amount,
                message,
            })
            .await?;
        let response = serde_json::to_vec(&response)
            .map_err(|e| ErrorBody::new(ErrorBody::INTERNAL, e.to_string()))?;
        if response.len() > MAX_BODY_LEN {
            return Err(ErrorBody::new(
                ErrorBody::HANDLER_ERROR,
                "the handler's response is too large",
            ));
        }
        self.keep_voucher(&slot, voucher, memo, for_event, probe, 0)
            .await
            .map_err(|e| match e {
                NodeError::Voucher(why) => {
                    ErrorBody::new(ErrorBody::VOUCHER_REJECTED, why.to_string())
                }
                other => ErrorBody::new(ErrorBody::INTERNAL, other.to_string()),
            })?;
        Ok(response)
    }

    /// Checks an incoming voucher against the channel of `slot` without keeping it: answers
    /// what it pays. Before refusing it as over the payer's balance, reads the ledger's
    /// confirmed deposits (the payer may have deposited more than our watcher has seen).
    ///
    /// Still over, it may be taken on credit against a deposit the ledger shows unconfirmed
    /// (see [`UnconfirmedCredit`](crate::UnconfirmedCredit)): answers the amount and the
    /// credit it needs, which [`keep_voucher`](Self::keep_voucher) grants again or not.
    pub(crate) async fn probe_voucher(
        &self,
        slot: &Arc<Slot>,
        voucher: &SignedVoucher,
        memo: paychan_core::B256,
    ) -> Result<Probe, VoucherRejection> {
        let check = |credit: Amount| async move {
            let entry = slot.entry.lock().await;
            let mut checked = entry.state.channel.clone();
            checked
                .handle_voucher_with_credit(voucher, memo, credit)
                .map(|amount| Probe {
                    amount,
                    credit,
                    checked,
                    version: entry.version,
                })
        };
        let first = check(0).await;
        let Err(VoucherRejection::OverBalance { .. }) = first else {
            return first;
        };
        self.refresh_deposits(slot).await;
        let confirmed = check(0).await;
        let Err(VoucherRejection::OverBalance { .. }) = confirmed else {
            return confirmed;
        };
        match self.credit_for(slot).await {
            0 => confirmed,
            credit => check(credit).await,
        }
    }

    /// The credit the channel of `slot` may have now: the peer's deposits the ledger shows
    /// but has not confirmed, within the per-channel limit and what the total limit leaves
    /// after the other channels' exposure.
    async fn credit_for(&self, slot: &Arc<Slot>) -> Amount {
        let policy = &self.inner.config.unconfirmed_credit;
        if !policy.enabled() {
            return 0;
        }
        let (id, peer_role, confirmed) = {
            let entry = slot.entry.lock().await;
            let channel = &entry.state.channel;
            let peer = channel.role().peer();
            (channel.id(), peer, channel.ledger().deposited.at(peer))
        };
        let pending = match self.inner.ledger.channel_unconfirmed(id).await {
            Ok(Some(record)) => record.deposited.at(peer_role),
            Ok(None) => return 0,
            Err(e) => {
                tracing::warn!(channel = %id, error = %e, "cannot read unconfirmed deposits");
                return 0;
            }
        };
        let others: Amount = lock(&self.inner.exposures)
            .iter()
            .filter(|(channel, _)| **channel != id)
            .fold(0, |sum, (_, exposure)| sum.saturating_add(*exposure));
        pending
            .saturating_sub(confirmed)
            .min(policy.per_channel)
            .min(policy.total.saturating_sub(others))
    }

    /// Keeps an incoming voucher (checked again under the lock) and records the payment,
    /// committed before it returns; reports it. Answers what it paid and what the payer may
    /// still spend. A voucher paying less than `min_amount` is refused
    /// ([`NodeError::PackageRefused`]) and changes nothing.
    ///
    /// If nothing changed the channel since the [`probe`](Self::probe_voucher) (every change
    /// bumps its version), the probe's checked copy is the new state as is, and the signature
    /// is not recovered a second time. A voucher that needs credit is decided again here,
    /// under the node-wide credit lock, so that concurrent payments in several channels never
    /// take more than the total limit together.
    ///
    /// `message` is reported with the payment if given (the caller passes it only when
    /// someone listens).
    pub(crate) async fn keep_voucher(
        &self,
        slot: &Arc<Slot>,
        voucher: &SignedVoucher,
        memo: paychan_core::B256,
        message: Option<serde_json::Value>,
        probe: Probe,
        min_amount: Amount,
    ) -> Result<(Amount, Amount), NodeError> {
        let _credit = if probe.credit > 0 {
            Some(self.inner.credit.lock().await)
        } else {
            None
        };
        let credit = if probe.credit > 0 {
            self.credit_for(slot).await
        } else {
            0
        };
        let mut entry = slot.entry.lock().await;
        let (next, amount) = if probe.credit == 0 && entry.version == probe.version {
            let next = Persisted {
                channel: probe.checked,
                opened: entry.state.opened,
                auto_refill: entry.state.auto_refill,
                payouts: entry.state.payouts,
            };
            (next, probe.amount)
        } else {
            let mut next = entry.state.clone();
            let amount = next
                .channel
                .handle_voucher_with_credit(voucher, memo, credit)?;
            (next, amount)
        };
        if amount < min_amount {
            return Err(NodeError::PackageRefused(PackageRejection::Underpaid {
                amount,
                min: min_amount,
            }));
        }
        if credit > 0 {
            tracing::info!(
                channel = %voucher.voucher.channel_id,
                exposure = next.channel.exposure(),
                "payment accepted ahead of an unconfirmed deposit"
            );
        }
        let row = PaymentRow {
            channel_id: voucher.voucher.channel_id,
            direction: Direction::Incoming,
            sequence: voucher.voucher.sequence,
            amount,
            cumulative: voucher.voucher.cumulative,
            memo,
            time: unix_now(),
        };
        let remaining = next.channel.available(next.channel.role().peer());
        self.save(&mut entry, next, vec![row], None).await?;
        drop(entry);
        if let Some(message) = message {
            self.emit(NodeEvent::PaymentReceived {
                channel_id: voucher.voucher.channel_id,
                amount: amount.to_string(),
                message,
            });
        }
        Ok((amount, remaining))
    }

    /// A channel someone opened with us on the ledger without proposing it (it pays by
    /// payment packages): taken into our channels once the ledger shows it open with these
    /// parameters, if our channel policy accepts them. Answers its slot (the existing one if
    /// we know the channel).
    pub(crate) async fn learn_channel(
        &self,
        params: ChannelParams,
    ) -> Result<Arc<Slot>, NodeError> {
        let domain = self.inner.domain;
        let id = params.id(&domain);
        if let Ok(slot) = self.slot(&id) {
            return Ok(slot);
        }
        let refuse = NodeError::PackageRefused;
        let record = match self.inner.ledger.channel(id).await? {
            Some(record)
                if record.params == params
                    && record.status == paychan_core::adjudicator::ChannelStatus::Open =>
            {
                record
            }
            found => {
                return Err(refuse(PackageRejection::NotOnLedger {
                    id,
                    known: found.is_some(),
                }));
            }
        };
        self.check_offer(&Offer {
            peer: params.party_a,
            params: &params,
            domain: &domain,
            deposit: record.deposited.a,
        })
        .map_err(|e| refuse(PackageRejection::Policy(e)))?;
        let peer = params.party_a;
        let channel = Channel::proposed(params, domain, self.address(), unix_now())
            .ok_or(refuse(PackageRejection::NotAParty))?;
        let state = Persisted::new(channel);
        let slot = match self.insert_slot(id, Entry::new(state.clone(), 0)) {
            Ok(slot) => slot,
            // Learned concurrently by another package.
            Err(_) => return self.slot(&id),
        };
        {
            let mut entry = slot.entry.lock().await;
            if let Err(e) = self.save(&mut entry, state, vec![], None).await {
                lock(&self.inner.channels).remove(&id);
                return Err(e);
            }
        }
        // Marks the channel opened with the ledger's deposits, which reports it once
        // (`channel_created_by_peer`).
        self.refresh_deposits(&slot).await;
        tracing::info!(channel = %id, %peer, "learned a channel from a payment package");
        Ok(slot)
    }

    /// Brings a channel's deposits up to the ledger's confirmed record (the watcher may lag
    /// behind the ledger). Deposit events carry totals, so this is idempotent.
    pub(crate) async fn refresh_deposits(&self, slot: &Slot) {
        let id = slot.entry.lock().await.state.channel.id();
        let record = match self.inner.ledger.channel(id).await {
            Ok(Some(record)) => record,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(channel = %id, error = %e, "cannot read the channel from the ledger");
                return;
            }
        };
        let events: Vec<LedgerEvent> = [Role::A, Role::B]
            .into_iter()
            .map(|party| LedgerEvent::Deposited {
                channel_id: id,
                party,
                amount: 0,
                total: record.deposited.at(party),
            })
            .collect();
        let mut entry = slot.entry.lock().await;
        let before = entry.state.clone();
        let mut next = entry.state.clone();
        for event in &events {
            // Opens a proposed channel too: the ledger has it.
            let _ = next.channel.handle_ledger_event(event);
        }
        if next.channel == before.channel {
            return;
        }
        if let Err(e) = self.save(&mut entry, next, vec![], None).await {
            tracing::warn!(channel = %id, error = %e, "cannot persist the ledger's deposits");
            return;
        }
        let reported = user_events(&before, &entry.state, &events, self.address());
        drop(entry);
        for event in reported {
            self.emit(event);
        }
    }

    async fn run_handler(&self, incoming: Incoming) -> Result<serde_json::Value, ErrorBody> {
        let handler = self
            .inner
            .handler
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let Some(handler) = handler else {
            return Ok(self.inner.config.default_response.clone());
        };
        let timeout = self.inner.config.handler_timeout;
        match tokio::time::timeout(timeout, handler.handle(incoming)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(message)) => Err(ErrorBody::new(ErrorBody::HANDLER_ERROR, truncate(message))),
            Err(_) => Err(ErrorBody::new(
                ErrorBody::HANDLER_TIMEOUT,
                format!("the handler did not answer within {timeout:?}"),
            )),
        }
    }

    async fn on_request(
        &self,
        peer: Address,
        request_id: u64,
        channel_id: ChannelId,
        body: Vec<u8>,
    ) {
        let reply = async {
            if self.peer_slot(peer, channel_id).await.is_none() {
                return Err(ErrorBody::new(
                    ErrorBody::UNKNOWN_CHANNEL,
                    "unknown channel",
                ));
            }
            let message: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
                ErrorBody::new(
                    ErrorBody::MALFORMED,
                    format!("the message is not JSON: {e}"),
                )
            })?;
            let response = self
                .run_handler(Incoming {
                    channel_id,
                    peer,
                    amount: 0,
                    message,
                })
                .await?;
            serde_json::to_vec(&response)
                .map_err(|e| ErrorBody::new(ErrorBody::INTERNAL, e.to_string()))
        }
        .await;
        let reply = match reply {
            Ok(r) => Reply::Ok(r),
            Err(e) => Reply::Err(e),
        };
        let _ = self
            .send(peer, &Message::Response { request_id, reply })
            .await;
    }

    async fn on_withdraw_request(
        &self,
        peer: Address,
        withdrawal: paychan_core::Withdrawal,
        signature: paychan_core::Signature,
    ) {
        let id = withdrawal.channel_id;
        let Some(slot) = self.peer_slot(peer, id).await else {
            return;
        };
        let now = match self.inner.ledger.now().await {
            Ok(now) => now,
            Err(e) => {
                return self
                    .reply_error(peer, Some(id), ErrorBody::INTERNAL, e.to_string())
                    .await;
            }
        };
        let key = &self.inner.key;
        self.co_sign(
            peer,
            &slot,
            id,
            |c| c.handle_withdrawal_request(key, &withdrawal, &signature, now),
            |signature| Message::WithdrawSignature {
                channel_id: id,
                signature,
            },
        )
        .await
    }

    async fn on_settlement_request(
        &self,
        peer: Address,
        settlement: paychan_core::Settlement,
        signature: paychan_core::Signature,
    ) {
        let id = settlement.channel_id;
        let Some(slot) = self.peer_slot(peer, id).await else {
            return;
        };
        let key = &self.inner.key;
        self.co_sign(
            peer,
            &slot,
            id,
            |c| c.handle_settlement_request(key, &settlement, &signature),
            |signature| Message::SettlementSignature {
                channel_id: id,
                signature,
            },
        )
        .await
    }

    /// Checks and co-signs the peer's certificate on a copy of the channel, commits the new
    /// state, then answers with our signature — or with the reason we refuse.
    ///
    /// Before refusing a certificate as over the peer's funds, reads the ledger's confirmed
    /// deposits and checks again: the peer may withdraw from a deposit our watcher has not
    /// seen yet (as [`probe_voucher`](Self::probe_voucher) does for a payment).
    async fn co_sign(
        &self,
        peer: Address,
        slot: &Slot,
        id: ChannelId,
        check: impl Fn(&mut Channel) -> Result<paychan_core::Signature, CertificateRejection>,
        answer: impl FnOnce(paychan_core::Signature) -> Message,
    ) {
        let mut entry = slot.entry.lock().await;
        let mut next = entry.state.clone();
        let mut checked = check(&mut next.channel);
        if let Err(CertificateRejection::OverBalance { .. }) = checked {
            drop(entry);
            self.refresh_deposits(slot).await;
            entry = slot.entry.lock().await;
            next = entry.state.clone();
            checked = check(&mut next.channel);
        }
        let outcome = match checked {
            Ok(ours) => self
                .save(&mut entry, next, vec![], None)
                .await
                .map(|()| ours)
                .map_err(|e| (ErrorBody::INTERNAL, e.to_string())),
            Err(e) => Err((ErrorBody::CERTIFICATE_REJECTED, e.to_string())),
        };
        drop(entry);
        match outcome {
            Ok(ours) => {
                let _ = self.send(peer, &answer(ours)).await;
            }
            Err((code, why)) => self.reply_error(peer, Some(id), code, why).await,
        }
    }

    /// Counter sync for every channel with `peer`: what we hold of theirs and ours.
    pub(crate) async fn sync_with(&self, peer: Address) {
        for (id, slot) in self.slots() {
            // Only open channels with this peer have counters to sync (a channel still being
            // proposed is unknown to the peer).
            let relevant = {
                let entry = slot.entry.lock().await;
                !is_proposed(&entry.state.channel)
                    && entry.state.channel.peer() == peer
                    && !matches!(entry.state.channel.phase(), Phase::Closed { .. })
            };
            if !relevant {
                continue;
            }
            // Never hand out a voucher whose payment is still in flight: its outcome (answered,
            // or refused and taken back) must be settled first, or the peer would count a
            // payment we report as refused.
            let _in_flight = slot.paying.lock().await;
            let message = {
                let entry = slot.entry.lock().await;
                let channel = &entry.state.channel;
                let (yours, mine) = (
                    channel.latest_received().copied(),
                    channel.latest_sent().copied(),
                );
                if yours.is_none() && mine.is_none() {
                    continue;
                }
                Message::CounterSync {
                    channel_id: id,
                    yours,
                    mine,
                }
            };
            let _ = self.send(peer, &message).await;
        }
    }

    async fn on_sync(
        &self,
        peer: Address,
        id: ChannelId,
        yours: Option<SignedVoucher>,
        mine: Option<SignedVoucher>,
    ) {
        let Some(slot) = self.peer_slot(peer, id).await else {
            return;
        };
        let mut entry = slot.entry.lock().await;
        let mut next = entry.state.clone();
        let mut changed = false;
        if let Some(ours) = &yours {
            match next.channel.handle_counter_sync(ours) {
                Ok(moved) => changed |= moved,
                Err(e) => tracing::warn!(%peer, channel = %id, error = %e, "bad counter sync"),
            }
        }
        if let Some(theirs) = &mine {
            match next.channel.handle_resent_voucher(theirs) {
                Ok(amount) => changed |= amount > 0,
                Err(e) => {
                    tracing::debug!(%peer, channel = %id, error = %e, "resent voucher not taken")
                }
            }
        }
        if changed {
            if let Err(e) = self.save(&mut entry, next, vec![], None).await {
                tracing::error!(channel = %id, error = %e, "cannot persist counter sync");
            } else {
                tracing::info!(%peer, channel = %id, "counters recovered from the peer");
            }
        }
    }

    // ---- commands ----

    /// Proposes a channel to a connected peer with our initial `deposit`, and opens it on the
    /// ledger once the peer accepts (aa-channels' `createNewChannel`).
    pub async fn create_channel(
        &self,
        peer: Address,
        deposit: Amount,
    ) -> Result<ChannelId, NodeError> {
        if !self.is_connected(peer) {
            return Err(NodeError::PeerOffline(peer));
        }
        let (id, params, slot) = self.new_channel(peer, deposit).await?;
        let domain = self.inner.domain;
        let proposal = Message::ProposeChannel(ProposeChannel {
            params,
            domain,
            deposit,
        });
        let refused = match self.exchange(peer, id, Wait::Proposal, &proposal).await {
            Ok(Message::AcceptChannel { .. }) => None,
            Ok(Message::RejectChannel { reason, .. }) => Some(NodeError::PeerRefused {
                code: ErrorBody::REFUSED,
                message: reason,
            }),
            Ok(other) => Some(not_the_answer(other)),
            // Unanswered: the peer may have accepted, but we will not open it (its side
            // expires on its own, see `NodeConfig::proposal_expiry`).
            Err(e) => Some(e),
        };
        if let Some(refused) = refused {
            self.withdraw_proposal(&slot).await;
            return Err(refused);
        }
        self.open_proposed(&slot, &params, deposit).await?;
        Ok(id)
    }

    /// Opens a channel with `peer` on the ledger without proposing it first: the peer need
    /// not be connected, and learns the channel from the ledger when our first payment
    /// package reaches it (a client paying an HTTP service, say). The peer's policy decides
    /// then whether it accepts the channel's packages.
    pub async fn open_channel_on_ledger(
        &self,
        peer: Address,
        deposit: Amount,
    ) -> Result<ChannelId, NodeError> {
        let (id, params, slot) = self.new_channel(peer, deposit).await?;
        self.open_proposed(&slot, &params, deposit).await?;
        Ok(id)
    }

    /// Opens our proposed channel of `slot` on the ledger. If the ledger refuses, the channel
    /// never opened and is forgotten at once; if the outcome is unknown (the ledger is
    /// unreachable), it stays proposed until it expires or the ledger shows it open.
    async fn open_proposed(
        &self,
        slot: &Arc<Slot>,
        params: &ChannelParams,
        deposit: Amount,
    ) -> Result<(), NodeError> {
        match self.inner.ledger.open(params, deposit).await {
            Ok(receipt) => self.apply_receipt(slot, &receipt).await,
            Err(e) => {
                if e.is_final() {
                    self.withdraw_proposal(slot).await;
                }
                Err(e.into())
            }
        }
    }

    /// Forgets our proposal of `slot`, which will never be opened; a store failure leaves it
    /// to expire by time.
    async fn withdraw_proposal(&self, slot: &Slot) {
        let mut entry = slot.entry.lock().await;
        let id = entry.state.channel.id();
        match self.forget_proposed(&mut entry).await {
            Ok(true) => tracing::info!(channel = %id, "proposal withdrawn"),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(channel = %id, error = %e, "cannot forget a proposal; it expires later")
            }
        }
    }

    /// A new channel of ours with `peer`, persisted as proposed, once the ledger balance
    /// covers `deposit`.
    async fn new_channel(
        &self,
        peer: Address,
        deposit: Amount,
    ) -> Result<(ChannelId, ChannelParams, Arc<Slot>), NodeError> {
        // Checked before the proposal, so that a channel the ledger would refuse to open is
        // never proposed (it would stay "proposed" on both sides).
        let available = self
            .inner
            .ledger
            .balance(self.address(), Address::ZERO)
            .await?;
        if available < deposit {
            return Err(NodeError::Ledger(
                paychan_ledger::LedgerError::InsufficientFunds {
                    needed: deposit,
                    available,
                },
            ));
        }
        let nonce = keccak256(
            [
                self.address().as_slice(),
                peer.as_slice(),
                &SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos())
                    .to_be_bytes(),
                &self
                    .inner
                    .next_id
                    .fetch_add(1, Ordering::Relaxed)
                    .to_be_bytes(),
            ]
            .concat(),
        );
        let params = ChannelParams {
            party_a: self.address(),
            party_b: peer,
            token: Address::ZERO,
            challenge_period: self.inner.config.challenge_period,
            nonce,
        };
        let domain = self.inner.domain;
        let id = params.id(&domain);
        let channel =
            Channel::proposed(params, domain, self.address(), unix_now()).ok_or_else(|| {
                NodeError::InvalidMessage("cannot open a channel with ourselves".into())
            })?;
        if peer == self.address() {
            return Err(NodeError::InvalidMessage(
                "cannot open a channel with ourselves".into(),
            ));
        }
        let state = Persisted::new(channel);
        let slot = self.insert_slot(id, Entry::new(state.clone(), 0))?;
        {
            let mut entry = slot.entry.lock().await;
            if let Err(e) = self.save(&mut entry, state, vec![], None).await {
                lock(&self.inner.channels).remove(&id);
                return Err(e);
            }
        }
        Ok((id, params, slot))
    }

    /// Pays `amount` on a channel for `message` and returns the peer's response
    /// (aa-channels' `sendMessageAndPay`). If the peer's handler fails, the payment is taken
    /// back and the error returned.
    pub async fn send_message_and_pay(
        &self,
        id: ChannelId,
        message: &serde_json::Value,
        amount: Amount,
    ) -> Result<serde_json::Value, NodeError> {
        let body = encode_message(message)?;
        let slot = self.slot(&id)?;
        let _in_flight = slot.paying.lock().await;
        let (voucher, params) = self.sign_outgoing(&slot, amount, memo_of(&body)).await?;
        let peer = if params.party_a == self.address() {
            params.party_b
        } else {
            params.party_a
        };
        let answer = self
            .request(peer, |request_id| Message::Pay {
                request_id,
                voucher,
                body,
            })
            .await;
        let refused = match answer {
            Ok(Message::PayResult {
                reply: Reply::Ok(response),
                ..
            }) => {
                self.emit(NodeEvent::PaymentSent {
                    channel_id: id,
                    amount: amount.to_string(),
                });
                self.maybe_refill(id, &slot).await;
                return serde_json::from_slice(&response)
                    .map_err(|e| NodeError::Protocol(format!("the response is not JSON: {e}")));
            }
            Ok(
                Message::PayResult {
                    reply: Reply::Err(e),
                    ..
                }
                | Message::Error { error: e, .. },
            ) => NodeError::PeerRefused {
                code: e.code,
                message: e.message,
            },
            Ok(other) => not_the_answer(other),
            // Not sent at all: take it back. Timed out or connection lost after sending: the
            // peer may have kept it; it stays counted (the counter sync on reconnect tells the
            // peer's view).
            Err(NodeError::PeerOffline(p)) => NodeError::PeerOffline(p),
            Err(e) => return Err(e),
        };
        let mut entry = slot.entry.lock().await;
        let mut next = entry.state.clone();
        if next.channel.cancel_payment(&voucher).is_ok() {
            self.save(&mut entry, next, vec![], None).await?;
        }
        Err(refused)
    }

    /// Takes back `voucher`, our latest on the channel of `slot`, after the peer refused it
    /// ([`Channel::cancel_payment`]), committed before it returns.
    pub(crate) async fn take_back(
        &self,
        slot: &Slot,
        voucher: &SignedVoucher,
    ) -> Result<(), NodeError> {
        let mut entry = slot.entry.lock().await;
        let mut next = entry.state.clone();
        next.channel.cancel_payment(voucher)?;
        self.save(&mut entry, next, vec![], None).await
    }

    /// Signs our next voucher on the channel of `slot` for `amount` more, and records it as
    /// paid before it leaves this node. Answers the voucher and the channel's parameters.
    pub(crate) async fn sign_outgoing(
        &self,
        slot: &Slot,
        amount: Amount,
        memo: paychan_core::B256,
    ) -> Result<(SignedVoucher, ChannelParams), NodeError> {
        let mut entry = slot.entry.lock().await;
        let mut next = entry.state.clone();
        let voucher = next.channel.pay(&self.inner.key, amount, memo)?;
        let row = PaymentRow {
            channel_id: voucher.voucher.channel_id,
            direction: Direction::Outgoing,
            sequence: voucher.voucher.sequence,
            amount,
            cumulative: voucher.voucher.cumulative,
            memo: voucher.voucher.memo,
            time: unix_now(),
        };
        let params = *next.channel.params();
        self.save(&mut entry, next, vec![row], None).await?;
        Ok((voucher, params))
    }

    /// Sends a plain message without payment and returns the peer's response.
    pub async fn send_message(
        &self,
        id: ChannelId,
        message: &serde_json::Value,
    ) -> Result<serde_json::Value, NodeError> {
        let body = encode_message(message)?;
        let peer = self.slot(&id)?.entry.lock().await.state.channel.peer();
        match self
            .request(peer, |request_id| Message::Request {
                request_id,
                channel_id: id,
                body,
            })
            .await?
        {
            Message::Response {
                reply: Reply::Ok(response),
                ..
            } => serde_json::from_slice(&response)
                .map_err(|e| NodeError::Protocol(format!("the response is not JSON: {e}"))),
            Message::Response {
                reply: Reply::Err(e),
                ..
            }
            | Message::Error { error: e, .. } => Err(NodeError::PeerRefused {
                code: e.code,
                message: e.message,
            }),
            other => Err(not_the_answer(other)),
        }
    }

    /// Deposits `amount` more into our side of the channel.
    pub async fn deposit(&self, id: ChannelId, amount: Amount) -> Result<(), NodeError> {
        let slot = self.slot(&id)?;
        let role = slot.entry.lock().await.state.channel.role();
        let receipt = self.inner.ledger.deposit(id, role, amount).await?;
        self.apply_receipt(&slot, &receipt).await
    }

    /// Withdraws `amount` while the channel stays open: needs the peer's co-signature.
    pub async fn withdraw(&self, id: ChannelId, amount: Amount) -> Result<(), NodeError> {
        let slot = self.slot(&id)?;
        let now = self.inner.ledger.now().await?;
        let expiry = now.saturating_add(self.inner.config.withdrawal_validity);
        let (withdrawal, signature, peer) = {
            let mut entry = slot.entry.lock().await;
            let mut next = entry.state.clone();
            let (w, s) = next
                .channel
                .propose_withdrawal(&self.inner.key, amount, expiry, now)?;
            let peer = next.channel.peer();
            self.save(&mut entry, next, vec![], None).await?;
            (w, s, peer)
        };
        let answer = self
            .exchange(
                peer,
                id,
                Wait::Withdrawal,
                &Message::WithdrawRequest {
                    withdrawal,
                    signature,
                },
            )
            .await;
        let theirs = match answer {
            Ok(Message::WithdrawSignature { signature, .. }) => signature,
            // Refused, or never sent: the peer did not sign, so nothing stays reserved.
            // Unanswered, it may have: reserved until the certificate expires.
            Ok(other) => {
                return Err(self
                    .drop_withdrawal(&slot, &withdrawal, not_the_answer(other))
                    .await);
            }
            Err(e @ NodeError::PeerOffline(_)) => {
                return Err(self.drop_withdrawal(&slot, &withdrawal, e).await);
            }
            Err(e) => return Err(e),
        };
        let certificate = slot
            .entry
            .lock()
            .await
            .state
            .channel
            .clone()
            .handle_withdrawal_signature(&theirs)?;
        let receipt = self.inner.ledger.withdraw(&certificate).await?;
        self.apply_receipt(&slot, &receipt).await
    }

    /// Releases our withdrawal proposal after the peer refused it (if the store fails, it
    /// stays reserved until it expires); answers `why`.
    async fn drop_withdrawal(
        &self,
        slot: &Slot,
        withdrawal: &paychan_core::Withdrawal,
        why: NodeError,
    ) -> NodeError {
        let mut entry = slot.entry.lock().await;
        let mut next = entry.state.clone();
        if next.channel.cancel_withdrawal(withdrawal).is_err() {
            return why;
        }
        if let Err(e) = self.save(&mut entry, next, vec![], None).await {
            tracing::warn!(error = %e, "cannot release a refused withdrawal; it expires by time");
        }
        why
    }

    /// Closes cooperatively if the peer co-signs; if it does not answer (offline, timeout),
    /// starts a unilateral close instead, which the watcher settles after the challenge
    /// period. Returns whether the close was cooperative.
    pub async fn close(&self, id: ChannelId) -> Result<bool, NodeError> {
        let slot = self.slot(&id)?;
        let (settlement, signature, peer) = {
            let mut entry = slot.entry.lock().await;
            let mut next = entry.state.clone();
            let (s, sig) = next.channel.propose_settlement(&self.inner.key)?;
            let peer = next.channel.peer();
            self.save(&mut entry, next, vec![], None).await?;
            (s, sig, peer)
        };
        let answer = self
            .exchange(
                peer,
                id,
                Wait::Settlement,
                &Message::SettlementRequest {
                    settlement,
                    signature,
                },
            )
            .await;
        match answer {
            Ok(Message::SettlementSignature {
                signature: theirs, ..
            }) => {
                let cert = slot
                    .entry
                    .lock()
                    .await
                    .state
                    .channel
                    .clone()
                    .handle_settlement_signature(&theirs)?;
                let receipt = self.inner.ledger.close_cooperative(&cert).await?;
                self.apply_receipt(&slot, &receipt).await?;
                Ok(true)
            }
            Ok(_)
            | Err(
                NodeError::PeerOffline(_) | NodeError::Timeout(_) | NodeError::ConnectionLost(_),
            ) => {
                self.force_close(id).await?;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Starts a unilateral close presenting the peer's latest voucher; the watcher settles
    /// after the challenge period.
    pub async fn force_close(&self, id: ChannelId) -> Result<(), NodeError> {
        let slot = self.slot(&id)?;
        let inputs = {
            let mut entry = slot.entry.lock().await;
            let mut next = entry.state.clone();
            let inputs = next.channel.start_close()?;
            self.save(&mut entry, next, vec![], None).await?;
            inputs
        };
        let receipt = self
            .inner
            .ledger
            .start_close(id, inputs.voucher.as_ref())
            .await?;
        self.apply_receipt(&slot, &receipt).await
    }

    /// Deposits `amount` whenever what we may spend falls below `threshold` after a payment
    /// (aa-channels' `setAutoRefill`). `None` turns it off.
    pub async fn set_auto_refill(
        &self,
        id: ChannelId,
        refill: Option<(Amount, Amount)>,
    ) -> Result<(), NodeError> {
        let slot = self.slot(&id)?;
        let mut entry = slot.entry.lock().await;
        let mut next = entry.state.clone();
        next.auto_refill = refill;
        self.save(&mut entry, next, vec![], None).await
    }

    async fn maybe_refill(&self, id: ChannelId, slot: &Arc<Slot>) {
        let amount = {
            let mut entry = slot.entry.lock().await;
            let Some((threshold, amount)) = entry.state.auto_refill else {
                return;
            };
            let available = entry.state.channel.available(entry.state.channel.role());
            if available >= threshold
                || entry.refilling
                || entry.state.channel.phase() != &Phase::Open
            {
                return;
            }
            entry.refilling = true;
            amount
        };
        let node = self.clone();
        let slot = slot.clone();
        tokio::spawn(async move {
            match node.deposit(id, amount).await {
                Ok(()) => node.emit(NodeEvent::ChannelRefilled {
                    channel_id: id,
                    amount: amount.to_string(),
                }),
                Err(e) => node.emit(NodeEvent::Error {
                    channel_id: Some(id),
                    message: format!("auto-refill failed: {e}"),
                }),
            }
            slot.entry.lock().await.refilling = false;
        });
    }

    /// A channel's balances and status (aa-channels' `getBalancesAndStatus`).
    pub async fn channel_info(&self, id: ChannelId) -> Result<ChannelInfo, NodeError> {
        let slot = self.slot(&id)?;
        let entry = slot.entry.lock().await;
        Ok(info_of(&entry.state))
    }

    /// The latest voucher we signed on a channel (what the peer can present at a close).
    pub async fn latest_sent(&self, id: ChannelId) -> Result<Option<SignedVoucher>, NodeError> {
        Ok(self
            .slot(&id)?
            .entry
            .lock()
            .await
            .state
            .channel
            .latest_sent()
            .copied())
    }

    /// Every channel, or those with `peer` (aa-channels' `getChannelsForPeer`).
    pub async fn channels(&self, peer: Option<Address>) -> Vec<ChannelInfo> {
        let mut out = vec![];
        for (_, slot) in self.slots() {
            let entry = slot.entry.lock().await;
            if peer.is_none_or(|p| p == entry.state.channel.peer()) {
                out.push(info_of(&entry.state));
            }
        }
        out.sort_by_key(|i| i.channel_id);
        out
    }

    // ---- ledger ----

    /// Applies the events of one of our own ledger operations at once (the watcher will see
    /// them too; events carry totals, so applying twice changes nothing).
    async fn apply_receipt(&self, slot: &Arc<Slot>, receipt: &Receipt) -> Result<(), NodeError> {
        let mut entry = slot.entry.lock().await;
        let before = entry.state.clone();
        let mut next = entry.state.clone();
        let mut applied = vec![];
        for record in &receipt.events {
            if record.event.channel_id() == Some(next.channel.id()) {
                let _ = next.channel.handle_ledger_event(&record.event);
                applied.push(record.event);
            }
        }
        self.save(&mut entry, next, vec![], None).await?;
        let events = user_events(&before, &entry.state, &applied, self.address());
        drop(entry);
        for event in events {
            self.emit(event);
        }
        Ok(())
    }

    /// Applies one ledger event to our channel (if it is ours): persists the new state with
    /// the cursor after it, reports what happened, and returns what the watcher must do.
    pub(crate) async fn apply_ledger_event(
        &self,
        record: &paychan_ledger::EventRecord,
    ) -> Option<paychan_core::channel::LedgerAction> {
        if matches!(
            record.event,
            LedgerEvent::PayoutDeferred { .. } | LedgerEvent::Claimed { .. }
        ) {
            self.apply_payout_event(record).await;
            return None;
        }
        let id = record.event.channel_id()?;
        let slot = self.slot(&id).ok()?;
        let mut entry = slot.entry.lock().await;
        let before = entry.state.clone();
        let mut next = entry.state.clone();
        let action = next.channel.handle_ledger_event(&record.event);
        let cursor = Some(record.cursor.saturating_add(1));
        if let Err(e) = self.save(&mut entry, next, vec![], cursor).await {
            self.emit(NodeEvent::Error {
                channel_id: Some(id),
                message: format!("cannot persist a ledger event: {e}"),
            });
            return None;
        }
        let events = user_events(&before, &entry.state, &[record.event], self.address());
        drop(entry);
        for event in events {
            self.emit(event);
        }
        action
    }
}

/// What ledger events changed for the user, from the channel's state before and after them.
/// Both paths that apply ledger events (our own receipts, the watcher) call this; since it
/// reports only what changed, whichever path applies an event first reports it, once.
fn user_events(
    before: &Persisted,
    after: &Persisted,
    events: &[LedgerEvent],
    my_address: Address,
) -> Vec<NodeEvent> {
    let (was, now) = (&before.channel, &after.channel);
    let id = now.id();
    let (me, peer) = (now.role(), now.peer());
    let mut out = vec![];
    if is_proposed(was) && !is_proposed(now) {
        out.push(match me {
            Role::A => NodeEvent::ChannelOpened {
                channel_id: id,
                peer,
            },
            Role::B => NodeEvent::ChannelCreatedByPeer {
                channel_id: id,
                peer,
            },
        });
    }
    let grew = |role: Role| {
        now.ledger()
            .deposited
            .at(role)
            .saturating_sub(was.ledger().deposited.at(role))
    };
    if grew(me) > 0 {
        out.push(NodeEvent::MyDepositBecameStable {
            channel_id: id,
            amount: grew(me).to_string(),
        });
    }
    if grew(me.peer()) > 0 {
        out.push(NodeEvent::PeerDepositBecameStable {
            channel_id: id,
            amount: grew(me.peer()).to_string(),
        });
    }
    for role in [Role::A, Role::B] {
        let amount = now
            .ledger()
            .withdrawn
            .at(role)
            .saturating_sub(was.ledger().withdrawn.at(role));
        if amount > 0 {
            let by = if role == me { my_address } else { peer };
            out.push(NodeEvent::Withdrawn {
                channel_id: id,
                by,
                amount: amount.to_string(),
            });
        }
    }
    let closing_started = |p: &Phase| matches!(p, Phase::Closing { .. } | Phase::Closed { .. });
    if !closing_started(was.phase())
        && let Some(LedgerEvent::CloseStarted { by, deadline, .. }) = events
            .iter()
            .find(|e| matches!(e, LedgerEvent::CloseStarted { .. }))
    {
        let by = if *by == me { my_address } else { peer };
        out.push(NodeEvent::CloseStarted {
            channel_id: id,
            by,
            deadline: *deadline,
        });
    }
    if let (false, Phase::Closed { payouts }) =
        (matches!(was.phase(), Phase::Closed { .. }), now.phase())
    {
        out.push(NodeEvent::ChannelClosed {
            channel_id: id,
            amount_received: payouts.at(me).to_string(),
        });
    }
    out
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

fn status_of(state: &Persisted) -> &'static str {
    state.channel.phase().name()
}

fn info_of(state: &Persisted) -> ChannelInfo {
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
