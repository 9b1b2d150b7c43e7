//! The relay protocol's decoders (`paychan_relay::proto`), as a relay reads what a stranger
//! sends (the query of its upgrade request, a `register` message checked against its
//! challenge) and as a party reads what a relay sends (a challenge it may sign, `incoming`).
//!
//! Properties: nothing panics; a parsed message prints as JSON that parses back to the same
//! message; a registration is accepted only for the address of the key that signed it (here
//! the party's fixed key, the only one whose signatures the inputs can carry), and answering a
//! challenge yields a registration the relay accepts.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use paychan_core::SigningKey;
use paychan_relay::proto::{
    PartyMessage, RelayMessage, answer_challenge, normalize_host, parse_hex, parse_query,
    verify_registration,
};

static KEY: LazyLock<SigningKey> =
    LazyLock::new(|| SigningKey::from_entropy(&[3; 32]).expect("a key"));
const RELAY: &str = "relay.example";
const CHALLENGE: [u8; 32] = [7; 32];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_query(text);
    let _ = normalize_host(text);
    if let Ok(message) = RelayMessage::from_json(text) {
        let json = message.to_json();
        assert_eq!(
            RelayMessage::from_json(&json).as_ref(),
            Ok(&message),
            "{json}"
        );
        if let Ok(answer) = answer_challenge(&message, RELAY, &KEY) {
            let RelayMessage::Challenge { challenge, .. } = &message else {
                panic!("answered {message:?}")
            };
            let challenge: [u8; 32] = parse_hex(challenge).expect("the challenge was parsed");
            assert_eq!(
                verify_registration(&answer, RELAY, &challenge),
                Ok(KEY.address())
            );
        }
    }
    if let Ok(message) = PartyMessage::from_json(text) {
        let json = message.to_json();
        assert_eq!(
            PartyMessage::from_json(&json).as_ref(),
            Ok(&message),
            "{json}"
        );
        if let Ok(address) = verify_registration(&message, RELAY, &CHALLENGE) {
            assert_eq!(address, KEY.address(), "{text}");
        }
    }
});
