//! paychan for the browser: the payer's side of pay-per-call over HTTP (docs/HTTP.md),
//! compiled to WebAssembly with wasm-bindgen, for the `js/` TypeScript package.
//!
//! One protocol implementation: everything here is paychan-core's (keys and signatures on
//! its pure-Rust `k256` backend, the channel state machine, the payment-package format, the
//! HTTP headers) and paychan-ledger's pure request format. JavaScript does the IO (fetch, the
//! ledger's JSON-RPC, storage) and supplies the randomness (`crypto.getRandomValues`).
//!
//! - [`Wallet`]: a key and what it signs: ledger requests (open, settle) and payments.
//! - [`PayerChannel`]: the channel's state, serializable to JSON for storage.
//! - free functions: the `402` challenge, the receipt, the refusal rule, the binding.
//! - [`peer::Peer`] (JavaScript `Peer`): a full channel peer speaking the node's peer
//!   protocol (paychan-net's Noise handshake and frames, paychan-core's messages, channel
//!   and manager) over a WebSocket the page owns, to a node or through `paychan relay`;
//!   `dialTarget`, `relayControl` and the relay URLs are the relay protocol's client side.
//!
//! Amounts and ledger nonces cross as decimal strings (JavaScript numbers cannot hold
//! them); structured results as JSON text. Errors cross as JavaScript `Error`s; no input
//! panics. [`payer`] is the same in plain Rust, for the native tests.

mod js_peer;
pub use js_peer::{JsPeer, dial_target, relay_control, relay_register_url, relay_ticket_url};
pub mod payer;
pub mod peer;

use paychan_core::{
    Address, Amount, SigningKey,
    http::{PaymentError, Receipt, binding},
    manager::package::PaymentPackage,
    types::parse_amount,
};
use serde_json::json;
use wasm_bindgen::prelude::*;

use crate::payer::parse_challenge;

fn js(why: impl std::fmt::Display) -> JsError {
    JsError::new(&why.to_string())
}

fn amount(text: &str) -> Result<Amount, JsError> {
    parse_amount(text).map_err(js)
}

fn nonce(text: &str) -> Result<u64, JsError> {
    text.parse::<u64>()
        .map_err(|_| js(format!("{text:?} is not a ledger nonce (a whole number)")))
}

fn address(text: &str) -> Result<Address, JsError> {
    text.trim()
        .parse::<Address>()
        .map_err(|_| js(format!("{text:?} is not an address")))
}

/// A ledger receipt: the `result` of `ledger_submit`, or the whole JSON-RPC response
/// holding it (JSON text: amounts stay exact, JavaScript numbers would not).
fn receipt(text: &str) -> Result<paychan_ledger::Receipt, JsError> {
    let mut value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| js(format!("not a ledger receipt: {e}")))?;
    if let Some(result) = value.get_mut("result") {
        value = result.take();
    }
    serde_json::from_value(value).map_err(|e| js(format!("not a ledger receipt: {e}")))
}

/// The params of `ledger_submit` for a signed request, as JSON text.
fn submit_params(request: &paychan_ledger::SignedRequest) -> Result<String, JsError> {
    serde_json::to_string(&json!({ "request": request })).map_err(js)
}

/// A payer's key.
#[wasm_bindgen]
pub struct Wallet {
    key: SigningKey,
}

#[wasm_bindgen]
impl Wallet {
    /// A key derived from at least 32 bytes of entropy (`crypto.getRandomValues`).
    #[wasm_bindgen(js_name = fromEntropy)]
    pub fn from_entropy(entropy: &[u8]) -> Result<Wallet, JsError> {
        payer::key_from_entropy(entropy)
            .map(|key| Wallet { key })
            .map_err(js)
    }

    /// The key whose secret is these 32 bytes (as [`secret`](Self::secret) gave them).
    #[wasm_bindgen(js_name = fromSecret)]
    pub fn from_secret(secret: &[u8]) -> Result<Wallet, JsError> {
        payer::key_from_secret(secret)
            .map(|key| Wallet { key })
            .map_err(js)
    }

