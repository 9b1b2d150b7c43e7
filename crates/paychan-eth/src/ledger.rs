//! [`EthLedger`]: one connection to one deployed adjudicator; [`EthAccount`]: a handle acting
//! for one key, implementing every role of the [`Ledger`](paychan_ledger::Ledger) interface.
//!
//! # Sending a transaction
//!
//! 1. **Simulate** the call (`eth_estimateGas` against the latest block): a revert is the
//!    ledger rules refusing, mapped to a final error and nothing is sent.
//! 2. **Send** it with that gas estimate plus a margin; fees come from the node
//!    (EIP-1559 estimate) unless fixed in the configuration. One transaction per account is in
//!    flight at a time and its nonce is the node's pending count, so nonces never collide, even
//!    across restarts.
//! 3. **Wait** for the receipt, then for `confirmations` blocks (itself included), checking
//!    that the receipt's block is still canonical; if a reorg dropped it, wait for the
//!    transaction to be mined again.
//! 4. **Answer** with the transaction's events as indexed by the [`EventIndex`], so the
//!    receipt's cursors are exactly those of the event stream.
//!
//! Requests go through alloy's transport with a [`RetryBackoffLayer`] (rate limits and
//! transient node errors are retried there, with backoff); what still fails is
//! `Unavailable`.

use std::{sync::Arc, time::Duration};

use alloy::{
    eips::{BlockId, BlockNumberOrTag},
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Bytes, TxHash},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::{
        client::RpcClient,
        types::{TransactionReceipt, TransactionRequest},
    },
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
    transports::layers::RetryBackoffLayer,
};
use async_trait::async_trait;
use paychan_core::{
    Address, Amount, B256, ChannelId, ChannelParams, Domain, Pair, Role, Settlement, SignedVoucher,
    SigningKey, U256, Withdrawal,
    adjudicator::{ChannelRecord, ChannelStatus, Rule},
    channel::CoSigned,
};
use paychan_ledger::{
    EventRecord, EventStream, LedgerClose, LedgerError, LedgerEvents, LedgerFunding, LedgerQuery,
    LedgerWithdraw, Receipt,
};
use tokio::sync::Mutex;

use crate::{
    bindings::{
        IERC20,
        PaychanAdjudicator::{self, PaychanAdjudicatorInstance},
    },
    config::EthConfig,
    error::{from_rpc, invalid},
    events::EventIndex,
};

/// Compute units per second assumed by the retry layer's rate limiting.
const COMPUTE_UNITS_PER_SECOND: u64 = 330;
/// Initial backoff of the retry layer, in milliseconds.
const INITIAL_BACKOFF_MS: u64 = 200;

/// Polls for the receipt of `hash` every `poll`; `Unavailable` after `timeout`. (Not alloy's
/// `get_receipt`, whose block watcher can miss a transaction mined before it started.)
pub(crate) async fn wait_receipt<P: Provider>(
    provider: &P,
    hash: TxHash,
    poll: Duration,
    timeout: Duration,
) -> Result<TransactionReceipt, LedgerError> {
    let deadline = deadline_after(timeout);
    loop {
        if let Some(r) = provider
            .get_transaction_receipt(hash)
            .await
            .map_err(from_rpc)?
        {
            return Ok(r);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(LedgerError::Unavailable(format!(
                "transaction {hash} not mined within {timeout:?}"
            )));
        }
        tokio::time::sleep(poll).await;
    }
}

/// A connection to one deployed `PaychanAdjudicator`.
#[derive(Clone)]
pub struct EthLedger {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) config: EthConfig,
    client: RpcClient,
    pub(crate) provider: DynProvider,
    pub(crate) adjudicator: PaychanAdjudicatorInstance<DynProvider>,
    domain: Domain,
    pub(crate) index: Arc<EventIndex>,
    /// The deployment's shortest accepted challenge period (`minChallengePeriod`).
    pub(crate) min_challenge_period: u64,
}

impl std::fmt::Debug for EthLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EthLedger")
            .field("rpc_url", &self.shared.config.rpc_url)
            .field("contract", &self.shared.config.contract)
            .field("chain_id", &self.shared.config.chain_id)
            .finish()
    }
}

