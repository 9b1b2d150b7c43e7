//! Deploying the adjudicator (`paychan eth deploy`, the test harness).

use std::time::Duration;

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::Bytes,
    providers::{Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
    sol_types::SolConstructor,
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
        _ => Err(LedgerError::Chain(format!(
            "deployment transaction {} failed",
            receipt.transaction_hash
        ))),
    }
}

/// The lowest minimum challenge period a deployment may choose, in seconds (the contract's
/// `CHALLENGE_PERIOD_FLOOR`): one hour.
pub const CHALLENGE_PERIOD_FLOOR: u64 = 3_600;

/// The creation code of `PaychanAdjudicator` (the committed artifact) with its constructor
/// argument: the shortest challenge period channels may have.
pub fn adjudicator_code(min_challenge_period: u64) -> Bytes {
    let args = PaychanAdjudicator::constructorCall {
        minChallengePeriod_: min_challenge_period,
    }
    .abi_encode();
    [PaychanAdjudicator::BYTECODE.as_ref(), args.as_slice()]
        .concat()
        .into()
}

/// Deploys `PaychanAdjudicator` (the committed artifact) from `key`'s account, refusing
/// channels with challenge periods below `min_challenge_period` seconds (at least
/// [`CHALLENGE_PERIOD_FLOOR`]; the contract refuses to deploy with less).
pub async fn deploy_adjudicator(
    rpc_url: &str,
    key: &SigningKey,
    min_challenge_period: u64,
) -> Result<Deployment, LedgerError> {
    if min_challenge_period < CHALLENGE_PERIOD_FLOOR {
        return Err(LedgerError::Invalid(format!(
            "a minimum challenge period of {min_challenge_period} s is below the contract's \
             floor of {CHALLENGE_PERIOD_FLOOR} s: choose {CHALLENGE_PERIOD_FLOOR} s or more"
        )));
    }
    deploy_code(rpc_url, key, adjudicator_code(min_challenge_period)).await
}
