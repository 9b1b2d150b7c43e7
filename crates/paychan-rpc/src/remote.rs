//! The remote payment handler: a WebSocket client of the API answers the node's incoming
//! payments (aa-channels' `setCallBackForPaymentReceived`, which its RPC server could not
//! offer).
//!
//! [`RemoteHandler`] is the node's [`PaymentHandler`]. While a client is subscribed (see
//! `api/payment_handler.rs`), every incoming payment or message becomes a numbered
//! [`PaymentRequest`] sent to that client, and the node waits for the client's answer
//! (`answer_payment`) up to its `handler_timeout`; a payment the client refuses, does not
//! answer in time, or leaves unanswered by disconnecting is refused to the payer and not
//! counted. While no client is subscribed, every payment gets the configured default answer.
//!
//! One client at a time is the handler: a second subscription is refused while the first is
//! connected, so two programs never answer the same payments differently.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use async_trait::async_trait;
use paychan_core::{Address, ChannelId};
use paychan_node::{Incoming, PaymentHandler};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

/// An incoming payment as the remote handler receives it (notification `payment_request`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PaymentRequest {
    /// What to quote in `answer_payment`.
    pub request_id: u64,
    /// The channel.
    pub channel_id: ChannelId,
    /// The paying peer.
    pub peer: Address,
    /// The amount of this payment, as a decimal string (`"0"` for a plain message).
    pub amount: String,
    /// The payer's message.
    pub message: serde_json::Value,
    /// When the node stops waiting for the answer and refuses the payment (the payer is then
    /// not charged), in milliseconds since the Unix epoch: the node's `handler_timeout` after
    /// the payment arrived.
    pub expires_at_ms: u64,
}

/// How many requests may wait for the client's socket before the node answers the payer
/// itself with an error (a client that stopped reading).
const QUEUE: usize = 1024;

/// The answer of the handler: a response, or an error message.
type Answer = Result<serde_json::Value, String>;

#[derive(Default)]
struct State {
    /// The subscribed client: its registration number and its queue.
    client: Option<(u64, mpsc::Sender<PaymentRequest>)>,
    /// Requests sent and not yet answered: id → (registration, waiter).
    pending: HashMap<u64, (u64, oneshot::Sender<Answer>)>,
    next_request: u64,
    next_registration: u64,
}

/// Why a client could not register as the handler.
#[derive(Debug, thiserror::Error)]
#[error("another client is already registered as the payment handler")]
pub struct AlreadyRegistered;

/// Why an answer was not delivered.
#[derive(Debug, thiserror::Error)]
#[error(
    "no payment is waiting for request {0}: unknown, already answered, or timed out (the payer was told)"
)]
pub struct UnknownRequest(pub u64);

/// The payment handler that forwards payments to a subscribed API client.
pub struct RemoteHandler {
    default_response: serde_json::Value,
    timeout: Duration,
    state: Mutex<State>,
}

