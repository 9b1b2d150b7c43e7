//! `paychan demo`: two nodes over real loopback sockets, on an embedded ledger or (with
//! `--ledger ethereum`) on the contract on a local anvil.
//!
//! Alice and Bob are full [`Node`]s in this process, each with its own SQLite store, talking
//! over Noise-encrypted TCP on 127.0.0.1 exactly as two machines would. The ledger is the
//! embedded ledger, in memory, on a manual clock so that a challenge period can pass at once,
//! or the `PaychanAdjudicator` contract on a fresh anvil whose clock the demo moves forward.
//! The demo opens a channel, runs pay-per-call requests (each a JSON message answered with a
//! JSON response) with live progress and throughput, streams payments both ways at once,
//! withdraws, closes cooperatively, then opens a second channel that Alice closes alone and
//! Bob's watcher defends. At the end every ledger balance must equal the starting balance
//! plus the answered payments received minus those made; the command fails otherwise.

use std::time::Instant;

use anyhow::{Context, Result, ensure};
use indicatif::{ProgressBar, ProgressStyle};
use paychan_core::{Amount, ChannelId};
use paychan_node::{Incoming, Node, NodeEvent};
use paychan_store::Durability;
use serde_json::json;

use crate::output::outln;
use crate::{
    demo_ledger::{DemoLedger, DemoLedgerKind},
    pair::{self, Party, wait_event, wait_until_async},
    when,
};

/// Options of `paychan demo`.
#[derive(clap::Args, Debug)]
pub(crate) struct DemoArgs {
    /// Pay-per-call requests from Alice to Bob on the first channel.
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    requests: u32,
    /// Payments in each direction in the two-way stream.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    stream: u32,
    /// Seed for the demo's keys (the same seed gives the same addresses).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print the summary as JSON instead of text (no progress output).
    #[arg(long)]
    json: bool,
    /// The ledger: the embedded one in memory, or the contract on a local anvil.
    #[arg(long, value_enum, default_value = "embedded")]
    ledger: DemoLedgerKind,
}

const FUNDS: Amount = 1_000_000_000;

/// Runs the demo and checks its outcome.
pub(crate) fn run(args: &DemoArgs) -> Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(demo(args))
}

struct Out {
    quiet: bool,
}

impl Out {
    fn say(&self, line: impl AsRef<str>) {
        if !self.quiet {
            outln!("{}", line.as_ref());
        }
    }

