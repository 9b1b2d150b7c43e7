//! One simulated node with one channel: the core's [`Channel`], the [`Manager`] (vouchers,
//! counter sync, ledger events) and its [`Timers`], a store that keeps every state it committed, and the node's rules around
//! them as `docs/ARCHITECTURE.md` describes the driver (`paychan-node`):
//!
//! - every change is committed before the frame that depends on it leaves, and a payee
//!   commits a voucher before it answers (`docs/PROTOCOL.md`, section 2, durability);
//! - one payment in flight per channel: a refused one is taken back
//!   ([`Channel::cancel_payment`]), an unanswered one stays counted;
//! - a refused withdrawal is released ([`Channel::cancel_withdrawal`]), an unanswered one
//!   when its certificate expires; a refused settlement turns into a unilateral close;
//! - the watcher applies ledger events from a cursor and submits what
//!   [`Channel::handle_ledger_event`] asks for; due timers run after it, at ledger time;
//! - a restart reloads a committed state (the latest, or an older one from a backup),
//!   catches up with the ledger from that state's cursor and loses what was in flight.
//!
//! Party methods are sans-IO like the core: frames and ledger calls come out, the
//! simulation carries them.

use crate::{
    adjudicator::LedgerEvent,
    channel::{Channel, CoSigned, LedgerAction},
    crypto::SigningKey,
    eip712::{Domain, Eip712, Settlement, SignedVoucher, Voucher, Withdrawal, memo_of},
    manager::{
        ChannelPolicy, Clock, DefenceFloor, Funds, Manager, Timer, Timers, UnconfirmedCredit,
        VoucherStep,
    },
    types::{Amount, ChannelId, Role},
    wire::{ErrorBody, Message, Reply},
};

/// How long a proposal may stay unopened before it expires (node clock, seconds).
pub const PROPOSAL_AGE: u64 = 1_800;
/// How long a withdrawal certificate is valid (ledger clock, seconds).
pub const WITHDRAWAL_VALIDITY: u64 = 600;
/// The most committed states a store keeps for restores (older ones are pruned).
const STORE_HISTORY: usize = 64;
/// The `request_id` of an error answering a withdrawal request.
const WITHDRAWAL_REFUSED: u64 = 0;
/// The `request_id` of an error answering a settlement request.
const SETTLEMENT_REFUSED: u64 = 1;

/// Something a party asks of the ledger.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LedgerCall {
    /// Deposit for ourselves.
    Deposit(Amount),
    /// Execute a co-signed withdrawal.
    Withdraw(CoSigned<Withdrawal>),
    /// Close on a co-signed settlement.
    CloseCooperative(CoSigned<Settlement>),
    /// Start a unilateral close, presenting a voucher.
    StartClose(Option<SignedVoucher>),
    /// Submit a voucher during a close.
    Submit(SignedVoucher),
    /// Settle after the challenge period.
    Settle,
}

/// What a party does in answer to an input.
#[derive(Debug, Default)]
pub struct Output {
    /// Frames for the peer.
    pub frames: Vec<Message>,
    /// Calls for the ledger.
    pub calls: Vec<LedgerCall>,
}

/// A committed state: the channel (none if forgotten) and the ledger cursor, written
/// together as the node's store does.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Committed {
    channel: Option<Channel>,
    cursor: usize,
}

/// One simulated party.
#[derive(Debug)]
pub struct Party {
    /// Its role in the channel.
    pub role: Role,
    key: SigningKey,
    id: ChannelId,
    /// Its protocol logic above the channel, as the node's.
    manager: Manager,
    /// Its state of the channel (none before it knows it or after it forgot it).
    pub channel: Option<Channel>,
    /// How many ledger events it has applied.
    pub cursor: usize,
    store: Vec<Committed>,
    timers: Timers,
    next_request: u64,
    /// Our payment in flight: its request id and voucher.
    paying: Option<(u64, SignedVoucher)>,
    /// Whether it followed the protocol all along (only honest payouts are checked).
    pub honest: bool,
    /// Whether it was ever restored from a state older than its latest.
    pub lost_data: bool,
    /// The highest cumulative it ever signed, across restores.
    pub max_signed: Amount,
    /// Its first voucher, kept by the simulation for the dishonest actions.
    pub oldest_voucher: Option<SignedVoucher>,
}

