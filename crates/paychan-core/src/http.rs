//! The HTTP wire formats: the `402` challenge (`WWW-Authenticate: Paychan …` plus a JSON body
//! with the same fields), the `Authorization: Paychan <package>` credentials, and the
//! `Payment-Receipt` header, optionally signed by the payee. Pure formats, in the core so
//! that every payer reads them with this one implementation: `paychan-http` (as its
//! `header` module) and the browser's `paychan-wasm` (docs/HTTP.md).
//!
//! Header parameters are RFC 9110 `auth-param`s (section 11.2) separated by commas:
//! `key="value"`, the value a `quoted-string` in which `"` and `\` are escaped by a
//! backslash (section 5.6.4), so a request such as `GET /search?q=a,b` or a path with a quote
//! travels intact. The parser reads what the writers write, and also bare `token` values;
//! values hold visible ASCII, spaces and tabs only (what a header value can carry), and
//! anything else is refused. docs/PROTOCOL.md describes the HTTP payment flow.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    Address, Amount, B256, ChannelId, Domain, Signature, SigningKey,
    front::{FrontCertificate, SignedFrontCertificate},
    keccak256,
    types::parse_amount,
};

/// The authentication scheme name.
pub const SCHEME: &str = "Paychan";

/// The receipt header.
pub const RECEIPT_HEADER: &str = "payment-receipt";

/// Who to pay and how much: what a `402` answer offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// The price of the call, in the ledger's smallest unit (a decimal string in JSON).
    #[serde(with = "amount_text")]
    pub price: Amount,
    /// The payee's address (the channel's other party).
    pub payee: Address,
    /// The ledger's chain id.
    pub chain_id: u64,
    /// The ledger's adjudicator (EIP-712 verifying contract).
    pub contract: Address,
    /// Where the payee node listens for peers (`ADDRESS@HOST:PORT`), if it does. Not needed
    /// to pay (channels are opened on the ledger), but lets a client connect for a
    /// cooperative close.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// The body of a `402`, `502` or `503` answer: why, and the challenge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentError {
    /// A stable code: `payment_required` (no package), `package_refused` (a package was
    /// refused and nothing was recorded: the payer may take it back), `verification_failed`
    /// (the payee's node failed before recording anything: the payer may take it back),
    /// `verification_unknown` (the payee cannot tell whether the package was recorded: the
    /// payer must count it as paid), `service_failed` (`502`: the service failed, the call is
    /// not charged and nothing was recorded: the payer may take it back).
    pub error: String,
    /// A human explanation.
    pub message: String,
    /// The challenge.
    #[serde(flatten)]
    pub challenge: Challenge,
}

impl PaymentError {
    /// No package was presented.
    pub const PAYMENT_REQUIRED: &'static str = "payment_required";
    /// The package was refused and nothing was recorded.
    pub const PACKAGE_REFUSED: &'static str = "package_refused";
    /// The payee's node failed before recording the package.
    pub const VERIFICATION_FAILED: &'static str = "verification_failed";
    /// Whether the package was recorded is unknown.
    pub const VERIFICATION_UNKNOWN: &'static str = "verification_unknown";
    /// The service behind the paywall failed (a `5xx`, or the proxy's upstream did not
    /// answer): the call is not charged, the package was not recorded.
    pub const SERVICE_FAILED: &'static str = "service_failed";
    /// The payer went over its rate limit (`429`): the package was not recorded.
    pub const RATE_LIMITED: &'static str = "rate_limited";

    /// Whether the payer may take its package back: the payee says it recorded nothing
    /// (it refused the package, its node failed first, or it never saw one: a front between
    /// the payer and the paywall dropped the header).
    pub fn nothing_recorded(&self) -> bool {
        self.error == Self::PACKAGE_REFUSED
            || self.error == Self::VERIFICATION_FAILED
            || self.error == Self::PAYMENT_REQUIRED
            || self.error == Self::SERVICE_FAILED
            || self.error == Self::RATE_LIMITED
    }
}

