//! The peer registry: which connection the node uses for each peer, the reading of its
//! frames, sending, and the matching of answers to the requests that wait for them.
//!
//! **One connection per peer.** Two nodes that both keep the other connected (each lists the
//! other under `[node] peers`) dial each other, so each may hold two connections to the same
//! peer. Both keep the same one, decided by a rule each side applies on its own: the
//! connection dialed by the lower of the two addresses wins. A new connection replaces the
//! current one, unless the current one is live and wins the tie-break while the new one
//! does not; then the new one is dropped at once. A newer connection from the same dialer
//! replaces an older one (the dialer only dials again once it saw its last connection end).
//! While the node holds the peer's winning connection, its own link to that peer does not
//! redial ([`Node::dial_hold`]), so a redial loop never replaces a live connection.
//!
//! **Backpressure.** Answers (to our requests) are handed to their waiter by the reader
//! itself. Every other message runs in a task of its own that holds one of the peer's
//! [`NodeConfig::max_requests_per_peer`](crate::NodeConfig::max_requests_per_peer) permits
//! until it is handled and answered; when they are all taken the reader stops reading, so the
//! transport's bounded buffers fill and the peer's sends block. A peer flooding requests holds
//! at most that many in the node, whatever it sends.
//!
//! See `docs/ARCHITECTURE.md` (paychan-node) and `docs/PROTOCOL.md` for the messages.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex as StdMutex},
};

pub(crate) use paychan_core::manager::Wait;
use paychan_core::{
    Address, ChannelId,
    manager::{Replies, replies::Resolution},
    wire::{self, ErrorBody, Message},
};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};

use crate::{
    error::NodeError,
    node::{Node, lock},
    peer::{Origin, PeerConnection},
};

/// Who waits for a peer's answer: woken with it, or dropped (the answer will not come).
type Waiter = oneshot::Sender<Message>;

/// The connection the node uses for one peer, as [`Node::connection_info`] shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// Numbers the connections the node took, from 1; a new number is a new connection.
    pub id: u64,
    /// Which side dialed it.
    pub origin: Origin,
    /// Messages of this peer being handled now (at most
    /// [`NodeConfig::max_requests_per_peer`](crate::NodeConfig::max_requests_per_peer)).
    pub in_flight: usize,
}

/// The connection in use for a peer.
struct Current {
    id: u64,
    origin: Origin,
    sender: mpsc::Sender<Vec<u8>>,
    /// Dropped with this entry (when the connection is replaced or gone): ends its reader.
    _stop: oneshot::Sender<()>,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    current: HashMap<Address, Current>,
    /// Per peer, the permits of messages in flight: shared by the peer's successive
    /// connections, dropped once the peer is gone and none is taken.
    limits: HashMap<Address, Arc<Semaphore>>,
    /// Per peer we dial: whether our link must wait (see [`Node::dial_hold`]).
    holds: HashMap<Address, watch::Sender<bool>>,
}

/// A connection taken into the registry.
struct Admitted {
    id: u64,
    limit: Arc<Semaphore>,
    stop: oneshot::Receiver<()>,
    replaced: bool,
}

/// Every peer's connection, and who waits for which answer.
pub(crate) struct Peers {
    me: Address,
    max_in_flight: usize,
    table: StdMutex<Table>,
    /// Who waits for which answer (the manager's matching).
    replies: StdMutex<Replies<Waiter>>,
}

impl Peers {
    pub(crate) fn new(me: Address, max_in_flight: usize) -> Self {
        Peers {
            me,
            max_in_flight: max_in_flight.max(1),
            table: StdMutex::new(Table::default()),
            replies: StdMutex::new(Replies::new()),
        }
    }

    /// Whether a connection with `peer` of `origin` wins the tie-break: it was dialed by the
    /// lower of the two addresses.
    fn wins(&self, peer: Address, origin: Origin) -> bool {
        let dialer = match origin {
            Origin::Dialed => self.me,
            Origin::Accepted => peer,
        };
        dialer == self.me.min(peer)
    }

