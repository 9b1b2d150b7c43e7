//! The relay protocol without IO: the query of each kind of connection, the JSON control
//! messages, the registration signature and the close codes (docs/PROTOCOL.md, "Relay").
//!
//! Everything here is plain functions over strings and bytes, so the client side (a node's
//! relay listener, or a browser client compiled to WebAssembly) shares one implementation
//! with the relay. It needs no tokio and no sockets.
//!
//! # Connections
//!
//! Every connection is a WebSocket to the relay's URL (`ws(s)://HOST[:PORT][/PATH]`) whose
//! query says what it is for (a browser WebSocket cannot set headers):
//!
//! - `?register`: a party's *control* connection. The relay sends a [`RelayMessage::Challenge`];
//!   the party answers with a [`PartyMessage::Register`] signed by its node key; the relay
//!   answers [`RelayMessage::Registered`], then one [`RelayMessage::Incoming`] per dialer.
//! - `?to=0xADDRESS`: a *dialer*. Once the party accepted, the socket carries the binary
//!   messages of the two ends (the Noise session of docs/PROTOCOL.md), unchanged.
//! - `?ticket=TICKET`: the party's *data* connection answering one `incoming`: the relay
//!   pipes it to the waiting dialer.
//!
//! Each may add `&token=TOKEN` when the relay requires an access token. Control messages are
//! WebSocket text messages; the relay refuses with a close frame whose code is one of the
//! `CLOSE_*` constants and whose reason says why.

use std::str::FromStr;

use paychan_core::{Address, B256, Signature, SigningKey, keccak256};
use serde::{Deserialize, Serialize};

/// Version of the relay protocol, sent in the challenge.
pub const PROTOCOL_VERSION: u8 = 1;
/// Domain tag of the registration hash.
pub const REGISTER_TAG: &[u8] = b"paychan-relay-register-v1";
/// Length of a challenge, in bytes.
pub const CHALLENGE_LEN: usize = 32;
/// Length of a ticket, in bytes (sent as 64 hex digits).
pub const TICKET_LEN: usize = 32;
/// Longest control message a relay or a party reads, in bytes.
pub const MAX_CONTROL_MESSAGE: usize = 1024;

/// Close code: a malformed query or message, or a message not expected now.
pub const CLOSE_BAD_REQUEST: u16 = 4000;
/// Close code: the access token is missing or wrong.
pub const CLOSE_UNAUTHORIZED: u16 = 4001;
/// Close code: the registration's signature does not prove the address.
pub const CLOSE_FORGED: u16 = 4003;
/// Close code: nobody is registered under the dialed address.
pub const CLOSE_NOT_REGISTERED: u16 = 4004;
/// Close code: the ticket is unknown, used or expired.
pub const CLOSE_BAD_TICKET: u16 = 4005;
/// Close code: registration, accept or idle timeout.
pub const CLOSE_TIMEOUT: u16 = 4008;
/// Close code: a newer registration of the same address replaced this control connection.
pub const CLOSE_REPLACED: u16 = 4009;
/// Close code: the connection exceeded its rate, or the party has too many pending dials.
pub const CLOSE_RATE: u16 = 4029;
/// Close code (standard "message too big"): a message above the relay's frame limit.
pub const CLOSE_TOO_BIG: u16 = 1009;
/// Close code (standard "try again later"): the relay is full (total or per address).
pub const CLOSE_FULL: u16 = 1013;
/// Close code (standard "going away"): the relay shuts down.
pub const CLOSE_GOING_AWAY: u16 = 1001;

