//! Payment packages between two nodes that never talk to each other: the payer opens on the
//! ledger and pays by packages; the payee learns the channel from the ledger, verifies and
//! records each package once. Every kind of bad package is refused and changes nothing; the
//! final settlement equals the packages accepted.

use paychan_core::{Address, Amount, B256, Signature, Voucher, eip712::Eip712, eip712::memo_of};
use paychan_node::{
    ChannelPolicy, NodeError, PaymentPackage,
    package::PackageRejection,
    testkit::{self, FUNDS, Net, connect},
};
use serde_json::{Value, json};

/// A payer A, a payee B on `b_policy`, and C, a third party; none connected.
async fn net(b_policy: ChannelPolicy) -> Net {
    let mut b_config = testkit::config();
    b_config.policy = b_policy;
    Net::builder().seed(61).config_b(b_config).build().await
}

/// Everything B shows of its channels.
async fn b_state(net: &Net) -> Value {
    serde_json::to_value(net.b.channels(None).await).unwrap()
}

/// Asserts a refusal by the rule named `reason` (`NodeError::reason`).
fn refused(result: Result<paychan_node::VerifiedPayment, NodeError>, reason: &str) {
    match result {
        Err(e @ NodeError::PackageRefused(_)) => {
            assert_eq!(
                e.reason(),
                Some(reason),
                "refused for {e}, expected {reason}"
            );
        }
        other => panic!("expected a refusal ({reason}), got {other:?}"),
    }
}