impl Challenge {
    /// The `WWW-Authenticate` value.
    pub fn to_header(&self) -> String {
        let mut params = vec![
            ("price", self.price.to_string()),
            ("payee", self.payee.to_string()),
            ("chain_id", self.chain_id.to_string()),
            ("contract", self.contract.to_string()),
        ];
        if let Some(node) = &self.node {
            params.push(("node", node.clone()));
        }
        write_params(&params)
    }

    /// Parses a `WWW-Authenticate` value of the `Paychan` scheme.
    pub fn parse(header: &str) -> Result<Self, String> {
        let params = auth_params(header)?;
        let field = |name: &str| {
            params
                .get(name)
                .ok_or_else(|| format!("the challenge has no {name}"))
        };
        Ok(Challenge {
            price: parse_amount(field("price")?)?,
            payee: field("payee")?
                .parse()
                .map_err(|_| "the challenge's payee is not an address".to_owned())?,
            chain_id: field("chain_id")?
                .parse()
                .map_err(|_| "the challenge's chain_id is not a number".to_owned())?,
            contract: field("contract")?
                .parse()
                .map_err(|_| "the challenge's contract is not an address".to_owned())?,
            node: params.get("node").cloned(),
        })
    }
}

/// What a served call was paid with: the `Payment-Receipt` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The channel.
    pub channel_id: ChannelId,
    /// The payer.
    pub payer: Address,
    /// What the package paid.
    pub amount: Amount,
    /// The payer's total in the channel.
    pub cumulative: Amount,
    /// What the payer may still spend in the channel.
    pub remaining: Amount,
    /// The request paid for (`METHOD /path?query`).
    pub request: String,
    /// The payee's signature of [`Receipt::digest`], if it signs receipts, or a front's,
    /// with the payee's certificate of the front's key in `certificate`.
    pub signature: Option<Signature>,
    /// The payee's certificate of the front that signed the receipt, if a front did
    /// (docs/HA.md: a front signs with a key of its own that cannot move funds).
    pub certificate: Option<SignedFrontCertificate>,
}

impl Receipt {
    /// The hash the payee signs: keccak256 of a fixed text naming every field.
    pub fn digest(&self) -> B256 {
        keccak256(
            format!(
                "paychan receipt v1\nchannel {}\npayer {}\namount {}\ncumulative {}\nremaining {}\nrequest {}",
                self.channel_id,
                self.payer,
                self.amount,
                self.cumulative,
                self.remaining,
                self.request
            )
            .as_bytes(),
        )
    }

    /// Signs the receipt with the payee's key.
    pub fn sign(&mut self, key: &SigningKey) {
        self.signature = Some(key.sign_hash(&self.digest()));
    }

    /// Signs the receipt as a front of the payee: with the front's own key, presenting the
    /// payee's `certificate` of it.
    pub fn sign_as_front(&mut self, front_key: &SigningKey, certificate: SignedFrontCertificate) {
        self.sign(front_key);
        self.certificate = Some(certificate);
    }

    /// Whether the receipt carries a valid signature of `payee` itself.
    pub fn is_signed_by(&self, payee: Address) -> bool {
        self.signature
            .is_some_and(|s| s.verify(&self.digest(), payee))
    }

    /// Who signed the receipt for `payee`: the payee itself, or a front whose certificate the
    /// payee signed on the ledger `domain` and that has not expired at `now` (unix seconds).
    /// The error says why neither did.
    pub fn signer_for(&self, payee: Address, domain: &Domain, now: u64) -> Result<Address, String> {
        let Some(signature) = self.signature else {
            return Err("the receipt is not signed".to_owned());
        };
        if signature.verify(&self.digest(), payee) {
            return Ok(payee);
        }
        let Some(certificate) = &self.certificate else {
            return Err(format!("the receipt is not signed by the payee {payee}"));
        };
        let front = certificate.certificate.front;
        certificate
            .check(domain, payee, front, now)
            .map_err(|e| format!("the receipt's front certificate is refused: {e}"))?;
        if signature.verify(&self.digest(), front) {
            Ok(front)
        } else {
            Err(format!(
                "the receipt is signed by neither the payee {payee} nor its front {front}"
            ))
        }
    }

