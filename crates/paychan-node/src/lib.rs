//! The paychan node: the runtime that wires the protocol core, a ledger, a store and peer
//! connections into channels between processes.
//!
//! - [`config`]: the policy for incoming channels, timeouts.
//! - [`contacts`]: aliases for peers, persisted.
//! - [`decisions`]: channel proposals the user accepts or rejects over an API, before an
//!   expiry.
//! - [`error`]: errors with stable codes and categories.
//! - [`events`]: what the node reports to its user.
//! - [`front`]: [`StorePayee`](front::StorePayee), a payee that verifies packages against a
//!   shared store, holding no channel in memory and no key (the fronts of high availability).
//! - [`lease`]: the lease of the one active background of a high-availability payee, and
//!   [`FencedStore`](lease::FencedStore), which writes only while it holds.
//! - `lifecycle`: the deadlines: proposals that expire, withdrawals released, settles.
//! - [`metrics`]: what the node counts for its operator (payments, latencies, refusals).
//! - [`node`]: [`Node`] and its builder: open, pay, message, deposit, withdraw, close.
//! - [`package`]: payment packages, payments carried outside the peer connection.
//! - `payouts`: payouts the ledger could not deliver: shown per channel, claimed.
//! - [`peer`]: a connection to a peer as the node sees it: authenticated frames, who dialed.
//! - [`peers`]: the peer registry: one connection per peer (a tie-break when both dial),
//!   reading with backpressure, sending, answers matched to their requests.
//! - [`net`]: real transports (`paychan-net`): listen, dial with reconnect.
//! - `testkit` (feature `testkit`): the harness for tests of two or more nodes.
//! - [`watcher`]: follows the ledger, defends our channels during closes, settles.
//!
//! Durability (`docs/PROTOCOL.md`, section 2): every state change of a channel is committed to the store
//! before the message that depends on it is sent or answered.

pub mod config;
pub mod contacts;
pub mod decisions;
pub mod error;
pub mod events;
pub mod front;
pub mod lease;
mod lifecycle;
pub mod metrics;
pub mod net;
pub mod node;
pub mod package;
mod payouts;
pub mod peer;
pub mod peers;
#[cfg(feature = "testkit")]
pub mod testkit;
mod watcher;

pub use crate::{
    config::{ChannelPolicy, NodeConfig, UnconfirmedCredit},
    contacts::Contact,
    error::{Category, NodeError, PackageRejection},
    events::NodeEvent,
    metrics::NodeMetrics,
    node::{ChannelInfo, Incoming, Node, NodeBuilder, PaymentHandler, ProposalHandler, import_row},
    package::{PaymentPackage, VerifiedPayment},
    peer::{Origin, PeerConnection},
    peers::ConnectionInfo,
};
