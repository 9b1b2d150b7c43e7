//! Who checks packages for the paywall: the [`Verifier`] trait, implemented by an in-process
//! [`Node`], by a [`StorePayee`] (a front verifying against a store it shares with other
//! fronts, no node in the process), and by [`RpcVerifier`], a remote node reached over its
//! JSON-RPC API (what `paychan proxy` uses in front of a running `paychan node`).
//!
//! # Requirements
//!
//! A verifier records a package only if it pays at least the minimum, and records each
//! package at most once; [`Verifier::check`] records nothing; it says whether a failure left the package unrecorded
//! ([`VerifyError::Refused`], [`VerifyError::Failed`]) or whether that is unknown
//! ([`VerifyError::Unknown`]), since the payer may take back only an unrecorded package.

use async_trait::async_trait;
use jsonrpsee::{
    core::{ClientError, client::ClientT},
    http_client::HttpClient,
};
use paychan_core::Amount;
use paychan_node::{Category, Node, PaymentPackage, VerifiedPayment, front::StorePayee};
use paychan_rpc::{
    client::Named,
    method,
    types::{NodeInfo, VerifiedPaymentView},
};
use serde_json::json;

use crate::header::Challenge;

/// Why a package was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The package is bad (forged, replayed, underpaid, for another payee…); nothing was
    /// recorded. The payer may take it back.
    #[error("package refused: {0}")]
    Refused(String),
    /// The payee's node failed before recording anything (its ledger or store is down);
    /// the payer may take the package back and retry later.
    #[error("verification failed: {0}")]
    Failed(String),
    /// The payee cannot tell whether the package was recorded (the connection to its node
    /// broke during the call); the payer must count it as paid.
    #[error("verification outcome unknown: {0}")]
    Unknown(String),
}

/// Checks and records payment packages paid to one payee.
#[async_trait]
pub trait Verifier: Send + Sync + 'static {
    /// Verifies `package` and records it if it pays at least `min_amount`.
    async fn verify(
        &self,
        package: &PaymentPackage,
        min_amount: Amount,
    ) -> Result<VerifiedPayment, VerifyError>;

    /// Checks `package` as [`verify`](Self::verify) would, recording nothing: what it would
    /// pay, or why it would be refused. Every error leaves it unrecorded (never
    /// [`VerifyError::Unknown`]). A later `verify` may still refuse it.
    async fn check(
        &self,
        package: &PaymentPackage,
        min_amount: Amount,
    ) -> Result<VerifiedPayment, VerifyError>;
}

/// The error of a node's verification or check: refused for the payer's fault, failed for
/// the node's.
fn node_error(e: &paychan_node::NodeError) -> VerifyError {
    match e.category() {
        Category::Client | Category::Protocol => VerifyError::Refused(e.to_string()),
        _ => VerifyError::Failed(e.to_string()),
    }
}

#[async_trait]
impl Verifier for Node {
    async fn verify(
        &self,
        package: &PaymentPackage,
        min_amount: Amount,
    ) -> Result<VerifiedPayment, VerifyError> {
        // Every error of the node's verification leaves the package unrecorded: the commit
        // is the last step, and a failed commit installs nothing.
        self.verify_payment_package_min(package, min_amount)
            .await
            .map_err(|e| node_error(&e))
    }

    async fn check(
        &self,
        package: &PaymentPackage,
        min_amount: Amount,
    ) -> Result<VerifiedPayment, VerifyError> {
        self.check_payment_package_min(package, min_amount)
            .await
            .map_err(|e| node_error(&e))
    }
}

#[async_trait]
impl Verifier for StorePayee {
    async fn verify(
        &self,
        package: &PaymentPackage,
        min_amount: Amount,
    ) -> Result<VerifiedPayment, VerifyError> {
        // As for the node: the conditional commit is the last step, and one that fails (a
        // conflict it gave up on, a database that is down) writes nothing.
        self.verify_payment_package(package, min_amount)
            .await
            .map_err(|e| node_error(&e))
    }

