//! The wire codec: round trips of every message, the exact refusal of every malformed or
//! oversized frame, and property tests that no input makes `decode` panic.

use std::{collections::BTreeSet, sync::LazyLock};

use alloy_primitives::{Address, B256, FixedBytes, keccak256};
use paychan_core::{
    ChannelId, ChannelParams, Domain, Settlement, Signature, SignedVoucher, SigningKey, Voucher,
    Withdrawal,
    eip712::{Eip712, memo_of},
    wire::{
        CodecError, ErrorBody, MAX_BODY_LEN, MAX_FRAME_LEN, MAX_TEXT_LEN, Message, ProposeChannel,
        Reply, WIRE_VERSION, codec::encode_into, decode, encode,
    },
};
use proptest::{collection::vec, option, prelude::*, sample::Index};

// ---------------------------------------------------------------------------------------------
// Fixtures.
// ---------------------------------------------------------------------------------------------

/// The names of all the variants of [`Message`] (as [`Message::kind`] gives them).
const ALL_KINDS: [&str; 15] = [
    "propose_channel",
    "accept_channel",
    "reject_channel",
    "pay",
    "pay_result",
    "request",
    "response",
    "withdraw_request",
    "withdraw_signature",
    "settlement_request",
    "settlement_signature",
    "counter_sync",
    "ping",
    "pong",
    "error",
];

struct World {
    alice: SigningKey,
    bob: SigningKey,
    domain: Domain,
    params: ChannelParams,
    channel_id: ChannelId,
}

fn world() -> World {
    let alice = SigningKey::from_entropy(&[1; 32]).unwrap();
    let bob = SigningKey::from_entropy(&[2; 32]).unwrap();
    let domain = Domain::new(
        31_337,
        "0x5FbDB2315678afecb367f032d93F642f64180aa3"
            .parse::<Address>()
            .unwrap(),
    );
    let params = ChannelParams {
        party_a: alice.address(),
        party_b: bob.address(),
        token: Address::ZERO,
        challenge_period: 86_400,
        nonce: keccak256(b"channel nonce 1"),
    };
    let channel_id = params.id(&domain);
    World {
        alice,
        bob,
        domain,
        params,
        channel_id,
    }
}

impl World {
    fn voucher(
        &self,
        payer: &SigningKey,
        cumulative: u128,
        sequence: u64,
        body: &[u8],
    ) -> SignedVoucher {
        let voucher = Voucher {
            channel_id: self.channel_id,
            payer: payer.address(),
            cumulative,
            sequence,
            memo: memo_of(body),
        };
        SignedVoucher {
            voucher,
            signature: voucher.sign(&self.domain, payer),
        }
    }
}

