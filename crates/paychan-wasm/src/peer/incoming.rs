//! What arrives from the peer: the handshake's messages, then frames, each decoded by the
//! core's codec and handled by the core's channel and manager; and the payee's side of a
//! payment (the voucher checked, the handler asked, the voucher kept before the answer).

use paychan_core::{
    Address, ChannelId,
    crypto::Signature,
    eip712::{Settlement, SignedVoucher, Withdrawal, memo_of},
    manager::{Funds, VoucherStep},
    wire::{self, ErrorBody, MAX_BODY_LEN, Message, ProposeChannel, Reply},
};

use super::{Cosigned, Event, Incoming, Link, Peer, Slot, is_open};
use crate::payer::Error;

impl Peer {
    /// A carrier message from the peer. An error means the connection is finished: close
    /// the carrier and call [`Peer::disconnected`].
    pub fn receive(&mut self, message: &[u8]) -> Result<(), Error> {
        match std::mem::replace(&mut self.link, Link::Down) {
            Link::Down => Err("not connected".into()),
            Link::Dialing {
                initiator,
                expected,
                identity,
            } => {
                let (third, session) = initiator
                    .finish(message, expected, &identity)
                    .map_err(|e| e.to_string())?;
                self.transmit.push_back(third);
                self.up(session);
                Ok(())
            }
            Link::Accepting {
                mut responder,
                identity,
                answered,
            } => {
                let r = responder.take().ok_or("handshake state lost")?;
                if answered {
                    let session = r.complete(message).map_err(|e| e.to_string())?;
                    self.up(session);
                } else {
                    let mut r = r;
                    let second = r
                        .answer(message, identity.binding())
                        .map_err(|e| e.to_string())?;
                    self.transmit.push_back(second);
                    self.link = Link::Accepting {
                        responder: Some(r),
                        identity,
                        answered: true,
                    };
                }
                Ok(())
            }
            Link::Up(mut session) => {
                let frame = session.open(message).map_err(|e| e.to_string());
                self.link = Link::Up(session);
                match frame? {
                    Some(frame) => {
                        let message = wire::decode(&frame).map_err(|e| e.to_string())?;
                        self.dispatch(message)
                    }
                    None => Ok(()),
                }
            }
        }
    }

    /// The handshake is done: the counter sync of every channel with the peer goes first.
    fn up(&mut self, session: paychan_net::NoiseSession) {
        let peer = session.peer();
        self.link = Link::Up(session);
        self.events.push_back(Event::Connected { peer });
        let syncs: Vec<Message> = self
            .channels
            .values()
            .filter_map(|s| self.manager.counter_sync(&s.channel, peer))
            .collect();
        for sync in syncs {
            // Sealing cannot fail for a message this small; if it did, the peer's own sync
            // still settles its view.
            let _ = self.send(&sync);
        }
    }

    fn peer(&self) -> Result<Address, Error> {
        self.connected().ok_or_else(|| "not connected".to_owned())
    }

    /// The channel `id` if it is with the connected peer.
    fn peer_slot(&mut self, id: ChannelId) -> Option<&mut Slot> {
        let peer = self.connected()?;
        self.channels
            .get_mut(&id)
            .filter(|s| s.channel.peer() == peer)
    }

    fn peer_slot_ref(&self, id: ChannelId) -> Option<&Slot> {
        let peer = self.connected()?;
        self.channels.get(&id).filter(|s| s.channel.peer() == peer)
    }

