//! The RPC's parameter types as an API client sends them: amounts (decimal strings or JSON
//! integers), and the aa-channels calls with their positional params.
//!
//! The first byte picks the aa-channels method; the rest is its params' JSON text (and, for
//! the amount checks, an amount's text or JSON).
//!
//! Properties: an amount that parses is written as a decimal string that parses to the same
//! amount, and the text parser accepts only digits whose value it returns; an aa-channels call
//! that parses is written back (`to_params`) as params that parse to the same call, under the
//! same method.

#![no_main]

use libfuzzer_sys::fuzz_target;
use paychan_rpc::{
    aa_params::AaCall,
    method::aa,
    params::{AmountParam, parse_amount},
};

const METHODS: [&str; 7] = [
    aa::CREATE_NEW_CHANNEL,
    aa::SEND_MESSAGE_AND_PAY,
    aa::SET_AUTO_REFILL,
    aa::GET_BALANCES_AND_STATUS,
    aa::GET_CHANNELS_FOR_PEER,
    aa::CREATE_PAYMENT_PACKAGE,
    aa::VERIFY_PAYMENT_PACKAGE,
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    if let Ok(amount) = parse_amount(text) {
        assert!(text.bytes().all(|b| b.is_ascii_digit()));
        let written = amount.to_string();
        let digits = text.trim_start_matches('0');
        assert_eq!(written, if digits.is_empty() { "0" } else { digits });
        assert_eq!(parse_amount(&written), Ok(amount));
    }
    if let Ok(amount) = serde_json::from_str::<AmountParam>(text) {
        let written = serde_json::to_string(&amount).expect("an amount serializes");
        assert_eq!(written, format!("\"{}\"", amount.0));
        let again: AmountParam = serde_json::from_str(&written).expect("its own form parses");
        assert_eq!(again, amount);
    }
    let method = METHODS[usize::from(pick) % METHODS.len()];
    let raw = (pick < 128).then_some(text);
    if let Ok(parsed) = AaCall::parse(method, raw) {
        let call = parsed.expect("an aa-channels method");
        assert_eq!(call.method(), method);
        let written = serde_json::to_string(&call.to_params()).expect("params serialize");
        let again = AaCall::parse(method, Some(&written))
            .unwrap_or_else(|e| panic!("{method} {written}: {e:?}"));
        assert_eq!(again, Some(call), "{method} {written}");
    }
});
