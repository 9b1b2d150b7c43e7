//! The [`Store`] interface and the rows it stores.

use std::{fmt, str::FromStr, time::Duration};

use async_trait::async_trait;
use paychan_core::{Address, Amount, B256, ChannelId};

use crate::{Fence, LeaseAttempt, StoreError};

/// One channel as the node persists it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ChannelRow {
    /// The channel.
    pub id: ChannelId,
    /// The other party's address, for [`Store::channels_for_peer`].
    pub peer: Address,
    /// A short name of the channel's phase (`"open"`, `"settling"`, `"closing"`, ...), for
    /// listings; the store does not interpret it.
    pub phase: String,
    /// Optimistic concurrency: the first write of a channel has version 1 and every later
    /// write the stored version plus one (see [`Store::commit`]).
    pub version: u64,
    /// The node's serialized channel state, opaque to the store.
    pub state: Vec<u8>,
    /// When the node wrote this version (its clock, its unit); not interpreted.
    pub updated_at: u64,
}

/// A contact: an alias for a peer's address and, optionally, where to reach it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Contact {
    /// The alias, unique in the store (the node decides which aliases are valid).
    pub alias: String,
    /// The peer's address.
    pub address: Address,
    /// Where to reach the peer (`ADDRESS@HOST:PORT`, `ADDRESS@ws://...`), if known; not
    /// interpreted by the store.
    pub peer_url: Option<String>,
}

/// Which way a payment went, seen from this node.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Direction {
    /// The peer paid us: a voucher we accepted.
    Incoming,
    /// We paid the peer: a voucher we signed.
    Outgoing,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Incoming => "incoming",
            Direction::Outgoing => "outgoing",
        })
    }
}

/// One payment of the history, keyed by `(channel_id, direction, sequence)`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PaymentRow {
    /// The channel it was made in.
    pub channel_id: ChannelId,
    /// Whether we received or sent it.
    pub direction: Direction,
    /// The voucher's sequence number, unique per channel and direction.
    pub sequence: u64,
    /// What this payment added.
    pub amount: Amount,
    /// The voucher's cumulative total after this payment.
    pub cumulative: Amount,
    /// The voucher's memo (e.g. the hash of the message paid for).
    pub memo: B256,
    /// When it was made (the node's clock, its unit); not interpreted.
    pub time: u64,
}

/// Everything one [`Store::commit`] writes, atomically.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Batch {
    /// Channel rows to write, in order (a batch may write versions `n` and `n + 1` of one
    /// channel).
    pub channels: Vec<ChannelRow>,
    /// Payments to record.
    pub payments: Vec<PaymentRow>,
    /// Raise the ledger cursor to this value (a lower value leaves it unchanged).
    pub ledger_cursor: Option<u64>,
    /// Channel rows to delete, each only at the version the caller last read (a channel
    /// that never opened, say: it has no payments, and its id is never used again).
    pub removals: Vec<Removal>,
    /// Write the batch only while this lease is held by this token (see [`crate::lease`]).
    pub fence: Option<Fence>,
}

/// The deletion of one channel row, conditional on its stored version.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Removal {
    /// The channel.
    pub id: ChannelId,
    /// The version the caller read; another stored version fails the batch.
    pub version: u64,
}

impl Batch {
    /// Whether the batch writes nothing.
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
            && self.payments.is_empty()
            && self.ledger_cursor.is_none()
            && self.removals.is_empty()
    }
}

/// How much a successful [`Store::commit`] survives.
///
/// The default is [`Normal`](Durability::Normal), as design §7 prescribes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum Durability {
    /// Survives a crash of the process (`kill -9`), not necessarily a power loss or an OS
    /// crash. SQLite: write-ahead log with `synchronous = NORMAL`, the log is synced at
    /// checkpoints only.
    #[default]
    Normal,
    /// Survives a power loss: the log is synced to the disk (`fsync`, or `F_FULLFSYNC` on
    /// macOS) before a commit returns. Concurrent commits share one sync (group commit).
    Full,
}

impl fmt::Display for Durability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Durability::Normal => "normal",
            Durability::Full => "full",
        })
    }
}

/// The error of parsing a [`Durability`] from anything but `normal` or `full`.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("unknown durability {0:?}: expected \"normal\" or \"full\"")]
pub struct ParseDurabilityError(String);

impl FromStr for Durability {
    type Err = ParseDurabilityError;

    /// Parses the configuration spelling: `normal` or `full`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "normal" => Ok(Durability::Normal),
            "full" => Ok(Durability::Full),
            other => Err(ParseDurabilityError(other.to_owned())),
        }
    }
}

