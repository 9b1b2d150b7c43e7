//! The data directory of a node and its `config.toml`: where everything lives, the commented
//! file `paychan init` writes, and its strict loading (an unknown key, a wrong type or an
//! inconsistent value is an error naming the field, and nothing is started).
//!
//! Layout of a data directory (default `~/.paychan`, or `./paychan-data` when there is no
//! home directory; `--data-dir` or `PAYCHAN_DATA_DIR` choose another):
//!
//! | file | what |
//! |---|---|
//! | `config.toml` | the configuration below |
//! | `keystore.json` | the node key, Ethereum V3 keystore (or `node.key`, plaintext, development only) |
//! | `rpc.token` | the API's bearer token, mode 0600 |
//! | `node.db` | the SQLite store of channel states |

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result, bail};
use paychan_core::{Address, Amount};
use paychan_net::{Endpoint, PeerAddr, WsUrl};
use paychan_node::{ChannelPolicy, NodeConfig};
use paychan_rpc::params::AmountParam;
use paychan_store::Durability;
use serde::Deserialize;

/// The configuration file's name in the data directory.
pub(crate) const CONFIG_FILE: &str = "config.toml";
/// The encrypted key file's default name.
pub(crate) const KEYSTORE_FILE: &str = "keystore.json";
/// The plaintext key file's default name (`--insecure-plaintext-key`).
pub(crate) const PLAINTEXT_KEY_FILE: &str = "node.key";
/// The token file's default name.
pub(crate) const TOKEN_FILE: &str = "rpc.token";
/// Seconds a channel proposal waits for a decision over the API: below the 30 s proposers
/// wait by default (`node.request_timeout`), so the proposer hears the verdict.
pub(crate) const DEFAULT_DECISION_TIMEOUT: u64 = 20;

/// Default addresses: the API, the ledger served by `paychan ledger serve`, peers over TCP.
pub(crate) const DEFAULT_RPC_LISTEN: &str = "127.0.0.1:6333";
pub(crate) const DEFAULT_LEDGER_URL: &str = "http://127.0.0.1:6334";
pub(crate) const DEFAULT_PEER_TCP: &str = "127.0.0.1:6335";

/// The data directory: `--data-dir` / `PAYCHAN_DATA_DIR`, else `~/.paychan`, else
/// `./paychan-data`.
pub(crate) fn data_dir(given: Option<&Path>) -> PathBuf {
    if let Some(dir) = given {
        return dir.to_path_buf();
    }
    match std::env::var_os("HOME") {
        Some(home) if !home.is_empty() => PathBuf::from(home).join(".paychan"),
        _ => PathBuf::from("paychan-data"),
    }
}

/// `config.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Config {
    pub(crate) node: NodeSection,
    pub(crate) rpc: RpcSection,
    pub(crate) ledger: LedgerSection,
    pub(crate) store: StoreSection,
    pub(crate) policy: PolicySection,
    /// `[metrics]`: the operator's endpoints (`crate::ops`).
    pub(crate) metrics: crate::ops::MetricsSection,
    /// `[log]`: levels per module, format, file (`crate::logging`).
    pub(crate) log: crate::logging::LogSection,
}

