//! The embedded ledger: the core's ledger rules with accounts, a journal and a clock.
//!
//! Accounts hold the native asset (address zero) and named tokens ([`token`]), so the
//! Ethereum backend's ERC-20 channels map onto it. Every state-changing operation is a
//! [`SignedRequest`]: the ledger checks the account's signature and nonce, appends the request
//! to a write-ahead journal, and only then applies it, all-or-nothing (the core's [`Bank`]).
//! The rules are deterministic and each journal line records the time it was applied at, so
//! replaying the journal on start rebuilds exactly the same state — refused requests are
//! refused again, their nonces used up again. A restart, or a `kill -9`, therefore loses no
//! confirmed operation; a torn last line (a crash mid-write) is cut off, since it was never
//! confirmed. If writing the journal fails, nothing is applied and the ledger stops serving
//! (`Unavailable`) until it is restarted.
//!
//! Writing the journal happens under the state lock with a blocking `write` (and `fsync` when
//! `sync` is on): a development ledger trades concurrency for simplicity here.

use std::{
    collections::HashMap,
    fs::{File, OpenOptions},
    io::{BufRead, BufReader, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
    sync::{Arc, Mutex, MutexGuard},
    time::Instant,
};

use async_trait::async_trait;
use paychan_core::{
    Address, Amount, ChannelId, ChannelParams, Domain, Role, Settlement, SignedVoucher, SigningKey,
    Withdrawal,
    adjudicator::{ChannelRecord, LedgerEvent, Rule, embedded_domain},
    bank::{Bank, BankError},
    channel::CoSigned,
    keccak256,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::{
    api::{
        EventRecord, EventStream, LedgerClose, LedgerError, LedgerEvents, LedgerFunding,
        LedgerQuery, LedgerWithdraw, Operation, Receipt,
    },
    clock::Clock,
    metrics::LedgerMetrics,
    request::SignedRequest,
};

/// The journal's file name inside the data directory.
pub const JOURNAL_FILE: &str = "ledger.journal";

/// The address of the token called `name` on the embedded ledger: the last 20 bytes of
/// `keccak256("paychan-token:" + name)`.
pub fn token(name: &str) -> Address {
    let hash = keccak256(format!("paychan-token:{name}"));
    Address::from_slice(hash.get(12..).unwrap_or_default())
}

/// One journal line: an input to the ledger, recorded before it is applied.
#[derive(Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)] // one line at a time, never stored
#[serde(rename_all = "camelCase")]
enum Entry {
    /// An authenticated request (applied, or refused by the rules) at ledger time `time`.
    Op {
        time: u64,
        from: Address,
        nonce: u64,
        op: Operation,
    },
    /// Funds created by the faucet.
    Faucet {
        time: u64,
        owner: Address,
        asset: Address,
        amount: Amount,
    },
}

struct Journal {
    file: File,
    sync: bool,
}

impl Journal {
    fn append(&mut self, entry: &Entry) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        if self.sync {
            self.file.sync_data()?;
        }
        Ok(())
    }
}

struct State {
    bank: Bank,
    events: Vec<EventRecord>,
    nonces: HashMap<Address, u64>,
    last_time: u64,
    journal: Option<Journal>,
    /// Why the ledger stopped serving, if it did.
    failed: Option<String>,
}

impl State {
    /// Applies `op` for `from` at `time`: all or nothing.
    fn apply(
        &mut self,
        time: u64,
        from: Address,
        op: &Operation,
    ) -> Result<Vec<LedgerEvent>, BankError> {
        let bank = &mut self.bank;
        match op {
            Operation::Open { params, amount } => bank.open(from, *params, *amount),
            Operation::Deposit {
                channel_id,
                party,
                amount,
            } => bank.deposit(from, channel_id, *party, *amount),
            Operation::Withdraw { certificate } => bank.withdraw(certificate, time),
            Operation::CloseCooperative { settlement } => bank.close_cooperative(settlement),
            Operation::StartClose {
                channel_id,
                voucher,
            } => bank.start_close(from, channel_id, voucher.as_ref(), time),
            Operation::SubmitVoucher { voucher } => bank.submit_voucher(voucher, time),
            Operation::Settle { channel_id } => bank.settle(channel_id, time),
        }
    }

    fn record(&mut self, time: u64, events: Vec<LedgerEvent>) -> Receipt {
        let start = self.events.len() as u64;
        let records: Vec<EventRecord> = events
            .into_iter()
            .zip(start..)
            .map(|(event, cursor)| EventRecord {
                cursor,
                time,
                event,
                transaction: Some(paychan_core::B256::left_padding_from(&start.to_be_bytes())),
            })
            .collect();
        self.events.extend_from_slice(&records);
        Receipt { events: records }
    }

    fn write(&mut self, entry: &Entry) -> Result<(), LedgerError> {
        if let Some(journal) = &mut self.journal
            && let Err(e) = journal.append(entry)
        {
            let why = format!("journal write failed: {e}; restart the ledger");
            tracing::error!("{why}");
            self.failed = Some(why.clone());
            return Err(LedgerError::Unavailable(why));
        }
        Ok(())
    }
}

impl Inner {
    fn event_at(&self, cursor: u64) -> Result<Option<EventRecord>, LedgerError> {
        let state = self
            .state
            .lock()
            .map_err(|_| LedgerError::Unavailable("ledger state lock poisoned".into()))?;
        Ok(usize::try_from(cursor)
            .ok()
            .and_then(|i| state.events.get(i))
            .copied())
    }
}

struct Inner {
    domain: Domain,
    clock: Clock,
    state: Mutex<State>,
    /// The number of events recorded, for event streams to wait on.
    recorded: watch::Sender<u64>,
    data_dir: Option<PathBuf>,
    metrics: LedgerMetrics,
}

/// The embedded ledger. Cheap to clone: clones share the same ledger.
#[derive(Clone)]
pub struct EmbeddedLedger {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EmbeddedLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedLedger")
            .field("domain", &self.inner.domain)
            .field("data_dir", &self.inner.data_dir)
            .finish_non_exhaustive()
    }
}

