//! Tests of the node's configuration file: parsing, defaults, checks and the template.

#![allow(clippy::unwrap_used)]

use super::*;

fn template() -> String {
    Template {
        key_file: KEYSTORE_FILE,
        listen_tcp: Some("127.0.0.1:7000".parse().unwrap()),
        listen_ws: None,
        rpc_listen: DEFAULT_RPC_LISTEN.parse().unwrap(),
        ledger_url: DEFAULT_LEDGER_URL,
    }
    .render()
}

#[test]
fn the_template_loads_with_its_values() {
    let config = Config::parse(&template(), Path::new("config.toml")).unwrap();
    assert_eq!(
        config.node.listen_tcp,
        Some("127.0.0.1:7000".parse().unwrap())
    );
    assert_eq!(config.node.listen_ws, None);
    assert_eq!(config.rpc.listen, DEFAULT_RPC_LISTEN.parse().unwrap());
    assert_eq!(config.ledger.url, DEFAULT_LEDGER_URL);
    assert_eq!(
        config.node_config().challenge_period,
        NodeConfig::default().challenge_period
    );
    assert_eq!(config.node_config().max_requests_per_peer, 64);
    // A listen line commented out: not listening there.
    let quiet = template()
        .replace("\nlisten_tcp = ", "\n# listen_tcp = ")
        .replace(
            "\nrelays = []",
            "\nrelays = [\"wss://relay.example/paychan?token=t\"]",
        );
    let quiet = Config::parse(&quiet, Path::new("c")).unwrap();
    assert_eq!((quiet.node.listen_tcp, quiet.node.listen_ws), (None, None));
    assert_eq!(
        quiet
            .node
            .relay_urls()
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["wss://relay.example:443/paychan?token=t"]
    );
    assert_eq!(config.rpc.grpc_listen, None, "gRPC is off by default");
    let grpc = Config::parse("[rpc]\ngrpc_listen = \"127.0.0.1:6337\"\n", Path::new("c")).unwrap();
    assert_eq!(
        grpc.rpc.grpc_listen,
        Some("127.0.0.1:6337".parse().unwrap())
    );
    let bounded = Config::parse("[node]\nmax_requests_per_peer = 8\n", Path::new("c")).unwrap();
    assert_eq!(bounded.node_config().max_requests_per_peer, 8);
    assert_eq!(config.store.durability(), Durability::Normal);
    // An empty file is the defaults.
    let empty = Config::parse("", Path::new("c")).unwrap();
    assert_eq!(empty.rpc.listen, config.rpc.listen);
}

#[test]
fn bad_configs_name_the_field() {
    let cases = [
        ("[node]\nchallenge_period = 0\n", "node.challenge_period"),
        ("[node]\nbogus = 1\n", "bogus"),
        (
            "[node]\nmax_requests_per_peer = 0\n",
            "node.max_requests_per_peer",
        ),
        ("[rpc]\nlisten = \"nowhere\"\n", "listen"),
        ("[store]\ndurability = \"sometimes\"\n", "durability"),
        (
            "[policy]\nmin_challenge_period = 10\nmax_challenge_period = 5\n",
            "policy.min_challenge_period",
        ),
        ("[policy]\nmin_deposit = -1\n", "min_deposit"),
        (
            "[policy]\nunconfirmed_per_channel = \"5\"\n",
            "policy.unconfirmed_per_channel",
        ),
        ("[policy]\nunconfirmed_total = \"x\"\n", "unconfirmed_total"),
        ("[ledger]\nurl = \"ftp://x\"\n", "ledger.url"),
        ("[ledger]\nkind = \"bitcoin\"\n", "kind"),
        ("[ledger]\nkind = \"ethereum\"\n", "ledger.contract"),
        (
            "[ledger]\nkind = \"ethereum\"\ncontract = \"0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf\"\n",
            "ledger.chain_id",
        ),
        (
            "[ledger]\nkind = \"ethereum\"\ncontract = \"0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf\"\nchain_id = 1\n",
            "ledger.rpc_url",
        ),
        ("[rpc]\nallowed_origins = [\"*\"]\n", "rpc.allowed_origins"),
        (
            "[rpc]\nlisten = \"127.0.0.1:7000\"\ngrpc_listen = \"127.0.0.1:7000\"\n",
            "rpc.grpc_listen",
        ),
        ("[rpc]\ngrpc_listen = \"nowhere\"\n", "grpc_listen"),
        ("[node]\npeers = [\"nope\"]\n", "node.peers[0]"),
        ("[node]\nrelays = [\"127.0.0.1:1\"]\n", "node.relays[0]"),
        ("[node]\nrelays = [\"http://x\"]\n", "node.relays[0]"),
    ];
    let eth = "[ledger]\nkind = \"ethereum\"\nrpc_url = \"http://127.0.0.1:8545\"\n\
               contract = \"0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf\"\nchain_id = 31337\n\
               confirmations = 2\n";
    let config = Config::parse(eth, Path::new("config.toml")).unwrap();
    let eth = config.ledger.eth_config(Path::new("/data")).unwrap();
    assert_eq!((eth.chain_id, eth.confirmations), (31337, 2));
    assert_eq!(eth.index_dir, Some(PathBuf::from("/data/eth-index")));
    for (text, field) in cases {
        let error = format!(
            "{:#}",
            Config::parse(text, Path::new("config.toml")).unwrap_err()
        );
        assert!(error.contains(field), "{text:?}: {error}");
    }
}
