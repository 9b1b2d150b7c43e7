//! Peer addresses: who a peer is (its node address) and where to reach it.
//!
//! The text form is `ADDRESS@ENDPOINT`, where `ADDRESS` is the peer's 20-byte node address in
//! hex (`0x` prefix optional; if it mixes upper and lower case, its EIP-55 checksum must be
//! right) and `ENDPOINT` is either
//! - `HOST:PORT` for plain TCP (`HOST` a name, an IPv4 address or a bracketed IPv6 address), or
//! - `ws://HOST[:PORT][/PATH]` or `wss://HOST[:PORT][/PATH]` for WebSocket, so a node can sit
//!   behind a TLS-terminating reverse proxy (default ports 80 and 443), or
//! - `relay+wss://HOST[:PORT][/PATH]` (or `relay+ws://` without TLS, for local tests) for a
//!   peer registered at a `paychan relay` (docs/PROTOCOL.md, "Relay"): the dialer connects to
//!   the relay URL with `to=ADDRESS` added to its query and runs the usual handshake through
//!   it. A query already in the URL (such as `?token=TOKEN` for a relay that requires an
//!   access token) is kept.

use std::{fmt, net::Ipv6Addr, str::FromStr};

use paychan_core::Address;
#[cfg(feature = "runtime")]
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Why a peer address could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddrError {
    /// No `@` between the node address and the endpoint.
    #[error("expected ADDRESS@HOST:PORT or ADDRESS@ws(s)://HOST[:PORT]/PATH, found no '@'")]
    MissingAt,
    /// The node address is not 40 hex digits.
    #[error("invalid node address {0:?}: expected 40 hex digits, optionally prefixed by 0x")]
    BadAddress(String),
    /// The node address mixes cases but its EIP-55 checksum is wrong (a typo?).
    #[error("node address {0:?} has a wrong EIP-55 checksum")]
    BadChecksum(String),
    /// The host is empty or contains characters a host name cannot have.
    #[error("invalid host {0:?}")]
    BadHost(String),
    /// A TCP endpoint without a port.
    #[error("missing port in {0:?} (expected HOST:PORT)")]
    MissingPort(String),
    /// The port is not a number in 1..=65535.
    #[error("invalid port {0:?}")]
    BadPort(String),
    /// A URL scheme other than `ws`, `wss`, `relay+ws` or `relay+wss`.
    #[error("unsupported scheme {0:?} (expected ws, wss, relay+ws or relay+wss)")]
    UnsupportedScheme(String),
    /// A malformed WebSocket URL.
    #[error("invalid WebSocket URL {url:?}: {reason}")]
    BadUrl {
        /// The URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A peer: its node address and the endpoint it listens on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerAddr {
    address: Address,
    endpoint: Endpoint,
}

impl PeerAddr {
    /// A peer reachable at `endpoint` that must prove it holds `address`.
    pub fn new(address: Address, endpoint: Endpoint) -> Self {
        PeerAddr { address, endpoint }
    }

    /// The node address the peer must prove during the handshake.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Where the peer listens.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

impl FromStr for PeerAddr {
    type Err = AddrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (address, endpoint) = s.trim().split_once('@').ok_or(AddrError::MissingAt)?;
        Ok(PeerAddr {
            address: parse_node_address(address)?,
            endpoint: endpoint.parse()?,
        })
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.address, self.endpoint)
    }
}

/// Where a peer listens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// Plain TCP, each Noise message prefixed by its 2-byte big-endian length.
    Tcp {
        /// Host name or IP address (IPv6 without brackets).
        host: String,
        /// TCP port.
        port: u16,
    },
    /// WebSocket (`ws://`) or WebSocket over TLS (`wss://`), one binary WebSocket message per
    /// Noise message.
    WebSocket(WsUrl),
    /// Through a relay (`relay+ws://` or `relay+wss://`) where the peer is registered: the
    /// URL is the relay's.
    Relay(WsUrl),
}

