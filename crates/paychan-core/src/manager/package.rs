//! Payment packages: a payment that travels outside the peer connection (an HTTP header, a
//! queue, a file), aa-channels' `createPaymentPackage` / `verifyPaymentPackage` done safely.
//! The format, and every check a payee makes of a package that needs nothing but the package
//! itself ([`PaymentPackage::claim`]); what needs the channel's state (the voucher raises the
//! payer's total, the deposits cover it) is [`Manager::check_voucher`](super::Manager::check_voucher),
//! and what needs the ledger (the channel exists there and is open) is the driver's
//! (`docs/PROTOCOL.md`, payment packages).
//!
//! A package is a self-describing, versioned JSON object:
//!
//! ```json
//! {
//!   "version": 1,
//!   "ledger": { "chain_id": 1337, "verifying_contract": "0x…" },
//!   "channel": { "party_a": "0x…", "party_b": "0x…", "token": "0x…",
//!                "challenge_period": 86400, "nonce": "0x…" },
//!   "voucher": { "channel_id": "0x…", "payer": "0x…", "cumulative": "1500",
//!                "sequence": 7, "memo": "0x…" },
//!   "signature": "0x…",
//!   "message": { "any": "JSON" }
//! }
//! ```
//!
//! `message` is optional: when it is there, the voucher's memo must be the keccak256 of its
//! compact JSON encoding; when it is not, the memo stands for a message carried beside the
//! package (an HTTP request body, say) that the receiver checks itself. Amounts are decimal
//! strings. The compact form ([`PaymentPackage::to_compact`]) is the base64url encoding
//! (no padding) of the JSON, for headers.

use alloy_primitives::{Address, B256};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

use crate::{
    channel::{Reason, VoucherRejection},
    crypto::Signature,
    eip712::{ChannelParams, Domain, SignedVoucher, Voucher, memo_of},
    manager::PolicyRejection,
    types::{Amount, ChannelId},
    wire::MAX_BODY_LEN,
};

fn malformed(why: String) -> PackageRejection {
    PackageRejection::Malformed(why)
}

/// The version of the package format this node writes and reads.
pub const PACKAGE_VERSION: u32 = 1;

/// The longest package accepted, in bytes of JSON as received and as written again in
/// canonical form (the message may be 512 KiB, canonical form too).
pub const MAX_PACKAGE_LEN: usize = MAX_BODY_LEN + 4096;

/// The longest compact form: base64 of [`MAX_PACKAGE_LEN`] bytes.
const MAX_COMPACT_LEN: usize = MAX_PACKAGE_LEN.div_ceil(3) * 4;

/// A payment package (see the [module docs](self)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentPackage {
    /// [`PACKAGE_VERSION`].
    pub version: u32,
    /// The ledger the channel is on.
    pub ledger: PackageLedger,
    /// The channel's fixed parameters (its id is their digest).
    pub channel: PackageChannel,
    /// The voucher.
    pub voucher: PackageVoucher,
    /// The payer's EIP-712 signature of the voucher.
    pub signature: Signature,
    /// The message paid for, if it travels in the package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<serde_json::Value>,
}

/// The ledger of a package: its EIP-712 domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageLedger {
    /// The chain id.
    pub chain_id: u64,
    /// The adjudicator's address.
    pub verifying_contract: Address,
}

/// The channel parameters of a package.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageChannel {
    /// The party that opened the channel.
    pub party_a: Address,
    /// The other party.
    pub party_b: Address,
    /// The asset (zero: native).
    pub token: Address,
    /// Seconds of the challenge period.
    pub challenge_period: u64,
    /// The opener's nonce.
    pub nonce: B256,
}

/// The voucher of a package, amounts as decimal strings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageVoucher {
    /// The channel.
    pub channel_id: ChannelId,
    /// Who pays.
    pub payer: Address,
    /// Everything the payer has paid in this channel, as a decimal string.
    pub cumulative: String,
    /// The payer's voucher number.
    pub sequence: u64,
    /// keccak256 of the message.
    pub memo: B256,
}

