//! Deploying the adjudicator (`paychan eth deploy`, the test harness).

use std::time::Duration;

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::Bytes,
    providers::{Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
};
use paychan_core::{Address, B256, SigningKey};
use paychan_ledger::LedgerError;

use crate::{
    bindings::PaychanAdjudicator,
    error::{from_rpc, invalid},
    ledger::{rpc_client, wait_receipt},
};

/// How often a deployment polls for its receipt.
const DEPLOY_POLL: Duration = Duration::from_millis(50);
/// How long a deployment waits to be mined.
const DEPLOY_TIMEOUT: Duration = Duration::from_secs(600);

/// Where a contract was deployed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deployment {
    /// Its address.
    pub address: Address,
    /// The block it was created in (the event index starts there).
    pub block: u64,
    /// The chain.
    pub chain_id: u64,
    /// Gas used by the creation.
    pub gas_used: u64,
}

/// Deploys contract creation code `code` from `key`'s account on the node at `rpc_url` and
/// waits for it to be mined.
pub async fn deploy_code(
    rpc_url: &str,
    key: &SigningKey,
    code: Bytes,
) -> Result<Deployment, LedgerError> {
    let signer = PrivateKeySigner::from_bytes(&B256::from(key.to_bytes()))
        .map_err(|e| invalid(format!("signing key: {e}")))?;
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_client(rpc_client(rpc_url, 3)?);
    let chain_id = provider.get_chain_id().await.map_err(from_rpc)?;
    let tx = TransactionRequest::default().with_deploy_code(code);
    let hash = *provider
        .send_transaction(tx)
        .await
        .map_err(from_rpc)?
        .tx_hash();
    let receipt = wait_receipt(&provider, hash, DEPLOY_POLL, DEPLOY_TIMEOUT).await?;
    match (
        receipt.status(),
        receipt.contract_address,
        receipt.block_number,
    ) {
        (true, Some(address), Some(block)) => Ok(Deployment {
            address,
            block,
            chain_id,
            gas_used: receipt.gas_used,
        }),
        _ => Err(LedgerError::Rejected(format!(
            "deployment transaction {} failed",
            receipt.transaction_hash
        ))),
    }
}

/// Deploys `PaychanAdjudicator` (the committed artifact) from `key`'s account.
pub async fn deploy_adjudicator(
    rpc_url: &str,
    key: &SigningKey,
) -> Result<Deployment, LedgerError> {
    deploy_code(rpc_url, key, PaychanAdjudicator::BYTECODE.clone()).await
}