    fn dispatch(&mut self, message: Message) -> Result<(), Error> {
        match message {
            Message::Ping { nonce } => self.send(&Message::Pong { nonce }),
            Message::Pong { .. } => Ok(()),
            Message::PayResult {
                request_id, reply, ..
            } => {
                self.on_pay_result(request_id, reply);
                Ok(())
            }
            Message::Error {
                channel_id,
                request_id,
                error,
            } => {
                match request_id {
                    Some(id) if self.paying.contains_key(&id) => {
                        self.on_pay_result(id, Reply::Err(error));
                    }
                    _ => self.events.push_back(Event::PeerError {
                        channel_id,
                        code: error.code,
                        message: error.message,
                    }),
                }
                Ok(())
            }
            Message::AcceptChannel { channel_id } => {
                if let Some(slot) = self.peer_slot(channel_id).filter(|s| s.proposing) {
                    slot.proposing = false;
                    self.events.push_back(Event::Accepted { channel_id });
                }
                Ok(())
            }
            Message::RejectChannel { channel_id, reason } => {
                let proposed = self
                    .peer_slot(channel_id)
                    .is_some_and(|s| s.proposing && !is_open(&s.channel));
                if proposed {
                    self.channels.remove(&channel_id);
                    self.changed(channel_id);
                    self.events
                        .push_back(Event::Rejected { channel_id, reason });
                }
                Ok(())
            }
            Message::WithdrawSignature {
                channel_id,
                signature,
            } => {
                self.on_cosignature(channel_id, &signature, true);
                Ok(())
            }
            Message::SettlementSignature {
                channel_id,
                signature,
            } => {
                self.on_cosignature(channel_id, &signature, false);
                Ok(())
            }
            Message::CounterSync {
                channel_id,
                yours,
                mine,
            } => {
                self.on_counter_sync(channel_id, yours.as_ref(), mine.as_ref());
                Ok(())
            }
            Message::ProposeChannel(p) => self.on_proposal(&p),
            Message::Pay {
                request_id,
                voucher,
                body,
            } => self.on_pay(request_id, voucher, body),
            Message::WithdrawRequest {
                withdrawal,
                signature,
            } => self.on_withdraw_request(&withdrawal, &signature),
            Message::SettlementRequest {
                settlement,
                signature,
            } => self.on_settlement_request(&settlement, &signature),
            Message::Request { request_id, .. } => self.send(&Message::Response {
                request_id,
                reply: Reply::Err(ErrorBody::new(
                    ErrorBody::REFUSED,
                    "plain messages are not served here",
                )),
            }),
            // Answers to requests we never send, and messages of later versions.
            _ => Ok(()),
        }
    }

    fn on_pay_result(&mut self, request_id: u64, reply: Reply) {
        let Some(p) = self.paying.remove(&request_id) else {
            return;
        };
        let channel_id = p.channel;
        let Some(slot) = self.channels.get_mut(&channel_id) else {
            return;
        };
        slot.paying = None;
        match reply {
            Reply::Ok(response) => {
                let response = serde_json::from_slice(&response).unwrap_or_else(|_| {
                    serde_json::Value::String(String::from_utf8_lossy(&response).into_owned())
                });
                self.events.push_back(Event::Paid {
                    request_id,
                    channel_id,
                    amount: p.amount.to_string(),
                    response,
                });
            }
            Reply::Err(error) => {
                // Refused: not counted by the peer, so taken back (the node's rule).
                if slot.channel.cancel_payment(&p.voucher).is_ok() {
                    self.changed(channel_id);
                }
                self.events.push_back(Event::Refused {
                    request_id,
                    channel_id,
                    amount: p.amount.to_string(),
                    code: error.code,
                    message: error.message,
                });
            }
        }
    }

    fn on_cosignature(&mut self, channel_id: ChannelId, signature: &Signature, withdrawal: bool) {
        let Some(slot) = self.peer_slot(channel_id) else {
            return;
        };
        let result = if withdrawal {
            slot.channel
                .handle_withdrawal_signature(signature)
                .map(Cosigned::Withdrawal)
        } else {
            slot.channel
                .handle_settlement_signature(signature)
                .map(Cosigned::Settlement)
        };
        match result {
            Ok(cosigned) => {
                slot.cosigned = Some(cosigned);
                self.changed(channel_id);
                self.events.push_back(Event::Cosigned {
                    channel_id,
                    kind: if withdrawal {
                        "withdrawal"
                    } else {
                        "settlement"
                    }
                    .to_owned(),
                });
            }
            Err(e) => self.events.push_back(Event::CosignRefused {
                channel_id,
                message: e.to_string(),
            }),
        }
    }

    fn on_counter_sync(
        &mut self,
        channel_id: ChannelId,
        yours: Option<&SignedVoucher>,
        mine: Option<&SignedVoucher>,
    ) {
        let Some(slot) = self.peer_slot(channel_id) else {
            return;
        };
        // Never while our payment is in flight (its outcome decides first); the next
        // connection's sync comes again.
        if slot.paying.is_some() {
            return;
        }
        let mut next = slot.channel.clone();
        let outcome = self.manager.handle_counter_sync(&mut next, yours, mine);
        if !outcome.changed() {
            return;
        }
        if let Some(slot) = self.channels.get_mut(&channel_id) {
            slot.channel = next;
        }
        self.changed(channel_id);
        self.events.push_back(Event::Synced {
            channel_id,
            counter_moved: outcome.counter_moved,
            recovered: outcome.recovered.to_string(),
        });
    }

