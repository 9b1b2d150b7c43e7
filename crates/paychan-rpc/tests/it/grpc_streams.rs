//! The gRPC API's other methods and streams (see `grpc.rs` for the channel's life and the
//! refusals): proposals decided from the `SubscribeProposals` stream (accepted, rejected with
//! a reason the proposer sees, decided twice: NOT_FOUND), payments answered on the
//! bidirectional `HandlePayments` (a response, an error that counts nothing, a second
//! handler refused, the role ended by closing the answers), payment packages created and
//! verified (a replay refused), tokens minted, listed and revoked over gRPC, a `pay` token
//! stopped at its limit with nothing paid, and the unconfirmed-credit settings.

use std::time::{Duration, Instant};

use futures::StreamExt;
use paychan_rpc::grpc::pb;
use serde_json::{Value, json};
use tonic::Code;

use crate::{
    grpc::{auth, connect, paychan_code, refused, serve, serve_with},
    harness::{Net, TOKEN},
};

fn open_request(peer: &paychan_node::Node, deposit: &str) -> pb::OpenChannelRequest {
    pb::OpenChannelRequest {
        peer: Some(json!(peer.address()).as_str().unwrap().to_owned()),
        deposit: deposit.into(),
        peer_url: None,
        propose: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposals_payments_packages_and_tokens_over_grpc_streams() {
    let net = Net::new(true).await;
    let dir = tempfile::tempdir().unwrap();
    let api_a = serve(&net, &net.a, 51, &dir.path().join("a.db")).await;
    let api_b = serve_with(&net, &net.b, 52, &dir.path().join("b.db"), |builder| {
        builder
            .remote_payment_handler()
            .proposal_decisions(Duration::from_secs(20))
    })
    .await;
    let mut alice = connect(&api_a).await;
    let mut bob = connect(&api_b).await;

    // Bob decides A's proposals from his proposal stream: accepts one, rejects the next.
    let mut proposals = bob
        .subscribe_proposals(auth(TOKEN, pb::SubscribeProposalsRequest {}))
        .await
        .unwrap()
        .into_inner();
    let opening = {
        let mut alice = alice.clone();
        let request = open_request(&net.b, "1000");
        tokio::spawn(async move { alice.open_channel(auth(TOKEN, request)).await })
    };
    let proposal = tokio::time::timeout(Duration::from_secs(10), proposals.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(proposal.peer, json!(net.a.address()).as_str().unwrap());
    assert_eq!(proposal.deposit, "1000");
    assert!(proposal.expires_at_ms > proposal.received_at_ms);
    let waiting = bob
        .list_proposals(auth(TOKEN, pb::ListProposalsRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(waiting.proposals, vec![proposal.clone()]);
    bob.accept_proposal(auth(
        TOKEN,
        pb::AcceptProposalRequest {
            channel_id: proposal.channel_id.clone(),
        },
    ))
    .await
    .unwrap();
    let channel = opening.await.unwrap().unwrap().into_inner();
    assert_eq!(channel.channel_id, proposal.channel_id);
    assert_eq!(channel.status, "open");
    let id = channel.channel_id;

    let refused_open = {
        let mut alice = alice.clone();
        let request = open_request(&net.b, "10");
        tokio::spawn(async move { alice.open_channel(auth(TOKEN, request)).await })
    };
    let second = tokio::time::timeout(Duration::from_secs(10), proposals.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    bob.reject_proposal(auth(
        TOKEN,
        pb::RejectProposalRequest {
            channel_id: second.channel_id.clone(),
            reason: Some("one channel is enough".into()),
        },
    ))
    .await
    .unwrap();
    let status = refused(refused_open.await.unwrap());
    assert_eq!(
        (status.code(), paychan_code(&status)),
        (Code::Aborted, 2003)
    );
    assert!(
        status.message().contains("one channel is enough"),
        "{status:?}"
    );
    let again = refused(
        bob.accept_proposal(auth(
            TOKEN,
            pb::AcceptProposalRequest {
                channel_id: second.channel_id,
            },
        ))
        .await,
    );
    assert_eq!((again.code(), paychan_code(&again)), (Code::NotFound, 1912));

    // Bob answers A's payments on one bidirectional call.
    let (answers, outbound) = futures::channel::mpsc::unbounded::<pb::PaymentAnswer>();
    let mut requests = bob
        .handle_payments(auth(TOKEN, outbound))
        .await
        .unwrap()
        .into_inner();
    let second_handler = refused(
        bob.handle_payments(auth(TOKEN, futures::stream::pending::<pb::PaymentAnswer>()))
            .await,
    );
    assert_eq!(
        (second_handler.code(), paychan_code(&second_handler)),
        (Code::AlreadyExists, 1905)
    );
    let pay = |amount: &str, message: &str| {
        let mut alice = alice.clone();
        let request = auth(
            TOKEN,
            pb::PayRequest {
                channel_id: id.clone(),
                amount: amount.into(),
                message_json: message.into(),
            },
        );
        tokio::spawn(async move { alice.pay(request).await })
    };
    let paying = pay("7", r#""hello""#);
    let request = requests.next().await.unwrap().unwrap();
    assert_eq!(
        (request.amount.as_str(), request.message_json.as_str()),
        ("7", r#""hello""#)
    );
    assert_eq!(request.channel_id, id);
    answers
        .unbounded_send(pb::PaymentAnswer {
            request_id: request.request_id,
            outcome: Some(pb::payment_answer::Outcome::ResponseJson(
                r#"{"answer":"HELLO"}"#.into(),
            )),
        })
        .unwrap();
    let paid = paying.await.unwrap().unwrap().into_inner();
    assert_eq!(paid.response_json, r#"{"answer":"HELLO"}"#);
    // An error refuses the payment: the payer is told, nothing is counted.
    let paying = pay("3", r#""too cheap""#);
    let request = requests.next().await.unwrap().unwrap();
    answers
        .unbounded_send(pb::PaymentAnswer {
            request_id: request.request_id,
            outcome: Some(pb::payment_answer::Outcome::Error("costs 10".into())),
        })
        .unwrap();
    let status = refused(paying.await.unwrap());
    assert_eq!(
        (status.code(), paychan_code(&status)),
        (Code::Aborted, 2003)
    );
    assert!(status.message().contains("costs 10"), "{status:?}");
    let seen = bob
        .channel_info(auth(
            TOKEN,
            pb::ChannelInfoRequest {
                channel_id: id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen.balances.unwrap().paid_by_peer, "7");
    // Closing its side ends the role: payments get the node's default answer again.
    drop(answers);
    assert!(requests.next().await.is_none_or(|end| end.is_err()));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = pay("1", "").await.unwrap().unwrap().into_inner();
        if serde_json::from_str::<Value>(&answer.response_json).unwrap()
            == json!(crate::harness::DEFAULT_RESPONSE)
        {
            break;
        }
        assert!(Instant::now() < deadline, "the handler stayed registered");
        tokio::task::yield_now().await;
    }

    // Payment packages: A signs one, B verifies and records it.
    let created = alice
        .create_payment_package(auth(
            TOKEN,
            pb::CreatePaymentPackageRequest {
                channel_id: id.clone(),
                amount: "5".into(),
                message_json: Some(r#"{"call":"/weather"}"#.into()),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let dry = bob
        .verify_payment_package(auth(
            TOKEN,
            pb::VerifyPaymentPackageRequest {
                package: created.package_json.clone(),
                min_amount: Some("5".into()),
                dry_run: true,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(dry.amount, "5");
    let verified = bob
        .verify_payment_package(auth(
            TOKEN,
            pb::VerifyPaymentPackageRequest {
                package: created.compact.clone(),
                min_amount: Some("5".into()),
                dry_run: false,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(verified.amount, "5");
    assert_eq!(
        serde_json::from_str::<Value>(verified.message_json.as_deref().unwrap()).unwrap(),
        json!({ "call": "/weather" })
    );
    let replay = refused(
        bob.verify_payment_package(auth(
            TOKEN,
            pb::VerifyPaymentPackageRequest {
                package: created.compact,
                min_amount: None,
                dry_run: false,
            },
        ))
        .await,
    );
    assert_eq!(replay.code(), Code::InvalidArgument, "{replay:?}");

    // Tokens minted, listed and revoked over gRPC; a pay token stops at its limit.
    let bogus = refused(
        alice
            .create_token(auth(
                TOKEN,
                pb::CreateTokenRequest {
                    scopes: vec!["everything".into()],
                    limit: None,
                    period: None,
                    label: None,
                },
            ))
            .await,
    );
    assert_eq!(
        (bogus.code(), paychan_code(&bogus)),
        (Code::InvalidArgument, 1000)
    );
    let minted = alice
        .create_token(auth(
            TOKEN,
            pb::CreateTokenRequest {
                scopes: vec!["pay".into()],
                limit: Some("3".into()),
                period: Some(3600),
                label: Some("agent".into()),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let info = minted.info.unwrap();
    assert_eq!(
        (info.scopes.clone(), info.limit.clone(), info.label.clone()),
        (
            vec!["pay".to_owned()],
            Some("3".to_owned()),
            Some("agent".to_owned())
        )
    );
    let refused_admin = refused(
        alice
            .create_token(auth(
                &minted.token,
                pb::CreateTokenRequest {
                    scopes: vec!["read".into()],
                    limit: None,
                    period: None,
                    label: None,
                },
            ))
            .await,
    );
    assert_eq!(refused_admin.code(), Code::PermissionDenied);
    let before = net.snapshot().await;
    let over = refused(
        alice
            .pay(auth(
                &minted.token,
                pb::PayRequest {
                    channel_id: id.clone(),
                    amount: "4".into(),
                    message_json: String::new(),
                },
            ))
            .await,
    );
    assert_eq!(
        (over.code(), paychan_code(&over)),
        (Code::ResourceExhausted, 1908)
    );
    assert_eq!(net.snapshot().await, before);
    let listed = alice
        .list_tokens(auth(TOKEN, pb::ListTokensRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.tokens, vec![info.clone()]);
    let revoked = alice
        .revoke_token(auth(TOKEN, pb::RevokeTokenRequest { id: info.id }))
        .await
        .unwrap()
        .into_inner();
    assert!(revoked.revoked);
    let gone = refused(
        alice
            .node_info(auth(&minted.token, pb::NodeInfoRequest {}))
            .await,
    );
    assert_eq!(gone.code(), Code::Unauthenticated);

    let credit = alice
        .set_unconfirmed_credit(auth(
            TOKEN,
            pb::SetUnconfirmedCreditRequest {
                per_channel: Some("100".into()),
                total: Some("500".into()),
                min_wait: None,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (credit.per_channel.as_str(), credit.total.as_str()),
        ("100", "500")
    );
    net.conserved();
}
