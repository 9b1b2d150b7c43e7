//! Writes the seed corpora of the fuzz targets, `fuzz/seeds/<target>/<name>`, with the
//! project's own encoders: valid inputs of every format a stranger can send, so that each
//! target's round-trip checks run from its first input. Deterministic (fixed keys, RFC 6979
//! signatures): running it again rewrites the same files.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --example make_seeds`

use std::{fs, path::PathBuf};

use paychan_core::{
    Address, B256, ChannelId, ChannelParams, Domain, Settlement, SignedVoucher, SigningKey,
    Voucher, Withdrawal,
    channel::CoSigned,
    eip712::{Eip712, memo_of},
    wire::{ErrorBody, Message, ProposeChannel, Reply, encode},
};
use paychan_http::{Challenge, PaymentError, Receipt, StreamTerms, header::authorization};
use paychan_ledger::{api::Operation, request::SignedRequest};
use paychan_net::{
    Identity, encode_binding,
    fuzzing::{Initiator, frame_messages, keepalive_message},
};
use paychan_node::PaymentPackage;
use paychan_rpc::aa_params::{AaCall, AaOptions};
use serde_json::json;

/// The fixtures: two parties on one ledger, one channel between them.
struct World {
    domain: Domain,
    a: SigningKey,
    b: SigningKey,
    params: ChannelParams,
    id: ChannelId,
}

impl World {
    fn new() -> Self {
        let domain = Domain::new(1337, Address::repeat_byte(0xcc));
        let a = SigningKey::from_entropy(&[1; 32]).expect("a key");
        let b = SigningKey::from_entropy(&[3; 32]).expect("a key");
        let params = ChannelParams {
            party_a: a.address(),
            party_b: b.address(),
            token: Address::ZERO,
            challenge_period: 86_400,
            nonce: B256::repeat_byte(7),
        };
        let id = params.id(&domain);
        World {
            domain,
            a,
            b,
            params,
            id,
        }
    }

    fn voucher(&self, cumulative: u128, sequence: u64, memo: B256) -> SignedVoucher {
        let voucher = Voucher {
            channel_id: self.id,
            payer: self.a.address(),
            cumulative,
            sequence,
            memo,
        };
        let signature = voucher.sign(&self.domain, &self.a);
        SignedVoucher { voucher, signature }
    }

    fn package(&self, cumulative: u128, message: Option<serde_json::Value>) -> PaymentPackage {
        let memo = message.as_ref().map_or(B256::ZERO, |m| {
            memo_of(&serde_json::to_vec(m).expect("JSON"))
        });
        let voucher = self.voucher(cumulative, 1, memo);
        PaymentPackage::new(&self.domain, &self.params, &voucher, message)
    }

    fn cosigned<T: Eip712 + Copy>(&self, body: T) -> CoSigned<T> {
        CoSigned {
            body,
            sig_a: body.sign(&self.domain, &self.a),
            sig_b: body.sign(&self.domain, &self.b),
        }
    }
}

/// Writes seeds into `fuzz/seeds/<target>/`.
struct Seeds {
    root: PathBuf,
    count: usize,
}

impl Seeds {
    fn write(&mut self, target: &str, name: &str, bytes: impl AsRef<[u8]>) {
        let dir = self.root.join(target);
        fs::create_dir_all(&dir).expect("the seed directory");
        fs::write(dir.join(name), bytes).expect("a seed file");
        self.count += 1;
    }
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let mut seeds = Seeds { root, count: 0 };
    let w = World::new();
    decode_frame(&mut seeds, &w);
    parse_package(&mut seeds, &w);
    frame_assembler(&mut seeds);
    handshake(&mut seeds);
    http_headers(&mut seeds, &w);
    ledger_request(&mut seeds, &w);
    rpc_params(&mut seeds, &w);
    peer_addr(&mut seeds, &w);
    relay_control(&mut seeds, &w);
    println!("wrote {} seeds under {}", seeds.count, seeds.root.display());
}

