//! The contract's logs as ledger events, numbered by a cursor that survives restarts.
//!
//! The ledger interface numbers events 0, 1, 2, … ([`EventRecord::cursor`]); on Ethereum an
//! event is a log at (block number, log index). The [`EventIndex`] walks the contract's logs in
//! that order, **only in blocks with at least `confirmations` blocks on top** (itself
//! included), and gives each ledger event the next cursor. A reorg shallower than the
//! confirmation depth never touches an indexed block, so a cursor never changes meaning; a
//! deeper one is detected (the hash of the last indexed block changed) and reported instead
//! of being silently followed.
//!
//! With a directory, the index is kept on disk: `events.jsonl` (one indexed event per line, in
//! cursor order) and `cursor.json` (chain, contract, the next block to scan, the hash of the
//! last scanned one and the number of events). Events are appended and synced before the
//! cursor file is replaced atomically, so after a crash the cursor file is authoritative and
//! any extra lines are cut off; a restarted node resumes scanning where it stopped.

use std::{
    collections::BTreeMap,
    fs,
    io::{BufRead, Write},
    path::{Path, PathBuf},
    sync::{Arc, Mutex, MutexGuard},
};

use alloy::{
    eips::BlockNumberOrTag,
    providers::{DynProvider, Provider},
    rpc::types::{Filter, Log},
    sol_types::SolEventInterface,
};
use paychan_core::{
    Address, Amount, B256, ChannelId, ChannelParams, Pair, Role, U256, adjudicator::LedgerEvent,
};
use paychan_ledger::{EventRecord, LedgerError};
use serde::{Deserialize, Serialize};

use crate::{
    bindings::PaychanAdjudicator::PaychanAdjudicatorEvents as E,
    error::{from_rpc, invalid},
};

/// A ledger event with where it is on chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexedEvent {
    /// The event, its cursor and its block's timestamp.
    pub record: EventRecord,
    /// The block it is in.
    pub block: u64,
    /// That block's hash.
    pub block_hash: B256,
    /// Its position among the block's logs.
    pub log_index: u64,
    /// The transaction that emitted it.
    pub tx: B256,
}

/// What `cursor.json` holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CursorFile {
    chain_id: u64,
    contract: Address,
    /// The next block to scan.
    next_block: u64,
    /// The hash of block `next_block - 1` when it was scanned (None before the first scan).
    last_hash: Option<B256>,
    /// How many events are indexed (lines of `events.jsonl` that count).
    count: u64,
}

struct State {
    events: Vec<IndexedEvent>,
    cursor: CursorFile,
}

/// The confirmed events of one contract, in cursor order.
pub struct EventIndex {
    provider: DynProvider,
    confirmations: u64,
    max_range: u64,
    dir: Option<PathBuf>,
    state: Mutex<State>,
}

/// The amount in a 256-bit log field; the contract bounds them to 128 bits.
fn amount(v: U256) -> Result<Amount, LedgerError> {
    v.try_into()
        .map_err(|_| invalid(format!("amount {v} in a log exceeds 128 bits")))
}

fn role(v: u8) -> Result<Role, LedgerError> {
    match v {
        0 => Ok(Role::A),
        1 => Ok(Role::B),
        other => Err(invalid(format!("party {other} in a log"))),
    }
}

