//! The bookkeeping every case shares: accounts and channels with their expected state, and
//! operations that check, after each call, everything the suite can observe.
//!
//! A [`World`] keeps what each account must hold and what the ledger's record of each channel
//! must be. The cases state the expected effect of each operation by hand (amounts paid out,
//! counters counted, payouts); the helpers compare it with the receipt and then compare the
//! whole world with the ledger: balances, channel records, conservation of the asset, and
//! event cursors (consecutive from 0, so a refused operation emitted nothing).

use std::{collections::BTreeMap, future::Future, time::Duration};

use futures::StreamExt;
use paychan_core::{
    Address, Amount, B256, ChannelId, ChannelParams, Domain, Pair, Role, SignedVoucher, SigningKey,
    U256, Voucher, Withdrawal,
    adjudicator::{ChannelRecord, ChannelStatus, LedgerEvent, Rule},
    channel::CoSigned,
    eip712::{Eip712, Settlement},
    keccak256,
};

use super::Harness;
use crate::{
    EventRecord, EventStream, LedgerClose, LedgerError, LedgerEvents, LedgerFunding, LedgerQuery,
    LedgerWithdraw, Receipt,
};

/// The challenge period of the suite's channels, in seconds.
pub(crate) const CHALLENGE: u64 = 3_600;
/// How long a withdrawal certificate meant to be executed stays valid, in seconds.
pub(crate) const DAY: u64 = 86_400;
/// What most cases give each party.
pub(crate) const FUNDS: Amount = 1_000;
/// How long to wait for an event that must arrive.
const EVENT_TIMEOUT: Duration = Duration::from_secs(5);

/// One account: its key and a ledger handle acting for it.
pub(crate) struct Party<A> {
    pub(crate) name: &'static str,
    pub(crate) key: SigningKey,
    pub(crate) ledger: A,
}

impl<A> Party<A> {
    pub(crate) fn addr(&self) -> Address {
        self.key.address()
    }
}

/// The error a refused operation must return, exactly.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Refusal {
    /// Refused by the ledger rules under this rule: `Rejected(rule)`, on every backend.
    Rule(Rule),
    /// The acting account holds too little.
    Funds { needed: Amount, available: Amount },
}

impl From<Rule> for Refusal {
    fn from(rule: Rule) -> Self {
        Refusal::Rule(rule)
    }
}

/// The key of account `name` in case `case`: distinct per case and per name.
pub(crate) fn key(case: &str, name: &str) -> SigningKey {
    let entropy = keccak256(format!("paychan-ledger-conformance/{case}/{name}"));
    match SigningKey::from_entropy(entropy.as_slice()) {
        Ok(key) => key,
        Err(e) => panic!("{case}: cannot derive the key of {name}: {e}"),
    }
}

/// What one case knows and expects of its ledger.
pub(crate) struct World<'h, H: Harness> {
    h: &'h H,
    pub(crate) case: &'static str,
    pub(crate) domain: Domain,
    pub(crate) asset: Address,
    observer: H::Account,
    names: BTreeMap<Address, &'static str>,
    /// What each account must hold.
    balances: BTreeMap<Address, Amount>,
    /// What the ledger's record of each channel must be (`None`: it must not exist).
    channels: BTreeMap<ChannelId, Option<ChannelRecord>>,
    /// Everything the faucet gave the case's accounts.
    funded: U256,
    /// The cursor the next event must have.
    next_cursor: u64,
    /// The ledger time of the last event.
    last_time: u64,
    /// The events of the last successful operation.
    last_events: Vec<LedgerEvent>,
}

impl<'h, H: Harness> World<'h, H> {
    /// A world for `case` on the ledger of `h`, which must be new and empty.
    pub(crate) async fn new(h: &'h H, case: &'static str) -> Self {
        let observer = h.account(key(case, "observer")).await;
        let domain = match observer.domain().await {
            Ok(d) => d,
            Err(e) => panic!("{case}: cannot read the ledger's domain: {e}"),
        };
        World {
            h,
            case,
            domain,
            asset: h.asset(),
            observer,
            names: BTreeMap::new(),
            balances: BTreeMap::new(),
            channels: BTreeMap::new(),
            funded: U256::ZERO,
            next_cursor: 0,
            last_time: 0,
            last_events: vec![],
        }
    }