/// How long one JSON-RPC request may take before it fails (`Unavailable`): a node that stops
/// answering must not hang the ledger.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The RPC client of `url`, with the retry layer and a timeout per request.
pub(crate) fn rpc_client(url: &str, max_retries: u32) -> Result<RpcClient, LedgerError> {
    let parsed = url
        .parse()
        .map_err(|e| invalid(format!("rpc_url {url}: {e}")))?;
    let http = alloy::transports::http::reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| invalid(format!("HTTP client: {e}")))?;
    Ok(RpcClient::builder()
        .layer(RetryBackoffLayer::new(
            max_retries,
            INITIAL_BACKOFF_MS,
            COMPUTE_UNITS_PER_SECOND,
        ))
        .http_with_client(http, parsed))
}

impl EthLedger {
    /// Connects to the contract of `config`: checks the node's chain id, that the address holds
    /// the adjudicator (its EIP-712 domain separator is the one paychan computes), and opens
    /// the event index.
    pub async fn connect(config: EthConfig) -> Result<Self, LedgerError> {
        let client = rpc_client(&config.rpc_url, config.max_retries)?;
        let provider = ProviderBuilder::new()
            .connect_client(client.clone())
            .erased();
        let chain_id = provider.get_chain_id().await.map_err(from_rpc)?;
        if chain_id != config.chain_id {
            return Err(invalid(format!(
                "{} is chain {chain_id}, the configuration says {}",
                config.rpc_url, config.chain_id
            )));
        }
        let domain = Domain::new(chain_id, config.contract);
        let adjudicator = PaychanAdjudicator::new(config.contract, provider.clone());
        let separator = adjudicator.domainSeparator().call().await.map_err(|e| {
            invalid(format!(
                "no paychan adjudicator at {} on chain {chain_id}: {e}",
                config.contract
            ))
        })?;
        if separator != domain.separator() {
            return Err(invalid(format!(
                "the contract at {} has domain separator {separator}, expected {}",
                config.contract,
                domain.separator()
            )));
        }
        let min_challenge_period = adjudicator.minChallengePeriod().call().await.map_err(|e| {
            invalid(format!(
                "the contract at {} has no minimum challenge period (an adjudicator \
                     deployed before it had one? deploy the current one): {e}",
                config.contract
            ))
        })?;
        let index = EventIndex::open(
            provider.clone(),
            chain_id,
            config.contract,
            config.start_block,
            config.confirmations,
            config.max_log_range,
            config.index_dir.clone(),
        )?;
        Ok(EthLedger {
            shared: Arc::new(Shared {
                config,
                client,
                provider,
                adjudicator,
                domain,
                index,
                min_challenge_period,
            }),
        })
    }

    /// A handle acting for `key`'s account (it pays the gas of its transactions).
    pub fn account(&self, key: &SigningKey) -> Result<EthAccount, LedgerError> {
        let signer = PrivateKeySigner::from_bytes(&B256::from(key.to_bytes()))
            .map_err(|e| invalid(format!("signing key: {e}")))?;
        let address = signer.address();
        let wallet = ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer))
            .connect_client(self.shared.client.clone())
            .erased();
        Ok(EthAccount {
            shared: self.shared.clone(),
            address,
            wallet,
            in_flight: Arc::new(Mutex::new(())),
            pending: crate::pending::PendingSet::default(),
        })
    }

    /// A read-only provider for `url` (before a contract is known: deployment, faucets).
    pub fn bootstrap_provider(url: &str) -> Result<DynProvider, LedgerError> {
        Ok(ProviderBuilder::new()
            .connect_client(rpc_client(url, 3)?)
            .erased())
    }

    /// The number of the newest block.
    pub async fn head(&self) -> Result<u64, LedgerError> {
        self.shared
            .provider
            .get_block_number()
            .await
            .map_err(from_rpc)
    }

    /// The configuration it was connected with.
    pub fn config(&self) -> &EthConfig {
        &self.shared.config
    }

    /// A read-only provider for the same node.
    pub fn provider(&self) -> &DynProvider {
        &self.shared.provider
    }

    /// The event index.
    pub fn index(&self) -> &Arc<EventIndex> {
        &self.shared.index
    }
}

/// A ledger handle acting for one account. Cheap to clone; clones share the account's
/// one-transaction-at-a-time lock.
#[derive(Clone)]
pub struct EthAccount {
    pub(crate) shared: Arc<Shared>,
    pub(crate) address: Address,
    wallet: DynProvider,
    in_flight: Arc<Mutex<()>>,
    pending: crate::pending::PendingSet,
}

