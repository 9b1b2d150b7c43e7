//! The JSON-RPC server and client over loopback: authorization (signatures, replays), strict
//! parameters, disabled development methods, event delivery (subscription and polling), and
//! nonces shared by concurrent clients of one account.

use std::{net::SocketAddr, time::Duration};

use futures::{FutureExt, StreamExt};
use jsonrpsee::{
    core::{ClientError, client::ClientT, params::ArrayParams, traits::ToRpcParams},
    http_client::{HttpClient, HttpClientBuilder},
};
use paychan_core::{Address, Amount, B256, ChannelParams, Role, SigningKey};
use paychan_ledger::{
    Clock, EmbeddedLedger, EventRecord, LedgerError, LedgerEvents, LedgerFunding, LedgerQuery,
    Operation, Rule,
    embedded::token,
    request::SignedRequest,
    rpc::{self, RpcLedger, RpcReader, RpcServer, ServeOptions, serve},
};
use serde_json::{Value, json, value::RawValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const START: u64 = 1_700_000_000;
const INVALID_PARAMS: i32 = -32602;

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes([n; 32]).unwrap()
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn start(clock: Clock, options: ServeOptions) -> (EmbeddedLedger, RpcServer) {
    let ledger = EmbeddedLedger::in_memory(clock);
    let server = serve(ledger.clone(), loopback(), options).await.unwrap();
    (ledger, server)
}

async fn start_dev() -> (EmbeddedLedger, RpcServer) {
    start(
        Clock::manual(START),
        ServeOptions {
            faucet: true,
            manual_clock: true,
        },
    )
    .await
}

fn channel(a: Address, b: Address, nonce: u8) -> ChannelParams {
    ChannelParams {
        party_a: a,
        party_b: b,
        token: Address::ZERO,
        challenge_period: 3600,
        nonce: B256::repeat_byte(nonce),
    }
}

/// Raw params: whatever JSON the test wants to send.
struct Raw(Box<RawValue>);

impl ToRpcParams for Raw {
    fn to_rpc_params(self) -> Result<Option<Box<RawValue>>, serde_json::Error> {
        Ok(Some(self.0))
    }
}

fn http(server: &RpcServer) -> HttpClient {
    HttpClientBuilder::default().build(server.url()).unwrap()
}

/// Calls `method` with raw `params` and returns the JSON-RPC error (the call must fail).
async fn raw_error(client: &HttpClient, method: &str, params: &str) -> (i32, String, LedgerError) {
    let params = Raw(RawValue::from_string(params.to_owned()).unwrap());
    match client.request::<Value, _>(method, params).await {
        Err(ClientError::Call(e)) => (e.code(), e.message().to_owned(), rpc::ledger_error(&e)),
        other => panic!(
            "{method} {params:?}: expected an error, got {other:?}",
            params = "…"
        ),
    }
}

async fn raw_ok(client: &HttpClient, method: &str, params: &str) -> Value {
    let params = Raw(RawValue::from_string(params.to_owned()).unwrap());
    client.request::<Value, _>(method, params).await.unwrap()
}

/// Everything a refused call must leave as it was.
#[derive(Debug, PartialEq)]
struct Snapshot {
    balances: Vec<Amount>,
    nonces: Vec<u64>,
    events: Vec<EventRecord>,
    time: u64,
}

fn snapshot(ledger: &EmbeddedLedger, accounts: &[Address]) -> Snapshot {
    let assets = [Address::ZERO, token("USD")];
    Snapshot {
        balances: accounts
            .iter()
            .flat_map(|a| assets.iter().map(|t| ledger.balance_of(*a, *t).unwrap()))
            .collect(),
        nonces: accounts.iter().map(|a| ledger.nonce(*a).unwrap()).collect(),
        events: recorded(ledger),
        time: ledger.time().unwrap(),
    }
}

/// Every event recorded so far, read from the embedded ledger itself.
fn recorded(ledger: &EmbeddedLedger) -> Vec<EventRecord> {
    let mut stream = ledger.event_stream(0);
    let mut events = Vec::new();
    while let Some(Some(record)) = stream.next().now_or_never() {
        events.push(record.unwrap());
    }
    events
}

#[tokio::test]
async fn queries_answer_over_http() {
    let (ledger, server) = start_dev().await;
    let reader = RpcReader::connect(&server.url()).await.unwrap();
    assert_eq!(reader.domain().await.unwrap(), ledger.domain());
    assert_eq!(reader.now().await.unwrap(), START);
    let alice = key(1).address();
    assert_eq!(reader.faucet(alice, Address::ZERO, 500).await.unwrap(), 500);
    assert_eq!(reader.faucet(alice, token("USD"), 7).await.unwrap(), 7);
    assert_eq!(reader.balance(alice, Address::ZERO).await.unwrap(), 500);
    assert_eq!(reader.balance(alice, token("USD")).await.unwrap(), 7);
    assert_eq!(reader.nonce(alice).await.unwrap(), 0);
    assert_eq!(reader.advance_time(60).await.unwrap(), START + 60);
    assert_eq!(reader.now().await.unwrap(), START + 60);

    // The domain serializes as {chainId, verifyingContract}; asset defaults to native.
    let client = http(&server);
    let domain = client
        .request::<Value, _>("ledger_domain", ArrayParams::new())
        .await
        .unwrap();
    assert_eq!(domain["chainId"], json!(ledger.domain().chain_id()));
    assert_eq!(
        domain["verifyingContract"].as_str().unwrap().to_lowercase(),
        ledger
            .domain()
            .verifying_contract()
            .to_string()
            .to_lowercase()
    );
    let balance = raw_ok(
        &client,
        "ledger_balance",
        &format!(r#"{{"owner":"{alice}"}}"#),
    )
    .await;
    assert_eq!(balance, json!(500));

    // A channel nobody opened is null; opened, it is its record.
    let bob = key(2).address();
    let params = channel(alice, bob, 1);
    let id = params.id(&ledger.domain());
    assert_eq!(reader.channel(id).await.unwrap(), None);
    let alice_ledger = RpcLedger::connect(&server.url(), key(1)).await.unwrap();
    alice_ledger.open(&params, 100).await.unwrap();
    let record = reader.channel(id).await.unwrap().unwrap();
    assert_eq!(record.deposited.a, 100);
    assert_eq!(record, ledger.channel_record(&id).unwrap().unwrap());
    assert_eq!(reader.nonce(alice).await.unwrap(), 1);
}

#[tokio::test]
async fn large_amounts_survive_the_wire() {
    let (ledger, server) = start_dev().await;
    let reader = RpcReader::connect(&server.url()).await.unwrap();
    let alice = key(1).address();
    let big: Amount = u128::MAX / 3;
    assert_eq!(reader.faucet(alice, Address::ZERO, big).await.unwrap(), big);
    assert_eq!(reader.balance(alice, Address::ZERO).await.unwrap(), big);

    // Operations, receipts and events with amounts beyond u64.
    let account = RpcLedger::connect(&server.url(), key(1)).await.unwrap();
    let params = channel(alice, key(2).address(), 1);
    let deposit = u128::from(u64::MAX) + 12;
    let receipt = account.open(&params, deposit).await.unwrap();
    let mut stream = account.events(0).await.unwrap();
    assert_eq!(next_event(&mut stream).await, receipt.events[0]);
    let record = account
        .channel(params.id(&ledger.domain()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.deposited.a, deposit);
    assert_eq!(
        account.as_reader().events_page(0, 10).await.unwrap(),
        receipt.events
    );
}

#[tokio::test]
async fn a_request_signed_by_another_key_is_refused_and_changes_nothing() {
    let (ledger, server) = start_dev().await;
    let reader = RpcReader::connect(&server.url()).await.unwrap();
    let (alice, mallory) = (key(1), key(9));
    reader
        .faucet(alice.address(), Address::ZERO, 1_000)
        .await
        .unwrap();
    let accounts = [alice.address(), mallory.address()];
    let before = snapshot(&ledger, &accounts);

    // Mallory signs an open paid by Alice's account.
    let op = Operation::Open {
        params: channel(mallory.address(), alice.address(), 1),
        amount: 1_000,
    };
    let mut request = SignedRequest::sign(&ledger.domain(), &mallory, 1, op.clone()).unwrap();
    request.from = alice.address();
    let err = reader.submit(&request).await.unwrap_err();
    assert!(matches!(err, LedgerError::Unauthorized(_)), "{err:?}");
    assert!(err.is_final());

    // A signature over another domain is refused as well.
    let other = paychan_core::Domain::new(1, Address::repeat_byte(1));
    let request = SignedRequest::sign(&other, &alice, 1, op.clone()).unwrap();
    let err = reader.submit(&request).await.unwrap_err();
    assert!(matches!(err, LedgerError::Unauthorized(_)), "{err:?}");

    // A garbled signature too.
    let mut request = SignedRequest::sign(&ledger.domain(), &alice, 1, op).unwrap();
    request.signature.0[10] ^= 1;
    let err = reader.submit(&request).await.unwrap_err();
    assert!(matches!(err, LedgerError::Unauthorized(_)), "{err:?}");

    assert_eq!(snapshot(&ledger, &accounts), before);
}

#[tokio::test]
async fn a_replayed_request_is_refused() {
    let (ledger, server) = start_dev().await;
    let reader = RpcReader::connect(&server.url()).await.unwrap();
    let alice = key(1);
    let bob = key(2).address();
    reader
        .faucet(alice.address(), Address::ZERO, 1_000)
        .await
        .unwrap();
    let params = channel(alice.address(), bob, 1);
    let id = params.id(&ledger.domain());
    let open = SignedRequest::sign(
        &ledger.domain(),
        &alice,
        1,
        Operation::Open {
            params,
            amount: 100,
        },
    )
    .unwrap();
    reader.submit(&open).await.unwrap();
    let deposit = SignedRequest::sign(
        &ledger.domain(),
        &alice,
        2,
        Operation::Deposit {
            channel_id: id,
            party: Role::B,
            amount: 10,
        },
    )
    .unwrap();
    reader.submit(&deposit).await.unwrap();
    let accounts = [alice.address(), bob];
    let before = snapshot(&ledger, &accounts);

    // The same request again, and a new operation under a used nonce.
    let err = reader.submit(&deposit).await.unwrap_err();
    assert!(matches!(err, LedgerError::Unauthorized(_)), "{err:?}");
    let reuse = SignedRequest::sign(
        &ledger.domain(),
        &alice,
        1,
        Operation::Deposit {
            channel_id: id,
            party: Role::A,
            amount: 5,
        },
    )
    .unwrap();
    let err = reader.submit(&reuse).await.unwrap_err();
    assert!(matches!(err, LedgerError::Unauthorized(_)), "{err:?}");
    assert_eq!(snapshot(&ledger, &accounts), before);
    assert_eq!(ledger.channel_record(&id).unwrap().unwrap().deposited.b, 10);
}

#[tokio::test]
async fn refusals_come_back_as_the_exact_variant() {
    let (ledger, server) = start_dev().await;
    let alice = RpcLedger::connect(&server.url(), key(1)).await.unwrap();
    let bob = key(2).address();
    alice
        .as_reader()
        .faucet(alice.account(), Address::ZERO, 100)
        .await
        .unwrap();
    let params = channel(alice.account(), bob, 1);
    let err = alice.open(&params, 1_000).await.unwrap_err();
    assert_eq!(
        err,
        LedgerError::InsufficientFunds {
            needed: 1_000,
            available: 100
        }
    );
    let err = alice
        .deposit(params.id(&ledger.domain()), Role::A, 1)
        .await
        .unwrap_err();
    assert_eq!(err, LedgerError::Rejected(Rule::UnknownChannel));
    // Refused requests used their nonces up; the handle goes on with the next ones.
    alice.open(&params, 100).await.unwrap();
    assert_eq!(ledger.nonce(alice.account()).unwrap(), 3);
    assert_eq!(
        ledger.balance_of(alice.account(), Address::ZERO).unwrap(),
        0
    );
}

#[tokio::test]
async fn bad_params_are_invalid_params_and_change_nothing() {
    let (ledger, server) = start_dev().await;
    let client = http(&server);
    let alice = key(1).address();
    let reader = RpcReader::connect(&server.url()).await.unwrap();
    reader.faucet(alice, Address::ZERO, 1_000).await.unwrap();
    let before = snapshot(&ledger, &[alice]);
    let settle = serde_json::to_string(&Operation::Settle {
        channel_id: paychan_core::ChannelId(B256::ZERO),
    })
    .unwrap();
    let negative = serde_json::to_string(&Operation::Deposit {
        channel_id: paychan_core::ChannelId(B256::ZERO),
        party: Role::A,
        amount: 7,
    })
    .unwrap()
    .replace(":7", ":-7");
    assert!(negative.contains(":-7"), "{negative}");

    let cases: &[(&str, String)] = &[
        ("ledger_faucet", format!(r#"{{"owner":"{alice}","amount":-5}}"#)),
        ("ledger_faucet", format!(r#"{{"owner":"{alice}","amount":"100"}}"#)),
        ("ledger_faucet", format!(r#"{{"owner":"{alice}","amount":1.5}}"#)),
        ("ledger_faucet", format!(r#"{{"owner":"{alice}"}}"#)),
        ("ledger_faucet", r#"{"owner":"0x1234","amount":5}"#.to_owned()),
        ("ledger_faucet", format!(r#"{{"owner":"{alice}","amount":5,"extra":1}}"#)),
        ("ledger_faucet", format!(r#"{{"owner":"{alice}","amount":1e40}}"#)),
        ("ledger_faucet", format!(r#"{{"owner":"{alice}","amount":340282366920938463463374607431768211456}}"#)),
        ("ledger_faucet", r#""just a string""#.to_owned()),
        ("ledger_balance", r#"{"owner":42}"#.to_owned()),
        ("ledger_balance", r#"{}"#.to_owned()),
        ("ledger_channel", r#"{"channelId":"0x00"}"#.to_owned()),
        ("ledger_channel", r#"{"channel_id":"0x0000000000000000000000000000000000000000000000000000000000000000"}"#.to_owned()),
        ("ledger_nonce", r#"{"account":null}"#.to_owned()),
        ("ledger_submit", r#"{"request":{"from":"0x0000000000000000000000000000000000000001"}}"#.to_owned()),
        ("ledger_submit", r#"{"request":[1,2,3]}"#.to_owned()),
        ("ledger_submit", format!(
            r#"{{"request":{{"from":"{alice}","nonce":-1,"op":{settle},"signature":"0x{}"}}}}"#,
            "00".repeat(65)
        )),
        ("ledger_submit", format!(
            r#"{{"request":{{"from":"{alice}","nonce":1,"op":{negative},"signature":"0x{}"}}}}"#,
            "00".repeat(65)
        )),
        ("ledger_advanceTime", r#"{"secs":-1}"#.to_owned()),
        ("ledger_advanceTime", r#"{"secs":18446744073709551615}"#.to_owned()),
        ("ledger_advanceTime", r#"{"secs":"10"}"#.to_owned()),
        ("ledger_events", r#"{"from":-1}"#.to_owned()),
        ("ledger_events", r#"{"from":0,"limit":-1}"#.to_owned()),
        ("ledger_events", r#"{"limit":10}"#.to_owned()),
    ];
    for (method, params) in cases {
        let (code, message, err) = raw_error(&client, method, params).await;
        assert_eq!(code, INVALID_PARAMS, "{method} {params}: {message}");
        assert!(
            matches!(err, LedgerError::Invalid(_)),
            "{method} {params}: {err:?}"
        );
    }
    // No params at all where some are needed.
    let err = client
        .request::<Value, _>("ledger_balance", ArrayParams::new())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Call(e) if e.code() == INVALID_PARAMS));

    // A well-formed request whose signature is garbage: refused, not a crash.
    let (code, _, err) = raw_error(
        &client,
        "ledger_submit",
        &format!(
            r#"{{"request":{{"from":"{alice}","nonce":1,"op":{settle},"signature":"0x{}"}}}}"#,
            "ff".repeat(65)
        ),
    )
    .await;
    assert_eq!(code, rpc::UNAUTHORIZED, "{err:?}");
    assert!(matches!(err, LedgerError::Unauthorized(_)), "{err:?}");

    // Unknown methods are the standard error.
    let (code, _, err) = raw_error(&client, "ledger_mint", "{}").await;
    assert_eq!(code, -32601);
    assert!(matches!(err, LedgerError::Invalid(_)), "{err:?}");

    assert_eq!(snapshot(&ledger, &[alice]), before);
    // Still serving.
    assert_eq!(reader.balance(alice, Address::ZERO).await.unwrap(), 1_000);
}

#[tokio::test]
async fn garbage_http_bodies_get_errors_and_the_server_keeps_serving() {
    let (_ledger, server) = start_dev().await;
    let bodies: &[&[u8]] = &[
        b"",
        b"{",
        b"not json at all",
        b"[]",
        b"[1,2,3]",
        br#"{"jsonrpc":"2.0","id":1}"#,
        br#"{"jsonrpc":"2.0","id":1,"method":"ledger_faucet","params":{"owner":"0x","amount":1}}"#,
        br#"{"jsonrpc":"2.0","id":1,"method":"ledger_events","params":{"from":18446744073709551615,"limit":18446744073709551615}}"#,
        b"\xff\xfe\x00garbage",
    ];
    for body in bodies {
        let mut stream = tokio::net::TcpStream::connect(server.local_addr())
            .await
            .unwrap();
        let head = format!(
            "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(body).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
            .await
            .unwrap()
            .unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1"), "{answer}");
    }
    let reader = RpcReader::connect(&server.url()).await.unwrap();
    assert_eq!(reader.now().await.unwrap(), START);
    assert_eq!(
        reader.events_page(u64::MAX, u64::MAX).await.unwrap(),
        vec![]
    );
}

#[tokio::test]
async fn the_faucet_can_be_disabled() {
    let (ledger, server) = start(
        Clock::manual(START),
        ServeOptions {
            faucet: false,
            manual_clock: true,
        },
    )
    .await;
    let reader = RpcReader::connect(&server.url()).await.unwrap();
    let alice = key(1).address();
    let err = reader.faucet(alice, Address::ZERO, 5).await.unwrap_err();
    assert!(
        matches!(&err, LedgerError::Disabled(why) if why.contains("faucet is disabled")),
        "{err:?}"
    );
    let (code, message, _) = raw_error(
        &http(&server),
        "ledger_faucet",
        &format!(r#"{{"owner":"{alice}","amount":5}}"#),
    )
    .await;
    assert_eq!(code, rpc::DISABLED);
    assert!(message.contains("faucet is disabled"), "{message}");
    assert_eq!(ledger.balance_of(alice, Address::ZERO).unwrap(), 0);
    assert_eq!(ledger.supply(Address::ZERO).unwrap(), 0);
}

#[tokio::test]
async fn time_cannot_be_advanced_on_the_system_clock() {
    let (ledger, server) = start(
        Clock::System,
        ServeOptions {
            faucet: true,
            manual_clock: false,
        },
    )
    .await;
    let reader = RpcReader::connect(&server.url()).await.unwrap();
    let err = reader.advance_time(3600).await.unwrap_err();
    assert!(
        matches!(&err, LedgerError::Disabled(why) if why.contains("system clock")),
        "{err:?}"
    );
    let (code, _, _) = raw_error(&http(&server), "ledger_advanceTime", r#"{"secs":3600}"#).await;
    assert_eq!(code, rpc::DISABLED);
    let now = reader.now().await.unwrap();
    assert!(now.abs_diff(ledger.time().unwrap()) < 5);

    // Asking for a manual clock on a system-clock ledger is refused at start.
    let err = serve(
        EmbeddedLedger::in_memory(Clock::System),
        loopback(),
        ServeOptions {
            faucet: false,
            manual_clock: true,
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, LedgerError::Invalid(_)), "{err:?}");

    // And a manual-clock ledger served without the option keeps its clock to itself.
    let (_, server) = start(Clock::manual(START), ServeOptions::default()).await;
    let reader = RpcReader::connect(&server.url()).await.unwrap();
    assert!(reader.advance_time(1).await.is_err());
    assert_eq!(reader.now().await.unwrap(), START);
}

/// Opens a channel and makes `deposits` deposits on it through the embedded ledger directly
/// (fast), returning the number of events recorded.
async fn make_events(ledger: &EmbeddedLedger, nonce: u8, deposits: u32) -> u64 {
    let alice = key(1);
    ledger
        .faucet(alice.address(), Address::ZERO, 1_000_000)
        .unwrap();
    let account = ledger.account(alice.clone());
    let params = channel(alice.address(), key(2).address(), nonce);
    account.open(&params, 1).await.unwrap();
    for _ in 0..deposits {
        account
            .deposit(params.id(&ledger.domain()), Role::B, 1)
            .await
            .unwrap();
    }
    recorded(ledger).len() as u64
}

async fn next_event(stream: &mut paychan_ledger::EventStream) -> EventRecord {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("an event within 10 s")
        .expect("the stream goes on")
        .expect("an event, not an error")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subscription_delivers_past_then_live_events_in_order() {
    let (ledger, server) = start_dev().await;
    let past = make_events(&ledger, 1, 9).await;
    assert_eq!(past, 10);
    let alice = RpcLedger::connect(&server.url(), key(1)).await.unwrap();
    let mut stream = alice.events(0).await.unwrap();
    let mut from_middle = alice.events(4).await.unwrap();
    let mut seen = Vec::new();
    for cursor in 0..past {
        let record = next_event(&mut stream).await;
        assert_eq!(record.cursor, cursor);
        seen.push(record);
    }

    // Live: events from this and other clients arrive as they are confirmed.
    let params = channel(alice.account(), key(3).address(), 2);
    let id = params.id(&ledger.domain());
    let receipt = alice.open(&params, 5).await.unwrap();
    assert_eq!(next_event(&mut stream).await, receipt.events[0]);
    seen.push(receipt.events[0]);
    let writer = {
        let alice = alice.clone();
        tokio::spawn(async move {
            let mut receipts = Vec::new();
            for _ in 0..20 {
                receipts.push(alice.deposit(id, Role::A, 1).await.unwrap());
            }
            receipts
        })
    };
    for _ in 0..20 {
        let record = next_event(&mut stream).await;
        assert_eq!(record.cursor, seen.len() as u64);
        seen.push(record);
    }
    let receipts = writer.await.unwrap();
    let written: Vec<EventRecord> = receipts.into_iter().flat_map(|r| r.events).collect();
    assert_eq!(&seen[seen.len() - 20..], &written[..]);

    // The same events, in the same order, for every reader and every way of reading.
    let local: Vec<EventRecord> = ledger
        .event_stream(0)
        .take(seen.len())
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(seen, local);
    let mut middle = Vec::new();
    for _ in 4..seen.len() {
        middle.push(next_event(&mut from_middle).await);
    }
    assert_eq!(&seen[4..], &middle[..]);
    let polled = alice.as_reader().events_page(0, 1000).await.unwrap();
    assert_eq!(seen, polled);
    let polled = alice.as_reader().events_page(7, 3).await.unwrap();
    assert_eq!(&seen[7..10], &polled[..]);
    assert_eq!(
        alice
            .as_reader()
            .events_page(seen.len() as u64, 10)
            .await
            .unwrap(),
        vec![]
    );

    // Nothing more is pending.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), stream.next())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn polling_is_capped_at_1000_events_per_call_and_pages_through_everything() {
    let (ledger, server) = start_dev().await;
    let total = make_events(&ledger, 1, 1_200).await;
    assert_eq!(total, 1_201);
    let reader = RpcReader::connect(&server.url()).await.unwrap();
    let first = reader.events_page(0, 5_000).await.unwrap();
    assert_eq!(first.len(), 1_000);
    let rest = raw_ok(&http(&server), "ledger_events", r#"{"from":1000}"#).await;
    let rest: Vec<EventRecord> = serde_json::from_value(rest).unwrap();
    assert_eq!(rest.len(), 201);
    let all: Vec<EventRecord> = first.into_iter().chain(rest).collect();
    for (i, record) in all.iter().enumerate() {
        assert_eq!(record.cursor, i as u64);
    }
    let mut stream = reader.events(0).await.unwrap();
    for expected in &all {
        assert_eq!(&next_event(&mut stream).await, expected);
    }
}

#[tokio::test]
async fn a_dropped_socket_ends_the_stream_with_unavailable() {
    let (ledger, server) = start_dev().await;
    make_events(&ledger, 1, 2).await;
    let reader = RpcReader::connect(&server.url()).await.unwrap();
    let mut stream = reader.events(0).await.unwrap();
    for _ in 0..3 {
        next_event(&mut stream).await;
    }
    server.stop();
    let end = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .unwrap();
    assert!(
        matches!(end, Some(Err(LedgerError::Unavailable(_)))),
        "{end:?}"
    );
    assert!(
        tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn an_unreachable_ledger_is_unavailable() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let err = RpcReader::connect(&url).await.unwrap_err();
    assert!(matches!(err, LedgerError::Unavailable(_)), "{err:?}");
    assert!(!err.is_final());
    let err = RpcLedger::connect(&url, key(1)).await.unwrap_err();
    assert!(matches!(err, LedgerError::Unavailable(_)), "{err:?}");
    let err = RpcReader::connect("127.0.0.1:6334").await.unwrap_err();
    assert!(matches!(err, LedgerError::Invalid(_)), "{err:?}");

    // A server that goes away: calls become Unavailable.
    let (_ledger, server) = start_dev().await;
    let alice = RpcLedger::connect(&server.url(), key(1)).await.unwrap();
    server.stop();
    server.stopped().await;
    let err = alice
        .balance(alice.account(), Address::ZERO)
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerError::Unavailable(_)), "{err:?}");
    let err = alice
        .open(&channel(alice.account(), key(2).address(), 1), 1)
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerError::Unavailable(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_sharing_an_account_never_collide_on_nonces() {
    let (ledger, server) = start_dev().await;
    let owner = key(1);
    let first = RpcLedger::connect(&server.url(), owner.clone())
        .await
        .unwrap();
    let second = RpcLedger::connect(&server.url(), owner.clone())
        .await
        .unwrap();
    first
        .as_reader()
        .faucet(owner.address(), Address::ZERO, 10_000)
        .await
        .unwrap();
    let params = channel(owner.address(), key(2).address(), 1);
    let id = params.id(&ledger.domain());
    first.open(&params, 100).await.unwrap();

    // 20 concurrent deposits: 10 through clones of one handle, 10 through another handle
    // that does not know the first one's nonces.
    let tasks: Vec<_> = (0..20u128)
        .map(|i| {
            let handle = if i % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            tokio::spawn(async move { handle.deposit(id, Role::B, i + 1).await })
        })
        .collect();
    let mut cursors = Vec::new();
    for task in tasks {
        let receipt = task.await.unwrap().unwrap();
        cursors.extend(receipt.events.iter().map(|e| e.cursor));
    }
    cursors.sort_unstable();
    assert_eq!(cursors, (1..21).collect::<Vec<u64>>());
    let record = ledger.channel_record(&id).unwrap().unwrap();
    assert_eq!(record.deposited.b, (1..=20).sum::<u128>());
    assert_eq!(
        ledger.balance_of(owner.address(), Address::ZERO).unwrap(),
        10_000 - 100 - (1..=20).sum::<u128>()
    );
    // Both handles keep working afterwards.
    first.deposit(id, Role::A, 1).await.unwrap();
    second.deposit(id, Role::A, 1).await.unwrap();
    assert_eq!(
        ledger.channel_record(&id).unwrap().unwrap().deposited.a,
        102
    );
}