    /// A new account holding nothing.
    pub(crate) async fn party(&mut self, name: &'static str) -> Party<H::Account> {
        let key = key(self.case, name);
        let ledger = self.h.account(key.clone()).await;
        let address = key.address();
        assert_eq!(
            ledger.account(),
            address,
            "{}: the handle of {name} acts for another account",
            self.case
        );
        assert!(
            self.names.insert(address, name).is_none(),
            "{}: account {name} created twice",
            self.case
        );
        self.balances.insert(address, 0);
        self.check(&format!("creating account {name}")).await;
        Party { name, key, ledger }
    }

    /// Gives `p` `amount` of the asset through the faucet.
    pub(crate) async fn fund(&mut self, p: &Party<H::Account>, amount: Amount) {
        self.h.fund(p.addr(), amount).await;
        self.funded += U256::from(amount);
        *self.balance_mut(p.addr()) += amount;
        self.check(&format!("funding {} with {amount}", p.name))
            .await;
    }

    /// Moves the ledger's time forward by at least `secs`.
    pub(crate) async fn advance(&self, secs: u64) {
        let before = self.now().await;
        self.h.advance(secs).await;
        let after = self.now().await;
        assert!(
            after >= before + secs,
            "{}: advancing by {secs} s moved the ledger's time from {before} to {after}",
            self.case
        );
    }

    /// Moves the ledger's time to `deadline` or later.
    pub(crate) async fn advance_to(&self, deadline: u64) {
        let now = self.now().await;
        if now < deadline {
            self.advance(deadline - now).await;
        }
        let now = self.now().await;
        assert!(
            now >= deadline,
            "{}: time {now} is before {deadline}",
            self.case
        );
    }

    /// The ledger's time.
    pub(crate) async fn now(&self) -> u64 {
        match self.observer.now().await {
            Ok(t) => t,
            Err(e) => panic!("{}: cannot read the ledger's time: {e}", self.case),
        }
    }

    /// Parameters of a channel between `a` and `b` in the suite's asset.
    pub(crate) fn params<A>(&self, a: &Party<A>, b: &Party<A>, nonce: u8) -> ChannelParams {
        ChannelParams {
            party_a: a.addr(),
            party_b: b.addr(),
            token: self.asset,
            challenge_period: CHALLENGE,
            nonce: B256::repeat_byte(nonce),
        }
    }

    /// The id of `params` on this ledger.
    pub(crate) fn id(&self, params: &ChannelParams) -> ChannelId {
        params.id(&self.domain)
    }

    /// `payer`'s voucher for channel `id`, signed under the ledger's domain.
    pub(crate) fn voucher(
        &self,
        payer: &SigningKey,
        id: ChannelId,
        cumulative: Amount,
        sequence: u64,
    ) -> SignedVoucher {
        sign_voucher(
            &self.domain,
            payer,
            Voucher {
                channel_id: id,
                payer: payer.address(),
                cumulative,
                sequence,
                memo: B256::ZERO,
            },
        )
    }

    /// `body` signed by `a` (as A) and `b` (as B) under the ledger's domain.
    pub(crate) fn cosign<T: Eip712 + Copy>(
        &self,
        body: T,
        a: &SigningKey,
        b: &SigningKey,
    ) -> CoSigned<T> {
        cosign(&self.domain, body, a, b)
    }

    /// A settlement of channel `id` with the paid counters `(paid_by_a, paid_by_b)`.
    pub(crate) fn settlement(&self, id: ChannelId, paid: (Amount, Amount)) -> Settlement {
        Settlement {
            channel_id: id,
            paid_by_a: paid.0,
            paid_by_b: paid.1,
        }
    }

    /// A withdrawal certificate body valid for a day from ledger time now.
    pub(crate) async fn withdrawal(
        &self,
        id: ChannelId,
        party: Address,
        total_withdrawn: Amount,
        paid: (Amount, Amount),
    ) -> Withdrawal {
        Withdrawal {
            channel_id: id,
            party,
            total_withdrawn,
            paid_by_a: paid.0,
            paid_by_b: paid.1,
            expiry: self.now().await + DAY,
        }
    }

