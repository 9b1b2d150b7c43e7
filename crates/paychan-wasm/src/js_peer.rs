//! The JavaScript face of [`peer::Peer`](crate::peer::Peer) (the `Peer` class of `js/`'s
//! `Client`) and of the relay protocol's client side: where to dial a peer address, the
//! relay's registration and tickets for a page that is reachable through a relay.
//!
//! Ids and amounts cross as text (`0x…`, decimal), structured results as JSON text, carrier
//! messages as bytes; errors as JavaScript `Error`s.

use paychan_core::{ChannelId, Domain, adjudicator::ChannelRecord};
use paychan_net::{Endpoint, PeerAddr};
use paychan_relay::proto::{self, RelayMessage};
use wasm_bindgen::prelude::*;

use crate::{Wallet, address, amount, js, nonce, peer, submit_params};

fn channel_id(text: &str) -> Result<ChannelId, JsError> {
    text.trim()
        .parse::<ChannelId>()
        .map_err(|_| js(format!("{text:?} is not a channel id")))
}

fn bytes32(bytes: &[u8], what: &str) -> Result<[u8; 32], JsError> {
    bytes
        .try_into()
        .map_err(|_| js(format!("{what} is 32 bytes, got {}", bytes.len())))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, JsError> {
    serde_json::to_string(value).map_err(js)
}

/// The browser's side of the peer protocol over a WebSocket the caller owns (see
/// `peer::Peer`): feed it what arrives, send what it gives, store its records before
/// calling `recordsSaved`.
#[wasm_bindgen(js_name = Peer)]
pub struct JsPeer {
    inner: peer::Peer,
}

#[wasm_bindgen(js_class = Peer)]
impl JsPeer {
    /// A peer acting with `wallet`'s key on the ledger of chain `chain_id` (decimal) and
    /// adjudicator `verifying_contract`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        wallet: &Wallet,
        chain_id: &str,
        verifying_contract: &str,
    ) -> Result<JsPeer, JsError> {
        let chain: u64 = chain_id
            .trim()
            .parse()
            .map_err(|_| js(format!("{chain_id:?} is not a chain id")))?;
        let domain = Domain::new(chain, address(verifying_contract)?);
        Ok(JsPeer {
            inner: peer::Peer::new(wallet.key.clone(), domain),
        })
    }

    /// Our address.
    #[wasm_bindgen(getter)]
    pub fn address(&self) -> String {
        self.inner.address().to_string()
    }

    /// The connected peer's address, once the handshake proved it.
    #[wasm_bindgen(getter)]
    pub fn connected(&self) -> Option<String> {
        self.inner.connected().map(|a| a.to_string())
    }

    /// Loads a stored channel state; answers its id.
    pub fn restore(&mut self, state: &str) -> Result<String, JsError> {
        self.inner
            .restore(state)
            .map(|id| id.to_string())
            .map_err(js)
    }

    /// Starts the handshake on a WebSocket we opened to `expected` (a node directly, or a
    /// relay's `?to=` URL); `noise_secret` and `entropy` are 32 fresh random bytes each.
    pub fn dial(
        &mut self,
        expected: &str,
        noise_secret: &[u8],
        entropy: &[u8],
    ) -> Result<(), JsError> {
        self.inner
            .dial(
                address(expected)?,
                bytes32(noise_secret, "a Noise secret")?,
                bytes32(entropy, "the handshake's entropy")?,
            )
            .map_err(js)
    }

    /// Waits for a dialer's handshake on a relay's `?ticket=` WebSocket.
    pub fn accept(&mut self, noise_secret: &[u8], entropy: &[u8]) -> Result<(), JsError> {
        self.inner
            .accept(
                bytes32(noise_secret, "a Noise secret")?,
                bytes32(entropy, "the handshake's entropy")?,
            )
            .map_err(js)
    }

    /// A binary WebSocket message from the peer. On an error close the WebSocket and call
    /// `disconnected`.
    pub fn receive(&mut self, message: &[u8]) -> Result<(), JsError> {
        self.inner.receive(message).map_err(js)
    }

    /// The WebSocket closed.
    pub fn disconnected(&mut self) {
        self.inner.disconnected();
    }

    /// Queues a keep-alive (send one every 15 s or so).
    pub fn keepalive(&mut self) -> Result<(), JsError> {
        self.inner.keepalive().map_err(js)
    }

    /// The ledger's time (Unix seconds), for the peer's withdrawal certificates.
    #[wasm_bindgen(js_name = setTime)]
    pub fn set_time(&mut self, now: f64) {
        // Seconds since 1970 are far below 2^53; a negative or fractional input is clamped.
        self.inner.set_time(seconds(now));
    }

    /// Proposes a channel to the connected peer with `deposit` (decimal), `challenge_period`
    /// seconds and a 32-byte random `nonce`; answers its id.
    pub fn propose(
        &mut self,
        deposit: &str,
        challenge_period: u32,
        nonce: &[u8],
    ) -> Result<String, JsError> {
        self.inner
            .propose(
                amount(deposit)?,
                challenge_period.into(),
                bytes32(nonce, "a channel nonce")?,
            )
            .map(|id| id.to_string())
            .map_err(js)
    }

    /// The params of `ledger_submit` (JSON) opening our proposed channel `id` with `deposit`,
    /// signed with `ledger_nonce` (one above the ledger's `ledger_nonce`).
    #[wasm_bindgen(js_name = openRequest)]
    pub fn open_request(
        &self,
        id: &str,
        deposit: &str,
        ledger_nonce: &str,
    ) -> Result<String, JsError> {
        let request = self
            .inner
            .open_request(channel_id(id)?, amount(deposit)?, nonce(ledger_nonce)?)
            .map_err(js)?;
        submit_params(&request)
    }

    /// The params of `ledger_submit` (JSON) carrying out what both signed on channel `id` (a
    /// withdrawal or the cooperative close).
    #[wasm_bindgen(js_name = cosignedRequest)]
    pub fn cosigned_request(&self, id: &str, ledger_nonce: &str) -> Result<String, JsError> {
        let request = self
            .inner
            .cosigned_request(channel_id(id)?, nonce(ledger_nonce)?)
            .map_err(js)?;
        submit_params(&request)
    }

    /// Applies a ledger receipt (the `result` of `ledger_submit`, or the whole response);
    /// answers how many events were of our channels.
    #[wasm_bindgen(js_name = applyReceipt)]
    pub fn apply_receipt(&mut self, receipt: &str) -> Result<u32, JsError> {
        let receipt = crate::receipt(receipt)?;
        Ok(self.inner.apply_receipt(&receipt))
    }

    /// Applies the ledger's record of channel `id` (the `result` of `ledger_channel`, or the
    /// whole response): its deposits, which open a proposed channel.
    #[wasm_bindgen(js_name = applyLedgerRecord)]
    pub fn apply_ledger_record(&mut self, id: &str, record: &str) -> Result<(), JsError> {
        let mut value: serde_json::Value =
            serde_json::from_str(record).map_err(|e| js(format!("not a channel record: {e}")))?;
        if let Some(result) = value.get_mut("result") {
            value = result.take();
        }
        if value.is_null() {
            return Ok(());
        }
        let record: ChannelRecord =
            serde_json::from_value(value).map_err(|e| js(format!("not a channel record: {e}")))?;
        self.inner
            .apply_ledger_record(channel_id(id)?, &record)
            .map_err(js)
    }

    /// Pays `amount` on channel `id` for `message` (JSON text); answers the request id the
    /// `paid`, `refused` or `paymentUnknown` event will name.
    pub fn pay(&mut self, id: &str, amount_text: &str, message: &str) -> Result<u32, JsError> {
        let message: serde_json::Value = serde_json::from_str(message)
            .map_err(|e| js(format!("the message is not JSON: {e}")))?;
        let request = self
            .inner
            .pay(channel_id(id)?, amount(amount_text)?, &message)
            .map_err(js)?;
        u32::try_from(request).map_err(js)
    }

    /// Proposes to withdraw `amount` from channel `id`, the certificate expiring at `expiry`
    /// (ledger time, Unix seconds), `now` being the ledger's time.
    pub fn withdraw(
        &mut self,
        id: &str,
        amount_text: &str,
        expiry: f64,
        now: f64,
    ) -> Result<(), JsError> {
        self.inner
            .withdraw(
                channel_id(id)?,
                amount(amount_text)?,
                seconds(expiry),
                seconds(now),
            )
            .map_err(js)
    }

    /// Takes back our pending withdrawal on channel `id`.
    #[wasm_bindgen(js_name = cancelWithdrawal)]
    pub fn cancel_withdrawal(&mut self, id: &str) -> Result<(), JsError> {
        self.inner.cancel_withdrawal(channel_id(id)?).map_err(js)
    }

    /// Proposes the cooperative close of channel `id`.
    pub fn close(&mut self, id: &str) -> Result<(), JsError> {
        self.inner.close(channel_id(id)?).map_err(js)
    }

    /// The handler's answer to payment `id`: `response` (JSON text) keeps it, else `error`
    /// refuses it.
    #[wasm_bindgen(js_name = answerPayment)]
    pub fn answer_payment(
        &mut self,
        id: u32,
        response: Option<String>,
        error: Option<String>,
    ) -> Result<(), JsError> {
        let answer = match (response, error) {
            (Some(text), _) => Ok(serde_json::from_str(&text)
                .map_err(|e| js(format!("the response is not JSON: {e}")))?),
            (None, Some(error)) => Err(error),
            (None, None) => Err("refused".to_owned()),
        };
        self.inner.answer_payment(id.into(), answer).map_err(js)
    }

    /// The channel states to store (JSON `[{id, state}]`, `state` null to forget one); then
    /// call `recordsSaved` once they are durable.
    #[wasm_bindgen(js_name = takeRecords)]
    pub fn take_records(&mut self) -> Result<String, JsError> {
        to_json(&self.inner.take_records())
    }

    /// The records taken last are durable: the messages that waited for them may leave.
    #[wasm_bindgen(js_name = recordsSaved)]
    pub fn records_saved(&mut self) {
        self.inner.records_saved();
    }

    /// The next carrier message to send now (a binary WebSocket message), in order;
    /// `undefined` when there is none.
    #[wasm_bindgen(js_name = nextTransmit)]
    pub fn next_transmit(&mut self) -> Option<Vec<u8>> {
        self.inner.next_transmit()
    }

    /// The events since the last call (JSON array, each tagged by `type`).
    #[wasm_bindgen(js_name = takeEvents)]
    pub fn take_events(&mut self) -> Result<String, JsError> {
        to_json(&self.inner.take_events())
    }

    /// Every channel's summary (JSON array).
    pub fn channels(&self) -> Result<String, JsError> {
        to_json(&self.inner.channels())
    }

    /// One channel's summary (JSON).
    pub fn channel(&self, id: &str) -> Result<String, JsError> {
        to_json(&self.inner.channel(channel_id(id)?).map_err(js)?)
    }
}

