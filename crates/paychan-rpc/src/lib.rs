//! The JSON-RPC 2.0 API of a paychan node: HTTP and WebSocket on one port (default
//! `127.0.0.1:6333`), authenticated by a bearer token, with the node's events over WebSocket;
//! and the same methods over gRPC ([`grpc`], `proto/paychan/v1/node.proto`) on a second port
//! when [`RpcConfig::grpc_listen`] is set. Both APIs call one service layer (the private `api`
//! module): no method is implemented twice.
//!
//! - [`server`]: [`RpcServerBuilder`] serves a [`Node`](paychan_node::Node).
//! - [`auth`]: the token and origin checks, an HTTP middleware in front of every request.
//! - [`config`]: listen address, token, allowed origins, limits.
//! - [`dial`]: the networking hook through which `open_channel` reaches new peers.
//! - [`error`]: stable error codes (documented there).
//! - [`params`]: strict parsing of params; amounts as decimal strings or integers.
//! - [`aa_params`]: the aa-channels calls' positional params, parsed and written back.
//! - [`types`]: the answers, shared with clients.
//! - [`remote`]: the remote payment handler, a WebSocket client answering payments.
//! - [`tokens`]: scoped tokens (read, verify, pay with a limit) and which method needs which.
//! - [`client`]: HTTP and WebSocket clients that send the token (used by `paychan channel`).
//! - [`grpc`]: the gRPC API (tonic), its generated messages and client ([`grpc::pb`]).
//!
//! # Methods
//!
//! Params are named (a JSON object with these keys; unknown keys are refused) or positional
//! (a JSON array in this order). Amounts are answered as decimal strings and accepted as
//! decimal strings or JSON integers; ids and addresses are `0x` hex strings.
//!
//! | method | params | result |
//! |---|---|---|
//! | `node_info` | none | `{address, ledger: {chain_id, verifying_contract}, rpc_version, node_version, listen, balance, ledger_time}` |
//! | `open_channel` | `peer` (address, contact alias, or `ADDRESS@HOST:PORT`), `deposit`, `peer_url`?, `propose`? (default `true`; `false` opens on the ledger without asking the peer, which learns the channel from the first payment package) | the channel (as `channel_info`) |
//! | `pay` | `channel_id`, `amount` (> 0), `message`? (any JSON) | `{response}`: the peer's response |
//! | `send_message` | `channel_id`, `message` | `{response}` |
//! | `deposit` | `channel_id`, `amount` (> 0) | the channel |
//! | `withdraw` | `channel_id`, `amount` (> 0) | the channel |
//! | `close` | `channel_id`, `force`? (default `false`) | `{cooperative, channel}` |
//! | `channel_info` | `channel_id` | `{channel_id, peer, role, status, balances: {my_available, peer_available, paid_by_me, paid_by_peer, my_deposit, peer_deposit, my_pending_deposit}, expected_payouts: {mine, peer}, deadline, auto_refill: {threshold, amount}}` |
//! | `list_channels` | `peer`? (address or alias) | `[channel]`, ordered by id |
//! | `set_auto_refill` | `channel_id`, `threshold`?, `amount`? (zero or absent: off) | the channel |
//! | `set_unconfirmed_credit` | `per_channel`?, `total`?, `min_wait`? (seconds) | `{per_channel, total, min_wait}`: credit ahead of peers' unconfirmed deposits, until restart |
//! | `create_payment_package` | `channel_id`, `amount` (> 0), `message`? (any JSON) | `{package, compact}`: the package object and its base64url form |
//! | `verify_payment_package` | `package` (object, JSON text or compact form), `min_amount`? (default 0: a package paying less is refused and not recorded) | `{channel_id, payer, amount, cumulative, remaining, memo, message}` |
//! | `add_contact` | `alias`, `peer` (address or `ADDRESS@HOST:PORT`), `replace`? (default `false`) | `{alias, address, peer_url}` |
//! | `get_contact` | `alias` | the contact |
//! | `list_contacts` | none | `[contact]`, ordered by alias |
//! | `remove_contact` | `alias` | `true` |
//! | `subscribe_events` | none | subscription; notifications of method `event` carry a `NodeEvent` |
//! | `unsubscribe_events` | the subscription id | `bool` |
//! | `subscribe_payments` | none | become the payment handler: notifications of method `payment_request` carry `{request_id, channel_id, peer, amount, message, expires_at_ms}` (see [`remote`]) |
//! | `unsubscribe_payments` | the subscription id | `bool` |
//! | `answer_payment` | `request_id`, `response` (any JSON) or `error` (a message) | `true` |
//! | `create_token` | `scopes` (`["read"]`, `["verify"]`, `["pay"]`, or several), `limit` and `period` (seconds; both required with `pay`, refused without), `label`? | `{token, info}`: the token text, shown only here, and its `info` as in `list_tokens` |
//! | `list_tokens` | none | `[{id, scopes, limit?, period?, spent?, period_ends?, label?, created, revoked}]`, by id |
//! | `revoke_token` | `id` | the token's info, `revoked: true` |
//! | `subscribe_proposals` | none | with [`RpcServerBuilder::proposal_decisions`]: notifications of method `proposal` carry `{channel_id, peer, deposit, token, challenge_period, received_at_ms, expires_at_ms}` |
//! | `unsubscribe_proposals` | the subscription id | `bool` |
//! | `list_proposals` | none | the proposals waiting for a decision, oldest first |
//! | `accept_proposal` | `channel_id` | `true` |
//! | `reject_proposal` | `channel_id`, `reason`? | `true` (a proposal undecided at `expires_at_ms` is rejected) |
//!
//! The aa-channels-lib names are accepted with their positional params (see `api/aa.rs`):
//! `createNewChannel [peer, initial_amount, options?]`, `sendMessageAndPay [aa_address,
//! message, amount]`, `deposit [aa_address, amount]`, `close [aa_address]`, `setAutoRefill
//! [aa_address, auto_refill_amount, auto_refill_threshold]`, `getBalancesAndStatus
//! [aa_address]`, `getChannelsForPeer [peer, asset?]`, `createPaymentPackage [aa_address,
//! amount, message?]`, `verifyPaymentPackage [package]`. The channel id is the `aa_address`.
//!
//! # Errors
//!
//! A failed call answers a JSON-RPC error whose `data` is `{category, code, message}`:
//! invalid params are the standard `-32602` (paychan code 1000); every other paychan error
//! has `error.code = -33000 - data.code` (see [`error`] for the table).
//!
//! # Security
//!
//! Every HTTP request and WebSocket upgrade must carry `Authorization: Bearer <token>`: the
//! full-access token, or a scoped token that may call only the methods of its scopes (see
//! [`tokens`]);
//! requests from a browser `Origin` not listed in the configuration are refused; request
//! body size, batch length, connections and subscriptions are limited (see [`auth`] and
//! [`RpcConfig`]).