    /// The expected record of channel `id`.
    pub(crate) fn record(&self, id: ChannelId) -> &ChannelRecord {
        match self.channels.get(&id) {
            Some(Some(r)) => r,
            _ => panic!("{}: channel {id} is not open in the case", self.case),
        }
    }

    /// The events of the last successful operation.
    pub(crate) fn last_events(&self) -> &[LedgerEvent] {
        &self.last_events
    }

    /// The cursor the next event will have.
    pub(crate) fn next_cursor(&self) -> u64 {
        self.next_cursor
    }

    /// Watches an id that must never get a record.
    pub(crate) async fn watch_unused(&mut self, id: ChannelId) {
        self.channels.insert(id, None);
        self.check("watching an unused id").await;
    }

    fn name(&self, address: Address) -> String {
        self.names
            .get(&address)
            .map_or_else(|| address.to_string(), |n| (*n).to_string())
    }

    fn balance_mut(&mut self, address: Address) -> &mut Amount {
        let case = self.case;
        match self.balances.get_mut(&address) {
            Some(b) => b,
            None => panic!("{case}: {address} is not an account of the case"),
        }
    }

    /// Compares everything observable with what is expected.
    pub(crate) async fn check(&self, after: &str) {
        let case = self.case;
        let mut total = U256::ZERO;
        for (&address, &expected) in &self.balances {
            let got = match self.observer.balance(address, self.asset).await {
                Ok(b) => b,
                Err(e) => panic!("{case}: after {after}: cannot read a balance: {e}"),
            };
            assert_eq!(
                got,
                expected,
                "{case}: after {after}: balance of {} is {got}, expected {expected}",
                self.name(address)
            );
            total += U256::from(got);
        }
        for (id, expected) in &self.channels {
            let got = match self.observer.channel(*id).await {
                Ok(r) => r,
                Err(e) => panic!("{case}: after {after}: cannot read channel {id}: {e}"),
            };
            assert_eq!(
                &got, expected,
                "{case}: after {after}: record of channel {id} differs from the expected one"
            );
            if let Some(r) = got {
                total += U256::from(r.held());
            }
        }
        assert_eq!(
            total, self.funded,
            "{case}: after {after}: accounts and channels hold {total}, but {} was funded \
             (money created or destroyed)",
            self.funded
        );
    }

    /// Checks a receipt's events (cursors consecutive from the last one, times not going
    /// back) against `expected`.
    fn receipt(&mut self, what: &str, receipt: &Receipt, expected: &[LedgerEvent]) {
        let case = self.case;
        let events: Vec<LedgerEvent> = receipt.events.iter().map(|r| r.event).collect();
        assert_eq!(
            events, expected,
            "{case}: {what}: the receipt's events differ from the expected ones"
        );
        for record in &receipt.events {
            assert_eq!(
                record.cursor, self.next_cursor,
                "{case}: {what}: event cursor {} where {} was next (an event was lost, \
                 repeated, or emitted by a refused operation)",
                record.cursor, self.next_cursor
            );
            assert!(
                record.time >= self.last_time,
                "{case}: {what}: event time {} goes back from {}",
                record.time,
                self.last_time
            );
            self.next_cursor += 1;
            self.last_time = record.time;
        }
        self.last_events = events;
    }

    fn ok(&self, what: &str, result: Result<Receipt, LedgerError>) -> Receipt {
        match result {
            Ok(r) => r,
            Err(e) => panic!("{}: {what} must succeed, but failed: {e:?}", self.case),
        }
    }

    fn expected_mut(&mut self, id: ChannelId) -> &mut ChannelRecord {
        let case = self.case;
        match self.channels.get_mut(&id) {
            Some(Some(r)) => r,
            _ => panic!("{case}: channel {id} is not open in the case"),
        }
    }

