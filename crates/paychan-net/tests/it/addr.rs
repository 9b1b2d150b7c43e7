//! Parsing and printing peer addresses.

use paychan_net::{AddrError, Endpoint, PeerAddr};

const ADDR: &str = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf";

#[test]
fn parses_tcp_and_websocket_peers() {
    let p: PeerAddr = format!("{ADDR}@127.0.0.1:9735").parse().unwrap();
    assert_eq!(p.address().to_string(), ADDR);
    assert_eq!(
        p.endpoint(),
        &Endpoint::Tcp {
            host: "127.0.0.1".into(),
            port: 9735
        }
    );
    assert_eq!(p.to_string(), format!("{ADDR}@127.0.0.1:9735"));

    let p: PeerAddr = format!("{}@node.example.com:1", ADDR.to_lowercase())
        .parse()
        .unwrap();
    assert_eq!(p.to_string(), format!("{ADDR}@node.example.com:1"));

    let p: PeerAddr = format!("{ADDR}@[::1]:80").parse().unwrap();
    assert_eq!(p.to_string(), format!("{ADDR}@[::1]:80"));

    let p: PeerAddr = format!("{ADDR}@wss://pay.example.com/paychan")
        .parse()
        .unwrap();
    let Endpoint::WebSocket(url) = p.endpoint() else {
        panic!("not ws")
    };
    assert!(url.is_tls());
    assert_eq!(
        (url.host(), url.port(), url.path()),
        ("pay.example.com", 443, "/paychan")
    );
    assert_eq!(
        p.to_string(),
        format!("{ADDR}@wss://pay.example.com:443/paychan")
    );

    let p: PeerAddr = format!("{ADDR}@ws://127.0.0.1:8080").parse().unwrap();
    let Endpoint::WebSocket(url) = p.endpoint() else {
        panic!("not ws")
    };
    assert!(!url.is_tls());
    assert_eq!((url.port(), url.path()), (8080, "/"));
    // Round trip.
    assert_eq!(p.to_string().parse::<PeerAddr>().unwrap(), p);
}

#[test]
fn refuses_malformed_peers_with_clear_errors() {
    let err = |s: &str| s.parse::<PeerAddr>().unwrap_err();
    assert_eq!(err("127.0.0.1:9735"), AddrError::MissingAt);
    assert!(matches!(
        err("0x1234@127.0.0.1:1"),
        AddrError::BadAddress(_)
    ));
    assert!(matches!(
        err(&format!(
            "{}@127.0.0.1:1",
            ADDR.replace('E', "e").replacen('d', "D", 1)
        )),
        AddrError::BadChecksum(_)
    ));
    assert!(matches!(
        err(&format!("{ADDR}@127.0.0.1")),
        AddrError::MissingPort(_)
    ));
    assert!(matches!(
        err(&format!("{ADDR}@127.0.0.1:0")),
        AddrError::BadPort(_)
    ));
    assert!(matches!(
        err(&format!("{ADDR}@127.0.0.1:70000")),
        AddrError::BadPort(_)
    ));
    assert!(matches!(
        err(&format!("{ADDR}@127.0.0.1:+80")),
        AddrError::BadPort(_)
    ));
    assert!(matches!(err(&format!("{ADDR}@:80")), AddrError::BadHost(_)));
    assert!(matches!(
        err(&format!("{ADDR}@::1:80")),
        AddrError::BadHost(_)
    ));
    assert!(matches!(
        err(&format!("{ADDR}@[nope]:80")),
        AddrError::BadHost(_)
    ));
    assert!(matches!(
        err(&format!("{ADDR}@http://x:80/")),
        AddrError::UnsupportedScheme(_)
    ));
    assert!(matches!(
        err(&format!("{ADDR}@ws://user@x:80/")),
        AddrError::BadUrl { .. }
    ));
    assert!(matches!(
        err(&format!("{ADDR}@ws://x:80/a b")),
        AddrError::BadUrl { .. }
    ));
    assert!(matches!(
        err(&format!("{ADDR}@ws://:80/")),
        AddrError::BadHost(_)
    ));
}

#[test]
fn parses_peers_behind_a_relay() {
    let p: PeerAddr = format!("{ADDR}@relay+wss://relay.example/paychan?token=t0k")
        .parse()
        .unwrap();
    let Endpoint::Relay(url) = p.endpoint() else {
        panic!("not a relay")
    };
    assert!(url.is_tls());
    assert_eq!(
        (url.host(), url.port(), url.path()),
        ("relay.example", 443, "/paychan?token=t0k")
    );
    assert_eq!(
        url.with_query("to", "0x1").path(),
        "/paychan?token=t0k&to=0x1"
    );
    assert_eq!(
        p.to_string(),
        format!("{ADDR}@relay+wss://relay.example:443/paychan?token=t0k")
    );
    let p: PeerAddr = format!("{ADDR}@RELAY+WS://127.0.0.1:7000").parse().unwrap();
    assert_eq!(p.to_string(), format!("{ADDR}@relay+ws://127.0.0.1:7000/"));
    assert_eq!(p, p.to_string().parse().unwrap());
    assert!(matches!(
        format!("{ADDR}@relay+http://x").parse::<PeerAddr>(),
        Err(AddrError::UnsupportedScheme(_))
    ));
}
