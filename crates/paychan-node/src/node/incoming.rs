//! What the node does with a peer's messages: proposals under the channel policy, payments
//! (verified, credited within the unconfirmed limits, committed before the answer), plain
//! messages, withdrawal and settlement requests to co-sign, and the counter sync on every
//! (re)connect.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Node {
    /// Runs the handler of a message from `peer` that is not an answer (answers go to
    /// their waiters in `peers`).
    pub(crate) async fn dispatch(&self, peer: Address, message: Message) {
        match message {
            Message::ProposeChannel(p) => self.on_proposal(peer, p).await,
            m @ (Message::AcceptChannel { .. }
            | Message::RejectChannel { .. }
            | Message::WithdrawSignature { .. }
            | Message::SettlementSignature { .. }
            | Message::PayResult { .. }
            | Message::Response { .. }
            | Message::Pong { .. }) => {
                let _ = self.resolve_answer(peer, m);
            }
            Message::Pay {
                request_id,
                voucher,
                body,
            } => self.on_pay(peer, request_id, voucher, body).await,
            Message::Request {
                request_id,
                channel_id,
                body,
            } => self.on_request(peer, request_id, channel_id, body).await,
            Message::WithdrawRequest {
                withdrawal,
                signature,
            } => self.on_withdraw_request(peer, withdrawal, signature).await,
            Message::SettlementRequest {
                settlement,
                signature,
            } => {
                self.on_settlement_request(peer, settlement, signature)
                    .await
            }
            Message::CounterSync {
                channel_id,
                yours,
                mine,
            } => self.on_sync(peer, channel_id, yours, mine).await,
            Message::Ping { nonce } => {
                let _ = self.send(peer, &Message::Pong { nonce }).await;
            }
            m @ Message::Error { .. } => self.on_error(peer, m),
            other => tracing::debug!(%peer, kind = other.kind(), "ignored message"),
        }
    }

    /// The slot of `id` if it is a channel with `peer`; answers the peer otherwise.
    async fn peer_slot(&self, peer: Address, id: ChannelId) -> Option<Arc<Slot>> {
        let slot = self.slot(&id).ok();
        let ours = match &slot {
            Some(s) => s.entry.lock().await.state.channel.peer() == peer,
            None => false,
        };
        if ours {
            slot
        } else {
            self.reply_error(
                peer,
                Some(id),
                ErrorBody::UNKNOWN_CHANNEL,
                format!("no channel {id} with you"),
            )
            .await;
            None
        }
    }

    async fn on_proposal(&self, peer: Address, p: ProposeChannel) {
        let id = p.params.id(&p.domain);
        let decider = self
            .inner
            .proposals
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let exists = lock(&self.inner.channels).contains_key(&id);
        let verdict = match self
            .inner
            .manager
            .handle_proposal(peer, &p, exists, unix_now())
        {
            Err(why) => Err(why.to_string()),
            Ok(channel) => match decider {
                Some(d) => d.decide(peer, p.params, p.deposit).await.map(|()| channel),
                None => Ok(channel),
            },
        };
        let channel = match verdict {
            Ok(channel) => channel,
            Err(why) => {
                let reason = truncate(why);
                let _ = self
                    .send(
                        peer,
                        &Message::RejectChannel {
                            channel_id: id,
                            reason,
                        },
                    )
                    .await;
                return;
            }
        };
        let state = Persisted::new(channel);
        let result = async {
            let slot = self.insert_slot(id, Entry::new(state.clone(), 0))?;
            let mut entry = self.lock_entry(&slot).await;
            self.save(&mut entry, state, vec![], None).await
        }
        .await;
        match result {
            Ok(()) => {
                let _ = self
                    .send(peer, &Message::AcceptChannel { channel_id: id })
                    .await;
            }
            Err(e) => {
                lock(&self.inner.channels).remove(&id);
                let _ = self
                    .send(
                        peer,
                        &Message::RejectChannel {
                            channel_id: id,
                            reason: truncate(e.to_string()),
                        },
                    )
                    .await;
            }
        }
    }

    async fn on_pay(&self, peer: Address, request_id: u64, voucher: SignedVoucher, body: Vec<u8>) {
        let id = voucher.voucher.channel_id;
        let started = Instant::now();
        let reply = self.serve_payment(peer, &voucher, &body).await;
        let metrics = &self.inner.metrics;
        let reply = match reply {
            Ok(response) => {
                metrics.receive_latency.observe(started.elapsed());
                Reply::Ok(response)
            }
            Err(error) => {
                metrics.payment_refused(&error);
                Reply::Err(error)
            }
        };
        let _ = self
            .send(
                peer,
                &Message::PayResult {
                    request_id,
                    channel_id: id,
                    reply,
                },
            )
            .await;
    }

    /// Checks the voucher, runs the handler, and keeps the voucher only if the handler
    /// answered — committed before the answer goes out.
    async fn serve_payment(
        &self,
        peer: Address,
        voucher: &SignedVoucher,
        body: &[u8],
    ) -> Result<Vec<u8>, ErrorBody> {
        let id = voucher.voucher.channel_id;
        let slot = self
            .slot(&id)
            .map_err(|e| ErrorBody::new(ErrorBody::UNKNOWN_CHANNEL, e.to_string()))?;
        let memo = memo_of(body);
        if self.lock_entry(&slot).await.state.channel.peer() != peer {
            return Err(ErrorBody::new(
                ErrorBody::UNKNOWN_CHANNEL,
                format!("no channel {id} with you"),
            ));
        }
        let probe = self
            .probe_voucher(&slot, voucher, memo)
            .await
            .map_err(|e| ErrorBody::new(ErrorBody::VOUCHER_REJECTED, e.to_string()))?;
        let amount = probe.amount();
        let message: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
            ErrorBody::new(
                ErrorBody::MALFORMED,
                format!("the message is not JSON: {e}"),
            )
        })?;
        // The message goes to the handler; a copy only if someone listens for the event.
        let for_event = self.has_subscribers().then(|| message.clone());
        let response = self
            .run_handler(Incoming {
                channel_id: id,
                peer,
                amount,
                message,
            })
            .await?;
        let response = serde_json::to_vec(&response)
            .map_err(|e| ErrorBody::new(ErrorBody::INTERNAL, e.to_string()))?;
        if response.len() > MAX_BODY_LEN {
            return Err(ErrorBody::new(
                ErrorBody::HANDLER_ERROR,
                "the handler's response is too large",
            ));
        }
        self.keep_voucher(&slot, voucher, memo, for_event, probe, 0)
            .await
            .map_err(|e| match e {
                NodeError::Voucher(why) => {
                    ErrorBody::new(ErrorBody::VOUCHER_REJECTED, why.to_string())
                }
                other => ErrorBody::new(ErrorBody::INTERNAL, other.to_string()),
            })?;
        Ok(response)
    }

    /// Checks an incoming voucher against the channel of `slot` without keeping it: answers
    /// what it pays. Before refusing it as over the payer's balance, reads the ledger's
    /// confirmed deposits (the payer may have deposited more than our watcher has seen).
    ///
    /// Still over, it may be taken on credit against a deposit the ledger shows unconfirmed
    /// (see [`UnconfirmedCredit`](crate::UnconfirmedCredit)): answers the amount and the
    /// credit it needs, which [`keep_voucher`](Self::keep_voucher) grants again or not.
    pub(crate) async fn probe_voucher(
        &self,
        slot: &Arc<Slot>,
        voucher: &SignedVoucher,
        memo: paychan_core::B256,
    ) -> Result<Probe, VoucherRejection> {
        let manager = &self.inner.manager;
        let check = |funds: Funds| async move {
            let entry = self.lock_entry(slot).await;
            let step = manager.check_voucher(&entry.state.channel, voucher, memo, funds);
            (step, entry.version)
        };
        // The manager's steps only go forward: known, refreshed, credit.
        let mut step = check(Funds::Known).await;
        if let (VoucherStep::RefreshDeposits { .. }, _) = step {
            self.refresh_deposits(slot).await;
            step = check(Funds::Refreshed).await;
        }
        // The manager asks for credit under the limits it was built with; limits enabled at
        // run time (`set_unconfirmed_credit`) are asked here for a refused over-balance.
        let ask = match &step {
            (VoucherStep::AskCredit { .. }, _) => true,
            (VoucherStep::Refuse(VoucherRejection::OverBalance { .. }), _) => {
                lock(&self.inner.credit_limits).limits.enabled()
            }
            _ => false,
        };
        if ask {
            step = check(Funds::Credit(self.credit_for(slot).await)).await;
        }
        match step {
            (VoucherStep::Accept(accepted), version) => Ok(Probe { accepted, version }),
            // The credit step decides; a step asking further is refused as it stands.
            (
                VoucherStep::Refuse(why)
                | VoucherStep::RefreshDeposits { over: why }
                | VoucherStep::AskCredit { over: why },
                _,
            ) => Err(why),
        }
    }

    /// The credit the channel of `slot` may have now: the peer's deposits the ledger shows
    /// but has not confirmed, within the per-channel limit and what the total limit leaves
    /// after the other channels' exposure.
    async fn credit_for(&self, slot: &Arc<Slot>) -> Amount {
        let policy = lock(&self.inner.credit_limits).limits.clone();
        if !policy.enabled() {
            return 0;
        }
        let (id, peer_role, confirmed) = {
            let entry = self.lock_entry(slot).await;
            let channel = &entry.state.channel;
            let peer = channel.role().peer();
            (channel.id(), peer, channel.ledger().deposited.at(peer))
        };
        let pending = match self.inner.ledger.channel_unconfirmed(id).await {
            Ok(Some(record)) => record.deposited.at(peer_role),
            Ok(None) => return 0,
            Err(e) => {
                tracing::warn!(channel = %id, error = %e, "cannot read unconfirmed deposits");
                return 0;
            }
        };
        if !self.waited_enough(id, pending.saturating_sub(confirmed)) {
            return 0;
        }
        let others: Amount = lock(&self.inner.exposures)
            .iter()
            .filter(|(channel, _)| **channel != id)
            .fold(0, |sum, (_, exposure)| sum.saturating_add(*exposure));
        policy.allowance(pending, confirmed, others)
    }

    /// Keeps an incoming voucher (checked again under the lock) and records the payment,
    /// committed before it returns; reports it. Answers what it paid and what the payer may
    /// still spend. A voucher paying less than `min_amount` is refused
    /// ([`NodeError::PackageRefused`]) and changes nothing.
    ///
    /// If nothing changed the channel since the [`probe`](Self::probe_voucher) (every change
    /// bumps its version), the probe's checked copy is the new state as is, and the signature
    /// is not recovered a second time. A voucher that needs credit is decided again here,
    /// under the node-wide credit lock, so that concurrent payments in several channels never
    /// take more than the total limit together.
    ///
    /// `message` is reported with the payment if given (the caller passes it only when
    /// someone listens).
    pub(crate) async fn keep_voucher(
        &self,
        slot: &Arc<Slot>,
        voucher: &SignedVoucher,
        memo: paychan_core::B256,
        message: Option<serde_json::Value>,
        probe: Probe,
        min_amount: Amount,
    ) -> Result<(Amount, Amount), NodeError> {
        let on_credit = probe.accepted.credit > 0;
        let _credit = if on_credit {
            Some(self.inner.credit.lock().await)
        } else {
            None
        };
        let credit = if on_credit {
            self.credit_for(slot).await
        } else {
            0
        };
        let mut entry = self.lock_entry(slot).await;
        let accepted = if !on_credit && entry.version == probe.version {
            probe.accepted
        } else {
            let step = self.inner.manager.check_voucher(
                &entry.state.channel,
                voucher,
                memo,
                Funds::Credit(credit),
            );
            match step {
                VoucherStep::Accept(accepted) => accepted,
                // Decided on what is known now: a step asking further is refused as it stands.
                VoucherStep::Refuse(why)
                | VoucherStep::RefreshDeposits { over: why }
                | VoucherStep::AskCredit { over: why } => return Err(NodeError::Voucher(why)),
            }
        };
        let amount = accepted.amount;
        let next = Persisted {
            channel: accepted.next,
            opened: entry.state.opened,
            auto_refill: entry.state.auto_refill,
            payouts: entry.state.payouts,
        };
        if amount < min_amount {
            return Err(NodeError::PackageRefused(PackageRejection::Underpaid {
                amount,
                min: min_amount,
            }));
        }
        if credit > 0 {
            tracing::info!(
                channel = %voucher.voucher.channel_id,
                exposure = next.channel.exposure(),
                "payment accepted ahead of an unconfirmed deposit"
            );
        }
        let row = PaymentRow {
            channel_id: voucher.voucher.channel_id,
            direction: Direction::Incoming,
            sequence: voucher.voucher.sequence,
            amount,
            cumulative: voucher.voucher.cumulative,
            memo,
            time: unix_now(),
        };
        let remaining = next.channel.available(next.channel.role().peer());
        self.save(&mut entry, next, vec![row], None).await?;
        drop(entry);
        self.inner.metrics.received(amount);
        if let Some(message) = message {
            self.emit(NodeEvent::PaymentReceived {
                channel_id: voucher.voucher.channel_id,
                amount: amount.to_string(),
                message,
            });
        }
        Ok((amount, remaining))
    }

    /// A channel someone opened with us on the ledger without proposing it (it pays by
    /// payment packages): taken into our channels once the ledger shows it open with these
    /// parameters, if our channel policy accepts them. Answers its slot (the existing one if
    /// we know the channel).
    pub(crate) async fn learn_channel(
        &self,
        params: ChannelParams,
    ) -> Result<Arc<Slot>, NodeError> {
        let domain = self.inner.domain;
        let id = params.id(&domain);
        if let Ok(slot) = self.slot(&id) {
            return Ok(slot);
        }
        let record = self.inner.ledger.channel(id).await?;
        let channel =
            self.inner
                .manager
                .handle_ledger_channel(params, record.as_ref(), unix_now())?;
        let peer = params.party_a;
        let state = Persisted::new(channel);
        let slot = match self.insert_slot(id, Entry::new(state.clone(), 0)) {
            Ok(slot) => slot,
            // Learned concurrently by another package.
            Err(_) => return self.slot(&id),
        };
        {
            let mut entry = self.lock_entry(&slot).await;
            if let Err(e) = self.save(&mut entry, state, vec![], None).await {
                lock(&self.inner.channels).remove(&id);
                return Err(e);
            }
        }
        // Marks the channel opened with the ledger's deposits, which reports it once
        // (`channel_created_by_peer`).
        self.refresh_deposits(&slot).await;
        tracing::info!(channel = %id, %peer, "learned a channel from the ledger");
        Ok(slot)
    }

    /// Brings a channel's deposits up to the ledger's confirmed record (the watcher may lag
    /// behind the ledger). Deposit events carry totals, so this is idempotent.
    pub(crate) async fn refresh_deposits(&self, slot: &Slot) {
        let id = self.lock_entry(slot).await.state.channel.id();
        let record = match self.inner.ledger.channel(id).await {
            Ok(Some(record)) => record,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(channel = %id, error = %e, "cannot read the channel from the ledger");
                return;
            }
        };
        let events: Vec<LedgerEvent> = [Role::A, Role::B]
            .into_iter()
            .map(|party| LedgerEvent::Deposited {
                channel_id: id,
                party,
                amount: 0,
                total: record.deposited.at(party),
            })
            .collect();
        let mut entry = self.lock_entry(slot).await;
        let mut next = entry.state.clone();
        // Opens a proposed channel too: the ledger has it.
        let outcome = self
            .inner
            .manager
            .handle_ledger_events(&mut next.channel, &events);
        if next.channel == entry.state.channel {
            return;
        }
        if let Err(e) = self.save(&mut entry, next, vec![], None).await {
            tracing::warn!(channel = %id, error = %e, "cannot persist the ledger's deposits");
            return;
        }
        // Read from the ledger's record, not from an event: no transaction to name.
        let reported = user_events(&entry.state.channel, &outcome.changes, self.address(), None);
        drop(entry);
        for event in reported {
            self.emit(event);
        }
    }

    async fn run_handler(&self, incoming: Incoming) -> Result<serde_json::Value, ErrorBody> {
        let handler = self
            .inner
            .handler
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let Some(handler) = handler else {
            return Ok(self.inner.config.default_response.clone());
        };
        let timeout = self.inner.config.handler_timeout;
        match tokio::time::timeout(timeout, handler.handle(incoming)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(message)) => Err(ErrorBody::new(ErrorBody::HANDLER_ERROR, truncate(message))),
            Err(_) => Err(ErrorBody::new(
                ErrorBody::HANDLER_TIMEOUT,
                format!("the handler did not answer within {timeout:?}"),
            )),
        }
    }

    async fn on_request(
        &self,
        peer: Address,
        request_id: u64,
        channel_id: ChannelId,
        body: Vec<u8>,
    ) {
        let reply = async {
            if self.peer_slot(peer, channel_id).await.is_none() {
                return Err(ErrorBody::new(
                    ErrorBody::UNKNOWN_CHANNEL,
                    "unknown channel",
                ));
            }
            let message: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
                ErrorBody::new(
                    ErrorBody::MALFORMED,
                    format!("the message is not JSON: {e}"),
                )
            })?;
            let response = self
                .run_handler(Incoming {
                    channel_id,
                    peer,
                    amount: 0,
                    message,
                })
                .await?;
            serde_json::to_vec(&response)
                .map_err(|e| ErrorBody::new(ErrorBody::INTERNAL, e.to_string()))
        }
        .await;
        let reply = match reply {
            Ok(r) => Reply::Ok(r),
            Err(e) => Reply::Err(e),
        };
        let _ = self
            .send(peer, &Message::Response { request_id, reply })
            .await;
    }

    async fn on_withdraw_request(
        &self,
        peer: Address,
        withdrawal: paychan_core::Withdrawal,
        signature: paychan_core::Signature,
    ) {
        let id = withdrawal.channel_id;
        let Some(slot) = self.peer_slot(peer, id).await else {
            return;
        };
        let now = match self.inner.ledger.now().await {
            Ok(now) => now,
            Err(e) => {
                return self
                    .reply_error(peer, Some(id), ErrorBody::INTERNAL, e.to_string())
                    .await;
            }
        };
        let key = match self.key() {
            Ok(key) => key,
            Err(e) => {
                return self
                    .reply_error(peer, Some(id), ErrorBody::INTERNAL, e.to_string())
                    .await;
            }
        };
        self.co_sign(
            peer,
            &slot,
            id,
            |c| c.handle_withdrawal_request(key, &withdrawal, &signature, now),
            |signature| Message::WithdrawSignature {
                channel_id: id,
                signature,
            },
        )
        .await
    }

    async fn on_settlement_request(
        &self,
        peer: Address,
        settlement: paychan_core::Settlement,
        signature: paychan_core::Signature,
    ) {
        let id = settlement.channel_id;
        let Some(slot) = self.peer_slot(peer, id).await else {
            return;
        };
        let key = match self.key() {
            Ok(key) => key,
            Err(e) => {
                return self
                    .reply_error(peer, Some(id), ErrorBody::INTERNAL, e.to_string())
                    .await;
            }
        };
        self.co_sign(
            peer,
            &slot,
            id,
            |c| c.handle_settlement_request(key, &settlement, &signature),
            |signature| Message::SettlementSignature {
                channel_id: id,
                signature,
            },
        )
        .await
    }

    /// Checks and co-signs the peer's certificate on a copy of the channel, commits the new
    /// state, then answers with our signature — or with the reason we refuse.
    ///
    /// Before refusing a certificate as over the peer's funds, reads the ledger's confirmed
    /// deposits and checks again: the peer may withdraw from a deposit our watcher has not
    /// seen yet (as [`probe_voucher`](Self::probe_voucher) does for a payment).
    async fn co_sign(
        &self,
        peer: Address,
        slot: &Slot,
        id: ChannelId,
        check: impl Fn(&mut Channel) -> Result<paychan_core::Signature, CertificateRejection>,
        answer: impl FnOnce(paychan_core::Signature) -> Message,
    ) {
        // In a shared store, decide on the latest state (a stale one would fail to commit).
        let mut entry = self.lock_entry(slot).await;
        let mut next = entry.state.clone();
        let mut checked = check(&mut next.channel);
        if let Err(CertificateRejection::OverBalance { .. }) = checked {
            drop(entry);
            self.refresh_deposits(slot).await;
            entry = self.lock_entry(slot).await;
            next = entry.state.clone();
            checked = check(&mut next.channel);
        }
        let outcome = match checked {
            Ok(ours) => self
                .save(&mut entry, next, vec![], None)
                .await
                .map(|()| ours)
                .map_err(|e| (ErrorBody::INTERNAL, e.to_string())),
            Err(e) => Err((ErrorBody::CERTIFICATE_REJECTED, e.to_string())),
        };
        drop(entry);
        match outcome {
            Ok(ours) => {
                let _ = self.send(peer, &answer(ours)).await;
            }
            Err((code, why)) => self.reply_error(peer, Some(id), code, why).await,
        }
    }

    /// Counter sync for every channel with `peer`: what we hold of theirs and ours.
    pub(crate) async fn sync_with(&self, peer: Address) {
        for (_, slot) in self.slots() {
            // Only open channels with this peer have counters to sync (a channel still being
            // proposed is unknown to the peer).
            let relevant = {
                let entry = self.lock_entry(&slot).await;
                self.inner
                    .manager
                    .counter_sync(&entry.state.channel, peer)
                    .is_some()
            };
            if !relevant {
                continue;
            }
            // Never hand out a voucher whose payment is still in flight: its outcome (answered,
            // or refused and taken back) must be settled first, or the peer would count a
            // payment we report as refused.
            let _in_flight = slot.paying.lock().await;
            let message = {
                let entry = self.lock_entry(&slot).await;
                match self.inner.manager.counter_sync(&entry.state.channel, peer) {
                    Some(message) => message,
                    None => continue,
                }
            };
            let _ = self.send(peer, &message).await;
        }
    }

    async fn on_sync(
        &self,
        peer: Address,
        id: ChannelId,
        yours: Option<SignedVoucher>,
        mine: Option<SignedVoucher>,
    ) {
        let Some(slot) = self.peer_slot(peer, id).await else {
            return;
        };
        let mut entry = self.lock_entry(&slot).await;
        let mut next = entry.state.clone();
        let outcome = self.inner.manager.handle_counter_sync(
            &mut next.channel,
            yours.as_ref(),
            mine.as_ref(),
        );
        if let Some(e) = &outcome.ours_refused {
            tracing::warn!(%peer, channel = %id, error = %e, "bad counter sync");
        }
        if let Some(e) = &outcome.theirs_refused {
            tracing::debug!(%peer, channel = %id, error = %e, "resent voucher not taken");
        }
        if outcome.changed() {
            if let Err(e) = self.save(&mut entry, next, vec![], None).await {
                tracing::error!(channel = %id, error = %e, "cannot persist counter sync");
            } else {
                tracing::info!(%peer, channel = %id, "counters recovered from the peer");
            }
        }
    }
}
