//! The Noise XX handshake as a stranger drives it, before anything is authenticated: its raw
//! messages, and the address binding it carries in messages 2 and 3.
//!
//! The first byte picks what the rest is:
//! - 0: a TCP stream of handshake messages (2-byte length prefixes) read by a responder;
//! - 1: the responder's binding (message 2 payload), checked by a real initiator;
//! - 2: the initiator's binding (message 3 payload), checked by a real responder;
//! - 3: a Noise static key (32 bytes) and a binding, checked directly.
//!
//! Properties: the de-framing returns no message above 1 KiB and refuses only longer ones;
//! message 1 is accepted only as a bare 32-byte ephemeral key; an arbitrary message 3 is never
//! accepted (it would have to be encrypted under the session); a binding is accepted only if
//! it proves the address it names for the static key the handshake authenticated, and then
//! the handshake yields that address; the writer's own binding is always accepted.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use paychan_core::{Address, SigningKey};
use paychan_net::{
    BINDING_LEN, Identity, NetError,
    fuzzing::{
        Initiator, MAX_HANDSHAKE_MSG, Responder, initiator_finish, responder_finish, take_message,
    },
    verify_binding,
};

/// The initiator and the responder: fixed keys, so their bindings can be seeds.
fn identities() -> &'static (Identity, Identity) {
    static IDS: OnceLock<(Identity, Identity)> = OnceLock::new();
    IDS.get_or_init(|| {
        let id = |seed: u8| {
            let key = SigningKey::from_entropy(&[seed; 32]).expect("a key");
            Identity::new(key, [seed.wrapping_add(1); 32]).expect("an identity")
        };
        (id(1), id(3))
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (initiator_id, responder_id) = identities();
    match mode % 4 {
        0 => raw_messages(responder_id, rest),
        1 => {
            let mut responder = Responder::new(responder_id).expect("a responder");
            let (initiator, first) = Initiator::start(initiator_id).expect("an initiator");
            let Ok(second) = responder.answer(&first, rest) else {
                // Only a payload too long for a handshake message is refused here.
                assert!(rest.len() > MAX_HANDSHAKE_MSG - 100);
                return;
            };
            let expected = responder_id.address();
            let got = initiator_finish(initiator, &second, expected, &binding(initiator_id));
            check(got.map(|(_, a)| a), rest, responder_id, Some(expected));
        }
        2 => {
            let mut responder = Responder::new(responder_id).expect("a responder");
            let (initiator, first) = Initiator::start(initiator_id).expect("an initiator");
            let second = responder
                .answer(&first, &binding(responder_id))
                .expect("message 1 of a real initiator");
            let Ok((third, _)) = initiator_finish(initiator, &second, responder_id.address(), rest)
            else {
                assert!(rest.len() > MAX_HANDSHAKE_MSG - 100);
                return;
            };
            let got = responder_finish(responder, &third);
            // A responder takes whoever proves an address for the authenticated key.
            check(got, rest, initiator_id, None);
        }
        _ => {
            let Some((key, payload)) = rest.split_at_checked(32) else {
                return;
            };
            if let Ok(address) = verify_binding(payload, key) {
                assert_eq!(payload.len(), BINDING_LEN);
                assert_eq!(payload.get(1..21), Some(address.as_slice()));
            }
        }
    }
});

/// A stream of raw handshake messages to a responder.
fn raw_messages(responder_id: &Identity, stream: &[u8]) {
    let mut stream = stream.to_vec();
    let mut messages = Vec::new();
    loop {
        let mut message = Vec::new();
        match take_message(&mut stream, &mut message, MAX_HANDSHAKE_MSG) {
            Ok(true) => {
                assert!(message.len() <= MAX_HANDSHAKE_MSG);
                messages.push(message);
            }
            Ok(false) => break,
            Err(_) => {
                let announced = stream
                    .first_chunk::<2>()
                    .map(|len| usize::from(u16::from_be_bytes(*len)));
                assert!(announced.is_some_and(|len| len > MAX_HANDSHAKE_MSG));
                break;
            }
        }
    }
    let mut messages = messages.into_iter();
    let Some(first) = messages.next() else {
        return;
    };
    let mut responder = Responder::new(responder_id).expect("a responder");
    if responder.answer(&first, &binding(responder_id)).is_err() {
        return;
    }
    assert_eq!(first.len(), 32, "message 1 is a bare ephemeral key");
    if let Some(third) = messages.next() {
        assert!(
            responder_finish(responder, &third).is_err(),
            "a message 3 not encrypted under the session was accepted"
        );
    }
}

/// What a handshake yielded for a binding `payload` sent by `sender` (whose address the
/// other side insists on, if `expected`).
fn check(
    got: Result<Address, NetError>,
    payload: &[u8],
    sender: &Identity,
    expected: Option<Address>,
) {
    let proven = verify_binding(payload, sender.noise_public_key()).ok();
    match got {
        Ok(address) => {
            assert_eq!(
                proven,
                Some(address),
                "an address the binding does not prove"
            );
            assert!(expected.is_none_or(|e| e == address));
            assert_eq!(payload.get(1..21), Some(address.as_slice()));
        }
        Err(_) => assert!(
            proven.is_none() || expected.is_some_and(|e| Some(e) != proven),
            "a binding proving {proven:?} was refused"
        ),
    }
    if payload == binding(sender) {
        assert_eq!(proven, Some(sender.address()));
    }
}

/// `identity`'s own binding, as its writer encodes it.
fn binding(identity: &Identity) -> Vec<u8> {
    paychan_net::encode_binding(identity.signing_key(), identity.noise_public_key()).to_vec()
}