/// Why a query or a control message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtoError {
    /// The query names no role, or more than one.
    #[error("expected exactly one of `register`, `to=ADDRESS` or `ticket=TICKET` in the query")]
    NoRole,
    /// A query value is malformed.
    #[error("invalid {0} in the query")]
    BadQuery(&'static str),
    /// A control message is not the JSON expected.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The challenge names another relay than the one dialed.
    #[error("the relay calls itself {got:?}, but {expected:?} was dialed")]
    WrongRelay {
        /// The host dialed.
        expected: String,
        /// The host in the challenge.
        got: String,
    },
    /// The challenge is of another protocol version.
    #[error("relay protocol version {0}, this client speaks {PROTOCOL_VERSION}")]
    Version(u8),
    /// The registration's signature is malformed or signed by another key.
    #[error("the signature does not prove address {0}")]
    Forged(Address),
}

/// What a connection to the relay is for, from its query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// A party's control connection (`?register`).
    Register,
    /// A dialer wanting the party registered as this address (`?to=0xADDRESS`).
    Dial(Address),
    /// A party's data connection for one dialer (`?ticket=TICKET`).
    Accept([u8; TICKET_LEN]),
}

/// A parsed query: the role and the access token, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// What the connection is for.
    pub role: Role,
    /// The `token` parameter, as given.
    pub token: Option<String>,
}

/// Parses the query of a relay URL (what follows `?`, without it). Parameters other than
/// `register`, `to`, `ticket` and `token` are ignored; values are taken as they are (tokens,
/// addresses and tickets need no percent-encoding).
pub fn parse_query(query: &str) -> Result<Query, ProtoError> {
    let mut role = None;
    let mut token = None;
    let mut set = |r: Role| match role.replace(r) {
        None => Ok(()),
        Some(_) => Err(ProtoError::NoRole),
    };
    for param in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        match key {
            "register" => set(Role::Register)?,
            "to" => set(Role::Dial(
                parse_address(value).ok_or(ProtoError::BadQuery("to"))?,
            ))?,
            "ticket" => set(Role::Accept(
                parse_hex(value).ok_or(ProtoError::BadQuery("ticket"))?,
            ))?,
            "token" => token = Some(value.to_owned()),
            _ => {}
        }
    }
    Ok(Query {
        role: role.ok_or(ProtoError::NoRole)?,
        token,
    })
}

/// Appends `key=value` (or `key` alone if `value` is empty) to a path that may already have
/// a query: `/p` becomes `/p?key=value`, `/p?token=t` becomes `/p?token=t&key=value`.
pub fn append_query(path_and_query: &str, key: &str, value: &str) -> String {
    let separator = if path_and_query.contains('?') {
        '&'
    } else {
        '?'
    };
    if value.is_empty() {
        format!("{path_and_query}{separator}{key}")
    } else {
        format!("{path_and_query}{separator}{key}={value}")
    }
}

/// The query value naming `address` in a dial (`0x` and 40 lowercase hex digits).
pub fn address_param(address: Address) -> String {
    format!("0x{}", hex::encode(address.as_slice()))
}

/// The query value of a ticket (64 lowercase hex digits).
pub fn ticket_param(ticket: &[u8; TICKET_LEN]) -> String {
    hex::encode(ticket)
}

/// A control message from the relay to a party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum RelayMessage {
    /// The first message on a control connection.
    Challenge {
        /// [`PROTOCOL_VERSION`].
        version: u8,
        /// The relay's host name as the party dialed it (lowercase, no port, IPv6 without
        /// brackets); the party checks it before signing.
        relay: String,
        /// [`CHALLENGE_LEN`] random bytes, `0x`-prefixed hex.
        challenge: String,
    },
    /// The registration is accepted: dialers of `address` now reach this party.
    Registered {
        /// The registered node address, `0x`-prefixed hex.
        address: String,
    },
    /// A dialer waits: open a data connection with `?ticket=TICKET` within the accept
    /// timeout.
    Incoming {
        /// [`TICKET_LEN`] random bytes, 64 hex digits without prefix.
        ticket: String,
    },
}

/// A control message from a party to the relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum PartyMessage {
    /// The answer to the challenge.
    Register {
        /// The party's node address, `0x`-prefixed hex.
        address: String,
        /// `sign_hash(registration_hash(relay, challenge))`: 65 bytes `r || s || v`
        /// (`v` = 27 or 28), `0x`-prefixed hex.
        signature: String,
    },
}