    /// `by` opens `params` with `amount` for A: the amount leaves `by`.
    pub(crate) async fn open(
        &mut self,
        by: &Party<H::Account>,
        params: ChannelParams,
        amount: Amount,
    ) -> ChannelId {
        let id = self.id(&params);
        let what = format!("{} opens {id} with {amount}", by.name);
        assert!(
            !matches!(self.channels.get(&id), Some(Some(_))),
            "{}: {what}: the case opens an id twice",
            self.case
        );
        let result = by.ledger.open(&params, amount).await;
        let receipt = self.ok(&what, result);
        self.receipt(
            &what,
            &receipt,
            &[LedgerEvent::Opened {
                channel_id: id,
                params,
                deposit: amount,
            }],
        );
        *self.balance_mut(by.addr()) -= amount;
        self.channels.insert(
            id,
            Some(ChannelRecord {
                params,
                deposited: Pair::new(amount, 0),
                withdrawn: Pair::default(),
                floors: Pair::default(),
                status: ChannelStatus::Open,
            }),
        );
        self.check(&what).await;
        id
    }

    /// `by` deposits `amount` for `party`: the amount leaves `by`.
    pub(crate) async fn deposit(
        &mut self,
        by: &Party<H::Account>,
        id: ChannelId,
        party: Role,
        amount: Amount,
    ) {
        let what = format!("{} deposits {amount} for {party}", by.name);
        let total = self.record(id).deposited.at(party) + amount;
        let result = by.ledger.deposit(id, party, amount).await;
        let receipt = self.ok(&what, result);
        self.receipt(
            &what,
            &receipt,
            &[LedgerEvent::Deposited {
                channel_id: id,
                party,
                amount,
                total,
            }],
        );
        *self.balance_mut(by.addr()) -= amount;
        *self.expected_mut(id).deposited.get_mut(party) = total;
        self.check(&what).await;
    }

    /// `by` submits a withdrawal certificate, which must pay its party `amount`.
    pub(crate) async fn withdraw(
        &mut self,
        by: &Party<H::Account>,
        cert: &CoSigned<Withdrawal>,
        amount: Amount,
    ) {
        let w = cert.body;
        let what = format!(
            "{} submits the withdrawal of {} to a total of {}",
            by.name,
            self.name(w.party),
            w.total_withdrawn
        );
        let rec = self.record(w.channel_id).clone();
        let Some(party) = rec.params.role_of(w.party) else {
            panic!("{}: {what}: not a party", self.case)
        };
        assert_eq!(
            w.total_withdrawn - rec.withdrawn.at(party),
            amount,
            "{}: {what}: the case's expectation is inconsistent",
            self.case
        );
        let floors = Pair::new(rec.floors.a.max(w.paid_by_a), rec.floors.b.max(w.paid_by_b));
        let result = by.ledger.withdraw(cert).await;
        let receipt = self.ok(&what, result);
        self.receipt(
            &what,
            &receipt,
            &[LedgerEvent::Withdrawn {
                channel_id: w.channel_id,
                party,
                amount,
                total_withdrawn: w.total_withdrawn,
                paid_by_a: floors.a,
                paid_by_b: floors.b,
            }],
        );
        *self.balance_mut(w.party) += amount;
        let r = self.expected_mut(w.channel_id);
        *r.withdrawn.get_mut(party) = w.total_withdrawn;
        r.floors = floors;
        self.check(&what).await;
    }

    /// `by` starts a close of `id`, presenting `voucher`; the ledger must then count
    /// `counted`. Returns the deadline, checked against the ledger's time.
    pub(crate) async fn start_close(
        &mut self,
        by: &Party<H::Account>,
        id: ChannelId,
        voucher: Option<&SignedVoucher>,
        counted: Pair<Amount>,
    ) -> u64 {
        let case = self.case;
        let what = format!(
            "{} starts closing {id}{}",
            by.name,
            if voucher.is_some() {
                " with a voucher"
            } else {
                ""
            }
        );
        let rec = self.record(id).clone();
        let Some(role) = rec.params.role_of(by.addr()) else {
            panic!("{case}: {what}: not a party")
        };
        let before = self.now().await;
        let result = by.ledger.start_close(id, voucher).await;
        let receipt = self.ok(&what, result);
        let after = self.now().await;
        let deadline = match receipt.events.first().map(|r| r.event) {
            Some(LedgerEvent::CloseStarted { deadline, .. }) => deadline,
            other => panic!("{case}: {what}: first event is {other:?}, not CloseStarted"),
        };
        let period = rec.params.challenge_period;
        assert!(
            before + period <= deadline && deadline <= after + period,
            "{case}: {what}: deadline {deadline} is not the ledger's time ({before}..={after}) \
             plus the challenge period {period}"
        );
        let mut expected = vec![LedgerEvent::CloseStarted {
            channel_id: id,
            by: role,
            deadline,
        }];
        if let Some(v) = voucher {
            let Some(payer) = rec.params.role_of(v.voucher.payer) else {
                panic!("{case}: {what}: the voucher's payer is not a party")
            };
            expected.push(LedgerEvent::VoucherSubmitted {
                channel_id: id,
                payer,
                cumulative: v.voucher.cumulative,
                counted: counted.at(payer),
            });
        }
        self.receipt(&what, &receipt, &expected);
        self.expected_mut(id).status = ChannelStatus::Closing { deadline, counted };
        self.check(&what).await;
        deadline
    }

