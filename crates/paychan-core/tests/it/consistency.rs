//! The consistency simulation (`paychan_core::simulation`) driven by random action
//! sequences: the fuzz target `fuzz/fuzz_targets/channel_consistency.rs` runs the same code
//! on coverage-guided inputs. Any broken invariant fails with the step, the action and what
//! broke; proptest shrinks the input to a short one. Sized to take a few seconds in a debug
//! build; the fuzzer is where long campaigns run.

use paychan_core::simulation::{self, Stats};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn two_parties_and_a_ledger_stay_consistent(input in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Err(violation) = simulation::run(&input) {
            prop_assert!(false, "{violation}");
        }
    }
}

/// Random inputs reach payments, withdrawals, restores and both kinds of close: the
/// simulation is not trivially consistent because nothing happens.
#[test]
fn random_runs_get_somewhere() {
    let mut total = Stats::default();
    let mut closes = (0, 0);
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..24 {
        let input: Vec<u8> = (0..400)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        let stats = simulation::run(&input).unwrap_or_else(|v| panic!("{v}"));
        total.payments += stats.payments;
        total.withdrawals += stats.withdrawals;
        total.restores += stats.restores;
        if stats.cooperative {
            closes.0 += 1;
        } else {
            closes.1 += 1;
        }
    }
    assert!(total.payments > 50, "{total:?}");
    assert!(total.withdrawals > 0, "{total:?}");
    assert!(total.restores > 0, "{total:?}");
    assert!(closes.0 > 0 && closes.1 > 0, "{closes:?}");
}