impl Party {
    /// A party with key `key` in channel `id` on the ledger `domain`, knowing nothing yet;
    /// its manager has the node's default policy.
    pub fn new(role: Role, key: SigningKey, id: ChannelId, domain: Domain) -> Self {
        let manager = Manager::new(
            key.address(),
            domain,
            ChannelPolicy::default(),
            DefenceFloor::default(),
            UnconfirmedCredit::default(),
        );
        Party {
            role,
            key,
            id,
            manager,
            channel: None,
            cursor: 0,
            store: vec![],
            timers: Timers::new(),
            next_request: 2,
            paying: None,
            honest: true,
            lost_data: false,
            max_signed: 0,
            oldest_voucher: None,
        }
    }

    /// Its key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// Its latest committed channel state, if any.
    pub fn committed(&self) -> Option<&Channel> {
        self.store.last().and_then(|c| c.channel.as_ref())
    }

    /// Whether the live state is exactly the latest committed one (it always must be between
    /// steps: nothing leaves a party uncommitted).
    pub fn is_committed(&self) -> bool {
        self.store
            .last()
            .is_some_and(|c| c.channel == self.channel && c.cursor == self.cursor)
    }

    /// Commits the live state (if it changed) and re-derives the timers from it.
    pub fn commit(&mut self) {
        let next = Committed {
            channel: self.channel.clone(),
            cursor: self.cursor,
        };
        if self.store.last() != Some(&next) {
            self.store.push(next);
            if self.store.len() > STORE_HISTORY {
                self.store.remove(0);
            }
        }
        match &self.channel {
            Some(channel) => self
                .timers
                .update(self.id, Timers::deadlines(channel, PROPOSAL_AGE)),
            None => self.timers.remove(self.id),
        }
    }

    /// Crashes and restarts from the committed state `back` steps before the latest
    /// (modulo how many there are). What was in flight is lost; the caller drops the
    /// connection and runs the catch-up with the ledger. Answers whether it went back to an
    /// older state than the latest.
    pub fn restart(&mut self, back: u8) -> bool {
        let len = self.store.len();
        let Some(back) = usize::from(back).checked_rem(len) else {
            return false;
        };
        let keep = len.saturating_sub(back);
        self.store.truncate(keep);
        if back > 0 {
            self.lost_data = true;
        }
        let state = self.store.last().cloned().unwrap_or(Committed {
            channel: None,
            cursor: 0,
        });
        self.channel = state.channel;
        self.cursor = state.cursor;
        self.paying = None;
        self.timers = Timers::new();
        self.commit();
        back > 0
    }

    /// The connection dropped: an unanswered payment stays counted (the peer may have kept
    /// it); the counter sync that follows tells the peer's view.
    pub fn disconnected(&mut self) {
        self.paying = None;
    }

    /// Its manager.
    pub fn manager(&self) -> &Manager {
        &self.manager
    }

    /// The counter sync sent on (re)connect: our copy of the peer's latest voucher and our
    /// own latest voucher, if any ([`Manager::counter_sync`]).
    pub fn counter_sync(&self) -> Option<Message> {
        // A payment still in flight is settled first (the node holds the channel's payment
        // lock while it sends the sync); here the connection just dropped, so none is.
        let channel = self.channel.as_ref()?;
        self.manager.counter_sync(channel, channel.peer())
    }

    fn signed(&mut self, voucher: &SignedVoucher) {
        self.max_signed = self.max_signed.max(voucher.voucher.cumulative);
        if self.oldest_voucher.is_none() {
            self.oldest_voucher = Some(*voucher);
        }
    }

    /// Pays `amount` for a message (its first byte says whether the payee's handler refuses
    /// it). A previous payment still unanswered has timed out: it stays counted.
    pub fn pay(&mut self, amount: Amount, refused: bool) -> Output {
        let mut out = Output::default();
        self.paying = None;
        let request_id = self.next_request;
        self.next_request = self.next_request.saturating_add(1);
        let mut body = vec![u8::from(refused)];
        body.extend_from_slice(&request_id.to_be_bytes());
        let Some(channel) = self.channel.as_mut() else {
            return out;
        };
        let Ok(voucher) = channel.pay(&self.key, amount, memo_of(&body)) else {
            return out;
        };
        self.signed(&voucher);
        self.commit();
        self.paying = Some((request_id, voucher));
        out.frames.push(Message::Pay {
            request_id,
            voucher,
            body,
        });
        out
    }