    /// Whether a new connection of ours to `peer` would be refused now.
    fn held(&self, table: &Table, peer: Address) -> bool {
        table.current.get(&peer).is_some_and(|c| {
            !c.sender.is_closed() && self.wins(peer, c.origin) && !self.wins(peer, Origin::Dialed)
        })
    }

    fn update_hold(&self, table: &Table, peer: Address) {
        if let Some(hold) = table.holds.get(&peer) {
            let held = self.held(table, peer);
            hold.send_if_modified(|h| std::mem::replace(h, held) != held);
        }
    }

    /// Takes `sender` as the connection to `peer`, or refuses it (`None`) if the current one
    /// is live and wins the tie-break while this one does not.
    fn admit(
        &self,
        peer: Address,
        origin: Origin,
        sender: mpsc::Sender<Vec<u8>>,
    ) -> Option<Admitted> {
        let mut table = lock(&self.table);
        let keep_current = table.current.get(&peer).is_some_and(|c| {
            !c.sender.is_closed() && self.wins(peer, c.origin) && !self.wins(peer, origin)
        });
        if keep_current {
            return None;
        }
        table.next_id = table.next_id.saturating_add(1);
        let id = table.next_id;
        let (stop_tx, stop) = oneshot::channel();
        let replaced = table
            .current
            .insert(
                peer,
                Current {
                    id,
                    origin,
                    sender,
                    _stop: stop_tx,
                },
            )
            .is_some();
        let max = self.max_in_flight;
        let limit = table
            .limits
            .entry(peer)
            .or_insert_with(|| Arc::new(Semaphore::new(max)))
            .clone();
        self.update_hold(&table, peer);
        Some(Admitted {
            id,
            limit,
            stop,
            replaced,
        })
    }

    /// Forgets connection `id` of `peer` if it is still the current one (answers whether it
    /// was).
    fn remove(&self, peer: Address, id: u64) -> bool {
        let mut table = lock(&self.table);
        let current = table.current.get(&peer).is_some_and(|c| c.id == id);
        if current {
            table.current.remove(&peer);
            self.update_hold(&table, peer);
        }
        let idle = !table.current.contains_key(&peer)
            && table
                .limits
                .get(&peer)
                .is_some_and(|l| l.available_permits() >= self.max_in_flight);
        if idle {
            table.limits.remove(&peer);
        }
        current
    }

    /// Fails whoever waits for an answer of `peer`: it will not come (the connection the
    /// request went out on is gone).
    fn fail_waiting(&self, peer: Address) {
        // Dropped senders wake their receivers with "gone".
        drop(lock(&self.replies).fail_peer(peer));
    }

    fn sender(&self, peer: Address) -> Option<mpsc::Sender<Vec<u8>>> {
        lock(&self.table)
            .current
            .get(&peer)
            .map(|c| c.sender.clone())
    }

    pub(crate) fn clear(&self) {
        let mut table = lock(&self.table);
        table.current.clear();
        for hold in table.holds.values() {
            hold.send_replace(false);
        }
    }
}

impl Node {
    fn peers(&self) -> &Peers {
        &self.inner.peers
    }

    /// Takes a connection to a peer (from a transport's dial or accept): starts reading its
    /// frames and runs the counter sync of every channel with that peer. If the node holds a
    /// live connection to the peer that wins the tie-break (the one dialed by the lower
    /// address) and this one does not, this one is dropped; otherwise it replaces the
    /// current one. Answers whether the node took it.
    pub async fn connect(&self, connection: PeerConnection) -> bool {
        let PeerConnection {
            peer,
            origin,
            outgoing,
            incoming,
        } = connection;
        let Some(admitted) = self.peers().admit(peer, origin, outgoing) else {
            tracing::info!(
                %peer,
                ?origin,
                "second connection to a connected peer dropped: the one dialed by the lower address stays"
            );
            return false;
        };
        tracing::debug!(%peer, ?origin, id = admitted.id, "peer connection taken");
        if !admitted.replaced {
            self.emit(crate::events::NodeEvent::PeerConnected {
                peer,
                dialed: origin == crate::peer::Origin::Dialed,
            });
        }
        if admitted.replaced {
            // Answers to requests sent on the old connection would come back on it: those
            // requests fail now (a sent payment stays counted; the sync below settles views).
            self.peers().fail_waiting(peer);
        }
        let node = self.clone();
        self.track(tokio::spawn(async move {
            node.read(peer, admitted, incoming).await;
        }));
        // In its own task: it may wait for a payment in flight on an older connection.
        let node = self.clone();
        self.track(tokio::spawn(async move { node.sync_with(peer).await }));
        true
    }

