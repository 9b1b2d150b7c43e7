//! The payer's side of one channel that is opened on the ledger and paid by payment packages
//! (docs/HTTP.md), in plain Rust: what the JavaScript bindings of [`crate`] wrap, and what
//! the native tests drive. Every rule is paychan-core's: the channel state machine signs the
//! vouchers and takes a refused one back, [`PaymentPackage`] is the package format, and
//! [`SignedRequest`] the ledger's request format. Nothing here reads a clock or a random
//! source: the channel's nonce and the key's entropy come from the caller.

use paychan_core::{
    Address, Amount, B256, ChannelId, ChannelParams, Domain, SigningKey,
    adjudicator::LedgerEvent,
    channel::{Channel, Phase},
    eip712::memo_of,
    http::Challenge,
    manager::package::PaymentPackage,
    wire::MAX_BODY_LEN,
};
use paychan_ledger::{Operation, Receipt, SignedRequest};
use serde::{Deserialize, Serialize};

/// The version of [`PayerChannel`]'s stored form.
pub const STATE_VERSION: u32 = 1;

/// Why a call failed: a sentence for the JavaScript `Error`.
pub type Error = String;

/// A key from at least 32 bytes of caller-supplied entropy.
pub fn key_from_entropy(entropy: &[u8]) -> Result<SigningKey, Error> {
    SigningKey::from_entropy(entropy).map_err(|e| e.to_string())
}

/// The key whose secret is exactly these 32 bytes.
pub fn key_from_secret(secret: &[u8]) -> Result<SigningKey, Error> {
    let bytes: [u8; 32] = secret
        .try_into()
        .map_err(|_| format!("a secret key is 32 bytes, got {}", secret.len()))?;
    SigningKey::from_bytes(bytes).map_err(|e| e.to_string())
}

/// The challenge of a `402` answer: its `WWW-Authenticate` value, or its JSON body (which
/// carries the same fields).
pub fn parse_challenge(text: &str) -> Result<Challenge, Error> {
    let text = text.trim();
    if text.starts_with('{') {
        serde_json::from_str::<Challenge>(text)
            .map_err(|e| format!("the 402 body is not a paychan challenge: {e}"))
    } else {
        Challenge::parse(text)
    }
}

/// The stored form of a [`PayerChannel`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    version: u32,
    channel: Channel,
}

/// Our side of one channel as its payer (party A: we open it).
#[derive(Clone, Debug, PartialEq)]
pub struct PayerChannel {
    channel: Channel,
}

impl PayerChannel {
    /// A new channel of `key` to the payee of `challenge`, on its ledger, with
    /// `challenge_period` seconds and the opener's `nonce` (32 random bytes from the caller:
    /// the channel id is the digest of the parameters, so it must never repeat). Not open
    /// until the ledger's receipt of [`open_request`](Self::open_request) is applied.
    pub fn propose(
        key: &SigningKey,
        challenge: &Challenge,
        challenge_period: u64,
        nonce: &[u8],
    ) -> Result<Self, Error> {
        let nonce: [u8; 32] = nonce
            .try_into()
            .map_err(|_| format!("a channel nonce is 32 bytes, got {}", nonce.len()))?;
        let me = key.address();
        if challenge.payee == me {
            return Err("cannot open a channel with ourselves".into());
        }
        let params = ChannelParams {
            party_a: me,
            party_b: challenge.payee,
            token: Address::ZERO,
            challenge_period,
            nonce: B256::from(nonce),
        };
        let domain = Domain::new(challenge.chain_id, challenge.contract);
        // `since` only matters to a node expiring its proposals; the browser has no clock
        // in the core and forgets a proposal the ledger refused at once.
        let channel = Channel::proposed(params, domain, me, 0)
            .ok_or_else(|| "we are not a party of the channel".to_owned())?;
        Ok(PayerChannel { channel })
    }

    /// The signed ledger request that opens the channel with `deposit` from our account, for
    /// the ledger's `ledger_submit`; `ledger_nonce` must be above the last nonce the ledger
    /// accepted from us (`ledger_nonce`).
    pub fn open_request(
        &self,
        key: &SigningKey,
        deposit: Amount,
        ledger_nonce: u64,
    ) -> Result<SignedRequest, Error> {
        let op = Operation::Open {
            params: *self.channel.params(),
            amount: deposit,
        };
        self.sign(key, ledger_nonce, op)
    }

    /// The signed ledger request that pays the channel out after its close deadline (anyone
    /// may send it).
    pub fn settle_request(
        &self,
        key: &SigningKey,
        ledger_nonce: u64,
    ) -> Result<SignedRequest, Error> {
        let op = Operation::Settle {
            channel_id: self.channel.id(),
        };
        self.sign(key, ledger_nonce, op)
    }

