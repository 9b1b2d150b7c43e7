//! Between the gRPC messages and the service layer: requests into the typed params of
//! [`crate::api`] (refused as invalid params exactly where the JSON-RPC parser refuses),
//! answers into messages, and [`RpcError`]s into gRPC statuses.

use std::str::FromStr;

use paychan_core::ChannelId;
use tonic::{
    Code, Status,
    metadata::{MetadataMap, MetadataValue},
};

use super::pb;
use crate::{
    api::{
        channel_info::ChannelInfo, close::Close, contacts, deposit::Deposit,
        list_channels::ListChannels, open_channel::OpenChannel, packages, pay::Pay,
        payment_handler, proposals, send_message::SendMessage, set_auto_refill::SetAutoRefill,
        tokens as api_tokens, unconfirmed_credit, withdraw::Withdraw,
    },
    error::{self, RpcError},
    params::{AmountParam, parse_amount},
    remote::PaymentRequest,
    tokens::{Scope, TokenInfo},
    types::{
        ChannelView, CloseResult, ContactView, CreatedPackage, CreatedToken, NodeInfo, PayResult,
        ProposalView, VerifiedPaymentView,
    },
};

/// The gRPC code of paychan code `code` (see docs/API.md, "gRPC"): the paychan code itself
/// travels in the metadata.
pub(crate) fn code_of(code: u16) -> Code {
    match code {
        error::INVALID_PARAMS | 1004 | 1007 | 1009 | error::BAD_PEER_ADDRESS => {
            Code::InvalidArgument
        }
        1001 | 1006 | error::UNKNOWN_REQUEST | error::UNKNOWN_TOKEN | error::UNKNOWN_PROPOSAL => {
            Code::NotFound
        }
        1008 | error::HANDLER_REGISTERED => Code::AlreadyExists,
        error::SCOPE_DENIED => Code::PermissionDenied,
        error::PAY_LIMIT_EXCEEDED => Code::ResourceExhausted,
        error::NETWORKING_DISABLED
        | error::HANDLER_NOT_ENABLED
        | error::TOKENS_DISABLED
        | error::DECISIONS_NOT_ENABLED => Code::Unimplemented,
        2001 | error::DIAL_FAILED | 4001 | 4003 | 4004 => Code::Unavailable,
        2002 => Code::DeadlineExceeded,
        2003 => Code::Aborted,
        // The peer's answer is unknown: the payment may have been made.
        2004 => Code::Unknown,
        4002 => Code::Internal,
        // The other client errors (balance, phase, ledger funds) and the protocol's refusals:
        // the request is well formed but the state does not allow it.
        _ => Code::FailedPrecondition,
    }
}

/// The status of a failed call: the gRPC code of its paychan code, its message, and the
/// metadata `paychan-code`, `paychan-category` and (for a refusal by a rule) `paychan-reason`.
pub(crate) fn status(error: &RpcError) -> Status {
    let (code, category) = error.code();
    let message = match error {
        RpcError::Node(e) => e.to_string(),
        RpcError::InvalidParams(m) => m.clone(),
        RpcError::Api { message, .. } => message.clone(),
    };
    let mut metadata = MetadataMap::new();
    metadata.insert("paychan-code", MetadataValue::from(code));
    let category = serde_json::to_value(category)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    if let Ok(value) = MetadataValue::try_from(category.as_str()) {
        metadata.insert("paychan-category", value);
    }
    if let RpcError::Node(e) = error
        && let Some(reason) = e.reason()
        && let Ok(value) = MetadataValue::try_from(reason)
    {
        metadata.insert("paychan-reason", value);
    }
    Status::with_metadata(code_of(code), message, metadata)
}

/// A value as the JSON API writes it, when that is a string (addresses, ids, roles).
fn text<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

fn channel_id(given: &str) -> Result<ChannelId, RpcError> {
    ChannelId::from_str(given).map_err(|_| {
        RpcError::invalid_params(format!(
            "channel_id {given:?} is not a channel id (0x and 64 hex digits)"
        ))
    })
}

