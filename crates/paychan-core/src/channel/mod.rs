//! The state machine of one party in one channel.
//!
//! A [`Channel`] is what one party knows of one channel: the ledger's view (deposits,
//! withdrawals, floors, close progress — fed in by [`Channel::handle_ledger_event`]), the
//! latest voucher it signed and the latest it accepted, and the phase. It is plain data
//! (`Clone + Serialize`): the node persists it after every change and before it answers, and a
//! snapshot is just a copy.
//!
//! Methods come in three kinds, as in quinn-proto:
//! - commands: [`pay`](Channel::pay), [`propose_withdrawal`](Channel::propose_withdrawal),
//!   [`propose_settlement`](Channel::propose_settlement), [`start_close`](Channel::start_close);
//! - `handle_*` for what comes in: the peer's vouchers, certificates, settlements and counter
//!   sync, ledger events, the passing of time;
//! - queries: balances, the expected payouts, whether a settle is due.
//!
//! Keys are arguments, never state, so a persisted channel holds no secret.
//!
//! # Phases
//!
//! ```text
//! Proposed ──any ledger event of the channel (it is open on the ledger)──▶ Open
//! Open ──propose/co-sign settlement──▶ Settling ──Settled event──▶ Closed
//!  │  └────────start_close──────────▶ CloseRequested ─┐
//!  │                     (also from Settling)          │ CloseStarted event
//!  └──────────CloseStarted event (peer)────────────────┴──▶ Closing ──Settled event──▶ Closed
//! ```
//! Only `Open` pays. `Open` accepts payments, and so does `Proposed` (the ledger may have
//! opened it before our watcher saw it; the voucher is checked against what we know of the
//! deposits). A `Settled` event closes the channel from any phase. A `Proposed` channel the
//! ledger never opens is the node's to expire (see `docs/ARCHITECTURE.md`).

mod cosign;
mod error;

use alloy_primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};

pub use self::error::{
    CertificateRejection, CommandError, Reason, SyncRejection, VoucherRejection,
};
use crate::{
    adjudicator::LedgerEvent,
    crypto::{Signature, SigningKey},
    eip712::{
        ChannelParams, Domain, Eip712, Settlement, SignedVoucher, Voucher, Withdrawal,
        settlement_payouts,
    },
    types::{Amount, ChannelId, Pair, Role, sum},
};

/// Where a channel is in its life. See the module docs for the transitions.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Phase {
    /// Payments flow both ways.
    Open,
    /// We signed a cooperative settlement; payments have stopped.
    Settling {
        /// The settlement we signed last.
        settlement: Settlement,
    },
    /// We asked the ledger to start a unilateral close.
    CloseRequested,
    /// The ledger's challenge period runs until `deadline`.
    Closing {
        /// Ledger time after which anyone may settle.
        deadline: u64,
        /// Who started the close.
        started_by: Role,
    },
    /// Paid out; the channel is finished forever.
    Closed {
        /// What each party received at settlement.
        payouts: Pair<Amount>,
    },
    /// Proposed by us or accepted from the peer, not yet seen open on the ledger. Last of the
    /// variants so that channels stored before it existed keep their encoding.
    Proposed {
        /// When the proposal was made or accepted (the node's clock, in seconds).
        since: u64,
    },
}

impl Phase {
    /// A short name for messages and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Open => "open",
            Phase::Settling { .. } => "settling",
            Phase::CloseRequested => "close requested",
            Phase::Closing { .. } => "closing",
            Phase::Closed { .. } => "closed",
            Phase::Proposed { .. } => "proposed",
        }
    }
}

/// An object signed by both parties, ready for the ledger.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CoSigned<T> {
    /// The object.
    pub body: T,
    /// Party A's signature.
    pub sig_a: Signature,
    /// Party B's signature.
    pub sig_b: Signature,
}

/// What the ledger needs to start a unilateral close.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CloseInputs {
    /// The channel's parameters.
    pub params: ChannelParams,
    /// The peer's latest voucher, to be counted at once (none if the peer never paid).
    pub voucher: Option<SignedVoucher>,
}

/// Something the ledger must be asked to do on our behalf.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum LedgerAction {
    /// Submit the peer's latest voucher: the close under way counts less than it.
    SubmitVoucher(SignedVoucher),
}

