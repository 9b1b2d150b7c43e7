//! The browser payer's logic natively, on the same `k256` backend as in the browser: its
//! ledger requests verify under the ledger's rules, its packages pass the payee's checks
//! (`PaymentPackage::claim`, the payee node's first step), a refused package is taken back so
//! the next one does not pay for it, the stored form round-trips, and bad input is an error.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use paychan_core::{
    Address, Domain, SigningKey,
    adjudicator::LedgerEvent,
    http::{Challenge, binding},
    manager::package::PaymentPackage,
};
use paychan_ledger::{EventRecord, Operation, Receipt};
use paychan_wasm::payer::{PayerChannel, key_from_entropy, key_from_secret, parse_challenge};

fn challenge(payee: Address) -> Challenge {
    Challenge {
        price: 10,
        payee,
        chain_id: 1337,
        contract: Address::repeat_byte(0xcc),
        node: None,
    }
}

fn opened(channel: &PayerChannel, deposit: u128) -> Receipt {
    let Operation::Open { params, .. } = channel
        .open_request(&key_from_entropy(&[1; 32]).unwrap(), deposit, 1)
        .unwrap()
        .op
    else {
        panic!("not an open")
    };
    Receipt {
        events: vec![EventRecord {
            cursor: 0,
            time: 0,
            event: LedgerEvent::Opened {
                channel_id: channel.id(),
                params,
                deposit,
            },
            transaction: None,
        }],
    }
}

#[test]
fn opens_pays_takes_back_and_stores() {
    let payer = key_from_entropy(&[1; 32]).unwrap();
    let payee = SigningKey::from_entropy(&[2; 32]).unwrap().address();
    let terms = challenge(payee);
    let domain = Domain::new(terms.chain_id, terms.contract);
    // The header form and the 402 body form read alike.
    assert_eq!(parse_challenge(&terms.to_header()).unwrap(), terms);
    assert_eq!(
        parse_challenge(&serde_json::to_string(&terms).unwrap()).unwrap(),
        terms
    );

    let mut channel = PayerChannel::propose(&payer, &terms, 3600, &[7; 32]).unwrap();
    assert_eq!(channel.phase(), "proposed");
    assert!(
        channel
            .pay(&payer, 10, &binding("GET", "/x"))
            .unwrap_err()
            .contains("proposed")
    );

    // The open request is signed by the payer under the ledger's domain, with its nonce.
    let request = channel.open_request(&payer, 1_000, 5).unwrap();
    request.verify(&domain).unwrap();
    assert_eq!((request.from, request.nonce), (payer.address(), 5));
    assert!(request.verify(&Domain::new(1, terms.contract)).is_err());
    // Its JSON is what `ledger_submit` takes.
    let json = serde_json::to_value(&request).unwrap();
    assert!(json["op"]["open"]["amount"].is_number(), "{json}");

    assert_eq!(channel.apply_receipt(&opened(&channel, 1_000)), 1);
    assert_eq!(
        (channel.phase(), channel.deposit(), channel.available()),
        ("open", 1_000, 1_000)
    );

    // Three paid calls; the payee's checks accept each package, bound to its request.
    let mut last = None;
    for n in 1..=3u128 {
        let message = binding("GET", &format!("/call/{n}"));
        let package = channel.pay(&payer, 10, &message).unwrap();
        let parsed = PaymentPackage::parse(&package.to_compact()).unwrap();
        let claim = parsed.claim(&domain, payee).unwrap();
        assert_eq!(claim.voucher.voucher.cumulative, n * 10);
        assert_eq!(parsed.message, Some(message));
        last = Some(parsed);
    }
    assert_eq!((channel.paid(), channel.available()), (30, 970));

    // A refused package is taken back: the next one pays only its own price.
    let refused = channel
        .pay(&payer, 10, &binding("GET", "/refused"))
        .unwrap();
    assert_eq!(channel.paid(), 40);
    assert_eq!(channel.cancel(&refused).unwrap(), 10);
    assert_eq!(channel.paid(), 30);
    // Only the latest package can be taken back, once.
    assert!(channel.cancel(&refused).is_err());
    assert!(channel.cancel(&last.unwrap()).is_err());
    let next = channel.pay(&payer, 10, &binding("GET", "/next")).unwrap();
    assert_eq!(
        next.claim(&domain, payee)
            .unwrap()
            .voucher
            .voucher
            .cumulative,
        40
    );

    // Never beyond the deposit.
    assert!(channel.pay(&payer, 961, &binding("GET", "/big")).is_err());
    assert_eq!(channel.paid(), 40);

    // The stored form round-trips, and a key other than the payer's cannot pay.
    let restored = PayerChannel::from_json(&channel.to_json()).unwrap();
    assert_eq!(restored, channel);
    let other = key_from_entropy(&[9; 32]).unwrap();
    assert!(channel.pay(&other, 1, &binding("GET", "/x")).is_err());
}

#[test]
fn bad_input_is_an_error() {
    assert!(key_from_entropy(&[1; 31]).is_err());
    assert!(key_from_secret(&[0; 32]).is_err());
    assert!(key_from_secret(&[1; 31]).is_err());
    let key = key_from_secret(&[1; 32]).unwrap();
    assert_eq!(
        key_from_secret(&key.to_bytes()).unwrap().address(),
        key.address()
    );
    assert!(parse_challenge("Basic realm=x").is_err());
    assert!(parse_challenge("{").is_err());
    assert!(parse_challenge("").is_err());
    let terms = challenge(key.address());
    assert!(PayerChannel::propose(&key, &terms, 60, &[0; 32]).is_err()); // ourselves
    let terms = challenge(Address::repeat_byte(2));
    assert!(PayerChannel::propose(&key, &terms, 60, &[0; 31]).is_err());
    assert!(PayerChannel::from_json("{}").is_err());
    assert!(PayerChannel::from_json("not json").is_err());
    let channel = PayerChannel::propose(&key, &terms, 60, &[0; 32]).unwrap();
    let stored = channel.to_json().replace("\"version\":1", "\"version\":2");
    assert!(
        PayerChannel::from_json(&stored)
            .unwrap_err()
            .contains("version")
    );
}