fn seconds(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 {
        // Truncation is what is meant: whole seconds.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let s = value as u64;
        s
    } else {
        0
    }
}

/// Where to open the WebSocket for a peer address (`ADDRESS@ws(s)://HOST/PATH` to a node's
/// WebSocket listener, or `ADDRESS@relay+ws(s)://HOST/PATH` through a relay) as JSON
/// `{"address", "url", "relay"}`; a relay's URL already names the address (`?to=`).
#[wasm_bindgen(js_name = dialTarget)]
pub fn dial_target(peer: &str) -> Result<String, JsError> {
    let peer: PeerAddr = peer.trim().parse().map_err(js)?;
    let address = peer.address();
    let (url, relay) = match peer.endpoint() {
        Endpoint::WebSocket(url) => (url.to_string(), false),
        Endpoint::Relay(url) => (
            url.with_query("to", &proto::address_param(address))
                .to_string(),
            true,
        ),
        _ => {
            return Err(js(
                "a browser reaches a peer over WebSocket: ADDRESS@ws(s)://… or ADDRESS@relay+ws(s)://…",
            ));
        }
    };
    Ok(
        serde_json::json!({ "address": address.to_string(), "url": url, "relay": relay })
            .to_string(),
    )
}

/// The URL of the control connection registering at a relay (`ws(s)://HOST/PATH`, with its
/// `?token=` if it has one).
#[wasm_bindgen(js_name = relayRegisterUrl)]
pub fn relay_register_url(relay: &str) -> String {
    proto::append_query(relay.trim(), "register", "")
}