/// What a verified package paid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerifiedPayment {
    /// The channel.
    pub channel_id: ChannelId,
    /// The payer.
    pub payer: Address,
    /// What this package added to the payer's total (more than the payer meant if an
    /// earlier package of its never reached us).
    pub amount: Amount,
    /// The payer's total after it.
    pub cumulative: Amount,
    /// What the payer may still spend in the channel.
    pub remaining: Amount,
    /// The voucher's memo.
    pub memo: B256,
    /// The message, if the package carried it.
    pub message: Option<serde_json::Value>,
}

impl PaymentPackage {
    /// The package of `voucher` on channel `params` of `domain`.
    pub fn new(
        domain: &Domain,
        params: &ChannelParams,
        voucher: &SignedVoucher,
        message: Option<serde_json::Value>,
    ) -> Self {
        let v = &voucher.voucher;
        PaymentPackage {
            version: PACKAGE_VERSION,
            ledger: PackageLedger {
                chain_id: domain.chain_id(),
                verifying_contract: domain.verifying_contract(),
            },
            channel: PackageChannel {
                party_a: params.party_a,
                party_b: params.party_b,
                token: params.token,
                challenge_period: params.challenge_period,
                nonce: params.nonce,
            },
            voucher: PackageVoucher {
                channel_id: v.channel_id,
                payer: v.payer,
                cumulative: v.cumulative.to_string(),
                sequence: v.sequence,
                memo: v.memo,
            },
            signature: voucher.signature,
            message,
        }
    }

    /// Parses a package from its JSON text or its compact (base64url) form.
    pub fn parse(text: &str) -> Result<Self, PackageRejection> {
        let text = text.trim();
        if text.len() > MAX_COMPACT_LEN {
            return Err(malformed(format!(
                "the package is larger than {MAX_PACKAGE_LEN} bytes"
            )));
        }
        if text.starts_with('{') {
            return Self::from_json(text.as_bytes());
        }
        let json = URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|e| malformed(format!("neither JSON nor base64url: {e}")))?;
        Self::from_json(&json)
    }

    fn from_json(json: &[u8]) -> Result<Self, PackageRejection> {
        if json.len() > MAX_PACKAGE_LEN {
            return Err(malformed(format!(
                "the package is larger than {MAX_PACKAGE_LEN} bytes"
            )));
        }
        let package: PaymentPackage = serde_json::from_slice(json)
            .map_err(|e| malformed(format!("malformed package: {e}")))?;
        // The limits hold for the canonical form too, the one this node writes and hashes:
        // `1E2` is written `100.0`, so a package under the limit as received could grow past
        // it, and then could not be written out (stored, forwarded, answered) and read again.
        let canonical = package.to_json().len();
        if canonical > MAX_PACKAGE_LEN {
            return Err(malformed(format!(
                "the package is {canonical} bytes once written in canonical form, the limit is \
                 {MAX_PACKAGE_LEN}"
            )));
        }
        if let Some(message) = &package.message {
            let len = serde_json::to_vec(message).map_or(usize::MAX, |m| m.len());
            if len > MAX_BODY_LEN {
                return Err(malformed(format!(
                    "the message is {len} bytes once written in canonical form, the limit is \
                     {MAX_BODY_LEN}"
                )));
            }
        }
        Ok(package)
    }

    /// The JSON text.
    pub fn to_json(&self) -> String {
        // A struct of strings, numbers and JSON values always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The compact form: base64url of the JSON, without padding.
    pub fn to_compact(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.to_json())
    }

    /// The ledger domain it names.
    pub fn domain(&self) -> Domain {
        Domain::new(self.ledger.chain_id, self.ledger.verifying_contract)
    }

    /// The channel parameters it names.
    pub fn params(&self) -> ChannelParams {
        let c = &self.channel;
        ChannelParams {
            party_a: c.party_a,
            party_b: c.party_b,
            token: c.token,
            challenge_period: c.challenge_period,
            nonce: c.nonce,
        }
    }

    /// The signed voucher it carries (the amount parsed).
    pub fn signed_voucher(&self) -> Result<SignedVoucher, PackageRejection> {
        let v = &self.voucher;
        let cumulative = v.cumulative.parse::<Amount>().map_err(|_| {
            malformed(format!(
                "voucher.cumulative {:?} is not a whole number up to {}",
                v.cumulative,
                Amount::MAX
            ))
        })?;
        if cumulative.to_string() != v.cumulative {
            return Err(malformed(format!(
                "voucher.cumulative {:?} is not in canonical decimal form",
                v.cumulative
            )));
        }
        Ok(SignedVoucher {
            voucher: Voucher {
                channel_id: v.channel_id,
                payer: v.payer,
                cumulative,
                sequence: v.sequence,
                memo: v.memo,
            },
            signature: self.signature,
        })
    }
}

