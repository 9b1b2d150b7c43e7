//! What both parties sign: withdrawals while the channel is open (proposed, co-signed,
//! reserved until the ledger executes or they expire) and cooperative settlements, with the
//! counters each one fixes (`docs/PROTOCOL.md`).

#[allow(clippy::wildcard_imports)]
use super::*;

impl Channel {
    /// Proposes to withdraw `amount` while the channel stays open. Returns the certificate and
    /// our signature, to send to the peer. The amount is reserved at once (we cannot spend it)
    /// until the ledger executes the certificate or `expiry` passes.
    pub fn propose_withdrawal(
        &mut self,
        key: &SigningKey,
        amount: Amount,
        expiry: u64,
        now: u64,
    ) -> Result<(Withdrawal, Signature), CommandError> {
        self.require_open()?;
        self.check_key(key)?;
        if self.my_withdrawal.is_some() || self.reserved.get(self.role).is_some() {
            return Err(CommandError::WithdrawalPending);
        }
        if amount == 0 {
            return Err(CommandError::ZeroAmount);
        }
        if expiry <= now {
            return Err(CommandError::Expired { expiry, now });
        }
        let available = self.available(self.role);
        if amount > available {
            return Err(CommandError::InsufficientBalance {
                requested: amount,
                available,
            });
        }
        let total_withdrawn = self
            .withdrawn_or_reserved(self.role)
            .checked_add(amount)
            .ok_or(CommandError::Overflow)?;
        let withdrawal = Withdrawal {
            channel_id: self.id,
            party: self.me(),
            total_withdrawn,
            paid_by_a: self.paid_by(Role::A),
            paid_by_b: self.paid_by(Role::B),
            expiry,
        };
        let signature = withdrawal.sign(&self.domain, key);
        *self.reserved.get_mut(self.role) = Some(withdrawal);
        self.my_withdrawal = Some(Box::new((withdrawal, signature)));
        Ok((withdrawal, signature))
    }

    /// Completes our withdrawal proposal with the peer's signature: the certificate is ready
    /// for the ledger.
    pub fn handle_withdrawal_signature(
        &mut self,
        peer_signature: &Signature,
    ) -> Result<CoSigned<Withdrawal>, CommandError> {
        let (withdrawal, mine) = self
            .my_withdrawal
            .as_deref()
            .copied()
            .ok_or(CommandError::NothingPending)?;
        if !peer_signature.verify(&withdrawal.signing_hash(&self.domain), self.peer()) {
            return Err(CommandError::BadPeerSignature);
        }
        Ok(self.co_signed(withdrawal, mine, *peer_signature))
    }

    /// Checks the peer's withdrawal certificate and co-signs it if it takes nothing of ours:
    /// the peer's counter is at least its latest voucher, ours at most what we signed, and the
    /// peer stays at or above zero. The peer's new total counts as withdrawn at once.
    pub fn handle_withdrawal_request(
        &mut self,
        key: &SigningKey,
        withdrawal: &Withdrawal,
        peer_signature: &Signature,
        now: u64,
    ) -> Result<Signature, CertificateRejection> {
        if self.phase != Phase::Open {
            return Err(CertificateRejection::NotOpen(self.phase.name()));
        }
        if withdrawal.channel_id != self.id {
            return Err(CertificateRejection::WrongChannel(withdrawal.channel_id));
        }
        if withdrawal.party != self.peer() {
            return Err(CertificateRejection::WrongParty(withdrawal.party));
        }
        if withdrawal.expiry <= now {
            return Err(CertificateRejection::Expired {
                expiry: withdrawal.expiry,
                now,
            });
        }
        let peer = self.role.peer();
        let (paid_peer, paid_me) = self.counters_in(withdrawal.paid_by_a, withdrawal.paid_by_b)?;
        if withdrawal.total_withdrawn <= self.withdrawn_or_reserved(peer) {
            return Err(CertificateRejection::NotIncreasing(
                withdrawal.total_withdrawn,
            ));
        }
        // The ledger's rule, with the certificate's counters: the peer must not go below zero.
        if sum(withdrawal.total_withdrawn, paid_peer) > sum(self.ledger.deposited.at(peer), paid_me)
        {
            return Err(CertificateRejection::OverBalance {
                total_withdrawn: withdrawal.total_withdrawn,
            });
        }
        // And with what we know now (the peer may have paid since its snapshot).
        if sum(withdrawal.total_withdrawn, self.paid_by(peer))
            > sum(self.ledger.deposited.at(peer), self.paid_by(self.role))
        {
            return Err(CertificateRejection::OverBalance {
                total_withdrawn: withdrawal.total_withdrawn,
            });
        }
        if !peer_signature.verify(&withdrawal.signing_hash(&self.domain), self.peer()) {
            return Err(CertificateRejection::BadSignature);
        }
        *self.reserved.get_mut(peer) = Some(*withdrawal);
        Ok(withdrawal.sign(&self.domain, key))
    }

