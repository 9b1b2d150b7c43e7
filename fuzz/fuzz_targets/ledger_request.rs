//! The served ledger's signed requests (`ledger_submit {request}`): JSON from any client of
//! `paychan ledger serve`, parsed and checked before anything is applied.
//!
//! Properties: a request that parses is written back as JSON that parses to the same request;
//! its operation survives the postcard encoding that its signed digest covers (so two
//! different operations never share a digest); verification gives the same answer for the
//! request written and read again; and a request that verifies stops verifying under another
//! nonce, another signer or another ledger (the signature binds them).

#![no_main]

use libfuzzer_sys::fuzz_target;
use paychan_core::{Address, Domain};
use paychan_ledger::{api::Operation, request::SignedRequest};

/// The ledger the seeds are signed for (chain 1337, adjudicator 0xcc…cc).
fn domain() -> Domain {
    Domain::new(1337, Address::repeat_byte(0xcc))
}

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<SignedRequest>(data) else {
        return;
    };
    let json = serde_json::to_string(&request).expect("a request serializes");
    let again: SignedRequest = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("its own JSON {json} does not parse: {e}"));
    assert_eq!(again, request);

    if let Ok(bytes) = postcard::to_stdvec(&request.op) {
        let op: Operation = postcard::from_bytes(&bytes).expect("its own postcard decodes");
        assert_eq!(op, request.op);
    }
    let domain = domain();
    let digest = SignedRequest::digest(&domain, request.from, request.nonce, &request.op);
    let digest_again = SignedRequest::digest(&domain, again.from, again.nonce, &again.op);
    assert_eq!(digest.ok(), digest_again.ok());

    let verified = request.verify(&domain).is_ok();
    assert_eq!(again.verify(&domain).is_ok(), verified);
    if verified {
        let mut replayed = request.clone();
        replayed.nonce = replayed.nonce.wrapping_add(1);
        assert!(replayed.verify(&domain).is_err(), "the nonce is not signed");
        let mut stolen = request.clone();
        stolen.from = Address::repeat_byte(0x77);
        assert!(stolen.verify(&domain).is_err(), "the account is not signed");
        let other = Domain::new(1338, Address::repeat_byte(0xcc));
        assert!(request.verify(&other).is_err(), "the ledger is not signed");
    }
});
