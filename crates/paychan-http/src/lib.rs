//! Pay-per-call over HTTP with paychan payment packages: each call is paid by one off-chain
//! voucher in its `Authorization` header, verified by the payee's node, with no on-chain
//! step per call (the x402 and Aperture flows wait for a settlement or an invoice instead).
//!
//! - [`header`]: the `402` challenge, the `Authorization: Paychan` credentials, the
//!   `Payment-Receipt` header (the core's [`paychan_core::http`], shared with the browser's
//!   `paychan-wasm`).
//! - [`verifier`]: who checks packages: an in-process [`Node`](paychan_node::Node) or a
//!   remote node over JSON-RPC ([`RpcVerifier`]).
//! - [`paywall`]: [`Paywall`], the tower layer for axum that charges per call.
//! - [`client`]: [`PayingClient`], a reqwest client that pays on `402` within a budget.
//! - [`streams`] and [`paid_stream`]: pay-per-time streams — [`PaidStreams`] serves a
//!   stream while each interval is paid and closes it when payments stop;
//!   [`PayingClient::stream`] pays every interval while the stream is consumed.
//! - [`observe`]: what the paywall did with each call: a log line per call and counters
//!   ([`CallLog`], [`PaywallMetrics`]).
//! - [`proxy`]: a reverse proxy that puts a paywall in front of any HTTP service
//!   (`paychan proxy`).
//!
//! The protocol is described in `docs/HTTP.md`.

pub mod client;
pub use paychan_core::http as header;
pub mod observe;
pub mod paid_stream;
pub mod paywall;
pub mod proxy;
pub mod streams;
pub mod verifier;

pub use crate::{
    client::{ClientConfig, HttpPayError, PaidResponse, Payer, PayingClient},
    header::{Challenge, PaymentError, Receipt, StreamTerms},
    observe::{CallLog, CallOutcome, PaywallMetrics},
    paid_stream::{PaidStream, StreamPayments},
    paywall::Paywall,
    streams::{PaidStreams, StreamStats},
    verifier::{RpcVerifier, Verifier, VerifyError},
};