impl EmbeddedLedger {
    /// A ledger that keeps nothing on disk (tests, the in-process demo).
    pub fn in_memory(clock: Clock) -> Self {
        Self::from_state(
            clock,
            None,
            Bank::new(embedded_domain()),
            vec![],
            HashMap::new(),
            0,
            None,
        )
    }

    /// Opens (or creates) the ledger persisted in `dir`, replaying its journal. With `sync`,
    /// every operation is flushed to the disk before it is confirmed (survives power loss);
    /// without, it survives a crash of the process. Refused if another process has it open.
    pub fn open(dir: &Path, clock: Clock, sync: bool) -> Result<Self, LedgerError> {
        let io = |what: &str, e: std::io::Error| {
            LedgerError::Unavailable(format!("{what} {}: {e}", dir.display()))
        };
        std::fs::create_dir_all(dir).map_err(|e| io("cannot create", e))?;
        let path = dir.join(JOURNAL_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| io("cannot open the journal in", e))?;
        file.try_lock().map_err(|_| {
            LedgerError::Unavailable(format!(
                "the ledger in {} is in use by another process",
                dir.display()
            ))
        })?;

        let mut state = State {
            bank: Bank::new(embedded_domain()),
            events: vec![],
            nonces: HashMap::new(),
            last_time: 0,
            journal: None,
            failed: None,
        };
        let good = replay(&mut state, &file)?;
        let len = file.metadata().map_err(|e| io("cannot read", e))?.len();
        if good < len {
            tracing::warn!(
                cut = len.saturating_sub(good),
                "cutting a torn write off the end of the journal"
            );
            file.set_len(good)
                .map_err(|e| io("cannot repair the journal in", e))?;
        }
        file.seek(SeekFrom::End(0))
            .map_err(|e| io("cannot seek the journal in", e))?;
        let State {
            bank,
            events,
            nonces,
            last_time,
            ..
        } = state;
        Ok(Self::from_state(
            clock,
            Some(Journal { file, sync }),
            bank,
            events,
            nonces,
            last_time,
            Some(dir.to_path_buf()),
        ))
    }