    /// The header value.
    pub fn to_header(&self) -> String {
        let mut params = vec![
            ("channel_id", self.channel_id.to_string()),
            ("payer", self.payer.to_string()),
            ("amount", self.amount.to_string()),
            ("cumulative", self.cumulative.to_string()),
            ("remaining", self.remaining.to_string()),
            ("request", self.request.clone()),
        ];
        if let Some(signature) = &self.signature {
            params.push(("signature", signature.0.to_string()));
        }
        if let Some(SignedFrontCertificate {
            certificate,
            signature,
        }) = &self.certificate
        {
            params.push(("front_payee", certificate.payee.to_string()));
            params.push(("front", certificate.front.to_string()));
            params.push(("front_expiry", certificate.expiry.to_string()));
            params.push(("front_signature", signature.0.to_string()));
        }
        write_params(&params)
    }

    /// Parses a `Payment-Receipt` value.
    pub fn parse(header: &str) -> Result<Self, String> {
        let params = auth_params(header)?;
        let field = |name: &str| {
            params
                .get(name)
                .ok_or_else(|| format!("the receipt has no {name}"))
        };
        let signature_of = |name: &str| -> Result<Option<Signature>, String> {
            params
                .get(name)
                .map(|text| {
                    serde_json::from_value::<Signature>(serde_json::Value::String(text.clone()))
                        .map_err(|_| format!("the receipt's {name} is malformed"))
                })
                .transpose()
        };
        let signature = signature_of("signature")?;
        let certificate = match signature_of("front_signature")? {
            None => None,
            Some(signature) => Some(SignedFrontCertificate {
                certificate: FrontCertificate {
                    payee: field("front_payee")?
                        .parse()
                        .map_err(|_| "the receipt's front_payee is not an address".to_owned())?,
                    front: field("front")?
                        .parse()
                        .map_err(|_| "the receipt's front is not an address".to_owned())?,
                    expiry: field("front_expiry")?
                        .parse()
                        .map_err(|_| "the receipt's front_expiry is not a time".to_owned())?,
                },
                signature,
            }),
        };
        Ok(Receipt {
            channel_id: field("channel_id")?
                .parse()
                .map_err(|_| "the receipt's channel_id is malformed".to_owned())?,
            payer: field("payer")?
                .parse()
                .map_err(|_| "the receipt's payer is not an address".to_owned())?,
            amount: parse_amount(field("amount")?)?,
            cumulative: parse_amount(field("cumulative")?)?,
            remaining: parse_amount(field("remaining")?)?,
            request: field("request")?.clone(),
            signature,
            certificate,
        })
    }
}

/// The header announcing a pay-per-time stream.
pub const STREAM_HEADER: &str = "payment-stream";

/// The terms of a pay-per-time stream, announced in the `Payment-Stream` header of its
/// (paid) first answer: the first interval is paid; each further one is paid by a `POST`
/// to `pay` before the paid time runs out, at the latest `grace` after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamTerms {
    /// The stream's id on this server.
    pub id: String,
    /// The price of one interval.
    pub price: Amount,
    /// The length of an interval, in milliseconds.
    pub interval_ms: u64,
    /// How late a payment may be before the stream is closed, in milliseconds.
    pub grace_ms: u64,
    /// The path to `POST` each interval's payment to (a package bound to `POST <pay>`).
    pub pay: String,
}

impl StreamTerms {
    /// The `Payment-Stream` value.
    pub fn to_header(&self) -> String {
        write_params(&[
            ("id", self.id.clone()),
            ("price", self.price.to_string()),
            ("interval_ms", self.interval_ms.to_string()),
            ("grace_ms", self.grace_ms.to_string()),
            ("pay", self.pay.clone()),
        ])
    }

