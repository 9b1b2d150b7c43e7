//! Pay-per-time streams over loopback HTTP: a stream runs while it is paid, is cut when
//! payments stop, and no money is created or lost (the payer's total, the payee's and the
//! server's count of paid intervals agree).

use std::time::{Duration, Instant};

use futures::StreamExt;
use paychan_http::{
    ClientConfig, PaidStream, PaidStreams, PaymentError, header::authorization, paywall::binding,
};

use crate::harness::{Net, PRICE, paid_streams, serve, stream_api, wait_until};

const INTERVAL: Duration = Duration::from_millis(200);
/// Generous, so that a loaded machine does not cut a stream that is being paid.
const GRACE: Duration = Duration::from_secs(2);
const TICK: Duration = Duration::from_millis(50);
/// Events per interval.
const PER_INTERVAL: u64 = 4;
const PATIENCE: Duration = Duration::from_secs(30);

/// Reads server-sent events until `want` were read in all (`None`: until the end); answers
/// the events read and whether the stream ended.
async fn read_events(stream: &mut PaidStream, seen: &mut u64, want: Option<u64>) -> bool {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while want.is_none_or(|want| *seen < want) {
        let next = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("the stream neither went on nor ended in time");
        match next {
            Some(chunk) => {
                let text = String::from_utf8(chunk.unwrap().to_vec()).unwrap();
                *seen += text.matches("\n\n").count() as u64;
            }
            None => return true,
        }
    }
    false
}

