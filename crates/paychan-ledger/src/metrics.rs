//! What the embedded ledger counts for its operator: operations applied and refused (by
//! operation, and refusals by their code: the rule's name or the error's kind), the time of
//! each journal write, and the events recorded. Filled under the ledger's state lock with
//! atomic additions; `paychan ledger serve` serves them to Prometheus (`docs/OPERATIONS.md`).

use paychan_core::metrics::{Counter, Histogram, Refusals};

use crate::api::{LedgerError, Operation};

/// The operations, in the order of [`LedgerMetrics::applied`].
pub const OPERATIONS: [&str; 7] = [
    "open",
    "deposit",
    "withdraw",
    "close_cooperative",
    "start_close",
    "submit_voucher",
    "settle",
];

/// The ledger's counters (see the [module docs](self)).
#[derive(Debug)]
pub struct LedgerMetrics {
    /// Operations applied, per operation ([`OPERATIONS`]).
    pub applied: [Counter; 7],
    /// Requests refused, by `(operation, code)`: a refused request applies nothing.
    pub refusals: Refusals<(&'static str, &'static str)>,
    /// One write of the journal (and its `fsync` with `--sync`).
    pub journal_write: Histogram,
}

impl Default for LedgerMetrics {
    fn default() -> Self {
        LedgerMetrics {
            applied: Default::default(),
            refusals: Refusals::default(),
            journal_write: Histogram::latency(),
        }
    }
}

impl LedgerMetrics {
    /// `op` was applied.
    pub(crate) fn applied(&self, op: &Operation) {
        if let Some(counter) = self.applied.get(index(op)) {
            counter.inc();
        }
    }

    /// `op` was refused with `error`.
    pub(crate) fn refused(&self, op: &Operation, error: &LedgerError) {
        let name = OPERATIONS.get(index(op)).copied().unwrap_or("");
        self.refusals.inc((name, error.code()));
    }
}

/// The position of `op` in [`OPERATIONS`].
fn index(op: &Operation) -> usize {
    match op {
        Operation::Open { .. } => 0,
        Operation::Deposit { .. } => 1,
        Operation::Withdraw { .. } => 2,
        Operation::CloseCooperative { .. } => 3,
        Operation::StartClose { .. } => 4,
        Operation::SubmitVoucher { .. } => 5,
        Operation::Settle { .. } => 6,
    }
}
