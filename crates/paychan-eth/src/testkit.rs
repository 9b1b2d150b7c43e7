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

use std::sync::Arc;

use alloy::{primitives::Bytes, sol_types::SolCall};
use async_trait::async_trait;
use paychan_core::{Address, Amount, SigningKey, U256, keccak256};
use paychan_ledger::{LedgerError, testkit::Harness};

use crate::{
    bindings::MockERC20,
    deploy::{Deployment, deploy_code},
    devnet::{Devnet, DevnetError},
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

/// A fresh anvil with the adjudicator deployed (and a test token for token suites).
pub struct EthHarness {
    devnet: Arc<Devnet>,
    deployer: EthAccount,
    asset: Address,
}

impl std::fmt::Debug for EthHarness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EthHarness")
            .field("devnet", &self.devnet)
            .field("asset", &self.asset)
            .finish()
    }
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
    pub async fn start(token: bool, confirmations: u64) -> Result<Self, DevnetError> {
        let devnet = Devnet::start(!token, confirmations).await?;
        let deployer = devnet.ledger().account(devnet.deployer())?;
        let asset = if token {
            deploy_code(devnet.url(), devnet.deployer(), MockERC20::BYTECODE.clone())
                .await?
                .address
        } else {
            Address::ZERO
        };
        Ok(EthHarness {
            devnet: Arc::new(devnet),
            deployer,
            asset,
        })
    }

    /// The ledger.
    pub fn ledger(&self) -> &EthLedger {
        self.devnet.ledger()
    }

    /// The development chain.
    pub fn devnet(&self) -> &Devnet {
        &self.devnet
    }

    /// Where the adjudicator is.
    pub fn deployment(&self) -> Deployment {
        self.devnet.deployment()
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        self.devnet.url()
    }

    /// An account that holds ETH for gas (and deployed the contracts).
    pub fn deployer(&self) -> &EthAccount {
        &self.deployer
    }

    /// Deploys contract creation code from the deployer's account.
    pub async fn deploy(&self, code: Bytes) -> Address {
        deploy_code(self.url(), self.devnet.deployer(), code)
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
        self.devnet
            .mine(n)
            .await
            .unwrap_or_else(|e| panic!("anvil_mine: {e}"));
    }

    /// A handle for `key` whose account holds ETH for gas (on the token harness).
    pub async fn funded_account(&self, key: &SigningKey) -> Result<EthAccount, LedgerError> {
        let account = self.ledger().account(key)?;
        if self.asset != Address::ZERO {
            self.devnet
                .set_eth(key.address(), U256::from(GAS_MONEY))
                .await?;
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
            self.devnet
                .add_eth(owner, amount)
                .await
                .unwrap_or_else(|e| panic!("funding {owner}: {e}"));
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
        self.devnet
            .advance(secs)
            .await
            .unwrap_or_else(|e| panic!("advancing anvil's time: {e}"));
    }
}