async fn setup(interval: Duration) -> (Net, PaidStreams, String) {
    let net = Net::new().await;
    let streams = paid_streams(&net, interval, GRACE);
    let addr = serve(stream_api(&streams, TICK)).await;
    (net, streams, format!("http://{addr}/ticks"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_runs_while_it_is_paid_and_payments_stop_when_it_is_dropped() {
    let (net, streams, url) = setup(INTERVAL).await;
    // Without payment: the usual 402.
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 402);

    let client = net.client(ClientConfig::default());
    let mut stream = client.stream(&url).await.unwrap();
    let terms = stream.terms().clone();
    assert_eq!((terms.price, terms.interval_ms), (PRICE, 200));
    assert_eq!(terms.pay, format!("/paychan/stream/{}", terms.id));
    assert!(stream.receipt().unwrap().is_signed_by(net.b.address()));

    // Eight intervals' worth of events: the stream is not cut while it is paid.
    let intervals = 8;
    let mut seen = 0;
    let ended = read_events(&mut stream, &mut seen, Some(intervals * PER_INTERVAL)).await;
    assert!(!ended, "the stream ended while paid");
    let payments = stream.payments();
    assert_eq!(payments.stopped_by, None);
    assert!(
        payments.intervals >= intervals - 1,
        "{payments:?} for {seen} events"
    );
    let stats = streams.stats();
    assert_eq!((stats.opened, stats.open), (1, 1));
    assert!(stats.intervals_served <= stats.intervals_paid);
    assert!(
        stats.intervals_paid <= stats.intervals_served + 1,
        "never more than one interval paid ahead: {stats:?}"
    );
    // Never more events than the paid time holds (one more at an interval's edge).
    assert!(
        seen <= stats.intervals_paid * PER_INTERVAL + 1,
        "{seen} {stats:?}"
    );

    // Dropping the stream stops the payments and the server ends the stream.
    drop(stream);
    wait_until("the stream ended at the server", async || {
        streams.stats().open == 0
    })
    .await;
    // A payment in flight when the stream was dropped is either credited or refused and
    // taken back: the payer, the payee and the server agree.
    wait_until("the payments settled", async || {
        let paid = streams.stats().intervals_paid;
        net.a_paid().await == u128::from(paid) * PRICE
            && net.b_received().await == u128::from(paid) * PRICE
    })
    .await;
    let stats = streams.stats();
    assert!(stats.intervals_paid >= intervals - 1, "{stats:?}");
    assert!(
        stats.intervals_paid <= stats.intervals_served + 1,
        "{stats:?}"
    );
    // Nothing more is paid once the stream is gone.
    let paid = net.a_paid().await;
    tokio::time::sleep(INTERVAL * 3).await;
    assert_eq!(net.a_paid().await, paid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_is_cut_when_payments_stop_and_no_money_is_lost() {
    let (net, streams, url) = setup(INTERVAL).await;
    let client = net.client(ClientConfig::default());
    let mut stream = client.stream(&url).await.unwrap();
    let pay_path = stream.terms().pay.clone();

    let mut seen = 0;
    assert!(!read_events(&mut stream, &mut seen, Some(3 * PER_INTERVAL)).await);
    let stopped = Instant::now();
    let payments = stream.stop_paying().await;
    assert!(payments.intervals >= 2, "{payments:?}");
    assert_eq!(payments.amount, u128::from(payments.intervals) * PRICE);

    // The consumer keeps reading: the server serves what was paid, then closes the stream.
    // (A server that kept streaming without payment would never end it: the read fails.)
    let ended = read_events(&mut stream, &mut seen, None).await;
    assert!(ended);
    let took = stopped.elapsed();
    // Paid time left at the stop is at most two intervals (one paid ahead), then the grace;
    // the slack is for a loaded machine.
    assert!(
        took < 2 * INTERVAL + GRACE + Duration::from_secs(5),
        "closed {took:?} after the last payment"
    );
    assert!(
        seen <= payments.intervals * PER_INTERVAL + 1,
        "{seen} events for {} paid intervals",
        payments.intervals
    );

    let stats = streams.stats();
    assert_eq!(stats.open, 0);
    assert_eq!(stats.intervals_paid, payments.intervals);
    assert_eq!(stats.intervals_served, payments.intervals);
    // The payee received exactly what the payer paid.
    assert_eq!(net.b_received().await, payments.amount);
    assert_eq!(net.a_paid().await, payments.amount);

    // A late payment for the cut stream is refused before it is recorded.
    let addr = url.trim_end_matches("/ticks");
    let channel = net.a.channels(None).await[0].channel_id;
    let late = net
        .a
        .create_payment_package(channel, PRICE, Some(&binding("POST", &pay_path)))
        .await
        .unwrap();
    let answer = reqwest::Client::new()
        .post(format!("{addr}{pay_path}"))
        .header("authorization", authorization(&late.to_compact()))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 402);
    let body: PaymentError = answer.json().await.unwrap();
    assert_eq!(body.error, PaymentError::PACKAGE_REFUSED);
    assert!(body.message.contains("ended"), "{}", body.message);
    assert_eq!(net.b_received().await, payments.amount);
    net.a.cancel_payment_package(&late).await.unwrap();
    assert_eq!(net.a_paid().await, payments.amount);
    // Without a package: 410 Gone.
    let gone = reqwest::Client::new()
        .post(format!("{addr}{pay_path}"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 410);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paying_more_than_one_interval_ahead_is_refused_unrecorded() {
    let (net, streams, url) = setup(Duration::from_secs(20)).await;
    // A opens the stream (and stops paying); C pays for it by hand, twice in a row. The
    // interval is long, so the second interval has not begun at the second payment.
    let client = net.client(ClientConfig::default());
    let mut stream = client.stream(&url).await.unwrap();
    let terms = stream.terms().clone();
    let payments = stream.stop_paying().await;
    assert_eq!(payments.intervals, 1);
    let channel = net
        .c
        .open_channel_on_ledger(net.b.address(), 1_000)
        .await
        .unwrap();
    let addr = url.trim_end_matches("/ticks");
    let mut answers = Vec::new();
    for _ in 0..2 {
        let package = net
            .c
            .create_payment_package(channel, PRICE, Some(&binding("POST", &terms.pay)))
            .await
            .unwrap();
        let answer = reqwest::Client::new()
            .post(format!("{addr}{}", terms.pay))
            .header("authorization", authorization(&package.to_compact()))
            .send()
            .await
            .unwrap();
        answers.push((answer.status().as_u16(), package));
    }
    // The first pays the second interval; the second would pay a third before the second
    // began (the stream is not a deposit box).
    assert_eq!(answers[0].0, 200);
    assert_eq!(answers[1].0, 402);
    net.c.cancel_payment_package(&answers[1].1).await.unwrap();
    assert_eq!(streams.stats().intervals_paid, 2);
    let from_c: u128 = net
        .b_channels()
        .await
        .iter()
        .filter(|c| c.channel_id == channel)
        .map(|c| c.balances.paid_by_peer)
        .sum();
    assert_eq!(from_c, PRICE);
    drop(stream);
}