    /// The counters of a certificate, as (peer's, ours), if they take nothing of ours.
    fn counters_in(
        &self,
        paid_by_a: Amount,
        paid_by_b: Amount,
    ) -> Result<(Amount, Amount), CertificateRejection> {
        let counters = Pair::new(paid_by_a, paid_by_b);
        let (paid_peer, paid_me) = (counters.at(self.role.peer()), counters.at(self.role));
        let known_peer = self.paid_by(self.role.peer());
        if paid_peer < known_peer {
            return Err(CertificateRejection::PeerCounterTooLow {
                claimed: paid_peer,
                known: known_peer,
            });
        }
        let known_me = self.paid_by(self.role);
        if paid_me > known_me {
            return Err(CertificateRejection::OurCounterTooHigh {
                claimed: paid_me,
                known: known_me,
            });
        }
        Ok((paid_peer, paid_me))
    }

    /// Proposes a cooperative settlement with both counters as we count them. Payments stop.
    pub fn propose_settlement(
        &mut self,
        key: &SigningKey,
    ) -> Result<(Settlement, Signature), CommandError> {
        if !matches!(self.phase, Phase::Open | Phase::Settling { .. }) {
            return Err(CommandError::NotOpen(self.phase.name()));
        }
        self.check_key(key)?;
        let settlement = Settlement {
            channel_id: self.id,
            paid_by_a: self.paid_by(Role::A),
            paid_by_b: self.paid_by(Role::B),
        };
        let signature = settlement.sign(&self.domain, key);
        self.my_settlement = Some(Box::new((settlement, signature)));
        self.phase = Phase::Settling { settlement };
        Ok((settlement, signature))
    }

    /// Completes our settlement proposal with the peer's signature.
    pub fn handle_settlement_signature(
        &mut self,
        peer_signature: &Signature,
    ) -> Result<CoSigned<Settlement>, CommandError> {
        let (settlement, mine) = self
            .my_settlement
            .as_deref()
            .copied()
            .ok_or(CommandError::NothingPending)?;
        if !peer_signature.verify(&settlement.signing_hash(&self.domain), self.peer()) {
            return Err(CommandError::BadPeerSignature);
        }
        Ok(self.co_signed(settlement, mine, *peer_signature))
    }

    /// Checks the peer's settlement and co-signs it if it takes nothing of ours. Payments stop.
    pub fn handle_settlement_request(
        &mut self,
        key: &SigningKey,
        settlement: &Settlement,
        peer_signature: &Signature,
    ) -> Result<Signature, CertificateRejection> {
        if !matches!(self.phase, Phase::Open | Phase::Settling { .. }) {
            return Err(CertificateRejection::NotOpen(self.phase.name()));
        }
        if settlement.channel_id != self.id {
            return Err(CertificateRejection::WrongChannel(settlement.channel_id));
        }
        self.counters_in(settlement.paid_by_a, settlement.paid_by_b)?;
        if !peer_signature.verify(&settlement.signing_hash(&self.domain), self.peer()) {
            return Err(CertificateRejection::BadSignature);
        }
        self.phase = Phase::Settling {
            settlement: *settlement,
        };
        Ok(settlement.sign(&self.domain, key))
    }

    fn co_signed<T>(&self, body: T, mine: Signature, peers: Signature) -> CoSigned<T> {
        match self.role {
            Role::A => CoSigned {
                body,
                sig_a: mine,
                sig_b: peers,
            },
            Role::B => CoSigned {
                body,
                sig_a: peers,
                sig_b: mine,
            },
        }
    }
}