/// What a package claims, once [`PaymentPackage::claim`] has checked everything the package
/// alone can show: the channel it names, and the payer's voucher in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The channel's parameters (their digest is the voucher's channel id).
    pub params: ChannelParams,
    /// The voucher, signed by its payer, a party of the channel.
    pub voucher: SignedVoucher,
}

impl PaymentPackage {
    /// Checks everything the package alone can show, for the payee `me` on the ledger
    /// `domain`: the format version, the ledger, that the channel id is the digest of the
    /// parameters, that the payer is a party and `me` the other, the payer's signature, and,
    /// when the package carries its message, that the memo is the message's. Answers the
    /// claim; what it is worth depends on the channel (the payer's total and deposits).
    pub fn claim(&self, domain: &Domain, me: Address) -> Result<Claim, PackageRejection> {
        if self.version != PACKAGE_VERSION {
            return Err(PackageRejection::Version {
                got: self.version,
                supported: PACKAGE_VERSION,
            });
        }
        if self.domain() != *domain {
            return Err(PackageRejection::OtherLedger);
        }
        let params = self.params();
        let voucher = self.signed_voucher()?;
        let v = &voucher.voucher;
        if params.id(domain) != v.channel_id {
            return Err(PackageRejection::ChannelId);
        }
        let payee = if v.payer == params.party_a {
            params.party_b
        } else if v.payer == params.party_b {
            params.party_a
        } else {
            return Err(PackageRejection::NotAParty);
        };
        if payee != me {
            return Err(PackageRejection::OtherPayee);
        }
        if !voucher.is_signed_by_payer(domain) {
            return Err(PackageRejection::Signature);
        }
        if let Some(message) = &self.message {
            // Checked at parse time to fit the body limit in this very form.
            let encoded = serde_json::to_vec(message)
                .map_err(|e| malformed(format!("the message does not encode: {e}")))?;
            if memo_of(&encoded) != v.memo {
                return Err(PackageRejection::Message);
            }
        }
        Ok(Claim { params, voucher })
    }
}

/// Why a payment package was refused. Nothing was recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PackageRejection {
    /// Not a package: too large, neither JSON nor base64url, a field missing or malformed.
    #[error("{0}")]
    Malformed(String),
    /// A format version this node does not read.
    #[error("version {got} is not supported (this node reads version {supported})")]
    Version {
        /// The package's version.
        got: u32,
        /// The version this node reads.
        supported: u32,
    },
    /// For another ledger.
    #[error("the package is for another ledger")]
    OtherLedger,
    /// The channel id is not the digest of the channel parameters.
    #[error("the channel id is not the digest of the channel parameters")]
    ChannelId,
    /// The payer is not a party of the channel.
    #[error("the payer is not a party of the channel")]
    NotAParty,
    /// It pays another node.
    #[error("the package pays another node")]
    OtherPayee,
    /// The signature is not the payer's.
    #[error("the signature is not the payer's")]
    Signature,
    /// The message is not the one the voucher pays for.
    #[error("the message is not the one the voucher pays for")]
    Message,
    /// The channel is not open on the ledger, or not there at all.
    #[error("channel {id} is {}", if *.known { "not open on the ledger" } else { "not on the ledger (not opened yet?)" })]
    NotOnLedger {
        /// The channel.
        id: ChannelId,
        /// Whether the ledger knows it (closed) or not at all.
        known: bool,
    },
    /// Our channel policy refuses the channel.
    #[error(transparent)]
    Policy(PolicyRejection),
    /// The channel's rules refuse the voucher (replayed, older, over the payer's balance).
    #[error(transparent)]
    Voucher(VoucherRejection),
    /// It pays less than the price of what it pays for.
    #[error("underpaid: the package pays {amount}, at least {min} is due")]
    Underpaid {
        /// What it pays.
        amount: Amount,
        /// What is due.
        min: Amount,
    },
}