impl std::fmt::Debug for EthAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EthAccount")
            .field("address", &self.address)
            .field("contract", &self.shared.config.contract)
            .finish()
    }
}

/// What a mined transaction did (for gas measurements and tests).
#[derive(Clone, Debug)]
pub struct Mined {
    /// Its receipt.
    pub receipt: TransactionReceipt,
    /// Its ledger events, with cursors.
    pub events: Vec<EventRecord>,
}

/// The instant `timeout` from now (far in the future if that overflows).
fn deadline_after(timeout: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(timeout).unwrap_or_else(|| {
        now.checked_add(Duration::from_secs(86_400 * 365))
            .unwrap_or(now)
    })
}

pub(crate) fn u256(a: Amount) -> U256 {
    U256::from(a)
}

pub(crate) fn amount(v: U256) -> Amount {
    // The contract bounds every stored amount to 128 bits; a larger value cannot occur.
    v.try_into().unwrap_or(Amount::MAX)
}

fn sig(s: &paychan_core::Signature) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn sol_voucher(v: &SignedVoucher) -> PaychanAdjudicator::Voucher {
    PaychanAdjudicator::Voucher {
        channelId: v.voucher.channel_id.0,
        payer: v.voucher.payer,
        cumulative: u256(v.voucher.cumulative),
        sequence: v.voucher.sequence,
        memo: v.voucher.memo,
    }
}

fn role_index(r: Role) -> u8 {
    match r {
        Role::A => 0,
        Role::B => 1,
    }
}

impl EthAccount {
    /// The ledger this handle uses.
    pub fn ledger(&self) -> EthLedger {
        EthLedger {
            shared: self.shared.clone(),
        }
    }

    pub(crate) fn config(&self) -> &EthConfig {
        &self.shared.config
    }

    /// Simulates, sends and confirms a transaction to `to`; returns its receipt and events.
    pub async fn transact(
        &self,
        to: Address,
        input: Vec<u8>,
        value: U256,
    ) -> Result<Mined, LedgerError> {
        self.transact_as("call", to, input, value).await
    }

    /// [`transact`](Self::transact), shown as `action` among the pending transactions.
    async fn transact_as(
        &self,
        action: &str,
        to: Address,
        input: Vec<u8>,
        value: U256,
    ) -> Result<Mined, LedgerError> {
        let mut tx = TransactionRequest::default()
            .with_from(self.address)
            .with_to(to)
            .with_input(input)
            .with_value(value);
        if let Some((max_fee, priority)) = self.config().fixed_fees {
            tx = tx
                .with_max_fee_per_gas(max_fee)
                .with_max_priority_fee_per_gas(priority);
        }
        let (hash, _tracked) = {
            let _one_at_a_time = self.in_flight.lock().await;
            let estimate = self
                .shared
                .provider
                .estimate_gas(tx.clone())
                .await
                .map_err(from_rpc)?;
            // State may change between the estimate and the block: a 20% margin.
            let gas = estimate.saturating_add(estimate / 5);
            let pending = self
                .wallet
                .send_transaction(tx.clone().with_gas_limit(gas))
                .await
                .map_err(from_rpc)?;
            let hash = *pending.tx_hash();
            let tracked = self
                .pending
                .track(hash, action, self.config().confirmations.max(1));
            // Hold the lock until mined, so the next transaction gets the next nonce.
            self.wait_mined(hash).await?;
            (hash, tracked)
        };
        let receipt = self.wait_confirmed(hash).await?;
        let block = receipt
            .block_number
            .ok_or_else(|| invalid("a mined receipt without a block number"))?;
        if !receipt.status() {
            // Replay on the state before the block to learn why (the same refusal, final).
            let before = BlockId::number(block.saturating_sub(1));
            return Err(match self.shared.provider.call(tx).block(before).await {
                Err(e) => from_rpc(e),
                Ok(_) => LedgerError::Chain(format!(
                    "transaction {hash} reverted in block {block} (state changed since the \
                     simulation, or out of gas)"
                )),
            });
        }
        self.wait_indexed(block, hash).await?;
        let events = self.shared.index.of_tx(block, hash).await;
        Ok(Mined { receipt, events })
    }