    fn sign(&self, key: &SigningKey, nonce: u64, op: Operation) -> Result<SignedRequest, Error> {
        SignedRequest::sign(self.channel.domain(), key, nonce, op).map_err(|e| e.to_string())
    }

    /// Applies the events of a ledger receipt (the answer of `ledger_submit`) or of
    /// `ledger_events`; events of other channels are ignored. Answers how many were ours.
    pub fn apply_events<'a>(&mut self, events: impl IntoIterator<Item = &'a LedgerEvent>) -> u32 {
        let mut ours: u32 = 0;
        for event in events {
            if event.channel_id() == Some(self.channel.id()) {
                ours = ours.saturating_add(1);
                // A payer paying by packages never answers a close with a voucher of the
                // payee's: it holds none.
                let _ = self.channel.handle_ledger_event(event);
            }
        }
        ours
    }

    /// [`apply_events`](Self::apply_events) of a receipt.
    pub fn apply_receipt(&mut self, receipt: &Receipt) -> u32 {
        self.apply_events(receipt.events.iter().map(|r| &r.event))
    }

    /// Pays `amount` for `message` (the JSON the package carries; for an HTTP call the
    /// request's binding, `{"method": M, "path": P}`): signs the next voucher and answers
    /// its package. The channel counts it paid from now on: store the new state before the
    /// package leaves, and [`cancel`](Self::cancel) it if the payee refuses it unrecorded.
    pub fn pay(
        &mut self,
        key: &SigningKey,
        amount: Amount,
        message: &serde_json::Value,
    ) -> Result<PaymentPackage, Error> {
        let body = serde_json::to_vec(message).map_err(|e| e.to_string())?;
        if body.len() > MAX_BODY_LEN {
            return Err(format!(
                "the message is {} bytes, the limit is {MAX_BODY_LEN}",
                body.len()
            ));
        }
        let voucher = self
            .channel
            .pay(key, amount, memo_of(&body))
            .map_err(|e| e.to_string())?;
        Ok(PaymentPackage::new(
            self.channel.domain(),
            self.channel.params(),
            &voucher,
            Some(message.clone()),
        ))
    }

    /// Takes back our latest package after the payee refused it without recording it
    /// (docs/HTTP.md, "Refusals"): the next package does not pay for it. Answers the amount
    /// taken back. Only the latest package can be; anything else is refused and changes
    /// nothing.
    pub fn cancel(&mut self, package: &PaymentPackage) -> Result<Amount, Error> {
        let voucher = package.signed_voucher().map_err(|e| e.to_string())?;
        if voucher.voucher.channel_id != self.channel.id() {
            return Err("the package is of another channel".into());
        }
        self.channel
            .cancel_payment(&voucher)
            .map_err(|e| e.to_string())?;
        Ok(voucher
            .voucher
            .cumulative
            .saturating_sub(self.channel.balances().paid_by_me))
    }

    /// The stored form (JSON), to persist after every change and before a package leaves.
    pub fn to_json(&self) -> String {
        let stored = StoredRef {
            version: STATE_VERSION,
            channel: &self.channel,
        };
        // Plain data of strings and numbers: serializing cannot fail.
        serde_json::to_string(&stored).unwrap_or_default()
    }

    /// The channel from its stored form.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let stored: Stored =
            serde_json::from_str(text).map_err(|e| format!("not a stored paychan channel: {e}"))?;
        if stored.version != STATE_VERSION {
            return Err(format!(
                "stored channel version {} is not supported (this build reads {STATE_VERSION})",
                stored.version
            ));
        }
        Ok(PayerChannel {
            channel: stored.channel,
        })
    }

    /// The core's channel inside.
    pub fn into_channel(self) -> Channel {
        self.channel
    }

    /// The channel id.
    pub fn id(&self) -> ChannelId {
        self.channel.id()
    }

    /// The payee.
    pub fn payee(&self) -> Address {
        self.channel.peer()
    }

    /// The ledger's domain.
    pub fn domain(&self) -> &Domain {
        self.channel.domain()
    }

    /// Our deposit as the ledger reported it.
    pub fn deposit(&self) -> Amount {
        self.channel.balances().my_deposit
    }

    /// Everything we paid (the latest voucher's cumulative).
    pub fn paid(&self) -> Amount {
        self.channel.balances().paid_by_me
    }

    /// What we may still pay.
    pub fn available(&self) -> Amount {
        self.channel.balances().my_available
    }

    /// The phase's name (`proposed`, `open`, `closing`, `closed`, ...).
    pub fn phase(&self) -> &'static str {
        self.channel.phase().name()
    }

    /// Whether the channel pays.
    pub fn is_open(&self) -> bool {
        matches!(self.channel.phase(), Phase::Open)
    }
}

/// [`Stored`] by reference, to write it without cloning the channel.
#[derive(Serialize)]
struct StoredRef<'a> {
    version: u32,
    channel: &'a Channel,
}