/// At least one realistic value of every variant, with real signatures.
fn fixtures() -> Vec<Message> {
    let w = world();
    let body = br#"{"method":"echo","params":["hello"]}"#.to_vec();
    let pay_voucher = w.voucher(&w.alice, 1_500_000, 3, &body);
    let withdrawal = Withdrawal {
        channel_id: w.channel_id,
        party: w.alice.address(),
        total_withdrawn: 250_000,
        paid_by_a: 1_500_000,
        paid_by_b: 20_000,
        expiry: 1_767_225_600,
    };
    let settlement = Settlement {
        channel_id: w.channel_id,
        paid_by_a: 1_500_000,
        paid_by_b: 20_000,
    };
    vec![
        Message::ProposeChannel(ProposeChannel {
            params: w.params,
            domain: w.domain,
            deposit: 10_000_000_000_000_000_000,
        }),
        Message::AcceptChannel {
            channel_id: w.channel_id,
        },
        Message::RejectChannel {
            channel_id: w.channel_id,
            reason: "deposit below the minimum of 1000000".to_owned(),
        },
        Message::Pay {
            request_id: 7,
            voucher: pay_voucher,
            body: body.clone(),
        },
        Message::PayResult {
            request_id: 7,
            channel_id: w.channel_id,
            reply: Reply::Ok(br#"{"result":"hello"}"#.to_vec()),
        },
        Message::PayResult {
            request_id: 8,
            channel_id: w.channel_id,
            reply: Reply::Err(ErrorBody::new(
                ErrorBody::HANDLER_TIMEOUT,
                "handler did not answer within 30s",
            )),
        },
        Message::Request {
            request_id: u64::MAX,
            channel_id: w.channel_id,
            body: b"{}".to_vec(),
        },
        Message::Response {
            request_id: u64::MAX,
            reply: Reply::Ok(Vec::new()),
        },
        Message::Response {
            request_id: 0,
            reply: Reply::Err(ErrorBody::new(ErrorBody::REFUSED, "")),
        },
        Message::WithdrawRequest {
            withdrawal,
            signature: withdrawal.sign(&w.domain, &w.alice),
        },
        Message::WithdrawSignature {
            channel_id: w.channel_id,
            signature: withdrawal.sign(&w.domain, &w.bob),
        },
        Message::SettlementRequest {
            settlement,
            signature: settlement.sign(&w.domain, &w.alice),
        },
        Message::SettlementSignature {
            channel_id: w.channel_id,
            signature: settlement.sign(&w.domain, &w.bob),
        },
        Message::CounterSync {
            channel_id: w.channel_id,
            yours: Some(w.voucher(&w.bob, 20_000, 1, b"")),
            mine: Some(pay_voucher),
        },
        Message::CounterSync {
            channel_id: w.channel_id,
            yours: None,
            mine: Some(w.voucher(&w.alice, u128::MAX, u64::MAX, b"x")),
        },
        Message::CounterSync {
            channel_id: w.channel_id,
            yours: None,
            mine: None,
        },
        Message::Ping { nonce: 0 },
        Message::Pong {
            nonce: 0xdead_beef_cafe_f00d,
        },
        Message::Error {
            channel_id: Some(w.channel_id),
            request_id: Some(7),
            error: ErrorBody::new(
                ErrorBody::VOUCHER_REJECTED,
                "sequence 3 is not the next one (expected 4)",
            ),
        },
        Message::Error {
            channel_id: None,
            request_id: None,
            error: ErrorBody::new(ErrorBody::MALFORMED, "trame illisible: données tronquées ✗"),
        },
    ]
}

/// The frames of [`fixtures`], computed once.
fn fixture_frames() -> &'static [Vec<u8>] {
    static FRAMES: LazyLock<Vec<Vec<u8>>> =
        LazyLock::new(|| fixtures().iter().map(|m| encode(m).unwrap()).collect());
    &FRAMES
}

/// The frame of `msg` without the codec's limit checks: postcard directly, as a peer that
/// ignores the limits would send it.
fn raw_frame(msg: &Message) -> Vec<u8> {
    let mut frame = vec![WIRE_VERSION];
    frame.extend(postcard::to_allocvec(msg).unwrap());
    frame
}