    /// Reads the frames of one connection until it ends, is replaced, or the node stops.
    async fn read(&self, peer: Address, admitted: Admitted, mut incoming: mpsc::Receiver<Vec<u8>>) {
        let Admitted {
            id,
            limit,
            mut stop,
            ..
        } = admitted;
        let mut shutdown = self.shutdown_signal();
        loop {
            let frame = tokio::select! {
                frame = incoming.recv() => frame,
                _ = &mut stop => None,
                _ = shutdown.changed() => None,
            };
            let Some(frame) = frame else { break };
            match wire::decode(&frame) {
                Ok(message) => {
                    // Answers only wake their waiter: done here, without a task of their own
                    // (one scheduling hop less on every payment's way back).
                    let Some(message) = self.resolve_answer(peer, message) else {
                        continue;
                    };
                    // Full: stop reading until a message in flight is done.
                    let permit = tokio::select! {
                        permit = Arc::clone(&limit).acquire_owned() => permit,
                        _ = &mut stop => break,
                        _ = shutdown.changed() => break,
                    };
                    // The semaphore is never closed.
                    let Ok(permit) = permit else { break };
                    let node = self.clone();
                    // Boxed: the dispatch future is several kilobytes, and tokio moves a
                    // task's future by value (spawn, the task cell, its stage) several times;
                    // a box moves a pointer instead (docs/PERFORMANCE.md, "Where a payment's
                    // time goes").
                    tokio::spawn(Box::pin(async move {
                        node.dispatch(peer, message).await;
                        drop(permit);
                    }));
                }
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "undecodable frame");
                    let error = ErrorBody::new(ErrorBody::MALFORMED, e.to_string());
                    let _ = self
                        .send(
                            peer,
                            &Message::Error {
                                channel_id: None,
                                request_id: None,
                                error,
                            },
                        )
                        .await;
                }
            }
        }
        if self.peers().remove(peer, id) {
            // Whoever waits for this peer's answer learns now that it will not come.
            self.peers().fail_waiting(peer);
            self.emit(crate::events::NodeEvent::PeerDisconnected { peer });
        }
    }

    /// How many peers are connected now.
    pub fn connected_peers(&self) -> usize {
        lock(&self.peers().table).current.len()
    }

    /// Whether a peer is connected.
    pub fn is_connected(&self, peer: Address) -> bool {
        lock(&self.peers().table).current.contains_key(&peer)
    }

    /// The connection the node uses for `peer`, if connected.
    pub fn connection_info(&self, peer: Address) -> Option<ConnectionInfo> {
        let peers = self.peers();
        let table = lock(&peers.table);
        let current = table.current.get(&peer)?;
        let free = table
            .limits
            .get(&peer)
            .map_or(peers.max_in_flight, |l| l.available_permits());
        Some(ConnectionInfo {
            id: current.id,
            origin: current.origin,
            in_flight: peers.max_in_flight.saturating_sub(free),
        })
    }

    /// `true` while our own dial to `peer` would be refused: the node holds the connection
    /// `peer` dialed, which wins the tie-break. A link to `peer` waits while it is `true`
    /// ([`crate::net::dial`]), so that it never replaces the connection in use.
    pub fn dial_hold(&self, peer: Address) -> watch::Receiver<bool> {
        let peers = self.peers();
        let mut table = lock(&peers.table);
        let held = peers.held(&table, peer);
        table
            .holds
            .entry(peer)
            .or_insert_with(|| watch::channel(held).0)
            .subscribe()
    }

    pub(crate) async fn send(&self, peer: Address, message: &Message) -> Result<(), NodeError> {
        let frame = wire::encode(message)?;
        let sender = self.peers().sender(peer);
        let sender = sender.ok_or(NodeError::PeerOffline(peer))?;
        sender
            .send(frame)
            .await
            .map_err(|_| NodeError::PeerOffline(peer))
    }

    async fn await_reply(
        &self,
        peer: Address,
        rx: oneshot::Receiver<Message>,
        cleanup: impl FnOnce(),
    ) -> Result<Message, NodeError> {
        let timeout = self.config().request_timeout;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(message)) => Ok(message),
            // The waiter was dropped: the connection it was sent on is gone.
            Ok(Err(_)) => Err(NodeError::ConnectionLost(peer)),
            Err(_) => {
                cleanup();
                Err(NodeError::Timeout(timeout))
            }
        }
    }

    /// Sends a request with a fresh request id and waits for the answer carrying that id.
    pub(crate) async fn request(
        &self,
        peer: Address,
        build: impl FnOnce(u64) -> Message,
    ) -> Result<Message, NodeError> {
        let id = self.next_id();
        let (tx, rx) = oneshot::channel();
        let replies = &self.peers().replies;
        lock(replies).expect_request(peer, id, tx);
        if let Err(e) = self.send(peer, &build(id)).await {
            lock(replies).forget_request(id);
            return Err(e);
        }
        self.await_reply(peer, rx, || {
            lock(replies).forget_request(id);
        })
        .await
    }

    /// Sends a channel-scoped request and waits for the answer of kind `wait`.
    pub(crate) async fn exchange(
        &self,
        peer: Address,
        id: ChannelId,
        wait: Wait,
        message: &Message,
    ) -> Result<Message, NodeError> {
        let (tx, rx) = oneshot::channel();
        let replies = &self.peers().replies;
        drop(lock(replies).expect(peer, id, wait, tx));
        if let Err(e) = self.send(peer, message).await {
            lock(replies).forget(id, wait);
            return Err(e);
        }
        self.await_reply(peer, rx, || {
            lock(replies).forget(id, wait);
        })
        .await
    }

    /// Wakes whoever `message` answers, if it is an answer; gives it back otherwise.
    fn wake(&self, peer: Address, message: Message) -> Option<Message> {
        let resolution = lock(&self.peers().replies).resolve(peer, &message);
        let Resolution::Answer(mut woken) = resolution else {
            return Some(message);
        };
        // Usually one waiter (an error for a channel may answer several): the last takes it.
        let last = woken.pop();
        for tx in woken {
            let _ = tx.send(message.clone());
        }
        if let Some(tx) = last {
            let _ = tx.send(message);
        }
        None
    }

    pub(crate) async fn reply_error(
        &self,
        peer: Address,
        channel_id: Option<ChannelId>,
        code: u16,
        message: String,
    ) {
        let error = ErrorBody::new(code, crate::node::truncate(message));
        let _ = self
            .send(
                peer,
                &Message::Error {
                    channel_id,
                    request_id: None,
                    error,
                },
            )
            .await;
    }

    /// Hands an answer (to a request or a channel-scoped wait) to whoever waits for it;
    /// gives back any other message, for [`dispatch`](Self::dispatch), errors included (they
    /// are logged and reported there, by [`on_error`](Self::on_error)).
    pub(crate) fn resolve_answer(&self, peer: Address, message: Message) -> Option<Message> {
        if matches!(message, Message::Error { .. }) {
            return Some(message);
        }
        self.wake(peer, message)
    }

    /// The peer's error message: wakes the request or the channel's waits it answers.
    pub(crate) fn on_error(&self, peer: Address, message: Message) {
        let Message::Error {
            channel_id, error, ..
        } = &message
        else {
            return;
        };
        tracing::warn!(%peer, code = error.code, message = %error.message, "peer reported an error");
        let (channel_id, text) = (
            *channel_id,
            format!("peer {peer}: {} (code {})", error.message, error.code),
        );
        let _ = self.wake(peer, message);
        self.emit(crate::events::NodeEvent::Error {
            channel_id,
            message: text,
        });
    }
}