impl RelayMessage {
    /// The message as the JSON text sent on the socket.
    pub fn to_json(&self) -> String {
        // Serializing these string-only variants cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses a text message of the relay.
    pub fn from_json(text: &str) -> Result<Self, ProtoError> {
        serde_json::from_str(text).map_err(|e| ProtoError::Malformed(e.to_string()))
    }
}

impl PartyMessage {
    /// The message as the JSON text sent on the socket.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses a text message of a party.
    pub fn from_json(text: &str) -> Result<Self, ProtoError> {
        serde_json::from_str(text).map_err(|e| ProtoError::Malformed(e.to_string()))
    }
}

/// The hash a party signs to register:
/// `keccak256(REGISTER_TAG || challenge (32 bytes) || relay host (UTF-8))`.
pub fn registration_hash(relay: &str, challenge: &[u8; CHALLENGE_LEN]) -> B256 {
    keccak256([REGISTER_TAG, challenge.as_slice(), relay.as_bytes()].concat())
}

/// A challenge message for `relay` (the relay side).
pub fn challenge_message(relay: &str, challenge: &[u8; CHALLENGE_LEN]) -> RelayMessage {
    RelayMessage::Challenge {
        version: PROTOCOL_VERSION,
        relay: relay.to_owned(),
        challenge: format!("0x{}", hex::encode(challenge)),
    }
}

/// The party's side of registration: checks the relay's challenge (version, and that the
/// relay names the host the party dialed, so a challenge relayed from another relay is not
/// signed) and returns the [`PartyMessage::Register`] answering it.
pub fn answer_challenge(
    challenge: &RelayMessage,
    dialed_host: &str,
    key: &SigningKey,
) -> Result<PartyMessage, ProtoError> {
    let RelayMessage::Challenge {
        version,
        relay,
        challenge,
    } = challenge
    else {
        return Err(ProtoError::Malformed("expected a challenge".to_owned()));
    };
    if *version != PROTOCOL_VERSION {
        return Err(ProtoError::Version(*version));
    }
    let expected = normalize_host(dialed_host);
    if *relay != expected {
        return Err(ProtoError::WrongRelay {
            expected,
            got: relay.clone(),
        });
    }
    let challenge: [u8; CHALLENGE_LEN] = parse_hex(challenge)
        .ok_or_else(|| ProtoError::Malformed("challenge is not 32 bytes of hex".to_owned()))?;
    let signature = key.sign_hash(&registration_hash(relay, &challenge));
    Ok(PartyMessage::Register {
        address: address_param(key.address()),
        signature: format!("0x{}", hex::encode(signature.as_bytes())),
    })
}

/// The relay's side of registration: the address proven by `register` over the challenge it
/// sent (refused if malformed or signed by another key than the address claimed).
pub fn verify_registration(
    register: &PartyMessage,
    relay: &str,
    challenge: &[u8; CHALLENGE_LEN],
) -> Result<Address, ProtoError> {
    let PartyMessage::Register { address, signature } = register;
    let address = parse_address(address)
        .ok_or_else(|| ProtoError::Malformed("address is not 20 bytes of hex".to_owned()))?;
    let signature: [u8; 65] = parse_hex(signature)
        .ok_or_else(|| ProtoError::Malformed("signature is not 65 bytes of hex".to_owned()))?;
    match Signature(signature.into()).recover(&registration_hash(relay, challenge)) {
        Ok(signer) if signer == address => Ok(address),
        _ => Err(ProtoError::Forged(address)),
    }
}

/// A host as relays name themselves: lowercase, without port, IPv6 without brackets. Takes
/// a host or an HTTP `Host` header (`host[:port]`, `[v6]:port`).
pub fn normalize_host(host: &str) -> String {
    let host = host.trim();
    let bare = if let Some(bracketed) = host.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else if host.matches(':').count() == 1 {
        host.split(':').next().unwrap_or_default()
    } else {
        // A bare name, or an IPv6 address without brackets (and so without port).
        host
    };
    bare.to_ascii_lowercase()
}

/// Parses `0x`-prefixed (or bare) hex of exactly `N` bytes.
pub fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let digits = s.strip_prefix("0x").unwrap_or(s);
    let mut out = [0u8; N];
    hex::decode_to_slice(digits, &mut out).ok()?;
    Some(out)
}