/// Decodes one log of the contract; `Ok(None)` for logs that are not ledger events (domain
/// changes).
pub fn decode(log: &alloy::primitives::Log) -> Result<Option<LedgerEvent>, LedgerError> {
    let event = E::decode_log(log).map_err(|e| invalid(format!("undecodable log: {e}")))?;
    Ok(Some(match event.data {
        E::Opened(e) => LedgerEvent::Opened {
            channel_id: ChannelId(e.channelId),
            params: ChannelParams {
                party_a: e.partyA,
                party_b: e.partyB,
                token: e.token,
                challenge_period: e.challengePeriod,
                nonce: e.nonce,
            },
            deposit: amount(e.deposit)?,
        },
        E::Deposited(e) => LedgerEvent::Deposited {
            channel_id: ChannelId(e.channelId),
            party: role(e.party)?,
            amount: amount(e.amount)?,
            total: amount(e.total)?,
        },
        E::Withdrawn(e) => LedgerEvent::Withdrawn {
            channel_id: ChannelId(e.channelId),
            party: role(e.party)?,
            amount: amount(e.amount)?,
            total_withdrawn: amount(e.totalWithdrawn)?,
            paid_by_a: amount(e.paidByA)?,
            paid_by_b: amount(e.paidByB)?,
        },
        E::CloseStarted(e) => LedgerEvent::CloseStarted {
            channel_id: ChannelId(e.channelId),
            by: role(e.by)?,
            deadline: e.deadline,
        },
        E::VoucherSubmitted(e) => LedgerEvent::VoucherSubmitted {
            channel_id: ChannelId(e.channelId),
            payer: role(e.payer)?,
            cumulative: amount(e.cumulative)?,
            counted: amount(e.counted)?,
        },
        E::Settled(e) => LedgerEvent::Settled {
            channel_id: ChannelId(e.channelId),
            payouts: Pair::new(amount(e.payoutA)?, amount(e.payoutB)?),
        },
        E::PayoutDeferred(e) => LedgerEvent::PayoutDeferred {
            channel_id: ChannelId(e.channelId),
            asset: e.token,
            to: e.to,
            amount: amount(e.amount)?,
        },
        E::Claimed(e) => LedgerEvent::Claimed {
            asset: e.token,
            owner: e.owner,
            to: e.to,
            amount: amount(e.amount)?,
        },
        E::EIP712DomainChanged(_) => return Ok(None),
    }))
}

fn io_error(what: &str, path: &Path, e: impl std::fmt::Display) -> LedgerError {
    LedgerError::Unavailable(format!("{what} {}: {e}", path.display()))
}

impl EventIndex {
    /// An index of `contract`'s events on `chain_id` from `start_block`, kept in `dir` if given
    /// (created if missing; refused if it belongs to another chain or contract).
    pub fn open(
        provider: DynProvider,
        chain_id: u64,
        contract: Address,
        start_block: u64,
        confirmations: u64,
        max_range: u64,
        dir: Option<PathBuf>,
    ) -> Result<Arc<Self>, LedgerError> {
        let fresh = CursorFile {
            chain_id,
            contract,
            next_block: start_block,
            last_hash: None,
            count: 0,
        };
        let state = match &dir {
            None => State {
                events: vec![],
                cursor: fresh,
            },
            Some(dir) => Self::load(dir, fresh)?,
        };
        Ok(Arc::new(EventIndex {
            provider,
            confirmations: confirmations.max(1),
            max_range: max_range.max(1),
            dir,
            state: Mutex::new(state),
        }))
    }