/// A package re-signed by A's key after `edit` changed its voucher.
fn resigned(
    net: &Net,
    package: &PaymentPackage,
    edit: impl FnOnce(&mut Voucher),
) -> PaymentPackage {
    let mut voucher = package.signed_voucher().unwrap().voucher;
    edit(&mut voucher);
    PaymentPackage::new(
        &net.a.domain(),
        &package.params(),
        &paychan_core::SignedVoucher {
            voucher,
            signature: voucher.sign(&net.a.domain(), &net.a.key),
        },
        package.message.clone(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packages_pay_a_payee_that_learns_the_channel_from_the_ledger() {
    let net = net(ChannelPolicy::default()).await;
    let (a, b) = (net.a.address(), net.b.address());
    let id = net.a.open_channel_on_ledger(b, 1_000).await.unwrap();
    assert!(net.b.channels(None).await.is_empty(), "B knows nothing yet");
    let mut events = net.b.subscribe();

    let mut paid = 0;
    for (n, message) in [json!({ "call": 1 }), json!("two"), json!([3.25, null])]
        .into_iter()
        .enumerate()
    {
        let amount = 10 * (n as Amount + 1);
        let package = net
            .a
            .create_payment_package(id, amount, Some(&message))
            .await
            .unwrap();
        // The payer counts it as paid at once.
        paid += amount;
        assert_eq!(
            net.a.channel_info(id).await.unwrap().balances.paid_by_me,
            paid
        );
        // Every other package travels in its compact form.
        let text = if n % 2 == 0 {
            package.to_json()
        } else {
            package.to_compact()
        };
        let verified = net
            .b
            .verify_payment_package(&PaymentPackage::parse(&text).unwrap())
            .await
            .unwrap();
        assert_eq!(verified.channel_id, id);
        assert_eq!(verified.payer, a);
        assert_eq!(verified.amount, amount);
        assert_eq!(verified.cumulative, paid);
        assert_eq!(verified.remaining, 1_000 - paid);
        assert_eq!(verified.message, Some(message));
    }
    // A package without its message: the memo stands for it.
    let package = net.a.create_payment_package(id, 5, None).await.unwrap();
    paid += 5;
    let verified = net.b.verify_payment_package(&package).await.unwrap();
    assert_eq!((verified.amount, verified.message), (5, None));
    assert_eq!(verified.memo, B256::ZERO);

    let seen: Vec<_> = std::iter::from_fn(|| events.try_recv().ok()).collect();
    assert_eq!(
        seen.iter()
            .filter(|e| matches!(e, paychan_node::NodeEvent::ChannelCreatedByPeer { .. }))
            .count(),
        1,
        "{seen:?}"
    );
    assert!(
        matches!(&seen[0], paychan_node::NodeEvent::ChannelCreatedByPeer { channel_id, peer, .. } if *channel_id == id && *peer == a),
        "{seen:?}"
    );
    assert_eq!(
        seen.iter()
            .filter(|e| matches!(e, paychan_node::NodeEvent::PaymentReceived { .. }))
            .count(),
        4
    );
    let info = net.b.channel_info(id).await.unwrap();
    assert_eq!(info.balances.paid_by_peer, paid);
    assert_eq!(info.balances.peer_deposit, 1_000);

    // They meet once, to close cooperatively: the ledger pays what the packages paid.
    connect(&net.a, &net.b).await;
    assert!(net.a.close(id).await.unwrap(), "cooperative");
    assert_eq!(net.balance(a), FUNDS - paid);
    assert_eq!(net.balance(b), FUNDS + paid);
    net.conserved();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_packages_are_refused_and_change_nothing() {
    let net = net(ChannelPolicy::default()).await;
    let b = net.b.address();
    let id = net.a.open_channel_on_ledger(b, 1_000).await.unwrap();
    let first = net
        .a
        .create_payment_package(id, 100, Some(&json!("first")))
        .await
        .unwrap();
    let second = net
        .a
        .create_payment_package(id, 50, Some(&json!("second")))
        .await
        .unwrap();
    net.b.verify_payment_package(&second).await.unwrap();
    let before = b_state(&net).await;

    // Replayed, and older than the latest.
    refused(
        net.b.verify_payment_package(&second).await,
        "voucher.not_monotonic",
    );
    refused(
        net.b.verify_payment_package(&first).await,
        "voucher.not_monotonic",
    );
    // Tampered amount or message without a new signature.
    let mut more = second.clone();
    more.voucher.cumulative = "900".into();
    refused(
        net.b.verify_payment_package(&more).await,
        "package.signature",
    );
    let mut other_message = second.clone();
    other_message.message = Some(json!("something else"));
    refused(
        net.b.verify_payment_package(&other_message).await,
        "package.message",
    );
    // Properly signed, but over the payer's deposit.
    let over = resigned(&net, &second, |v| {
        v.cumulative = 1_001;
        v.sequence += 1;
    });
    refused(
        net.b.verify_payment_package(&over).await,
        "voucher.over_balance",
    );
    // Another ledger, another channel, another payee, another payer.
    let mut foreign = second.clone();
    foreign.ledger.chain_id += 1;
    refused(
        net.b.verify_payment_package(&foreign).await,
        "package.other_ledger",
    );
    let mut renamed = second.clone();
    renamed.channel.nonce = B256::repeat_byte(9);
    refused(
        net.b.verify_payment_package(&renamed).await,
        "package.channel_id",
    );
    let third = net
        .a
        .create_payment_package(id, 1, Some(&json!("for b")))
        .await
        .unwrap();
    refused(
        net.c.verify_payment_package(&third).await,
        "package.other_payee",
    );
    let mut stranger = second.clone();
    stranger.voucher.payer = Address::repeat_byte(7);
    refused(
        net.b.verify_payment_package(&stranger).await,
        "package.not_a_party",
    );
    // Forged signature bytes, unknown version, a channel the ledger does not have.
    let mut forged = second.clone();
    forged.signature =
        serde_json::from_value::<Signature>(json!(format!("0x{}", "01".repeat(65)))).unwrap();
    refused(
        net.b.verify_payment_package(&forged).await,
        "package.signature",
    );
    let mut newer = second.clone();
    newer.version = 2;
    refused(
        net.b.verify_payment_package(&newer).await,
        "package.version",
    );
    let ghost_params = paychan_core::ChannelParams {
        nonce: B256::repeat_byte(0x77),
        ..second.params()
    };
    let ghost = {
        let voucher = Voucher {
            channel_id: ghost_params.id(&net.a.domain()),
            payer: net.a.address(),
            cumulative: 1,
            sequence: 1,
            memo: memo_of(b"null"),
        };
        PaymentPackage::new(
            &net.a.domain(),
            &ghost_params,
            &paychan_core::SignedVoucher {
                voucher,
                signature: voucher.sign(&net.a.domain(), &net.a.key),
            },
            Some(Value::Null),
        )
    };
    refused(
        net.b.verify_payment_package(&ghost).await,
        "package.not_on_ledger",
    );
    // Malformed text.
    for text in [
        "",
        "{",
        "not base64!",
        "eyJ2ZXJzaW9uIjoxfQ",
        &second
            .to_json()
            .replace("\"version\":1", "\"version\":1,\"extra\":0"),
        &second
            .to_json()
            .replace(&format!("\"{}\"", 150), "\"0150\""),
        &second
            .to_json()
            .replace(&format!("\"{}\"", 150), "\"-150\""),
    ] {
        let parsed = PaymentPackage::parse(text).and_then(|p| p.signed_voucher().map(|_| p));
        assert!(
            matches!(&parsed, Err(PackageRejection::Malformed(_))),
            "{text:?}: {parsed:?}"
        );
    }

    assert_eq!(b_state(&net).await, before, "nothing changed on B");
    assert!(net.c.channels(None).await.is_empty(), "C learnt nothing");
    // The third package is still good for B: refusals elsewhere did not consume it.
    let verified = net.b.verify_payment_package(&third).await.unwrap();
    assert_eq!(verified.amount, 1);
    net.conserved();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_presented_concurrently_is_counted_once() {
    let net = net(ChannelPolicy::default()).await;
    let id = net
        .a
        .open_channel_on_ledger(net.b.address(), 1_000)
        .await
        .unwrap();
    let package = net
        .a
        .create_payment_package(id, 40, Some(&json!("once")))
        .await
        .unwrap();
    let tries: Vec<_> = (0..16)
        .map(|_| {
            let b = net.b.clone();
            let package = package.clone();
            tokio::spawn(async move { b.verify_payment_package(&package).await })
        })
        .collect();
    let mut accepted = 0;
    for t in tries {
        if t.await.unwrap().is_ok() {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 1);
    assert_eq!(
        net.b.channel_info(id).await.unwrap().balances.paid_by_peer,
        40
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payee_refuses_channels_its_policy_refuses() {
    let net = net(ChannelPolicy {
        min_challenge_period: 7_200,
        ..ChannelPolicy::default()
    })
    .await;
    let id = net
        .a
        .open_channel_on_ledger(net.b.address(), 1_000)
        .await
        .unwrap();
    let package = net.a.create_payment_package(id, 1, None).await.unwrap();
    refused(
        net.b.verify_payment_package(&package).await,
        "policy.challenge_period",
    );
    assert!(net.b.channels(None).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_underpaid_package_is_refused_and_can_be_taken_back() {
    let net = net(ChannelPolicy::default()).await;
    let b = net.b.address();
    let id = net.a.open_channel_on_ledger(b, 1_000).await.unwrap();
    let paid = net.a.create_payment_package(id, 10, None).await.unwrap();
    net.b.verify_payment_package_min(&paid, 10).await.unwrap();
    let before = b_state(&net).await;

    let cheap = net
        .a
        .create_payment_package(id, 9, Some(&json!("GET /")))
        .await
        .unwrap();
    refused(
        net.b.verify_payment_package_min(&cheap, 10).await,
        "package.underpaid",
    );
    assert_eq!(b_state(&net).await, before, "the refusal changed nothing");
    // The payer takes it back: its counter returns, and the next package does not pay for it.
    assert_eq!(
        net.a.channel_info(id).await.unwrap().balances.paid_by_me,
        19
    );
    net.a.cancel_payment_package(&cheap).await.unwrap();
    assert_eq!(
        net.a.channel_info(id).await.unwrap().balances.paid_by_me,
        10
    );
    assert!(
        net.a.cancel_payment_package(&cheap).await.is_err(),
        "taken back once only"
    );
    assert!(
        net.a.cancel_payment_package(&paid).await.is_err(),
        "only the latest package can be taken back"
    );
    let next = net.a.create_payment_package(id, 10, None).await.unwrap();
    let verified = net.b.verify_payment_package_min(&next, 10).await.unwrap();
    assert_eq!((verified.amount, verified.cumulative), (10, 20));
    // The refused package stays refused: it is older than the one kept.
    refused(
        net.b.verify_payment_package(&cheap).await,
        "voucher.not_monotonic",
    );
    assert_eq!(
        net.b.channel_info(id).await.unwrap().balances.paid_by_peer,
        20
    );
}
