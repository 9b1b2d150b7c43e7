//! `my_deposits` (aa-channels' "total amount you have deposited but it's not confirmed yet"):
//! a deposit counts as pending from the moment it is sent to the ledger until its receipt is
//! applied, then as deposited; never as both, never as neither. A's ledger handle holds each
//! deposit until the test opens the gate, as a slow chain does until the confirmation depth.

use std::{path::Path, sync::Arc, time::Duration};

use async_trait::async_trait;
use paychan_core::{
    Address, Amount, ChannelId, ChannelParams, Domain, Role, Settlement, SignedVoucher, SigningKey,
    Withdrawal, adjudicator::ChannelRecord, channel::CoSigned,
};
use paychan_ledger::{
    Clock, EmbeddedAccount, EmbeddedLedger, EventStream, LedgerClose, LedgerError, LedgerEvents,
    LedgerFunding, LedgerQuery, LedgerWithdraw, Receipt,
};
use paychan_node::{Node, NodeConfig, PeerConnection, testkit::wait_until};
use paychan_store::{Durability, sqlite::SqliteStore};
use tokio::sync::Semaphore;

const FUNDS: Amount = 1_000_000;

/// A's view of the ledger: every deposit waits for a permit of `gate` before it is executed.
#[derive(Clone)]
struct Gated {
    inner: EmbeddedAccount,
    gate: Arc<Semaphore>,
}

#[async_trait]
impl LedgerQuery for Gated {
    async fn domain(&self) -> Result<Domain, LedgerError> {
        self.inner.domain().await
    }
    async fn now(&self) -> Result<u64, LedgerError> {
        self.inner.now().await
    }
    async fn balance(&self, owner: Address, asset: Address) -> Result<Amount, LedgerError> {
        self.inner.balance(owner, asset).await
    }
    async fn channel(&self, id: ChannelId) -> Result<Option<ChannelRecord>, LedgerError> {
        self.inner.channel(id).await
    }
    async fn channel_unconfirmed(
        &self,
        id: ChannelId,
    ) -> Result<Option<ChannelRecord>, LedgerError> {
        self.inner.channel_unconfirmed(id).await
    }
}

#[async_trait]
impl LedgerFunding for Gated {
    fn account(&self) -> Address {
        self.inner.account()
    }
    async fn open(&self, params: &ChannelParams, amount: Amount) -> Result<Receipt, LedgerError> {
        self.inner.open(params, amount).await
    }
    async fn deposit(
        &self,
        id: ChannelId,
        party: Role,
        amount: Amount,
    ) -> Result<Receipt, LedgerError> {
        self.gate.acquire().await.unwrap().forget();
        self.inner.deposit(id, party, amount).await
    }
}

#[async_trait]
impl LedgerWithdraw for Gated {
    async fn withdraw(&self, certificate: &CoSigned<Withdrawal>) -> Result<Receipt, LedgerError> {
        self.inner.withdraw(certificate).await
    }
}

#[async_trait]
impl LedgerClose for Gated {
    async fn close_cooperative(
        &self,
        settlement: &CoSigned<Settlement>,
    ) -> Result<Receipt, LedgerError> {
        self.inner.close_cooperative(settlement).await
    }
    async fn start_close(
        &self,
        id: ChannelId,
        voucher: Option<&SignedVoucher>,
    ) -> Result<Receipt, LedgerError> {
        self.inner.start_close(id, voucher).await
    }
    async fn submit_voucher(&self, voucher: &SignedVoucher) -> Result<Receipt, LedgerError> {
        self.inner.submit_voucher(voucher).await
    }
    async fn settle(&self, id: ChannelId) -> Result<Receipt, LedgerError> {
        self.inner.settle(id).await
    }
}

#[async_trait]
impl LedgerEvents for Gated {
    async fn events(&self, from: u64) -> Result<EventStream, LedgerError> {
        self.inner.events(from).await
    }
}

async fn node(ledger: Arc<dyn paychan_ledger::Ledger>, key: &SigningKey, db: &Path) -> Node {
    Node::builder()
        .key(key.clone())
        .ledger(ledger)
        .store(Arc::new(SqliteStore::open(db, Durability::Normal).unwrap()))
        .config(NodeConfig {
            request_timeout: Duration::from_secs(5),
            challenge_period: 3_600,
            ..NodeConfig::default()
        })
        .build()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposit_on_its_way_is_pending_then_deposited() {
    let ledger = EmbeddedLedger::in_memory(Clock::manual(1_700_000_000));
    let ka = SigningKey::from_entropy(&[91; 32]).unwrap();
    let kb = SigningKey::from_entropy(&[92; 32]).unwrap();
    for k in [&ka, &kb] {
        ledger.faucet(k.address(), Address::ZERO, FUNDS).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let gate = Arc::new(Semaphore::new(0));
    let a_view = Gated {
        inner: ledger.account(ka.clone()),
        gate: gate.clone(),
    };
    let a = node(Arc::new(a_view), &ka, &dir.path().join("a.db")).await;
    let b = node(
        Arc::new(ledger.account(kb.clone())),
        &kb,
        &dir.path().join("b.db"),
    )
    .await;
    let (to_b, to_a) = PeerConnection::pair(a.address(), b.address(), 64);
    a.connect(to_b).await;
    b.connect(to_a).await;

    let id = a.create_channel(b.address(), 1_000).await.unwrap();
    let info = a.channel_info(id).await.unwrap();
    assert_eq!(info.pending_deposit, 0);
    assert_eq!(info.balances.my_deposit, 1_000);

    // The deposit is sent and held by the ledger: pending, not yet deposited.
    let depositing = tokio::spawn({
        let a = a.clone();
        async move { a.deposit(id, 250).await }
    });
    wait_until("the deposit is pending", || {
        let a = a.clone();
        async move { a.channel_info(id).await.unwrap().pending_deposit == 250 }
    })
    .await;
    let info = a.channel_info(id).await.unwrap();
    assert_eq!(info.balances.my_deposit, 1_000);
    let listed = a.channels(Some(b.address())).await;
    assert_eq!(listed[0].pending_deposit, 250);

    // Executed and applied: deposited, no longer pending.
    gate.add_permits(1);
    depositing.await.unwrap().unwrap();
    let info = a.channel_info(id).await.unwrap();
    assert_eq!((info.pending_deposit, info.balances.my_deposit), (0, 1_250));

    // A deposit the ledger refuses stops being pending too.
    gate.add_permits(1);
    assert!(a.deposit(id, FUNDS * 10).await.is_err());
    assert_eq!(a.channel_info(id).await.unwrap().pending_deposit, 0);
}
