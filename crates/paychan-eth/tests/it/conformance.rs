//! The ledger conformance suite, unchanged, against the contract on anvil: once with an ERC-20
//! as the suite's asset, once with ETH on a node without fees.

mod token {
    paychan_ledger::conformance_suite!(paychan_eth::testkit::EthHarness::with_token());
}

mod native {
    paychan_ledger::conformance_suite!(paychan_eth::testkit::EthHarness::native());
}