    /// Parses a `Payment-Stream` value.
    pub fn parse(header: &str) -> Result<Self, String> {
        let params = auth_params(header)?;
        let field = |name: &str| {
            params
                .get(name)
                .ok_or_else(|| format!("the stream terms have no {name}"))
        };
        let millis = |name: &str| -> Result<u64, String> {
            field(name)?
                .parse()
                .map_err(|_| format!("the stream's {name} is not a number"))
        };
        let terms = StreamTerms {
            id: field("id")?.clone(),
            price: parse_amount(field("price")?)?,
            interval_ms: millis("interval_ms")?,
            grace_ms: millis("grace_ms")?,
            pay: field("pay")?.clone(),
        };
        if terms.interval_ms == 0 {
            return Err("the stream's interval is zero".into());
        }
        if !terms.pay.starts_with('/') {
            return Err("the stream's payment path is not a path".into());
        }
        Ok(terms)
    }
}

/// The request a package must be bound to: `{"method": "GET", "path": "/a?b"}`, the message
/// a paying client puts in its package.
pub fn binding(method: &str, path_and_query: &str) -> serde_json::Value {
    serde_json::json!({ "method": method, "path": path_and_query })
}

/// The package of an `Authorization: Paychan <package>` value, if it is of this scheme.
pub fn credentials(authorization: &str) -> Option<&str> {
    let (scheme, rest) = authorization.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case(SCHEME).then(|| rest.trim())
}

/// The `Authorization` value that presents `compact`.
pub fn authorization(compact: &str) -> String {
    format!("{SCHEME} {compact}")
}

/// `Paychan key="value", …`: each value a `quoted-string`, `"` and `\` escaped.
fn write_params(params: &[(&str, String)]) -> String {
    let mut text = String::from(SCHEME);
    for (n, (key, value)) in params.iter().enumerate() {
        text.push_str(if n == 0 { " " } else { ", " });
        text.push_str(key);
        text.push_str("=\"");
        for c in value.chars() {
            if matches!(c, '"' | '\\') {
                text.push('\\');
            }
            text.push(c);
        }
        text.push('"');
    }
    text
}

/// RFC 9110 `tchar`: what a token (a key, or an unquoted value) is made of.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// What a value may hold: visible ASCII, space and tab (a header value carries no more).
fn is_value_char(c: char) -> bool {
    c == '\t' || c == ' ' || c.is_ascii_graphic()
}

/// Skips optional whitespace (`OWS`/`BWS`: spaces and tabs).
fn skip_ows(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while chars.next_if(|c| matches!(c, ' ' | '\t')).is_some() {}
}

/// The `auth-param`s after the `Paychan` scheme name: `key=value` or `key="value"` (a
/// `quoted-string` with backslash escapes), separated by commas; empty list elements are
/// skipped (RFC 9110 section 5.6.1). Keys are case-insensitive and may appear once.
fn auth_params(header: &str) -> Result<BTreeMap<String, String>, String> {
    let rest = credentials(header).ok_or_else(|| format!("not a {SCHEME} header"))?;
    let mut params = BTreeMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.next_if(|c| matches!(c, ' ' | '\t' | ',')).is_some() {}
        if chars.peek().is_none() {
            return Ok(params);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| is_tchar(*c)) {
            key.push(c.to_ascii_lowercase());
        }
        skip_ows(&mut chars);
        if key.is_empty() || chars.next() != Some('=') {
            return Err(format!("{rest:?} is not a list of key=\"value\""));
        }
        skip_ows(&mut chars);
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(c) if is_value_char(c) => value.push(c),
                        _ => return Err(format!("the value of {key} has a bad escape")),
                    },
                    Some(c) if is_value_char(c) => value.push(c),
                    Some(_) => {
                        return Err(format!(
                            "the value of {key} holds a control or non-ASCII character"
                        ));
                    }
                    None => return Err(format!("the value of {key} is not closed")),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| is_tchar(*c)) {
                value.push(c);
            }
            if value.is_empty() {
                return Err(format!("the value of {key} is neither a token nor quoted"));
            }
        }
        skip_ows(&mut chars);
        if chars.next_if(|c| *c != ',').is_some() {
            return Err(format!(
                "the value of {key} is followed by more than a comma"
            ));
        }
        if params.insert(key.clone(), value).is_some() {
            return Err(format!("{key} appears twice"));
        }
    }
}