    fn progress(&self, len: u64, what: &str) -> ProgressBar {
        if self.quiet {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len);
        let style = ProgressStyle::with_template(&format!(
            "  {what} [{{bar:30}}] {{pos}}/{{len}} {{per_sec}} {{msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar
    }
}

/// Totals of answered payments, per payer.
#[derive(Default)]
struct Paid {
    alice: Amount,
    bob: Amount,
}

async fn demo(args: &DemoArgs) -> Result<()> {
    let out = Out { quiet: args.json };
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let ledger = DemoLedger::start(args.ledger).await?;
    let handle = |key: &paychan_core::SigningKey| ledger.account(key);
    let alice = pair::party("alice", args.seed, handle, dir.path(), Durability::Normal).await?;
    let bob = pair::party("bob", args.seed, handle, dir.path(), Durability::Normal).await?;
    for p in [&alice, &bob] {
        ledger.faucet(p.key.address(), FUNDS).await?;
    }
    out.say(format!(
        "paychan demo: two nodes over Noise/TCP on 127.0.0.1, {}",
        ledger.describe()
    ));
    out.say(format!(
        "  Alice {}\n  Bob   {}\n  each starts with {FUNDS} units on the ledger\n",
        alice.key.address(),
        bob.key.address()
    ));

    // Bob runs a paid API: it answers each request with a JSON result.
    bob.node.set_payment_handler(|i: Incoming| async move {
        let n = i
            .message
            .get("n")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        Ok(json!({ "n": n, "square": n.saturating_mul(n), "paid": i.amount.to_string() }))
    });
    alice.node.set_payment_handler(|i: Incoming| async move {
        Ok(json!({ "thanks": i.amount.to_string() }))
    });

    let bob_at = pair::connect(&alice, &bob).await?;
    out.say(format!(
        "Bob listens at {bob_at}; Alice is connected (Noise XX, both addresses proven)"
    ));

    let mut paid = Paid::default();
    let requests = u128::from(args.requests);
    let first = alice
        .node
        .create_channel(
            bob.key.address(),
            requests.saturating_mul(2).saturating_add(10_000),
        )
        .await?;
    bob.node.deposit(first, 10_000).await?;
    out.say(format!(
        "\nchannel {first}\n  opened by Alice, Bob deposited 10000"
    ));

    // Pay-per-call: one request at a time on one channel, each answered.
    let bar = out.progress(u64::from(args.requests), "pay-per-call");
    let began = Instant::now();
    for n in 0..u64::from(args.requests) {
        let amount = 1 + Amount::from(n % 2);
        let response = alice
            .node
            .send_message_and_pay(first, &json!({ "n": n }), amount)
            .await?;
        ensure!(
            response.get("square") == Some(&json!(n.saturating_mul(n))),
            "wrong answer to request {n}: {response}"
        );
        paid.alice = paid.alice.saturating_add(amount);
        bar.inc(1);
    }
    let elapsed = began.elapsed();
    bar.finish_with_message("done");
    let rate = f64::from(args.requests) / elapsed.as_secs_f64().max(1e-9);
    out.say(format!(
        "  {} paid requests answered in {:.2?}: {rate:.0} calls/s",
        args.requests, elapsed
    ));

    // A two-way stream: both pay at the same time on the same channel.
    let bar = out.progress(u64::from(args.stream).saturating_mul(2), "two-way stream");
    let began = Instant::now();
    let (a_node, b_node, n) = (alice.node.clone(), bob.node.clone(), args.stream);
    let (bar_a, bar_b) = (bar.clone(), bar.clone());
    let from_alice = tokio::spawn(async move { stream(a_node, first, n, 1, bar_a).await });
    let from_bob = tokio::spawn(async move { stream(b_node, first, n, 2, bar_b).await });
    paid.alice = paid.alice.saturating_add(from_alice.await??);
    paid.bob = paid.bob.saturating_add(from_bob.await??);
    bar.finish_with_message("done");
    let streamed = u64::from(args.stream).saturating_mul(2);
    out.say(format!(
        "  {streamed} payments in both directions in {:.2?}: {:.0} payments/s",
        began.elapsed(),
        streamed as f64 / began.elapsed().as_secs_f64().max(1e-9)
    ));

    bob.node.withdraw(first, 1_000).await?;
    out.say("  Bob withdrew 1000 while the channel stays open (co-signed by Alice)");
    let info = alice.node.channel_info(first).await?;
    ensure!(
        alice.node.close(first).await?,
        "the first close should be cooperative"
    );
    out.say(format!(
        "  closed cooperatively: Alice paid {}, Bob paid {}",
        info.balances.paid_by_me, info.balances.paid_by_peer
    ));

    // The second channel: Alice closes alone; Bob's watcher submits Alice's latest voucher.
    let second = alice.node.create_channel(bob.key.address(), 5_000).await?;
    bob.node.deposit(second, 1_000).await?;
    for (n, amount) in [(1u64, 400), (2, 350)] {
        alice
            .node
            .send_message_and_pay(second, &json!({ "n": n }), amount)
            .await?;
        paid.alice = paid.alice.saturating_add(amount);
    }
    bob.node
        .send_message_and_pay(second, &json!({ "refund": 1 }), 120)
        .await?;
    paid.bob = paid.bob.saturating_add(120);
    out.say(format!(
        "\nchannel {second}\n  Alice paid 750, Bob paid 120"
    ));
    let mut bob_events = bob.node.subscribe();
    alice.node.force_close(second).await?;
    let deadline = wait_event(&mut bob_events, |e| match e {
        NodeEvent::CloseStarted { deadline, .. } => Some(*deadline),
        _ => None,
    })
    .await?;
    let now = ledger.now().await.ok();
    out.say(format!(
        "  Alice starts a unilateral close; challenge period until {}",
        when::deadline(deadline, now)
    ));
    wait_until_async(
        || async { ledger.counted_a(second).await == Some(750) },
        "Bob's watcher submits Alice's latest voucher",
    )
    .await?;
    out.say("  Bob's watcher submitted Alice's latest voucher (750)");
    ledger.advance_to(deadline).await?;
    out.say("  the challenge period passes (the ledger's clock is moved forward)");
    let received = wait_event(&mut bob_events, |e| match e {
        NodeEvent::ChannelClosed {
            channel_id,
            amount_received,
            ..
        } if *channel_id == second => Some(amount_received.clone()),
        _ => None,
    })
    .await?;
    out.say(format!("  the watcher settled: Bob received {received}"));

    let summary = check(&ledger, &alice, &bob, &paid, &out, rate).await?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&summary)?);
    }
    alice.node.shutdown();
    bob.node.shutdown();
    Ok(())
}

/// `n` payments of `amount` on `channel`; returns what was answered.
async fn stream(
    node: Node,
    channel: ChannelId,
    n: u32,
    amount: Amount,
    bar: ProgressBar,
) -> Result<Amount> {
    let mut total: Amount = 0;
    for i in 0..n {
        node.send_message_and_pay(channel, &json!({ "stream": i }), amount)
            .await?;
        total = total.saturating_add(amount);
        bar.inc(1);
    }
    Ok(total)
}

/// Checks every final balance against the answered payments and returns the summary.
async fn check(
    ledger: &DemoLedger,
    alice: &Party,
    bob: &Party,
    paid: &Paid,
    out: &Out,
    rate: f64,
) -> Result<serde_json::Value> {
    let mut rows = vec![];
    let mut ok = true;
    for (p, sent, received) in [(alice, paid.alice, paid.bob), (bob, paid.bob, paid.alice)] {
        let balance = ledger.balance(p.key.address()).await?;
        let expected = FUNDS.saturating_add(received).saturating_sub(sent);
        ok &= balance == expected;
        rows.push(json!({
            "party": p.name,
            "address": p.key.address().to_string(),
            "paid": sent.to_string(),
            "received": received.to_string(),
            "expected_balance": expected.to_string(),
            "ledger_balance": balance.to_string(),
            "ok": balance == expected,
        }));
        out.say(format!(
            "{}{:<6} paid {sent:>8}  received {received:>8}  expected {expected:>12}  ledger {balance:>12}  {}",
            if p.name == "alice" { "\nsummary\n  " } else { "  " },
            p.name,
            if balance == expected { "ok" } else { "MISMATCH" }
        ));
    }
    let (total, conserved) = ledger
        .conserved(
            &[alice.key.address(), bob.key.address()],
            FUNDS.saturating_mul(2),
        )
        .await?;
    ok &= conserved;
    out.say(format!(
        "  ledger total {total}: {}",
        if conserved {
            "conserved"
        } else {
            "NOT CONSERVED"
        }
    ));
    ensure!(ok, "final balances do not match the payments");
    out.say("every balance matches the answered payments: ok");
    Ok(json!({ "ok": ok, "parties": rows, "pay_per_call_per_second": rate.round() }))
}