/// `[node]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct NodeSection {
    /// Where peers connect over TCP (`None`: not listening). Missing means not listening,
    /// as the template says ("comment a line out to not listen"): a node reachable only
    /// through `relays` comments both listen lines out.
    #[serde(default)]
    pub(crate) listen_tcp: Option<SocketAddr>,
    /// Where peers connect over WebSocket.
    pub(crate) listen_ws: Option<SocketAddr>,
    /// Peers kept connected (`ADDRESS@HOST:PORT`, `ADDRESS@ws://...`).
    pub(crate) peers: Vec<String>,
    /// Relays the node stays registered at (`wss://HOST/PATH`), so peers reach it as
    /// `ADDRESS@relay+wss://HOST/PATH` without an open port.
    pub(crate) relays: Vec<String>,
    /// The key file, relative to the data directory.
    pub(crate) key_file: PathBuf,
    /// Challenge period of the channels this node opens, seconds.
    pub(crate) challenge_period: u64,
    /// Seconds to wait for a peer's answer.
    pub(crate) request_timeout: u64,
    /// Seconds the payment handler may take.
    pub(crate) handler_timeout: u64,
    /// Validity of withdrawal certificates, seconds of ledger time.
    pub(crate) withdrawal_validity: u64,
    /// Seconds a channel may stay proposed without the ledger opening it.
    pub(crate) proposal_expiry: u64,
    /// The answer to incoming payments when no handler is registered.
    pub(crate) default_response: Option<serde_json::Value>,
    /// The most messages of one peer handled at once (reads from it pause beyond).
    pub(crate) max_requests_per_peer: u64,
    /// A YAML contacts file the node loads and reloads when it changes (relative to the
    /// data directory).
    pub(crate) contacts_file: Option<PathBuf>,
}

impl NodeSection {
    /// The relays of `relays`, each `ws(s)://HOST[:PORT][/PATH][?token=TOKEN]` (a
    /// `relay+` prefix is accepted too).
    pub(crate) fn relay_urls(&self) -> Result<Vec<WsUrl>> {
        self.relays
            .iter()
            .enumerate()
            .map(|(i, relay)| {
                let url = relay.strip_prefix("relay+").unwrap_or(relay);
                match url.parse::<Endpoint>() {
                    Ok(Endpoint::WebSocket(url)) => Ok(url),
                    Ok(_) => bail!("node.relays[{i}] = {relay:?}: expected a ws:// or wss:// URL"),
                    Err(e) => bail!("node.relays[{i}] = {relay:?}: {e}"),
                }
            })
            .collect()
    }
}

impl Default for NodeSection {
    fn default() -> Self {
        let node = NodeConfig::default();
        NodeSection {
            listen_tcp: DEFAULT_PEER_TCP.parse().ok(),
            listen_ws: None,
            peers: vec![],
            relays: vec![],
            key_file: PathBuf::from(KEYSTORE_FILE),
            challenge_period: node.challenge_period,
            request_timeout: node.request_timeout.as_secs(),
            handler_timeout: node.handler_timeout.as_secs(),
            withdrawal_validity: node.withdrawal_validity,
            proposal_expiry: node.proposal_expiry.as_secs(),
            default_response: None,
            max_requests_per_peer: u64::try_from(node.max_requests_per_peer).unwrap_or(u64::MAX),
            contacts_file: None,
        }
    }
}

/// `[rpc]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RpcSection {
    pub(crate) listen: SocketAddr,
    pub(crate) token_file: PathBuf,
    pub(crate) allowed_origins: Vec<String>,
    pub(crate) max_request_body_size: u32,
    pub(crate) max_batch_len: u32,
    pub(crate) max_connections: u32,
    /// Whether channel proposals wait for a decision over the API (`paychan channel
    /// accept`/`reject`) instead of being decided by the policy alone.
    pub(crate) proposal_decisions: bool,
    /// Seconds a proposal waits for that decision before it is rejected.
    pub(crate) decision_timeout: u64,
    /// `[rpc.aa]`: the aa-channels compatibility listener, off without the section.
    pub(crate) aa: Option<AaSection>,
    /// Where to serve the gRPC API (same tokens and scopes); off when absent.
    pub(crate) grpc_listen: Option<SocketAddr>,
}

/// `[rpc.aa]`: a second listener speaking aa-channels' RPC (docs/AA_CHANNELS.md).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct AaSection {
    pub(crate) listen: SocketAddr,
    pub(crate) allow_unauthenticated_loopback: bool,
}

impl Default for AaSection {
    fn default() -> Self {
        let defaults = paychan_rpc::aa_compat::AaCompatConfig::default();
        AaSection {
            listen: defaults.listen,
            allow_unauthenticated_loopback: defaults.allow_unauthenticated_loopback,
        }
    }
}