    /// The expected deadline and counters of a closing channel.
    pub(crate) fn closing(&self, id: ChannelId) -> (u64, Pair<Amount>) {
        match self.record(id).status {
            ChannelStatus::Closing { deadline, counted } => (deadline, counted),
            other => panic!("{}: channel {id} is {other:?}, not closing", self.case),
        }
    }

    /// `by` submits `voucher`; the ledger must then count `counted` for its payer.
    pub(crate) async fn submit(
        &mut self,
        by: &Party<H::Account>,
        voucher: &SignedVoucher,
        counted: Amount,
    ) {
        let case = self.case;
        let v = voucher.voucher;
        let what = format!(
            "{} submits {}'s voucher of {}",
            by.name,
            self.name(v.payer),
            v.cumulative
        );
        let (deadline, mut all) = self.closing(v.channel_id);
        let Some(payer) = self.record(v.channel_id).params.role_of(v.payer) else {
            panic!("{case}: {what}: the payer is not a party")
        };
        let result = by.ledger.submit_voucher(voucher).await;
        let receipt = self.ok(&what, result);
        self.receipt(
            &what,
            &receipt,
            &[LedgerEvent::VoucherSubmitted {
                channel_id: v.channel_id,
                payer,
                cumulative: v.cumulative,
                counted,
            }],
        );
        *all.get_mut(payer) = counted;
        self.expected_mut(v.channel_id).status = ChannelStatus::Closing {
            deadline,
            counted: all,
        };
        self.check(&what).await;
    }

    /// `by` submits a voucher that is not above what is counted: the ledger may accept it
    /// (counting nothing new) or refuse it, but what it counts must not change.
    pub(crate) async fn submit_stale(&mut self, by: &Party<H::Account>, voucher: &SignedVoucher) {
        let case = self.case;
        let v = voucher.voucher;
        let what = format!(
            "{} submits {}'s stale voucher of {}",
            by.name,
            self.name(v.payer),
            v.cumulative
        );
        let (_, counted) = self.closing(v.channel_id);
        let Some(payer) = self.record(v.channel_id).params.role_of(v.payer) else {
            panic!("{case}: {what}: the payer is not a party")
        };
        assert!(
            v.cumulative <= counted.at(payer),
            "{case}: {what}: the voucher is not stale"
        );
        match by.ledger.submit_voucher(voucher).await {
            Ok(receipt) => self.receipt(
                &what,
                &receipt,
                &[LedgerEvent::VoucherSubmitted {
                    channel_id: v.channel_id,
                    payer,
                    cumulative: v.cumulative,
                    counted: counted.at(payer),
                }],
            ),
            Err(e) => assert!(e.is_final(), "{case}: {what}: transient error {e:?}"),
        }
        self.check(&what).await;
    }

    fn settled(&mut self, what: &str, receipt: &Receipt, id: ChannelId, payouts: Pair<Amount>) {
        self.receipt(
            what,
            receipt,
            &[LedgerEvent::Settled {
                channel_id: id,
                payouts,
            }],
        );
        let params = self.record(id).params;
        *self.balance_mut(params.party_a) += payouts.a;
        *self.balance_mut(params.party_b) += payouts.b;
        self.expected_mut(id).status = ChannelStatus::Settled { payouts };
    }