    /// The secret, 32 bytes, to store the key.
    pub fn secret(&self) -> Vec<u8> {
        self.key.to_bytes().to_vec()
    }

    /// The account's address (`0x…`, checksummed).
    #[wasm_bindgen(getter)]
    pub fn address(&self) -> String {
        self.key.address().to_string()
    }

    /// A new channel to the payee of `challenge` (a `WWW-Authenticate` value or a `402`
    /// JSON body), on its ledger, with `challenge_period` seconds and a 32-byte random
    /// `nonce`. Open it with [`open_request`](Self::open_request).
    #[wasm_bindgen(js_name = proposeChannel)]
    pub fn propose_channel(
        &self,
        challenge: &str,
        challenge_period: u32,
        nonce: &[u8],
    ) -> Result<PayerChannel, JsError> {
        let challenge = parse_challenge(challenge).map_err(js)?;
        payer::PayerChannel::propose(&self.key, &challenge, challenge_period.into(), nonce)
            .map(|inner| PayerChannel { inner })
            .map_err(js)
    }

    /// The params of `ledger_submit` (JSON) opening `channel` with `deposit` from this
    /// account, signed with `ledger_nonce` (one above the ledger's `ledger_nonce`).
    #[wasm_bindgen(js_name = openRequest)]
    pub fn open_request(
        &self,
        channel: &PayerChannel,
        deposit: &str,
        ledger_nonce: &str,
    ) -> Result<String, JsError> {
        let request = channel
            .inner
            .open_request(&self.key, amount(deposit)?, nonce(ledger_nonce)?)
            .map_err(js)?;
        submit_params(&request)
    }

    /// The params of `ledger_submit` (JSON) settling `channel` after its close deadline.
    #[wasm_bindgen(js_name = settleRequest)]
    pub fn settle_request(
        &self,
        channel: &PayerChannel,
        ledger_nonce: &str,
    ) -> Result<String, JsError> {
        let request = channel
            .inner
            .settle_request(&self.key, nonce(ledger_nonce)?)
            .map_err(js)?;
        submit_params(&request)
    }

    /// Pays `amount` on `channel` for `message` (JSON text) and answers the package's
    /// compact form (for `Authorization: Paychan <package>`). The channel counts it paid at
    /// once: store `channel.toJSON()` before the package leaves.
    pub fn pay(
        &self,
        channel: &mut PayerChannel,
        amount_text: &str,
        message: &str,
    ) -> Result<String, JsError> {
        let message: serde_json::Value = serde_json::from_str(message)
            .map_err(|e| js(format!("the message is not JSON: {e}")))?;
        let package = channel
            .inner
            .pay(&self.key, amount(amount_text)?, &message)
            .map_err(js)?;
        Ok(package.to_compact())
    }
}

/// The payer's state of one channel.
#[wasm_bindgen]
pub struct PayerChannel {
    inner: payer::PayerChannel,
}

#[wasm_bindgen]
impl PayerChannel {
    /// The channel from its stored form ([`to_json`](Self::to_json)).
    #[wasm_bindgen(js_name = fromJSON)]
    pub fn from_json(text: &str) -> Result<PayerChannel, JsError> {
        payer::PayerChannel::from_json(text)
            .map(|inner| PayerChannel { inner })
            .map_err(js)
    }

    /// The stored form (JSON text).
    #[wasm_bindgen(js_name = toJSON)]
    pub fn to_json(&self) -> String {
        self.inner.to_json()
    }

    /// Applies a ledger receipt: the `result` of `ledger_submit`, or the whole JSON-RPC
    /// response holding it (JSON text: amounts stay exact, JavaScript numbers would not).
    /// Answers how many of its events were this channel's.
    #[wasm_bindgen(js_name = applyReceipt)]
    pub fn apply_receipt(&mut self, text: &str) -> Result<u32, JsError> {
        Ok(self.inner.apply_receipt(&receipt(text)?))
    }

    /// Takes back the package `compact` after the payee refused it without recording it;
    /// answers the amount taken back (decimal). Only the latest package can be.
    pub fn cancel(&mut self, compact: &str) -> Result<String, JsError> {
        let package = PaymentPackage::parse(compact).map_err(js)?;
        self.inner
            .cancel(&package)
            .map(|a| a.to_string())
            .map_err(js)
    }