fn amount(given: &str, what: &str) -> Result<AmountParam, RpcError> {
    parse_amount(given)
        .map(AmountParam)
        .map_err(|e| RpcError::invalid_params(format!("{what}: {e}")))
}

fn optional_amount(given: Option<&str>, what: &str) -> Result<Option<AmountParam>, RpcError> {
    given.map(|t| amount(t, what)).transpose()
}

/// A message as JSON text; empty is JSON null.
fn json(given: &str, what: &str) -> Result<serde_json::Value, RpcError> {
    if given.trim().is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_str(given)
        .map_err(|e| RpcError::invalid_params(format!("{what} is not JSON text: {e}")))
}

pub(crate) fn open_channel(r: pb::OpenChannelRequest) -> Result<OpenChannel, RpcError> {
    Ok(OpenChannel {
        peer: r.peer,
        deposit: amount(&r.deposit, "deposit")?,
        peer_url: r.peer_url,
        propose: r.propose.unwrap_or(true),
    })
}

pub(crate) fn pay(r: pb::PayRequest) -> Result<Pay, RpcError> {
    Ok(Pay {
        channel_id: channel_id(&r.channel_id)?,
        amount: amount(&r.amount, "amount")?,
        message: json(&r.message_json, "message_json")?,
    })
}

pub(crate) fn send_message(r: pb::SendMessageRequest) -> Result<SendMessage, RpcError> {
    Ok(SendMessage {
        channel_id: channel_id(&r.channel_id)?,
        message: json(&r.message_json, "message_json")?,
    })
}

pub(crate) fn deposit(r: pb::DepositRequest) -> Result<Deposit, RpcError> {
    Ok(Deposit {
        channel_id: channel_id(&r.channel_id)?,
        amount: amount(&r.amount, "amount")?,
    })
}

pub(crate) fn withdraw(r: pb::WithdrawRequest) -> Result<Withdraw, RpcError> {
    Ok(Withdraw {
        channel_id: channel_id(&r.channel_id)?,
        amount: amount(&r.amount, "amount")?,
    })
}

pub(crate) fn close(r: pb::CloseRequest) -> Result<Close, RpcError> {
    Ok(Close {
        channel_id: channel_id(&r.channel_id)?,
        force: r.force,
    })
}

pub(crate) fn channel_info(r: pb::ChannelInfoRequest) -> Result<ChannelInfo, RpcError> {
    Ok(ChannelInfo {
        channel_id: channel_id(&r.channel_id)?,
    })
}

pub(crate) fn list_channels(r: pb::ListChannelsRequest) -> ListChannels {
    ListChannels { peer: r.peer }
}

pub(crate) fn set_auto_refill(r: pb::SetAutoRefillRequest) -> Result<SetAutoRefill, RpcError> {
    Ok(SetAutoRefill {
        channel_id: channel_id(&r.channel_id)?,
        threshold: optional_amount(r.threshold.as_deref(), "threshold")?,
        amount: optional_amount(r.amount.as_deref(), "amount")?,
    })
}

pub(crate) fn add_contact(r: pb::AddContactRequest) -> contacts::AddContact {
    contacts::AddContact {
        alias: r.alias,
        peer: r.peer,
        replace: r.replace,
    }
}

pub(crate) fn alias(alias: String) -> contacts::Alias {
    contacts::Alias { alias }
}

