//! Arbitrary text through the payment package parser (JSON or base64url), then, for every
//! package that parses, its voucher's amount check and a round trip through both forms.

#![no_main]

use libfuzzer_sys::fuzz_target;
use paychan_node::PaymentPackage;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(package) = PaymentPackage::parse(text) else {
        return;
    };
    let _ = package.signed_voucher();
    let _ = package.params().id(&package.domain());
    let again = PaymentPackage::parse(&package.to_json()).expect("its own JSON parses");
    assert_eq!(again, package);
    let compact = PaymentPackage::parse(&package.to_compact()).expect("its compact form parses");
    assert_eq!(compact, package);
});
