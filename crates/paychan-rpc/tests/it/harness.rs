//! Two nodes, their API servers, clients, and a dialer that wires in-memory connections.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use jsonrpsee::{
    core::{ClientError, client::ClientT},
    http_client::HttpClient,
    ws_client::WsClient,
};
use paychan_core::{Address, Amount, SigningKey};
use paychan_ledger::{Clock, EmbeddedLedger, LedgerQuery};
use paychan_node::{
    Incoming, Node, NodeConfig,
    testkit::{self, TestNode},
};
use paychan_rpc::{
    DialError, Dialer, RpcConfig, RpcServer, RpcServerBuilder,
    aa_compat::AaCompatConfig,
    client::{self, Named},
    error::ErrorData,
};
use serde_json::{Value, json};

pub const TOKEN: &str = "test-token-0123456789abcdef";
pub const ALLOWED_ORIGIN: &str = "https://app.example";
pub use paychan_node::testkit::{FUNDS, START};

/// A `HOST:PORT` the test dialer treats like `memory` (a peer URL must have a host and port).
pub const MEMORY_ENDPOINT: &str = "127.0.0.1:9";

/// The answer of a node whose remote handler is not subscribed.
pub const DEFAULT_RESPONSE: &str = "no handler here";

fn config(handler_timeout: Duration) -> NodeConfig {
    NodeConfig {
        handler_timeout,
        default_response: json!(DEFAULT_RESPONSE),
        ..testkit::config()
    }
}

async fn node(
    ledger: &EmbeddedLedger,
    key: &SigningKey,
    db: &std::path::Path,
    handler_timeout: Duration,
) -> Node {
    TestNode::start(ledger, key, db, config(handler_timeout))
        .await
        .node
}

/// Connects two nodes with an in-memory connection.
pub use paychan_node::testkit::connect as wire;

/// A dialer that "dials" the other in-process nodes it knows.
pub struct TestDialer {
    me: Node,
    others: Mutex<HashMap<Address, Node>>,
    pub dials: Mutex<Vec<String>>,
}

#[async_trait]
impl Dialer for TestDialer {
    async fn dial(&self, peer_url: &str) -> Result<Address, DialError> {
        self.dials.lock().unwrap().push(peer_url.to_owned());
        let (address, endpoint) = peer_url
            .split_once('@')
            .ok_or_else(|| DialError::BadAddress(format!("{peer_url:?} has no '@'")))?;
        let address: Address = address
            .parse()
            .map_err(|_| DialError::BadAddress(format!("bad address in {peer_url:?}")))?;
        if endpoint != "memory" && endpoint != MEMORY_ENDPOINT {
            return Err(DialError::Failed(format!("nothing listens at {endpoint}")));
        }
        let other = self.others.lock().unwrap().get(&address).cloned();
        let other = other.ok_or_else(|| DialError::Failed(format!("no node {address}")))?;
        if !self.me.is_connected(address) {
            wire(&self.me, &other).await;
        }
        Ok(address)
    }