    /// Proposes to withdraw `amount` at ledger time `now`.
    pub fn withdraw(&mut self, amount: Amount, now: u64) -> Output {
        let mut out = Output::default();
        let Some(channel) = self.channel.as_mut() else {
            return out;
        };
        let expiry = now.saturating_add(WITHDRAWAL_VALIDITY);
        if let Ok((withdrawal, signature)) =
            channel.propose_withdrawal(&self.key, amount, expiry, now)
        {
            self.commit();
            out.frames.push(Message::WithdrawRequest {
                withdrawal,
                signature,
            });
        }
        out
    }

    /// Proposes a cooperative settlement.
    pub fn propose_settlement(&mut self) -> Output {
        let mut out = Output::default();
        let Some(channel) = self.channel.as_mut() else {
            return out;
        };
        if let Ok((settlement, signature)) = channel.propose_settlement(&self.key) {
            self.commit();
            out.frames.push(Message::SettlementRequest {
                settlement,
                signature,
            });
        }
        out
    }

    /// Starts a unilateral close; a cheater presents its own oldest voucher instead of the
    /// peer's latest.
    pub fn force_close(&mut self, cheat: bool) -> Output {
        let mut out = Output::default();
        let Some(channel) = self.channel.as_mut() else {
            return out;
        };
        if let Ok(inputs) = channel.start_close() {
            self.commit();
            let voucher = if cheat {
                self.honest = false;
                self.oldest_voucher
            } else {
                inputs.voucher
            };
            out.calls.push(LedgerCall::StartClose(voucher));
        }
        out
    }

    /// Signs, outside our channel state, a voucher for `cumulative` in total with a sequence
    /// far ahead, and sends it as a payment (dishonest: `cumulative` is beyond what the
    /// payee allows).
    pub fn overdraft(&mut self, cumulative: Amount) -> Output {
        let mut out = Output::default();
        let Some(channel) = self.channel.as_ref() else {
            return out;
        };
        self.honest = false;
        let request_id = self.next_request;
        self.next_request = self.next_request.saturating_add(1);
        let body = request_id.to_be_bytes().to_vec();
        let voucher = Voucher {
            channel_id: self.id,
            payer: self.key.address(),
            cumulative,
            sequence: channel.sent_sequence().saturating_add(1_000),
            memo: memo_of(&body),
        };
        let voucher = SignedVoucher {
            signature: voucher.sign(channel.domain(), &self.key),
            voucher,
        };
        self.signed(&voucher);
        out.frames.push(Message::Pay {
            request_id,
            voucher,
            body,
        });
        out
    }

    /// Throws our own oldest voucher at the ledger (dishonest).
    pub fn submit_stale(&mut self) -> Output {
        let mut out = Output::default();
        if let Some(v) = self.oldest_voucher {
            self.honest = false;
            out.calls.push(LedgerCall::Submit(v));
        }
        out
    }