impl AaSection {
    /// The listener's settings.
    pub(crate) fn config(&self) -> paychan_rpc::aa_compat::AaCompatConfig {
        paychan_rpc::aa_compat::AaCompatConfig::default()
            .with_listen(self.listen)
            .with_unauthenticated_loopback(self.allow_unauthenticated_loopback)
    }
}

impl Default for RpcSection {
    fn default() -> Self {
        let defaults = paychan_rpc::RpcConfig::new("");
        RpcSection {
            listen: defaults.listen,
            token_file: PathBuf::from(TOKEN_FILE),
            allowed_origins: vec![],
            max_request_body_size: defaults.max_request_body_size,
            max_batch_len: defaults.max_batch_len,
            max_connections: defaults.max_connections,
            proposal_decisions: false,
            decision_timeout: DEFAULT_DECISION_TIMEOUT,
            aa: None,
            grpc_listen: None,
        }
    }
}

/// The ledger backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum LedgerKind {
    /// An embedded ledger served by `paychan ledger serve`, reached over JSON-RPC.
    EmbeddedRemote,
    /// The `PaychanAdjudicator` contract on an Ethereum chain (`paychan eth deploy`).
    Ethereum,
}

/// `[ledger]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct LedgerSection {
    pub(crate) kind: LedgerKind,
    /// `embedded-remote`: the served ledger's URL.
    pub(crate) url: String,
    /// `ethereum`: the node's JSON-RPC endpoint.
    pub(crate) rpc_url: Option<String>,
    /// `ethereum`: the adjudicator's address.
    pub(crate) contract: Option<Address>,
    /// `ethereum`: the chain id the endpoint must report.
    pub(crate) chain_id: Option<u64>,
    /// `ethereum`: blocks on top of a transaction (itself included) before it counts.
    pub(crate) confirmations: u64,
    /// `ethereum`: the deployment block, where the event scan starts.
    pub(crate) start_block: u64,
    /// `ethereum`: seconds between blocks (with `confirmations`, how long a close takes to
    /// reach the watcher: the node refuses challenge periods it could not defend).
    pub(crate) block_time: u64,
    /// `ethereum`: seconds a transaction may wait before a block includes it.
    pub(crate) inclusion_delay: u64,
}

impl Default for LedgerSection {
    fn default() -> Self {
        LedgerSection {
            kind: LedgerKind::EmbeddedRemote,
            url: DEFAULT_LEDGER_URL.to_owned(),
            rpc_url: None,
            contract: None,
            chain_id: None,
            confirmations: 3,
            start_block: 0,
            block_time: 12,
            inclusion_delay: 120,
        }
    }
}

impl LedgerSection {
    /// The Ethereum ledger's configuration (`kind = "ethereum"`), its event index kept in
    /// `dir/eth-index`.
    pub(crate) fn eth_config(&self, dir: &Path) -> Result<paychan_eth::EthConfig> {
        let (Some(rpc_url), Some(contract), Some(chain_id)) =
            (&self.rpc_url, self.contract, self.chain_id)
        else {
            bail!(
                "ledger.kind = \"ethereum\" needs ledger.rpc_url, ledger.contract and ledger.chain_id"
            );
        };
        let mut config = paychan_eth::EthConfig::new(rpc_url.trim(), contract, chain_id);
        config.confirmations = self.confirmations;
        config.start_block = self.start_block;
        config.block_time = std::time::Duration::from_secs(self.block_time);
        config.inclusion_delay = std::time::Duration::from_secs(self.inclusion_delay);
        config.index_dir = Some(dir.join("eth-index"));
        Ok(config)
    }

    /// Where the ledger is, for messages.
    pub(crate) fn describe(&self) -> String {
        match self.kind {
            LedgerKind::EmbeddedRemote => self.url.clone(),
            LedgerKind::Ethereum => format!(
                "{} on {} (chain {})",
                self.contract.map(|c| c.to_string()).unwrap_or_default(),
                self.rpc_url.as_deref().unwrap_or_default(),
                self.chain_id.unwrap_or_default()
            ),
        }
    }
}