/// Amounts as decimal strings in JSON.
mod amount_text {
    use crate::Amount;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(amount: &Amount, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&amount.to_string())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Amount, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_amount(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn a_challenge_round_trips_and_bad_ones_are_refused() {
        let challenge = Challenge {
            price: 25,
            payee: Address::repeat_byte(0xb0),
            chain_id: 1337,
            contract: Address::repeat_byte(0xcc),
            node: Some(format!("{}@127.0.0.1:6345", Address::repeat_byte(0xb0))),
        };
        let header = challenge.to_header();
        assert!(header.starts_with("Paychan price=\"25\", payee=\"0x"));
        assert_eq!(Challenge::parse(&header).unwrap(), challenge);
        let json = serde_json::to_value(&challenge).unwrap();
        assert_eq!(json["price"], "25");
        assert_eq!(
            serde_json::from_value::<Challenge>(json).unwrap(),
            challenge
        );
        for bad in [
            "Bearer price=\"1\"",
            "Paychan price=1, payee=\"0x\"",
            "Paychan price=\"-1\", payee=\"0x00\"",
            &header.replace("price=\"25\"", "price=\"25\", price=\"1\""),
            &header.replace("chain_id=\"1337\"", "chain_id=\"x\""),
        ] {
            assert!(Challenge::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_receipt_round_trips_and_its_signature_binds_every_field() {
        let key = SigningKey::from_entropy(&[7; 32]).unwrap();
        let mut receipt = Receipt {
            channel_id: ChannelId(B256::repeat_byte(1)),
            payer: Address::repeat_byte(2),
            amount: 10,
            cumulative: 30,
            remaining: 970,
            request: "GET /weather?city=Oslo".into(),
            signature: None,
            certificate: None,
        };
        assert_eq!(Receipt::parse(&receipt.to_header()).unwrap(), receipt);
        assert!(!receipt.is_signed_by(key.address()));
        receipt.sign(&key);
        let parsed = Receipt::parse(&receipt.to_header()).unwrap();
        assert!(parsed.is_signed_by(key.address()));
        let mut altered = parsed.clone();
        altered.remaining = 971;
        assert!(!altered.is_signed_by(key.address()));
        assert!(!parsed.is_signed_by(Address::repeat_byte(9)));
    }

    /// A front signs receipts with its own key and presents the payee's certificate: the
    /// receipt is accepted for the payee while the certificate holds, and refused for
    /// another payee, after the expiry, with a forged certificate or another key's signature.
    #[test]
    fn a_front_signs_receipts_under_the_payees_certificate() {
        let payee = SigningKey::from_entropy(&[7; 32]).unwrap();
        let front = SigningKey::from_entropy(&[8; 32]).unwrap();
        let domain = Domain::new(1337, Address::repeat_byte(0xcc));
        let certificate = SignedFrontCertificate::sign(&payee, front.address(), 2_000, &domain);
        let mut receipt = Receipt {
            channel_id: ChannelId(B256::repeat_byte(1)),
            payer: Address::repeat_byte(2),
            amount: 10,
            cumulative: 30,
            remaining: 970,
            request: "GET /weather".into(),
            signature: None,
            certificate: None,
        };
        assert_eq!(
            receipt.signer_for(payee.address(), &domain, 1_000),
            Err("the receipt is not signed".to_owned())
        );
        receipt.sign_as_front(&front, certificate);
        let parsed = Receipt::parse(&receipt.to_header()).unwrap();
        assert_eq!(parsed, receipt);
        assert_eq!(
            parsed.signer_for(payee.address(), &domain, 1_000),
            Ok(front.address())
        );
        assert!(
            !parsed.is_signed_by(payee.address()),
            "not the payee's own signature"
        );
        // Another payee, an expired certificate, another ledger.
        let refused = |r: &Receipt, payee: Address, domain: &Domain, now: u64| {
            r.signer_for(payee, domain, now).unwrap_err()
        };
        assert!(refused(&parsed, Address::repeat_byte(9), &domain, 1_000).contains("payee"));
        assert!(refused(&parsed, payee.address(), &domain, 2_001).contains("expired"));
        let other = Domain::new(1, Address::repeat_byte(0xcc));
        assert!(
            refused(&parsed, payee.address(), &other, 1_000).contains("not signed by its payee")
        );
        // A certificate the front made up, and a receipt altered after signing.
        let mut forged = parsed.clone();
        forged.certificate = Some(SignedFrontCertificate::sign(
            &front,
            front.address(),
            2_000,
            &domain,
        ));
        assert!(refused(&forged, payee.address(), &domain, 1_000).contains("refused"));
        let mut altered = parsed.clone();
        altered.amount = 11;
        assert!(refused(&altered, payee.address(), &domain, 1_000).contains("neither"));
        // The payee's own signature needs no certificate.
        let mut own = receipt.clone();
        own.certificate = None;
        own.sign(&payee);
        assert_eq!(
            own.signer_for(payee.address(), &domain, 5_000),
            Ok(payee.address())
        );
    }

    #[test]
    fn stream_terms_round_trip_and_bad_ones_are_refused() {
        let terms = StreamTerms {
            id: "7".into(),
            price: 10,
            interval_ms: 250,
            grace_ms: 1_000,
            pay: "/paychan/stream/7".into(),
        };
        assert_eq!(StreamTerms::parse(&terms.to_header()).unwrap(), terms);
        for bad in [
            terms
                .to_header()
                .replace("interval_ms=\"250\"", "interval_ms=\"0\""),
            terms.to_header().replace("pay=\"/", "pay=\"http://x/"),
            terms
                .to_header()
                .replace("grace_ms=\"1000\"", "grace_ms=\"soon\""),
            terms.to_header().replace(", price=\"10\"", ""),
        ] {
            assert!(StreamTerms::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn values_with_commas_quotes_and_backslashes_round_trip() {
        // Issue 21, defect 1: a paid `GET /search?q=a,b` got a receipt nobody could read.
        let mut receipt = Receipt {
            channel_id: ChannelId(B256::repeat_byte(1)),
            payer: Address::repeat_byte(2),
            amount: 10,
            cumulative: 30,
            remaining: 970,
            request: "GET /search?q=a,b&name=\"x\"\\y, z=1".into(),
            signature: None,
            certificate: None,
        };
        receipt.sign(&SigningKey::from_entropy(&[7; 32]).unwrap());
        let header = receipt.to_header();
        // What `http::HeaderValue` accepts: visible ASCII, spaces and tabs.
        assert!(
            header
                .bytes()
                .all(|b| b == b'\t' || (0x20..0x7f).contains(&b)),
            "{header}"
        );
        assert_eq!(Receipt::parse(&header).unwrap(), receipt);
        let terms = StreamTerms {
            id: "a,b".into(),
            price: 10,
            interval_ms: 250,
            grace_ms: 1_000,
            pay: "/paychan/stream/7?x=1,2".into(),
        };
        assert_eq!(StreamTerms::parse(&terms.to_header()).unwrap(), terms);
        let challenge = Challenge {
            price: 1,
            payee: Address::repeat_byte(3),
            chain_id: 1,
            contract: Address::repeat_byte(4),
            node: Some("0x03@ws://h/p?a=\"1,2\"".into()),
        };
        assert_eq!(Challenge::parse(&challenge.to_header()).unwrap(), challenge);
    }

    #[test]
    fn auth_params_follow_rfc_9110() {
        let params = auth_params("Paychan a=tok, b = \"x\\\"y\" ,, c=\"\"").unwrap();
        assert_eq!(params["a"], "tok");
        assert_eq!(params["b"], "x\"y");
        assert_eq!(params["c"], "");
        for bad in [
            "Paychan a=\"open",
            "Paychan a=\"x\" b=\"y\"",
            "Paychan a=",
            "Paychan =\"x\"",
            "Paychan a=\"\u{7}\"",
            "Paychan a=\"é\"",
            "Paychan a=\"x\\",
            "Paychan a=\"x\", A=\"y\"",
        ] {
            assert!(auth_params(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn credentials_take_only_the_paychan_scheme() {
        assert_eq!(credentials("Paychan abc"), Some("abc"));
        assert_eq!(credentials("paychan  abc "), Some("abc"));
        assert_eq!(credentials("Bearer abc"), None);
        assert_eq!(credentials("Paychan"), None);
    }
}
