//! Payment packages (see `paychan_node::package`): `create_payment_package {channel_id,
//! amount, message?}` signs a payment that travels outside the peer connection and answers
//! `{package, compact}`; `verify_payment_package {package, min_amount?}` (the JSON object,
//! its text, or the compact base64url form) checks and records one paid to this node and
//! answers what it paid; one paying less than `min_amount` (the price of what it pays for) is
//! refused and not recorded; with `dry_run: true` it is only checked (what it would pay),
//! never recorded. `cancel_payment_package {package}` is the payer's side of a
//! refusal: it takes back its latest package on the channel, which the payee refused without
//! recording it, so that the next package does not pay for it too; it answers the channel. The
//! aa-channels names take positional params: `createPaymentPackage [aa_address, amount,
//! message?]` and `verifyPaymentPackage [package]`.

use std::sync::Arc;

use jsonrpsee::types::Params;
use paychan_core::ChannelId;
use paychan_node::PaymentPackage;
use serde::Deserialize;

use super::Context;
use crate::{
    aa_params::AaCall,
    error::RpcError,
    params::{AmountParam, parse},
    types::{ChannelView, CreatedPackage, VerifiedPaymentView},
};

/// The params of `create_payment_package`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Create {
    pub(crate) channel_id: ChannelId,
    pub(crate) amount: AmountParam,
    #[serde(default)]
    pub(crate) message: Option<serde_json::Value>,
}

/// The params of `cancel_payment_package`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Cancel {
    pub(crate) package: serde_json::Value,
}

/// The params of `verify_payment_package`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Verify {
    pub(crate) package: serde_json::Value,
    #[serde(default)]
    pub(crate) min_amount: AmountParam,
    #[serde(default)]
    pub(crate) dry_run: bool,
}

pub(crate) async fn create_package(
    ctx: &Context,
    id: ChannelId,
    amount: AmountParam,
    message: Option<serde_json::Value>,
) -> Result<CreatedPackage, RpcError> {
    let amount = amount.positive("amount")?;
    let package = ctx
        .node
        .create_payment_package(id, amount, message.as_ref())
        .await?;
    Ok(CreatedPackage {
        compact: package.to_compact(),
        package,
    })
}

/// The package param: an object, or a string holding JSON or the compact form.
fn package_of(value: serde_json::Value) -> Result<PaymentPackage, RpcError> {
    let parsed = match value {
        serde_json::Value::String(text) => PaymentPackage::parse(&text),
        object @ serde_json::Value::Object(_) => PaymentPackage::parse(&object.to_string()),
        other => {
            return Err(RpcError::invalid_params(format!(
                "package must be an object or a string, not {other}"
            )));
        }
    };
    Ok(parsed.map_err(paychan_node::NodeError::from)?)
}

pub(crate) async fn verify_package(
    ctx: &Context,
    package: serde_json::Value,
    min_amount: AmountParam,
    dry_run: bool,
) -> Result<VerifiedPaymentView, RpcError> {
    let package = package_of(package)?;
    if dry_run {
        let checked = ctx
            .node
            .check_payment_package_min(&package, min_amount.0)
            .await?;
        return Ok(VerifiedPaymentView::from(&checked));
    }
    let verified = ctx
        .node
        .verify_payment_package_min(&package, min_amount.0)
        .await?;
    tracing::info!(channel = %verified.channel_id, amount = verified.amount, "payment package accepted");
    Ok(VerifiedPaymentView::from(&verified))
}

/// What `create_payment_package` pays, for a `pay` token's limit.
pub(crate) fn create_amount(params: &Params<'_>) -> Result<paychan_core::Amount, RpcError> {
    let p: Create = parse(params)?;
    p.amount.positive("amount")
}

/// What `createPaymentPackage` pays, for a `pay` token's limit.
pub(crate) fn aa_create_amount(params: &Params<'_>) -> Result<paychan_core::Amount, RpcError> {
    match super::aa::call(crate::method::aa::CREATE_PAYMENT_PACKAGE, params)? {
        AaCall::CreatePaymentPackage { amount, .. } => AmountParam(amount).positive("amount"),
        _ => Err(RpcError::invalid_params("not createPaymentPackage")),
    }
}

pub(crate) async fn create(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<CreatedPackage, RpcError> {
    let p: Create = parse(&params)?;
    create_package(&ctx, p.channel_id, p.amount, p.message).await
}

pub(crate) async fn verify(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<VerifiedPaymentView, RpcError> {
    let p: Verify = parse(&params)?;
    verify_package(&ctx, p.package, p.min_amount, p.dry_run).await
}

pub(crate) async fn cancel(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<ChannelView, RpcError> {
    run_cancel(&ctx, parse(&params)?).await
}

/// Takes back the payer's latest package of the channel; answers the channel.
pub(crate) async fn run_cancel(ctx: &Context, p: Cancel) -> Result<ChannelView, RpcError> {
    let package = package_of(p.package)?;
    ctx.node.cancel_payment_package(&package).await?;
    let id = package.voucher.channel_id;
    tracing::info!(channel = %id, sequence = package.voucher.sequence, "payment package taken back");
    ctx.view(id).await
}

pub(crate) async fn aa_create(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<CreatedPackage, RpcError> {
    let AaCall::CreatePaymentPackage {
        aa_address,
        amount,
        message,
    } = super::aa::call(crate::method::aa::CREATE_PAYMENT_PACKAGE, &params)?
    else {
        return Err(RpcError::invalid_params("not createPaymentPackage"));
    };
    create_package(&ctx, aa_address, AmountParam(amount), message).await
}

pub(crate) async fn aa_verify(
    ctx: Arc<Context>,
    params: Params<'static>,
) -> Result<VerifiedPaymentView, RpcError> {
    let AaCall::VerifyPaymentPackage { package } =
        super::aa::call(crate::method::aa::VERIFY_PAYMENT_PACKAGE, &params)?
    else {
        return Err(RpcError::invalid_params("not verifyPaymentPackage"));
    };
    verify_package(&ctx, package, AmountParam::default(), false).await
}