/// `durability` of `[store]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DurabilityConfig {
    /// Survives a crash of the process.
    #[default]
    Normal,
    /// Survives a power loss (an fsync per commit group).
    Full,
}

/// `[store]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct StoreSection {
    pub(crate) path: PathBuf,
    pub(crate) durability: DurabilityConfig,
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection {
            path: PathBuf::from("node.db"),
            durability: DurabilityConfig::Normal,
        }
    }
}

impl StoreSection {
    pub(crate) fn durability(&self) -> Durability {
        match self.durability {
            DurabilityConfig::Normal => Durability::Normal,
            DurabilityConfig::Full => Durability::Full,
        }
    }
}

/// `[policy]`: the node's [`ChannelPolicy`] for incoming proposals.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct PolicySection {
    pub(crate) allowed_peers: Vec<Address>,
    pub(crate) min_challenge_period: u64,
    pub(crate) max_challenge_period: u64,
    pub(crate) min_deposit: AmountParam,
    /// Payments accepted ahead of a peer's unconfirmed deposits, per channel.
    pub(crate) unconfirmed_per_channel: AmountParam,
    /// The same, in all channels together.
    pub(crate) unconfirmed_total: AmountParam,
}

impl Default for PolicySection {
    fn default() -> Self {
        let policy = ChannelPolicy::default();
        PolicySection {
            allowed_peers: policy.allowed_peers,
            min_challenge_period: policy.min_challenge_period,
            max_challenge_period: policy.max_challenge_period,
            min_deposit: AmountParam(policy.min_deposit),
            unconfirmed_per_channel: AmountParam(0),
            unconfirmed_total: AmountParam(0),
        }
    }
}

impl Config {
    /// Parses and checks `text` (`path` names the file in messages).
    pub(crate) fn parse(text: &str, path: &Path) -> Result<Config> {
        let config: Config = toml::from_str(text)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
        config
            .check()
            .with_context(|| format!("{}", path.display()))?;
        Ok(config)
    }