fn parse_address(s: &str) -> Option<Address> {
    let bytes: [u8; 20] = parse_hex(s)?;
    Address::from_str(&hex::encode(bytes)).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes([n; 32]).unwrap()
    }

    #[test]
    fn queries_name_one_role() {
        let a = key(1).address();
        let q = parse_query(&format!("to={}&token=abc", address_param(a))).unwrap();
        assert_eq!(q.role, Role::Dial(a));
        assert_eq!(q.token.as_deref(), Some("abc"));
        assert_eq!(parse_query("register&x=1").unwrap().role, Role::Register);
        let t = [7u8; TICKET_LEN];
        assert_eq!(
            parse_query(&format!("ticket={}", ticket_param(&t)))
                .unwrap()
                .role,
            Role::Accept(t)
        );
        assert_eq!(parse_query(""), Err(ProtoError::NoRole));
        assert_eq!(parse_query("token=x"), Err(ProtoError::NoRole));
        assert_eq!(
            parse_query("register&ticket=00"),
            Err(ProtoError::BadQuery("ticket"))
        );
        assert_eq!(
            parse_query(&format!("register&ticket={}", ticket_param(&t))),
            Err(ProtoError::NoRole)
        );
        assert_eq!(parse_query("to=0x12"), Err(ProtoError::BadQuery("to")));
        assert_eq!(append_query("/p", "register", ""), "/p?register");
        assert_eq!(append_query("/p?token=t", "to", "0x1"), "/p?token=t&to=0x1");
    }

    #[test]
    fn a_registration_proves_the_key_over_that_challenge_and_relay() {
        let (challenge, other) = ([1u8; 32], [2u8; 32]);
        let sent = challenge_message("relay.example", &challenge);
        let sent = RelayMessage::from_json(&sent.to_json()).unwrap();
        let answer = answer_challenge(&sent, "Relay.Example:443", &key(1)).unwrap();
        let answer = PartyMessage::from_json(&answer.to_json()).unwrap();
        assert_eq!(
            verify_registration(&answer, "relay.example", &challenge),
            Ok(key(1).address())
        );
        // Another challenge, or another relay: the signature proves nothing.
        let forged = Err(ProtoError::Forged(key(1).address()));
        assert_eq!(
            verify_registration(&answer, "relay.example", &other),
            forged
        );
        assert_eq!(
            verify_registration(&answer, "evil.example", &challenge),
            forged
        );
        // Claiming another address with one's own signature.
        let PartyMessage::Register { signature, .. } = answer;
        let claim = PartyMessage::Register {
            address: address_param(key(2).address()),
            signature,
        };
        assert_eq!(
            verify_registration(&claim, "relay.example", &challenge),
            Err(ProtoError::Forged(key(2).address()))
        );
        // A challenge naming another relay is not signed.
        assert!(matches!(
            answer_challenge(&sent, "other.example", &key(1)),
            Err(ProtoError::WrongRelay { .. })
        ));
        assert!(PartyMessage::from_json("{\"type\":\"register\"}").is_err());
    }

    #[test]
    fn hosts_are_normalized() {
        assert_eq!(normalize_host("Example.COM:8080"), "example.com");
        assert_eq!(normalize_host("[::1]:80"), "::1");
        assert_eq!(normalize_host("::1"), "::1");
        assert_eq!(normalize_host("127.0.0.1"), "127.0.0.1");
    }
}
