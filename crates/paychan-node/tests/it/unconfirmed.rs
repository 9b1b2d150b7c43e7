//! Payments accepted ahead of unconfirmed deposits, within the per-channel and total limits
//! of `UnconfirmedCredit`. B's ledger handle shows A's new deposits as unconfirmed (its
//! confirmed record and event stream leave them out, its `channel_unconfirmed` shows them)
//! until the test confirms them, as an Ethereum ledger does until the confirmation depth.

use std::{
    collections::HashMap,
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use futures::StreamExt;
use paychan_core::{
    Address, Amount, ChannelId, ChannelParams, Domain, Role, Settlement, SignedVoucher, SigningKey,
    Withdrawal,
    adjudicator::{ChannelRecord, LedgerEvent},
    channel::CoSigned,
};
use paychan_ledger::{
    Clock, EmbeddedAccount, EmbeddedLedger, EventStream, LedgerClose, LedgerError, LedgerEvents,
    LedgerFunding, LedgerQuery, LedgerWithdraw, Receipt,
};
use paychan_node::{
    Node, NodeConfig, NodeError, PeerConnection, UnconfirmedCredit, testkit::wait_until,
};
use paychan_store::{Durability, sqlite::SqliteStore};
use serde_json::json;

const FUNDS: Amount = 1_000_000;

/// Per channel: the party whose deposits are unconfirmed, and its confirmed total.
type Hidden = Arc<Mutex<HashMap<ChannelId, (Role, Amount)>>>;

/// B's view of the ledger, with some of A's deposits not yet confirmed.
#[derive(Clone)]
struct Unconfirming {
    inner: EmbeddedAccount,
    hidden: Hidden,
}

impl Unconfirming {
    fn confirmed(&self, mut record: ChannelRecord) -> ChannelRecord {
        if let Some((role, total)) = self
            .hidden
            .lock()
            .unwrap()
            .get(&record.params.id(&self.inner.ledger().domain()))
        {
            *record.deposited.get_mut(*role) = (*total).min(record.deposited.at(*role));
        }
        record
    }
}

#[async_trait]
impl LedgerQuery for Unconfirming {
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
        Ok(self.inner.channel(id).await?.map(|r| self.confirmed(r)))
    }
    async fn channel_unconfirmed(
        &self,
        id: ChannelId,
    ) -> Result<Option<ChannelRecord>, LedgerError> {
        self.inner.channel(id).await
    }
}

#[async_trait]
impl LedgerFunding for Unconfirming {
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
        self.inner.deposit(id, party, amount).await
    }
}

#[async_trait]
impl LedgerWithdraw for Unconfirming {
    async fn withdraw(&self, certificate: &CoSigned<Withdrawal>) -> Result<Receipt, LedgerError> {
        self.inner.withdraw(certificate).await
    }
}

