//! The conformance-suite harness over a fresh anvil node (feature `testkit`).
//!
//! Each [`EthHarness`] starts its own anvil (so moving time in one test never moves another's),
//! deploys the adjudicator and, for token channels, a mintable ERC-20 that is the suite's
//! asset. Accounts get ETH for gas through `anvil_setBalance`, so gas never touches the suite's
//! asset. On the native asset the node runs without fees (`--base-fee 0` and zero fees per
//! gas), so every wei an account holds is accounted for by the suite.
//!
//! Tests that need anvil fail with a clear message when it is missing; with
//! `PAYCHAN_SKIP_ANVIL=1` (and only then) they are skipped with a printed notice.

#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects
)]

use std::{sync::Arc, time::Duration};

use alloy::{
    primitives::Bytes,
    providers::{DynProvider, Provider},
    sol_types::SolCall,
};
use async_trait::async_trait;
use paychan_core::{Address, Amount, SigningKey, U256, keccak256};
use paychan_ledger::{LedgerError, testkit::Harness};

use crate::{
    anvil::{ANVIL_CHAIN_ID, Anvil, AnvilError},
    bindings::MockERC20,
    config::EthConfig,
    deploy::{Deployment, deploy_code},
    ledger::{EthAccount, EthLedger},
};

/// ETH given to every account for gas: 10^6 ether.
const GAS_MONEY: u128 = 1_000_000_000_000_000_000_000_000;

/// Whether tests that need anvil should be skipped (`PAYCHAN_SKIP_ANVIL=1`).
pub fn skip_anvil() -> bool {
    std::env::var("PAYCHAN_SKIP_ANVIL").is_ok_and(|v| v == "1")
}

/// A key derived from a label, for test accounts.
pub fn test_key(label: &str) -> SigningKey {
    SigningKey::from_entropy(keccak256(format!("paychan-eth-testkit/{label}")).as_slice())
        .expect("a keccak digest is a valid key")
}

/// A fresh anvil with the adjudicator deployed.
pub struct EthHarness {
    anvil: Arc<Anvil>,
    ledger: EthLedger,
    deployment: Deployment,
    deployer: EthAccount,
    asset: Address,
}

impl std::fmt::Debug for EthHarness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EthHarness")
            .field("url", &self.anvil.url())
            .field("contract", &self.deployment.address)
            .field("asset", &self.asset)
            .finish()
    }
}

/// Sets `owner`'s ETH balance on anvil.
pub async fn set_eth_balance(provider: &DynProvider, owner: Address, wei: U256) {
    let _: serde_json::Value = provider
        .raw_request("anvil_setBalance".into(), (owner, wei))
        .await
        .unwrap_or_else(|e| panic!("anvil_setBalance({owner}): {e}"));
}

