//! Channel proposals decided by the node's user, over an API, before an expiry (perun-node's
//! "accept or reject each proposal").
//!
//! [`ProposalDecisions`] is a [`ProposalHandler`]: a proposal that passed the node's
//! [`ChannelPolicy`](crate::ChannelPolicy) is held as a [`PendingProposal`], announced to every
//! subscriber ([`ProposalDecisions::subscribe`]) and listed by
//! [`ProposalDecisions::pending`], and the proposer is answered when the user calls
//! [`ProposalDecisions::accept`] or [`ProposalDecisions::reject`]. A proposal nobody decides
//! before its expiry is **rejected** (never accepted by default), with a reason that says so;
//! deciding it afterwards is refused with [`DecisionError::Unknown`] and changes nothing.
//!
//! The proposer waits for the answer up to its own `request_timeout` (30 s by default), which
//! the proposal does not carry: keep the decision window below the proposers'
//! (`docs/API.md`). The APIs (JSON-RPC today) are thin layers over this one registry.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use async_trait::async_trait;
use paychan_core::{Address, Amount, ChannelId, ChannelParams, Domain};
use tokio::sync::{broadcast, oneshot};

use crate::node::ProposalHandler;

/// How many announcements a slow subscriber may lag behind before it misses some (it can
/// still list the pending proposals).
const ANNOUNCEMENTS: usize = 256;

/// The longest reason a rejection carries to the proposer (longer ones are cut).
pub const MAX_REASON_LEN: usize = 256;

/// A proposal waiting for the user's decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingProposal {
    /// The channel the proposal would open (what `accept`/`reject` name).
    pub channel_id: ChannelId,
    /// The proposer.
    pub peer: Address,
    /// What the proposer deposits at open.
    pub deposit: Amount,
    /// The asset: zero for the ledger's native asset, else a token address.
    pub token: Address,
    /// The channel's challenge period, in seconds.
    pub challenge_period: u64,
    /// When the proposal arrived, in milliseconds since the Unix epoch.
    pub received_at_ms: u64,
    /// When it is rejected if still undecided, in milliseconds since the Unix epoch.
    pub expires_at_ms: u64,
}

/// Why a decision was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecisionError {
    /// No proposal of that channel is waiting: unknown, already decided, or expired (the
    /// proposer was then told it was rejected).
    #[error(
        "no proposal of channel {0} is waiting for a decision: unknown, already decided, or expired (expired proposals are rejected)"
    )]
    Unknown(ChannelId),
}

struct Waiting {
    proposal: PendingProposal,
    answer: oneshot::Sender<Result<(), String>>,
}

/// The registry of proposals waiting for a decision (see the module docs).
pub struct ProposalDecisions {
    domain: Domain,
    window: Duration,
    waiting: Mutex<HashMap<ChannelId, Waiting>>,
    announce: broadcast::Sender<PendingProposal>,
}