    fn from_state(
        clock: Clock,
        journal: Option<Journal>,
        bank: Bank,
        events: Vec<EventRecord>,
        nonces: HashMap<Address, u64>,
        last_time: u64,
        data_dir: Option<PathBuf>,
    ) -> Self {
        let (recorded, _) = watch::channel(events.len() as u64);
        EmbeddedLedger {
            inner: Arc::new(Inner {
                domain: *bank.adjudicator().domain(),
                clock,
                state: Mutex::new(State {
                    bank,
                    events,
                    nonces,
                    last_time,
                    journal,
                    failed: None,
                }),
                recorded,
                data_dir,
                metrics: LedgerMetrics::default(),
            }),
        }
    }

    fn state(&self) -> Result<MutexGuard<'_, State>, LedgerError> {
        let state = self
            .inner
            .state
            .lock()
            .map_err(|_| LedgerError::Unavailable("ledger state lock poisoned".into()))?;
        match &state.failed {
            Some(why) => Err(LedgerError::Unavailable(why.clone())),
            None => Ok(state),
        }
    }

    /// The ledger's domain.
    pub fn domain(&self) -> Domain {
        self.inner.domain
    }

    /// The ledger's clock (tests move a manual one forward).
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// A handle acting for `key`'s account.
    pub fn account(&self, key: SigningKey) -> EmbeddedAccount {
        EmbeddedAccount {
            ledger: self.clone(),
            key,
        }
    }

    /// The last nonce accepted from `account` (0 if none).
    pub fn nonce(&self, account: Address) -> Result<u64, LedgerError> {
        Ok(self.state()?.nonces.get(&account).copied().unwrap_or(0))
    }

    /// Creates `amount` of `asset` for `owner`: the development faucet.
    pub fn faucet(
        &self,
        owner: Address,
        asset: Address,
        amount: Amount,
    ) -> Result<(), LedgerError> {
        let mut state = self.state()?;
        let time = self.inner.clock.now().max(state.last_time);
        if state.bank.supply(asset).checked_add(amount).is_none() {
            // The supply of the asset would exceed 2^128 - 1.
            return Err(LedgerError::Rejected(Rule::Overflow));
        }
        state.write(&Entry::Faucet {
            time,
            owner,
            asset,
            amount,
        })?;
        state.last_time = time;
        // Cannot fail: the supply was checked above, and no account exceeds the supply.
        state.bank.mint(owner, asset, amount)?;
        Ok(())
    }

    /// Everything of `asset` held by accounts and channels (equals what the faucet created
    /// unless money was created or destroyed).
    pub fn total(&self, asset: Address) -> Result<Amount, LedgerError> {
        Ok(self.state()?.bank.total(asset))
    }

    /// Everything of `asset` the faucet created.
    pub fn supply(&self, asset: Address) -> Result<Amount, LedgerError> {
        Ok(self.state()?.bank.supply(asset))
    }

    /// Verifies and applies a signed request: the path every state change takes, in process
    /// or over JSON-RPC.
    pub fn submit(&self, request: &SignedRequest) -> Result<Receipt, LedgerError> {
        let submitted = request
            .verify(&self.inner.domain)
            .and_then(|()| self.state())
            .and_then(|mut state| self.apply_locked(&mut state, request));
        if let Err(e) = &submitted {
            self.inner.metrics.refused(&request.op, e);
        }
        submitted
    }

    /// The ledger's counters.
    pub fn metrics(&self) -> &LedgerMetrics {
        &self.inner.metrics
    }

    /// How many events the ledger has recorded.
    pub fn events_recorded(&self) -> u64 {
        *self.inner.recorded.borrow()
    }

    fn apply_locked(
        &self,
        state: &mut State,
        request: &SignedRequest,
    ) -> Result<Receipt, LedgerError> {
        let last = state.nonces.get(&request.from).copied().unwrap_or(0);
        if request.nonce <= last {
            return Err(LedgerError::Unauthorized(format!(
                "nonce {} already used (last {last}): a replayed request",
                request.nonce
            )));
        }
        let time = self.inner.clock.now().max(state.last_time);
        // Write ahead: if this fails nothing is applied (and the ledger stops serving).
        let started = Instant::now();
        state.write(&Entry::Op {
            time,
            from: request.from,
            nonce: request.nonce,
            op: request.op.clone(),
        })?;
        self.inner.metrics.journal_write.observe(started.elapsed());
        // The nonce is used up even if the rules refuse: a refused request must not become
        // valid later (an `open` refused for lack of funds, replayed once the account is funded).
        state.nonces.insert(request.from, request.nonce);
        state.last_time = time;
        let events = state.apply(time, request.from, &request.op)?;
        self.inner.metrics.applied(&request.op);
        let receipt = state.record(time, events);
        self.inner.recorded.send_replace(state.events.len() as u64);
        Ok(receipt)
    }

    /// Signs `op` for `key` with the next nonce and applies it, atomically.
    fn submit_as(&self, key: &SigningKey, op: Operation) -> Result<Receipt, LedgerError> {
        let mut state = self.state()?;
        let nonce = state
            .nonces
            .get(&key.address())
            .copied()
            .unwrap_or(0)
            .saturating_add(1);
        let request = SignedRequest::sign(&self.inner.domain, key, nonce, op)?;
        request.verify(&self.inner.domain)?;
        let applied = self.apply_locked(&mut state, &request);
        if let Err(e) = &applied {
            self.inner.metrics.refused(&request.op, e);
        }
        applied
    }

    /// The ledger's time now.
    pub fn time(&self) -> Result<u64, LedgerError> {
        Ok(self.inner.clock.now().max(self.state()?.last_time))
    }

    /// `owner`'s balance of `asset`.
    pub fn balance_of(&self, owner: Address, asset: Address) -> Result<Amount, LedgerError> {
        Ok(self.state()?.bank.balance(owner, asset))
    }

    /// The record of a channel.
    pub fn channel_record(&self, id: &ChannelId) -> Result<Option<ChannelRecord>, LedgerError> {
        Ok(self.state()?.bank.adjudicator().channel(id).cloned())
    }

    /// Events from cursor `from`, past then live.
    pub fn event_stream(&self, from: u64) -> EventStream {
        let inner = self.inner.clone();
        let rx = inner.recorded.subscribe();
        Box::pin(futures::stream::unfold(
            (inner, rx, from),
            |(inner, mut rx, next)| async move {
                loop {
                    let got = match inner.event_at(next) {
                        Ok(got) => got,
                        Err(e) => return Some((Err(e), (inner, rx, u64::MAX))),
                    };
                    if let Some(record) = got {
                        return Some((Ok(record), (inner, rx, next.saturating_add(1))));
                    }
                    if rx.changed().await.is_err() {
                        return None;
                    }
                }
            },
        ))
    }
}

