//! The calls of the compatibility listener: aa-channels-lib's functions with their positional
//! params and their results as rpcify answered them (the callback's values after the error).
//!
//! | method | params | result |
//! |---|---|---|
//! | `createNewChannel` | `[peer, initial_amount, options?]` | `aa_address` |
//! | `setAutoRefill` | `[aa_address, auto_refill_amount, auto_refill_threshold]` | `[]` |
//! | `deposit` | `[aa_address, amount]` | the ledger's transaction id (`0x` and 64 hex digits), `null` if it gave none |
//! | `sendMessageAndPay` | `[aa_address, message_to_peer, amount]` | the peer's response |
//! | `close` | `[aa_address]` | `[]` (auto-refill is turned off first, as aa-channels does) |
//! | `getBalancesAndStatus` | `[aa_address]` | `{status, amount_deposited_by_me, amount_deposited_by_peer, amount_spent_by_me, amount_spent_by_peer, free_amount, my_deposits}` |
//! | `createPaymentPackage` | `[payment_amount, aa_address, message?]` | the package object |
//! | `verifyPaymentPackage` | `[objSignedPackage]` | `[payment_amount, "base", aa_address]` |
//! | `getChannelsForPeer` | `[peer, asset?]` | `[aa_address...]` (none: an error, as in aa-channels) |
//! | `sweep` | `[aa_address]` | always refused: a settled channel id is never reused |
//! | `setMaxUnconfirmedByAsset` | `[asset, amount]` | `[]`: the total credit ahead of unconfirmed deposits |
//! | `setMaxUnconfirmedByAssetAndChannel` | `[asset, amount]` | `[]`: the same per channel |
//! | `setMinimumTimeToWaitForUnconfirmedPaymentByAsset` | `[asset, time]` | `[]`: seconds an unconfirmed deposit must have been seen before it backs credit |
//!
//! The three setters last until the node restarts (then `policy.unconfirmed_*` apply again);
//! credit is given only while both amounts are positive, as with the configuration.
//!
//! `aa_address` is the channel id. Amounts are JSON numbers up to 2^53 - 1 (what JavaScript
//! reads exactly) and decimal strings beyond; both are accepted. `status` is aa-channels':
//! `open`, `closing_initiated_by_me`, `closing_initiated_by_peer` or `closed` (also while the
//! channel is being opened, as aa-channels reports a channel its AA has not confirmed yet, with
//! the deposit in `my_deposits`). The only asset is the native one (`"base"`).

use std::sync::Arc;

use jsonrpsee::types::Params;
use paychan_core::ChannelId;
use paychan_node::ChannelInfo;
use serde_json::{Value, json};

use super::events::{BASE, amount};
use crate::{
    api::{Context, aa, packages},
    error::RpcError,
    method,
    params::{AmountParam, at_most, element},
};

/// `sweep`.
const SWEEP: &str = "sweep";
/// `setMaxUnconfirmedByAsset [asset, amount]`.
pub(crate) const SET_MAX_UNCONFIRMED_BY_ASSET: &str = "setMaxUnconfirmedByAsset";
/// `setMaxUnconfirmedByAssetAndChannel [asset, amount]`.
pub(crate) const SET_MAX_UNCONFIRMED_BY_ASSET_AND_CHANNEL: &str =
    "setMaxUnconfirmedByAssetAndChannel";
/// `setMinimumTimeToWaitForUnconfirmedPaymentByAsset [asset, time]`.
pub(crate) const SET_MINIMUM_TIME_TO_WAIT: &str =
    "setMinimumTimeToWaitForUnconfirmedPaymentByAsset";

