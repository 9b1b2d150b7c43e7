//! A channel peer in the browser, without IO: the node's peer protocol (docs/PROTOCOL.md,
//! sections 2-4 and 7) driven over a message carrier the caller owns (the browser's
//! WebSocket, to a node directly or through a relay).
//!
//! Nothing here is a second implementation: the handshake and the frames are paychan-net's
//! ([`Initiator`], [`Responder`], [`NoiseSession`]), the messages and their codec
//! paychan-core's `wire`, each channel a core [`Channel`] and everything above one channel
//! the core's [`Manager`] (proposals under its policy, vouchers, counter sync). [`Peer`] is
//! the driver, as `paychan-node` is natively, in the shape of quinn-proto's `Connection`:
//!
//! - inputs: [`Peer::receive`] (a carrier message), [`Peer::disconnected`], the commands
//!   ([`Peer::propose`], [`Peer::pay`], [`Peer::withdraw`], [`Peer::close`]), ledger
//!   receipts and records ([`Peer::apply_receipt`], [`Peer::apply_ledger_record`]) and, for
//!   a payee, the handler's answers ([`Peer::answer_payment`]);
//! - outputs, polled: [`Peer::take_records`] (channel states to store), [`Peer::take_transmit`]
//!   (carrier messages to send) and [`Peer::take_events`] (what happened, for the user).
//!
//! "Persisted" is a protocol step: a message that depends on a state change is held until
//! the caller reports the records taken before it durable ([`Peer::records_saved`]); so a
//! voucher never leaves before the state that counts it paid is stored, and a payment is
//! answered only once the voucher it accepted is (the node's rule, docs/ARCHITECTURE.md).
//! The clock and randomness are arguments.

mod incoming;
mod types;

use std::collections::{BTreeMap, VecDeque};

use paychan_core::{
    Address, Amount, ChannelId, ChannelParams, Domain, SigningKey,
    adjudicator::{ChannelRecord, LedgerEvent},
    channel::{Channel, CoSigned, Phase},
    eip712::{Settlement, SignedVoucher, Withdrawal, memo_of},
    manager::{ChannelPolicy, DefenceFloor, Manager, UnconfirmedCredit, ledger::ChannelChange},
    types::{Role, parse_amount},
    wire::{self, MAX_BODY_LEN, Message, ProposeChannel},
};
use paychan_ledger::{Operation, Receipt, SignedRequest};
use paychan_net::{Identity, Initiator, NoiseSession, Responder};

pub use self::types::{Event, Record, Summary};
use crate::payer::{Error, STATE_VERSION};

/// The state of the carrier.
enum Link {
    /// No connection.
    Down,
    /// We dialed `expected` and sent message 1.
    Dialing {
        initiator: Initiator,
        expected: Address,
        identity: Identity,
    },
    /// A dialer reached us (through a relay): waiting for message 1, then 3.
    Accepting {
        responder: Option<Responder>,
        identity: Identity,
        answered: bool,
    },
    /// The handshake is done.
    Up(NoiseSession),
}

/// What a co-signed certificate is waiting for: the ledger.
#[derive(Clone, Copy, Debug)]
enum Cosigned {
    Withdrawal(CoSigned<Withdrawal>),
    Settlement(CoSigned<Settlement>),
}

/// One channel and what is under way on it.
struct Slot {
    channel: Channel,
    /// The request id of our payment in flight (one at a time per channel).
    paying: Option<u64>,
    /// A proposal of ours not yet answered.
    proposing: bool,
    /// A certificate both signed, for the ledger.
    cosigned: Option<Cosigned>,
}

impl Slot {
    fn new(channel: Channel) -> Self {
        Slot {
            channel,
            paying: None,
            proposing: false,
            cosigned: None,
        }
    }
}

/// Our payment waiting for its answer.
struct Paying {
    channel: ChannelId,
    voucher: SignedVoucher,
    amount: Amount,
}

/// A peer's payment waiting for our handler's answer (we are the payee).
struct Incoming {
    peer_request: u64,
    channel: ChannelId,
    voucher: SignedVoucher,
    body: Vec<u8>,
}