    /// The channel id (`0x…`).
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.inner.id().to_string()
    }

    /// The payee's address.
    #[wasm_bindgen(getter)]
    pub fn payee(&self) -> String {
        self.inner.payee().to_string()
    }

    /// The ledger's chain id and adjudicator, as `{"chainId", "verifyingContract"}` JSON.
    #[wasm_bindgen(getter)]
    pub fn ledger(&self) -> String {
        serde_json::to_string(self.inner.domain()).unwrap_or_default()
    }

    /// Our deposit as the ledger reported it (decimal).
    #[wasm_bindgen(getter)]
    pub fn deposit(&self) -> String {
        self.inner.deposit().to_string()
    }

    /// Everything paid so far (decimal).
    #[wasm_bindgen(getter)]
    pub fn paid(&self) -> String {
        self.inner.paid().to_string()
    }

    /// What may still be paid (decimal).
    #[wasm_bindgen(getter)]
    pub fn available(&self) -> String {
        self.inner.available().to_string()
    }

    /// The phase: `proposed`, `open`, `closing`, `closed`, ...
    #[wasm_bindgen(getter)]
    pub fn phase(&self) -> String {
        self.inner.phase().to_owned()
    }

    /// Whether the channel pays.
    #[wasm_bindgen(getter, js_name = isOpen)]
    pub fn is_open(&self) -> bool {
        self.inner.is_open()
    }
}

/// The challenge of a `402` (a `WWW-Authenticate` value or the JSON body) as JSON:
/// `{"price": "10", "payee", "chain_id", "contract", "node"?}`.
#[wasm_bindgen(js_name = parseChallenge)]
pub fn parse_challenge_json(text: &str) -> Result<String, JsError> {
    let challenge = parse_challenge(text).map_err(js)?;
    serde_json::to_string(&challenge).map_err(js)
}

/// A `Payment-Receipt` value as JSON: `{"channelId", "payer", "amount", "cumulative",
/// "remaining", "request", "signed"}` (amounts decimal; `signed`: whether it carries a
/// signature; check whose with [`receipt_signed_by`]).
#[wasm_bindgen(js_name = parseReceipt)]
pub fn parse_receipt(header: &str) -> Result<String, JsError> {
    let receipt = Receipt::parse(header).map_err(js)?;
    Ok(json!({
        "channelId": receipt.channel_id.to_string(),
        "payer": receipt.payer.to_string(),
        "amount": receipt.amount.to_string(),
        "cumulative": receipt.cumulative.to_string(),
        "remaining": receipt.remaining.to_string(),
        "request": receipt.request,
        "signed": receipt.signature.is_some(),
    })
    .to_string())
}

/// Whether a receipt (a `Payment-Receipt` value) is signed by `payee` itself.
#[wasm_bindgen(js_name = receiptSignedBy)]
pub fn receipt_signed_by(header: &str, payee: &str) -> Result<bool, JsError> {
    let receipt = Receipt::parse(header).map_err(js)?;
    Ok(receipt.is_signed_by(address(payee)?))
}

/// Whether a refusal (the JSON body of a `402`, `502` or `503` answer to a paid call) says
/// that nothing was recorded, so the payer takes its package back (docs/HTTP.md,
/// "Refusals"). An unreadable body says nothing: the package stays paid.
#[wasm_bindgen(js_name = refusalTakesBack)]
pub fn refusal_takes_back(body: &str) -> bool {
    serde_json::from_str::<PaymentError>(body).is_ok_and(|r| r.nothing_recorded())
}

/// The message a package for `METHOD path?query` must carry (JSON text).
#[wasm_bindgen(js_name = requestBinding)]
pub fn request_binding(method: &str, path_and_query: &str) -> String {
    binding(method, path_and_query).to_string()
}

/// The `Authorization` value carrying a package's compact form.
#[wasm_bindgen]
pub fn authorization(compact: &str) -> String {
    paychan_core::http::authorization(compact)
}
