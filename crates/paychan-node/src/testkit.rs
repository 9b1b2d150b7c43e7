//! One harness for tests of two or more nodes (feature `testkit`): an embedded ledger on a
//! manual clock, three funded nodes A, B and C on SQLite stores in a temporary directory, an
//! in-memory connection between any two of them, a [`RawPeer`] that the test drives frame by
//! frame (a malicious or silent peer), and [`wait_until`], the one way a test waits
//! for a condition (never a fixed sleep).
//!
//! The node, RPC and HTTP tests all build on it, so a change to how a node is built or
//! connected is made once:
//!
//! ```no_run
//! # async fn example() {
//! use paychan_node::testkit::{Net, wait_until};
//!
//! let net = Net::builder().seed(40).connect_ab().build().await;
//! let id = net.a.create_channel(net.b.address(), 1_000).await.unwrap();
//! wait_until("B knows the channel", || async {
//!     net.b.channel_info(id).await.is_ok()
//! })
//! .await;
//! net.conserved();
//! # }
//! ```
//!
//! Test-support code, compiled only with the feature: it reports failures by panicking (that
//! is how a test fails), so the workspace's panic- and expect-related lints are allowed here.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arithmetic_side_effects
)]

use std::{
    future::Future,
    ops::Deref,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use paychan_core::{
    Address, Amount, ChannelId, Domain, SignedVoucher, SigningKey, Voucher,
    eip712::{Eip712, memo_of},
    wire::{self, Message},
};
use paychan_ledger::{Clock, EmbeddedLedger};
use paychan_store::{Durability, sqlite::SqliteStore};
use serde_json::json;
use tokio::sync::mpsc;

use crate::{Incoming, Node, NodeConfig, PeerConnection};

/// What each node is given on the ledger, in the native asset.
pub const FUNDS: Amount = 1_000_000;
/// The ledger clock's start, in seconds since the epoch.
pub const START: u64 = 1_700_000_000;
/// How long [`wait_until`] waits before it fails the test.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The configuration tests start from: short timeouts, a fast settle check, a 1 h challenge
/// period.
pub fn config() -> NodeConfig {
    NodeConfig {
        request_timeout: Duration::from_secs(5),
        settle_check_interval: Duration::from_millis(20),
        challenge_period: 3_600,
        ..NodeConfig::default()
    }
}

/// Waits until `done` answers true, checking every 20 ms; fails the test, naming `what`,
/// after [`PATIENCE`].
pub async fn wait_until<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !done().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {PATIENCE:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Connects two nodes by an in-memory connection, as if `a` had dialed `b`.
pub async fn connect(a: &Node, b: &Node) {
    let (to_b, to_a) = PeerConnection::pair(a.address(), b.address(), 64);
    a.connect(to_b).await;
    b.connect(to_a).await;
}

/// Answers every payment with an echo of its message and amount, or refuses it with "the
/// service failed" when the message has a `fail` field.
pub fn serve_echo(node: &Node) {
    node.set_payment_handler(|incoming: Incoming| async move {
        if incoming.message.get("fail").is_some() {
            Err("the service failed".to_string())
        } else {
            Ok(json!({ "echo": incoming.message, "paid": incoming.amount.to_string() }))
        }
    });
}

/// A node of the harness with its key and store. Derefs to [`Node`].
pub struct TestNode {
    /// The running node.
    pub node: Node,
    /// Its key.
    pub key: SigningKey,
    /// Its store, to read what it persisted.
    pub store: Arc<SqliteStore>,
    /// The store's file, to open it again after a restart.
    pub db: PathBuf,
    /// Its configuration, kept for a restart.
    pub config: NodeConfig,
}

impl Deref for TestNode {
    type Target = Node;

    fn deref(&self) -> &Node {
        &self.node
    }
}

impl TestNode {
    /// Starts a node for `key` on `ledger` with a store at `db`.
    pub async fn start(
        ledger: &EmbeddedLedger,
        key: &SigningKey,
        db: &Path,
        config: NodeConfig,
    ) -> TestNode {
        let store = Arc::new(SqliteStore::open(db, Durability::Normal).expect("open the store"));
        let node = Node::builder()
            .key(key.clone())
            .ledger(Arc::new(ledger.account(key.clone())))
            .store(store.clone())
            .config(config.clone())
            .build()
            .await
            .expect("build the node");
        TestNode {
            node,
            key: key.clone(),
            store,
            db: db.to_owned(),
            config,
        }
    }

    /// Another node on the same key and ledger, from the store at `db` (this node's own file
    /// after it stopped, or a copy taken earlier).
    pub async fn restart_from(&self, ledger: &EmbeddedLedger, db: &Path) -> TestNode {
        TestNode::start(ledger, &self.key, db, self.config.clone()).await
    }
}

/// How a [`Net`] is built: key seeds, configurations, which nodes are connected.
pub struct NetBuilder {
    seed: u8,
    configs: [NodeConfig; 3],
    connect_ab: bool,
    echo_b: bool,
}

impl NetBuilder {
    /// The keys of A, B and C come from entropy `[seed; 32]`, `[seed + 1; 32]` and
    /// `[seed + 2; 32]` (default 40).
    pub fn seed(mut self, seed: u8) -> NetBuilder {
        self.seed = seed;
        self
    }

    /// The configuration of all three nodes.
    pub fn config(mut self, config: NodeConfig) -> NetBuilder {
        self.configs = [config.clone(), config.clone(), config];
        self
    }

    /// The configuration of B only (the payee in most tests).
    pub fn config_b(mut self, config: NodeConfig) -> NetBuilder {
        self.configs[1] = config;
        self
    }

    /// Connects A and B once they are built.
    pub fn connect_ab(mut self) -> NetBuilder {
        self.connect_ab = true;
        self
    }

    /// B answers payments with [`serve_echo`].
    pub fn echo_b(mut self) -> NetBuilder {
        self.echo_b = true;
        self
    }

    /// Funds and starts the three nodes.
    pub async fn build(self) -> Net {
        let ledger = EmbeddedLedger::in_memory(Clock::manual(START));
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut nodes = Vec::with_capacity(3);
        for (i, (name, config)) in ["a", "b", "c"].into_iter().zip(self.configs).enumerate() {
            let key = SigningKey::from_entropy(&[self.seed.wrapping_add(i as u8); 32])
                .expect("a valid test key");
            ledger
                .faucet(key.address(), Address::ZERO, FUNDS)
                .expect("fund the node");
            let db = dir.path().join(format!("{name}.db"));
            nodes.push(TestNode::start(&ledger, &key, &db, config).await);
        }
        let [a, b, c] = <[TestNode; 3]>::try_from(nodes).unwrap_or_else(|_| unreachable!());
        if self.connect_ab {
            connect(&a, &b).await;
        }
        if self.echo_b {
            serve_echo(&b);
        }
        Net {
            ledger,
            a,
            b,
            c,
            dir,
        }
    }
}

/// Three funded nodes on one embedded ledger.
pub struct Net {
    /// The ledger, its clock manual (`ledger.clock().advance(..)`).
    pub ledger: EmbeddedLedger,
    /// The payer in most tests.
    pub a: TestNode,
    /// The payee in most tests.
    pub b: TestNode,
    /// A third party.
    pub c: TestNode,
    /// Where the stores live; dropped with the net.
    pub dir: tempfile::TempDir,
}

impl Net {
    /// A builder with seed 40, [`config`] for every node, nothing connected.
    pub fn builder() -> NetBuilder {
        NetBuilder {
            seed: 40,
            configs: [config(), config(), config()],
            connect_ab: false,
            echo_b: false,
        }
    }

    /// What `who` holds on the ledger, outside channels, in the native asset.
    pub fn balance(&self, who: Address) -> Amount {
        self.ledger
            .balance_of(who, Address::ZERO)
            .expect("the ledger answers")
    }

    /// Asserts that the ledger holds exactly the native asset it ever minted: no money was
    /// created or destroyed.
    pub fn conserved(&self) {
        assert_eq!(
            self.ledger
                .total(Address::ZERO)
                .expect("the ledger answers"),
            self.ledger
                .supply(Address::ZERO)
                .expect("the ledger answers"),
            "the ledger's holdings differ from its supply"
        );
    }
}

/// A peer driven by the test frame by frame, over an in-memory connection to a node: it sends
/// what the test writes, forged or not, and shows what the node answers.
pub struct RawPeer {
    /// The peer's key, to sign what it sends.
    pub key: SigningKey,
    to_node: mpsc::Sender<Vec<u8>>,
    from_node: mpsc::Receiver<Vec<u8>>,
}

impl RawPeer {
    /// Connects a peer with key `key` to `node`, 64 frames buffered each way.
    pub async fn connect(node: &Node, key: SigningKey) -> RawPeer {
        RawPeer::connect_with_capacity(node, key, 64).await
    }

    /// Connects a peer with key `key` to `node`, `capacity` frames buffered each way.
    pub async fn connect_with_capacity(node: &Node, key: SigningKey, capacity: usize) -> RawPeer {
        // `pair(a, b)` gives a's view of b first: the node's view of the raw peer.
        let (node_side, raw_side) = PeerConnection::pair(node.address(), key.address(), capacity);
        node.connect(node_side).await;
        RawPeer {
            key,
            to_node: raw_side.outgoing,
            from_node: raw_side.incoming,
        }
    }

    /// Sends `message` to the node.
    pub async fn send(&self, message: &Message) {
        self.send_frame(wire::encode(message).expect("an encodable message"))
            .await;
    }

    /// A sender of raw frames to the node, for a task that sends while the test reads.
    pub fn sender(&self) -> mpsc::Sender<Vec<u8>> {
        self.to_node.clone()
    }

    /// Sends raw bytes as one frame, well formed or not.
    pub async fn send_frame(&self, frame: Vec<u8>) {
        self.to_node
            .send(frame)
            .await
            .expect("the node's side of the connection is open");
    }

    /// The next message from the node that is not a counter sync or a keep-alive; fails the
    /// test after 10 s.
    pub async fn next(&mut self) -> Message {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.from_node.recv())
                .await
                .expect("the node sends a message within 10 s")
                .expect("the connection is open");
            match wire::decode(&frame).expect("the node sends well-formed frames") {
                Message::CounterSync { .. } | Message::Ping { .. } | Message::Pong { .. } => {}
                other => return other,
            }
        }
    }

    /// A voucher on `id` signed by this peer, paying `cumulative` in all at `sequence`, for
    /// a call whose body is `body`.
    pub fn voucher(
        &self,
        id: ChannelId,
        domain: &Domain,
        cumulative: Amount,
        sequence: u64,
        body: &[u8],
    ) -> SignedVoucher {
        let voucher = Voucher {
            channel_id: id,
            payer: self.key.address(),
            cumulative,
            sequence,
            memo: memo_of(body),
        };
        SignedVoucher {
            signature: voucher.sign(domain, &self.key),
            voucher,
        }
    }
}