/// The browser's side of the peer protocol (see the [module docs](self)).
pub struct Peer {
    key: SigningKey,
    manager: Manager,
    link: Link,
    channels: BTreeMap<ChannelId, Slot>,
    next_request: u64,
    paying: BTreeMap<u64, Paying>,
    incoming: BTreeMap<u64, Incoming>,
    next_incoming: u64,
    /// Peer payments (ids in `incoming`) waiting for the ledger's record of their channel.
    waiting_ledger: Vec<(u64, ChannelId)>,
    /// The ledger's time as the caller last said (withdrawal certificates expire on it).
    now: u64,
    /// Channel states changed since the last [`Peer::take_records`]; `None`: forget it.
    unsaved: BTreeMap<ChannelId, Option<String>>,
    /// Whether records were taken and not yet reported durable.
    writing: bool,
    /// Sealed messages waiting for records to be durable.
    held: VecDeque<Vec<u8>>,
    transmit: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
}

impl Peer {
    /// A peer acting for `key` on the ledger `domain`, accepting channels others propose
    /// under the core's default channel policy.
    pub fn new(key: SigningKey, domain: Domain) -> Self {
        let manager = Manager::new(
            key.address(),
            domain,
            ChannelPolicy::default(),
            DefenceFloor::default(),
            UnconfirmedCredit::default(),
        );
        Peer {
            key,
            manager,
            link: Link::Down,
            channels: BTreeMap::new(),
            next_request: 1,
            paying: BTreeMap::new(),
            incoming: BTreeMap::new(),
            next_incoming: 1,
            waiting_ledger: Vec::new(),
            now: 0,
            unsaved: BTreeMap::new(),
            writing: false,
            held: VecDeque::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Our address.
    pub fn address(&self) -> Address {
        self.key.address()
    }

    /// The ledger.
    pub fn domain(&self) -> &Domain {
        self.manager.domain()
    }

    /// Loads a stored channel (a [`Record`]'s state); answers its id.
    pub fn restore(&mut self, state: &str) -> Result<ChannelId, Error> {
        let channel = crate::payer::PayerChannel::from_json(state)?.into_channel();
        if channel.me() != self.address() {
            return Err("the stored channel is another account's".into());
        }
        if channel.domain() != self.domain() {
            return Err("the stored channel is on another ledger".into());
        }
        let id = channel.id();
        self.channels.insert(id, Slot::new(channel));
        Ok(id)
    }

    /// The address of the connected peer, once the handshake proved it.
    pub fn connected(&self) -> Option<Address> {
        match &self.link {
            Link::Up(session) => Some(session.peer()),
            _ => None,
        }
    }

    /// Starts a connection we dialed to `expected` (the carrier is open): queues message 1.
    /// `noise_secret` is a fresh Noise static key and `entropy` the handshake's randomness
    /// (32 random bytes each, never reused).
    pub fn dial(
        &mut self,
        expected: Address,
        noise_secret: [u8; 32],
        entropy: [u8; 32],
    ) -> Result<(), Error> {
        self.disconnected();
        let identity = Identity::new(self.key.clone(), noise_secret).map_err(|e| e.to_string())?;
        let (initiator, first) =
            Initiator::start_with_entropy(&identity, &entropy).map_err(|e| e.to_string())?;
        self.transmit.push_back(first);
        self.link = Link::Dialing {
            initiator,
            expected,
            identity,
        };
        Ok(())
    }

    /// Waits for a dialer on a carrier opened for us (a relay's `?ticket=` connection).
    pub fn accept(&mut self, noise_secret: [u8; 32], entropy: [u8; 32]) -> Result<(), Error> {
        self.disconnected();
        let identity = Identity::new(self.key.clone(), noise_secret).map_err(|e| e.to_string())?;
        let responder = Responder::with_entropy(&identity, &entropy).map_err(|e| e.to_string())?;
        self.link = Link::Accepting {
            responder: Some(responder),
            identity,
            answered: false,
        };
        Ok(())
    }

    /// The carrier closed: what was in flight has an unknown outcome (a payment stays
    /// counted; the counter sync of the next connection settles both views), messages not
    /// yet sent are dropped, a peer's payment waiting for our handler is forgotten (never
    /// counted: its voucher was not kept).
    pub fn disconnected(&mut self) {
        let was_up = matches!(self.link, Link::Up(_));
        self.link = Link::Down;
        self.held.clear();
        self.transmit.clear();
        for (request_id, p) in std::mem::take(&mut self.paying) {
            if let Some(slot) = self.channels.get_mut(&p.channel) {
                slot.paying = None;
            }
            self.events.push_back(Event::PaymentUnknown {
                request_id,
                channel_id: p.channel,
                amount: p.amount.to_string(),
            });
        }
        self.incoming.clear();
        self.waiting_ledger.clear();
        for slot in self.channels.values_mut() {
            slot.proposing = false;
        }
        if was_up {
            self.events.push_back(Event::Disconnected);
        }
    }

    /// A keep-alive, if connected (the node closes a connection silent for three of its
    /// keep-alive periods, 45 s by default).
    pub fn keepalive(&mut self) -> Result<(), Error> {
        if let Link::Up(session) = &mut self.link {
            let message = session.seal_keepalive().map_err(|e| e.to_string())?;
            self.queue(message);
        }
        Ok(())
    }

    /// Proposes a channel to the connected peer with `deposit` from us, `challenge_period`
    /// seconds and the 32-byte random `nonce` (the channel id is the digest of the
    /// parameters: never reuse one). Answers its id; [`Event::Accepted`] or
    /// [`Event::Rejected`] follows, then open it on the ledger ([`Peer::open_request`]).
    pub fn propose(
        &mut self,
        deposit: Amount,
        challenge_period: u64,
        nonce: [u8; 32],
    ) -> Result<ChannelId, Error> {
        let peer = self.connected().ok_or("not connected")?;
        let params = ChannelParams {
            party_a: self.address(),
            party_b: peer,
            token: Address::ZERO,
            challenge_period,
            nonce: nonce.into(),
        };
        let domain = *self.domain();
        let channel = Channel::proposed(params, domain, self.address(), 0)
            .ok_or("cannot open a channel with ourselves")?;
        let id = channel.id();
        if self.channels.contains_key(&id) {
            return Err(format!("channel {id} exists already"));
        }
        let mut slot = Slot::new(channel);
        slot.proposing = true;
        self.channels.insert(id, slot);
        self.changed(id);
        self.send(&Message::ProposeChannel(ProposeChannel {
            params,
            domain,
            deposit,
        }))?;
        Ok(id)
    }

    /// The signed ledger request opening our proposed channel `id` with `deposit`, for the
    /// ledger's `ledger_submit` (`ledger_nonce`: one above the ledger's `ledger_nonce`).
    pub fn open_request(
        &self,
        id: ChannelId,
        deposit: Amount,
        ledger_nonce: u64,
    ) -> Result<SignedRequest, Error> {
        let slot = self.slot(id)?;
        self.sign(
            ledger_nonce,
            Operation::Open {
                params: *slot.channel.params(),
                amount: deposit,
            },
        )
    }

    /// The signed ledger request that carries out what both signed on channel `id` (a
    /// withdrawal or the cooperative close), once [`Event::Cosigned`] said it is ready.
    pub fn cosigned_request(
        &self,
        id: ChannelId,
        ledger_nonce: u64,
    ) -> Result<SignedRequest, Error> {
        let op = match self.slot(id)?.cosigned {
            Some(Cosigned::Withdrawal(certificate)) => Operation::Withdraw { certificate },
            Some(Cosigned::Settlement(settlement)) => Operation::CloseCooperative { settlement },
            None => return Err(format!("nothing co-signed on channel {id}")),
        };
        self.sign(ledger_nonce, op)
    }

    fn sign(&self, nonce: u64, op: Operation) -> Result<SignedRequest, Error> {
        SignedRequest::sign(self.domain(), &self.key, nonce, op).map_err(|e| e.to_string())
    }

    /// Applies a ledger receipt (the answer of `ledger_submit`) to our channels: answers how
    /// many of its events were ours.
    pub fn apply_receipt(&mut self, receipt: &Receipt) -> u32 {
        let events: Vec<LedgerEvent> = receipt.events.iter().map(|r| r.event).collect();
        self.apply_events(&events)
    }

    /// Applies ledger events to our channels (as a watcher would); answers how many were
    /// ours.
    pub fn apply_events(&mut self, events: &[LedgerEvent]) -> u32 {
        let mut ours = 0u32;
        let ids: Vec<ChannelId> = self.channels.keys().copied().collect();
        for id in ids {
            let mine: Vec<LedgerEvent> = events
                .iter()
                .filter(|e| e.channel_id() == Some(id))
                .copied()
                .collect();
            if mine.is_empty() {
                continue;
            }
            ours = ours.saturating_add(u32::try_from(mine.len()).unwrap_or(u32::MAX));
            self.apply_to(id, &mine);
        }
        ours
    }

    /// Brings channel `id` up to the ledger's record of it (`ledger_channel`): its deposits,
    /// which open a proposed channel, as a node's refresh does. Payments of the peer waiting
    /// for these deposits are checked again.
    pub fn apply_ledger_record(
        &mut self,
        id: ChannelId,
        record: &ChannelRecord,
    ) -> Result<(), Error> {
        let events: Vec<LedgerEvent> = [Role::A, Role::B]
            .into_iter()
            .map(|party| LedgerEvent::Deposited {
                channel_id: id,
                party,
                amount: 0,
                total: record.deposited.at(party),
            })
            .collect();
        self.apply_to(id, &events);
        self.recheck_waiting(id)
    }

    /// The ledger's time now, in seconds: a peer's withdrawal certificate must not have
    /// expired by it.
    pub fn set_time(&mut self, now: u64) {
        self.now = now;
    }

    fn apply_to(&mut self, id: ChannelId, events: &[LedgerEvent]) {
        let Some(slot) = self.channels.get_mut(&id) else {
            return;
        };
        let before = slot.channel.clone();
        let outcome = self.manager.handle_ledger_events(&mut slot.channel, events);
        if slot.channel == before {
            return;
        }
        let me = slot.channel.role();
        if outcome
            .changes
            .iter()
            .any(|c| matches!(c, ChannelChange::Closed { .. }))
        {
            slot.cosigned = None;
        }
        if outcome
            .changes
            .iter()
            .any(|c| matches!(c, ChannelChange::Withdrawn { party, .. } if *party == me))
        {
            slot.cosigned = None;
        }
        let summary = Summary::of(&slot.channel);
        self.changed(id);
        for change in outcome.changes {
            self.events.push_back(Event::Ledger {
                channel_id: id,
                change: types::change_name(&change).to_owned(),
                channel: summary.clone(),
            });
        }
    }

    /// Pays `amount` on channel `id` for `message` (JSON): answers the request id that
    /// [`Event::Paid`], [`Event::Refused`] or [`Event::PaymentUnknown`] will name. One
    /// payment per channel at a time.
    pub fn pay(
        &mut self,
        id: ChannelId,
        amount: Amount,
        message: &serde_json::Value,
    ) -> Result<u64, Error> {
        let peer = self.connected().ok_or("not connected")?;
        let body = serde_json::to_vec(message).map_err(|e| e.to_string())?;
        if body.len() > MAX_BODY_LEN {
            return Err(format!(
                "the message is {} bytes, the limit is {MAX_BODY_LEN}",
                body.len()
            ));
        }
        let key = self.key.clone();
        let slot = self
            .channels
            .get_mut(&id)
            .ok_or_else(|| format!("no channel {id}"))?;
        if slot.channel.peer() != peer {
            return Err(format!(
                "channel {id} is with {}, not with the connected peer",
                slot.channel.peer()
            ));
        }
        if slot.paying.is_some() {
            return Err(format!("a payment is in flight on channel {id}"));
        }
        let voucher = slot
            .channel
            .pay(&key, amount, memo_of(&body))
            .map_err(|e| e.to_string())?;
        let request_id = self.next_request;
        self.next_request = self.next_request.saturating_add(1);
        slot.paying = Some(request_id);
        self.paying.insert(
            request_id,
            Paying {
                channel: id,
                voucher,
                amount,
            },
        );
        self.changed(id);
        self.send(&Message::Pay {
            request_id,
            voucher,
            body,
        })?;
        Ok(request_id)
    }

    /// Proposes to withdraw `amount` from channel `id` while it stays open (the certificate
    /// expires at `expiry`, ledger time; `now` is the ledger's time): reserved at once;
    /// [`Event::Cosigned`] follows when the peer signed, then submit
    /// [`Peer::cosigned_request`].
    pub fn withdraw(
        &mut self,
        id: ChannelId,
        amount: Amount,
        expiry: u64,
        now: u64,
    ) -> Result<(), Error> {
        self.connected().ok_or("not connected")?;
        let key = self.key.clone();
        let slot = self.slot_mut(id)?;
        if slot.paying.is_some() {
            return Err(format!("a payment is in flight on channel {id}"));
        }
        let (withdrawal, signature) = slot
            .channel
            .propose_withdrawal(&key, amount, expiry, now)
            .map_err(|e| e.to_string())?;
        self.changed(id);
        self.send(&Message::WithdrawRequest {
            withdrawal,
            signature,
        })
    }

    /// Takes back our withdrawal proposal on channel `id` (the peer refused it, or it
    /// expired unexecuted).
    pub fn cancel_withdrawal(&mut self, id: ChannelId) -> Result<(), Error> {
        let slot = self.slot_mut(id)?;
        let mine = slot.channel.reservations().at(slot.channel.role());
        let withdrawal = mine.ok_or("no withdrawal of ours is pending")?;
        slot.channel
            .cancel_withdrawal(&withdrawal)
            .map_err(|e| e.to_string())?;
        slot.cosigned = None;
        self.changed(id);
        Ok(())
    }

    /// Proposes to close channel `id` cooperatively with both counters as we count them;
    /// payments stop. [`Event::Cosigned`] follows, then submit [`Peer::cosigned_request`].
    pub fn close(&mut self, id: ChannelId) -> Result<(), Error> {
        self.connected().ok_or("not connected")?;
        let key = self.key.clone();
        let slot = self.slot_mut(id)?;
        if slot.paying.is_some() {
            return Err(format!("a payment is in flight on channel {id}"));
        }
        let (settlement, signature) = slot
            .channel
            .propose_settlement(&key)
            .map_err(|e| e.to_string())?;
        self.changed(id);
        self.send(&Message::SettlementRequest {
            settlement,
            signature,
        })
    }

    /// Every channel's summary.
    pub fn channels(&self) -> Vec<Summary> {
        self.channels
            .values()
            .map(|s| Summary::of(&s.channel))
            .collect()
    }

    /// One channel's summary.
    pub fn channel(&self, id: ChannelId) -> Result<Summary, Error> {
        Ok(Summary::of(&self.slot(id)?.channel))
    }

    /// The channel states to store, changed since the last call (a `None` state: forget the
    /// channel). Store them all, durably, then call [`Peer::records_saved`]: the messages
    /// that depend on them are held until then.
    pub fn take_records(&mut self) -> Vec<Record> {
        if self.unsaved.is_empty() {
            return Vec::new();
        }
        self.writing = true;
        std::mem::take(&mut self.unsaved)
            .into_iter()
            .map(|(id, state)| Record { id, state })
            .collect()
    }

    /// The records taken last are durable: releases the messages that waited for them.
    pub fn records_saved(&mut self) {
        self.writing = false;
        if self.unsaved.is_empty() {
            self.transmit.extend(self.held.drain(..));
        }
    }

    /// The carrier messages to send now, in order.
    pub fn take_transmit(&mut self) -> Vec<Vec<u8>> {
        self.transmit.drain(..).collect()
    }

    /// The next carrier message to send now, if any.
    pub fn next_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// What happened since the last call.
    pub fn take_events(&mut self) -> Vec<Event> {
        self.events.drain(..).collect()
    }

    fn slot(&self, id: ChannelId) -> Result<&Slot, Error> {
        self.channels
            .get(&id)
            .ok_or_else(|| format!("no channel {id}"))
    }

    fn slot_mut(&mut self, id: ChannelId) -> Result<&mut Slot, Error> {
        self.channels
            .get_mut(&id)
            .ok_or_else(|| format!("no channel {id}"))
    }

    /// Marks channel `id` to be stored before anything sent after this leaves.
    fn changed(&mut self, id: ChannelId) {
        let state = self.channels.get(&id).map(|s| stored(&s.channel));
        self.unsaved.insert(id, state);
    }

    /// Seals `message` for the connected peer and queues it (held while records are
    /// unsaved).
    fn send(&mut self, message: &Message) -> Result<(), Error> {
        let Link::Up(session) = &mut self.link else {
            return Err("not connected".into());
        };
        let frame = wire::encode(message).map_err(|e| e.to_string())?;
        let sealed = session.seal_frame(&frame).map_err(|e| e.to_string())?;
        for m in sealed {
            self.queue(m);
        }
        Ok(())
    }

    /// Queues a sealed message: after every held one (the peer decrypts in order), and held
    /// itself while records wait to be stored.
    fn queue(&mut self, message: Vec<u8>) {
        if self.writing || !self.unsaved.is_empty() || !self.held.is_empty() {
            self.held.push_back(message);
        } else {
            self.transmit.push_back(message);
        }
    }
}

/// A channel's stored form: the same as [`crate::payer::PayerChannel`]'s.
fn stored(channel: &Channel) -> String {
    #[derive(serde::Serialize)]
    struct StoredRef<'a> {
        version: u32,
        channel: &'a Channel,
    }
    serde_json::to_string(&StoredRef {
        version: STATE_VERSION,
        channel,
    })
    .unwrap_or_default()
}

/// An amount from its decimal text.
pub fn amount(text: &str) -> Result<Amount, Error> {
    parse_amount(text).map_err(|e| e.to_string())
}

/// Whether a phase pays.
fn is_open(channel: &Channel) -> bool {
    matches!(channel.phase(), Phase::Open)
}
