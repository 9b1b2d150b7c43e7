//! The `Ledger` interface every backend implements (embedded, served over JSON-RPC, Ethereum).
//!
//! It is split into role traits so that a component asks only for what it uses: the watcher
//! needs [`LedgerClose`] and [`LedgerEvents`], a wallet needs [`LedgerFunding`].
//!
//! # Requirements shared by every backend
//!
//! - **Confirmed** means final: when a state-changing method returns `Ok`, the operation is
//!   applied, durable (it survives a restart of the ledger), and its events are readable
//!   from [`LedgerEvents::events`]. Backends with probabilistic finality (Ethereum) return
//!   only after their configured confirmation depth.
//! - **All or nothing**: a refused operation ([`LedgerError::is_final`]) changed nothing and
//!   will be refused again for the same inputs; a refusal by the ledger rules names the
//!   [`Rule`] it broke ([`LedgerError::Rejected`]), the same rule on every backend. A
//!   transient error ([`LedgerError::Unavailable`]) may be retried, and the retry is safe
//!   because every operation is idempotent in effect: a replayed withdrawal, open, settle or
//!   close is refused (`ledger.not_increasing`, `ledger.channel_exists`, `ledger.not_closing`,
//!   `ledger.not_open`), a re-submitted voucher never lowers what is counted. A deposit is the
//!   one operation that is not: retry it only after checking the balance.
//! - **Who acts**: a ledger handle is bound to one account (its key). Funds move only out of
//!   that account (open, deposit); only a party may start a close; everything else may be
//!   done by anyone (a watchtower can submit vouchers and settle).
//! - **Order**: events are numbered from 0 by a cursor that never changes meaning; every
//!   reader sees the same events in the same order.

use std::pin::Pin;

use async_trait::async_trait;
use futures::Stream;
use paychan_core::{
    Address, Amount, ChannelId, ChannelParams, Domain, Role, Settlement, SignedVoucher, Withdrawal,
    adjudicator::{ChannelRecord, Rule},
    channel::CoSigned,
};

pub use crate::types::{
    ChallengeFloor, EventRecord, LedgerError, Operation, PendingTransaction, Receipt,
};

/// A stream of events, past then live, in cursor order.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<EventRecord, LedgerError>> + Send>>;

/// Reading the ledger. Every method is a snapshot; none changes anything.
#[async_trait]
pub trait LedgerQuery: Send + Sync {
    /// The EIP-712 domain the ledger verifies signatures under (chain id and adjudicator).
    async fn domain(&self) -> Result<Domain, LedgerError>;

    /// The ledger's time in seconds: what deadlines and expiries are compared with.
    async fn now(&self) -> Result<u64, LedgerError>;

    /// `owner`'s balance of `asset` (zero address: the native asset).
    async fn balance(&self, owner: Address, asset: Address) -> Result<Amount, LedgerError>;

    /// The ledger's record of a channel, `None` if the id was never opened.
    async fn channel(&self, id: ChannelId) -> Result<Option<ChannelRecord>, LedgerError>;

    /// The channel as the newest ledger state shows it, including operations not yet
    /// confirmed (deposits that a reorganisation could still undo). A ledger whose
    /// operations are final at once (the embedded ledger) answers [`channel`](Self::channel).
    async fn channel_unconfirmed(
        &self,
        id: ChannelId,
    ) -> Result<Option<ChannelRecord>, LedgerError> {
        self.channel(id).await
    }

    /// The shortest challenge period this handle's node can defend. A ledger whose operations
    /// and events are final at once (the embedded ledger) answers one second.
    async fn challenge_floor(&self) -> Result<ChallengeFloor, LedgerError> {
        Ok(ChallengeFloor {
            seconds: 1,
            reason: "this ledger applies operations and reports events at once".into(),
        })
    }