/// postcard's unsigned varint.
fn varint(mut n: u64, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A `Request` frame written byte by byte: version, variant 5, request id, channel id
/// (length-prefixed bytes), body (length-prefixed bytes).
fn hand_request_frame(request_id: u64, channel_id: &B256, body: &[u8]) -> Vec<u8> {
    let mut f = vec![WIRE_VERSION, 5];
    varint(request_id, &mut f);
    varint(32, &mut f);
    f.extend_from_slice(channel_id.as_slice());
    varint(body.len() as u64, &mut f);
    f.extend_from_slice(body);
    f
}

/// A `WithdrawSignature` frame written byte by byte, with a signature of any length.
fn hand_withdraw_signature_frame(channel_id: &B256, signature: &[u8]) -> Vec<u8> {
    let mut f = vec![WIRE_VERSION, 8];
    varint(32, &mut f);
    f.extend_from_slice(channel_id.as_slice());
    varint(signature.len() as u64, &mut f);
    f.extend_from_slice(signature);
    f
}

fn assert_malformed(result: Result<Message, CodecError>, what: &str) {
    assert!(
        matches!(result, Err(CodecError::Malformed(_))),
        "{what}: expected Malformed, got {result:?}"
    );
}

/// `decode` either refuses `frame` or returns a message whose own frame decodes to it again.
fn check_decode_is_stable(frame: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(msg) = decode(frame) {
        let again = encode(&msg);
        prop_assert!(
            again.is_ok(),
            "decoded {msg:?} but cannot re-encode it: {again:?}"
        );
        let again = again.unwrap();
        prop_assert!(again.len() <= frame.len(), "re-encoding grew: {msg:?}");
        prop_assert_eq!(decode(&again), Ok(msg));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Round trips.
// ---------------------------------------------------------------------------------------------

#[test]
fn fixtures_cover_every_variant() {
    let kinds: BTreeSet<&str> = fixtures().iter().map(Message::kind).collect();
    assert_eq!(kinds, ALL_KINDS.into_iter().collect::<BTreeSet<_>>());
}

#[test]
fn every_message_round_trips() {
    let w = world();
    for msg in fixtures() {
        let frame = encode(&msg).unwrap();
        assert_eq!(frame[0], WIRE_VERSION);
        assert!(frame.len() <= MAX_FRAME_LEN);
        assert_eq!(frame, raw_frame(&msg), "{}: framing", msg.kind());
        let back = decode(&frame).unwrap_or_else(|e| panic!("{}: {e}", msg.kind()));
        assert_eq!(back, msg, "{}", msg.kind());

        // The signatures survive intact.
        match &back {
            Message::Pay { voucher, body, .. } => {
                assert!(voucher.is_signed_by_payer(&w.domain));
                assert_eq!(voucher.voucher.memo, memo_of(body));
            }
            Message::WithdrawRequest {
                withdrawal,
                signature,
            } => assert_eq!(
                withdrawal.recover(&w.domain, signature),
                Ok(w.alice.address())
            ),
            Message::SettlementRequest {
                settlement,
                signature,
            } => assert_eq!(
                settlement.recover(&w.domain, signature),
                Ok(w.alice.address())
            ),
            Message::CounterSync { yours, mine, .. } => {
                for v in yours.iter().chain(mine) {
                    assert!(v.is_signed_by_payer(&w.domain));
                }
            }
            Message::ProposeChannel(p) => {
                assert_eq!(p.params.id(&p.domain), w.channel_id);
                assert_eq!(p.domain.separator(), w.domain.separator());
            }
            _ => {}
        }
    }
}

#[test]
fn encode_into_appends_and_leaves_the_buffer_alone_on_error() {
    let msg = Message::Ping { nonce: 42 };
    let mut buf = b"prefix".to_vec();
    encode_into(&msg, &mut buf).unwrap();
    assert_eq!(&buf[..6], b"prefix");
    assert_eq!(buf[6..], encode(&msg).unwrap());

    let before = buf.clone();
    let too_long = Message::Request {
        request_id: 1,
        channel_id: ChannelId::default(),
        body: vec![0; MAX_BODY_LEN + 1],
    };
    assert!(matches!(
        encode_into(&too_long, &mut buf),
        Err(CodecError::FieldTooLong { .. })
    ));
    assert_eq!(buf, before);
}

#[test]
fn fields_at_their_limits_round_trip() {
    let w = world();
    let body = vec![0xab; MAX_BODY_LEN];
    // Exactly MAX_TEXT_LEN bytes of multi-byte characters: the limit counts bytes.
    let text = format!("{}a", "€".repeat(MAX_TEXT_LEN / 3));
    assert_eq!(text.len(), MAX_TEXT_LEN);
    let msgs = [
        Message::Pay {
            request_id: 1,
            voucher: w.voucher(&w.alice, 1, 1, &body),
            body: body.clone(),
        },
        Message::Request {
            request_id: 1,
            channel_id: w.channel_id,
            body: body.clone(),
        },
        Message::PayResult {
            request_id: 1,
            channel_id: w.channel_id,
            reply: Reply::Ok(body.clone()),
        },
        Message::Response {
            request_id: 1,
            reply: Reply::Ok(body),
        },
        Message::Response {
            request_id: 1,
            reply: Reply::Err(ErrorBody::new(ErrorBody::INTERNAL, text.clone())),
        },
        Message::RejectChannel {
            channel_id: w.channel_id,
            reason: text.clone(),
        },
        Message::Error {
            channel_id: None,
            request_id: None,
            error: ErrorBody::new(ErrorBody::INTERNAL, text),
        },
    ];
    for msg in msgs {
        let frame = encode(&msg).unwrap_or_else(|e| panic!("{}: {e}", msg.kind()));
        assert!(frame.len() <= MAX_FRAME_LEN);
        assert_eq!(decode(&frame), Ok(msg));
    }
}

// ---------------------------------------------------------------------------------------------
// Refusals.
// ---------------------------------------------------------------------------------------------

#[test]
fn refuses_an_empty_frame() {
    assert_eq!(decode(&[]), Err(CodecError::Empty));
}

#[test]
fn refuses_unknown_versions() {
    let frame = encode(&Message::Ping { nonce: 1 }).unwrap();
    for version in [0u8, 2, 0x7f, 0x80, 0xff] {
        let mut f = frame.clone();
        f[0] = version;
        assert_eq!(decode(&f), Err(CodecError::UnsupportedVersion(version)));
    }
    // A lone byte of the wrong version is a version error, not a malformed body.
    assert_eq!(decode(&[2]), Err(CodecError::UnsupportedVersion(2)));
}

#[test]
fn refuses_frames_over_the_limit_before_parsing() {
    // Even when the content would be otherwise wrong: the size check comes first.
    for fill in [0u8, WIRE_VERSION, 0xff] {
        assert_eq!(
            decode(&vec![fill; MAX_FRAME_LEN + 1]),
            Err(CodecError::FrameTooLong(MAX_FRAME_LEN + 1))
        );
    }
    // A frame of exactly MAX_FRAME_LEN is parsed (and here is malformed).
    assert_malformed(decode(&vec![WIRE_VERSION; MAX_FRAME_LEN]), "MAX_FRAME_LEN");

    // A valid frame padded past the limit.
    let mut frame = encode(&Message::Ping { nonce: 1 }).unwrap();
    frame.resize(MAX_FRAME_LEN + 10, 0);
    assert_eq!(
        decode(&frame),
        Err(CodecError::FrameTooLong(MAX_FRAME_LEN + 10))
    );
}

#[test]
fn refuses_trailing_bytes() {
    for frame in fixture_frames() {
        for extra in [
            &[0u8][..],
            &[WIRE_VERSION],
            &[0xff; 5],
            &frame[..],
            &frame[1..],
        ] {
            let mut f = frame.clone();
            f.extend_from_slice(extra);
            assert_eq!(decode(&f), Err(CodecError::TrailingBytes(extra.len())));
        }
    }
}

#[test]
fn refuses_every_truncation() {
    for (msg, frame) in fixtures().iter().zip(fixture_frames()) {
        assert_eq!(decode(&frame[..0]), Err(CodecError::Empty));
        for len in 1..frame.len() {
            assert_malformed(
                decode(&frame[..len]),
                &format!("{} truncated to {len} of {}", msg.kind(), frame.len()),
            );
        }
    }
}

#[test]
fn refuses_bodies_over_the_limit_on_encode() {
    let w = world();
    let body = vec![1u8; MAX_BODY_LEN + 1];
    let too_long = |field: &'static str| CodecError::FieldTooLong {
        field,
        len: MAX_BODY_LEN + 1,
        max: MAX_BODY_LEN,
    };
    let cases = [
        (
            Message::Pay {
                request_id: 1,
                voucher: w.voucher(&w.alice, 1, 1, &body),
                body: body.clone(),
            },
            "body",
        ),
        (
            Message::Request {
                request_id: 1,
                channel_id: w.channel_id,
                body: body.clone(),
            },
            "body",
        ),
        (
            Message::PayResult {
                request_id: 1,
                channel_id: w.channel_id,
                reply: Reply::Ok(body.clone()),
            },
            "response body",
        ),
        (
            Message::Response {
                request_id: 1,
                reply: Reply::Ok(body),
            },
            "response body",
        ),
    ];
    for (msg, field) in cases {
        assert_eq!(encode(&msg), Err(too_long(field)), "{}", msg.kind());
        // And a peer that ignores the limit is refused on decode.
        let frame = raw_frame(&msg);
        assert!(frame.len() <= MAX_FRAME_LEN);
        assert_eq!(decode(&frame), Err(too_long(field)), "{}", msg.kind());
    }
}

#[test]
fn refuses_a_hand_crafted_oversized_body_on_decode() {
    let id = keccak256(b"some channel");
    // The hand encoding is the codec's encoding.
    let small = hand_request_frame(300, &id, b"hello");
    let msg = Message::Request {
        request_id: 300,
        channel_id: ChannelId(id),
        body: b"hello".to_vec(),
    };
    assert_eq!(encode(&msg).unwrap(), small);
    assert_eq!(decode(&small), Ok(msg));

    let at_limit = hand_request_frame(1, &id, &vec![7; MAX_BODY_LEN]);
    assert!(decode(&at_limit).is_ok());

    let over = hand_request_frame(1, &id, &vec![7; MAX_BODY_LEN + 1]);
    assert_eq!(
        decode(&over),
        Err(CodecError::FieldTooLong {
            field: "body",
            len: MAX_BODY_LEN + 1,
            max: MAX_BODY_LEN,
        })
    );

    // A body length that claims more than the frame holds.
    let mut lying = hand_request_frame(1, &id, b"");
    lying.pop();
    varint(MAX_FRAME_LEN as u64 * 4, &mut lying);
    lying.extend_from_slice(b"short");
    assert_malformed(decode(&lying), "body length beyond the frame");
}

#[test]
fn refuses_texts_over_the_limit() {
    let w = world();
    // 342 three-byte characters: 342 chars, but 1026 bytes.
    let text = "€".repeat(MAX_TEXT_LEN / 3 + 1);
    assert!(text.chars().count() <= MAX_TEXT_LEN);
    let ascii = "x".repeat(MAX_TEXT_LEN + 1);
    let cases = [
        (
            Message::RejectChannel {
                channel_id: w.channel_id,
                reason: text.clone(),
            },
            "reason",
            text.len(),
        ),
        (
            Message::RejectChannel {
                channel_id: w.channel_id,
                reason: ascii.clone(),
            },
            "reason",
            ascii.len(),
        ),
        (
            Message::Error {
                channel_id: Some(w.channel_id),
                request_id: None,
                error: ErrorBody::new(ErrorBody::INTERNAL, text.clone()),
            },
            "error message",
            text.len(),
        ),
        (
            Message::PayResult {
                request_id: 1,
                channel_id: w.channel_id,
                reply: Reply::Err(ErrorBody::new(ErrorBody::HANDLER_ERROR, text.clone())),
            },
            "error message",
            text.len(),
        ),
        (
            Message::Response {
                request_id: 1,
                reply: Reply::Err(ErrorBody::new(ErrorBody::HANDLER_ERROR, ascii.clone())),
            },
            "error message",
            ascii.len(),
        ),
    ];
    for (msg, field, len) in cases {
        let expected = CodecError::FieldTooLong {
            field,
            len,
            max: MAX_TEXT_LEN,
        };
        assert_eq!(encode(&msg), Err(expected.clone()), "{}", msg.kind());
        // A peer that ignores the limit is refused on decode.
        assert_eq!(decode(&raw_frame(&msg)), Err(expected), "{}", msg.kind());
    }
}

#[test]
fn refuses_fixed_size_fields_of_the_wrong_length() {
    let w = world();
    let sig = *Settlement {
        channel_id: w.channel_id,
        paid_by_a: 1,
        paid_by_b: 2,
    }
    .sign(&w.domain, &w.bob)
    .as_bytes();
    let good = hand_withdraw_signature_frame(&w.channel_id.0, &sig);
    let msg = Message::WithdrawSignature {
        channel_id: w.channel_id,
        signature: Signature(FixedBytes(sig)),
    };
    assert_eq!(
        encode(&msg).unwrap(),
        good,
        "the hand encoding is the codec's"
    );
    assert_eq!(decode(&good), Ok(msg));

    for len in [0, 1, 32, 64, 66, 130] {
        let bytes = vec![0x11; len];
        assert_malformed(
            decode(&hand_withdraw_signature_frame(&w.channel_id.0, &bytes)),
            &format!("{len}-byte signature"),
        );
    }

    // A 31- or 33-byte channel id (with a valid signature after it).
    for len in [31, 33] {
        let mut f = vec![WIRE_VERSION, 8];
        varint(len as u64, &mut f);
        f.extend(std::iter::repeat_n(0x22, len));
        varint(65, &mut f);
        f.extend_from_slice(&sig);
        assert_malformed(decode(&f), &format!("{len}-byte channel id"));
    }

    // A 64-byte signature inside a payment's voucher: drop its last byte and fix its length.
    let pay = fixtures().into_iter().find(|m| m.kind() == "pay").unwrap();
    let Message::Pay { voucher, .. } = &pay else {
        unreachable!()
    };
    let frame = encode(&pay).unwrap();
    let mut prefixed = vec![65u8];
    prefixed.extend_from_slice(voucher.signature.as_bytes());
    let at = frame
        .windows(prefixed.len())
        .position(|win| win == prefixed.as_slice())
        .unwrap();
    let mut f = frame.clone();
    f[at] = 64;
    f.remove(at + 65);
    assert_malformed(decode(&f), "64-byte voucher signature");
}

#[test]
fn refuses_unknown_variants_and_bad_tags() {
    // Variant 15 does not exist; nor does a varint above u32.
    assert_malformed(decode(&[WIRE_VERSION, 15]), "variant 15");
    assert_malformed(
        decode(&[WIRE_VERSION, 0xff, 0xff, 0xff, 0xff, 0x7f]),
        "variant 2^35-1",
    );
    assert_malformed(
        decode(&[WIRE_VERSION, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]),
        "overlong",
    );
    // An Option tag of 2 in an error's channel id.
    assert_malformed(decode(&[WIRE_VERSION, 14, 2]), "option tag 2");
    // A Reply variant of 2.
    assert_malformed(decode(&[WIRE_VERSION, 6, 0, 2, 0]), "reply variant 2");
    // Invalid UTF-8 in a reason.
    let mut f = vec![WIRE_VERSION, 2, 32];
    f.extend([0; 32]);
    f.extend([2, 0xc3, 0x28]);
    assert_malformed(decode(&f), "invalid UTF-8");
}

// ---------------------------------------------------------------------------------------------
// Properties.
// ---------------------------------------------------------------------------------------------

fn arb_channel_id() -> impl Strategy<Value = ChannelId> {
    any::<[u8; 32]>().prop_map(|b| ChannelId(B256::from(b)))
}

fn arb_signature() -> impl Strategy<Value = Signature> {
    vec(any::<u8>(), 65).prop_map(|b| Signature(FixedBytes::from_slice(&b)))
}

fn arb_address() -> impl Strategy<Value = Address> {
    any::<[u8; 20]>().prop_map(Address::from)
}

fn arb_signed_voucher() -> impl Strategy<Value = SignedVoucher> {
    (
        arb_channel_id(),
        arb_address(),
        any::<u128>(),
        any::<u64>(),
        any::<[u8; 32]>(),
        arb_signature(),
    )
        .prop_map(
            |(channel_id, payer, cumulative, sequence, memo, signature)| SignedVoucher {
                voucher: Voucher {
                    channel_id,
                    payer,
                    cumulative,
                    sequence,
                    memo: B256::from(memo),
                },
                signature,
            },
        )
}

fn arb_error_body() -> impl Strategy<Value = ErrorBody> {
    (any::<u16>(), ".{0,40}").prop_map(|(code, message)| ErrorBody { code, message })
}

fn arb_reply() -> impl Strategy<Value = Reply> {
    prop_oneof![
        vec(any::<u8>(), 0..300).prop_map(Reply::Ok),
        arb_error_body().prop_map(Reply::Err),
    ]
}

/// Arbitrary messages of every variant, within the limits.
fn arb_message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (
            arb_address(),
            arb_address(),
            arb_address(),
            any::<u64>(),
            any::<[u8; 32]>(),
            any::<u64>(),
            arb_address(),
            any::<u128>(),
        )
            .prop_map(
                |(a, b, token, challenge_period, nonce, chain, contract, deposit)| {
                    Message::ProposeChannel(ProposeChannel {
                        params: ChannelParams {
                            party_a: a,
                            party_b: b,
                            token,
                            challenge_period,
                            nonce: B256::from(nonce),
                        },
                        domain: Domain::new(chain, contract),
                        deposit,
                    })
                }
            ),
        arb_channel_id().prop_map(|channel_id| Message::AcceptChannel { channel_id }),
        (arb_channel_id(), ".{0,60}")
            .prop_map(|(channel_id, reason)| Message::RejectChannel { channel_id, reason }),
        (any::<u64>(), arb_signed_voucher(), vec(any::<u8>(), 0..300)).prop_map(
            |(request_id, voucher, body)| Message::Pay {
                request_id,
                voucher,
                body,
            }
        ),
        (any::<u64>(), arb_channel_id(), arb_reply()).prop_map(
            |(request_id, channel_id, reply)| Message::PayResult {
                request_id,
                channel_id,
                reply,
            }
        ),
        (any::<u64>(), arb_channel_id(), vec(any::<u8>(), 0..300)).prop_map(
            |(request_id, channel_id, body)| Message::Request {
                request_id,
                channel_id,
                body,
            }
        ),
        (any::<u64>(), arb_reply())
            .prop_map(|(request_id, reply)| Message::Response { request_id, reply }),
        (
            arb_channel_id(),
            arb_address(),
            any::<[u128; 3]>(),
            any::<u64>(),
            arb_signature(),
        )
            .prop_map(|(channel_id, party, [t, a, b], expiry, signature)| {
                Message::WithdrawRequest {
                    withdrawal: Withdrawal {
                        channel_id,
                        party,
                        total_withdrawn: t,
                        paid_by_a: a,
                        paid_by_b: b,
                        expiry,
                    },
                    signature,
                }
            }),
        (arb_channel_id(), arb_signature()).prop_map(|(channel_id, signature)| {
            Message::WithdrawSignature {
                channel_id,
                signature,
            }
        }),
        (
            arb_channel_id(),
            any::<u128>(),
            any::<u128>(),
            arb_signature()
        )
            .prop_map(|(channel_id, paid_by_a, paid_by_b, signature)| {
                Message::SettlementRequest {
                    settlement: Settlement {
                        channel_id,
                        paid_by_a,
                        paid_by_b,
                    },
                    signature,
                }
            }),
        (arb_channel_id(), arb_signature()).prop_map(|(channel_id, signature)| {
            Message::SettlementSignature {
                channel_id,
                signature,
            }
        }),
        (
            arb_channel_id(),
            option::of(arb_signed_voucher()),
            option::of(arb_signed_voucher()),
        )
            .prop_map(|(channel_id, yours, mine)| Message::CounterSync {
                channel_id,
                yours,
                mine,
            }),
        any::<u64>().prop_map(|nonce| Message::Ping { nonce }),
        any::<u64>().prop_map(|nonce| Message::Pong { nonce }),
        (
            option::of(arb_channel_id()),
            option::of(any::<u64>()),
            arb_error_body(),
        )
            .prop_map(|(channel_id, request_id, error)| Message::Error {
                channel_id,
                request_id,
                error,
            }),
    ]
}