/// Every method the listener answers.
pub const METHODS: &[&str] = &[
    method::aa::CREATE_NEW_CHANNEL,
    method::aa::SET_AUTO_REFILL,
    method::DEPOSIT,
    method::aa::SEND_MESSAGE_AND_PAY,
    method::CLOSE,
    method::aa::GET_BALANCES_AND_STATUS,
    method::aa::CREATE_PAYMENT_PACKAGE,
    method::aa::VERIFY_PAYMENT_PACKAGE,
    method::aa::GET_CHANNELS_FOR_PEER,
    SWEEP,
    SET_MAX_UNCONFIRMED_BY_ASSET,
    SET_MAX_UNCONFIRMED_BY_ASSET_AND_CHANNEL,
    SET_MINIMUM_TIME_TO_WAIT,
];

/// `values` as the params of a native handler.
fn params(values: &[Value]) -> Params<'static> {
    Params::new(Some(&Value::Array(values.to_vec()).to_string())).into_owned()
}

/// aa-channels' name of a channel's status.
fn aa_status(info: &ChannelInfo) -> &'static str {
    match info.status.as_str() {
        "open" => "open",
        "closing" | "close requested" | "settling" => match info.close_started_by {
            Some(by) if by != info.role => "closing_initiated_by_peer",
            _ => "closing_initiated_by_me",
        },
        // "proposed" (not yet open on the ledger: aa-channels says "closed" until its AA
        // confirms the channel) and "closed".
        _ => "closed",
    }
}

fn balances_and_status(info: &ChannelInfo) -> Value {
    let b = &info.balances;
    json!({
        "status": aa_status(info),
        "amount_deposited_by_me": amount(b.my_deposit),
        "amount_deposited_by_peer": amount(b.peer_deposit),
        "amount_spent_by_me": amount(b.paid_by_me),
        "amount_spent_by_peer": amount(b.paid_by_peer),
        "free_amount": amount(b.my_available),
        "my_deposits": amount(info.pending_deposit),
    })
}

fn refused(message: impl Into<String>) -> RpcError {
    RpcError::invalid_params(message)
}

