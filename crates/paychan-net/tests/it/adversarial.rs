//! Malicious and broken peers: wrong or forged identities, garbage, oversize frames.

use std::time::Duration;

use paychan_core::wire::MAX_FRAME_LEN;
use paychan_net::{NetError, TransportKind, encode_binding};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

use crate::{
    assert_no_connection, count_panics, fast, identity, key, listen, mallory, noise_secret,
    peer_addr,
};

const QUIET: Duration = Duration::from_millis(300);

#[tokio::test]
async fn dialing_the_wrong_address_is_refused_on_both_transports() {
    let (server_id, client_id, someone_else) = (identity(1), identity(2), identity(3));
    let mut listener = listen(&server_id, fast()).await;
    for kind in [TransportKind::Tcp, TransportKind::WebSocket] {
        let peer = peer_addr(&someone_else, &listener, kind);
        let err = crate::dial(&peer, client_id.clone(), fast())
            .await
            .unwrap_err();
        assert!(
            matches!(err, NetError::WrongPeer { expected, got }
                if expected == someone_else.address() && got == server_id.address()),
            "{err:?}"
        );
        assert_no_connection(&mut listener, QUIET).await;
    }
}

/// An initiator with its own static key whose message 3 carries `payload`: the listener must
/// not yield a connection, and must keep serving honest peers.
async fn refused_initiator_binding(payload: Vec<u8>) {
    let server_id = identity(1);
    let mut listener = listen(&server_id, fast()).await;
    let mut s = TcpStream::connect(listener.tcp_addr().unwrap())
        .await
        .unwrap();
    mallory::initiate(&mut s, &noise_secret(66), &payload)
        .await
        .unwrap();
    assert_no_connection(&mut listener, QUIET).await;
    // The listener hung up on the forger.
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut rest))
        .await
        .unwrap();
    // And still serves honest peers.
    let peer = peer_addr(&server_id, &listener, TransportKind::Tcp);
    let (client, server) = tokio::join!(crate::dial(&peer, identity(2), fast()), listener.accept());
    client.unwrap();
    assert_eq!(server.unwrap().peer_address(), identity(2).address());
}

#[tokio::test]
async fn initiator_binding_signed_by_another_key_is_refused() {
    // Mallory claims victim's address but can only sign with her own key.
    let victim = identity(5);
    let mallory_static = paychan_net::Identity::new(key(66), noise_secret(66)).unwrap();
    let mut payload = encode_binding(&key(66), mallory_static.noise_public_key());
    payload[1..21].copy_from_slice(victim.address().as_slice());
    refused_initiator_binding(payload.to_vec()).await;
}

#[tokio::test]
async fn initiator_replaying_a_binding_of_another_static_key_is_refused() {
    // Mallory replays victim's genuine binding, but her handshake authenticates her own
    // static key, not victim's.
    let victim = identity(5);
    let payload = encode_binding(&key(5), victim.noise_public_key());
    refused_initiator_binding(payload.to_vec()).await;
}

#[tokio::test]
async fn initiator_with_a_malformed_binding_is_refused() {
    refused_initiator_binding(vec![]).await;
    refused_initiator_binding(vec![1; 86]).await;
    let mallory_static = paychan_net::Identity::new(key(66), noise_secret(66)).unwrap();
    let mut payload = encode_binding(&key(66), mallory_static.noise_public_key()).to_vec();
    payload[0] = 2; // unknown version
    refused_initiator_binding(payload).await;
}

/// A fake responder at a raw socket, sending `payload` in message 2; the dialer expects
/// `expected` and must refuse with `BadBinding`, never sending message 3.
async fn refused_responder_binding(payload: Vec<u8>, expected: paychan_core::Address) {
    let socket = TcpListener::bind(crate::LOCAL).await.unwrap();
    let peer = format!("{expected}@{}", socket.local_addr().unwrap())
        .parse()
        .unwrap();
    let fake = tokio::spawn(async move {
        let (mut s, _) = socket.accept().await.unwrap();
        mallory::respond(&mut s, &noise_secret(66), &payload).await
    });
    let err = crate::dial(&peer, identity(2), fast()).await.unwrap_err();
    assert!(matches!(err, NetError::BadBinding(_)), "{err:?}");
    // The dialer never sent message 3 (its identity stays hidden).
    assert!(fake.await.unwrap().is_none());
}

#[tokio::test]
async fn responder_replaying_a_binding_of_another_static_key_is_refused() {
    let victim = identity(5);
    let payload = encode_binding(&key(5), victim.noise_public_key());
    refused_responder_binding(payload.to_vec(), victim.address()).await;
}

#[tokio::test]
async fn responder_binding_signed_by_another_key_is_refused() {
    let victim = identity(5);
    let mallory_static = paychan_net::Identity::new(key(66), noise_secret(66)).unwrap();
    let mut payload = encode_binding(&key(66), mallory_static.noise_public_key());
    payload[1..21].copy_from_slice(victim.address().as_slice());
    refused_responder_binding(payload.to_vec(), victim.address()).await;
}

/// Completes an honest-looking handshake as node 66 against `listener`, returning the raw
/// socket and transport plus the listener's side of the connection.
async fn mallory_connected(
    listener: &mut paychan_net::Listener,
) -> (TcpStream, snow::TransportState, paychan_net::Connection) {
    let me = paychan_net::Identity::new(key(66), noise_secret(66)).unwrap();
    let payload = encode_binding(&key(66), me.noise_public_key());
    let mut s = TcpStream::connect(listener.tcp_addr().unwrap())
        .await
        .unwrap();
    let (transport, _) = mallory::initiate(&mut s, &noise_secret(66), &payload)
        .await
        .unwrap();
    let server = listener.accept().await.unwrap();
    assert_eq!(server.peer_address(), me.address());
    (s, transport, server)
}

