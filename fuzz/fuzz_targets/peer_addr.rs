//! Peer addresses (`ADDRESS@HOST:PORT`, `ADDRESS@ws(s)://HOST[:PORT]/PATH`,
//! `ADDRESS@relay+ws(s)://HOST[:PORT]/PATH`) and bare
//! endpoints, as typed by users, read from contacts or from a challenge's `node`.
//!
//! Property: whatever parses has a canonical text form that parses back to the same value and
//! prints the same (parser and writer agree), and the parts it exposes are in range.

#![no_main]

use libfuzzer_sys::fuzz_target;
use paychan_net::{Endpoint, PeerAddr};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(peer) = text.parse::<PeerAddr>() {
        let printed = peer.to_string();
        let again: PeerAddr = printed
            .parse()
            .unwrap_or_else(|e| panic!("{printed:?} (from {text:?}) does not parse: {e}"));
        assert_eq!(again, peer, "{text:?} -> {printed:?}");
        assert_eq!(again.to_string(), printed);
        check_endpoint(peer.endpoint());
    }
    if let Ok(endpoint) = text.parse::<Endpoint>() {
        let printed = endpoint.to_string();
        let again: Endpoint = printed
            .parse()
            .unwrap_or_else(|e| panic!("{printed:?} (from {text:?}) does not parse: {e}"));
        assert_eq!(again, endpoint, "{text:?} -> {printed:?}");
        check_endpoint(&endpoint);
    }
});

fn check_endpoint(endpoint: &Endpoint) {
    match endpoint {
        Endpoint::Tcp { host, port } => {
            assert!(!host.is_empty() && *port != 0, "{endpoint:?}");
        }
        Endpoint::WebSocket(url) | Endpoint::Relay(url) => {
            assert!(!url.host().is_empty(), "{endpoint:?}");
            assert!(url.path().starts_with('/'), "{endpoint:?}");
        }
        _ => {}
    }
}
