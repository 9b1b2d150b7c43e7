//! The node's events as aa-channels' RPC pushed them: `{"event": NAME, "data": [ARGS...]}`,
//! with aa-channels' names and argument orders, to every WebSocket client.
//!
//! | event | data |
//! |---|---|
//! | `aa_channels_ready` | `[]` (the first frame of every connection) |
//! | `channel_created_by_peer` | `[peer_address, aa_address]` |
//! | `payment_received` | `[amount, "base", message, aa_address]` |
//! | `channel_refilled` | `[aa_address, amount]` |
//! | `my_deposit_became_stable` | `[amount, transaction, aa_address]` |
//! | `peer_deposit_became_stable` | `[amount, transaction, aa_address]` |
//! | `refused_deposit` | `[transaction, aa_address, amount, reason]` |
//! | `channel_closed` | `[aa_address, amount_received, transaction]` |
//!
//! `transaction` is the ledger's id of the operation that did it (aa-channels' unit hash):
//! the transaction hash on Ethereum, the operation's number on the embedded ledger (both as
//! `0x` and 64 hex digits); `null` when the node learned it otherwise (from the ledger's
//! record rather than its events) and always for `refused_deposit` (nothing was executed). The arguments after aa-channels' own are paychan's additions; a
//! client reading aa-channels' arguments by position is not disturbed by them. paychan's own
//! events (`channel_opened`, `payment_sent`, `withdrawn`, `close_started`, `proposal_expired`,
//! `payout_deferred`, `claimed`, `error`) are pushed under their names with one argument: the
//! native event object. `channel_closed_with_fraud_proof` never happens (paychan has no fraud
//! proofs).

use paychan_node::NodeEvent;
use serde_json::{Value, json};

/// The first frame of every WebSocket connection: the node is ready.
pub const READY: &str = "aa_channels_ready";

/// The native asset's name in aa-channels' events and answers.
pub(crate) const BASE: &str = "base";

/// An amount as aa-channels wrote it, a JSON number, when JavaScript reads it exactly
/// (up to 2^53 - 1); a decimal string beyond.
pub(crate) fn amount(value: u128) -> Value {
    const MAX_SAFE: u128 = (1 << 53) - 1;
    if value <= MAX_SAFE {
        json!(u64::try_from(value).unwrap_or(u64::MAX))
    } else {
        Value::String(value.to_string())
    }
}

/// [`amount`] of an amount the node wrote as a decimal string.
fn amount_text(text: &str) -> Value {
    text.parse::<u128>()
        .map_or_else(|_| Value::String(text.to_owned()), amount)
}

/// The frame of `event`.
pub(crate) fn frame(event: &NodeEvent) -> Value {
    let (name, data) = match event {
        NodeEvent::ChannelCreatedByPeer {
            channel_id, peer, ..
        } => (
            "channel_created_by_peer",
            vec![json!(peer), json!(channel_id)],
        ),
        NodeEvent::PaymentReceived {
            channel_id,
            amount,
            message,
        } => (
            "payment_received",
            vec![
                amount_text(amount),
                json!(BASE),
                message.clone(),
                json!(channel_id),
            ],
        ),
        NodeEvent::ChannelRefilled { channel_id, amount } => (
            "channel_refilled",
            vec![json!(channel_id), amount_text(amount)],
        ),
        NodeEvent::MyDepositBecameStable {
            channel_id,
            amount,
            transaction,
        } => (
            "my_deposit_became_stable",
            vec![amount_text(amount), json!(transaction), json!(channel_id)],
        ),
        NodeEvent::PeerDepositBecameStable {
            channel_id,
            amount,
            transaction,
        } => (
            "peer_deposit_became_stable",
            vec![amount_text(amount), json!(transaction), json!(channel_id)],
        ),
        NodeEvent::RefusedDeposit {
            channel_id,
            amount,
            reason,
        } => (
            "refused_deposit",
            vec![
                Value::Null,
                json!(channel_id),
                amount_text(amount),
                json!(reason),
            ],
        ),
        NodeEvent::ChannelClosed {
            channel_id,
            amount_received,
            transaction,
        } => (
            "channel_closed",
            vec![
                json!(channel_id),
                amount_text(amount_received),
                json!(transaction),
            ],
        ),
        other => {
            let native = serde_json::to_value(other).unwrap_or(Value::Null);
            let name = native
                .get("event")
                .and_then(Value::as_str)
                .unwrap_or("event")
                .to_owned();
            return json!({ "event": name, "data": [native] });
        }
    };
    json!({ "event": name, "data": data })
}

/// The frame telling a client it missed `lost` events.
pub(crate) fn lagged(lost: u64) -> Value {
    json!({
        "event": "error",
        "data": [{ "message": format!("{lost} events were lost: this client fell too far behind") }],
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use paychan_core::{Address, ChannelId};

    use super::*;

    #[test]
    fn events_have_aa_channels_names_and_argument_orders() {
        let id = ChannelId::default();
        let frame = frame(&NodeEvent::PaymentReceived {
            channel_id: id,
            amount: "10".into(),
            message: json!({"q": 1}),
        });
        assert_eq!(
            frame,
            json!({"event": "payment_received", "data": [10, "base", {"q": 1}, id]})
        );
        let frame = super::frame(&NodeEvent::ChannelCreatedByPeer {
            channel_id: id,
            peer: Address::ZERO,
            transaction: None,
        });
        assert_eq!(frame["data"], json!([Address::ZERO, id]));
        let frame = super::frame(&NodeEvent::CloseStarted {
            channel_id: id,
            by: Address::ZERO,
            deadline: 5,
            transaction: None,
        });
        assert_eq!(frame["event"], "close_started");
        assert_eq!(frame["data"][0]["deadline"], 5);
        assert_eq!(amount(1 << 53), json!("9007199254740992"));
        assert_eq!(amount((1 << 53) - 1), json!(9_007_199_254_740_991_u64));
    }
}
