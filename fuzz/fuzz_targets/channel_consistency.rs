//! The consistency fuzzer, after rust-lightning's `chanmon_consistency`: the input decodes
//! into a setup and a sequence of actions run by `paychan_core::simulation` (two parties'
//! channels and timers, a lossy, reordering, duplicating connection, restarts from older
//! committed states, withdrawals, closes, time jumps, and the ledger). The simulation never
//! panics on its own; a broken invariant (money created or destroyed, an honest party paid
//! less than it is owed, a state that left uncommitted, ...) is turned into a crash here.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = paychan_core::simulation::run(data) {
        panic!("consistency violated: {violation}");
    }
});