impl Reason for PackageRejection {
    fn reason(&self) -> &'static str {
        match self {
            PackageRejection::Malformed(_) => "package.malformed",
            PackageRejection::Version { .. } => "package.version",
            PackageRejection::OtherLedger => "package.other_ledger",
            PackageRejection::ChannelId => "package.channel_id",
            PackageRejection::NotAParty => "package.not_a_party",
            PackageRejection::OtherPayee => "package.other_payee",
            PackageRejection::Signature => "package.signature",
            PackageRejection::Message => "package.message",
            PackageRejection::NotOnLedger { .. } => "package.not_on_ledger",
            PackageRejection::Policy(e) => e.reason(),
            PackageRejection::Voucher(e) => e.reason(),
            PackageRejection::Underpaid { .. } => "package.underpaid",
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    /// A package whose message is `message_json` (raw JSON text, spliced in as received).
    fn package_text(message_json: &str) -> String {
        let package = PaymentPackage {
            version: PACKAGE_VERSION,
            ledger: PackageLedger {
                chain_id: 1337,
                verifying_contract: Address::repeat_byte(0xcc),
            },
            channel: PackageChannel {
                party_a: Address::repeat_byte(0xa),
                party_b: Address::repeat_byte(0xb),
                token: Address::ZERO,
                challenge_period: 86_400,
                nonce: B256::repeat_byte(1),
            },
            voucher: PackageVoucher {
                channel_id: ChannelId(B256::repeat_byte(2)),
                payer: Address::repeat_byte(0xa),
                cumulative: "10".into(),
                sequence: 1,
                memo: B256::repeat_byte(3),
            },
            signature: Signature([4; 65].into()),
            message: Some(serde_json::Value::Null),
        };
        package
            .to_json()
            .replace("\"message\":null", &format!("\"message\":{message_json}"))
    }

    fn refused_as_malformed(text: &str) -> String {
        match PaymentPackage::parse(text) {
            Err(PackageRejection::Malformed(why)) => why,
            other => panic!("expected a malformed-package refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_package_that_grows_when_written_again_is_refused() {
        // Issue 21, defect 3: `1E2` is written `100.0`; 120 000 of them fit the limit as
        // received (480 KB) but not once written again (720 KB).
        let message = format!("[{}1E2]", "1E2,".repeat(120_000));
        let text = package_text(&message);
        assert!(text.len() <= MAX_PACKAGE_LEN);
        let why = refused_as_malformed(&text);
        assert!(why.contains("canonical form"), "{why}");
        let compact = URL_SAFE_NO_PAD.encode(&text);
        assert!(refused_as_malformed(&compact).contains("canonical form"));
    }

    #[test]
    fn a_message_over_the_body_limit_in_canonical_form_is_refused() {
        // Under the message limit as received, over it once written: 500 `1E2` grow by
        // 1000 bytes, while the package as a whole stays under its own limit.
        let grows = "1E2,".repeat(500);
        let fill = "1,".repeat((MAX_BODY_LEN - 10 - grows.len() - 3) / 2);
        let message = format!("[{grows}{fill}1]");
        assert!(message.len() <= MAX_BODY_LEN);
        let text = package_text(&message);
        assert!(text.len() <= MAX_PACKAGE_LEN);
        assert!(refused_as_malformed(&text).contains("the message is"));
    }

    #[test]
    fn every_accepted_package_is_written_and_read_again() {
        let message = format!("[{}1]", "1,".repeat(MAX_BODY_LEN / 2 - 2));
        let package = PaymentPackage::parse(&package_text(&message)).unwrap();
        assert_eq!(PaymentPackage::parse(&package.to_json()).unwrap(), package);
        assert_eq!(
            PaymentPackage::parse(&package.to_compact()).unwrap(),
            package
        );
    }
}