    /// A peer proposes a channel: the core's manager decides under its policy; accepted, it
    /// is stored before the acceptance leaves.
    fn on_proposal(&mut self, p: &ProposeChannel) -> Result<(), Error> {
        let peer = self.peer()?;
        let id = p.params.id(&p.domain);
        let exists = self.channels.contains_key(&id);
        match self.manager.handle_proposal(peer, p, exists, 0) {
            Ok(channel) => {
                self.channels.insert(id, Slot::new(channel));
                self.changed(id);
                self.events.push_back(Event::Proposed {
                    channel_id: id,
                    deposit: p.deposit.to_string(),
                });
                self.send(&Message::AcceptChannel { channel_id: id })
            }
            Err(why) => self.send(&Message::RejectChannel {
                channel_id: id,
                reason: why.to_string(),
            }),
        }
    }

    /// A payment to us: checked by the manager, then handed to the handler
    /// ([`Event::Payment`]); a voucher over the deposits we know asks for the ledger's
    /// record first ([`Event::NeedsLedger`]).
    fn on_pay(
        &mut self,
        request_id: u64,
        voucher: SignedVoucher,
        body: Vec<u8>,
    ) -> Result<(), Error> {
        let channel_id = voucher.voucher.channel_id;
        let incoming = Incoming {
            peer_request: request_id,
            channel: channel_id,
            voucher,
            body,
        };
        self.check_incoming(incoming, Funds::Known)
    }

    fn check_incoming(&mut self, incoming: Incoming, funds: Funds) -> Result<(), Error> {
        let channel_id = incoming.channel;
        let memo = memo_of(&incoming.body);
        let Some(slot) = self.peer_slot_ref(channel_id) else {
            return self.refuse(
                &incoming,
                ErrorBody::UNKNOWN_CHANNEL,
                format!("no channel {channel_id} with you"),
            );
        };
        match self
            .manager
            .check_voucher(&slot.channel, &incoming.voucher, memo, funds)
        {
            VoucherStep::Accept(accepted) => {
                let message = match serde_json::from_slice::<serde_json::Value>(&incoming.body) {
                    Ok(m) => m,
                    Err(e) => {
                        return self.refuse(
                            &incoming,
                            ErrorBody::MALFORMED,
                            format!("the message is not JSON: {e}"),
                        );
                    }
                };
                let id = self.next_incoming;
                self.next_incoming = self.next_incoming.saturating_add(1);
                let peer = self.peer()?;
                self.events.push_back(Event::Payment {
                    id,
                    channel_id,
                    peer,
                    amount: accepted.amount.to_string(),
                    message,
                });
                self.incoming.insert(id, incoming);
                Ok(())
            }
            VoucherStep::RefreshDeposits { .. } if funds == Funds::Known => {
                let id = self.next_incoming;
                self.next_incoming = self.next_incoming.saturating_add(1);
                self.incoming.insert(id, incoming);
                self.waiting_ledger.push((id, channel_id));
                self.events.push_back(Event::NeedsLedger { channel_id });
                Ok(())
            }
            VoucherStep::Refuse(why)
            | VoucherStep::RefreshDeposits { over: why }
            | VoucherStep::AskCredit { over: why } => {
                self.refuse(&incoming, ErrorBody::VOUCHER_REJECTED, why.to_string())
            }
        }
    }