    /// Waits until the event index has scanned `block` (which holds transaction `hash`).
    pub(crate) async fn wait_indexed(&self, block: u64, hash: TxHash) -> Result<(), LedgerError> {
        let index = &self.shared.index;
        let deadline = deadline_after(self.config().tx_timeout);
        while index.next_block().await <= block {
            if index.sync().await? == 0 && index.next_block().await <= block {
                if tokio::time::Instant::now() >= deadline {
                    return Err(LedgerError::Unavailable(format!(
                        "the event index did not reach block {block} of transaction {hash}"
                    )));
                }
                tokio::time::sleep(self.config().poll_interval).await;
            }
        }
        Ok(())
    }

    async fn wait_mined(&self, hash: TxHash) -> Result<TransactionReceipt, LedgerError> {
        let c = self.config();
        wait_receipt(&self.shared.provider, hash, c.poll_interval, c.tx_timeout).await
    }

    /// Waits until the transaction's block has `confirmations` blocks on top (itself
    /// included) and is still canonical.
    pub(crate) async fn wait_confirmed(
        &self,
        hash: TxHash,
    ) -> Result<TransactionReceipt, LedgerError> {
        let confirmations = self.config().confirmations.max(1);
        let deadline = deadline_after(self.config().tx_timeout);
        loop {
            let receipt = self.wait_mined(hash).await?;
            let block = receipt
                .block_number
                .ok_or_else(|| invalid("a mined receipt without a block number"))?;
            let head = self
                .shared
                .provider
                .get_block_number()
                .await
                .map_err(from_rpc)?;
            let depth = head.saturating_add(1).saturating_sub(block);
            self.pending.update(hash, block, depth.min(confirmations));
            if depth >= confirmations {
                // Still the same block? A reorg may have moved or dropped the transaction.
                let again = self
                    .shared
                    .provider
                    .get_transaction_receipt(hash)
                    .await
                    .map_err(from_rpc)?;
                if again.as_ref().map(|r| r.block_hash) == Some(receipt.block_hash) {
                    return Ok(receipt);
                }
                tracing::warn!(%hash, block, "transaction reorganised away; waiting for it again");
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(LedgerError::Unavailable(format!(
                    "transaction {hash} not confirmed within {:?}",
                    self.config().tx_timeout
                )));
            }
            tokio::time::sleep(self.config().poll_interval).await;
        }
    }

    pub(crate) async fn call_adjudicator<C: SolCall>(
        &self,
        call: C,
        value: U256,
    ) -> Result<Receipt, LedgerError> {
        let mined = self
            .transact_as(
                C::SIGNATURE.split('(').next().unwrap_or(C::SIGNATURE),
                self.shared.config.contract,
                call.abi_encode(),
                value,
            )
            .await?;
        Ok(Receipt {
            events: mined.events,
        })
    }

    /// Checks that this account holds `amount` of `asset` and, for a token, that the
    /// adjudicator may take it (approving exactly what is missing). Returns the value to send.
    pub(crate) async fn prepare_payment(
        &self,
        asset: Address,
        amount: Amount,
    ) -> Result<U256, LedgerError> {
        let available = self.balance(self.address, asset).await?;
        if available < amount {
            return Err(LedgerError::InsufficientFunds {
                needed: amount,
                available,
            });
        }
        if asset == Address::ZERO {
            return Ok(u256(amount));
        }
        let token = IERC20::new(asset, self.shared.provider.clone());
        let allowance = token
            .allowance(self.address, self.shared.config.contract)
            .call()
            .await
            .map_err(|e| LedgerError::Unavailable(format!("token {asset}: {e}")))?;
        if allowance < u256(amount) {
            let approve = IERC20::approveCall {
                spender: self.shared.config.contract,
                amount: u256(amount),
            };
            self.transact_as("approve", asset, approve.abi_encode(), U256::ZERO)
                .await?;
        }
        Ok(U256::ZERO)
    }
}

#[async_trait]
impl LedgerQuery for EthAccount {
    async fn domain(&self) -> Result<Domain, LedgerError> {
        Ok(self.shared.domain)
    }

    fn pending_transactions(&self) -> Vec<paychan_ledger::types::PendingTransaction> {
        self.pending.snapshot()
    }