    async fn check(
        &self,
        package: &PaymentPackage,
        min_amount: Amount,
    ) -> Result<VerifiedPayment, VerifyError> {
        self.check_payment_package(package, min_amount)
            .await
            .map_err(|e| node_error(&e))
    }
}

/// The challenge of an in-process node at `price`; `node` is where it listens for peers.
pub fn challenge_of(node: &Node, price: Amount, peer_url: Option<String>) -> Challenge {
    let domain = node.domain();
    Challenge {
        price,
        payee: node.address(),
        chain_id: domain.chain_id(),
        contract: domain.verifying_contract(),
        node: peer_url,
    }
}

/// A remote node's verification over its JSON-RPC API (`verify_payment_package` with
/// `min_amount`).
#[derive(Clone, Debug)]
pub struct RpcVerifier {
    client: HttpClient,
}

impl RpcVerifier {
    /// A verifier calling the API at `url` with the bearer `token`.
    pub fn new(url: &str, token: &str) -> Result<Self, VerifyError> {
        let client = paychan_rpc::client::http(url, token)
            .map_err(|e| VerifyError::Failed(format!("the node's API at {url}: {e}")))?;
        Ok(RpcVerifier { client })
    }

    /// The node's `node_info`: its address, ledger and where it listens.
    pub async fn node_info(&self) -> Result<NodeInfo, VerifyError> {
        self.client
            .request(method::NODE_INFO, Named(json!({})))
            .await
            .map_err(|e| VerifyError::Failed(format!("node_info: {e}")))
    }

    /// The challenge of the remote node at `price`.
    pub async fn challenge(&self, price: Amount) -> Result<Challenge, VerifyError> {
        let info = self.node_info().await?;
        Ok(Challenge {
            price,
            payee: info.address,
            chain_id: info.ledger.chain_id,
            contract: info.ledger.verifying_contract,
            node: info.listen.into_iter().next(),
        })
    }
}

impl RpcVerifier {
    /// `verify_payment_package`, with `dry_run` to only check.
    async fn call(
        &self,
        package: &PaymentPackage,
        min_amount: Amount,
        dry_run: bool,
    ) -> Result<VerifiedPayment, VerifyError> {
        let params = json!({
            "package": package.to_compact(),
            "min_amount": min_amount.to_string(),
            "dry_run": dry_run,
        });
        let view: VerifiedPaymentView = self
            .client
            .request(method::VERIFY_PAYMENT_PACKAGE, Named(params))
            .await
            .map_err(|e| match e {
                ClientError::Call(object) => match paychan_rpc::error::error_data(&object) {
                    Some(data)
                        if matches!(data.category, Category::Client | Category::Protocol) =>
                    {
                        VerifyError::Refused(data.message)
                    }
                    // The node answered: whatever failed, it recorded nothing.
                    _ => VerifyError::Failed(object.message().to_owned()),
                },
                // A check records nothing, whatever happened to it.
                other if dry_run => VerifyError::Failed(other.to_string()),
                // The request may have reached the node.
                other => VerifyError::Unknown(other.to_string()),
            })?;
        let amount = |text: &str| {
            text.parse::<Amount>()
                .map_err(|_| VerifyError::Unknown(format!("the node answered amount {text:?}")))
        };
        Ok(VerifiedPayment {
            channel_id: view.channel_id,
            payer: view.payer,
            amount: amount(&view.amount)?,
            cumulative: amount(&view.cumulative)?,
            remaining: amount(&view.remaining)?,
            memo: view.memo,
            message: view.message,
        })
    }
}

#[async_trait]
impl Verifier for RpcVerifier {
    async fn verify(
        &self,
        package: &PaymentPackage,
        min_amount: Amount,
    ) -> Result<VerifiedPayment, VerifyError> {
        self.call(package, min_amount, false).await
    }

    async fn check(
        &self,
        package: &PaymentPackage,
        min_amount: Amount,
    ) -> Result<VerifiedPayment, VerifyError> {
        match self.call(package, min_amount, true).await {
            Err(VerifyError::Unknown(why)) => Err(VerifyError::Failed(why)),
            other => other,
        }
    }
}