/// The durable storage of a node: channels, payments, the ledger cursor and settings.
///
/// Object-safe: the node holds an `Arc<dyn Store>` chosen by its builder.
///
/// # Requirements
///
/// - A commit that returned `Ok` is durable per the configured [`Durability`] and visible to
///   every later read, through this handle or a reopened one.
/// - A commit that returned `Err` wrote nothing, except that [`StoreError::Unavailable`]
///   may leave the outcome unknown (see there).
/// - Commits from many tasks may run concurrently; a backend should merge them (group
///   commit) so that they share one disk sync, but each keeps its own outcome.
/// - If the future of a commit is dropped before it completes, the batch may or may not be
///   applied.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Atomically applies `batch`, or nothing of it.
    ///
    /// # Order
    ///
    /// 1. Every channel row, in order, is written only if the stored version of its channel
    ///    is `row.version - 1`, or there is no stored row and `row.version == 1`; otherwise
    ///    the whole batch fails with [`StoreError::Conflict`].
    /// 2. Every payment is inserted; a payment whose `(channel_id, direction, sequence)` is
    ///    already stored (or appears twice in the batch) fails the whole batch with
    ///    [`StoreError::DuplicatePayment`].
    /// 3. The ledger cursor is raised to `batch.ledger_cursor`, never lowered.
    /// 4. Every removal deletes its channel's row only if the stored version is the
    ///    removal's version; otherwise (another version, or no row) the whole batch fails
    ///    with [`StoreError::Conflict`]. The channel's payments, if any, stay.
    ///
    /// Before all of it, if the batch has a [`Fence`], its token must hold the lease, unexpired
    /// on the database's clock, or the whole batch fails with [`StoreError::Fenced`]; the
    /// check holds a shared lock of the lease row until the batch commits, so a takeover
    /// waits for it (see [`crate::lease`]). Backends without leases refuse a fenced batch with
    /// [`StoreError::Unsupported`].
    ///
    /// Returns once the batch is durable per the configured [`Durability`]. An empty batch
    /// succeeds and writes nothing (even if fenced).
    async fn commit(&self, batch: Batch) -> Result<(), StoreError>;

    /// Every channel, in ascending id order.
    async fn channels(&self) -> Result<Vec<ChannelRow>, StoreError>;

    /// The channel `id`, if stored.
    async fn channel(&self, id: ChannelId) -> Result<Option<ChannelRow>, StoreError>;

    /// The channels with `peer`, in ascending id order.
    async fn channels_for_peer(&self, peer: Address) -> Result<Vec<ChannelRow>, StoreError>;

    /// The payments of `channel` in `direction`, newest (highest sequence) first, at most
    /// `limit` of them, and only those with `sequence < before` if `before` is given: pass
    /// the last sequence of a page to get the next one.
    async fn payments(
        &self,
        channel: ChannelId,
        direction: Direction,
        limit: u32,
        before: Option<u64>,
    ) -> Result<Vec<PaymentRow>, StoreError>;

    /// How far the node has processed the ledger's events (0 at first).
    async fn ledger_cursor(&self) -> Result<u64, StoreError>;

    /// The setting `key` (node identity, configuration fingerprints, ...), if set.
    async fn meta(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// Sets `key` to `value`, replacing any previous value; durable when it returns `Ok`.
    async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError>;

    /// Every contact, in ascending alias order (byte order of the UTF-8 alias).
    async fn contacts(&self) -> Result<Vec<Contact>, StoreError>;

    /// The contact `alias` (case-sensitive), if stored.
    async fn contact(&self, alias: &str) -> Result<Option<Contact>, StoreError>;

    /// Stores `contact`, replacing the one with the same alias; durable when it returns `Ok`.
    async fn put_contact(&self, contact: &Contact) -> Result<(), StoreError>;

    /// Removes the contact `alias`; answers whether there was one. Durable when it returns.
    async fn remove_contact(&self, alias: &str) -> Result<bool, StoreError>;

    /// Takes the lease `lease` for `holder` until `ttl` from now (the database's clock) if it
    /// is free: never taken, released, or expired. Answers the new fencing token, or who
    /// holds the lease. Backends that serve one process answer [`StoreError::Unsupported`].
    async fn acquire_lease(
        &self,
        lease: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<LeaseAttempt, StoreError> {
        let _ = (lease, holder, ttl);
        Err(StoreError::Unsupported { what: "leases" })
    }

    /// Extends the lease to `ttl` from now if `token` still holds it (even after it expired,
    /// as long as no one took it since): answers whether it did. `false` means another holder
    /// took it: this one must stop acting.
    async fn renew_lease(
        &self,
        lease: &str,
        token: u64,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let _ = (lease, token, ttl);
        Err(StoreError::Unsupported { what: "leases" })
    }

    /// Ends the lease now if `token` holds it (a clean shutdown: a standby takes over at
    /// once). Answers whether it did.
    async fn release_lease(&self, lease: &str, token: u64) -> Result<bool, StoreError> {
        let _ = (lease, token);
        Err(StoreError::Unsupported { what: "leases" })
    }
}

#[cfg(test)]
// Tests fail by panicking.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn durability_parses_its_configuration_spelling() {
        for durability in [Durability::Normal, Durability::Full] {
            assert_eq!(
                durability.to_string().parse::<Durability>().unwrap(),
                durability
            );
        }
        assert_eq!(Durability::default(), Durability::Normal);
        let error = "fsync".parse::<Durability>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown durability \"fsync\": expected \"normal\" or \"full\""
        );
    }

    #[test]
    fn a_batch_is_empty_only_without_rows_payments_and_cursor() {
        assert!(Batch::default().is_empty());
        assert!(
            !Batch {
                ledger_cursor: Some(0),
                ..Batch::default()
            }
            .is_empty()
        );
    }
}
