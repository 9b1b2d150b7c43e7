//! `paychan bench --ha URL`: paid HTTP calls through three fronts sharing a PostgreSQL or
//! MariaDB store (`docs/HA.md`), against the same calls through one payee node on its SQLite
//! store, in one run.
//!
//! Both sides are the paywall and reverse proxy of `paychan proxy` / `paychan front` in this
//! process, verifying in process (no JSON-RPC hop), in front of the same trivial upstream.
//! The payer is a node in this process: each worker owns a channel and sends closed-loop paid
//! calls, each a fresh payment package. Through the fronts, a worker's calls go to the fronts
//! in turn (as a round-robin load balancer would send them), so every channel's row is
//! written by all three. The fronts' payee holds no key; its address is fresh each run, so
//! its channels never meet rows of an earlier run in the database.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, anyhow, bail, ensure};
use paychan_core::{Address, Amount, ChannelId, keccak256};
use paychan_http::{Challenge, Paywall, Verifier, proxy};
use paychan_ledger::{EmbeddedLedger, LedgerQuery};
use paychan_node::{ChannelPolicy, Node, front::StorePayee};
use paychan_store::Durability;

use crate::pair::{self, Party};

/// The price of one call.
const PRICE: Amount = 1;
/// Fronts sharing the store.
const FRONTS: usize = 3;
/// Plenty for any run: one unit per call.
const DEPOSIT: Amount = 1_000_000_000;

/// The two measurements of one run.
#[derive(Debug, serde::Serialize)]
pub(crate) struct HaResults {
    /// `postgres` or `mariadb`.
    pub(crate) backend: &'static str,
    /// Concurrent workers (one channel each).
    pub(crate) workers: usize,
    /// Fronts sharing the store.
    pub(crate) fronts: usize,
    /// The window of each measurement, seconds.
    pub(crate) seconds: f64,
    /// Paid calls per second through one node on SQLite.
    pub(crate) single_node_per_second: f64,
    /// Paid calls per second through the fronts on the shared store.
    pub(crate) ha_per_second: f64,
    /// `ha_per_second / single_node_per_second`.
    pub(crate) ratio: f64,
}

/// Runs both measurements: `workers` closed-loop workers, `warmup` then `window` each.
pub(crate) async fn run(
    url: &str,
    dir: &Path,
    workers: usize,
    warmup: Duration,
    window: Duration,
) -> Result<HaResults> {
    let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        "postgres"
    } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
        "mariadb"
    } else {
        bail!("--ha {url:?}: a postgres:// or mysql:// URL of a schema or database to write to");
    };
    ensure!(workers > 0, "--ha-workers: at least one");
    let ledger = pair::manual_ledger();
    let run_seed = fresh_seed();
    let payer = pair::party(
        "payer",
        run_seed,
        pair::embedded(&ledger),
        dir,
        Durability::Normal,
    )
    .await?;
    let needed = DEPOSIT.saturating_mul(Amount::try_from(workers)?.saturating_mul(2));
    ledger.faucet(payer.key.address(), Address::ZERO, needed)?;
    let upstream = upstream().await?;

    // One payee node on SQLite, verifying in process.
    let single = pair::party(
        "payee",
        run_seed,
        pair::embedded(&ledger),
        dir,
        Durability::Normal,
    )
    .await?;
    let single_url = serve(
        Arc::new(single.node.clone()),
        challenge(&ledger, single.key.address()).await?,
        &upstream,
    )
    .await?;
    let single_rate = measure(
        &payer,
        single.key.address(),
        &[single_url],
        workers,
        warmup,
        window,
    )
    .await
    .context("through one node")?;
    single.node.shutdown();

    // Three fronts on the shared store, for a payee whose key they never see.
    let payee = Address::from_slice(
        keccak256(format!("bench ha payee {run_seed}"))
            .get(12..)
            .unwrap_or_default(),
    );
    let query: Arc<dyn LedgerQuery> = Arc::new(ledger.clone());
    let mut fronts = Vec::with_capacity(FRONTS);
    for _ in 0..FRONTS {
        let store = crate::front::open_store(url).await?;
        let front = StorePayee::new(payee, store, Arc::clone(&query), ChannelPolicy::default())
            .await
            .map_err(|e| anyhow!("a front: {e}"))?;
        fronts.push(serve(Arc::new(front), challenge(&ledger, payee).await?, &upstream).await?);
    }
    let ha_rate = measure(&payer, payee, &fronts, workers, warmup, window)
        .await
        .context("through the fronts")?;
    payer.node.shutdown();
    Ok(HaResults {
        backend,
        workers,
        fronts: FRONTS,
        seconds: window.as_secs_f64(),
        single_node_per_second: single_rate,
        ha_per_second: ha_rate,
        ratio: if single_rate > 0.0 {
            ha_rate / single_rate
        } else {
            0.0
        },
    })
}