/// The ledger's view of the channel, as reported by its events.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct LedgerView {
    /// Total deposited by each party.
    pub deposited: Pair<Amount>,
    /// Total withdrawn by each party while open.
    pub withdrawn: Pair<Amount>,
    /// The paid counters recorded by withdrawals: never counted below these.
    pub floors: Pair<Amount>,
    /// During a close: the highest cumulative counted per payer.
    pub counted: Pair<Amount>,
}

/// A summary of balances from one party's point of view.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Balances {
    /// What we may still pay (or withdraw).
    pub my_available: Amount,
    /// What the peer may still pay (or withdraw).
    pub peer_available: Amount,
    /// Everything we paid the peer (latest signed cumulative).
    pub paid_by_me: Amount,
    /// Everything the peer paid us (latest accepted cumulative).
    pub paid_by_peer: Amount,
    /// Our total deposit.
    pub my_deposit: Amount,
    /// The peer's total deposit.
    pub peer_deposit: Amount,
}

/// Our outgoing counter.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
struct Outgoing {
    cumulative: Amount,
    sequence: u64,
    latest: Option<SignedVoucher>,
    /// The counter and voucher before `latest`, to take `latest` back if the peer refuses it.
    previous: Option<(Amount, Option<SignedVoucher>)>,
}

/// One party's state of one channel.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Channel {
    params: ChannelParams,
    domain: Domain,
    id: ChannelId,
    role: Role,
    ledger: LedgerView,
    /// Withdrawals signed by both or proposed by us, not yet executed nor expired: their
    /// totals count as withdrawn so nobody spends what may leave.
    reserved: Pair<Option<Withdrawal>>,
    /// Our withdrawal proposal with our signature, awaiting the peer's. Boxed, like the
    /// settlement proposal: both are rare, and a node holds many idle channels (boxes
    /// serialize as their contents, so the stored form is unchanged).
    my_withdrawal: Option<Box<(Withdrawal, Signature)>>,
    /// Our settlement proposal with our signature, awaiting the peer's.
    my_settlement: Option<Box<(Settlement, Signature)>>,
    sent: Outgoing,
    received: Option<SignedVoucher>,
    /// The highest peer cumulative we already asked the ledger to count during a close.
    submit_requested: Amount,
    phase: Phase,
}

/// `plus - minus` for 256-bit sums of amounts, at least zero and at most `Amount::MAX`.
fn headroom(plus: U256, minus: U256) -> Amount {
    plus.saturating_sub(minus).try_into().unwrap_or(Amount::MAX)
}

impl Channel {
    /// A new channel for the party with address `me`, or `None` if `me` is not a party.
    /// Deposits arrive as ledger events (`Opened`, `Deposited`).
    pub fn new(params: ChannelParams, domain: Domain, me: Address) -> Option<Self> {
        let role = params.role_of(me)?;
        Some(Channel {
            id: params.id(&domain),
            params,
            domain,
            role,
            ledger: LedgerView::default(),
            reserved: Pair::default(),
            my_withdrawal: None,
            my_settlement: None,
            sent: Outgoing::default(),
            received: None,
            submit_requested: 0,
            phase: Phase::Open,
        })
    }

    /// A channel we proposed or accepted at `since` (the node's clock, in seconds), not yet
    /// open on the ledger: [`Phase::Proposed`] until a ledger event of the channel arrives.
    /// `None` if `me` is not a party.
    pub fn proposed(
        params: ChannelParams,
        domain: Domain,
        me: Address,
        since: u64,
    ) -> Option<Self> {
        let mut channel = Channel::new(params, domain, me)?;
        channel.phase = Phase::Proposed { since };
        Some(channel)
    }

    /// Marks an `Open` channel as [`Phase::Proposed`] since `since`: for a node upgrading a
    /// channel it stored as "not yet opened" before that phase existed. Other phases stay.
    pub fn mark_proposed(&mut self, since: u64) {
        if self.phase == Phase::Open {
            self.phase = Phase::Proposed { since };
        }
    }