impl std::fmt::Debug for ProposalDecisions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProposalDecisions")
            .field("window", &self.window)
            .field("waiting", &self.lock().len())
            .finish_non_exhaustive()
    }
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `window` as people say it: "20 s", "2 min 30 s".
fn human(window: Duration) -> String {
    let secs = window.as_secs();
    match (secs / 60, secs % 60) {
        (0, 0) => format!("{} ms", window.as_millis()),
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

impl ProposalDecisions {
    /// Proposals of channels on `domain` (the node's ledger), each rejected if undecided
    /// after `window`.
    pub fn new(domain: Domain, window: Duration) -> Arc<Self> {
        let (announce, _) = broadcast::channel(ANNOUNCEMENTS);
        Arc::new(ProposalDecisions {
            domain,
            window,
            waiting: Mutex::new(HashMap::new()),
            announce,
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<ChannelId, Waiting>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How long a proposal waits for a decision.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The proposals waiting now, oldest first.
    pub fn pending(&self) -> Vec<PendingProposal> {
        let mut list: Vec<PendingProposal> =
            self.lock().values().map(|w| w.proposal.clone()).collect();
        list.sort_by_key(|p| (p.received_at_ms, p.channel_id));
        list
    }

    /// Every proposal that arrives from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<PendingProposal> {
        self.announce.subscribe()
    }

    /// Accepts the proposal of `channel_id`: the node persists the channel and tells the
    /// proposer, who then opens it on the ledger.
    pub fn accept(&self, channel_id: ChannelId) -> Result<(), DecisionError> {
        self.deliver(channel_id, Ok(()))
    }

    /// Rejects the proposal of `channel_id`, telling the proposer `reason` (cut to
    /// [`MAX_REASON_LEN`] bytes).
    pub fn reject(&self, channel_id: ChannelId, reason: &str) -> Result<(), DecisionError> {
        let reason = if reason.trim().is_empty() {
            "rejected by the user".to_owned()
        } else {
            cut(reason.trim(), MAX_REASON_LEN).to_owned()
        };
        self.deliver(channel_id, Err(reason))
    }

    fn deliver(
        &self,
        channel_id: ChannelId,
        verdict: Result<(), String>,
    ) -> Result<(), DecisionError> {
        let waiting = self
            .lock()
            .remove(&channel_id)
            .ok_or(DecisionError::Unknown(channel_id))?;
        // The node stopped waiting just now (its timeout fired first): too late as well.
        waiting
            .answer
            .send(verdict)
            .map_err(|_| DecisionError::Unknown(channel_id))
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    text.get(..end).unwrap_or_default()
}

/// Takes the proposal out of the registry when the node stops waiting, however that happens
/// (the decision, the expiry, or the proposer's connection task being cancelled).
struct Remove<'a> {
    decisions: &'a ProposalDecisions,
    channel_id: ChannelId,
}

impl Drop for Remove<'_> {
    fn drop(&mut self) {
        self.decisions.lock().remove(&self.channel_id);
    }
}

#[async_trait]
impl ProposalHandler for Arc<ProposalDecisions> {
    async fn decide(
        &self,
        peer: Address,
        params: ChannelParams,
        deposit: Amount,
    ) -> Result<(), String> {
        let channel_id = params.id(&self.domain);
        let now = SystemTime::now();
        let proposal = PendingProposal {
            channel_id,
            peer,
            deposit,
            token: params.token,
            challenge_period: params.challenge_period,
            received_at_ms: unix_ms(now),
            expires_at_ms: unix_ms(now.checked_add(self.window).unwrap_or(now)),
        };
        let (answer, verdict) = oneshot::channel();
        {
            let mut waiting = self.lock();
            if waiting.contains_key(&channel_id) {
                return Err(format!(
                    "channel {channel_id} is already waiting for a decision"
                ));
            }
            waiting.insert(
                channel_id,
                Waiting {
                    proposal: proposal.clone(),
                    answer,
                },
            );
        }
        let _remove = Remove {
            decisions: self,
            channel_id,
        };
        // Nobody subscribed is fine: the user may list and decide later, within the window.
        let _ = self.announce.send(proposal);
        tracing::info!(%channel_id, %peer, %deposit, window = %human(self.window), "channel proposal waiting for a decision");
        match tokio::time::timeout(self.window, verdict).await {
            Ok(Ok(verdict)) => verdict,
            Ok(Err(_)) => Err("the proposal was dropped undecided".to_owned()),
            Err(_) => {
                tracing::info!(%channel_id, %peer, "channel proposal expired undecided: rejected");
                Err(format!(
                    "no decision within {}: rejected",
                    human(self.window)
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use paychan_core::B256;

    fn params(nonce: u8) -> ChannelParams {
        ChannelParams {
            party_a: Address::repeat_byte(0xa1),
            party_b: Address::repeat_byte(0xb0),
            token: Address::ZERO,
            challenge_period: 600,
            nonce: B256::repeat_byte(nonce),
        }
    }

    fn domain() -> Domain {
        Domain::new(1337, Address::repeat_byte(0xcc))
    }

    #[tokio::test]
    async fn accepted_rejected_and_expired() {
        let decisions = ProposalDecisions::new(domain(), Duration::from_secs(60));
        let mut announced = decisions.subscribe();
        let handler = decisions.clone();
        let accept = tokio::spawn(async move {
            handler
                .decide(Address::repeat_byte(0xa1), params(1), 100)
                .await
        });
        let proposal = announced.recv().await.unwrap();
        assert_eq!(proposal.channel_id, params(1).id(&domain()));
        assert_eq!(proposal.deposit, 100);
        assert_eq!(
            proposal
                .expires_at_ms
                .saturating_sub(proposal.received_at_ms),
            60_000
        );
        assert_eq!(decisions.pending(), vec![proposal.clone()]);
        decisions.accept(proposal.channel_id).unwrap();
        assert_eq!(accept.await.unwrap(), Ok(()));
        assert!(decisions.pending().is_empty());
        // Decided once: a second decision is refused.
        assert_eq!(
            decisions.reject(proposal.channel_id, "late"),
            Err(DecisionError::Unknown(proposal.channel_id))
        );

        let handler = decisions.clone();
        let reject = tokio::spawn(async move {
            handler
                .decide(Address::repeat_byte(0xa1), params(2), 5)
                .await
        });
        let proposal = announced.recv().await.unwrap();
        decisions
            .reject(proposal.channel_id, &"é".repeat(MAX_REASON_LEN))
            .unwrap();
        let reason = reject.await.unwrap().unwrap_err();
        assert!(reason.len() <= MAX_REASON_LEN && reason.starts_with('é'));

        // Undecided: rejected at the expiry, never accepted; deciding afterwards fails.
        let short = ProposalDecisions::new(domain(), Duration::from_millis(50));
        let reason = short
            .decide(Address::repeat_byte(0xa1), params(3), 5)
            .await
            .unwrap_err();
        assert_eq!(reason, "no decision within 50 ms: rejected");
        assert!(short.pending().is_empty());
        assert!(short.accept(params(3).id(&domain())).is_err());
    }

    #[tokio::test]
    async fn a_second_proposal_of_the_same_channel_is_refused_while_one_waits() {
        let decisions = ProposalDecisions::new(domain(), Duration::from_secs(60));
        let mut announced = decisions.subscribe();
        let handler = decisions.clone();
        let first = tokio::spawn(async move {
            handler
                .decide(Address::repeat_byte(0xa1), params(1), 1)
                .await
        });
        let proposal = announced.recv().await.unwrap();
        let again = decisions
            .decide(Address::repeat_byte(0xa1), params(1), 1)
            .await;
        assert!(again.unwrap_err().contains("already waiting"));
        // The first one still waits, and is decided normally.
        assert_eq!(decisions.pending().len(), 1);
        decisions.accept(proposal.channel_id).unwrap();
        assert_eq!(first.await.unwrap(), Ok(()));
    }

    #[test]
    fn windows_read_as_people_say_them() {
        assert_eq!(human(Duration::from_secs(20)), "20 s");
        assert_eq!(human(Duration::from_secs(150)), "2 min 30 s");
        assert_eq!(human(Duration::from_secs(120)), "2 min");
        assert_eq!(human(Duration::from_millis(50)), "50 ms");
    }
}
