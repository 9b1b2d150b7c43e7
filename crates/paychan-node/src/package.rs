//! Payment packages at the node: creating one (the payer counts it paid), taking a refused
//! one back, and verifying one paid to us. The format and the checks that need only the
//! package are the protocol core's ([`paychan_core::manager::package`]); what needs the
//! channel's state is the manager's ([`Manager::check_voucher`](paychan_core::manager::Manager::check_voucher)); this module adds the
//! ledger (a channel new to us is learnt from it, under our channel policy) and the store: a
//! verified package's voucher and payment are recorded in one commit. Concurrent
//! verifications of one channel are serialized, so a package is never counted twice.

pub use paychan_core::manager::package::{
    Claim, MAX_PACKAGE_LEN, PACKAGE_VERSION, PackageChannel, PackageLedger, PackageRejection,
    PackageVoucher, PaymentPackage, VerifiedPayment,
};
use std::time::Instant;

use paychan_core::{Amount, B256, ChannelId, eip712::memo_of};

use crate::{Node, NodeError, node::encode_message};

impl Node {
    /// Pays `amount` on channel `id` by a package instead of over the peer connection
    /// (aa-channels' `createPaymentPackage`). The voucher is counted as paid from now on:
    /// whoever holds the package can redeem it with the payee.
    pub async fn create_payment_package(
        &self,
        id: ChannelId,
        amount: Amount,
        message: Option<&serde_json::Value>,
    ) -> Result<PaymentPackage, NodeError> {
        let memo = match message {
            Some(message) => memo_of(&encode_message(message)?),
            None => B256::ZERO,
        };
        let slot = self.slot(&id)?;
        let _in_flight = slot.paying.lock().await;
        let started = Instant::now();
        let (voucher, params) = self.sign_outgoing(&slot, amount, memo).await?;
        let metrics = self.metrics();
        metrics.sent(amount);
        metrics.send_latency.observe(started.elapsed());
        Ok(PaymentPackage::new(
            &self.domain(),
            &params,
            &voucher,
            message.cloned(),
        ))
    }

    /// Takes back our latest package on channel `id` after the payee refused it without
    /// recording it (an HTTP paywall answering 402 to it, say): the counter returns to where
    /// it was, so the next package does not pay for the refused one. Only the latest package
    /// of the channel can be taken back; anything else is refused
    /// ([`CommandError::NothingPending`](paychan_core::channel::CommandError)) and changes
    /// nothing. A payee that lied and kept it can still redeem it, so a refused package costs
    /// at most its own amount.
    pub async fn cancel_payment_package(&self, package: &PaymentPackage) -> Result<(), NodeError> {
        let voucher = package.signed_voucher()?;
        let slot = self.slot(&voucher.voucher.channel_id)?;
        let _in_flight = slot.paying.lock().await;
        let amount = self.take_back(&slot, &voucher).await?;
        self.metrics().taken_back(amount);
        Ok(())
    }

    /// Verifies a package paid to this node and records it (aa-channels'
    /// `verifyPaymentPackage`); see the [module docs](self) for every check. A refused
    /// package changes nothing.
    pub async fn verify_payment_package(
        &self,
        package: &PaymentPackage,
    ) -> Result<VerifiedPayment, NodeError> {
        self.verify_payment_package_min(package, 0).await
    }

    /// Checks a package as [`verify_payment_package_min`](Self::verify_payment_package_min)
    /// does, without recording it: what it would pay, or why it would be refused. A channel
    /// new to us is still learnt from the ledger (that is no payment). The verification that
    /// records it may still refuse it (another package recorded on the channel meanwhile):
    /// an HTTP paywall checks, serves the call, and records the package only if the call was
    /// served (`paychan-http`).
    pub async fn check_payment_package_min(
        &self,
        package: &PaymentPackage,
        min_amount: Amount,
    ) -> Result<VerifiedPayment, NodeError> {
        let checked = self.check_package(package, min_amount).await;
        if let Err(e) = &checked {
            self.metrics().package_refused(e);
        }
        checked
    }

    async fn check_package(
        &self,
        package: &PaymentPackage,
        min_amount: Amount,
    ) -> Result<VerifiedPayment, NodeError> {
        let refuse = NodeError::PackageRefused;
        let Claim { params, voucher } = package.claim(&self.domain(), self.address())?;
        let v = &voucher.voucher;
        let slot = self.learn_channel(params).await?;
        let probe = self
            .probe_voucher(&slot, &voucher, v.memo)
            .await
            .map_err(|e| refuse(PackageRejection::Voucher(e)))?;
        let amount = probe.amount();
        if amount < min_amount {
            return Err(refuse(PackageRejection::Underpaid {
                amount,
                min: min_amount,
            }));
        }
        Ok(VerifiedPayment {
            channel_id: v.channel_id,
            payer: v.payer,
            amount,
            cumulative: v.cumulative,
            remaining: probe.remaining(),
            memo: v.memo,
            message: package.message.clone(),
        })
    }

    /// [`verify_payment_package`](Self::verify_payment_package), refusing a package that
    /// pays less than `min_amount` (the price of the call it pays for) without recording it:
    /// an underpaid package takes nothing from the payer.
    pub async fn verify_payment_package_min(
        &self,
        package: &PaymentPackage,
        min_amount: Amount,
    ) -> Result<VerifiedPayment, NodeError> {
        let started = Instant::now();
        let verified = self.verify_package(package, min_amount).await;
        let metrics = self.metrics();
        match &verified {
            Ok(_) => metrics.receive_latency.observe(started.elapsed()),
            Err(e) => metrics.package_refused(e),
        }
        verified
    }

    async fn verify_package(
        &self,
        package: &PaymentPackage,
        min_amount: Amount,
    ) -> Result<VerifiedPayment, NodeError> {
        let refuse = NodeError::PackageRefused;
        let Claim { params, voucher } = package.claim(&self.domain(), self.address())?;
        let v = &voucher.voucher;
        let slot = self.learn_channel(params).await?;
        let probe = self
            .probe_voucher(&slot, &voucher, v.memo)
            .await
            .map_err(|e| refuse(PackageRejection::Voucher(e)))?;
        if probe.amount() < min_amount {
            return Err(refuse(PackageRejection::Underpaid {
                amount: probe.amount(),
                min: min_amount,
            }));
        }
        // Reported with the payment only if someone listens.
        let message = self
            .has_subscribers()
            .then(|| package.message.clone().unwrap_or(serde_json::Value::Null));
        let (amount, remaining) = self
            .keep_voucher(&slot, &voucher, v.memo, message, probe, min_amount)
            .await
            .map_err(|e| match e {
                NodeError::Voucher(why) => refuse(PackageRejection::Voucher(why)),
                other => other,
            })?;
        Ok(VerifiedPayment {
            channel_id: v.channel_id,
            payer: v.payer,
            amount,
            cumulative: v.cumulative,
            remaining,
            memo: v.memo,
            message: package.message.clone(),
        })
    }
}