    /// The channel id.
    pub fn id(&self) -> ChannelId {
        self.id
    }
    /// The channel's parameters.
    pub fn params(&self) -> &ChannelParams {
        &self.params
    }
    /// The ledger's domain.
    pub fn domain(&self) -> &Domain {
        &self.domain
    }
    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }
    /// Our address.
    pub fn me(&self) -> Address {
        self.params.party(self.role)
    }
    /// The peer's address.
    pub fn peer(&self) -> Address {
        self.params.party(self.role.peer())
    }
    /// The phase.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }
    /// The ledger's view as far as its events told us.
    pub fn ledger(&self) -> &LedgerView {
        &self.ledger
    }
    /// The latest voucher we signed.
    pub fn latest_sent(&self) -> Option<&SignedVoucher> {
        self.sent.latest.as_ref()
    }
    /// The latest voucher we accepted from the peer.
    pub fn latest_received(&self) -> Option<&SignedVoucher> {
        self.received.as_ref()
    }
    /// Our sequence counter (the last sequence we signed).
    pub fn sent_sequence(&self) -> u64 {
        self.sent.sequence
    }

    /// Everything `role` has paid, as this party must count it: the latest voucher (ours as
    /// signed, the peer's as accepted), never below the ledger's floor.
    pub fn paid_by(&self, role: Role) -> Amount {
        let own = if role == self.role {
            self.sent.cumulative
        } else {
            self.received.map_or(0, |v| v.voucher.cumulative)
        };
        own.max(self.ledger.floors.at(role))
    }

    /// What `role` has withdrawn or may withdraw with a certificate already signed.
    fn withdrawn_or_reserved(&self, role: Role) -> Amount {
        let reserved = self.reserved.get(role).map_or(0, |w| w.total_withdrawn);
        self.ledger.withdrawn.at(role).max(reserved)
    }

    /// The most `role` may have paid in total right now:
    /// `deposited - withdrawn + paid by the other`, exactly.
    fn pay_limit_wide(&self, role: Role) -> U256 {
        sum(self.ledger.deposited.at(role), self.paid_by(role.peer()))
            .saturating_sub(U256::from(self.withdrawn_or_reserved(role)))
    }

    /// [`pay_limit_wide`](Self::pay_limit_wide), capped at `Amount::MAX` (exact for
    /// comparisons with any cumulative).
    fn pay_limit(&self, role: Role) -> Amount {
        headroom(self.pay_limit_wide(role), U256::ZERO)
    }

    /// What `role` may still pay or withdraw.
    pub fn available(&self, role: Role) -> Amount {
        self.pay_limit(role).saturating_sub(self.paid_by(role))
    }

    /// Balances from our point of view.
    pub fn balances(&self) -> Balances {
        let (me, peer) = (self.role, self.role.peer());
        Balances {
            my_available: self.available(me),
            peer_available: self.available(peer),
            paid_by_me: self.paid_by(me),
            paid_by_peer: self.paid_by(peer),
            my_deposit: self.ledger.deposited.at(me),
            peer_deposit: self.ledger.deposited.at(peer),
        }
    }

    /// The payouts the settlement formula gives with what we know now: both paid counters as
    /// we count them, and the ledger's deposits and withdrawals.
    pub fn expected_payouts(&self) -> Option<Pair<Amount>> {
        let paid = Pair::new(
            self.paid_by(Role::A).max(self.ledger.counted.a),
            self.paid_by(Role::B).max(self.ledger.counted.b),
        );
        settlement_payouts(self.ledger.deposited, self.ledger.withdrawn, paid)
    }

    fn check_key(&self, key: &SigningKey) -> Result<(), CommandError> {
        if key.address() == self.me() {
            Ok(())
        } else {
            Err(CommandError::WrongKey {
                expected: self.me(),
                given: key.address(),
            })
        }
    }

    fn require_open(&self) -> Result<(), CommandError> {
        match self.phase {
            Phase::Open => Ok(()),
            other => Err(CommandError::NotOpen(other.name())),
        }
    }

    /// Pays the peer `amount` for the message whose memo is `memo`: signs the next voucher.
    ///
    /// The caller must persist the channel before sending the voucher (`docs/PROTOCOL.md`,
    /// durability).
    /// Refused beyond what we may still spend.
    pub fn pay(
        &mut self,
        key: &SigningKey,
        amount: Amount,
        memo: B256,
    ) -> Result<SignedVoucher, CommandError> {
        self.require_open()?;
        self.check_key(key)?;
        if amount == 0 {
            return Err(CommandError::ZeroAmount);
        }
        if sum(self.paid_by(self.role), amount) > self.pay_limit_wide(self.role) {
            let available = self.available(self.role);
            return Err(CommandError::InsufficientBalance {
                requested: amount,
                available,
            });
        }
        // Counting from our floor too: after a restore from an old snapshot the ledger's floor
        // may be above our own counter, and a voucher below it would pay nothing.
        let cumulative = self
            .paid_by(self.role)
            .checked_add(amount)
            .ok_or(CommandError::Overflow)?;
        let sequence = self
            .sent
            .sequence
            .checked_add(1)
            .ok_or(CommandError::Overflow)?;
        let voucher = Voucher {
            channel_id: self.id,
            payer: self.me(),
            cumulative,
            sequence,
            memo,
        };
        let signed = SignedVoucher {
            voucher,
            signature: voucher.sign(&self.domain, key),
        };
        let previous = Some((self.sent.cumulative, self.sent.latest));
        self.sent = Outgoing {
            cumulative,
            sequence,
            latest: Some(signed),
            previous,
        };
        Ok(signed)
    }

    /// Takes back our latest payment after the peer refused it (its handler failed, or it
    /// found the voucher invalid): the counter returns to where it was, so the next voucher
    /// does not pay for the refused one; the sequence stays used. Only the latest voucher can
    /// be taken back, which is why a node keeps one payment in flight per channel.
    ///
    /// An honest peer discards a voucher it refused; a dishonest one could still present it
    /// at a close, so a refused payment costs at most its own amount, as with any service
    /// that can take payment and then fail.
    pub fn cancel_payment(&mut self, voucher: &SignedVoucher) -> Result<(), CommandError> {
        match self.sent.previous {
            Some((cumulative, latest)) if self.sent.latest.as_ref() == Some(voucher) => {
                self.sent.cumulative = cumulative;
                self.sent.latest = latest;
                self.sent.previous = None;
                Ok(())
            }
            _ => Err(CommandError::NothingPending),
        }
    }

    /// Checks a voucher from the peer for the message with memo `memo` and, if it is valid,
    /// keeps it as the latest. Returns the amount of this payment (`cumulative` minus the
    /// previous one). The caller must persist the channel before answering the peer.
    pub fn handle_voucher(
        &mut self,
        signed: &SignedVoucher,
        memo: B256,
    ) -> Result<Amount, VoucherRejection> {
        self.accept_voucher(signed, Some(memo), 0)
    }

    /// [`handle_voucher`](Self::handle_voucher), accepting up to `credit` more than the
    /// peer's confirmed funds cover: for a payee that lets payments run ahead of a peer's
    /// deposit that the ledger has seen but not yet confirmed. The credit is at our risk: if
    /// the deposit never confirms, the ledger pays the peer's confirmed funds at most, and
    /// [`exposure`](Self::exposure) is what we could lose.
    pub fn handle_voucher_with_credit(
        &mut self,
        signed: &SignedVoucher,
        memo: B256,
        credit: Amount,
    ) -> Result<Amount, VoucherRejection> {
        self.accept_voucher(signed, Some(memo), credit)
    }

    /// How much of what the peer paid us its confirmed funds do not cover: what vouchers
    /// accepted on credit put at risk until the peer's deposit confirms (zero otherwise).
    pub fn exposure(&self) -> Amount {
        let peer = self.role.peer();
        self.paid_by(peer).saturating_sub(self.pay_limit(peer))
    }

    /// Accepts a voucher the peer re-sends during a counter sync (a payment it made that we
    /// lost, e.g. after a restore): the same checks as [`handle_voucher`](Self::handle_voucher)
    /// but no memo, since the message is long gone. The same voucher again is a no-op.
    pub fn handle_resent_voucher(
        &mut self,
        signed: &SignedVoucher,
    ) -> Result<Amount, VoucherRejection> {
        if self.received.as_ref() == Some(signed) {
            return Ok(0);
        }
        self.accept_voucher(signed, None, 0)
    }

    fn accept_voucher(
        &mut self,
        signed: &SignedVoucher,
        memo: Option<B256>,
        credit: Amount,
    ) -> Result<Amount, VoucherRejection> {
        if !matches!(self.phase, Phase::Open | Phase::Proposed { .. }) {
            return Err(VoucherRejection::NotOpen(self.phase.name()));
        }
        let v = &signed.voucher;
        if v.channel_id != self.id {
            return Err(VoucherRejection::WrongChannel {
                expected: self.id,
                got: v.channel_id,
            });
        }
        if v.payer != self.peer() {
            return Err(VoucherRejection::WrongPayer {
                expected: self.peer(),
                got: v.payer,
            });
        }
        // Counted as paid already: the latest voucher, or the ledger's floor if higher.
        let last_cumulative = self.paid_by(self.role.peer());
        let last_sequence = self.received.map_or(0, |r| r.voucher.sequence);
        if v.sequence <= last_sequence || v.cumulative < last_cumulative {
            return Err(VoucherRejection::NotMonotonic {
                sequence: v.sequence,
                last_sequence,
                cumulative: v.cumulative,
                last_cumulative,
            });
        }
        if let Some(expected) = memo
            && v.memo != expected
        {
            return Err(VoucherRejection::MemoMismatch {
                expected,
                got: v.memo,
            });
        }
        let limit = self.pay_limit(self.role.peer()).saturating_add(credit);
        if v.cumulative > limit {
            return Err(VoucherRejection::OverBalance {
                cumulative: v.cumulative,
                limit,
            });
        }
        // The one expensive check goes last.
        let signer = v
            .recover(&self.domain, &signed.signature)
            .map_err(VoucherRejection::BadSignature)?;
        if signer != v.payer {
            return Err(VoucherRejection::ForeignSigner(signer));
        }
        // What this voucher adds to what we already counted (the floor included).
        let amount = v.cumulative.saturating_sub(self.paid_by(self.role.peer()));
        self.received = Some(*signed);
        Ok(amount)
    }

    /// Recovers our outgoing counter from the peer's copy of our latest voucher (sent by the
    /// peer on every reconnect). After checking our own signature on it, we adopt its
    /// sequence and cumulative where they are above ours: we signed it, so the peer can count
    /// it whatever we remember. Returns whether our counter moved.
    pub fn handle_counter_sync(&mut self, ours: &SignedVoucher) -> Result<bool, SyncRejection> {
        let v = &ours.voucher;
        if v.channel_id != self.id || v.payer != self.me() {
            return Err(SyncRejection::NotOurs);
        }
        if !ours.is_signed_by_payer(&self.domain) {
            return Err(SyncRejection::BadSignature);
        }
        let mut moved = false;
        if v.sequence > self.sent.sequence {
            self.sent.sequence = v.sequence;
            moved = true;
        }
        if v.cumulative > self.sent.cumulative {
            self.sent.cumulative = v.cumulative;
            self.sent.latest = Some(*ours);
            self.sent.previous = None;
            moved = true;
        }
        Ok(moved)
    }

    /// Starts a unilateral close: payments stop and the ledger gets the peer's latest
    /// voucher. Allowed while open or settling (the peer did not co-sign).
    pub fn start_close(&mut self) -> Result<CloseInputs, CommandError> {
        if !matches!(self.phase, Phase::Open | Phase::Settling { .. }) {
            return Err(CommandError::NotOpen(self.phase.name()));
        }
        self.phase = Phase::CloseRequested;
        if let Some(v) = &self.received {
            self.submit_requested = self.submit_requested.max(v.voucher.cumulative);
        }
        Ok(CloseInputs {
            params: self.params,
            voucher: self.received,
        })
    }

    /// Whether the challenge period is over at ledger time `now`, so settle may be called.
    pub fn settle_due(&self, now: u64) -> bool {
        matches!(self.phase, Phase::Closing { deadline, .. } if now >= deadline)
    }

    /// The withdrawal certificates reserved per party (co-signed or proposed by us, neither
    /// executed nor expired as far as we know).
    pub fn reservations(&self) -> Pair<Option<Withdrawal>> {
        self.reserved
    }

    /// The earliest expiry (ledger time) of a withdrawal certificate still reserved, if any:
    /// when [`handle_time`](Self::handle_time) has something to release.
    pub fn reservation_expiry(&self) -> Option<u64> {
        [self.reserved.a, self.reserved.b]
            .into_iter()
            .flatten()
            .map(|w| w.expiry)
            .min()
    }

    /// Drops our withdrawal proposal `withdrawal` after the peer refused to co-sign it: what
    /// it reserved can be spent again at once. Safe even if the peer kept our signature:
    /// executing the certificate could only pay us, and the ledger's `Withdrawn` event would
    /// count it. Anything but our pending proposal is refused and changes nothing.
    pub fn cancel_withdrawal(&mut self, withdrawal: &Withdrawal) -> Result<(), CommandError> {
        match self.my_withdrawal.as_deref() {
            Some((pending, _)) if pending == withdrawal => {
                self.my_withdrawal = None;
                *self.reserved.get_mut(self.role) = None;
                Ok(())
            }
            _ => Err(CommandError::NothingPending),
        }
    }

    /// Releases reservations of withdrawal certificates that expired unexecuted, at ledger
    /// time `now`. Call it only with a time the ledger has confirmed, since a certificate
    /// executed just before its expiry must not be released.
    pub fn handle_time(&mut self, now: u64) {
        for role in [Role::A, Role::B] {
            let slot = self.reserved.get_mut(role);
            if slot.is_some_and(|w| w.expiry <= now) {
                *slot = None;
                if role == self.role {
                    self.my_withdrawal = None;
                }
            }
        }
    }

    /// Applies a ledger event for this channel (others are ignored). Events carry totals, so
    /// a replayed event changes nothing. Returns what we must ask of the ledger, if anything:
    /// during a close, our copy of the peer's latest voucher when the ledger counts less.
    pub fn handle_ledger_event(&mut self, event: &LedgerEvent) -> Option<LedgerAction> {
        if event.channel_id() != Some(self.id) {
            return None;
        }
        if let Phase::Proposed { .. } = self.phase {
            // Any event of the channel means the ledger has it open.
            self.phase = Phase::Open;
        }
        match *event {
            LedgerEvent::Opened { deposit, .. } => {
                self.ledger.deposited.a = self.ledger.deposited.a.max(deposit);
            }
            LedgerEvent::Deposited { party, total, .. } => {
                let d = self.ledger.deposited.get_mut(party);
                *d = (*d).max(total);
            }
            LedgerEvent::Withdrawn {
                party,
                total_withdrawn,
                paid_by_a,
                paid_by_b,
                ..
            } => {
                let w = self.ledger.withdrawn.get_mut(party);
                *w = (*w).max(total_withdrawn);
                self.ledger.floors.a = self.ledger.floors.a.max(paid_by_a);
                self.ledger.floors.b = self.ledger.floors.b.max(paid_by_b);
                if self
                    .reserved
                    .get(party)
                    .is_some_and(|r| r.total_withdrawn <= total_withdrawn)
                {
                    *self.reserved.get_mut(party) = None;
                    if party == self.role {
                        self.my_withdrawal = None;
                    }
                }
            }
            LedgerEvent::CloseStarted { by, deadline, .. } => {
                if !matches!(self.phase, Phase::Closed { .. }) {
                    self.phase = Phase::Closing {
                        deadline,
                        started_by: by,
                    };
                }
            }
            LedgerEvent::VoucherSubmitted { payer, counted, .. } => {
                let c = self.ledger.counted.get_mut(payer);
                *c = (*c).max(counted);
            }
            LedgerEvent::Settled { payouts, .. } => {
                self.phase = Phase::Closed { payouts };
                return None;
            }
            // Where a payout went is the node's business, not the channel's balances.
            LedgerEvent::PayoutDeferred { .. } | LedgerEvent::Claimed { .. } => return None,
        }
        self.voucher_to_submit()
    }

    fn voucher_to_submit(&mut self) -> Option<LedgerAction> {
        if !matches!(self.phase, Phase::Closing { .. }) {
            return None;
        }
        let best = self.received?;
        let cumulative = best.voucher.cumulative;
        let counted = self
            .ledger
            .counted
            .at(self.role.peer())
            .max(self.ledger.floors.at(self.role.peer()));
        if cumulative > counted && cumulative > self.submit_requested {
            self.submit_requested = cumulative;
            Some(LedgerAction::SubmitVoucher(best))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests;
