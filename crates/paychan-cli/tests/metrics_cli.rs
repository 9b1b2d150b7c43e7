//! The operator's endpoints and logs as an operator meets them (`docs/OPERATIONS.md`): a
//! served ledger, Alice's and Bob's `paychan node` and `paychan proxy` in front of Bob's
//! node, each with its metrics endpoint (Alice's from `--metrics-listen`, Bob's from
//! `[metrics]` in its `config.toml`). Payments over the connection, by package and through
//! the proxy move the counters and amounts by exactly what was paid; refusals are counted
//! by their code; liveness and readiness answer without a token, and readiness fails when the
//! ledger goes away. The logs are JSON lines (`--log-format json`, `[log] format`), written
//! to files, with per-module levels from the config; the proxy logs one line per call.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    missing_docs
)]

mod common;

use std::{fs, path::Path};

use common::{
    Process, command,
    nodes::{NodeDir, json, ok, paychan},
    paid::banner_url,
};
use serde_json::Value;

const PRICE: u64 = 10;

/// The value of the sample `series` (name and labels, exactly as exposed) in `text`.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
        .parse()
        .unwrap()
}

fn get(url: &str) -> (u16, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let answer = reqwest::get(url).await.unwrap();
        (answer.status().as_u16(), answer.text().await.unwrap())
    })
}

/// Every line of a log file, parsed as JSON.
fn json_lines(path: &Path) -> Vec<Value> {
    let text = fs::read_to_string(path).unwrap();
    assert!(!text.is_empty(), "{} is empty", path.display());
    text.lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}"))
        })
        .collect()
}

fn starts_node(dir: &NodeDir, name: &str, extra: &[&str]) -> (Process, String) {
    let mut node = command();
    node.arg("node")
        .arg("--data-dir")
        .arg(&dir.dir)
        .arg("--passphrase-file")
        .arg(&dir.passphrase)
        .args(extra)
        .env_remove("RUST_LOG");
    let log = dir.dir.parent().unwrap().join(format!("{name}.log"));
    let mut process = Process::spawn(name, node, &log);
    let metrics = process.wait_for("its banner", |log| banner_url(log, "  metrics  "));
    (process, metrics)
}