/// Replays the journal into `state`; returns the length of the part that is whole.
fn replay(state: &mut State, file: &File) -> Result<u64, LedgerError> {
    let mut reader = BufReader::new(file);
    let mut good: u64 = 0;
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| LedgerError::Unavailable(format!("cannot read the journal: {e}")))?;
        if read == 0 {
            return Ok(good);
        }
        number = number.saturating_add(1);
        let complete = line.last() == Some(&b'\n');
        let entry: Entry = match serde_json::from_slice(&line) {
            Ok(entry) if complete => entry,
            // A last line without its newline, or that does not parse, is a write the crash
            // interrupted: it was never confirmed.
            _ => {
                let mut rest = Vec::new();
                let _ = std::io::Read::read_to_end(&mut reader, &mut rest);
                if rest.is_empty() {
                    return Ok(good);
                }
                return Err(LedgerError::Unavailable(format!(
                    "the journal is corrupt at line {number}"
                )));
            }
        };
        // Replaying re-executes each input exactly as it was executed the first time: what
        // was refused then is refused now, with the same effect (none).
        match entry {
            Entry::Op {
                time,
                from,
                nonce,
                op,
            } => {
                state.nonces.insert(from, nonce);
                state.last_time = state.last_time.max(time);
                if let Ok(events) = state.apply(time, from, &op) {
                    state.record(time, events);
                }
            }
            Entry::Faucet {
                time,
                owner,
                asset,
                amount,
            } => {
                state.last_time = state.last_time.max(time);
                // Checked before it was journaled, so it succeeds as it did then.
                let _ = state.bank.mint(owner, asset, amount);
            }
        }
        good = good.saturating_add(read as u64);
    }
}