pub(crate) fn node_info(i: NodeInfo) -> pb::NodeInfoResponse {
    pb::NodeInfoResponse {
        address: text(&i.address),
        ledger: Some(pb::LedgerInfo {
            chain_id: i.ledger.chain_id,
            verifying_contract: text(&i.ledger.verifying_contract),
        }),
        rpc_version: i.rpc_version,
        node_version: i.node_version,
        listen: i.listen,
        balance: i.balance,
        ledger_time: i.ledger_time,
        unclaimed: i.unclaimed,
        connected_peers: i.connected_peers,
        channels: Some(pb::ChannelTotals {
            total: i.channels.total,
            open: i.channels.open,
            opening: i.channels.opening,
            closing: i.channels.closing,
            my_available: i.channels.my_available,
            peer_available: i.channels.peer_available,
        }),
        pending_transactions: i
            .pending_transactions
            .into_iter()
            .map(|t| pb::PendingTransaction {
                hash: text(&t.hash),
                action: t.action,
                block: t.block,
                confirmations: t.confirmations,
                required: t.required,
            })
            .collect(),
    }
}

pub(crate) fn channel(c: ChannelView) -> pb::Channel {
    let b = c.balances;
    pb::Channel {
        channel_id: text(&c.channel_id),
        peer: text(&c.peer),
        role: text(&c.role),
        status: c.status,
        balances: Some(pb::Balances {
            my_available: b.my_available,
            peer_available: b.peer_available,
            paid_by_me: b.paid_by_me,
            paid_by_peer: b.paid_by_peer,
            my_deposit: b.my_deposit,
            peer_deposit: b.peer_deposit,
            my_pending_deposit: b.my_pending_deposit,
        }),
        expected_payouts: c.expected_payouts.map(|p| pb::Payouts {
            mine: p.mine,
            peer: p.peer,
        }),
        deadline: c.deadline,
        auto_refill: c.auto_refill.map(|r| pb::AutoRefill {
            threshold: r.threshold,
            amount: r.amount,
        }),
        unclaimed: c.unclaimed,
    }
}

pub(crate) fn pay_result(r: PayResult) -> pb::PayResponse {
    pb::PayResponse {
        response_json: r.response.to_string(),
    }
}

pub(crate) fn close_result(r: CloseResult) -> pb::CloseResponse {
    pb::CloseResponse {
        cooperative: r.cooperative,
        channel: Some(channel(r.channel)),
    }
}

pub(crate) fn contact(c: ContactView) -> pb::Contact {
    pb::Contact {
        alias: c.alias,
        address: text(&c.address),
        peer_url: c.peer_url,
    }
}

/// An event as its JSON object (the JSON-RPC notification's `result`).
pub(crate) fn event(value: serde_json::Value) -> pb::Event {
    pb::Event {
        event: value
            .get("event")
            .and_then(|e| e.as_str())
            .unwrap_or_default()
            .to_owned(),
        channel_id: value
            .get("channel_id")
            .and_then(|c| c.as_str())
            .map(str::to_owned),
        json: value.to_string(),
    }
}

pub(crate) fn unconfirmed_credit(
    r: pb::SetUnconfirmedCreditRequest,
) -> Result<unconfirmed_credit::SetUnconfirmedCredit, RpcError> {
    Ok(unconfirmed_credit::SetUnconfirmedCredit {
        per_channel: optional_amount(r.per_channel.as_deref(), "per_channel")?,
        total: optional_amount(r.total.as_deref(), "total")?,
        min_wait: r.min_wait,
    })
}

pub(crate) fn unconfirmed_credit_view(
    v: unconfirmed_credit::UnconfirmedCreditView,
) -> pb::UnconfirmedCredit {
    pb::UnconfirmedCredit {
        per_channel: v.per_channel,
        total: v.total,
        min_wait: v.min_wait,
    }
}

pub(crate) fn create_package(
    r: pb::CreatePaymentPackageRequest,
) -> Result<packages::Create, RpcError> {
    let message = match r.message_json.as_deref() {
        None => None,
        Some(text) if text.trim().is_empty() => None,
        Some(text) => Some(json(text, "message_json")?),
    };
    Ok(packages::Create {
        channel_id: channel_id(&r.channel_id)?,
        amount: amount(&r.amount, "amount")?,
        message,
    })
}

