//! Arbitrary text through the payment package parser (JSON or base64url), as a paywall or
//! `verify_payment_package` receives it; seeded with packages the node itself writes, so the
//! round trips run from the first input.
//!
//! Properties: every package that parses is written (JSON and compact form) within the size
//! limits and both forms parse back to the same package (the node can store, forward and
//! answer whatever it accepted); its voucher reads the same from either, with the same
//! signature check, and a cumulative amount is accepted only in canonical decimal form; the
//! payee's checks of the package alone (`claim`) never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use paychan_node::{PaymentPackage, package::MAX_PACKAGE_LEN};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(package) = PaymentPackage::parse(text) else {
        return;
    };
    let json = package.to_json();
    assert!(
        json.len() <= MAX_PACKAGE_LEN,
        "{} bytes written",
        json.len()
    );
    let again = PaymentPackage::parse(&json).expect("its own JSON parses");
    assert_eq!(again, package);
    let compact = PaymentPackage::parse(&package.to_compact()).expect("its compact form parses");
    assert_eq!(compact, package);

    let domain = package.domain();
    let _ = package.params().id(&domain);
    // Every check the payee makes of the package alone: never a panic, whatever it holds.
    let _ = package.claim(&domain, package.channel.party_b);
    match package.signed_voucher() {
        Ok(voucher) => {
            assert_eq!(
                voucher.voucher.cumulative.to_string(),
                package.voucher.cumulative
            );
            let reread = again
                .signed_voucher()
                .expect("the same voucher reads again");
            assert_eq!(reread, voucher);
            assert_eq!(
                reread.is_signed_by_payer(&domain),
                voucher.is_signed_by_payer(&domain)
            );
        }
        Err(_) => assert!(again.signed_voucher().is_err()),
    }
});