pub mod aa_compat;
pub mod aa_params;
mod api;
pub mod auth;
pub mod client;
pub mod config;
mod dashboard;
pub mod dial;
pub mod error;
pub mod grpc;
pub mod params;
pub mod remote;
pub mod server;
pub mod tokens;
pub mod types;

pub use crate::{
    auth::{BEARER_PROTOCOL_PREFIX, SUBPROTOCOL},
    config::RpcConfig,
    dial::{DialError, Dialer},
    error::{ErrorData, RpcError},
    server::{RpcServer, RpcServerBuilder, ServeError},
};

/// Method names.
pub mod method {
    /// `node_info`.
    pub const NODE_INFO: &str = "node_info";
    /// `open_channel`.
    pub const OPEN_CHANNEL: &str = "open_channel";
    /// `pay`.
    pub const PAY: &str = "pay";
    /// `send_message`.
    pub const SEND_MESSAGE: &str = "send_message";
    /// `deposit` (also aa-channels' `deposit`).
    pub const DEPOSIT: &str = "deposit";
    /// `withdraw`.
    pub const WITHDRAW: &str = "withdraw";
    /// `close` (also aa-channels' `close`).
    pub const CLOSE: &str = "close";
    /// `channel_info`.
    pub const CHANNEL_INFO: &str = "channel_info";
    /// `list_channels`.
    pub const LIST_CHANNELS: &str = "list_channels";
    /// `set_auto_refill`.
    pub const SET_AUTO_REFILL: &str = "set_auto_refill";
    /// `set_unconfirmed_credit`.
    pub const SET_UNCONFIRMED_CREDIT: &str = "set_unconfirmed_credit";
    /// `subscribe_events`.
    pub const SUBSCRIBE_EVENTS: &str = "subscribe_events";
    /// The method name of event notifications.
    pub const EVENT_NOTIFICATION: &str = "event";
    /// `unsubscribe_events`.
    pub const UNSUBSCRIBE_EVENTS: &str = "unsubscribe_events";
    /// `create_payment_package`.
    pub const CREATE_PAYMENT_PACKAGE: &str = "create_payment_package";
    /// `verify_payment_package`.
    pub const VERIFY_PAYMENT_PACKAGE: &str = "verify_payment_package";
    /// `cancel_payment_package`: the payer takes back its latest package, which the payee
    /// refused.
    pub const CANCEL_PAYMENT_PACKAGE: &str = "cancel_payment_package";
    /// `add_contact`.
    pub const ADD_CONTACT: &str = "add_contact";
    /// `get_contact`.
    pub const GET_CONTACT: &str = "get_contact";
    /// `list_contacts`.
    pub const LIST_CONTACTS: &str = "list_contacts";
    /// `remove_contact`.
    pub const REMOVE_CONTACT: &str = "remove_contact";
    /// `subscribe_payments`: become the remote payment handler.
    pub const SUBSCRIBE_PAYMENTS: &str = "subscribe_payments";
    /// The method name of payment notifications to the remote handler.
    pub const PAYMENT_NOTIFICATION: &str = "payment_request";
    /// `unsubscribe_payments`.
    pub const UNSUBSCRIBE_PAYMENTS: &str = "unsubscribe_payments";
    /// `answer_payment`: the remote handler's answer.
    pub const ANSWER_PAYMENT: &str = "answer_payment";
    /// `create_token`: mint a scoped token.
    pub const CREATE_TOKEN: &str = "create_token";
    /// `list_tokens`: the scoped tokens.
    pub const LIST_TOKENS: &str = "list_tokens";
    /// `revoke_token`: revoke a scoped token.
    pub const REVOKE_TOKEN: &str = "revoke_token";
    /// `list_proposals`: channel proposals waiting for a decision.
    pub const LIST_PROPOSALS: &str = "list_proposals";
    /// `accept_proposal`.
    pub const ACCEPT_PROPOSAL: &str = "accept_proposal";
    /// `reject_proposal`.
    pub const REJECT_PROPOSAL: &str = "reject_proposal";
    /// `subscribe_proposals`: channel proposals as they arrive.
    pub const SUBSCRIBE_PROPOSALS: &str = "subscribe_proposals";
    /// The method name of proposal notifications.
    pub const PROPOSAL_NOTIFICATION: &str = "proposal";
    /// `unsubscribe_proposals`.
    pub const UNSUBSCRIBE_PROPOSALS: &str = "unsubscribe_proposals";