pub(crate) fn created_package(c: CreatedPackage) -> pb::CreatedPackage {
    pb::CreatedPackage {
        package_json: serde_json::to_string(&c.package).unwrap_or_default(),
        compact: c.compact,
    }
}

pub(crate) fn verify_package(
    r: pb::VerifyPaymentPackageRequest,
) -> Result<packages::Verify, RpcError> {
    Ok(packages::Verify {
        package: serde_json::Value::String(r.package),
        min_amount: optional_amount(r.min_amount.as_deref(), "min_amount")?.unwrap_or_default(),
        dry_run: r.dry_run,
    })
}

pub(crate) fn verified(v: VerifiedPaymentView) -> pb::VerifiedPayment {
    pb::VerifiedPayment {
        channel_id: text(&v.channel_id),
        payer: text(&v.payer),
        amount: v.amount,
        cumulative: v.cumulative,
        remaining: v.remaining,
        memo: text(&v.memo),
        message_json: v.message.map(|m| m.to_string()),
    }
}

pub(crate) fn cancel_package(r: pb::CancelPaymentPackageRequest) -> packages::Cancel {
    packages::Cancel {
        package: serde_json::Value::String(r.package),
    }
}

pub(crate) fn create_token(r: pb::CreateTokenRequest) -> Result<api_tokens::Create, RpcError> {
    let scopes = r
        .scopes
        .iter()
        .map(|s| Scope::from_str(s).map_err(RpcError::invalid_params))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(api_tokens::Create {
        scopes,
        limit: optional_amount(r.limit.as_deref(), "limit")?,
        period: r.period,
        label: r.label,
    })
}

pub(crate) fn token_info(i: TokenInfo) -> pb::TokenInfo {
    pb::TokenInfo {
        id: i.id,
        scopes: i.scopes.iter().map(|s| s.name().to_owned()).collect(),
        limit: i.limit,
        period: i.period,
        spent: i.spent,
        period_ends: i.period_ends,
        label: i.label,
        created: i.created,
        revoked: i.revoked,
    }
}

pub(crate) fn created_token(c: CreatedToken) -> pb::CreatedToken {
    pb::CreatedToken {
        token: c.token,
        info: Some(token_info(c.info)),
    }
}

pub(crate) fn accept(r: pb::AcceptProposalRequest) -> Result<proposals::Accept, RpcError> {
    Ok(proposals::Accept {
        channel_id: channel_id(&r.channel_id)?,
    })
}

pub(crate) fn reject(r: pb::RejectProposalRequest) -> Result<proposals::Reject, RpcError> {
    Ok(proposals::Reject {
        channel_id: channel_id(&r.channel_id)?,
        reason: r.reason,
    })
}

pub(crate) fn proposal(p: &ProposalView) -> pb::Proposal {
    pb::Proposal {
        channel_id: text(&p.channel_id),
        peer: text(&p.peer),
        deposit: p.deposit.clone(),
        token: text(&p.token),
        challenge_period: p.challenge_period,
        received_at_ms: p.received_at_ms,
        expires_at_ms: p.expires_at_ms,
    }
}

pub(crate) fn payment_request(r: &PaymentRequest) -> pb::PaymentRequest {
    pb::PaymentRequest {
        request_id: r.request_id,
        channel_id: text(&r.channel_id),
        peer: text(&r.peer),
        amount: r.amount.clone(),
        message_json: r.message.to_string(),
        expires_at_ms: r.expires_at_ms,
    }
}

pub(crate) fn payment_answer(
    a: pb::PaymentAnswer,
) -> Result<payment_handler::AnswerPayment, RpcError> {
    let (response, error) = match a.outcome {
        Some(pb::payment_answer::Outcome::ResponseJson(text)) => {
            (Some(json(&text, "response_json")?), None)
        }
        Some(pb::payment_answer::Outcome::Error(error)) => (None, Some(error)),
        None => (None, None),
    };
    Ok(payment_handler::AnswerPayment {
        request_id: a.request_id,
        response,
        error,
    })
}