impl EthHarness {
    /// Anvil with the adjudicator and a mintable ERC-20 as the suite's asset; panics with a
    /// clear message if anvil cannot be started.
    pub async fn with_token() -> Self {
        Self::start(true, 1).await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// Anvil without fees, the native asset (ETH) as the suite's asset.
    pub async fn native() -> Self {
        Self::start(false, 1)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts anvil and deploys; `token`: the suite's asset is a fresh ERC-20, else ETH (and
    /// the node charges no fees). `confirmations` is the ledger's depth.
    pub async fn start(token: bool, confirmations: u64) -> Result<Self, AnvilError> {
        let args: &[&str] = if token {
            &[]
        } else {
            &["--base-fee", "0", "--gas-price", "0"]
        };
        let anvil = Arc::new(Anvil::spawn(args)?);
        let key = test_key("deployer");
        let bootstrap = EthLedger::bootstrap_provider(anvil.url())
            .unwrap_or_else(|e| panic!("anvil's url: {e}"));
        set_eth_balance(&bootstrap, key.address(), U256::from(GAS_MONEY)).await;
        let deployment = crate::deploy_adjudicator(anvil.url(), &key)
            .await
            .unwrap_or_else(|e| panic!("deploying the adjudicator on anvil: {e}"));
        let mut config = EthConfig::new(anvil.url(), deployment.address, ANVIL_CHAIN_ID);
        config.confirmations = confirmations;
        config.start_block = deployment.block;
        config.poll_interval = Duration::from_millis(10);
        config.tx_timeout = Duration::from_secs(60);
        if !token {
            config.fixed_fees = Some((0, 0));
        }
        let ledger = EthLedger::connect(config)
            .await
            .unwrap_or_else(|e| panic!("connecting to the adjudicator on anvil: {e}"));
        let deployer = ledger.account(&key).expect("a valid key");
        let asset = if token {
            deploy_code(anvil.url(), &key, MockERC20::BYTECODE.clone())
                .await
                .unwrap_or_else(|e| panic!("deploying the test token: {e}"))
                .address
        } else {
            Address::ZERO
        };
        Ok(EthHarness {
            anvil,
            ledger,
            deployment,
            deployer,
            asset,
        })
    }

    /// The ledger.
    pub fn ledger(&self) -> &EthLedger {
        &self.ledger
    }

    /// Where the adjudicator is.
    pub fn deployment(&self) -> Deployment {
        self.deployment
    }

    /// The anvil node.
    pub fn anvil(&self) -> &Anvil {
        &self.anvil
    }

    /// An account that holds ETH for gas (and deployed the contracts).
    pub fn deployer(&self) -> &EthAccount {
        &self.deployer
    }

    /// Deploys contract creation code from the deployer's account.
    pub async fn deploy(&self, code: Bytes) -> Address {
        deploy_code(self.anvil.url(), &test_key("deployer"), code)
            .await
            .unwrap_or_else(|e| panic!("deploying a contract: {e}"))
            .address
    }

    /// Sends a call to `to` from the deployer's account.
    pub async fn call_as_deployer<C: SolCall>(&self, to: Address, call: C) {
        self.deployer
            .transact(to, call.abi_encode(), U256::ZERO)
            .await
            .unwrap_or_else(|e| panic!("deployer's call to {to}: {e}"));
    }

    /// Mines `n` empty blocks.
    pub async fn mine(&self, n: u64) {
        let _: serde_json::Value = self
            .ledger
            .provider()
            .raw_request("anvil_mine".into(), (U256::from(n),))
            .await
            .unwrap_or_else(|e| panic!("anvil_mine: {e}"));
    }

    /// A handle for `key` whose account holds ETH for gas (on the token harness).
    pub async fn funded_account(&self, key: &SigningKey) -> Result<EthAccount, LedgerError> {
        let account = self.ledger.account(key)?;
        if self.asset != Address::ZERO {
            set_eth_balance(self.ledger.provider(), key.address(), U256::from(GAS_MONEY)).await;
        }
        Ok(account)
    }
}

#[async_trait]
impl Harness for EthHarness {
    type Account = EthAccount;

    async fn account(&self, key: SigningKey) -> EthAccount {
        self.funded_account(&key)
            .await
            .unwrap_or_else(|e| panic!("account: {e}"))
    }

    async fn fund(&self, owner: Address, amount: Amount) {
        if self.asset == Address::ZERO {
            let now = self
                .ledger
                .provider()
                .get_balance(owner)
                .await
                .unwrap_or_else(|e| panic!("balance of {owner}: {e}"));
            set_eth_balance(self.ledger.provider(), owner, now + U256::from(amount)).await;
        } else {
            self.call_as_deployer(
                self.asset,
                MockERC20::mintCall {
                    to: owner,
                    amount: U256::from(amount),
                },
            )
            .await;
        }
    }

    fn asset(&self) -> Address {
        self.asset
    }

    async fn advance(&self, secs: u64) {
        let provider = self.ledger.provider();
        let _: serde_json::Value = provider
            .raw_request("evm_increaseTime".into(), (U256::from(secs),))
            .await
            .unwrap_or_else(|e| panic!("evm_increaseTime: {e}"));
        let _: serde_json::Value = provider
            .raw_request("evm_mine".into(), ())
            .await
            .unwrap_or_else(|e| panic!("evm_mine: {e}"));
    }
}
