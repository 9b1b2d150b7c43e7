//! Matching a peer's answers to what waits for them: requests carry a request id (payments,
//! plain messages), channel-scoped exchanges are keyed by the channel and what they wait
//! for (a proposal's answer, a co-signature). An answer counts only from the peer the
//! request went to; an error with a request id answers that request, one with only a
//! channel id answers every wait of that channel. `T` is whatever the driver wakes (a
//! oneshot sender, say).

use std::collections::HashMap;

use alloy_primitives::Address;

use crate::{types::ChannelId, wire::Message};

/// What a channel-scoped answer answers.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Wait {
    /// `accept_channel` or `reject_channel`.
    Proposal,
    /// `withdraw_signature`.
    Withdrawal,
    /// `settlement_signature`.
    Settlement,
}

impl Wait {
    const ALL: [Wait; 3] = [Wait::Proposal, Wait::Withdrawal, Wait::Settlement];

    /// The channel-scoped wait `message` answers, if it answers one.
    pub fn answered_by(message: &Message) -> Option<(ChannelId, Wait)> {
        match *message {
            Message::AcceptChannel { channel_id } | Message::RejectChannel { channel_id, .. } => {
                Some((channel_id, Wait::Proposal))
            }
            Message::WithdrawSignature { channel_id, .. } => Some((channel_id, Wait::Withdrawal)),
            Message::SettlementSignature { channel_id, .. } => Some((channel_id, Wait::Settlement)),
            _ => None,
        }
    }
}

/// What a peer's message is to [`Replies`].
#[derive(Debug, PartialEq, Eq)]
pub enum Resolution<T> {
    /// An answer (or an error, or a pong): wake these with it (none if nobody waits for it
    /// any more, e.g. after a timeout).
    Answer(Vec<T>),
    /// Not an answer: a request or notice for the driver to handle.
    NotAnAnswer,
}

/// Who waits for which answer of which peer.
#[derive(Debug)]
pub struct Replies<T> {
    requests: HashMap<u64, (Address, T)>,
    waits: HashMap<(ChannelId, Wait), (Address, T)>,
}

impl<T> Default for Replies<T> {
    fn default() -> Self {
        Replies {
            requests: HashMap::new(),
            waits: HashMap::new(),
        }
    }
}

impl<T> Replies<T> {
    /// Nobody waits.
    pub fn new() -> Self {
        Self::default()
    }

    /// `waiter` waits for `peer`'s answer to request `id`.
    pub fn expect_request(&mut self, peer: Address, id: u64, waiter: T) {
        self.requests.insert(id, (peer, waiter));
    }

    /// `waiter` waits for `peer`'s answer of kind `wait` on `channel`; answers the waiter it
    /// replaces, if any (one exchange of a kind per channel at a time).
    pub fn expect(
        &mut self,
        peer: Address,
        channel: ChannelId,
        wait: Wait,
        waiter: T,
    ) -> Option<T> {
        self.waits
            .insert((channel, wait), (peer, waiter))
            .map(|(_, old)| old)
    }

    /// Stops waiting for request `id` (timed out, or never sent).
    pub fn forget_request(&mut self, id: u64) -> Option<T> {
        self.requests.remove(&id).map(|(_, w)| w)
    }

    /// Stops waiting for the answer of kind `wait` on `channel`.
    pub fn forget(&mut self, channel: ChannelId, wait: Wait) -> Option<T> {
        self.waits.remove(&(channel, wait)).map(|(_, w)| w)
    }

    /// Everyone waiting for `peer`, who will not answer (its connection is gone).
    pub fn fail_peer(&mut self, peer: Address) -> Vec<T> {
        let mut failed = Vec::new();
        for id in self.requests_of(peer) {
            failed.extend(self.forget_request(id));
        }
        let waits: Vec<_> = self
            .waits
            .iter()
            .filter(|(_, (p, _))| *p == peer)
            .map(|(key, _)| *key)
            .collect();
        for (channel, wait) in waits {
            failed.extend(self.forget(channel, wait));
        }
        failed
    }

    /// How many wait, requests and channel exchanges together.
    pub fn len(&self) -> usize {
        self.requests.len().saturating_add(self.waits.len())
    }

    /// Whether nobody waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn requests_of(&self, peer: Address) -> Vec<u64> {
        self.requests
            .iter()
            .filter(|(_, (p, _))| *p == peer)
            .map(|(id, _)| *id)
            .collect()
    }

    fn take_request(&mut self, peer: Address, id: u64) -> Option<T> {
        if self.requests.get(&id).is_some_and(|(p, _)| *p == peer) {
            self.forget_request(id)
        } else {
            None
        }
    }

    fn take_wait(&mut self, peer: Address, key: (ChannelId, Wait)) -> Option<T> {
        if self.waits.get(&key).is_some_and(|(p, _)| *p == peer) {
            self.forget(key.0, key.1)
        } else {
            None
        }
    }

    /// A message from `peer`: whom it answers, if it is an answer. The waiters it answers
    /// stop waiting.
    pub fn resolve(&mut self, peer: Address, message: &Message) -> Resolution<T> {
        let woken = match message {
            Message::PayResult { request_id, .. } | Message::Response { request_id, .. } => {
                self.take_request(peer, *request_id).into_iter().collect()
            }
            Message::AcceptChannel { .. }
            | Message::RejectChannel { .. }
            | Message::WithdrawSignature { .. }
            | Message::SettlementSignature { .. } => Wait::answered_by(message)
                .and_then(|key| self.take_wait(peer, key))
                .into_iter()
                .collect(),
            Message::Error {
                request_id: Some(id),
                ..
            } => self.take_request(peer, *id).into_iter().collect(),
            Message::Error {
                channel_id: Some(channel),
                request_id: None,
                ..
            } => Wait::ALL
                .into_iter()
                .filter_map(|wait| self.take_wait(peer, (*channel, wait)))
                .collect(),
            Message::Error { .. } | Message::Pong { .. } => Vec::new(),
            _ => return Resolution::NotAnAnswer,
        };
        Resolution::Answer(woken)
    }
}