    fn load(dir: &Path, fresh: CursorFile) -> Result<State, LedgerError> {
        fs::create_dir_all(dir).map_err(|e| io_error("cannot create", dir, e))?;
        let cursor_path = dir.join("cursor.json");
        let cursor: CursorFile = match fs::read(&cursor_path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| invalid(format!("{}: {e}", cursor_path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => fresh,
            Err(e) => return Err(io_error("cannot read", &cursor_path, e)),
        };
        if (cursor.chain_id, cursor.contract) != (fresh.chain_id, fresh.contract) {
            return Err(invalid(format!(
                "{} indexes contract {} on chain {}, not {} on chain {}",
                dir.display(),
                cursor.contract,
                cursor.chain_id,
                fresh.contract,
                fresh.chain_id
            )));
        }
        let events_path = dir.join("events.jsonl");
        let mut events = Vec::new();
        match fs::File::open(&events_path) {
            Ok(f) => {
                for (n, line) in std::io::BufReader::new(f).lines().enumerate() {
                    if events.len() as u64 >= cursor.count {
                        break; // written before a crash, not yet counted: scanned again
                    }
                    let line = line.map_err(|e| io_error("cannot read", &events_path, e))?;
                    let event: IndexedEvent = serde_json::from_str(&line).map_err(|e| {
                        invalid(format!(
                            "{} line {}: {e}",
                            events_path.display(),
                            n.saturating_add(1)
                        ))
                    })?;
                    if event.record.cursor != events.len() as u64 {
                        return Err(invalid(format!(
                            "{} line {}: cursor {} out of order",
                            events_path.display(),
                            n.saturating_add(1),
                            event.record.cursor
                        )));
                    }
                    events.push(event);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("cannot read", &events_path, e)),
        }
        if (events.len() as u64) < cursor.count {
            return Err(invalid(format!(
                "{} holds {} events, {} counts {}",
                events_path.display(),
                events.len(),
                cursor_path.display(),
                cursor.count
            )));
        }
        // Rewrite the events file without uncounted lines, so appends continue cleanly.
        let mut text = String::new();
        for e in &events {
            text.push_str(&serde_json::to_string(e).map_err(invalid)?);
            text.push('\n');
        }
        write_atomic(&events_path, text.as_bytes())?;
        Ok(State { events, cursor })
    }

    /// How many events are indexed.
    pub async fn len(&self) -> u64 {
        self.locked().cursor.count
    }

    /// Whether no event is indexed.
    pub async fn is_empty(&self) -> bool {
        self.len().await == 0
    }

    /// The next block the index will scan.
    pub async fn next_block(&self) -> u64 {
        self.locked().cursor.next_block
    }

    /// Up to `max` indexed events from cursor `from`.
    pub async fn from_cursor(&self, from: u64, max: usize) -> Vec<IndexedEvent> {
        let state = self.locked();
        let start = usize::try_from(from).unwrap_or(usize::MAX);
        state
            .events
            .get(start..)
            .map(|rest| rest.iter().take(max).copied().collect())
            .unwrap_or_default()
    }

    /// The indexed events of transaction `tx` in block `block`.
    pub async fn of_tx(&self, block: u64, tx: B256) -> Vec<EventRecord> {
        let state = self.locked();
        // Events are in block order: search from the end, where new transactions are.
        let mut out: Vec<EventRecord> = state
            .events
            .iter()
            .rev()
            .take_while(|e| e.block >= block)
            .filter(|e| e.block == block && e.tx == tx)
            .map(|e| e.record)
            .collect();
        out.reverse();
        out
    }

    /// The state, for a moment: the lock is never held across an `.await`, so a reader that
    /// stops polling (a dropped `next()`, a `select!` that took another branch) can never
    /// block the others.
    fn locked(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(guard) => guard,
            // A panic while holding it cannot leave the state half-updated: every update is
            // a single assignment after the events file was written.
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Scans the confirmed blocks not scanned yet. Returns how many events were added.
    ///
    /// Concurrent calls are safe: each reads the cursor, fetches without holding the lock,
    /// and applies its batch only if the cursor has not moved meanwhile (else it starts over
    /// from the new cursor).
    pub async fn sync(&self) -> Result<u64, LedgerError> {
        let head = self.provider.get_block_number().await.map_err(from_rpc)?;
        let Some(safe) = head.checked_sub(self.confirmations.saturating_sub(1)) else {
            return Ok(0);
        };
        let mut added = 0u64;
        loop {
            let cursor = self.locked().cursor;
            if cursor.next_block > safe {
                return Ok(added);
            }
            self.check_last(&cursor).await?;
            let from = cursor.next_block;
            let to = safe.min(from.saturating_add(self.max_range.saturating_sub(1)));
            let filter = Filter::new()
                .address(cursor.contract)
                .from_block(from)
                .to_block(to);
            let mut logs = self.provider.get_logs(&filter).await.map_err(from_rpc)?;
            logs.sort_by_key(|l| (l.block_number, l.log_index));
            let end = self.block(to).await?;
            let mut new = Vec::new();
            let mut times = BTreeMap::new();
            for log in &logs {
                let Some(event) = decode(&log.inner)? else {
                    continue;
                };
                let (block, block_hash, log_index, tx) = position(log)?;
                if block == to && block_hash != end.0 {
                    return Err(LedgerError::Unavailable(format!(
                        "block {to} changed while it was being scanned; scanning again"
                    )));
                }
                let time = match (log.block_timestamp, times.get(&block)) {
                    (Some(t), _) => t,
                    (None, Some(t)) => *t,
                    (None, None) => {
                        let t = self.block(block).await?.1;
                        times.insert(block, t);
                        t
                    }
                };
                new.push(IndexedEvent {
                    record: EventRecord {
                        cursor: cursor.count.saturating_add(new.len() as u64),
                        time,
                        event,
                        transaction: Some(tx),
                    },
                    block,
                    block_hash,
                    log_index,
                    tx,
                });
            }
            let next = CursorFile {
                next_block: to.saturating_add(1),
                last_hash: Some(end.0),
                count: cursor.count.saturating_add(new.len() as u64),
                ..cursor
            };
            let mut state = self.locked();
            if state.cursor != cursor {
                continue; // another caller indexed these blocks first
            }
            self.persist(&new, &next)?;
            added = added.saturating_add(new.len() as u64);
            state.events.extend(new);
            state.cursor = next;
        }
    }

    /// Checks that the last scanned block is still on the chain: if not, a reorg deeper than
    /// the confirmation depth happened and indexed events may be gone.
    async fn check_last(&self, cursor: &CursorFile) -> Result<(), LedgerError> {
        let (Some(last), Some(number)) = (cursor.last_hash, cursor.next_block.checked_sub(1))
        else {
            return Ok(());
        };
        let (hash, _) = self.block(number).await?;
        if hash != last {
            return Err(LedgerError::Unavailable(format!(
                "block {number} was replaced by a reorganisation deeper than {} confirmations \
                 (indexed {last}, now {hash}): refusing to follow it",
                self.confirmations
            )));
        }
        Ok(())
    }

    /// The hash and timestamp of block `number`.
    async fn block(&self, number: u64) -> Result<(B256, u64), LedgerError> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await
            .map_err(from_rpc)?
            .ok_or_else(|| LedgerError::Unavailable(format!("block {number} not found")))?;
        Ok((block.header.hash, block.header.timestamp))
    }

    fn persist(&self, new: &[IndexedEvent], next: &CursorFile) -> Result<(), LedgerError> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        if !new.is_empty() {
            let path = dir.join("events.jsonl");
            let mut text = String::new();
            for e in new {
                text.push_str(&serde_json::to_string(e).map_err(invalid)?);
                text.push('\n');
            }
            let mut f = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| io_error("cannot open", &path, e))?;
            f.write_all(text.as_bytes())
                .and_then(|()| f.sync_data())
                .map_err(|e| io_error("cannot append to", &path, e))?;
        }
        let bytes = serde_json::to_vec_pretty(next).map_err(invalid)?;
        write_atomic(&dir.join("cursor.json"), &bytes)
    }
}

/// Where a log is: block, block hash, log index, transaction.
fn position(log: &Log) -> Result<(u64, B256, u64, B256), LedgerError> {
    match (
        log.block_number,
        log.block_hash,
        log.log_index,
        log.transaction_hash,
    ) {
        (Some(b), Some(h), Some(i), Some(t)) => Ok((b, h, i, t)),
        _ => Err(invalid("a mined log without its position")),
    }
}

/// Replaces `path` with `bytes` (write to a temporary file, sync, rename).
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), LedgerError> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp).map_err(|e| io_error("cannot create", &tmp, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| io_error("cannot write", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| io_error("cannot replace", path, e))
}

/// Events read from the index per step of an event stream.
const STREAM_BATCH: usize = 256;

/// Every confirmed event from cursor `from`, then new ones as they are confirmed.
pub(crate) fn event_stream(
    index: Arc<EventIndex>,
    from: u64,
    poll: std::time::Duration,
) -> paychan_ledger::EventStream {
    let state = (index, from, std::collections::VecDeque::new());
    futures::StreamExt::boxed(futures::stream::unfold(
        state,
        move |(index, mut next, mut buffer)| async move {
            loop {
                if let Some(record) = buffer.pop_front() {
                    return Some((Ok(record), (index, next, buffer)));
                }
                let got = index.from_cursor(next, STREAM_BATCH).await;
                if !got.is_empty() {
                    next = next.saturating_add(got.len() as u64);
                    buffer.extend(got.into_iter().map(|e| e.record));
                    continue;
                }
                match index.sync().await {
                    Ok(0) => tokio::time::sleep(poll).await,
                    Ok(_) => {}
                    Err(e) => {
                        // Reported to the reader; the next poll tries again.
                        tracing::warn!(error = %e, "event index: cannot sync");
                        tokio::time::sleep(poll).await;
                        return Some((Err(e), (index, next, buffer)));
                    }
                }
            }
        },
    ))
}
