//! A development chain (feature `anvil`): a fresh anvil with the adjudicator deployed, a faucet
//! (`anvil_setBalance`) and a clock that moves on demand (`evm_increaseTime` + `evm_mine`).
//! Used by `paychan demo --ledger ethereum` and by the test harness.

use std::time::Duration;

use alloy::providers::{DynProvider, Provider};
use paychan_core::{Address, Amount, SigningKey, U256, keccak256};
use paychan_ledger::LedgerError;

use crate::{
    anvil::{ANVIL_CHAIN_ID, Anvil, AnvilError},
    config::EthConfig,
    deploy::{CHALLENGE_PERIOD_FLOOR, Deployment, deploy_adjudicator},
    error::{from_rpc, invalid},
    ledger::EthLedger,
};

/// ETH given to the deployer: 10^6 ether.
pub const DEPLOYER_ETH: u128 = 1_000_000_000_000_000_000_000_000;

/// Why a development chain could not be started.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    /// Anvil is missing or did not start.
    #[error(transparent)]
    Anvil(#[from] AnvilError),
    /// Deploying or connecting failed.
    #[error("development chain: {0}")]
    Ledger(#[from] LedgerError),
}

/// A running development chain. Dropping it stops anvil.
pub struct Devnet {
    anvil: Anvil,
    ledger: EthLedger,
    deployment: Deployment,
    deployer: SigningKey,
}

impl std::fmt::Debug for Devnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Devnet")
            .field("url", &self.anvil.url())
            .field("contract", &self.deployment.address)
            .finish()
    }
}

impl Devnet {
    /// Starts anvil and deploys the adjudicator. `free`: the node charges no fees (base fee
    /// and gas price zero, transactions sent with zero fees), so ETH balances move only by
    /// what the ledger does. `confirmations`: the ledger's depth.
    pub async fn start(free: bool, confirmations: u64) -> Result<Devnet, DevnetError> {
        let args: &[&str] = if free {
            &["--base-fee", "0", "--gas-price", "0"]
        } else {
            &[]
        };
        let anvil = Anvil::spawn(args)?;
        let deployer = SigningKey::from_entropy(keccak256("paychan-devnet/deployer").as_slice())
            .map_err(|e| invalid(format!("deployer key: {e}")))?;
        let bootstrap = EthLedger::bootstrap_provider(anvil.url())?;
        set_balance(&bootstrap, deployer.address(), U256::from(DEPLOYER_ETH)).await?;
        let deployment = deploy_adjudicator(anvil.url(), &deployer, CHALLENGE_PERIOD_FLOOR).await?;
        let mut config = EthConfig::new(anvil.url(), deployment.address, ANVIL_CHAIN_ID);
        config.confirmations = confirmations;
        config.start_block = deployment.block;
        config.poll_interval = Duration::from_millis(10);
        config.tx_timeout = Duration::from_secs(60);
        if free {
            config.fixed_fees = Some((0, 0));
        }
        let ledger = EthLedger::connect(config).await?;
        Ok(Devnet {
            anvil,
            ledger,
            deployment,
            deployer,
        })
    }

    /// The ledger.
    pub fn ledger(&self) -> &EthLedger {
        &self.ledger
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        self.anvil.url()
    }

    /// Where the adjudicator is.
    pub fn deployment(&self) -> Deployment {
        self.deployment
    }

    /// The key that deployed the adjudicator (it holds ETH).
    pub fn deployer(&self) -> &SigningKey {
        &self.deployer
    }

    /// Sets `owner`'s ETH balance.
    pub async fn set_eth(&self, owner: Address, wei: U256) -> Result<(), LedgerError> {
        set_balance(self.ledger.provider(), owner, wei).await
    }

    /// Adds `wei` to `owner`'s ETH balance (a faucet).
    pub async fn add_eth(&self, owner: Address, wei: Amount) -> Result<(), LedgerError> {
        let now = self
            .ledger
            .provider()
            .get_balance(owner)
            .await
            .map_err(from_rpc)?;
        let new = now
            .checked_add(U256::from(wei))
            .ok_or_else(|| invalid("balance overflow"))?;
        self.set_eth(owner, new).await
    }

    /// Moves the chain's time forward by `secs` and mines a block.
    pub async fn advance(&self, secs: u64) -> Result<(), LedgerError> {
        let provider = self.ledger.provider();
        let _: serde_json::Value = provider
            .raw_request("evm_increaseTime".into(), (U256::from(secs),))
            .await
            .map_err(from_rpc)?;
        let _: serde_json::Value = provider
            .raw_request("evm_mine".into(), ())
            .await
            .map_err(from_rpc)?;
        Ok(())
    }

    /// Mines `n` empty blocks.
    pub async fn mine(&self, n: u64) -> Result<(), LedgerError> {
        let _: serde_json::Value = self
            .ledger
            .provider()
            .raw_request("anvil_mine".into(), (U256::from(n),))
            .await
            .map_err(from_rpc)?;
        Ok(())
    }
}

async fn set_balance(provider: &DynProvider, owner: Address, wei: U256) -> Result<(), LedgerError> {
    let _: serde_json::Value = provider
        .raw_request("anvil_setBalance".into(), (owner, wei))
        .await
        .map_err(from_rpc)?;
    Ok(())
}