    /// Loads `config.toml` of `dir`.
    pub(crate) fn load(dir: &Path) -> Result<Config> {
        let path = dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read {} (did you run `paychan init --data-dir {}`?)",
                path.display(),
                dir.display()
            )
        })?;
        Config::parse(&text, &path)
    }

    /// Values serde accepts but the node cannot use.
    fn check(&self) -> Result<()> {
        self.log.check()?;
        let n = &self.node;
        for (field, value) in [
            ("node.challenge_period", n.challenge_period),
            ("node.request_timeout", n.request_timeout),
            ("node.handler_timeout", n.handler_timeout),
            ("node.withdrawal_validity", n.withdrawal_validity),
            ("node.proposal_expiry", n.proposal_expiry),
            ("node.max_requests_per_peer", n.max_requests_per_peer),
        ] {
            if value == 0 {
                bail!("{field} must be positive");
            }
        }
        for (i, peer) in n.peers.iter().enumerate() {
            peer.parse::<PeerAddr>()
                .map_err(|e| anyhow::anyhow!("node.peers[{i}] = {peer:?}: {e}"))?;
        }
        n.relay_urls()?;
        let p = &self.policy;
        if p.min_challenge_period > p.max_challenge_period {
            bail!(
                "policy.min_challenge_period ({}) is above policy.max_challenge_period ({})",
                p.min_challenge_period,
                p.max_challenge_period
            );
        }
        if (p.unconfirmed_per_channel.0 == 0) != (p.unconfirmed_total.0 == 0) {
            bail!(
                "policy.unconfirmed_per_channel and policy.unconfirmed_total give credit only \
                 together: set both, or both to \"0\""
            );
        }
        let (field, url) = match self.ledger.kind {
            LedgerKind::EmbeddedRemote => ("ledger.url", self.ledger.url.trim()),
            LedgerKind::Ethereum => {
                if self.ledger.contract.is_none() {
                    bail!("ledger.contract is required with kind = \"ethereum\"");
                }
                if self.ledger.chain_id.is_none() {
                    bail!("ledger.chain_id is required with kind = \"ethereum\"");
                }
                if self.ledger.confirmations == 0 {
                    bail!("ledger.confirmations must be at least 1");
                }
                (
                    "ledger.rpc_url",
                    self.ledger.rpc_url.as_deref().unwrap_or("").trim(),
                )
            }
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bail!("{field} must start with http:// or https:// (got {url:?})");
        }
        paychan_rpc::auth::AuthLayer::new("0123456789abcdef", &self.rpc.allowed_origins)
            .map_err(|e| anyhow::anyhow!("rpc.allowed_origins: {e}"))?;
        if self.rpc.decision_timeout == 0 || self.rpc.decision_timeout > 3600 {
            bail!("rpc.decision_timeout must be between 1 and 3600 seconds");
        }
        if self.rpc.max_connections == 0 {
            bail!("rpc.max_connections must be positive");
        }
        if self.rpc.max_request_body_size < 1024 {
            bail!("rpc.max_request_body_size must be at least 1024 bytes");
        }
        if let Some(aa) = &self.rpc.aa
            && aa.listen == self.rpc.listen
        {
            bail!(
                "rpc.aa.listen must differ from rpc.listen (the aa-channels listener is a second port)"
            );
        }
        if let Some(grpc) = self.rpc.grpc_listen {
            if grpc == self.rpc.listen {
                bail!(
                    "rpc.grpc_listen must differ from rpc.listen (gRPC is served on a second port)"
                );
            }
            if self.rpc.aa.as_ref().is_some_and(|aa| aa.listen == grpc) {
                bail!("rpc.grpc_listen must differ from rpc.aa.listen");
            }
        }
        Ok(())
    }

    /// The node's settings.
    pub(crate) fn node_config(&self) -> NodeConfig {
        let n = &self.node;
        NodeConfig {
            policy: ChannelPolicy {
                allowed_peers: self.policy.allowed_peers.clone(),
                min_challenge_period: self.policy.min_challenge_period,
                max_challenge_period: self.policy.max_challenge_period,
                min_deposit: self.policy.min_deposit.0,
            },
            challenge_period: n.challenge_period,
            request_timeout: Duration::from_secs(n.request_timeout),
            handler_timeout: Duration::from_secs(n.handler_timeout),
            withdrawal_validity: n.withdrawal_validity,
            proposal_expiry: Duration::from_secs(n.proposal_expiry),
            default_response: n
                .default_response
                .clone()
                .unwrap_or(serde_json::Value::Null),
            unconfirmed_credit: paychan_node::UnconfirmedCredit {
                per_channel: self.policy.unconfirmed_per_channel.0,
                total: self.policy.unconfirmed_total.0,
            },
            max_requests_per_peer: usize::try_from(n.max_requests_per_peer).unwrap_or(usize::MAX),
            ..NodeConfig::default()
        }
    }

    /// The URL of the API for a client on this machine.
    pub(crate) fn rpc_url(&self) -> String {
        let mut addr = self.rpc.listen;
        if addr.ip().is_unspecified() {
            addr.set_ip(if addr.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        format!("http://{addr}")
    }
}

/// `path` if absolute, else relative to the data directory.
pub(crate) fn in_dir(dir: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        dir.join(path)
    }
}

/// What `paychan init` writes into the configuration.
pub(crate) struct Template<'a> {
    pub(crate) key_file: &'a str,
    pub(crate) listen_tcp: Option<SocketAddr>,
    pub(crate) listen_ws: Option<SocketAddr>,
    pub(crate) rpc_listen: SocketAddr,
    pub(crate) ledger_url: &'a str,
}

