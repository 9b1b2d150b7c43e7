//! Fuzzes the wire codec: `decode` must never panic on arbitrary bytes, and whatever it
//! accepts must survive a round trip (`decode(encode(m)) == m`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use paychan_core::wire::{decode, encode};

fuzz_target!(|frame: &[u8]| {
    if let Ok(msg) = decode(frame) {
        let reencoded = match encode(&msg) {
            Ok(bytes) => bytes,
            Err(e) => panic!("decoded message does not re-encode: {e}; message: {msg:?}"),
        };
        match decode(&reencoded) {
            Ok(again) => assert_eq!(again, msg, "round trip changed the message"),
            Err(e) => panic!("re-encoded frame does not decode: {e}; message: {msg:?}"),
        }
    }
});
