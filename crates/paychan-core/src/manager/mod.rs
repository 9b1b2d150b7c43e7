//! The sans-IO parts of the node above one channel: what decides, for many channels at once,
//! which channels to accept and when something is due.
//!
//! - [`policy`]: the one rule set for channels others open with us, whether they propose
//!   them over a connection or we learn them from the ledger through a payment package.
//! - [`timers`]: every deadline of every channel, on the node's clock (proposals that never
//!   opened) or the ledger's (withdrawal certificates that expire, closes that can be
//!   settled), with `poll_timeout` for the driver, so that no timer can be forgotten.
//!
//! Like [`Channel`](crate::channel::Channel), nothing here reads a clock or performs IO: the
//! node passes the time in and acts on what comes out (`docs/ARCHITECTURE.md`).

pub mod policy;
pub mod timers;

pub use self::{
    policy::{ChannelPolicy, DefenceFloor, Offer, PolicyRejection},
    timers::{Clock, Timer, Timers},
};