    async fn now(&self) -> Result<u64, LedgerError> {
        let block = self
            .shared
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(from_rpc)?
            .ok_or_else(|| LedgerError::Unavailable("no latest block".into()))?;
        Ok(block.header.timestamp)
    }

    async fn balance(&self, owner: Address, asset: Address) -> Result<Amount, LedgerError> {
        let raw = if asset == Address::ZERO {
            self.shared
                .provider
                .get_balance(owner)
                .await
                .map_err(from_rpc)?
        } else {
            IERC20::new(asset, self.shared.provider.clone())
                .balanceOf(owner)
                .call()
                .await
                .map_err(|e| LedgerError::Unavailable(format!("token {asset}: {e}")))?
        };
        Ok(amount(raw))
    }

    async fn challenge_floor(&self) -> Result<paychan_ledger::ChallengeFloor, LedgerError> {
        Ok(self.ledger().challenge_floor())
    }

    async fn unclaimed(&self, owner: Address, asset: Address) -> Result<Amount, LedgerError> {
        crate::payouts::unclaimed(self, owner, asset).await
    }

    /// The channel as of the newest block with `confirmations` blocks on top (itself
    /// included): a deposit counts once it is as deep as the events the node follows.
    async fn channel(&self, id: ChannelId) -> Result<Option<ChannelRecord>, LedgerError> {
        let depth = self.config().confirmations.max(1).saturating_sub(1);
        let head = self
            .shared
            .provider
            .get_block_number()
            .await
            .map_err(from_rpc)?;
        let Some(confirmed) = head.checked_sub(depth) else {
            return Ok(None);
        };
        self.channel_at(id, BlockId::number(confirmed)).await
    }

    /// The channel as of the newest block, deposits not yet confirmed included.
    async fn channel_unconfirmed(
        &self,
        id: ChannelId,
    ) -> Result<Option<ChannelRecord>, LedgerError> {
        self.channel_at(id, BlockId::latest()).await
    }
}

impl EthAccount {
    /// The contract's record of channel `id` as of `block`.
    async fn channel_at(
        &self,
        id: ChannelId,
        block: BlockId,
    ) -> Result<Option<ChannelRecord>, LedgerError> {
        let v = self
            .shared
            .adjudicator
            .channel(id.0)
            .call()
            .block(block)
            .await
            .map_err(|e| LedgerError::Unavailable(format!("reading channel {id}: {e}")))?;
        let last = Pair::new(amount(v.lastA), amount(v.lastB));
        let status = match v.status {
            0 => return Ok(None),
            1 => ChannelStatus::Open,
            2 => ChannelStatus::Closing {
                deadline: v.deadline,
                counted: last,
            },
            3 => ChannelStatus::Settled { payouts: last },
            other => return Err(invalid(format!("channel {id} has status {other}"))),
        };
        Ok(Some(ChannelRecord {
            params: ChannelParams {
                party_a: v.params.partyA,
                party_b: v.params.partyB,
                token: v.params.token,
                challenge_period: v.params.challengePeriod,
                nonce: v.params.nonce,
            },
            deposited: Pair::new(amount(v.depositA), amount(v.depositB)),
            withdrawn: Pair::new(amount(v.withdrawnA), amount(v.withdrawnB)),
            floors: Pair::new(amount(v.floorA), amount(v.floorB)),
            status,
        }))
    }
}

#[async_trait]
impl LedgerFunding for EthAccount {
    fn account(&self) -> Address {
        self.address
    }

    /// Opens the channel; if someone else opened it first with the same parameters (anyone
    /// may open a channel, so a third party can front-run ours), deposits for A instead
    /// ([`crate::payouts::opened_by_another`]).
    async fn open(&self, params: &ChannelParams, amount: Amount) -> Result<Receipt, LedgerError> {
        match self.open_channel(params, amount).await {
            Err(LedgerError::Rejected(rule)) => {
                match crate::payouts::opened_by_another(self, params, amount).await? {
                    Some(receipt) => Ok(receipt),
                    None => Err(LedgerError::Rejected(rule)),
                }
            }
            other => other,
        }
    }

    async fn deposit(
        &self,
        id: ChannelId,
        party: Role,
        amount: Amount,
    ) -> Result<Receipt, LedgerError> {
        let Some(record) = self.channel(id).await? else {
            return Err(LedgerError::Rejected(Rule::UnknownChannel));
        };
        let value = self.prepare_payment(record.params.token, amount).await?;
        let call = PaychanAdjudicator::depositCall {
            id: id.0,
            party: role_index(party),
            amount: u256(amount),
        };
        self.call_adjudicator(call, value).await
    }
}