#[test]
fn metrics_count_what_was_paid_and_refused_and_logs_are_json_lines() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // The ledger: metrics on a free port, JSON log appended to a file.
    let ledger_log = root.join("ledger.json.log");
    let mut ledger_command = command();
    ledger_command
        .args(["ledger", "serve", "--listen", "127.0.0.1:0"])
        .args(["--metrics-listen", "127.0.0.1:0", "--log-format", "json"])
        .arg("--log-file")
        .arg(&ledger_log)
        .arg("--data-dir")
        .arg(root.join("ledger"));
    let mut ledger = Process::spawn("ledger", ledger_command, &root.join("ledger.log"));
    let ledger_url = ledger.wait_for("its banner", |log| {
        banner_url(log, "paychan ledger serving on ")
    });
    let ledger_metrics = ledger.wait_for("its metrics", |log| banner_url(log, "  metrics      "));

    let alice = NodeDir::init(root, "alice", &ledger_url);
    let bob = NodeDir::init(root, "bob", &ledger_url);
    for who in [&alice, &bob] {
        ok(paychan(&[
            "ledger",
            "faucet",
            &who.address,
            "1000000",
            "--url",
            &ledger_url,
        ]));
    }
    // Bob's endpoints and log come from his config: JSON into node.log, warnings only but
    // the metrics module at info.
    let config = bob.dir.join("config.toml");
    let mut text = fs::read_to_string(&config).unwrap();
    text = text
        .replace("# listen = \"127.0.0.1:9464\"", "listen = \"127.0.0.1:0\"")
        .replace("# level = \"info\"", "level = \"warn\"")
        .replace("# format = \"json\"", "format = \"json\"")
        .replace("# file = \"node.log\"", "file = \"node.log\"")
        .replace("# [log.modules]", "[log.modules]")
        .replace("# paychan_node = \"debug\"", "\"paychan::ops\" = \"info\"");
    fs::write(&config, text).unwrap();
    let (_alice_node, alice_metrics) =
        starts_node(&alice, "alice", &["--metrics-listen", "127.0.0.1:0"]);
    let (_bob_node, bob_metrics) = starts_node(&bob, "bob", &[]);

    // Over the connection: 5 + 7 + 11.
    let opened = json(alice.channel(&["open", &bob.tcp_url(), "1000"]));
    let id = opened["channel_id"].as_str().unwrap().to_owned();
    for amount in ["5", "7", "11"] {
        json(alice.channel(&["pay", &id, amount, "{}"]));
    }
    // By package: 13, verified once; the same package again is refused.
    let package = |amount: &str, message: Option<&str>| {
        let mut args = vec!["package", "--data-dir", alice.dir(), "create", &id, amount];
        args.extend(message);
        ok(paychan(&args)).trim().to_owned()
    };
    let thirteen = package("13", None);
    let verify = |package: &str| {
        command()
            .args([
                "package",
                "--data-dir",
                bob.dir(),
                "--json",
                "verify",
                package,
            ])
            .output()
            .unwrap()
    };
    assert!(verify(&thirteen).status.success());
    let replay = verify(&thirteen);
    assert!(!replay.status.success(), "a replayed package is refused");
    let refusal: Value = serde_json::from_slice(&replay.stdout).unwrap();
    let code = refusal["error"]["code"].as_u64().unwrap();
    let reason = refusal["error"]["reason"].as_str().unwrap_or("").to_owned();

    // The proxy in front of an upstream, paid by Alice's packages from the shell.
    let upstream = runtime.block_on(async {
        let router = axum::Router::new().route(
            "/hello",
            axum::routing::get(|| async { "hello from upstream" }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        addr
    });
    let proxy_log = root.join("proxy.json.log");
    let mut proxy_command = command();
    proxy_command
        .arg("proxy")
        .arg("--data-dir")
        .arg(&bob.dir)
        .args(["--upstream", &format!("http://{upstream}")])
        .args(["--price", &PRICE.to_string(), "--listen", "127.0.0.1:0"])
        .args(["--metrics-listen", "127.0.0.1:0", "--log-format", "json"])
        .arg("--log-file")
        .arg(&proxy_log)
        .env_remove("RUST_LOG");
    let mut proxy = Process::spawn("proxy", proxy_command, &root.join("proxy.log"));
    let proxy_url = proxy.wait_for("its banner", |log| banner_url(log, "paychan proxy on "));
    let proxy_metrics = proxy.wait_for("its metrics", |log| banner_url(log, "  metrics "));
    let call = |authorization: Option<&str>| {
        runtime.block_on(async {
            let mut request = reqwest::Client::new().get(format!("{proxy_url}/hello"));
            if let Some(auth) = authorization {
                request = request.header("authorization", auth);
            }
            request.send().await.unwrap().status().as_u16()
        })
    };
    assert_eq!(call(None), 402, "unpaid");
    assert_eq!(call(Some("Paychan not-a-package")), 402, "garbage");
    let binding = r#"{"method":"GET","path":"/hello"}"#;
    for _ in 0..2 {
        let paid = package(&PRICE.to_string(), Some(binding));
        assert_eq!(call(Some(&format!("Paychan {paid}"))), 200);
    }

    // Alice sent 5 + 7 + 11 over the connection and 13 + 10 + 10 by packages; Bob
    // received all of it.
    let total = (5 + 7 + 11 + 13 + 2 * PRICE) as f64;
    let alice_text = get(&alice_metrics).1;
    assert_eq!(
        sample(
            &alice_text,
            "paychan_node_payments_total{direction=\"out\"}"
        ),
        6.0
    );
    assert_eq!(
        sample(
            &alice_text,
            "paychan_node_payment_amount_total{direction=\"out\"}"
        ),
        total
    );
    assert_eq!(
        sample(&alice_text, "paychan_node_payments_total{direction=\"in\"}"),
        0.0
    );
    assert_eq!(
        sample(
            &alice_text,
            "paychan_node_payment_duration_seconds_count{direction=\"out\"}"
        ),
        6.0
    );
    assert_eq!(
        sample(&alice_text, "paychan_node_channels{phase=\"open\"}"),
        1.0
    );
    assert_eq!(sample(&alice_text, "paychan_node_peers_connected"), 1.0);
    assert!(
        sample(
            &alice_text,
            "paychan_node_store_commit_duration_seconds_count"
        ) >= 6.0
    );
    assert!(sample(&alice_text, "paychan_node_ledger_lag_seconds") < 60.0);

    let bob_text = get(&bob_metrics).1;
    assert_eq!(
        sample(&bob_text, "paychan_node_payments_total{direction=\"in\"}"),
        6.0
    );
    assert_eq!(
        sample(
            &bob_text,
            "paychan_node_payment_amount_total{direction=\"in\"}"
        ),
        total
    );
    assert_eq!(
        sample(
            &bob_text,
            "paychan_node_payment_duration_seconds_count{direction=\"in\"}"
        ),
        6.0
    );
    // The replay, by its code; the proxy refused the garbage itself.
    assert_eq!(
        sample(
            &bob_text,
            &format!(
                "paychan_node_refused_total{{kind=\"package\",code=\"{code}\",reason=\"{reason}\"}}"
            )
        ),
        1.0
    );
    let bob_refusals: Vec<&str> = bob_text
        .lines()
        .filter(|l| l.starts_with("paychan_node_refused_total{"))
        .collect();
    assert_eq!(bob_refusals.len(), 1, "{bob_refusals:?}");

    let proxy_text = get(&proxy_metrics).1;
    for (series, value) in [
        ("paychan_proxy_calls_total{outcome=\"paid\"}", 2.0),
        ("paychan_proxy_calls_total{outcome=\"refused\"}", 2.0),
        ("paychan_proxy_calls_total{outcome=\"free\"}", 0.0),
        ("paychan_proxy_paid_amount_total", (2 * PRICE) as f64),
        (
            "paychan_proxy_refused_total{code=\"payment_required\"}",
            1.0,
        ),
        ("paychan_proxy_refused_total{code=\"package_refused\"}", 1.0),
        ("paychan_proxy_call_duration_seconds_count", 4.0),
    ] {
        assert_eq!(sample(&proxy_text, series), value, "{series}");
    }

    let ledger_text = get(&ledger_metrics).1;
    assert_eq!(
        sample(
            &ledger_text,
            "paychan_ledger_operations_total{operation=\"open\"}"
        ),
        1.0
    );
    assert!(
        sample(
            &ledger_text,
            "paychan_ledger_journal_write_duration_seconds_count"
        ) >= 1.0
    );

    // Every metric exposed is documented, and the dashboard uses only metrics exposed.
    let docs = include_str!("../../../docs/OPERATIONS.md");
    let exposed: std::collections::BTreeSet<String> =
        [&alice_text, &bob_text, &proxy_text, &ledger_text]
            .iter()
            .flat_map(|text| text.lines())
            .filter_map(|line| line.strip_prefix("# TYPE "))
            .map(|rest| rest.split(' ').next().unwrap().to_owned())
            .collect();
    assert!(exposed.len() >= 20, "{exposed:?}");
    for name in &exposed {
        assert!(
            docs.contains(&format!("| `{name}` |")),
            "{name} is not in docs/OPERATIONS.md"
        );
    }
    let dashboard: Value =
        serde_json::from_str(include_str!("../../../docs/grafana-dashboard.json")).unwrap();
    let mut used = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if word.starts_with("paychan_") {
                    let name = word.strip_suffix("_bucket").unwrap_or(word);
                    assert!(exposed.contains(name), "the dashboard uses {name}");
                    used += 1;
                }
            }
        }
    }
    assert!(used >= 15, "{used}");

    // Liveness and readiness, without a token.
    for metrics in [
        &alice_metrics,
        &bob_metrics,
        &proxy_metrics,
        &ledger_metrics,
    ] {
        let base = metrics.trim_end_matches("/metrics");
        assert_eq!(get(&format!("{base}/healthz")), (200, "ok\n".to_owned()));
        let (status, body) = get(&format!("{base}/readyz"));
        assert_eq!(status, 200, "{base}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["ready"], true, "{body}");
    }

    // The proxy's line per call: method, path, status, price, payer, latency.
    let lines = json_lines(&proxy_log);
    let calls: Vec<&Value> = lines
        .iter()
        .filter(|l| l["target"] == "paychan::calls")
        .collect();
    assert_eq!(calls.len(), 4, "{calls:?}");
    let paid: Vec<&&Value> = calls.iter().filter(|l| l["outcome"] == "paid").collect();
    assert_eq!(paid.len(), 2);
    for line in paid {
        assert_eq!(line["method"], "GET");
        assert_eq!(line["path"], "/hello");
        assert_eq!(line["status"], 200);
        assert_eq!(line["price"], PRICE.to_string());
        assert_eq!(line["amount"], PRICE.to_string());
        assert_eq!(
            line["payer"].as_str().unwrap().to_lowercase(),
            alice.address.to_lowercase()
        );
        assert!(line["latency_ms"].as_f64().unwrap() >= 0.0);
        assert_eq!(line["level"], "INFO");
        assert!(line["timestamp"].is_string());
    }
    let codes: Vec<&str> = calls
        .iter()
        .filter(|l| l["outcome"] == "refused")
        .map(|l| {
            assert_eq!(l["status"], 402);
            assert_eq!(l["price"], PRICE.to_string());
            l["code"].as_str().unwrap()
        })
        .collect();
    assert_eq!(codes, ["payment_required", "package_refused"]);

    // The ledger's file: JSON lines with the standard fields.
    for line in json_lines(&ledger_log) {
        for field in ["timestamp", "level", "target", "message"] {
            assert!(line[field].is_string(), "no {field} in {line}");
        }
    }
    // Bob's file, from his config: warn, except the metrics module at info.
    let bob_lines = json_lines(&bob.dir.join("node.log"));
    assert!(
        bob_lines
            .iter()
            .any(|l| l["target"] == "paychan::ops" && l["level"] == "INFO"),
        "{bob_lines:?}"
    );
    assert!(
        bob_lines
            .iter()
            .all(|l| l["level"] != "INFO" || l["target"] == "paychan::ops"),
        "{bob_lines:?}"
    );

    // Without the ledger, Bob's node is alive but not ready.
    ledger.kill();
    let base = bob_metrics.trim_end_matches("/metrics");
    assert_eq!(get(&format!("{base}/healthz")).0, 200);
    let (status, body) = get(&format!("{base}/readyz"));
    assert_eq!(status, 503, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["ready"], false);
    assert_eq!(body["checks"]["store"], "ok");
    assert_eq!(body["checks"]["api"], "ok");
    assert_ne!(body["checks"]["ledger"], "ok");
}