fn decode_frame(seeds: &mut Seeds, w: &World) {
    let voucher = w.voucher(1500, 7, B256::repeat_byte(9));
    let withdrawal = Withdrawal {
        channel_id: w.id,
        party: w.a.address(),
        total_withdrawn: 10,
        paid_by_a: 20,
        paid_by_b: 5,
        expiry: 1_000_000,
    };
    let settlement = Settlement {
        channel_id: w.id,
        paid_by_a: 1500,
        paid_by_b: 0,
    };
    let messages = [
        (
            "propose_channel",
            Message::ProposeChannel(ProposeChannel {
                params: w.params,
                domain: w.domain,
                deposit: 1_000_000,
            }),
        ),
        (
            "accept_channel",
            Message::AcceptChannel { channel_id: w.id },
        ),
        (
            "reject_channel",
            Message::RejectChannel {
                channel_id: w.id,
                reason: "policy".into(),
            },
        ),
        (
            "pay",
            Message::Pay {
                request_id: 1,
                voucher,
                body: br#"{"hello":"world"}"#.to_vec(),
            },
        ),
        (
            "pay_result_ok",
            Message::PayResult {
                request_id: 1,
                channel_id: w.id,
                reply: Reply::Ok(b"{}".to_vec()),
            },
        ),
        (
            "response_err",
            Message::Response {
                request_id: 2,
                reply: Reply::Err(ErrorBody::new(ErrorBody::HANDLER_ERROR, "no")),
            },
        ),
        (
            "request",
            Message::Request {
                request_id: 3,
                channel_id: w.id,
                body: b"[1,2,3]".to_vec(),
            },
        ),
        (
            "withdraw_request",
            Message::WithdrawRequest {
                withdrawal,
                signature: withdrawal.sign(&w.domain, &w.a),
            },
        ),
        (
            "withdraw_signature",
            Message::WithdrawSignature {
                channel_id: w.id,
                signature: withdrawal.sign(&w.domain, &w.b),
            },
        ),
        (
            "settlement_request",
            Message::SettlementRequest {
                settlement,
                signature: settlement.sign(&w.domain, &w.a),
            },
        ),
        (
            "counter_sync",
            Message::CounterSync {
                channel_id: w.id,
                yours: None,
                mine: Some(voucher),
            },
        ),
        ("ping", Message::Ping { nonce: 42 }),
        (
            "error",
            Message::Error {
                channel_id: Some(w.id),
                request_id: None,
                error: ErrorBody::new(ErrorBody::MALFORMED, "bad frame"),
            },
        ),
    ];
    for (name, message) in messages {
        seeds.write("decode_frame", name, encode(&message).expect("encodes"));
    }
}