    /// Payments that waited for the ledger's record of `channel_id` are checked again.
    pub(super) fn recheck_waiting(&mut self, channel_id: ChannelId) -> Result<(), Error> {
        let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting_ledger)
            .into_iter()
            .partition(|(_, c)| *c == channel_id);
        self.waiting_ledger = later;
        for (id, _) in now {
            if let Some(incoming) = self.incoming.remove(&id) {
                self.check_incoming(incoming, Funds::Refreshed)?;
            }
        }
        Ok(())
    }

    fn refuse(&mut self, incoming: &Incoming, code: u16, message: String) -> Result<(), Error> {
        self.events.push_back(Event::Declined {
            id: 0,
            channel_id: incoming.channel,
            message: message.clone(),
        });
        self.send(&Message::PayResult {
            request_id: incoming.peer_request,
            channel_id: incoming.channel,
            reply: Reply::Err(ErrorBody::new(code, message)),
        })
    }

    /// The handler's answer to payment `id` ([`Event::Payment`]): a response keeps the
    /// voucher (checked again, stored before the answer leaves); an error refuses it and
    /// nothing is counted. An id no longer waiting (the connection ended meanwhile) is
    /// ignored: its payer never got an answer and keeps it as unknown.
    pub fn answer_payment(
        &mut self,
        id: u64,
        answer: Result<serde_json::Value, String>,
    ) -> Result<(), Error> {
        let Some(incoming) = self.incoming.remove(&id) else {
            return Ok(());
        };
        let response = match answer {
            Ok(value) => serde_json::to_vec(&value).map_err(|e| e.to_string())?,
            Err(message) => {
                self.events.push_back(Event::Declined {
                    id,
                    channel_id: incoming.channel,
                    message: message.clone(),
                });
                return self.send(&Message::PayResult {
                    request_id: incoming.peer_request,
                    channel_id: incoming.channel,
                    reply: Reply::Err(ErrorBody::new(ErrorBody::HANDLER_ERROR, message)),
                });
            }
        };
        if response.len() > MAX_BODY_LEN {
            return self.refuse(
                &incoming,
                ErrorBody::HANDLER_ERROR,
                "the handler's response is too large".into(),
            );
        }
        let memo = memo_of(&incoming.body);
        let channel_id = incoming.channel;
        let Some(slot) = self.peer_slot_ref(channel_id) else {
            return self.refuse(
                &incoming,
                ErrorBody::UNKNOWN_CHANNEL,
                format!("no channel {channel_id} with you"),
            );
        };
        // Checked again: the channel may have moved while the handler ran.
        let accepted = match self.manager.check_voucher(
            &slot.channel,
            &incoming.voucher,
            memo,
            Funds::Refreshed,
        ) {
            VoucherStep::Accept(accepted) => accepted,
            VoucherStep::Refuse(why)
            | VoucherStep::RefreshDeposits { over: why }
            | VoucherStep::AskCredit { over: why } => {
                return self.refuse(&incoming, ErrorBody::VOUCHER_REJECTED, why.to_string());
            }
        };
        if let Some(slot) = self.channels.get_mut(&channel_id) {
            slot.channel = accepted.next;
        }
        self.changed(channel_id);
        self.events.push_back(Event::Received {
            id,
            channel_id,
            amount: accepted.amount.to_string(),
        });
        self.send(&Message::PayResult {
            request_id: incoming.peer_request,
            channel_id,
            reply: Reply::Ok(response),
        })
    }

    fn on_withdraw_request(
        &mut self,
        withdrawal: &Withdrawal,
        signature: &Signature,
    ) -> Result<(), Error> {
        let channel_id = withdrawal.channel_id;
        let key = self.key.clone();
        let now = self.now;
        let Some(slot) = self.peer_slot(channel_id) else {
            return self.send(&unknown(channel_id));
        };
        match slot
            .channel
            .handle_withdrawal_request(&key, withdrawal, signature, now)
        {
            Ok(cosig) => {
                self.changed(channel_id);
                self.send(&Message::WithdrawSignature {
                    channel_id,
                    signature: cosig,
                })
            }
            Err(why) => self.send(&Message::Error {
                channel_id: Some(channel_id),
                request_id: None,
                error: ErrorBody::new(ErrorBody::CERTIFICATE_REJECTED, why.to_string()),
            }),
        }
    }

    fn on_settlement_request(
        &mut self,
        settlement: &Settlement,
        signature: &Signature,
    ) -> Result<(), Error> {
        let channel_id = settlement.channel_id;
        let key = self.key.clone();
        let Some(slot) = self.peer_slot(channel_id) else {
            return self.send(&unknown(channel_id));
        };
        match slot
            .channel
            .handle_settlement_request(&key, settlement, signature)
        {
            Ok(cosig) => {
                self.changed(channel_id);
                self.send(&Message::SettlementSignature {
                    channel_id,
                    signature: cosig,
                })
            }
            Err(why) => self.send(&Message::Error {
                channel_id: Some(channel_id),
                request_id: None,
                error: ErrorBody::new(ErrorBody::CERTIFICATE_REJECTED, why.to_string()),
            }),
        }
    }
}

fn unknown(channel_id: ChannelId) -> Message {
    Message::Error {
        channel_id: Some(channel_id),
        request_id: None,
        error: ErrorBody::new(
            ErrorBody::UNKNOWN_CHANNEL,
            format!("no channel {channel_id} with you"),
        ),
    }
}
