//! Accepting a voucher, over a connection or in a payment package: the channel's rules, then,
//! for a voucher over the payer's funds as we know them, the ledger's confirmed deposits
//! (our watcher may lag behind the ledger), then credit ahead of deposits the ledger shows
//! but has not confirmed, within the [`UnconfirmedCredit`] limits.
//!
//! [`Manager::check_voucher`] is a step function: each call either decides or names the one
//! ledger read it needs (`RefreshDeposits`, then `AskCredit`), and the driver calls again
//! with what it read. The steps only go forward (known → refreshed → credit), so a driver
//! makes at most three calls per voucher.

use alloy_primitives::B256;
use serde::{Deserialize, Serialize};

use super::Manager;
use crate::{
    channel::{Channel, VoucherRejection},
    eip712::SignedVoucher,
    types::Amount,
};

/// How much a payee accepts ahead of a peer's deposits that the ledger shows but has not yet
/// confirmed (its confirmation depth is the ledger backend's setting). Zero, the default,
/// waits for confirmation. What is accepted this way is at risk until the deposit confirms:
/// if it never does, the ledger pays at most the peer's confirmed funds.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UnconfirmedCredit {
    /// The most accepted ahead of confirmation in one channel.
    pub per_channel: Amount,
    /// The most accepted ahead of confirmation in all channels together.
    pub total: Amount,
}

impl UnconfirmedCredit {
    /// Whether any credit is given.
    pub fn enabled(&self) -> bool {
        self.per_channel > 0 && self.total > 0
    }

    /// The credit one channel may have now: the peer's deposits the ledger shows (`pending`,
    /// its total including unconfirmed ones) beyond what is confirmed (`confirmed`), within
    /// the per-channel limit and what the total limit leaves after the other channels'
    /// exposure (`others`).
    pub fn allowance(&self, pending: Amount, confirmed: Amount, others: Amount) -> Amount {
        if !self.enabled() {
            return 0;
        }
        pending
            .saturating_sub(confirmed)
            .min(self.per_channel)
            .min(self.total.saturating_sub(others))
    }
}

/// What the driver knows of the payer's funds when it asks [`Manager::check_voucher`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Funds {
    /// The channel's state as it is.
    Known,
    /// The channel's state after the driver applied the ledger's confirmed deposits to it.
    Refreshed,
    /// As `Refreshed`, and this much credit ahead of unconfirmed deposits
    /// ([`UnconfirmedCredit::allowance`]).
    Credit(Amount),
}

/// A voucher the channel's rules accept.
#[derive(Clone, Debug, PartialEq)]
pub struct Accepted {
    /// The channel with the voucher counted: to commit before answering.
    pub next: Channel,
    /// What the voucher pays beyond the payer's previous total.
    pub amount: Amount,
    /// The credit it used (zero if the payer's confirmed funds cover it).
    pub credit: Amount,
}

/// What to do with a voucher.
#[derive(Clone, Debug, PartialEq)]
// One step per voucher, on the stack: boxing the accepted state would cost an allocation
// per payment for no gain.
#[allow(clippy::large_enum_variant)]
pub enum VoucherStep {
    /// Take it: commit `next`, then answer.
    Accept(Accepted),
    /// Refuse it; nothing changes.
    Refuse(VoucherRejection),
    /// It is over the payer's funds as we know them (`over` says by how much): apply the
    /// ledger's confirmed deposits to the channel, then call again with
    /// [`Funds::Refreshed`]; or refuse it with `over`.
    RefreshDeposits {
        /// The refusal, if the driver does not read further.
        over: VoucherRejection,
    },
    /// Still over: read the peer's unconfirmed deposits, then call again with
    /// [`Funds::Credit`] of their [`allowance`](UnconfirmedCredit::allowance); or refuse it
    /// with `over`.
    AskCredit {
        /// The refusal, if the driver does not read further.
        over: VoucherRejection,
    },
}

impl Manager {
    /// The next step for `voucher` (paying for the message of `memo`) on `channel`, knowing
    /// `funds` (see the [module docs](self)).
    pub fn check_voucher(
        &self,
        channel: &Channel,
        voucher: &SignedVoucher,
        memo: B256,
        funds: Funds,
    ) -> VoucherStep {
        let credit = match funds {
            Funds::Credit(credit) => credit,
            Funds::Known | Funds::Refreshed => 0,
        };
        let mut next = channel.clone();
        match next.handle_voucher_with_credit(voucher, memo, credit) {
            Ok(amount) => VoucherStep::Accept(Accepted {
                next,
                amount,
                credit,
            }),
            Err(over @ VoucherRejection::OverBalance { .. }) if funds == Funds::Known => {
                VoucherStep::RefreshDeposits { over }
            }
            Err(over @ VoucherRejection::OverBalance { .. })
                if funds == Funds::Refreshed && self.credit().enabled() =>
            {
                VoucherStep::AskCredit { over }
            }
            Err(e) => VoucherStep::Refuse(e),
        }
    }
}
