//! The cases of the conformance suite: the happy paths of every operation (`happy`), then a
//! malicious party trying each way the ledger rules forbid to take money: forged, tampered
//! and replayed signatures (`forgery`), and every other refusal (`refusals`).
//!
//! Amounts are worked out by hand in each case with the settlement formula of `docs/PROTOCOL.md`
//! (section 4): `total = depA + depB - wA - wB`,
//! `payoutA = clamp(depA - wA - paidByA + paidByB, 0, total)`, `payoutB = total - payoutA`.

use paychan_core::{
    Address, Amount, ChannelId, ChannelParams, Domain, Pair, Role, Voucher,
    adjudicator::{LedgerEvent, Rule},
    channel::{Channel, LedgerAction, Phase},
    eip712::{Eip712, memo_of},
    keccak256,
};

use super::{
    Harness,
    world::{CHALLENGE, DAY, FUNDS, Refusal, World, cosign, next_event, sign_voucher},
};
use crate::{LedgerClose, LedgerFunding, LedgerWithdraw};

mod forgery;
mod happy;
mod refusals;

pub use self::{forgery::*, happy::*, refusals::*};