impl EthAccount {
    /// `open` as sent to the contract.
    async fn open_channel(
        &self,
        params: &ChannelParams,
        amount: Amount,
    ) -> Result<Receipt, LedgerError> {
        let value = self.prepare_payment(params.token, amount).await?;
        let call = PaychanAdjudicator::openCall {
            c: PaychanAdjudicator::Channel {
                partyA: params.party_a,
                partyB: params.party_b,
                token: params.token,
                challengePeriod: params.challenge_period,
                nonce: params.nonce,
            },
            amount: u256(amount),
        };
        self.call_adjudicator(call, value).await
    }
}

#[async_trait]
impl LedgerWithdraw for EthAccount {
    async fn withdraw(&self, certificate: &CoSigned<Withdrawal>) -> Result<Receipt, LedgerError> {
        let w = &certificate.body;
        let call = PaychanAdjudicator::withdrawCall {
            w: PaychanAdjudicator::Withdrawal {
                channelId: w.channel_id.0,
                party: w.party,
                totalWithdrawn: u256(w.total_withdrawn),
                paidByA: u256(w.paid_by_a),
                paidByB: u256(w.paid_by_b),
                expiry: w.expiry,
            },
            sigA: sig(&certificate.sig_a),
            sigB: sig(&certificate.sig_b),
        };
        self.call_adjudicator(call, U256::ZERO).await
    }
}

#[async_trait]
impl LedgerClose for EthAccount {
    async fn close_cooperative(
        &self,
        settlement: &CoSigned<Settlement>,
    ) -> Result<Receipt, LedgerError> {
        let s = &settlement.body;
        let call = PaychanAdjudicator::closeCooperativeCall {
            s: PaychanAdjudicator::Settlement {
                channelId: s.channel_id.0,
                paidByA: u256(s.paid_by_a),
                paidByB: u256(s.paid_by_b),
            },
            sigA: sig(&settlement.sig_a),
            sigB: sig(&settlement.sig_b),
        };
        self.call_adjudicator(call, U256::ZERO).await
    }

    async fn start_close(
        &self,
        id: ChannelId,
        voucher: Option<&SignedVoucher>,
    ) -> Result<Receipt, LedgerError> {
        match voucher {
            None => {
                self.call_adjudicator(PaychanAdjudicator::startCloseCall { id: id.0 }, U256::ZERO)
                    .await
            }
            Some(v) => {
                let call = PaychanAdjudicator::startCloseWithVoucherCall {
                    id: id.0,
                    v: sol_voucher(v),
                    sig: sig(&v.signature),
                };
                self.call_adjudicator(call, U256::ZERO).await
            }
        }
    }

    async fn submit_voucher(&self, voucher: &SignedVoucher) -> Result<Receipt, LedgerError> {
        let call = PaychanAdjudicator::submitVoucherCall {
            v: sol_voucher(voucher),
            sig: sig(&voucher.signature),
        };
        self.call_adjudicator(call, U256::ZERO).await
    }

    async fn settle(&self, id: ChannelId) -> Result<Receipt, LedgerError> {
        self.call_adjudicator(PaychanAdjudicator::settleCall { id: id.0 }, U256::ZERO)
            .await
    }

    async fn claim(&self, asset: Address, to: Address) -> Result<Receipt, LedgerError> {
        self.call_adjudicator(
            PaychanAdjudicator::claimCall { token: asset, to },
            U256::ZERO,
        )
        .await
    }
}

#[async_trait]
impl LedgerEvents for EthAccount {
    async fn events(&self, from: u64) -> Result<EventStream, LedgerError> {
        Ok(self.shared.events(from))
    }
}

#[async_trait]
impl LedgerEvents for EthLedger {
    async fn events(&self, from: u64) -> Result<EventStream, LedgerError> {
        Ok(self.shared.events(from))
    }
}

impl Shared {
    /// Every confirmed event from cursor `from`, then new ones as they are confirmed.
    fn events(&self, from: u64) -> EventStream {
        crate::events::event_stream(self.index.clone(), from, self.config.poll_interval)
    }
}
