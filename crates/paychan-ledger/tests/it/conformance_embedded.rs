//! The ledger conformance suite against the embedded ledger, once with the native asset and
//! once with a named token.

mod native {
    paychan_ledger::conformance_suite!(async { paychan_ledger::testkit::EmbeddedHarness::new() });
}

mod token {
    paychan_ledger::conformance_suite!(async {
        paychan_ledger::testkit::EmbeddedHarness::with_token("USDC")
    });
}

#[test]
fn the_suite_has_at_least_twenty_cases() {
    assert!(
        paychan_ledger::testkit::CASES.len() >= 20,
        "only {} cases",
        paychan_ledger::testkit::CASES.len()
    );
}