    /// `by` settles `id` after its deadline; the parties must receive `payouts`.
    pub(crate) async fn settle(
        &mut self,
        by: &Party<H::Account>,
        id: ChannelId,
        payouts: Pair<Amount>,
    ) {
        let what = format!("{} settles {id}", by.name);
        let result = by.ledger.settle(id).await;
        let receipt = self.ok(&what, result);
        self.settled(&what, &receipt, id, payouts);
        self.check(&what).await;
        assert_eq!(
            self.record(id).held(),
            0,
            "{}: {what}: funds left",
            self.case
        );
    }

    /// `by` submits a co-signed settlement; the parties must receive `payouts` at once.
    pub(crate) async fn close_cooperative(
        &mut self,
        by: &Party<H::Account>,
        cert: &CoSigned<Settlement>,
        payouts: Pair<Amount>,
    ) {
        let id = cert.body.channel_id;
        let what = format!("{} closes {id} cooperatively", by.name);
        let result = by.ledger.close_cooperative(cert).await;
        let receipt = self.ok(&what, result);
        self.settled(&what, &receipt, id, payouts);
        self.check(&what).await;
        assert_eq!(
            self.record(id).held(),
            0,
            "{}: {what}: funds left",
            self.case
        );
    }

    /// Runs an operation that must be refused with exactly `expect` (a [`Rule`] or
    /// [`Refusal::Funds`]), and checks that it changed nothing. Returns the error.
    pub(crate) async fn refused<T: std::fmt::Debug>(
        &mut self,
        what: &str,
        expect: impl Into<Refusal>,
        op: impl Future<Output = Result<T, LedgerError>>,
    ) -> LedgerError {
        let expect = expect.into();
        let case = self.case;
        self.check(&format!("(before) {what}")).await;
        let e = match op.await {
            Ok(r) => panic!("{case}: {what} must be refused, but the ledger accepted it: {r:?}"),
            Err(e) => e,
        };
        assert!(
            e.is_final(),
            "{case}: {what}: refused with a transient error {e:?}, not a final one"
        );
        let expected = match expect {
            Refusal::Rule(rule) => LedgerError::Rejected(rule),
            Refusal::Funds { needed, available } => {
                LedgerError::InsufficientFunds { needed, available }
            }
        };
        assert_eq!(
            e, expected,
            "{case}: {what}: refused with {e:?} ({e}), expected {expected:?} ({expected})"
        );
        self.check(&format!("refused {what} ({e})")).await;
        e
    }

    /// The next event of `stream`, which must come within a few seconds.
    pub(crate) async fn next_event(&self, stream: &mut EventStream, what: &str) -> EventRecord {
        next_event(self.case, stream, what).await
    }

    /// An event stream from `from`.
    pub(crate) async fn events(&self, from: u64) -> EventStream {
        match self.observer.events(from).await {
            Ok(s) => s,
            Err(e) => panic!("{}: cannot open an event stream: {e:?}", self.case),
        }
    }
}

/// The next event of `stream`, which must come within a few seconds.
pub(crate) async fn next_event(case: &str, stream: &mut EventStream, what: &str) -> EventRecord {
    match tokio::time::timeout(EVENT_TIMEOUT, stream.next()).await {
        Ok(Some(Ok(record))) => record,
        Ok(Some(Err(e))) => panic!("{case}: {what}: the event stream failed: {e:?}"),
        Ok(None) => panic!("{case}: {what}: the event stream ended"),
        Err(_) => panic!("{case}: {what}: no event within {EVENT_TIMEOUT:?}"),
    }
}

/// `voucher` signed by `key` under `domain`.
pub(crate) fn sign_voucher(domain: &Domain, key: &SigningKey, voucher: Voucher) -> SignedVoucher {
    SignedVoucher {
        signature: voucher.sign(domain, key),
        voucher,
    }
}

/// `body` signed by `a` and `b` under `domain`.
pub(crate) fn cosign<T: Eip712 + Copy>(
    domain: &Domain,
    body: T,
    a: &SigningKey,
    b: &SigningKey,
) -> CoSigned<T> {
    CoSigned {
        body,
        sig_a: body.sign(domain, a),
        sig_b: body.sign(domain, b),
    }
}