#[tokio::test]
async fn oversize_frames_are_refused_on_receive_without_allocating() {
    let mut listener = listen(&identity(1), fast()).await;
    for announced in [MAX_FRAME_LEN as u32 + 1, u32::MAX] {
        let (mut s, mut t, mut server) = mallory_connected(&mut listener).await;
        let mut header = vec![1u8];
        header.extend_from_slice(&announced.to_be_bytes());
        header.extend_from_slice(b"some data");
        mallory::send_plain(&mut s, &mut t, &header).await;
        let err = server.recv().await.unwrap_err();
        assert!(
            matches!(err, NetError::FrameTooLarge { len, max } if len == announced as usize && max == MAX_FRAME_LEN),
            "{err:?}"
        );
        assert!(matches!(server.recv().await, Err(NetError::Closed)));
    }
}

#[tokio::test]
async fn framing_violations_end_the_connection_cleanly() {
    let mut listener = listen(&identity(1), fast()).await;
    let cases: [&[u8]; 4] = [
        &[7, 0, 0, 0, 0],          // unknown kind
        &[1, 0, 0],                // short header
        &[1, 0, 0, 0, 1, 1, 2],    // more data than announced
        &[0, 0, 0, 0, 3, 1, 2, 3], // keep-alive with data
    ];
    for plain in cases {
        let (mut s, mut t, mut server) = mallory_connected(&mut listener).await;
        mallory::send_plain(&mut s, &mut t, plain).await;
        assert!(
            matches!(server.recv().await, Err(NetError::Protocol(_))),
            "{plain:?}"
        );
    }
    // An undecryptable message.
    let (mut s, _, mut server) = mallory_connected(&mut listener).await;
    mallory::write_msg(&mut s, &[0u8; 40]).await;
    assert!(matches!(server.recv().await, Err(NetError::Protocol(_))));
    // A frame cut by the end of the stream.
    let (mut s, mut t, mut server) = mallory_connected(&mut listener).await;
    mallory::send_plain(&mut s, &mut t, &[1, 0, 1, 0, 0, 9]).await;
    s.shutdown().await.unwrap();
    assert!(matches!(server.recv().await, Err(NetError::Closed)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_truncated_handshakes_never_hurt_the_listener() {
    let panics = count_panics();
    let server_id = identity(1);
    let net = fast().with_handshake_timeout(Duration::from_secs(2));
    let mut listener = listen(&server_id, net).await;
    let tcp = listener.tcp_addr().unwrap();
    let ws = listener.ws_addr().unwrap();

    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut random = |len: usize| -> Vec<u8> {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect()
    };
    let mut abusers = Vec::new();
    for (i, target) in [tcp, ws].into_iter().cycle().take(20).enumerate() {
        let bytes = match i % 5 {
            0 => random(4096),
            1 => random(7),
            // A length prefix promising more than is sent, then silence.
            2 => vec![0x00, 0x64, 1, 2, 3],
            // A length prefix for the largest message, filled with garbage.
            3 => [vec![0xff, 0xff], random(65535)].concat(),
            // An upgrade request cut in the middle.
            _ => b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nSec-WebSocket-".to_vec(),
        };
        abusers.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(target).await.unwrap();
            let _ = s.write_all(&bytes).await;
            if i % 2 == 0 {
                let _ = s.shutdown().await;
            }
            let mut sink = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut sink)).await;
        }));
    }
    // A valid first handshake message, then the initiator vanishes.
    {
        let mut s = TcpStream::connect(tcp).await.unwrap();
        let hs = snow::Builder::new(paychan_net::NOISE_PARAMS.parse().unwrap())
            .local_private_key(&noise_secret(66))
            .unwrap()
            .prologue(paychan_net::PROLOGUE)
            .unwrap()
            .build_initiator();
        let mut hs = hs.unwrap();
        let mut buf = [0u8; 128];
        let n = hs.write_message(&[], &mut buf).unwrap();
        mallory::write_msg(&mut s, &buf[..n]).await;
        assert!(mallory::read_msg(&mut s).await.is_some());
    }

    // Meanwhile honest peers are served on both transports.
    for kind in [TransportKind::Tcp, TransportKind::WebSocket] {
        let peer = peer_addr(&server_id, &listener, kind);
        let (client, server) =
            tokio::join!(crate::dial(&peer, identity(2), fast()), listener.accept());
        let (client, mut server) = (client.unwrap(), server.unwrap());
        client.send(b"hello").await.unwrap();
        assert_eq!(server.recv().await.unwrap().unwrap(), b"hello");
    }
    for abuser in abusers {
        abuser.await.unwrap();
    }
    assert_no_connection(&mut listener, Duration::from_millis(100)).await;
    // And once more after all the abuse.
    let peer = peer_addr(&server_id, &listener, TransportKind::Tcp);
    let (client, server) = tokio::join!(crate::dial(&peer, identity(3), fast()), listener.accept());
    client.unwrap();
    assert_eq!(server.unwrap().peer_address(), identity(3).address());
    assert_eq!(count_panics(), panics, "something panicked");
}