proptest! {
    #[test]
    fn arbitrary_messages_round_trip(msg in arb_message()) {
        let frame = encode(&msg).unwrap();
        prop_assert_eq!(decode(&frame), Ok(msg));
    }

    #[test]
    fn decode_never_panics_on_arbitrary_bytes(bytes in vec(any::<u8>(), 0..4096)) {
        check_decode_is_stable(&bytes)?;
    }

    #[test]
    fn decode_never_panics_on_versioned_bytes(
        variant in 0u8..16,
        rest in vec(any::<u8>(), 0..4096),
    ) {
        let mut frame = vec![WIRE_VERSION, variant];
        frame.extend(rest);
        check_decode_is_stable(&frame)?;
    }

    #[test]
    fn decode_never_panics_on_a_valid_prefix_with_a_random_tail(
        which in any::<Index>(),
        cut in any::<Index>(),
        tail in vec(any::<u8>(), 0..128),
    ) {
        let frames = fixture_frames();
        let frame = which.get(frames);
        let mut f = frame[..cut.index(frame.len())].to_vec();
        f.extend(tail);
        check_decode_is_stable(&f)?;
    }

    #[test]
    fn bit_flips_are_refused_or_decode_consistently(
        which in any::<Index>(),
        flips in vec((any::<Index>(), 0u8..8), 1..8),
    ) {
        let frames = fixture_frames();
        let mut frame = which.get(frames).clone();
        let len = frame.len();
        for (at, bit) in flips {
            frame[at.index(len)] ^= 1 << bit;
        }
        check_decode_is_stable(&frame)?;
    }
}