impl RemoteHandler {
    /// A handler answering `default_response` while no client is subscribed, whose client
    /// has `timeout` (the node's `handler_timeout`) to answer each payment.
    pub fn new(default_response: serde_json::Value, timeout: Duration) -> Arc<Self> {
        Arc::new(RemoteHandler {
            default_response,
            timeout,
            state: Mutex::new(State::default()),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a client; its payments arrive on the returned receiver. The registration
    /// ends with [`RemoteHandler::unregister`] (when the client's subscription closes).
    pub fn register(&self) -> Result<Registration, AlreadyRegistered> {
        let mut state = self.state();
        if state
            .client
            .as_ref()
            .is_some_and(|(_, queue)| !queue.is_closed())
        {
            return Err(AlreadyRegistered);
        }
        let id = state.next_registration;
        state.next_registration = id.wrapping_add(1);
        let (queue, requests) = mpsc::channel(QUEUE);
        state.client = Some((id, queue));
        Ok(Registration { id, requests })
    }

    /// Ends registration `id`: its unanswered payments are refused to their payers.
    pub fn unregister(&self, id: u64) {
        let mut state = self.state();
        if state.client.as_ref().is_some_and(|(r, _)| *r == id) {
            state.client = None;
        }
        let orphans: Vec<u64> = state
            .pending
            .iter()
            .filter(|(_, (registration, _))| *registration == id)
            .map(|(request, _)| *request)
            .collect();
        for request in orphans {
            if let Some((_, waiter)) = state.pending.remove(&request) {
                let _ = waiter.send(Err("the payment handler disconnected".into()));
            }
        }
    }

    /// Delivers the client's answer to request `request_id`.
    pub fn answer(&self, request_id: u64, answer: Answer) -> Result<(), UnknownRequest> {
        let waiter = self.state().pending.remove(&request_id);
        match waiter {
            // The payer may have given up just now; the answer then is too late as well.
            Some((_, waiter)) => waiter.send(answer).map_err(|_| UnknownRequest(request_id)),
            None => Err(UnknownRequest(request_id)),
        }
    }

    /// Whether a client is subscribed.
    pub fn is_registered(&self) -> bool {
        self.state()
            .client
            .as_ref()
            .is_some_and(|(_, queue)| !queue.is_closed())
    }
}

/// A client's registration: its id and the payments to answer.
#[derive(Debug)]
pub struct Registration {
    /// The registration number (for [`RemoteHandler::unregister`]).
    pub id: u64,
    /// The payments, in the order they arrived.
    pub requests: mpsc::Receiver<PaymentRequest>,
}

/// Removes a request from the pending map if the node stops waiting (its timeout).
struct Pending<'a> {
    handler: &'a RemoteHandler,
    request_id: u64,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.handler.state().pending.remove(&self.request_id);
    }
}

/// The node's handle on a shared [`RemoteHandler`] (the server keeps another).
pub(crate) struct Shared(pub(crate) Arc<RemoteHandler>);

#[async_trait]
impl PaymentHandler for Shared {
    async fn handle(&self, incoming: Incoming) -> Answer {
        self.0.handle(incoming).await
    }
}

#[async_trait]
impl PaymentHandler for RemoteHandler {
    async fn handle(&self, incoming: Incoming) -> Answer {
        let (waiter, answer) = oneshot::channel();
        let (request_id, queue) = {
            let mut state = self.state();
            let Some((registration, queue)) =
                state.client.clone().filter(|(_, queue)| !queue.is_closed())
            else {
                return Ok(self.default_response.clone());
            };
            let request_id = state.next_request;
            state.next_request = request_id.wrapping_add(1);
            state.pending.insert(request_id, (registration, waiter));
            (request_id, queue)
        };
        let _pending = Pending {
            handler: self,
            request_id,
        };
        let request = PaymentRequest {
            request_id,
            channel_id: incoming.channel_id,
            peer: incoming.peer,
            amount: incoming.amount.to_string(),
            message: incoming.message,
            expires_at_ms: SystemTime::now()
                .checked_add(self.timeout)
                .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        };
        if queue.try_send(request).is_err() {
            return Err("the payment handler is not keeping up (or just disconnected)".into());
        }
        answer
            .await
            .unwrap_or_else(|_| Err("the payment handler disconnected".into()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn incoming(amount: u128) -> Incoming {
        Incoming {
            channel_id: ChannelId(paychan_core::B256::repeat_byte(7)),
            peer: Address::repeat_byte(1),
            amount,
            message: serde_json::json!({"q": amount}),
        }
    }

    #[tokio::test]
    async fn without_a_client_every_payment_gets_the_default_answer() {
        let handler = RemoteHandler::new(serde_json::json!("thanks"), Duration::from_secs(20));
        assert_eq!(
            handler.handle(incoming(5)).await,
            Ok(serde_json::json!("thanks"))
        );
    }

    #[tokio::test]
    async fn a_client_answers_in_order_and_a_second_one_is_refused() {
        let handler = RemoteHandler::new(serde_json::Value::Null, Duration::from_secs(20));
        let mut registration = handler.register().unwrap();
        assert!(handler.register().is_err());
        let h = handler.clone();
        let first = tokio::spawn(async move { h.handle(incoming(1)).await });
        let request = registration.requests.recv().await.unwrap();
        assert_eq!(request.amount, "1");
        handler
            .answer(request.request_id, Ok(serde_json::json!({"ok": 1})))
            .unwrap();
        assert_eq!(first.await.unwrap(), Ok(serde_json::json!({"ok": 1})));
        // Answered once: a second answer is refused.
        assert!(handler.answer(request.request_id, Ok(1.into())).is_err());

        let h = handler.clone();
        let second = tokio::spawn(async move { h.handle(incoming(2)).await });
        let request = registration.requests.recv().await.unwrap();
        handler
            .answer(request.request_id, Err("no".into()))
            .unwrap();
        assert_eq!(second.await.unwrap(), Err("no".into()));
    }

    #[tokio::test]
    async fn a_disconnect_refuses_unanswered_payments_and_frees_the_place() {
        let handler = RemoteHandler::new(serde_json::json!("default"), Duration::from_secs(20));
        let mut registration = handler.register().unwrap();
        let h = handler.clone();
        let waiting = tokio::spawn(async move { h.handle(incoming(3)).await });
        let request = registration.requests.recv().await.unwrap();
        handler.unregister(registration.id);
        assert_eq!(
            waiting.await.unwrap(),
            Err("the payment handler disconnected".into())
        );
        assert!(handler.answer(request.request_id, Ok(1.into())).is_err());
        assert!(!handler.is_registered());
        assert_eq!(
            handler.handle(incoming(4)).await,
            Ok(serde_json::json!("default"))
        );
        handler.register().unwrap();
    }

    #[tokio::test]
    async fn a_payment_the_node_gave_up_on_cannot_be_answered_late() {
        let handler = RemoteHandler::new(serde_json::Value::Null, Duration::from_secs(20));
        let mut registration = handler.register().unwrap();
        let timed_out = tokio::time::timeout(
            std::time::Duration::from_millis(20),
            handler.handle(incoming(9)),
        )
        .await;
        assert!(timed_out.is_err());
        let request = registration.requests.recv().await.unwrap();
        assert!(handler.answer(request.request_id, Ok(1.into())).is_err());
        assert!(handler.state().pending.is_empty());
    }
}