    /// Handles a frame from the peer at ledger time `now`.
    pub fn handle(&mut self, message: Message, now: u64) -> Output {
        let mut out = Output::default();
        let id = self.id;
        let Some(channel) = self.channel.as_mut() else {
            return out;
        };
        match message {
            Message::Pay {
                request_id,
                voucher,
                body,
            } => {
                // The party reads no ledger beyond its watcher: a voucher over the funds it
                // knows is refused as it stands.
                let step =
                    self.manager
                        .check_voucher(channel, &voucher, memo_of(&body), Funds::Known);
                let reply = match step {
                    VoucherStep::Refuse(why)
                    | VoucherStep::RefreshDeposits { over: why }
                    | VoucherStep::AskCredit { over: why } => {
                        Reply::Err(ErrorBody::new(ErrorBody::VOUCHER_REJECTED, why.to_string()))
                    }
                    VoucherStep::Accept(_) if body.first() == Some(&1) => {
                        Reply::Err(ErrorBody::new(ErrorBody::HANDLER_ERROR, "refused"))
                    }
                    VoucherStep::Accept(accepted) => {
                        *channel = accepted.next;
                        self.commit();
                        Reply::Ok(b"{}".to_vec())
                    }
                };
                out.frames.push(Message::PayResult {
                    request_id,
                    channel_id: id,
                    reply,
                });
            }
            Message::PayResult {
                request_id, reply, ..
            } => {
                if let Some((pending, voucher)) = self.paying
                    && pending == request_id
                {
                    self.paying = None;
                    if matches!(reply, Reply::Err(_)) && channel.cancel_payment(&voucher).is_ok() {
                        self.commit();
                    }
                }
            }
            Message::WithdrawRequest {
                withdrawal,
                signature,
            } => match channel.handle_withdrawal_request(&self.key, &withdrawal, &signature, now) {
                Ok(signature) => {
                    self.commit();
                    out.frames.push(Message::WithdrawSignature {
                        channel_id: id,
                        signature,
                    });
                }
                Err(_) => out.frames.push(refusal(id, WITHDRAWAL_REFUSED)),
            },
            Message::WithdrawSignature { signature, .. } => {
                if let Ok(cert) = channel.handle_withdrawal_signature(&signature) {
                    out.calls.push(LedgerCall::Withdraw(cert));
                }
            }
            Message::SettlementRequest {
                settlement,
                signature,
            } => match channel.handle_settlement_request(&self.key, &settlement, &signature) {
                Ok(signature) => {
                    self.commit();
                    out.frames.push(Message::SettlementSignature {
                        channel_id: id,
                        signature,
                    });
                }
                Err(_) => out.frames.push(refusal(id, SETTLEMENT_REFUSED)),
            },
            Message::SettlementSignature { signature, .. } => {
                if let Ok(cert) = channel.handle_settlement_signature(&signature) {
                    out.calls.push(LedgerCall::CloseCooperative(cert));
                }
            }
            Message::CounterSync { yours, mine, .. } => {
                // Whatever it did (a resent voucher of the same amount may still have been
                // kept) is committed below.
                let _ = self
                    .manager
                    .handle_counter_sync(channel, yours.as_ref(), mine.as_ref());
            }
            Message::Error {
                request_id: Some(WITHDRAWAL_REFUSED),
                ..
            } => {
                if let Some(w) = channel.reservations().at(self.role)
                    && channel.cancel_withdrawal(&w).is_ok()
                {
                    self.commit();
                }
            }
            Message::Error {
                request_id: Some(SETTLEMENT_REFUSED),
                ..
            } => {
                // The peer did not co-sign: close unilaterally instead, as the node does.
                return self.force_close(false);
            }
            _ => {}
        }
        // Whatever changed is committed before the answers leave (`commit` writes nothing
        // when nothing changed).
        self.commit();
        out
    }

    /// Applies ledger events: new ones from the ledger's log (the watcher, which moves the
    /// cursor) or a receipt of our own call (which does not). Answers the watcher's calls.
    pub fn apply_events(&mut self, events: &[LedgerEvent], from_log: bool) -> Vec<LedgerCall> {
        let mut calls = vec![];
        if let Some(channel) = self.channel.as_mut() {
            let outcome = self.manager.handle_ledger_events(channel, events);
            for action in outcome.actions {
                let LedgerAction::SubmitVoucher(v) = action;
                calls.push(LedgerCall::Submit(v));
            }
        }
        if from_log {
            self.cursor = self.cursor.saturating_add(events.len());
        }
        self.commit();
        calls
    }

    /// Runs every timer due at `now` (both clocks read the same time here). `on_ledger`
    /// says whether the ledger has the channel, for a proposal that expires.
    pub fn tick(&mut self, now: u64, on_ledger: bool) -> Vec<LedgerCall> {
        let mut calls = vec![];
        let mut due = self.timers.due(Clock::Local, now);
        due.extend(self.timers.due(Clock::Ledger, now));
        for (_, timer) in due {
            match timer {
                Timer::WithdrawalExpiry => {
                    if let Some(channel) = self.channel.as_mut() {
                        channel.handle_time(now);
                    }
                }
                Timer::SettleDue => calls.push(LedgerCall::Settle),
                // The ledger opened it after all: the watcher's next read makes it open.
                Timer::ProposalExpiry if on_ledger => {}
                Timer::ProposalExpiry => self.channel = None,
            }
        }
        self.commit();
        calls
    }

    /// Our id for the channel (the simulation runs one).
    pub fn channel_id(&self) -> ChannelId {
        self.id
    }
}

/// A refusal of a withdrawal or settlement request (the reason text does not matter here).
fn refusal(id: ChannelId, request_id: u64) -> Message {
    Message::Error {
        channel_id: Some(id),
        request_id: Some(request_id),
        error: ErrorBody::new(ErrorBody::CERTIFICATE_REJECTED, "refused"),
    }
}
