//! The user's commands: open a channel (proposed to a peer, or straight on the ledger), pay
//! and message, deposit, withdraw, close cooperatively or alone, auto-refill, and what the
//! node shows of its channels.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Node {
    /// Proposes a channel to a connected peer with our initial `deposit`, and opens it on the
    /// ledger once the peer accepts (aa-channels' `createNewChannel`).
    pub async fn create_channel(
        &self,
        peer: Address,
        deposit: Amount,
    ) -> Result<ChannelId, NodeError> {
        self.create_channel_with_period(peer, deposit, self.inner.config.challenge_period)
            .await
    }

    /// [`Node::create_channel`] with a challenge period of the caller's choice instead of
    /// [`NodeConfig::challenge_period`] (aa-channels' `options.timeout`). The caller keeps it
    /// within the bounds it allows; the peer's policy decides whether it accepts it.
    pub async fn create_channel_with_period(
        &self,
        peer: Address,
        deposit: Amount,
        challenge_period: u64,
    ) -> Result<ChannelId, NodeError> {
        if !self.is_connected(peer) {
            return Err(NodeError::PeerOffline(peer));
        }
        let (id, params, slot) = self.new_channel(peer, deposit, challenge_period).await?;
        let domain = self.inner.domain;
        let proposal = Message::ProposeChannel(ProposeChannel {
            params,
            domain,
            deposit,
        });
        self.emit(NodeEvent::ChannelProposed {
            channel_id: id,
            peer,
            deposit: deposit.to_string(),
        });
        let refused = match self.exchange(peer, id, Wait::Proposal, &proposal).await {
            Ok(Message::AcceptChannel { .. }) => {
                self.emit(NodeEvent::ChannelAccepted {
                    channel_id: id,
                    peer,
                });
                None
            }
            Ok(Message::RejectChannel { reason, .. }) => Some(NodeError::PeerRefused {
                code: ErrorBody::REFUSED,
                message: reason,
            }),
            Ok(other) => Some(not_the_answer(other)),
            // Unanswered: the peer may have accepted, but we will not open it (its side
            // expires on its own, see `NodeConfig::proposal_expiry`).
            Err(e) => Some(e),
        };
        if let Some(refused) = refused {
            self.withdraw_proposal(&slot).await;
            return Err(refused);
        }
        self.open_proposed(&slot, &params, deposit).await?;
        Ok(id)
    }

    /// Opens a channel with `peer` on the ledger without proposing it first: the peer need
    /// not be connected, and learns the channel from the ledger when our first payment
    /// package reaches it (a client paying an HTTP service, say). The peer's policy decides
    /// then whether it accepts the channel's packages.
    pub async fn open_channel_on_ledger(
        &self,
        peer: Address,
        deposit: Amount,
    ) -> Result<ChannelId, NodeError> {
        let period = self.inner.config.challenge_period;
        let (id, params, slot) = self.new_channel(peer, deposit, period).await?;
        self.open_proposed(&slot, &params, deposit).await?;
        Ok(id)
    }

    /// Opens our proposed channel of `slot` on the ledger. If the ledger refuses, the channel
    /// never opened and is forgotten at once; if the outcome is unknown (the ledger is
    /// unreachable), it stays proposed until it expires or the ledger shows it open.
    async fn open_proposed(
        &self,
        slot: &Arc<Slot>,
        params: &ChannelParams,
        deposit: Amount,
    ) -> Result<(), NodeError> {
        let pending = slot.pending(deposit);
        match self.inner.ledger.open(params, deposit).await {
            Ok(receipt) => {
                self.apply_deposit_receipt(slot, &receipt, Some(pending))
                    .await
            }
            Err(e) => {
                if e.is_final() {
                    self.withdraw_proposal(slot).await;
                }
                Err(e.into())
            }
        }
    }

    /// Forgets our proposal of `slot`, which will never be opened; a store failure leaves it
    /// to expire by time.
    async fn withdraw_proposal(&self, slot: &Slot) {
        let mut entry = self.lock_entry(slot).await;
        let id = entry.state.channel.id();
        match self.forget_proposed(&mut entry).await {
            Ok(true) => tracing::info!(channel = %id, "proposal withdrawn"),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(channel = %id, error = %e, "cannot forget a proposal; it expires later")
            }
        }
    }

    /// A new channel of ours with `peer`, persisted as proposed, once the ledger balance
    /// covers `deposit`.
    async fn new_channel(
        &self,
        peer: Address,
        deposit: Amount,
        challenge_period: u64,
    ) -> Result<(ChannelId, ChannelParams, Arc<Slot>), NodeError> {
        // Checked before the proposal, so that a channel the ledger would refuse to open is
        // never proposed (it would stay "proposed" on both sides).
        let available = self
            .inner
            .ledger
            .balance(self.address(), Address::ZERO)
            .await?;
        if available < deposit {
            return Err(NodeError::Ledger(
                paychan_ledger::LedgerError::InsufficientFunds {
                    needed: deposit,
                    available,
                },
            ));
        }
        let nonce = keccak256(
            [
                self.address().as_slice(),
                peer.as_slice(),
                &SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos())
                    .to_be_bytes(),
                &self
                    .inner
                    .next_id
                    .fetch_add(1, Ordering::Relaxed)
                    .to_be_bytes(),
            ]
            .concat(),
        );
        let params = ChannelParams {
            party_a: self.address(),
            party_b: peer,
            token: Address::ZERO,
            challenge_period,
            nonce,
        };
        let domain = self.inner.domain;
        let id = params.id(&domain);
        let channel =
            Channel::proposed(params, domain, self.address(), unix_now()).ok_or_else(|| {
                NodeError::InvalidMessage("cannot open a channel with ourselves".into())
            })?;
        if peer == self.address() {
            return Err(NodeError::InvalidMessage(
                "cannot open a channel with ourselves".into(),
            ));
        }
        let state = Persisted::new(channel);
        let slot = self.insert_slot(id, Entry::new(state.clone(), 0))?;
        {
            let mut entry = self.lock_entry(&slot).await;
            if let Err(e) = self.save(&mut entry, state, vec![], None).await {
                lock(&self.inner.channels).remove(&id);
                return Err(e);
            }
        }
        Ok((id, params, slot))
    }

    /// Pays `amount` on a channel for `message` and returns the peer's response
    /// (aa-channels' `sendMessageAndPay`). If the peer's handler fails, the payment is taken
    /// back and the error returned.
    pub async fn send_message_and_pay(
        &self,
        id: ChannelId,
        message: &serde_json::Value,
        amount: Amount,
    ) -> Result<serde_json::Value, NodeError> {
        let body = encode_message(message)?;
        let slot = self.slot_or_adopt(&id).await?;
        let _in_flight = slot.paying.lock().await;
        let started = Instant::now();
        let (voucher, params) = self.sign_outgoing(&slot, amount, memo_of(&body)).await?;
        let peer = if params.party_a == self.address() {
            params.party_b
        } else {
            params.party_a
        };
        let answer = self
            .request(peer, |request_id| Message::Pay {
                request_id,
                voucher,
                body,
            })
            .await;
        let refused = match answer {
            Ok(Message::PayResult {
                reply: Reply::Ok(response),
                ..
            }) => {
                self.inner.metrics.sent(amount);
                self.inner.metrics.send_latency.observe(started.elapsed());
                self.emit(NodeEvent::PaymentSent {
                    channel_id: id,
                    amount: amount.to_string(),
                });
                self.maybe_refill(id, &slot).await;
                return serde_json::from_slice(&response)
                    .map_err(|e| NodeError::Protocol(format!("the response is not JSON: {e}")));
            }
            Ok(
                Message::PayResult {
                    reply: Reply::Err(e),
                    ..
                }
                | Message::Error { error: e, .. },
            ) => NodeError::PeerRefused {
                code: e.code,
                message: e.message,
            },
            Ok(other) => not_the_answer(other),
            // Not sent at all: take it back. Timed out or connection lost after sending: the
            // peer may have kept it; it stays counted (the counter sync on reconnect tells the
            // peer's view).
            Err(NodeError::PeerOffline(p)) => NodeError::PeerOffline(p),
            Err(e) => return Err(e),
        };
        let mut entry = self.lock_entry(&slot).await;
        let mut next = entry.state.clone();
        if next.channel.cancel_payment(&voucher).is_ok() {
            self.save(&mut entry, next, vec![], None).await?;
        }
        Err(refused)
    }

    /// Takes back `voucher`, our latest on the channel of `slot`, after the peer refused it
    /// ([`Channel::cancel_payment`]), committed before it returns. Answers the amount
    /// taken back.
    pub(crate) async fn take_back(
        &self,
        slot: &Slot,
        voucher: &SignedVoucher,
    ) -> Result<Amount, NodeError> {
        let mut entry = self.lock_entry(slot).await;
        let mut next = entry.state.clone();
        next.channel.cancel_payment(voucher)?;
        let amount = voucher
            .voucher
            .cumulative
            .saturating_sub(next.channel.balances().paid_by_me);
        self.save(&mut entry, next, vec![], None).await?;
        Ok(amount)
    }

    /// Signs our next voucher on the channel of `slot` for `amount` more, and records it as
    /// paid before it leaves this node. Answers the voucher and the channel's parameters.
    pub(crate) async fn sign_outgoing(
        &self,
        slot: &Slot,
        amount: Amount,
        memo: paychan_core::B256,
    ) -> Result<(SignedVoucher, ChannelParams), NodeError> {
        let mut entry = self.lock_entry(slot).await;
        let mut next = entry.state.clone();
        let voucher = next.channel.pay(self.key()?, amount, memo)?;
        let row = PaymentRow {
            channel_id: voucher.voucher.channel_id,
            direction: Direction::Outgoing,
            sequence: voucher.voucher.sequence,
            amount,
            cumulative: voucher.voucher.cumulative,
            memo: voucher.voucher.memo,
            time: unix_now(),
        };
        let params = *next.channel.params();
        self.save(&mut entry, next, vec![row], None).await?;
        Ok((voucher, params))
    }

    /// Sends a plain message without payment and returns the peer's response.
    pub async fn send_message(
        &self,
        id: ChannelId,
        message: &serde_json::Value,
    ) -> Result<serde_json::Value, NodeError> {
        let body = encode_message(message)?;
        let peer = self
            .slot_or_adopt(&id)
            .await?
            .entry
            .lock()
            .await
            .state
            .channel
            .peer();
        match self
            .request(peer, |request_id| Message::Request {
                request_id,
                channel_id: id,
                body,
            })
            .await?
        {
            Message::Response {
                reply: Reply::Ok(response),
                ..
            } => serde_json::from_slice(&response)
                .map_err(|e| NodeError::Protocol(format!("the response is not JSON: {e}"))),
            Message::Response {
                reply: Reply::Err(e),
                ..
            }
            | Message::Error { error: e, .. } => Err(NodeError::PeerRefused {
                code: e.code,
                message: e.message,
            }),
            other => Err(not_the_answer(other)),
        }
    }

    /// Deposits `amount` more into our side of the channel.
    pub async fn deposit(&self, id: ChannelId, amount: Amount) -> Result<(), NodeError> {
        self.deposit_transaction(id, amount).await.map(|_| ())
    }

    /// [`Node::deposit`], answering the ledger's id of the deposit's transaction if it gives
    /// one (aa-channels' deposit `unit`).
    pub async fn deposit_transaction(
        &self,
        id: ChannelId,
        amount: Amount,
    ) -> Result<Option<paychan_core::B256>, NodeError> {
        let slot = self.slot_or_adopt(&id).await?;
        let role = self.lock_entry(&slot).await.state.channel.role();
        let pending = slot.pending(amount);
        let receipt = match self.inner.ledger.deposit(id, role, amount).await {
            Ok(receipt) => receipt,
            Err(e) => {
                if e.is_final() {
                    self.emit(NodeEvent::RefusedDeposit {
                        channel_id: id,
                        amount: amount.to_string(),
                        reason: e.to_string(),
                    });
                }
                return Err(e.into());
            }
        };
        self.apply_deposit_receipt(&slot, &receipt, Some(pending))
            .await?;
        Ok(receipt.events.iter().find_map(|r| r.transaction))
    }

    /// Withdraws `amount` while the channel stays open: needs the peer's co-signature.
    pub async fn withdraw(&self, id: ChannelId, amount: Amount) -> Result<(), NodeError> {
        let slot = self.slot_or_adopt(&id).await?;
        let now = self.inner.ledger.now().await?;
        let expiry = now.saturating_add(self.inner.config.withdrawal_validity);
        let (withdrawal, signature, peer) = {
            let mut entry = self.lock_entry(&slot).await;
            let mut next = entry.state.clone();
            let (w, s) = next
                .channel
                .propose_withdrawal(self.key()?, amount, expiry, now)?;
            let peer = next.channel.peer();
            self.save(&mut entry, next, vec![], None).await?;
            (w, s, peer)
        };
        let answer = self
            .exchange(
                peer,
                id,
                Wait::Withdrawal,
                &Message::WithdrawRequest {
                    withdrawal,
                    signature,
                },
            )
            .await;
        let theirs = match answer {
            Ok(Message::WithdrawSignature { signature, .. }) => signature,
            // Refused, or never sent: the peer did not sign, so nothing stays reserved.
            // Unanswered, it may have: reserved until the certificate expires.
            Ok(other) => {
                return Err(self
                    .drop_withdrawal(&slot, &withdrawal, not_the_answer(other))
                    .await);
            }
            Err(e @ NodeError::PeerOffline(_)) => {
                return Err(self.drop_withdrawal(&slot, &withdrawal, e).await);
            }
            Err(e) => return Err(e),
        };
        let certificate = slot
            .entry
            .lock()
            .await
            .state
            .channel
            .clone()
            .handle_withdrawal_signature(&theirs)?;
        let receipt = self.inner.ledger.withdraw(&certificate).await?;
        self.apply_receipt(&slot, &receipt).await
    }

    /// Releases our withdrawal proposal after the peer refused it (if the store fails, it
    /// stays reserved until it expires); answers `why`.
    async fn drop_withdrawal(
        &self,
        slot: &Slot,
        withdrawal: &paychan_core::Withdrawal,
        why: NodeError,
    ) -> NodeError {
        let mut entry = self.lock_entry(slot).await;
        let mut next = entry.state.clone();
        if next.channel.cancel_withdrawal(withdrawal).is_err() {
            return why;
        }
        if let Err(e) = self.save(&mut entry, next, vec![], None).await {
            tracing::warn!(error = %e, "cannot release a refused withdrawal; it expires by time");
        }
        why
    }

    /// Closes cooperatively if the peer co-signs; if it does not answer (offline, timeout),
    /// starts a unilateral close instead, which the watcher settles after the challenge
    /// period. Returns whether the close was cooperative.
    pub async fn close(&self, id: ChannelId) -> Result<bool, NodeError> {
        let slot = self.slot_or_adopt(&id).await?;
        let (settlement, signature, peer) = {
            let mut entry = self.lock_entry(&slot).await;
            let mut next = entry.state.clone();
            let (s, sig) = next.channel.propose_settlement(self.key()?)?;
            let peer = next.channel.peer();
            self.save(&mut entry, next, vec![], None).await?;
            (s, sig, peer)
        };
        let answer = self
            .exchange(
                peer,
                id,
                Wait::Settlement,
                &Message::SettlementRequest {
                    settlement,
                    signature,
                },
            )
            .await;
        match answer {
            Ok(Message::SettlementSignature {
                signature: theirs, ..
            }) => {
                let cert = slot
                    .entry
                    .lock()
                    .await
                    .state
                    .channel
                    .clone()
                    .handle_settlement_signature(&theirs)?;
                let receipt = self.inner.ledger.close_cooperative(&cert).await?;
                self.apply_receipt(&slot, &receipt).await?;
                Ok(true)
            }
            Ok(_)
            | Err(
                NodeError::PeerOffline(_) | NodeError::Timeout(_) | NodeError::ConnectionLost(_),
            ) => {
                self.force_close(id).await?;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Starts a unilateral close presenting the peer's latest voucher; the watcher settles
    /// after the challenge period.
    pub async fn force_close(&self, id: ChannelId) -> Result<(), NodeError> {
        let slot = self.slot_or_adopt(&id).await?;
        let inputs = {
            let mut entry = self.lock_entry(&slot).await;
            let mut next = entry.state.clone();
            let inputs = next.channel.start_close()?;
            self.save(&mut entry, next, vec![], None).await?;
            inputs
        };
        let receipt = self
            .inner
            .ledger
            .start_close(id, inputs.voucher.as_ref())
            .await?;
        self.apply_receipt(&slot, &receipt).await
    }

    /// Deposits `amount` whenever what we may spend falls below `threshold` after a payment
    /// (aa-channels' `setAutoRefill`). `None` turns it off.
    pub async fn set_auto_refill(
        &self,
        id: ChannelId,
        refill: Option<(Amount, Amount)>,
    ) -> Result<(), NodeError> {
        let slot = self.slot_or_adopt(&id).await?;
        let mut entry = self.lock_entry(&slot).await;
        let mut next = entry.state.clone();
        next.auto_refill = refill;
        self.save(&mut entry, next, vec![], None).await
    }

    async fn maybe_refill(&self, id: ChannelId, slot: &Arc<Slot>) {
        let amount = {
            let mut entry = self.lock_entry(slot).await;
            let Some((threshold, amount)) = entry.state.auto_refill else {
                return;
            };
            let available = entry.state.channel.available(entry.state.channel.role());
            if available >= threshold
                || entry.refilling
                || entry.state.channel.phase() != &Phase::Open
            {
                return;
            }
            entry.refilling = true;
            amount
        };
        let node = self.clone();
        let slot = slot.clone();
        tokio::spawn(async move {
            match node.deposit(id, amount).await {
                Ok(()) => node.emit(NodeEvent::ChannelRefilled {
                    channel_id: id,
                    amount: amount.to_string(),
                }),
                Err(e) => node.emit(NodeEvent::Error {
                    channel_id: Some(id),
                    message: format!("auto-refill failed: {e}"),
                }),
            }
            slot.entry.lock().await.refilling = false;
        });
    }

    /// A channel's balances and status (aa-channels' `getBalancesAndStatus`).
    pub async fn channel_info(&self, id: ChannelId) -> Result<ChannelInfo, NodeError> {
        let slot = self.slot_or_adopt(&id).await?;
        let entry = self.lock_entry(&slot).await;
        Ok(info_of(&entry.state, slot.pending_deposit()))
    }

    /// The latest voucher we signed on a channel (what the peer can present at a close).
    pub async fn latest_sent(&self, id: ChannelId) -> Result<Option<SignedVoucher>, NodeError> {
        Ok(self
            .slot(&id)?
            .entry
            .lock()
            .await
            .state
            .channel
            .latest_sent()
            .copied())
    }

    /// Every channel, or those with `peer` (aa-channels' `getChannelsForPeer`).
    pub async fn channels(&self, peer: Option<Address>) -> Vec<ChannelInfo> {
        let mut out = vec![];
        for (_, slot) in self.slots() {
            let entry = self.lock_entry(&slot).await;
            if peer.is_none_or(|p| p == entry.state.channel.peer()) {
                out.push(info_of(&entry.state, slot.pending_deposit()));
            }
        }
        out.sort_by_key(|i| i.channel_id);
        out
    }
}