/// The URL of the data connection for the ticket of an `incoming` message.
#[wasm_bindgen(js_name = relayTicketUrl)]
pub fn relay_ticket_url(relay: &str, ticket: &str) -> String {
    proto::append_query(relay.trim(), "ticket", ticket)
}

/// A control message from the relay (text), answered as the party `wallet` that dialed the
/// relay at `host`: JSON `{"reply": text to send | null, "ticket": ticket | null,
/// "registered": bool}`. The challenge is checked and signed by the relay protocol's client
/// side (docs/PROTOCOL.md, section 8).
#[wasm_bindgen(js_name = relayControl)]
pub fn relay_control(wallet: &Wallet, host: &str, text: &str) -> Result<String, JsError> {
    let message = RelayMessage::from_json(text).map_err(js)?;
    let (reply, ticket, registered) = match &message {
        RelayMessage::Challenge { .. } => {
            let register = proto::answer_challenge(&message, host, &wallet.key).map_err(js)?;
            (Some(register.to_json()), None, false)
        }
        RelayMessage::Registered { .. } => (None, None, true),
        RelayMessage::Incoming { ticket } => (None, Some(ticket.clone()), false),
    };
    Ok(
        serde_json::json!({ "reply": reply, "ticket": ticket, "registered": registered })
            .to_string(),
    )
}