/// Executes `method` with positional `values`.
pub(crate) async fn call(
    ctx: &Arc<Context>,
    method: &str,
    values: Vec<Value>,
) -> Result<Value, RpcError> {
    let ctx = ctx.clone();
    match method {
        method::aa::CREATE_NEW_CHANNEL => {
            let id = aa::create_new_channel(ctx, params(&values)).await?;
            Ok(json!(id))
        }
        method::aa::SET_AUTO_REFILL => {
            aa::set_auto_refill(ctx, params(&values)).await?;
            Ok(json!([]))
        }
        method::aa::SEND_MESSAGE_AND_PAY => aa::send_message_and_pay(ctx, params(&values)).await,
        method::DEPOSIT => {
            at_most(&values, 2)?;
            let id: ChannelId = element(&values, 0, "aa_address")?;
            let amount = element::<AmountParam>(&values, 1, "amount")?.positive("amount")?;
            ctx.node.channel_info(id).await?;
            ctx.check_funds(amount).await?;
            let transaction = ctx.node.deposit_transaction(id, amount).await?;
            Ok(json!(transaction))
        }
        method::CLOSE => {
            at_most(&values, 1)?;
            let id: ChannelId = element(&values, 0, "aa_address")?;
            ctx.node.set_auto_refill(id, None).await?;
            let cooperative = ctx.node.close(id).await?;
            tracing::info!(channel = %id, cooperative, "close (aa-channels listener)");
            Ok(json!([]))
        }
        method::aa::GET_BALANCES_AND_STATUS => {
            at_most(&values, 1)?;
            let id: ChannelId = element(&values, 0, "aa_address")?;
            Ok(balances_and_status(&ctx.node.channel_info(id).await?))
        }
        method::aa::CREATE_PAYMENT_PACKAGE => {
            at_most(&values, 3)?;
            let amount: AmountParam = element(&values, 0, "payment_amount")?;
            let id: ChannelId = element(&values, 1, "aa_address")?;
            let message: Option<Value> = element(&values, 2, "message")?;
            let created = packages::create_package(&ctx, id, amount, message).await?;
            Ok(serde_json::to_value(&created.package).unwrap_or(Value::Null))
        }
        method::aa::VERIFY_PAYMENT_PACKAGE => {
            at_most(&values, 1)?;
            let package: Value = element(&values, 0, "objSignedPackage")?;
            let verified =
                packages::verify_package(&ctx, package, AmountParam::default(), false).await?;
            let paid = verified.amount.parse::<u128>().unwrap_or_default();
            Ok(json!([amount(paid), BASE, verified.channel_id]))
        }
        method::aa::GET_CHANNELS_FOR_PEER => {
            at_most(&values, 2)?;
            let asset: Option<String> = element(&values, 1, "asset")?;
            aa::native_only("asset", asset.as_deref())?;
            let ids = aa::get_channels_for_peer(ctx, params(&values)).await?;
            if ids.is_empty() {
                return Err(refused(
                    "no channel opened with this peer address for this asset",
                ));
            }
            Ok(json!(ids))
        }
        SET_MAX_UNCONFIRMED_BY_ASSET
        | SET_MAX_UNCONFIRMED_BY_ASSET_AND_CHANNEL
        | SET_MINIMUM_TIME_TO_WAIT => {
            at_most(&values, 2)?;
            let asset: Option<String> = element(&values, 0, "asset")?;
            aa::native_only("asset", asset.as_deref())?;
            let (per_channel, total, min_wait) = match method {
                SET_MAX_UNCONFIRMED_BY_ASSET => (
                    None,
                    Some(element::<AmountParam>(&values, 1, "amount")?.0),
                    None,
                ),
                SET_MAX_UNCONFIRMED_BY_ASSET_AND_CHANNEL => (
                    Some(element::<AmountParam>(&values, 1, "amount")?.0),
                    None,
                    None,
                ),
                _ => (None, None, Some(element::<u64>(&values, 1, "time")?)),
            };
            let (limits, wait) = ctx
                .node
                .set_unconfirmed_credit(per_channel, total, min_wait);
            tracing::info!(
                per_channel = limits.per_channel,
                total = limits.total,
                min_wait = wait,
                "unconfirmed credit changed"
            );
            Ok(json!([]))
        }
        SWEEP => Err(refused(
            "sweep is not supported: paychan never reuses a settled channel (its id is never \
             opened again); close it and open a new one with createNewChannel",
        )),
        other => Err(refused(format!("unknown method {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use paychan_core::{Address, Role, channel::Balances};

    use super::*;

    fn info(status: &str, close_started_by: Option<Role>) -> ChannelInfo {
        ChannelInfo {
            channel_id: ChannelId::default(),
            peer: Address::ZERO,
            role: Role::B,
            status: status.into(),
            balances: Balances {
                my_available: 7,
                peer_available: 0,
                paid_by_me: 3,
                paid_by_peer: 0,
                my_deposit: 10,
                peer_deposit: 0,
            },
            expected_payouts: None,
            deadline: None,
            auto_refill: None,
            unclaimed: 0,
            pending_deposit: 5,
            close_started_by,
        }
    }

    #[test]
    fn statuses_and_balances_have_aa_channels_names() {
        for (status, by, aa) in [
            ("proposed", None, "closed"),
            ("open", None, "open"),
            ("closing", Some(Role::A), "closing_initiated_by_peer"),
            ("closing", Some(Role::B), "closing_initiated_by_me"),
            ("close requested", Some(Role::B), "closing_initiated_by_me"),
            ("settling", None, "closing_initiated_by_me"),
            ("closed", None, "closed"),
        ] {
            assert_eq!(aa_status(&info(status, by)), aa, "{status}");
        }
        assert_eq!(
            balances_and_status(&info("open", None)),
            json!({
                "status": "open",
                "amount_deposited_by_me": 10,
                "amount_deposited_by_peer": 0,
                "amount_spent_by_me": 3,
                "amount_spent_by_peer": 0,
                "free_amount": 7,
                "my_deposits": 5,
            })
        );
    }
}