#[async_trait]
impl LedgerClose for Unconfirming {
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
impl LedgerEvents for Unconfirming {
    async fn events(&self, from: u64) -> Result<EventStream, LedgerError> {
        let hidden = self.hidden.clone();
        let stream = self.inner.events(from).await?.filter(move |record| {
            // An unconfirmed deposit's event is not delivered (the node learns the deposit
            // from the confirmed record once it confirms).
            let keep = match record {
                Ok(r) => match &r.event {
                    LedgerEvent::Deposited {
                        channel_id,
                        party,
                        total,
                        ..
                    } => !hidden
                        .lock()
                        .unwrap()
                        .get(channel_id)
                        .is_some_and(|(role, confirmed)| role == party && total > confirmed),
                    _ => true,
                },
                Err(_) => true,
            };
            std::future::ready(keep)
        });
        Ok(Box::pin(stream))
    }
}

async fn node(
    ledger: Arc<dyn paychan_ledger::Ledger>,
    key: &SigningKey,
    db: &Path,
    credit: UnconfirmedCredit,
) -> Node {
    Node::builder()
        .key(key.clone())
        .ledger(ledger)
        .store(Arc::new(SqliteStore::open(db, Durability::Normal).unwrap()))
        .config(NodeConfig {
            request_timeout: Duration::from_secs(5),
            settle_check_interval: Duration::from_millis(20),
            challenge_period: 3_600,
            unconfirmed_credit: credit,
            ..NodeConfig::default()
        })
        .build()
        .await
        .unwrap()
}

/// A and B connected on one embedded ledger, each funded; B sees the ledger through
/// [`Unconfirming`] and gives `credit`.
struct Pair {
    ledger: EmbeddedLedger,
    a: Node,
    b: Node,
    hidden: Hidden,
    _dir: tempfile::TempDir,
}

impl Pair {
    async fn new(seed: u8, credit: UnconfirmedCredit) -> Pair {
        let ledger = EmbeddedLedger::in_memory(Clock::manual(1_700_000_000));
        let ka = SigningKey::from_entropy(&[seed; 32]).unwrap();
        let kb = SigningKey::from_entropy(&[seed + 1; 32]).unwrap();
        for k in [&ka, &kb] {
            ledger.faucet(k.address(), Address::ZERO, FUNDS).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let hidden: Hidden = Arc::default();
        let b_view = Unconfirming {
            inner: ledger.account(kb.clone()),
            hidden: hidden.clone(),
        };
        let a_view = Arc::new(ledger.account(ka.clone()));
        let a = node(
            a_view,
            &ka,
            &dir.path().join("a.db"),
            UnconfirmedCredit::default(),
        )
        .await;
        let b = node(Arc::new(b_view), &kb, &dir.path().join("b.db"), credit).await;
        let (to_b, to_a) = PeerConnection::pair(a.address(), b.address(), 64);
        a.connect(to_b).await;
        b.connect(to_a).await;
        Pair {
            ledger,
            a,
            b,
            hidden,
            _dir: dir,
        }
    }
}

/// A pays `amount`; answers whether B took it (a refusal must be B's over-balance one).
async fn pays(a: &Node, id: ChannelId, amount: Amount) -> bool {
    match a
        .send_message_and_pay(id, &json!({ "n": amount }), amount)
        .await
    {
        Ok(_) => true,
        Err(NodeError::PeerRefused { message, .. })
            if message.contains("exceeds the payer's limit") =>
        {
            false
        }
        Err(e) => panic!("unexpected error: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_run_ahead_of_unconfirmed_deposits_within_the_limits() {
    let Pair {
        ledger,
        a,
        b,
        hidden,
        _dir,
    } = Pair::new(
        71,
        UnconfirmedCredit {
            per_channel: 300,
            total: 400,
        },
    )
    .await;

    // Channel 1: 1,000 confirmed, then 500 more that B sees unconfirmed.
    let one = a.create_channel(b.address(), 1_000).await.unwrap();
    hidden.lock().unwrap().insert(one, (Role::A, 1_000));
    a.deposit(one, 500).await.unwrap();
    assert!(pays(&a, one, 1_000).await);
    // 200 over the confirmed funds: within the 300 of credit.
    assert!(pays(&a, one, 200).await);
    // 150 more would put 350 at risk: refused, and counted by neither side.
    assert!(!pays(&a, one, 150).await);
    assert_eq!(
        a.channel_info(one).await.unwrap().balances.paid_by_me,
        1_200
    );
    assert_eq!(
        b.channel_info(one).await.unwrap().balances.paid_by_peer,
        1_200
    );

    // Channel 2: the total limit (400) leaves 200 while channel 1 has 200 at risk.
    let two = a.create_channel(b.address(), 100).await.unwrap();
    hidden.lock().unwrap().insert(two, (Role::A, 100));
    a.deposit(two, 400).await.unwrap();
    assert!(pays(&a, two, 100).await);
    assert!(!pays(&a, two, 250).await, "over the total limit");
    assert!(pays(&a, two, 150).await);

    // Channel 1's deposit confirms: B checks the confirmed record before refusing, so its
    // risk there ends and A can spend the whole deposit.
    hidden.lock().unwrap().remove(&one);
    assert!(pays(&a, one, 300).await);
    assert_eq!(
        b.channel_info(one).await.unwrap().balances.peer_deposit,
        1_500
    );
    // Channel 1 has nothing at risk now, so channel 2 may use up to its own limit.
    assert!(pays(&a, two, 100).await);
    assert!(!pays(&a, two, 100).await, "over the per-channel limit");

    // Channel 2's deposit confirms too; both close cooperatively and the ledger pays what
    // the accepted payments say.
    hidden.lock().unwrap().remove(&two);
    assert!(pays(&a, two, 1).await);
    assert!(a.close(one).await.unwrap());
    assert!(a.close(two).await.unwrap());
    let paid: Amount = 1_000 + 200 + 300 + 100 + 150 + 100 + 1;
    assert_eq!(
        ledger.balance_of(a.address(), Address::ZERO).unwrap(),
        FUNDS - paid
    );
    assert_eq!(
        ledger.balance_of(b.address(), Address::ZERO).unwrap(),
        FUNDS + paid
    );
    assert_eq!(
        ledger.total(Address::ZERO).unwrap(),
        ledger.supply(Address::ZERO).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_credit_a_payee_waits_for_confirmation() {
    let Pair { a, b, hidden, .. } = Pair::new(73, UnconfirmedCredit::default()).await;
    let id = a.create_channel(b.address(), 100).await.unwrap();
    hidden.lock().unwrap().insert(id, (Role::A, 100));
    a.deposit(id, 100).await.unwrap();
    assert!(!pays(&a, id, 101).await);
    hidden.lock().unwrap().remove(&id);
    assert!(pays(&a, id, 101).await);
}

/// The limits and the minimum wait changed at run time (aa-channels' setters): credit off
/// by configuration, then given, then held back by a minimum wait, then off again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credit_limits_and_the_minimum_wait_change_at_run_time() {
    let Pair { a, b, hidden, .. } = Pair::new(75, UnconfirmedCredit::default()).await;
    let id = a.create_channel(b.address(), 100).await.unwrap();
    hidden.lock().unwrap().insert(id, (Role::A, 100));
    a.deposit(id, 500).await.unwrap();
    assert!(!pays(&a, id, 150).await, "no credit by configuration");

    let (limits, wait) = b.set_unconfirmed_credit(Some(100), Some(1_000), None);
    assert_eq!((limits.per_channel, limits.total, wait), (100, 1_000, 0));
    assert!(pays(&a, id, 150).await, "50 on credit");
    assert!(!pays(&a, id, 60).await, "over the per-channel limit");

    // A new unconfirmed deposit must wait an hour before it backs credit.
    b.set_unconfirmed_credit(Some(1_000), None, Some(3_600));
    a.deposit(id, 500).await.unwrap();
    assert!(!pays(&a, id, 100).await, "the new deposit has not waited");
    b.set_unconfirmed_credit(None, None, Some(0));
    assert!(pays(&a, id, 100).await);

    b.set_unconfirmed_credit(Some(0), None, None);
    assert_eq!(b.unconfirmed_credit().0.per_channel, 0);
    assert!(!pays(&a, id, 500).await, "credit off again");
}

/// A withdrawal from a deposit the co-signer's watcher never reported: B reads the ledger's
/// confirmed deposits before refusing it as over A's funds, and co-signs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawal_from_a_deposit_the_watcher_missed_is_co_signed() {
    let Pair {
        ledger,
        a,
        b,
        hidden,
        _dir,
    } = Pair::new(75, UnconfirmedCredit::default()).await;
    let id = a.create_channel(b.address(), 100).await.unwrap();
    let marker = a.create_channel(b.address(), 1).await.unwrap();
    // A deposits 50 more while B's view holds it back: B's watcher drops its event.
    hidden.lock().unwrap().insert(id, (Role::A, 100));
    a.deposit(id, 50).await.unwrap();
    // A later event that B does see: once B has it, the hidden one was dropped before it.
    a.deposit(marker, 1).await.unwrap();
    wait_until(
        "B's watcher sees the deposit into the marker channel",
        || async { b.channel_info(marker).await.unwrap().balances.peer_deposit == 2 },
    )
    .await;
    // The deposit confirms, but no event will tell B.
    hidden.lock().unwrap().remove(&id);
    assert_eq!(b.channel_info(id).await.unwrap().balances.peer_deposit, 100);

    a.withdraw(id, 150).await.unwrap();
    assert_eq!(b.channel_info(id).await.unwrap().balances.peer_deposit, 150);
    assert_eq!(
        ledger.balance_of(a.address(), Address::ZERO).unwrap(),
        FUNDS - 100 - 1 - 50 - 1 + 150
    );
    assert_eq!(
        ledger.balance_of(b.address(), Address::ZERO).unwrap(),
        FUNDS
    );
}