/// A seed no earlier run used (the nanoseconds of now).
fn fresh_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The 402 challenge of `payee` on `ledger`.
async fn challenge(ledger: &EmbeddedLedger, payee: Address) -> Result<Challenge> {
    let domain = LedgerQuery::domain(ledger).await?;
    Ok(Challenge {
        price: PRICE,
        payee,
        chain_id: domain.chain_id(),
        contract: domain.verifying_contract(),
        node: None,
    })
}

/// A trivial upstream on loopback; answers its base URL.
async fn upstream() -> Result<reqwest::Url> {
    let router = axum::Router::new().fallback(|| async { "hello\n" });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(format!("http://{addr}").parse()?)
}

/// The paywall and proxy over `verifier` on loopback; answers the URL of its `/hello`.
async fn serve(
    verifier: Arc<dyn Verifier>,
    challenge: Challenge,
    upstream: &reqwest::Url,
) -> Result<String> {
    let paywall = Paywall::new(verifier, challenge).bind_requests(false);
    let router = proxy::router(upstream.clone(), reqwest::Client::new(), paywall);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(format!("http://{addr}/hello"))
}

/// Opens one channel per worker to `payee`, then runs closed-loop paid calls, each worker
/// sending its calls to `urls` in turn: `warmup`, then counts the calls answered in `window`.
async fn measure(
    payer: &Party,
    payee: Address,
    urls: &[String],
    workers: usize,
    warmup: Duration,
    window: Duration,
) -> Result<f64> {
    let mut channels: Vec<ChannelId> = Vec::with_capacity(workers);
    for _ in 0..workers {
        channels.push(payer.node.open_channel_on_ledger(payee, DEPOSIT).await?);
    }
    let http = reqwest::Client::new();
    let counting = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(workers);
    for (worker, channel) in channels.into_iter().enumerate() {
        let (node, http, urls) = (payer.node.clone(), http.clone(), urls.to_vec());
        let (counting, stop, answered) = (
            Arc::clone(&counting),
            Arc::clone(&stop),
            Arc::clone(&answered),
        );
        tasks.push(tokio::spawn(async move {
            let mut turn = worker;
            while !stop.load(Ordering::Relaxed) {
                let url = urls
                    .get(turn.checked_rem(urls.len()).unwrap_or(0))
                    .cloned()
                    .unwrap_or_default();
                turn = turn.wrapping_add(1);
                paid_call(&node, &http, &url, channel).await?;
                if counting.load(Ordering::Relaxed) {
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            }
            anyhow::Ok(())
        }));
    }
    tokio::time::sleep(warmup).await;
    counting.store(true, Ordering::Relaxed);
    let start = Instant::now();
    tokio::time::sleep(window).await;
    counting.store(false, Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.context("a worker panicked")??;
    }
    Ok(answered.load(Ordering::Relaxed) as f64 / elapsed)
}

/// One paid call on `channel` to `url`: a fresh package, which must be answered `200`.
async fn paid_call(
    node: &Node,
    http: &reqwest::Client,
    url: &str,
    channel: ChannelId,
) -> Result<()> {
    let package = node.create_payment_package(channel, PRICE, None).await?;
    let answer = http
        .get(url)
        .header("authorization", format!("Paychan {}", package.to_compact()))
        .send()
        .await?;
    let status = answer.status();
    if !status.is_success() {
        let body = answer.text().await.unwrap_or_default();
        bail!("{url} answered {status}: {body}");
    }
    Ok(())
}