fn toml_string(s: &str) -> String {
    // A TOML basic string has JSON's escapes for what matters here.
    serde_json::Value::String(s.to_owned()).to_string()
}

fn optional_addr(key: &str, addr: Option<SocketAddr>, example: &str) -> String {
    match addr {
        Some(addr) => format!("{key} = \"{addr}\""),
        None => format!("# {key} = \"{example}\""),
    }
}

impl Template<'_> {
    /// The commented `config.toml`.
    pub(crate) fn render(&self) -> String {
        let node = NodeConfig::default();
        let policy = ChannelPolicy::default();
        let rpc = paychan_rpc::RpcConfig::new("");
        let min_deposit: Amount = policy.min_deposit;
        format!(
            r#"# paychan node configuration, written by `paychan init`.
# Relative paths are relative to this data directory. Every option has a default that works
# on one machine; a key that is not listed here is an error.

[node]
# Where other nodes connect to this one: plain TCP, and WebSocket (put a TLS proxy such as
# nginx in front of it for wss://). Comment a line out to not listen on that transport.
{listen_tcp}
{listen_ws}
# Peers to keep connected (reconnecting with backoff), as "ADDRESS@HOST:PORT",
# "ADDRESS@ws://HOST:PORT/PATH" or "ADDRESS@relay+wss://HOST/PATH" (a peer registered at a
# relay). Channels can also be opened to a peer URL directly.
peers = []
# Relays (`paychan relay`) to stay registered at, so that peers reach this node without an
# open port, as "ADDRESS@relay+wss://HOST/PATH" (`paychan info` shows it). Each is
# "wss://HOST[:PORT]/PATH", with "?token=TOKEN" if the relay requires an access token.
relays = []
# A contacts file (YAML, `alias: peer` per line, as `paychan contacts export` writes it),
# loaded at start and reloaded whenever it changes; aliases removed from it are removed.
# contacts_file = "contacts.yaml"
# The node key: keystore.json (Ethereum V3 keystore, encrypted) or node.key (plaintext).
key_file = {key_file}
# Challenge period of the channels this node opens, in seconds: how long the peer has to
# answer a unilateral close.
challenge_period = {challenge_period}
# Seconds to wait for the peer's answer to a payment, a proposal or a signature.
request_timeout = {request_timeout}
# Seconds the payment handler may take before the payer gets a timeout.
handler_timeout = {handler_timeout}
# Validity of the withdrawal certificates this node proposes, in seconds of ledger time; one
# the peer never answers stays reserved until then.
withdrawal_validity = {withdrawal_validity}
# Seconds a channel may stay proposed (by this node, or by a peer and accepted) without the
# ledger opening it; then it is forgotten.
proposal_expiry = {proposal_expiry}
# The answer to incoming payments (any TOML value); absent: null.
# default_response = "thanks"
# The most messages (payments, requests, proposals) of one peer handled at once; with that
# many in flight the node stops reading from that peer until one is answered, so a peer
# flooding requests cannot grow its memory.
max_requests_per_peer = {max_requests_per_peer}

[rpc]
# The JSON-RPC API (HTTP and WebSocket on one port). Keep it on loopback unless a proxy
# with TLS is in front of it.
listen = "{rpc_listen}"
# The bearer token clients send (Authorization: Bearer <token>); readable by its owner only.
token_file = {token_file}
# Browser origins allowed to call the API, e.g. ["https://app.example"]. No wildcards.
allowed_origins = []
# Limits: request body in bytes, calls per batch, connections at once.
max_request_body_size = {max_body}
max_batch_len = {max_batch}
max_connections = {max_connections}
# Decide each incoming channel proposal (after the [node] policy passed it) over the API:
# `paychan channel proposals`, `paychan channel accept ID`, `paychan channel reject ID`.
# A proposal undecided after decision_timeout seconds is rejected; keep it below the
# proposers' request_timeout (30 s by default) or they give up first.
proposal_decisions = false
decision_timeout = {decision_timeout}
# The gRPC API (proto/paychan/v1/node.proto; the same methods, tokens and scopes as the
# JSON-RPC API; metadata `authorization: Bearer <token>`), on a port of its own. Uncomment to
# serve it.
# grpc_listen = "127.0.0.1:6337"

# A second listener speaking aa-channels-lib's RPC (rpcify): aa's parameter orders and
# answers, events pushed to every WebSocket client. See docs/AA_CHANNELS.md. Uncomment to
# run it. It wants the same token unless allow_unauthenticated_loopback is true, which lets
# any local process without a browser Origin header spend this node's channels.
# [rpc.aa]
# listen = "127.0.0.1:6332"
# allow_unauthenticated_loopback = false

[ledger]
# "embedded-remote": an embedded ledger served by `paychan ledger serve`, shared by the nodes
# that use the same URL.
kind = "embedded-remote"
url = {ledger_url}
# "ethereum": the PaychanAdjudicator contract (see docs/ETHEREUM.md, `paychan eth deploy`):
# kind = "ethereum"
# rpc_url = "http://127.0.0.1:8545"
# contract = "0x..."
# chain_id = 31337
# confirmations = 3
# start_block = 0
# Seconds between blocks and seconds a transaction may wait to be included: with
# confirmations they give the shortest challenge period the node can defend (it refuses
# shorter ones, see docs/ETHEREUM.md).
# block_time = 12
# inclusion_delay = 120

[store]
# The SQLite database of channel states.
path = "node.db"
# "normal": a committed state survives a crash of the process (kill -9);
# "full": it also survives a power loss (one fsync per commit group; slower).
durability = "normal"

[policy]
# Channels other nodes propose to this one.
# Accept proposals only from these addresses (empty: from anyone).
allowed_peers = []
# The challenge periods accepted, in seconds.
min_challenge_period = {min_period}
max_challenge_period = {max_period}
# The smallest initial deposit of the proposer accepted (a whole number, as a string).
min_deposit = "{min_deposit}"
# Payments accepted ahead of a peer's deposit that the ledger shows but has not confirmed
# yet (at this node's risk until it confirms), per channel and in all channels together.
# "0" (the default) waits for confirmation. The embedded ledger confirms at once.
unconfirmed_per_channel = "0"
unconfirmed_total = "0"

[metrics]
# Prometheus metrics (/metrics), liveness (/healthz) and readiness (/readyz) over HTTP,
# without a token (see docs/OPERATIONS.md). Off unless an address is given here or with
# `paychan node --metrics-listen`. Keep it on loopback or a private network.
# listen = "127.0.0.1:9464"

[log]
# RUST_LOG, when set, replaces these levels.
# level = "info"
# format = "json"        # or "human" (the default); --log-format overrides it
# file = "node.log"      # appended to; --log-file overrides it; default: stderr
# [log.modules]
# paychan_node = "debug"
# paychan_net = "warn"
"#,
            listen_tcp = optional_addr("listen_tcp", self.listen_tcp, DEFAULT_PEER_TCP),
            listen_ws = optional_addr("listen_ws", self.listen_ws, "127.0.0.1:6336"),
            key_file = toml_string(self.key_file),
            challenge_period = node.challenge_period,
            request_timeout = node.request_timeout.as_secs(),
            handler_timeout = node.handler_timeout.as_secs(),
            withdrawal_validity = node.withdrawal_validity,
            proposal_expiry = node.proposal_expiry.as_secs(),
            max_requests_per_peer = node.max_requests_per_peer,
            rpc_listen = self.rpc_listen,
            token_file = toml_string(TOKEN_FILE),
            max_body = rpc.max_request_body_size,
            max_batch = rpc.max_batch_len,
            decision_timeout = DEFAULT_DECISION_TIMEOUT,
            max_connections = rpc.max_connections,
            ledger_url = toml_string(self.ledger_url),
            min_period = policy.min_challenge_period,
            max_period = policy.max_challenge_period,
        )
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