fn parse_package(seeds: &mut Seeds, w: &World) {
    let request = w.package(
        1500,
        Some(json!({"method": "GET", "path": "/weather?city=a,b"})),
    );
    seeds.write("parse_package", "request_json", request.to_json());
    seeds.write("parse_package", "request_compact", request.to_compact());
    let bare = w.package(1, None);
    seeds.write("parse_package", "no_message_json", bare.to_json());
    seeds.write("parse_package", "no_message_compact", bare.to_compact());
    let floats = w.package(
        u128::MAX,
        Some(json!([1e2, -0.5, 1.7976931348623157e308, "x"])),
    );
    seeds.write("parse_package", "floats_json", floats.to_json());
    // Issue 21, defect 3: a message that grows when written again (refused).
    let grows = bare
        .to_json()
        .replacen('}', r#","message":[1E2,1E2,1E2,1e-2,10E0]}"#, 1);
    seeds.write("parse_package", "exponents_json", grows);
}

fn frame_assembler(seeds: &mut Seeds) {
    let stream = |messages: &[Vec<u8>]| {
        let mut out = Vec::new();
        for m in messages {
            out.extend_from_slice(&u16::try_from(m.len()).expect("short").to_be_bytes());
            out.extend_from_slice(m);
        }
        out
    };
    let frame = |f: &[u8]| frame_messages(f).expect("a frame");
    seeds.write("frame_assembler", "empty_frame", stream(&frame(&[])));
    seeds.write(
        "frame_assembler",
        "keepalive",
        stream(&[keepalive_message()]),
    );
    let small = encode(&Message::Ping { nonce: 1 }).expect("encodes");
    let mut both = frame(&small);
    both.push(keepalive_message());
    both.extend(frame(b"second"));
    seeds.write("frame_assembler", "two_frames", stream(&both));
    // A frame of two messages, the second cut short: a connection ending mid-frame.
    let mut long = frame(&vec![0xab; 70_000]);
    if let Some(last) = long.last_mut() {
        last.truncate(100);
    }
    seeds.write("frame_assembler", "two_messages_cut", stream(&long));
    // Issue 21, defect 2: a header announcing the largest frame, and a few bytes.
    let announced = u32::try_from(paychan_core::wire::MAX_FRAME_LEN).expect("fits");
    let mut header = vec![1];
    header.extend_from_slice(&announced.to_be_bytes());
    header.extend_from_slice(b"abc");
    seeds.write(
        "frame_assembler",
        "large_announced",
        stream(&[header, b"de".to_vec()]),
    );
}

fn handshake(seeds: &mut Seeds) {
    let id = |seed: u8| {
        let key = SigningKey::from_entropy(&[seed; 32]).expect("a key");
        Identity::new(key, [seed.wrapping_add(1); 32]).expect("an identity")
    };
    let (initiator, responder, stranger) = (id(1), id(3), id(5));
    let binding = |key: &Identity, noise: &Identity| {
        encode_binding(key.signing_key(), noise.noise_public_key())
    };
    let (_, first) = Initiator::start(&initiator).expect("an initiator");
    let with_mode = |mode: u8, rest: &[u8]| [&[mode][..], rest].concat();
    let mut stream = u16::try_from(first.len())
        .expect("short")
        .to_be_bytes()
        .to_vec();
    stream.extend_from_slice(&first);
    seeds.write("handshake", "message1", with_mode(0, &stream));
    stream.extend_from_slice(&[0, 48]);
    stream.extend_from_slice(&[0x5a; 48]);
    seeds.write(
        "handshake",
        "message1_and_forged_message3",
        with_mode(0, &stream),
    );
    seeds.write(
        "handshake",
        "message_too_long",
        with_mode(0, &[0x04, 0x01, 1, 2, 3]),
    );
    seeds.write(
        "handshake",
        "responder_binding",
        with_mode(1, &binding(&responder, &responder)),
    );
    seeds.write(
        "handshake",
        "responder_binding_of_another_key",
        with_mode(1, &binding(&stranger, &responder)),
    );
    seeds.write(
        "handshake",
        "responder_binding_replayed",
        with_mode(1, &binding(&responder, &stranger)),
    );
    seeds.write(
        "handshake",
        "initiator_binding",
        with_mode(2, &binding(&initiator, &initiator)),
    );
    seeds.write(
        "handshake",
        "initiator_binding_of_another_key",
        with_mode(2, &binding(&stranger, &initiator)),
    );
    let mut direct = stranger.noise_public_key().to_vec();
    direct.extend_from_slice(&binding(&stranger, &stranger));
    seeds.write("handshake", "direct_binding", with_mode(3, &direct));
}

fn http_headers(seeds: &mut Seeds, w: &World) {
    let challenge = Challenge {
        price: 25,
        payee: w.b.address(),
        chain_id: w.domain.chain_id(),
        contract: w.domain.verifying_contract(),
        node: Some(format!("{}@127.0.0.1:6345", w.b.address())),
    };
    seeds.write("http_headers", "challenge", challenge.to_header());
    let body = PaymentError {
        error: PaymentError::PACKAGE_REFUSED.into(),
        message: "the package does not pay for this request".into(),
        challenge: Challenge {
            node: None,
            ..challenge.clone()
        },
    };
    seeds.write(
        "http_headers",
        "payment_error_json",
        serde_json::to_string(&body).expect("JSON"),
    );
    let mut receipt = Receipt {
        channel_id: w.id,
        payer: w.a.address(),
        amount: 25,
        cumulative: 75,
        remaining: 925,
        request: "GET /search?q=a,b&name=\"x\\y\"".into(),
        signature: None,
        certificate: None,
    };
    seeds.write("http_headers", "receipt_unsigned", receipt.to_header());
    receipt.sign(&w.b);
    seeds.write("http_headers", "receipt_signed", receipt.to_header());
    let terms = StreamTerms {
        id: "7".into(),
        price: 10,
        interval_ms: 250,
        grace_ms: 1000,
        pay: "/paychan/stream/7".into(),
    };
    seeds.write("http_headers", "stream_terms", terms.to_header());
    let package = w.package(25, Some(json!({"method": "GET", "path": "/weather"})));
    seeds.write(
        "http_headers",
        "authorization",
        authorization(&package.to_compact()),
    );
    seeds.write(
        "http_headers",
        "token_values",
        "Paychan price=25, chain_id=1337 ,, node=\"\"",
    );
}

fn ledger_request(seeds: &mut Seeds, w: &World) {
    let voucher = w.voucher(1500, 7, B256::ZERO);
    let withdrawal = Withdrawal {
        channel_id: w.id,
        party: w.a.address(),
        total_withdrawn: 10,
        paid_by_a: 20,
        paid_by_b: 5,
        expiry: 1_000_000,
    };
    let settlement = Settlement {
        channel_id: w.id,
        paid_by_a: 1500,
        paid_by_b: 0,
    };
    let operations = [
        (
            "open",
            Operation::Open {
                params: w.params,
                amount: 1_000_000,
            },
        ),
        (
            "deposit",
            Operation::Deposit {
                channel_id: w.id,
                party: paychan_core::Role::B,
                amount: u128::MAX,
            },
        ),
        (
            "withdraw",
            Operation::Withdraw {
                certificate: w.cosigned(withdrawal),
            },
        ),
        (
            "close_cooperative",
            Operation::CloseCooperative {
                settlement: w.cosigned(settlement),
            },
        ),
        (
            "start_close",
            Operation::StartClose {
                channel_id: w.id,
                voucher: Some(voucher),
            },
        ),
        ("submit_voucher", Operation::SubmitVoucher { voucher }),
        ("settle", Operation::Settle { channel_id: w.id }),
    ];
    for (n, (name, op)) in operations.into_iter().enumerate() {
        let nonce = u64::try_from(n).expect("small") + 1;
        let request = SignedRequest::sign(&w.domain, &w.a, nonce, op).expect("signs");
        seeds.write(
            "ledger_request",
            name,
            serde_json::to_string(&request).expect("JSON"),
        );
    }
}

fn rpc_params(seeds: &mut Seeds, w: &World) {
    let id = |c: &ChannelId| c.to_string();
    let calls = [
        (
            "create_new_channel",
            AaCall::CreateNewChannel {
                peer: format!("{}@127.0.0.1:6345", w.b.address()),
                initial_amount: 1_000_000,
                options: AaOptions {
                    timeout: Some(86_400),
                    asset: Some("base".into()),
                    auto_refill_threshold: Some(paychan_rpc::params::AmountParam(100)),
                    auto_refill_amount: Some(paychan_rpc::params::AmountParam(1000)),
                    salt: Some(json!("0x01")),
                },
            },
        ),
        (
            "send_message_and_pay",
            AaCall::SendMessageAndPay {
                aa_address: w.id,
                message: json!({"q": "a,b"}),
                amount: 5,
            },
        ),
        (
            "set_auto_refill",
            AaCall::SetAutoRefill {
                aa_address: w.id,
                amount: Some(1000),
                threshold: None,
            },
        ),
        (
            "get_balances_and_status",
            AaCall::GetBalancesAndStatus { aa_address: w.id },
        ),
        (
            "get_channels_for_peer",
            AaCall::GetChannelsForPeer {
                peer: w.b.address().to_string(),
                asset: None,
            },
        ),
        (
            "create_payment_package",
            AaCall::CreatePaymentPackage {
                aa_address: w.id,
                amount: 25,
                message: Some(json!([1, 2])),
            },
        ),
        (
            "verify_payment_package",
            AaCall::VerifyPaymentPackage {
                package: json!(w.package(25, None).to_compact()),
            },
        ),
    ];
    // The target picks the method from the first byte, in this order.
    for (n, (name, call)) in calls.into_iter().enumerate() {
        let text = serde_json::to_string(&call.to_params()).expect("JSON");
        let pick = u8::try_from(n).expect("small");
        seeds.write("rpc_params", name, [&[pick][..], text.as_bytes()].concat());
    }
    seeds.write(
        "rpc_params",
        "amount_text",
        [&[200][..], b"340282366920938463463374607431768211455"].concat(),
    );
    seeds.write(
        "rpc_params",
        "amount_json",
        [&[200][..], b"\"007\""].concat(),
    );
    seeds.write(
        "rpc_params",
        "positional_ids",
        [&[3][..], format!("[\"{}\"]", id(&w.id)).as_bytes()].concat(),
    );
}

fn peer_addr(seeds: &mut Seeds, w: &World) {
    let address = w.b.address();
    let lower = format!("{address:#x}");
    for (name, text) in [
        ("tcp_name", format!("{address}@node.example.org:6345")),
        ("tcp_ipv4", format!("{lower}@127.0.0.1:6345")),
        ("tcp_ipv6", format!("{}@[::1]:6345", &lower[2..])),
        ("ws", format!("{address}@ws://127.0.0.1:8080/paychan")),
        (
            "wss_default_port",
            format!("{address}@wss://node.example.org/p2p?x=1"),
        ),
        ("endpoint_only", "example.org:443".to_owned()),
        ("ws_endpoint_only", "WSS://[2001:db8::1]:9443".to_owned()),
        (
            "relay",
            format!("{address}@relay+wss://relay.example.org/paychan?token=t0k"),
        ),
    ] {
        seeds.write("peer_addr", name, text);
    }
}

fn relay_control(seeds: &mut Seeds, w: &World) {
    use paychan_relay::proto::{
        RelayMessage, address_param, answer_challenge, challenge_message, ticket_param,
    };
    let challenge = challenge_message("relay.example", &[7; 32]);
    let register = answer_challenge(&challenge, "relay.example", &w.b).expect("an answer");
    let registered = RelayMessage::Registered {
        address: address_param(w.b.address()),
    };
    let incoming = RelayMessage::Incoming {
        ticket: ticket_param(&[9; 32]),
    };
    for (name, text) in [
        ("challenge", challenge.to_json()),
        ("register", register.to_json()),
        ("registered", registered.to_json()),
        ("incoming", incoming.to_json()),
        ("query_register", "register&token=t0k".to_owned()),
        (
            "query_dial",
            format!("to={}&token=t0k", address_param(w.a.address())),
        ),
        ("query_ticket", format!("ticket={}", ticket_param(&[9; 32]))),
        ("host", "[2001:db8::1]:443".to_owned()),
    ] {
        seeds.write("relay_control", name, text);
    }
}