impl FromStr for Endpoint {
    type Err = AddrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some((scheme, rest)) = s.split_once("://") else {
            let (host, port) = split_host_port(s, None)?;
            return Ok(Endpoint::Tcp { host, port });
        };
        let (tls, relay) = match scheme.to_ascii_lowercase().as_str() {
            "ws" => (false, false),
            "wss" => (true, false),
            "relay+ws" => (false, true),
            "relay+wss" => (true, true),
            _ => return Err(AddrError::UnsupportedScheme(scheme.to_owned())),
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(AddrError::BadUrl {
                url: s.to_owned(),
                reason: "user info is not supported".to_owned(),
            });
        }
        let (host, port) = split_host_port(authority, Some(if tls { 443 } else { 80 }))?;
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        let url = WsUrl {
            tls,
            host,
            port,
            path,
        };
        // Whatever the WebSocket client would refuse at dial time is refused here.
        #[cfg(feature = "runtime")]
        url.to_string()
            .into_client_request()
            .map_err(|e| AddrError::BadUrl {
                url: s.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(if relay {
            Endpoint::Relay(url)
        } else {
            Endpoint::WebSocket(url)
        })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp { host, port } => write_host_port(f, host, *port),
            Endpoint::WebSocket(url) => url.fmt(f),
            Endpoint::Relay(url) => write!(f, "relay+{url}"),
        }
    }
}

/// A `ws://` or `wss://` URL, split into the parts a dialer needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WsUrl {
    tls: bool,
    host: String,
    port: u16,
    path: String,
}

impl WsUrl {
    /// The same URL with `key=value` added to its query.
    pub fn with_query(&self, key: &str, value: &str) -> WsUrl {
        WsUrl {
            path: paychan_relay::proto::append_query(&self.path, key, value),
            ..self.clone()
        }
    }

    /// Whether the URL is `wss://` (TLS, verified against the bundled webpki roots).
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The host name or IP address (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The TCP port (explicit, or 80 for `ws` and 443 for `wss`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The path and query, starting with `/`.
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl fmt::Display for WsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.tls { "wss://" } else { "ws://" })?;
        write_host_port(f, &self.host, self.port)?;
        f.write_str(&self.path)
    }
}

fn write_host_port(f: &mut fmt::Formatter<'_>, host: &str, port: u16) -> fmt::Result {
    if host.contains(':') {
        write!(f, "[{host}]:{port}")
    } else {
        write!(f, "{host}:{port}")
    }
}

/// Parses a node address, checking its EIP-55 checksum when it mixes cases.
fn parse_node_address(s: &str) -> Result<Address, AddrError> {
    let hex = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AddrError::BadAddress(s.to_owned()));
    }
    let address = Address::from_str(hex).map_err(|_| AddrError::BadAddress(s.to_owned()))?;
    let upper = hex.bytes().any(|b| b.is_ascii_uppercase());
    let lower = hex.bytes().any(|b| b.is_ascii_lowercase());
    if upper && lower && address.to_checksum(None).get(2..) != Some(hex) {
        return Err(AddrError::BadChecksum(s.to_owned()));
    }
    Ok(address)
}

/// Splits `HOST:PORT` (or `[IPV6]:PORT`); without a port, `default_port` if given.
fn split_host_port(s: &str, default_port: Option<u16>) -> Result<(String, u16), AddrError> {
    let (host, port) = if let Some(bracketed) = s.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| AddrError::BadHost(s.to_owned()))?;
        if host.parse::<Ipv6Addr>().is_err() {
            return Err(AddrError::BadHost(host.to_owned()));
        }
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| AddrError::BadHost(s.to_owned()))?,
            ),
        };
        (host, port)
    } else {
        let (host, port) = match s.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (s, None),
        };
        let valid = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_');
        if host.is_empty() || !host.bytes().all(valid) {
            return Err(AddrError::BadHost(host.to_owned()));
        }
        (host, port)
    };
    let port = match (port, default_port) {
        (Some(port), _) => match port.parse::<u16>() {
            Ok(p) if p != 0 && port.bytes().all(|b| b.is_ascii_digit()) => p,
            _ => return Err(AddrError::BadPort(port.to_owned())),
        },
        (None, Some(default)) => default,
        (None, None) => return Err(AddrError::MissingPort(s.to_owned())),
    };
    Ok((host.to_owned(), port))
}