    /// The aa-channels-lib names.
    pub mod aa {
        /// `createNewChannel [peer, initial_amount, options?]`.
        pub const CREATE_NEW_CHANNEL: &str = "createNewChannel";
        /// `sendMessageAndPay [aa_address, message_to_peer, amount]`.
        pub const SEND_MESSAGE_AND_PAY: &str = "sendMessageAndPay";
        /// `setAutoRefill [aa_address, auto_refill_amount, auto_refill_threshold]`.
        pub const SET_AUTO_REFILL: &str = "setAutoRefill";
        /// `getBalancesAndStatus [aa_address]`.
        pub const GET_BALANCES_AND_STATUS: &str = "getBalancesAndStatus";
        /// `getChannelsForPeer [peer, asset?]`.
        pub const GET_CHANNELS_FOR_PEER: &str = "getChannelsForPeer";
        /// `createPaymentPackage [aa_address, amount, message?]`.
        pub const CREATE_PAYMENT_PACKAGE: &str = "createPaymentPackage";
        /// `verifyPaymentPackage [package]`.
        pub const VERIFY_PAYMENT_PACKAGE: &str = "verifyPaymentPackage";
    }

    /// Every method the server answers (subscriptions included), for documentation checks.
    pub const ALL: &[&str] = &[
        NODE_INFO,
        OPEN_CHANNEL,
        PAY,
        SEND_MESSAGE,
        DEPOSIT,
        WITHDRAW,
        CLOSE,
        CHANNEL_INFO,
        LIST_CHANNELS,
        SET_AUTO_REFILL,
        SET_UNCONFIRMED_CREDIT,
        CREATE_PAYMENT_PACKAGE,
        VERIFY_PAYMENT_PACKAGE,
        CANCEL_PAYMENT_PACKAGE,
        ADD_CONTACT,
        GET_CONTACT,
        LIST_CONTACTS,
        REMOVE_CONTACT,
        SUBSCRIBE_EVENTS,
        UNSUBSCRIBE_EVENTS,
        SUBSCRIBE_PAYMENTS,
        UNSUBSCRIBE_PAYMENTS,
        ANSWER_PAYMENT,
        CREATE_TOKEN,
        LIST_TOKENS,
        REVOKE_TOKEN,
        LIST_PROPOSALS,
        ACCEPT_PROPOSAL,
        REJECT_PROPOSAL,
        SUBSCRIBE_PROPOSALS,
        UNSUBSCRIBE_PROPOSALS,
        aa::CREATE_NEW_CHANNEL,
        aa::SEND_MESSAGE_AND_PAY,
        aa::SET_AUTO_REFILL,
        aa::GET_BALANCES_AND_STATUS,
        aa::GET_CHANNELS_FOR_PEER,
        aa::CREATE_PAYMENT_PACKAGE,
        aa::VERIFY_PAYMENT_PACKAGE,
    ];
}
