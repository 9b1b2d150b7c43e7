//! The gRPC API against two in-process nodes on the embedded ledger, driven by the tonic
//! client generated from `proto/`: a channel opened, paid, topped up, withdrawn from and
//! closed, the payment seen on the event stream, the same views as JSON-RPC; the same tokens
//! and scopes as JSON-RPC (a read-only token is refused `Pay` with PERMISSION_DENIED, a `pay`
//! token stops at its limit with RESOURCE_EXHAUSTED, a revoked token ends its event stream),
//! bad params refused with INVALID_ARGUMENT; every refusal changes nothing. The other methods
//! and streams: `grpc_streams.rs`.

use std::{
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use futures::StreamExt;
use paychan_core::SigningKey;
use paychan_ledger::LedgerQuery;
use paychan_rpc::{
    RpcConfig, RpcServer, RpcServerBuilder, client,
    grpc::pb::{self, node_client::NodeClient},
    method,
    tokens::TokenRegistry,
};
use paychan_store::{Durability, Store, sqlite::SqliteStore};
use serde_json::{Value, json};
use tonic::{Code, Request, Status, transport::Channel};
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};

use crate::harness::{FUNDS, Net, TOKEN, ok};

/// A second API server for `node` of `net` (key from `seed`, as the harness makes them) with
/// scoped tokens and gRPC on a free port.
pub(crate) async fn serve(net: &Net, node: &paychan_node::Node, seed: u8, db: &Path) -> RpcServer {
    serve_with(net, node, seed, db, |builder| builder).await
}

/// [`serve`], with `more` applied to the builder.
pub(crate) async fn serve_with(
    net: &Net,
    node: &paychan_node::Node,
    seed: u8,
    db: &Path,
    more: impl FnOnce(RpcServerBuilder) -> RpcServerBuilder,
) -> RpcServer {
    let key = SigningKey::from_entropy(&[seed; 32]).unwrap();
    let query: Arc<dyn LedgerQuery> = Arc::new(net.ledger.account(key));
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(db, Durability::Normal).unwrap());
    let tokens = Arc::new(TokenRegistry::open([7; 32], store).await.unwrap());
    let config = RpcConfig::new(TOKEN)
        .with_listen("127.0.0.1:0".parse().unwrap())
        .with_grpc_listen("127.0.0.1:0".parse().unwrap());
    more(
        RpcServerBuilder::new(node.clone(), config)
            .ledger(query)
            .tokens(tokens),
    )
    .start()
    .await
    .unwrap()
}

pub(crate) async fn connect(server: &RpcServer) -> NodeClient<Channel> {
    NodeClient::connect(server.grpc_url().unwrap())
        .await
        .unwrap()
}

