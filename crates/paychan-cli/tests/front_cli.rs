//! `paychan front` as an operator runs it: a served ledger, two front processes on one
//! PostgreSQL schema (the machine's server, 127.0.0.1:5432, database `test`; a schema of this
//! test's own, dropped at the end), and no payee node at all. A payer in this process pays by
//! packages, alternating between the fronts, and presents one package to both at once: every
//! call is served once and the shared store counts exactly what was paid. The first front
//! signs its receipts with a key the payee certified (`paychan certify-front`), which the
//! payer checks; a front given a certificate that is not for it refuses to start.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    missing_docs
)]

mod common;

use common::{
    Process, command,
    nodes::{NodeDir, text},
    paid::{banner_url, payer},
};
use paychan_core::{Address, Amount, Domain};
use paychan_http::Receipt;
use paychan_store::{
    Direction, Store,
    testkit::postgres::{TestSchema, url},
};

const PRICE: Amount = 10;
#[test]
fn two_fronts_on_one_postgresql_schema_serve_and_count_each_package_once() {
    let root = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let schema = runtime.block_on(TestSchema::create());
    let store_url = format!("{}?options=-csearch_path%3D{}", url(), schema.name);

    let mut ledger_command = command();
    ledger_command
        .args(["ledger", "serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(root.path().join("ledger"));
    let mut ledger = Process::spawn("ledger", ledger_command, &root.path().join("ledger.log"));
    let ledger_url = ledger.wait_for("its banner", |log| {
        banner_url(log, "paychan ledger serving on ")
    });
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
    // The payee's data directory (its keystore) certifies front1's new key for 30 days.
    let payee_dir = NodeDir::init(root.path(), "payee", &ledger_url);
    let payee: Address = payee_dir.address.parse().unwrap();
    let front_key = root.path().join("front1.key");
    let certificate = root.path().join("front1.cert");
    let certify = |front: Option<&str>, out: &std::path::Path| {
        let mut certify = command();
        certify
            .args(["certify-front", "--data-dir", payee_dir.dir()])
            .arg("--passphrase-file")
            .arg(&payee_dir.passphrase)
            .arg("--out")
            .arg(out);
        match front {
            Some(address) => certify.args(["--front", address]),
            None => certify.arg("--new-key").arg(&front_key),
        };
        certify.output().unwrap()
    };
    let made = certify(None, &certificate);
    assert!(made.status.success(), "{}", text(&made.stderr));
    let said = text(&made.stderr);
    assert!(
        said.contains("valid until") && said.contains("(in 30 d"),
        "{said}"
    );
    let cert: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&certificate).unwrap()).unwrap();
    let front_address: Address = cert["certificate"]["front"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        cert["certificate"]["payee"]
            .as_str()
            .unwrap()
            .parse::<Address>()
            .unwrap(),
        payee
    );

    let front = |extra: &[&str]| {
        let mut front = command();
        front
            .arg("front")
            .args(["--store", &store_url])
            .args(["--payee", &payee.to_string()])
            .args(["--ledger-url", &ledger_url])
            .args(["--upstream", "http://127.0.0.1:9"])
            .args(["--price", "1", "--listen", "127.0.0.1:0"])
            .args(extra);
        front
    };
    // A certificate for another front key: the front refuses to start, and says why.
    let other = root.path().join("other.cert");
    let made = certify(Some(&Address::repeat_byte(0x77).to_string()), &other);
    assert!(made.status.success(), "{}", text(&made.stderr));
    let refused = front(&[
        "--receipt-key",
        front_key.to_str().unwrap(),
        "--certificate",
        other.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(!refused.status.success());
    let why = text(&refused.stderr);
    assert!(why.contains("does not let") && why.contains("not"), "{why}");
    // A key without a certificate is refused by the flags themselves.
    let refused = front(&["--receipt-key", front_key.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!refused.status.success());

    let mut fronts = vec![];
    let mut urls = vec![];
    let mut metrics = vec![];
    for name in ["front1", "front2"] {
        let mut front = command();
        if name == "front1" {
            front
                .arg("front")
                .arg("--receipt-key")
                .arg(&front_key)
                .arg("--certificate")
                .arg(&certificate);
        } else {
            front.arg("front");
        }
        front
            .args(["--store", &store_url])
            .args(["--payee", &payee.to_string()])
            .args(["--ledger-url", &ledger_url])
            .args(["--upstream", &format!("http://{upstream}")])
            .args(["--price", &PRICE.to_string()])
            .args(["--listen", "127.0.0.1:0", "--unbound"])
            .args(["--metrics-listen", "127.0.0.1:0"]);
        let mut process = Process::spawn(name, front, &root.path().join(format!("{name}.log")));
        urls.push(process.wait_for("its banner", |log| banner_url(log, "paychan front on ")));
        metrics.push(process.wait_for("its metrics", |log| banner_url(log, "  metrics ")));
        fronts.push(process);
    }

    runtime.block_on(async {
        let http = reqwest::Client::new();
        let bare = http.get(format!("{}/hello", urls[0])).send().await.unwrap();
        assert_eq!(bare.status(), 402);

        let node = payer(&ledger_url, root.path(), 0x5b).await;
        let id = node.open_channel_on_ledger(payee, 10_000).await.unwrap();
        let call = |url: &String, compact: &str| {
            http.get(format!("{url}/hello"))
                .header("authorization", format!("Paychan {compact}"))
                .send()
        };
        let domain: Domain = node.domain();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        for n in 0..10 {
            let package = node.create_payment_package(id, PRICE, None).await.unwrap();
            let paid = call(&urls[n % 2], &package.to_compact()).await.unwrap();
            assert_eq!(paid.status(), 200);
            let receipt =
                Receipt::parse(paid.headers()["payment-receipt"].to_str().unwrap()).unwrap();
            // front1 signs as the payee's certified front; front2 has no key.
            let signer = receipt.signer_for(payee, &domain, now);
            if n % 2 == 0 {
                assert_eq!(signer, Ok(front_address));
            } else {
                assert!(signer.is_err());
            }
            assert_eq!(paid.text().await.unwrap(), "hello from upstream");
        }
        // One package at both fronts at once: served by exactly one.
        let package = node.create_payment_package(id, PRICE, None).await.unwrap();
        let compact = package.to_compact();
        let (x, y) = tokio::join!(call(&urls[0], &compact), call(&urls[1], &compact));
        let served = [x.unwrap().status(), y.unwrap().status()]
            .iter()
            .filter(|s| s.is_success())
            .count();
        assert_eq!(served, 1);

        // The shared store counted eleven calls, once each.
        let store = schema.store().await;
        let payments = store
            .payments(id, Direction::Incoming, 100, None)
            .await
            .unwrap();
        assert_eq!(payments.len(), 11);
        assert_eq!(
            payments.iter().map(|p| p.amount).sum::<Amount>(),
            11 * PRICE
        );

        // The fronts' metrics add up to the same: eleven paid calls, and two refused (the
        // bare call, and the package's second presentation); both are ready.
        let mut paid = 0.0;
        let mut amount = 0.0;
        let mut refused = 0.0;
        for url in &metrics {
            let text = http.get(url).send().await.unwrap().text().await.unwrap();
            let sample = |series: &str| -> f64 {
                text.lines()
                    .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
                    .unwrap_or_else(|| panic!("no {series} in {text}"))
                    .parse()
                    .unwrap()
            };
            paid += sample("paychan_proxy_calls_total{outcome=\"paid\"}");
            refused += sample("paychan_proxy_calls_total{outcome=\"refused\"}");
            amount += sample("paychan_proxy_paid_amount_total");
            let ready = http
                .get(url.replace("/metrics", "/readyz"))
                .send()
                .await
                .unwrap();
            assert_eq!(ready.status(), 200);
        }
        assert_eq!((paid, refused, amount), (11.0, 2.0, (11 * PRICE) as f64));
    });
    drop(fronts);
    drop(ledger);
}