#[async_trait]
impl LedgerQuery for EmbeddedLedger {
    async fn domain(&self) -> Result<Domain, LedgerError> {
        Ok(self.inner.domain)
    }
    async fn now(&self) -> Result<u64, LedgerError> {
        self.time()
    }
    async fn balance(&self, owner: Address, asset: Address) -> Result<Amount, LedgerError> {
        self.balance_of(owner, asset)
    }
    async fn channel(&self, id: ChannelId) -> Result<Option<ChannelRecord>, LedgerError> {
        self.channel_record(&id)
    }
}

#[async_trait]
impl LedgerEvents for EmbeddedLedger {
    async fn events(&self, from: u64) -> Result<EventStream, LedgerError> {
        Ok(self.event_stream(from))
    }
}

/// A handle on the embedded ledger acting for one account: it signs every operation with the
/// account's key. Cheap to clone.
#[derive(Clone, Debug)]
pub struct EmbeddedAccount {
    ledger: EmbeddedLedger,
    key: SigningKey,
}

impl EmbeddedAccount {
    /// The ledger behind the handle.
    pub fn ledger(&self) -> &EmbeddedLedger {
        &self.ledger
    }

    fn run(&self, op: Operation) -> Result<Receipt, LedgerError> {
        self.ledger.submit_as(&self.key, op)
    }
}

#[async_trait]
impl LedgerQuery for EmbeddedAccount {
    async fn domain(&self) -> Result<Domain, LedgerError> {
        Ok(self.ledger.domain())
    }
    async fn now(&self) -> Result<u64, LedgerError> {
        self.ledger.time()
    }
    async fn balance(&self, owner: Address, asset: Address) -> Result<Amount, LedgerError> {
        self.ledger.balance_of(owner, asset)
    }
    async fn channel(&self, id: ChannelId) -> Result<Option<ChannelRecord>, LedgerError> {
        self.ledger.channel_record(&id)
    }
}

#[async_trait]
impl LedgerFunding for EmbeddedAccount {
    fn account(&self) -> Address {
        self.key.address()
    }
    async fn open(&self, params: &ChannelParams, amount: Amount) -> Result<Receipt, LedgerError> {
        self.run(Operation::Open {
            params: *params,
            amount,
        })
    }
    async fn deposit(
        &self,
        id: ChannelId,
        party: Role,
        amount: Amount,
    ) -> Result<Receipt, LedgerError> {
        self.run(Operation::Deposit {
            channel_id: id,
            party,
            amount,
        })
    }
}

#[async_trait]
impl LedgerWithdraw for EmbeddedAccount {
    async fn withdraw(&self, certificate: &CoSigned<Withdrawal>) -> Result<Receipt, LedgerError> {
        self.run(Operation::Withdraw {
            certificate: *certificate,
        })
    }
}

#[async_trait]
impl LedgerClose for EmbeddedAccount {
    async fn close_cooperative(
        &self,
        settlement: &CoSigned<Settlement>,
    ) -> Result<Receipt, LedgerError> {
        self.run(Operation::CloseCooperative {
            settlement: *settlement,
        })
    }
    async fn start_close(
        &self,
        id: ChannelId,
        voucher: Option<&SignedVoucher>,
    ) -> Result<Receipt, LedgerError> {
        self.run(Operation::StartClose {
            channel_id: id,
            voucher: voucher.copied(),
        })
    }
    async fn submit_voucher(&self, voucher: &SignedVoucher) -> Result<Receipt, LedgerError> {
        self.run(Operation::SubmitVoucher { voucher: *voucher })
    }
    async fn settle(&self, id: ChannelId) -> Result<Receipt, LedgerError> {
        self.run(Operation::Settle { channel_id: id })
    }
}

#[async_trait]
impl LedgerEvents for EmbeddedAccount {
    async fn events(&self, from: u64) -> Result<EventStream, LedgerError> {
        Ok(self.ledger.event_stream(from))
    }
}
