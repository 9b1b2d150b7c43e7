//! Where the contract and the node's money meet beyond the shared ledger rules
//! (docs/ETHEREUM.md): the shortest challenge period a node can defend, deferred payouts an
//! account can claim, and an `open` that someone else front-ran with the same parameters.

use alloy::{eips::BlockId, providers::Provider, rpc::types::Filter, sol_types::SolEvent};
use paychan_core::{Address, Amount, ChannelParams, Role, adjudicator::LedgerEvent};
use paychan_ledger::{ChallengeFloor, LedgerError, LedgerFunding, LedgerQuery, Receipt};

use crate::{EthAccount, EthLedger, bindings::PaychanAdjudicator, error::from_rpc, ledger::amount};

impl EthLedger {
    /// The shortest challenge period a node on this connection can defend: what its
    /// configuration needs to answer a close ([`crate::EthConfig::challenge_floor`]), and at least
    /// the deployment's own minimum.
    pub fn challenge_floor(&self) -> ChallengeFloor {
        let (needed, reason) = self.shared.config.challenge_floor();
        let contract = self.shared.min_challenge_period;
        if contract > needed {
            ChallengeFloor {
                seconds: contract,
                reason: format!(
                    "the adjudicator refuses challenge periods below {contract} s (this node \
                     needs {needed} s: {reason})"
                ),
            }
        } else {
            ChallengeFloor {
                seconds: needed,
                reason,
            }
        }
    }
}

/// What the contract holds for `owner` in `asset` from payouts it could not deliver, as of
/// the newest block with `confirmations` blocks on top.
pub(crate) async fn unclaimed(
    account: &EthAccount,
    owner: Address,
    asset: Address,
) -> Result<Amount, LedgerError> {
    let shared = &account.shared;
    let depth = account.config().confirmations.max(1).saturating_sub(1);
    let head = shared.provider.get_block_number().await.map_err(from_rpc)?;
    let Some(confirmed) = head.checked_sub(depth) else {
        return Ok(0);
    };
    let raw = shared
        .adjudicator
        .unclaimed(asset, owner)
        .call()
        .block(BlockId::number(confirmed))
        .await
        .map_err(|e| LedgerError::Unavailable(format!("reading unclaimed payouts: {e}")))?;
    Ok(amount(raw))
}

/// After `open(params, amount)` was refused: if the channel is open because **another
/// account** opened it with the same parameters (anyone may open a channel for A and B, so a
/// third party can front-run an open, even with a zero amount, to make it revert), tops A's
/// deposit up to `amount` with a `deposit` and answers the front-runner's `Opened` event
/// followed by the deposit's events. `None` when the refusal stands: the channel is unknown,
/// not open, or was opened by this account (a replayed open stays refused, so a retry never
/// pays twice), or A's deposit already holds `amount`.
pub(crate) async fn opened_by_another(
    account: &EthAccount,
    params: &ChannelParams,
    amount: Amount,
) -> Result<Option<Receipt>, LedgerError> {
    let shared = &account.shared;
    let id = params.id(&account.domain().await?);
    // The log of the open, wherever it is (it may not be confirmed yet).
    let filter = Filter::new()
        .address(shared.config.contract)
        .event_signature(PaychanAdjudicator::Opened::SIGNATURE_HASH)
        .topic1(id.0)
        .from_block(shared.config.start_block);
    let logs = shared.provider.get_logs(&filter).await.map_err(from_rpc)?;
    let Some((Some(block), Some(tx))) = logs
        .first()
        .map(|log| (log.block_number, log.transaction_hash))
    else {
        return Ok(None);
    };
    let opener = shared
        .provider
        .get_transaction_receipt(tx)
        .await
        .map_err(from_rpc)?
        .map(|r| r.from);
    if opener.is_none_or(|from| from == account.address) {
        return Ok(None);
    }
    // Someone else's open: once it is as deep as ours would be, top A's deposit up.
    account.wait_confirmed(tx).await?;
    account.wait_indexed(block, tx).await?;
    let Some(record) = account.channel(id).await? else {
        return Ok(None);
    };
    if record.params != *params || record.status != paychan_core::adjudicator::ChannelStatus::Open {
        return Ok(None);
    }
    let missing = amount.saturating_sub(record.deposited.a);
    if missing == 0 {
        return Ok(None);
    }
    tracing::warn!(
        channel = %id,
        opener = ?opener,
        deposit = missing,
        "another account opened this channel first; depositing for A instead"
    );
    let opened: Vec<_> = shared
        .index
        .of_tx(block, tx)
        .await
        .into_iter()
        .filter(|r| matches!(r.event, LedgerEvent::Opened { channel_id, .. } if channel_id == id))
        .collect();
    let deposit = account.deposit(id, Role::A, missing).await?;
    Ok(Some(Receipt {
        events: opened.into_iter().chain(deposit.events).collect(),
    }))
}