/// `message` with the metadata `authorization: Bearer <token>`.
pub(crate) fn auth<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// The paychan code in a status's metadata.
pub(crate) fn paychan_code(status: &Status) -> u16 {
    status
        .metadata()
        .get("paychan-code")
        .unwrap_or_else(|| panic!("no paychan-code in {status:?}"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

pub(crate) fn refused<T: std::fmt::Debug>(result: Result<tonic::Response<T>, Status>) -> Status {
    match result {
        Ok(answer) => panic!("succeeded with {answer:?}, expected a refusal"),
        Err(status) => status,
    }
}

/// A JSON-RPC `channel_info` answer as the gRPC message must carry it.
fn as_message(view: &Value) -> pb::Channel {
    let s = |v: &Value| v.as_str().unwrap().to_owned();
    let b = &view["balances"];
    pb::Channel {
        channel_id: s(&view["channel_id"]),
        peer: s(&view["peer"]),
        role: s(&view["role"]),
        status: s(&view["status"]),
        balances: Some(pb::Balances {
            my_available: s(&b["my_available"]),
            peer_available: s(&b["peer_available"]),
            paid_by_me: s(&b["paid_by_me"]),
            paid_by_peer: s(&b["paid_by_peer"]),
            my_deposit: s(&b["my_deposit"]),
            peer_deposit: s(&b["peer_deposit"]),
            my_pending_deposit: s(&b["my_pending_deposit"]),
        }),
        expected_payouts: view["expected_payouts"].as_object().map(|p| pb::Payouts {
            mine: s(&p["mine"]),
            peer: s(&p["peer"]),
        }),
        deadline: view["deadline"].as_u64(),
        auto_refill: view["auto_refill"].as_object().map(|r| pb::AutoRefill {
            threshold: s(&r["threshold"]),
            amount: s(&r["amount"]),
        }),
        unclaimed: s(&view["unclaimed"]),
    }
}

/// The next event of `stream` named `name`, within 10 s.
async fn next_named(stream: &mut tonic::Streaming<pb::Event>, name: &str) -> pb::Event {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = tokio::time::timeout(left, stream.next())
            .await
            .unwrap_or_else(|_| panic!("no {name} event within 10 s"))
            .expect("the event stream ended")
            .unwrap();
        if event.event == name {
            return event;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_is_opened_paid_withdrawn_and_closed_over_grpc() {
    let net = Net::new(true).await;
    let dir = tempfile::tempdir().unwrap();
    let api = serve(&net, &net.a, 51, &dir.path().join("tokens.db")).await;
    let mut grpc = connect(&api).await;
    let json_rpc = client::http(&api.url(), TOKEN).unwrap();

    // The reflection service describes the API without a token (what grpcurl reads).
    let channel = Channel::from_shared(api.grpc_url().unwrap())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut reflection = ServerReflectionClient::new(channel);
    let ask = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let listed = reflection
        .server_reflection_info(futures::stream::iter([ask]))
        .await
        .unwrap()
        .into_inner()
        .next()
        .await
        .unwrap()
        .unwrap();
    match listed.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => assert!(
            list.service.iter().any(|s| s.name == "paychan.v1.Node"),
            "{list:?}"
        ),
        other => panic!("reflection answered {other:?}"),
    }

    let info = grpc
        .node_info(auth(TOKEN, pb::NodeInfoRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.address, json!(net.a.address()).as_str().unwrap());
    assert_eq!(info.balance.as_deref(), Some(FUNDS.to_string().as_str()));
    assert_eq!(info.channels.unwrap().total, 0);

    let mut events = grpc
        .subscribe_events(auth(TOKEN, pb::SubscribeEventsRequest {}))
        .await
        .unwrap()
        .into_inner();

    let opened = grpc
        .open_channel(auth(
            TOKEN,
            pb::OpenChannelRequest {
                peer: Some(json!(net.b.address()).as_str().unwrap().to_owned()),
                deposit: "1000".into(),
                peer_url: None,
                propose: None,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(opened.status, "open");
    assert_eq!(opened.balances.as_ref().unwrap().my_deposit, "1000");
    let id = opened.channel_id.clone();
    assert_eq!(
        next_named(&mut events, "channel_opened").await.channel_id,
        Some(id.clone())
    );

    let paid = grpc
        .pay(auth(
            TOKEN,
            pb::PayRequest {
                channel_id: id.clone(),
                amount: "10".into(),
                message_json: r#"{"question":"weather?"}"#.into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let response: Value = serde_json::from_str(&paid.response_json).unwrap();
    assert_eq!(
        response,
        json!({ "echo": { "question": "weather?" }, "paid": "10" })
    );
    let sent = next_named(&mut events, "payment_sent").await;
    assert_eq!(sent.channel_id, Some(id.clone()));
    let sent: Value = serde_json::from_str(&sent.json).unwrap();
    assert_eq!(sent["amount"], "10");

    // gRPC and JSON-RPC answer the same view of the channel.
    let over_grpc = grpc
        .channel_info(auth(
            TOKEN,
            pb::ChannelInfoRequest {
                channel_id: id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let over_json = ok(&json_rpc, method::CHANNEL_INFO, json!({ "channel_id": id })).await;
    assert_eq!(over_grpc, as_message(&over_json));
    assert_eq!(over_grpc.balances.as_ref().unwrap().paid_by_me, "10");
    let listed = grpc
        .list_channels(auth(TOKEN, pb::ListChannelsRequest { peer: None }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.channels, vec![over_grpc]);

    let deposited = grpc
        .deposit(auth(
            TOKEN,
            pb::DepositRequest {
                channel_id: id.clone(),
                amount: "100".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deposited.balances.unwrap().my_deposit, "1100");
    let withdrawn = grpc
        .withdraw(auth(
            TOKEN,
            pb::WithdrawRequest {
                channel_id: id.clone(),
                amount: "90".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(withdrawn.balances.unwrap().my_available, "1000");
    assert_eq!(net.balance(net.a.address()), FUNDS - 1100 + 90);

    let closed = grpc
        .close(auth(
            TOKEN,
            pb::CloseRequest {
                channel_id: id.clone(),
                force: false,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(closed.cooperative);
    assert_eq!(closed.channel.unwrap().status, "closed");
    // What A paid B over gRPC is what the ledger moved; nothing was created or lost.
    assert_eq!(net.balance(net.a.address()), FUNDS - 10);
    assert_eq!(net.balance(net.b.address()), FUNDS + 10);
    net.conserved();

    // Contacts round-trip too.
    let bob = grpc
        .add_contact(auth(
            TOKEN,
            pb::AddContactRequest {
                alias: "bob".into(),
                peer: json!(net.b.address()).as_str().unwrap().to_owned(),
                replace: false,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let listed = grpc
        .list_channels(auth(
            TOKEN,
            pb::ListChannelsRequest {
                peer: Some("bob".into()),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.channels.len(), 1);
    let taken = refused(
        grpc.add_contact(auth(
            TOKEN,
            pb::AddContactRequest {
                alias: "bob".into(),
                peer: bob.address.clone(),
                replace: false,
            },
        ))
        .await,
    );
    assert_eq!(
        (taken.code(), paychan_code(&taken)),
        (Code::AlreadyExists, 1008)
    );
    grpc.remove_contact(auth(
        TOKEN,
        pb::RemoveContactRequest {
            alias: "bob".into(),
        },
    ))
    .await
    .unwrap();
    let gone = refused(
        grpc.get_contact(auth(
            TOKEN,
            pb::GetContactRequest {
                alias: "bob".into(),
            },
        ))
        .await,
    );
    assert_eq!((gone.code(), paychan_code(&gone)), (Code::NotFound, 1006));
    api.stop();
    api.stopped().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_scopes_and_bad_params_are_refused_and_change_nothing() {
    let net = Net::new(true).await;
    let dir = tempfile::tempdir().unwrap();
    let api = serve(&net, &net.a, 51, &dir.path().join("tokens.db")).await;
    let mut grpc = connect(&api).await;
    let json_rpc = client::http(&api.url(), TOKEN).unwrap();
    let id = grpc
        .open_channel(auth(
            TOKEN,
            pb::OpenChannelRequest {
                peer: Some(json!(net.b.address()).as_str().unwrap().to_owned()),
                deposit: "1000".into(),
                peer_url: None,
                propose: None,
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .channel_id;
    let pay = |token: &str, amount: &str| {
        auth(
            token,
            pb::PayRequest {
                channel_id: id.clone(),
                amount: amount.into(),
                message_json: String::new(),
            },
        )
    };
    let before = net.snapshot().await;

    // No token, a wrong one, another scheme: UNAUTHENTICATED.
    for request in [
        Request::new(pb::PayRequest {
            channel_id: id.clone(),
            amount: "1".into(),
            message_json: String::new(),
        }),
        pay("not-the-token-0123456789", "1"),
        {
            let mut r = Request::new(pb::PayRequest {
                channel_id: id.clone(),
                amount: "1".into(),
                message_json: String::new(),
            });
            r.metadata_mut()
                .insert("authorization", format!("Basic {TOKEN}").parse().unwrap());
            r
        },
    ] {
        let status = refused(grpc.pay(request).await);
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    }

    // A read-only token reads, and is refused Pay (and the admin methods) before they run.
    let read = ok(
        &json_rpc,
        method::CREATE_TOKEN,
        json!({ "scopes": ["read"] }),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    grpc.node_info(auth(&read, pb::NodeInfoRequest {}))
        .await
        .unwrap();
    grpc.channel_info(auth(
        &read,
        pb::ChannelInfoRequest {
            channel_id: id.clone(),
        },
    ))
    .await
    .unwrap();
    let denied = refused(grpc.pay(pay(&read, "1")).await);
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    assert_eq!(paychan_code(&denied), 1907);
    assert!(
        denied.message().contains("pay needs the pay scope"),
        "{denied:?}"
    );
    let denied = refused(
        grpc.close(auth(
            &read,
            pb::CloseRequest {
                channel_id: id.clone(),
                force: true,
            },
        ))
        .await,
    );
    assert_eq!(
        (denied.code(), paychan_code(&denied)),
        (Code::PermissionDenied, 1907)
    );
    let denied = refused(
        grpc.withdraw(auth(
            &read,
            pb::WithdrawRequest {
                channel_id: id.clone(),
                amount: "1".into(),
            },
        ))
        .await,
    );
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert_eq!(
        net.snapshot().await,
        before,
        "a refused call changed something"
    );

    // Bad params: INVALID_ARGUMENT, code 1000, nothing done.
    for amount in [
        "-1",
        "1.5",
        "",
        "0",
        "1e3",
        "0x10",
        "340282366920938463463374607431768211456",
    ] {
        let status = refused(grpc.pay(pay(TOKEN, amount)).await);
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{amount:?}: {status:?}"
        );
        assert_eq!(paychan_code(&status), 1000);
    }
    for (channel_id, message_json) in [("0x12", ""), ("channel", ""), ("", "")] {
        let status = refused(
            grpc.pay(auth(
                TOKEN,
                pb::PayRequest {
                    channel_id: channel_id.into(),
                    amount: "1".into(),
                    message_json: message_json.into(),
                },
            ))
            .await,
        );
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{channel_id:?}: {status:?}"
        );
    }
    let status = refused(
        grpc.pay(auth(
            TOKEN,
            pb::PayRequest {
                channel_id: id.clone(),
                amount: "1".into(),
                message_json: "{not json".into(),
            },
        ))
        .await,
    );
    assert_eq!(
        (status.code(), paychan_code(&status)),
        (Code::InvalidArgument, 1000)
    );
    let status = refused(
        grpc.open_channel(auth(
            TOKEN,
            pb::OpenChannelRequest {
                peer: Some("0x1234".into()),
                deposit: "10".into(),
                peer_url: None,
                propose: None,
            },
        ))
        .await,
    );
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    // Well-formed but refused by the state: more than the balance, an unknown channel.
    let status = refused(grpc.pay(pay(TOKEN, "1001")).await);
    assert_eq!(
        (status.code(), paychan_code(&status)),
        (Code::FailedPrecondition, 1002)
    );
    let unknown = format!("0x{}", "ab".repeat(32));
    let status = refused(
        grpc.channel_info(auth(
            TOKEN,
            pb::ChannelInfoRequest {
                channel_id: unknown,
            },
        ))
        .await,
    );
    assert_eq!(
        (status.code(), paychan_code(&status)),
        (Code::NotFound, 1001)
    );
    assert_eq!(
        net.snapshot().await,
        before,
        "a refused call changed something"
    );

    // A pay token pays up to its limit, then RESOURCE_EXHAUSTED with nothing paid.
    let payer = ok(
        &json_rpc,
        method::CREATE_TOKEN,
        json!({ "scopes": ["pay"], "limit": "15", "period": 3600 }),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    grpc.pay(pay(&payer, "10")).await.unwrap();
    let before = net.snapshot().await;
    let over = refused(grpc.pay(pay(&payer, "6")).await);
    assert_eq!(
        (over.code(), paychan_code(&over)),
        (Code::ResourceExhausted, 1908)
    );
    assert_eq!(
        net.snapshot().await,
        before,
        "the refused payment changed something"
    );
    grpc.pay(pay(&payer, "5")).await.unwrap();

    // What this API does not offer is UNIMPLEMENTED, with the JSON-RPC codes.
    let status = refused(
        grpc.subscribe_proposals(auth(TOKEN, pb::SubscribeProposalsRequest {}))
            .await,
    );
    assert_eq!(
        (status.code(), paychan_code(&status)),
        (Code::Unimplemented, 1911)
    );
    let status = refused(
        grpc.handle_payments(auth(TOKEN, futures::stream::pending::<pb::PaymentAnswer>()))
            .await,
    );
    assert_eq!(
        (status.code(), paychan_code(&status)),
        (Code::Unimplemented, 1904)
    );

    // Revoking a token ends its event stream at the next event.
    let mut events = grpc
        .subscribe_events(auth(&read, pb::SubscribeEventsRequest {}))
        .await
        .unwrap()
        .into_inner();
    let read_id = ok(&json_rpc, method::LIST_TOKENS, json!({})).await[0]["id"].clone();
    ok(&json_rpc, method::REVOKE_TOKEN, json!({ "id": read_id })).await;
    grpc.pay(pay(TOKEN, "1")).await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("the stream neither ended nor sent")
        .expect("the stream ended without a status");
    let status = ended.expect_err("an event after the revocation");
    assert_eq!(
        (status.code(), paychan_code(&status)),
        (Code::PermissionDenied, 1907)
    );
    let refused_now = refused(grpc.node_info(auth(&read, pb::NodeInfoRequest {})).await);
    assert_eq!(refused_now.code(), Code::Unauthenticated);

    let info = grpc
        .channel_info(auth(
            TOKEN,
            pb::ChannelInfoRequest {
                channel_id: id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.balances.unwrap().paid_by_me, "16");
    net.conserved();
}

/// Every JSON-RPC method has its gRPC twin in `proto/paychan/v1/node.proto` (`pay` is
/// `Pay`, `subscribe_events` is the stream `SubscribeEvents`), except the aa-channels
/// aliases (the same methods under aa's names), the `unsubscribe_*` calls (a gRPC stream
/// ends when its caller cancels it) and `subscribe_payments`, which is the bidirectional
/// `HandlePayments`; and the service has no method of its own.
#[test]
fn the_proto_mirrors_every_json_rpc_method() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../proto/paychan/v1/node.proto"
    );
    let proto = std::fs::read_to_string(path).unwrap();
    let snake = |camel: &str| {
        let mut out = String::new();
        for c in camel.chars() {
            if c.is_ascii_uppercase() && !out.is_empty() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    };
    let served: std::collections::BTreeSet<String> = proto
        .lines()
        .filter_map(|line| line.trim().strip_prefix("rpc "))
        .map(|rest| snake(rest.split('(').next().unwrap().trim()))
        .collect();
    let aa: Vec<&str> = vec![
        method::aa::CREATE_NEW_CHANNEL,
        method::aa::SEND_MESSAGE_AND_PAY,
        method::aa::SET_AUTO_REFILL,
        method::aa::GET_BALANCES_AND_STATUS,
        method::aa::GET_CHANNELS_FOR_PEER,
        method::aa::CREATE_PAYMENT_PACKAGE,
        method::aa::VERIFY_PAYMENT_PACKAGE,
    ];
    let mut expected: std::collections::BTreeSet<String> = method::ALL
        .iter()
        .filter(|m| !aa.contains(m) && !m.starts_with("unsubscribe_"))
        .map(|m| (*m).to_owned())
        .collect();
    assert!(expected.remove(method::SUBSCRIBE_PAYMENTS));
    expected.insert("handle_payments".to_owned());
    assert_eq!(served, expected);
}
