//! The ledger under `paychan demo`: the embedded ledger in memory on a manual clock, or the
//! `PaychanAdjudicator` contract on a fresh local anvil (`--ledger ethereum`) without fees, so
//! that in both cases every balance moves only by what the channels do.

use std::sync::Arc;

use anyhow::{Result, anyhow, bail};
use paychan_core::{Address, Amount, ChannelId, SigningKey, U256, adjudicator::ChannelStatus};
use paychan_eth::{
    EthAccount,
    anvil::AnvilError,
    devnet::{Devnet, DevnetError},
};
use paychan_ledger::{EmbeddedLedger, Ledger, LedgerQuery};

/// Which ledger the demo runs on.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DemoLedgerKind {
    /// The embedded ledger, in memory.
    Embedded,
    /// The contract on a local anvil (installed by `npm ci` in contracts/).
    Ethereum,
}

/// The demo's ledger.
pub(crate) enum DemoLedger {
    Embedded(EmbeddedLedger),
    Ethereum {
        devnet: Box<Devnet>,
        observer: EthAccount,
    },
}

impl DemoLedger {
    /// Starts the ledger of `kind`.
    pub(crate) async fn start(kind: DemoLedgerKind) -> Result<DemoLedger> {
        match kind {
            DemoLedgerKind::Embedded => Ok(DemoLedger::Embedded(crate::pair::manual_ledger())),
            DemoLedgerKind::Ethereum => {
                let devnet = match Devnet::start(true, 1).await {
                    Ok(d) => d,
                    Err(DevnetError::Anvil(e @ AnvilError::NotFound(_))) => bail!(
                        "`paychan demo --ledger ethereum` needs anvil: {e}\n(or run \
                         `paychan demo` for the embedded ledger)"
                    ),
                    Err(e) => bail!("cannot start the local Ethereum chain: {e}"),
                };
                let observer = devnet
                    .ledger()
                    .account(devnet.deployer())
                    .map_err(|e| anyhow!("{e}"))?;
                Ok(DemoLedger::Ethereum {
                    devnet: Box::new(devnet),
                    observer,
                })
            }
        }
    }

    /// What it is, for the banner.
    pub(crate) fn describe(&self) -> String {
        match self {
            DemoLedger::Embedded(_) => "an embedded ledger in memory".into(),
            DemoLedger::Ethereum { devnet, .. } => format!(
                "the PaychanAdjudicator contract at {} on anvil ({}, no fees)",
                devnet.deployment().address,
                devnet.url()
            ),
        }
    }

    /// A handle for `key`.
    pub(crate) fn account(&self, key: &SigningKey) -> Result<Arc<dyn Ledger>> {
        Ok(match self {
            DemoLedger::Embedded(l) => Arc::new(l.account(key.clone())),
            DemoLedger::Ethereum { devnet, .. } => {
                Arc::new(devnet.ledger().account(key).map_err(|e| anyhow!("{e}"))?)
            }
        })
    }

    fn query(&self) -> Option<&EthAccount> {
        match self {
            DemoLedger::Embedded(_) => None,
            DemoLedger::Ethereum { observer, .. } => Some(observer),
        }
    }

    /// Gives `owner` `amount` of the native asset.
    pub(crate) async fn faucet(&self, owner: Address, amount: Amount) -> Result<()> {
        match self {
            DemoLedger::Embedded(l) => {
                l.faucet(owner, Address::ZERO, amount)?;
            }
            DemoLedger::Ethereum { devnet, .. } => {
                devnet
                    .set_eth(owner, U256::from(amount))
                    .await
                    .map_err(|e| anyhow!("{e}"))?;
            }
        }
        Ok(())
    }

    /// What the ledger counts for A in a closing channel.
    pub(crate) async fn counted_a(&self, id: ChannelId) -> Option<Amount> {
        let record = match self {
            DemoLedger::Embedded(l) => l.channel_record(&id).ok().flatten(),
            DemoLedger::Ethereum { observer, .. } => observer.channel(id).await.ok().flatten(),
        };
        match record?.status {
            ChannelStatus::Closing { counted, .. } => Some(counted.a),
            _ => None,
        }
    }

    /// The ledger's time (Unix seconds).
    pub(crate) async fn now(&self) -> Result<u64> {
        match self {
            DemoLedger::Embedded(l) => Ok(l.time()?),
            DemoLedger::Ethereum { observer, .. } => {
                observer.now().await.map_err(|e| anyhow!("{e}"))
            }
        }
    }

    /// Moves the ledger's time to `deadline`.
    pub(crate) async fn advance_to(&self, deadline: u64) -> Result<()> {
        match self {
            DemoLedger::Embedded(l) => {
                let now = l.time()?;
                l.clock().advance(deadline.saturating_sub(now));
            }
            DemoLedger::Ethereum { devnet, observer } => {
                let now = observer.now().await.map_err(|e| anyhow!("{e}"))?;
                devnet
                    .advance(deadline.saturating_sub(now))
                    .await
                    .map_err(|e| anyhow!("{e}"))?;
            }
        }
        Ok(())
    }

    /// `owner`'s balance of the native asset.
    pub(crate) async fn balance(&self, owner: Address) -> Result<Amount> {
        match self.query() {
            None => match self {
                DemoLedger::Embedded(l) => Ok(l.balance_of(owner, Address::ZERO)?),
                DemoLedger::Ethereum { .. } => bail!("no query handle"),
            },
            Some(q) => q
                .balance(owner, Address::ZERO)
                .await
                .map_err(|e| anyhow!("{e}")),
        }
    }

    /// The total the parties and the ledger hold, and whether it equals what was created:
    /// the embedded ledger's supply, or the parties' funding on the chain (the contract must
    /// hold nothing once every channel is settled).
    pub(crate) async fn conserved(
        &self,
        parties: &[Address],
        funded: Amount,
    ) -> Result<(Amount, bool)> {
        match self {
            DemoLedger::Embedded(l) => {
                let total = l.total(Address::ZERO)?;
                Ok((total, total == l.supply(Address::ZERO)?))
            }
            DemoLedger::Ethereum { devnet, .. } => {
                let mut total: Amount = self.balance(devnet.deployment().address).await?;
                for p in parties {
                    total = total.saturating_add(self.balance(*p).await?);
                }
                Ok((total, total == funded))
            }
        }
    }
}