    /// What the ledger holds for `owner` in `asset` from payouts it could not deliver
    /// (`LedgerEvent::PayoutDeferred`), claimable with [`LedgerClose::claim`]. Ledgers that
    /// never defer a payout (the embedded ledger) answer zero.
    async fn unclaimed(&self, owner: Address, asset: Address) -> Result<Amount, LedgerError> {
        let _ = (owner, asset);
        Ok(0)
    }

    /// The transactions this handle sent that are not final yet, with their depth. Ledgers
    /// whose operations are final at once (the embedded ledger) have none.
    fn pending_transactions(&self) -> Vec<PendingTransaction> {
        Vec::new()
    }

    /// The chain id (part of the domain).
    async fn chain_id(&self) -> Result<u64, LedgerError> {
        Ok(self.domain().await?.chain_id())
    }

    /// The adjudicator's address (part of the domain).
    async fn adjudicator(&self) -> Result<Address, LedgerError> {
        Ok(self.domain().await?.verifying_contract())
    }
}

/// Putting money into channels, out of the handle's account.
#[async_trait]
pub trait LedgerFunding: LedgerQuery {
    /// The account this handle acts for.
    fn account(&self) -> Address;

    /// Opens a channel with `amount` for A, paid by this account. Refused if the id was ever
    /// used, even if settled.
    async fn open(&self, params: &ChannelParams, amount: Amount) -> Result<Receipt, LedgerError>;

    /// Adds `amount` to `party`'s deposit, paid by this account. Refused unless the channel is
    /// open (the funds stay in the account). Not idempotent: see the module docs.
    async fn deposit(
        &self,
        id: ChannelId,
        party: Role,
        amount: Amount,
    ) -> Result<Receipt, LedgerError>;
}

/// Withdrawing from an open channel.
#[async_trait]
pub trait LedgerWithdraw: LedgerQuery {
    /// Executes a withdrawal certificate signed by both parties (anyone may submit it); the
    /// increase of `totalWithdrawn` goes to the party.
    async fn withdraw(&self, certificate: &CoSigned<Withdrawal>) -> Result<Receipt, LedgerError>;
}

/// Closing channels.
#[async_trait]
pub trait LedgerClose: LedgerQuery {
    /// Pays out at once on a settlement signed by both parties (open or closing channels).
    async fn close_cooperative(
        &self,
        settlement: &CoSigned<Settlement>,
    ) -> Result<Receipt, LedgerError>;

    /// Starts the challenge period (this account must be a party), optionally counting the
    /// peer's latest voucher at once.
    async fn start_close(
        &self,
        id: ChannelId,
        voucher: Option<&SignedVoucher>,
    ) -> Result<Receipt, LedgerError>;

    /// Counts a voucher during the challenge period (anyone may submit); the ledger keeps
    /// the highest cumulative per payer.
    async fn submit_voucher(&self, voucher: &SignedVoucher) -> Result<Receipt, LedgerError>;

    /// Pays out a closing channel after its deadline (anyone may call).
    async fn settle(&self, id: ChannelId) -> Result<Receipt, LedgerError>;

    /// Pays this account's deferred payouts of `asset` ([`LedgerQuery::unclaimed`]) to `to`
    /// (this account, or another address if this one cannot receive). Refused if there is
    /// nothing to claim; a ledger that never defers payouts always refuses.
    async fn claim(&self, asset: Address, to: Address) -> Result<Receipt, LedgerError> {
        let _ = (asset, to);
        Err(LedgerError::Rejected(Rule::NothingToClaim))
    }
}

/// Watching what happens on the ledger.
#[async_trait]
pub trait LedgerEvents: Send + Sync {
    /// Every event from cursor `from` on: first those already recorded, then new ones as
    /// they are confirmed, without gaps or repeats. A node that restarts passes the cursor
    /// after the last event it processed and catches up.
    async fn events(&self, from: u64) -> Result<EventStream, LedgerError>;
}

/// A full ledger handle: every role.
pub trait Ledger: LedgerFunding + LedgerWithdraw + LedgerClose + LedgerEvents {}

impl<T: LedgerFunding + LedgerWithdraw + LedgerClose + LedgerEvents> Ledger for T {}
