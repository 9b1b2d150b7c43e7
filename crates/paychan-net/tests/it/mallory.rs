//! A malicious peer speaking Noise directly with snow, to send what an honest node never
//! would.

use paychan_net::{NOISE_PARAMS, PROLOGUE};
use snow::{Builder, HandshakeState, TransportState};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

pub async fn write_msg(s: &mut TcpStream, m: &[u8]) {
    let mut buf = u16::try_from(m.len()).unwrap().to_be_bytes().to_vec();
    buf.extend_from_slice(m);
    s.write_all(&buf).await.unwrap();
}

pub async fn read_msg(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0; 2];
    s.read_exact(&mut len).await.ok()?;
    let mut m = vec![0; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut m).await.ok()?;
    Some(m)
}

fn state(secret: &[u8; 32], initiator: bool) -> HandshakeState {
    let b = Builder::new(NOISE_PARAMS.parse().unwrap())
        .local_private_key(secret)
        .unwrap()
        .prologue(PROLOGUE)
        .unwrap();
    if initiator {
        b.build_initiator().unwrap()
    } else {
        b.build_responder().unwrap()
    }
}

/// Runs the initiator side with static key `secret`, sending `payload` in message 3 whatever
/// the responder proved. Returns the transport and the responder's payload (`None` if the
/// responder hung up).
pub async fn initiate(
    s: &mut TcpStream,
    secret: &[u8; 32],
    payload: &[u8],
) -> Option<(TransportState, Vec<u8>)> {
    let mut hs = state(secret, true);
    let mut buf = vec![0u8; 65535];
    let n = hs.write_message(&[], &mut buf).unwrap();
    write_msg(s, &buf[..n]).await;
    let m = read_msg(s).await?;
    let mut p = vec![0u8; 65535];
    let len = hs.read_message(&m, &mut p).ok()?;
    let n = hs.write_message(payload, &mut buf).unwrap();
    write_msg(s, &buf[..n]).await;
    Some((hs.into_transport_mode().unwrap(), p[..len].to_vec()))
}

/// Runs the responder side with static key `secret`, sending `payload` in message 2.
/// Returns the transport and the initiator's payload (`None` if it hung up instead of
/// sending message 3).
pub async fn respond(
    s: &mut TcpStream,
    secret: &[u8; 32],
    payload: &[u8],
) -> Option<(TransportState, Vec<u8>)> {
    let mut hs = state(secret, false);
    let mut buf = vec![0u8; 65535];
    let mut p = vec![0u8; 65535];
    let m = read_msg(s).await?;
    hs.read_message(&m, &mut p).unwrap();
    let n = hs.write_message(payload, &mut buf).unwrap();
    write_msg(s, &buf[..n]).await;
    let m = read_msg(s).await?;
    let len = hs.read_message(&m, &mut p).ok()?;
    Some((hs.into_transport_mode().unwrap(), p[..len].to_vec()))
}

/// Encrypts `plain` as one transport message and sends it.
pub async fn send_plain(s: &mut TcpStream, t: &mut TransportState, plain: &[u8]) {
    let mut buf = vec![0u8; 65535];
    let n = t.write_message(plain, &mut buf).unwrap();
    write_msg(s, &buf[..n]).await;
}