    async fn dial_known(&self, peer: Address) -> Result<bool, DialError> {
        let other = self.others.lock().unwrap().get(&peer).cloned();
        match other {
            Some(other) => {
                wire(&self.me, &other).await;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn listen_addresses(&self) -> Vec<String> {
        vec![format!("{}@memory", self.me.address())]
    }
}

pub struct Net {
    pub ledger: EmbeddedLedger,
    pub a: Node,
    pub b: Node,
    pub rpc_a: RpcServer,
    pub rpc_b: RpcServer,
    pub dialer_a: Arc<TestDialer>,
    _dir: tempfile::TempDir,
}

async fn serve(
    node: &Node,
    ledger: &EmbeddedLedger,
    key: &SigningKey,
    dialer: Arc<TestDialer>,
    remote_handler: bool,
) -> RpcServer {
    let config = RpcConfig::new(TOKEN)
        .with_listen("127.0.0.1:0".parse().unwrap())
        .with_allowed_origins(vec![ALLOWED_ORIGIN.to_owned()]);
    let query: Arc<dyn LedgerQuery> = Arc::new(ledger.account(key.clone()));
    let builder = RpcServerBuilder::new(node.clone(), config)
        .ledger(query)
        .dialer(dialer)
        .aa_compat(AaCompatConfig::default().with_listen("127.0.0.1:0".parse().unwrap()));
    let builder = if remote_handler {
        builder.remote_payment_handler()
    } else {
        builder
    };
    builder.start().await.unwrap()
}

impl Net {
    /// Two funded nodes, connected unless `connected` is false, each served by the API.
    pub async fn new(connected: bool) -> Net {
        Net::build(connected, None).await
    }

    /// Two connected nodes; B's payments are answered by the remote handler of its API,
    /// which B waits for up to `handler_timeout`.
    pub async fn with_remote_handler(handler_timeout: Duration) -> Net {
        Net::build(true, Some(handler_timeout)).await
    }

    async fn build(connected: bool, remote_handler: Option<Duration>) -> Net {
        let handler_timeout = remote_handler.unwrap_or(Duration::from_secs(20));
        let ledger = EmbeddedLedger::in_memory(Clock::manual(START));
        let ka = SigningKey::from_entropy(&[51; 32]).unwrap();
        let kb = SigningKey::from_entropy(&[52; 32]).unwrap();
        for k in [&ka, &kb] {
            ledger.faucet(k.address(), Address::ZERO, FUNDS).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let a = node(&ledger, &ka, &dir.path().join("a.db"), handler_timeout).await;
        let b = node(&ledger, &kb, &dir.path().join("b.db"), handler_timeout).await;
        if connected {
            wire(&a, &b).await;
        }
        testkit::serve_echo(&b);
        a.set_payment_handler(|_: Incoming| async { Ok(json!("thanks")) });
        let dialer_a = Arc::new(TestDialer {
            me: a.clone(),
            others: Mutex::new(HashMap::from([(b.address(), b.clone())])),
            dials: Mutex::new(vec![]),
        });
        let dialer_b = Arc::new(TestDialer {
            me: b.clone(),
            others: Mutex::new(HashMap::from([(a.address(), a.clone())])),
            dials: Mutex::new(vec![]),
        });
        let rpc_a = serve(&a, &ledger, &ka, dialer_a.clone(), false).await;
        let rpc_b = serve(&b, &ledger, &kb, dialer_b, remote_handler.is_some()).await;
        Net {
            ledger,
            a,
            b,
            rpc_a,
            rpc_b,
            dialer_a,
            _dir: dir,
        }
    }

    /// A client of A's aa-channels compatibility listener.
    pub fn aa_a(&self) -> HttpClient {
        client::http(&self.rpc_a.aa_url().unwrap(), TOKEN).unwrap()
    }

    /// A client of B's aa-channels compatibility listener.
    pub fn aa_b(&self) -> HttpClient {
        client::http(&self.rpc_b.aa_url().unwrap(), TOKEN).unwrap()
    }

    pub fn http_a(&self) -> HttpClient {
        client::http(&self.rpc_a.url(), TOKEN).unwrap()
    }

    pub fn http_b(&self) -> HttpClient {
        client::http(&self.rpc_b.url(), TOKEN).unwrap()
    }

    pub async fn ws_a(&self) -> WsClient {
        client::ws(&self.rpc_a.ws_url(), TOKEN).await.unwrap()
    }

    pub async fn ws_b(&self) -> WsClient {
        client::ws(&self.rpc_b.ws_url(), TOKEN).await.unwrap()
    }

    pub fn balance(&self, who: Address) -> Amount {
        self.ledger.balance_of(who, Address::ZERO).unwrap()
    }

    pub fn conserved(&self) {
        assert_eq!(
            self.ledger.total(Address::ZERO).unwrap(),
            self.ledger.supply(Address::ZERO).unwrap()
        );
    }

    /// Everything observable that a refused call must leave unchanged.
    pub async fn snapshot(&self) -> Value {
        let a: Vec<_> = self.a.channels(None).await;
        let b: Vec<_> = self.b.channels(None).await;
        json!({
            "a": serde_json::to_value(a).unwrap(),
            "b": serde_json::to_value(b).unwrap(),
            "balance_a": self.balance(self.a.address()).to_string(),
            "balance_b": self.balance(self.b.address()).to_string(),
        })
    }
}

/// Calls `method` with `params` (a JSON object or array).
pub async fn call<C: ClientT + Sync>(
    client: &C,
    method: &str,
    params: Value,
) -> Result<Value, ClientError> {
    client.request(method, Named(params)).await
}

/// Calls and expects success.
pub async fn ok<C: ClientT + Sync>(client: &C, method: &str, params: Value) -> Value {
    match call(client, method, params.clone()).await {
        Ok(v) => v,
        Err(e) => panic!("{method} {params} failed: {e}"),
    }
}

/// Calls and expects an error: returns `(error.code, error.data)`.
pub async fn err<C: ClientT + Sync>(client: &C, method: &str, params: Value) -> (i32, ErrorData) {
    match call(client, method, params.clone()).await {
        Ok(v) => panic!("{method} {params} succeeded with {v}, expected an error"),
        Err(ClientError::Call(object)) => {
            let data = paychan_rpc::error::error_data(&object)
                .unwrap_or_else(|| panic!("{method} {params}: no paychan error in {object:?}"));
            (object.code(), data)
        }
        Err(other) => panic!("{method} {params}: transport error {other}"),
    }
}

/// Waits until `channel_info` of `id` on `client` has `status`.
pub async fn wait_status<C: ClientT + Sync>(client: &C, id: &Value, status: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let info = ok(client, "channel_info", json!({ "channel_id": id })).await;
        if info["status"] == status {
            return info;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "status stays {} (wanted {status})",
            info["status"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
