//! The byte carriers under Noise: TCP with a 2-byte length prefix per message, or WebSocket
//! with one binary message per Noise message (plain `ws://`, or `wss://` through rustls with
//! the bundled webpki roots).

use std::sync::{Arc, OnceLock};

use futures::{
    SinkExt, StreamExt,
    stream::{SplitSink, SplitStream},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{
        TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
};
use tokio_tungstenite::{
    Connector, MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, protocol::WebSocketConfig},
};

use crate::{
    addr::{Endpoint, WsUrl},
    error::NetError,
    frame::MAX_NOISE_MSG,
};

/// A WebSocket over TCP, with TLS on the dialing side of `wss://`.
pub(crate) type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Which carrier a connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportKind {
    /// Plain TCP.
    Tcp,
    /// WebSocket (`ws://` or `wss://`).
    WebSocket,
    /// WebSocket through a relay, to or from a party registered there.
    Relay,
}

/// How many bytes a TCP read asks for at least.
const READ_CHUNK: usize = 16 * 1024;

/// The receiving half of a carrier.
pub(crate) enum RawReader {
    /// TCP, with the bytes read but not yet consumed.
    Tcp { half: OwnedReadHalf, buf: Vec<u8> },
    /// WebSocket.
    Ws(SplitStream<WsStream>),
}

/// The sending half of a carrier.
pub(crate) enum RawWriter {
    /// TCP.
    Tcp(OwnedWriteHalf),
    /// WebSocket.
    Ws(SplitSink<WsStream, Message>),
}

/// Splits a TCP stream into carrier halves.
pub(crate) fn split_tcp(stream: TcpStream) -> (RawReader, RawWriter) {
    let (read, write) = stream.into_split();
    (
        RawReader::Tcp {
            half: read,
            buf: Vec::new(),
        },
        RawWriter::Tcp(write),
    )
}

/// Splits a WebSocket into carrier halves.
pub(crate) fn split_ws(ws: WsStream) -> (RawReader, RawWriter) {
    let (sink, stream) = ws.split();
    (RawReader::Ws(stream), RawWriter::Ws(sink))
}

/// WebSocket limits: no message or frame larger than one Noise message, and a read buffer
/// of [`READ_CHUNK`] (not tungstenite's default 128 KiB, allocated as soon as a stranger
/// connects).
pub(crate) fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_CHUNK)
        .max_message_size(Some(MAX_NOISE_MSG))
        .max_frame_size(Some(MAX_NOISE_MSG))
}

impl RawReader {
    /// Reads the next Noise message into `out` (replacing its contents); `false` at a clean
    /// end of the stream. A message longer than `max` is refused as soon as its length is
    /// known (on TCP, from its 2-byte prefix, before its body is read), and the TCP buffer
    /// grows by at most `max + 2` bytes per read: during the handshake `max` is 1 KiB, so an
    /// unauthenticated connection holds a few KiB at most. Cancel-safe: bytes of a half-read
    /// message stay buffered.
    pub(crate) async fn read_message(
        &mut self,
        out: &mut Vec<u8>,
        max: usize,
    ) -> Result<bool, NetError> {
        match self {
            RawReader::Tcp { half, buf } => loop {
                if take_message(buf, out, max)? {
                    return Ok(true);
                }
                buf.reserve(READ_CHUNK.min(max.saturating_add(2)));
                if half.read_buf(buf).await? == 0 {
                    return if buf.is_empty() {
                        Ok(false)
                    } else {
                        Err(NetError::Closed)
                    };
                }
            },
            RawReader::Ws(stream) => loop {
                match stream.next().await {
                    Some(Ok(Message::Binary(bytes))) => {
                        if bytes.len() > max {
                            return Err(too_long(bytes.len(), max));
                        }
                        out.clear();
                        out.extend_from_slice(&bytes);
                        return Ok(true);
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    // A relay says why it refuses or ends a connection in its close frame.
                    Some(Ok(Message::Close(Some(frame)))) if u16::from(frame.code) != 1000 => {
                        return Err(NetError::Refused {
                            code: frame.code.into(),
                            reason: frame.reason.as_str().to_owned(),
                        });
                    }
                    Some(Ok(Message::Close(_))) | None => return Ok(false),
                    Some(Ok(Message::Text(_) | Message::Frame(_))) => {
                        return Err(NetError::Protocol(
                            "non-binary WebSocket message".to_owned(),
                        ));
                    }
                    // A peer that vanished without a closing handshake: the same as a TCP
                    // end of stream (the frame layer tells whether a frame was cut).
                    Some(Err(
                        tokio_tungstenite::tungstenite::Error::ConnectionClosed
                        | tokio_tungstenite::tungstenite::Error::AlreadyClosed
                        | tokio_tungstenite::tungstenite::Error::Protocol(
                            tokio_tungstenite::tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
                        ),
                    )) => return Ok(false),
                    Some(Err(e)) => return Err(e.into()),
                }
            },
        }
    }
}

fn too_long(len: usize, max: usize) -> NetError {
    NetError::Protocol(format!(
        "message of {len} bytes, the most accepted is {max}"
    ))
}

/// Moves the first whole message of `buf` (TCP stream form: `length (2 bytes, big-endian) ||
/// message`) into `out`: `Ok(false)` if `buf` does not hold one yet. A message announced
/// longer than `max` is refused as soon as its prefix is there.
pub fn take_message(buf: &mut Vec<u8>, out: &mut Vec<u8>, max: usize) -> Result<bool, NetError> {
    let Some((len, body)) = buf.split_first_chunk::<2>() else {
        return Ok(false);
    };
    let len = usize::from(u16::from_be_bytes(*len));
    if len > max {
        return Err(too_long(len, max));
    }
    let Some(message) = body.get(..len) else {
        return Ok(false);
    };
    out.clear();
    out.extend_from_slice(message);
    buf.drain(..len.saturating_add(2));
    Ok(true)
}

impl RawWriter {
    /// Writes Noise messages given in stream form (`length (2 bytes) || message`, repeated):
    /// as they are on TCP, one binary message each on WebSocket.
    pub(crate) async fn write_messages(&mut self, stream_form: &[u8]) -> Result<(), NetError> {
        match self {
            RawWriter::Tcp(half) => Ok(half.write_all(stream_form).await?),
            RawWriter::Ws(sink) => {
                let mut rest = stream_form;
                while let Some((len, body)) = rest.split_first_chunk::<2>() {
                    let len = usize::from(u16::from_be_bytes(*len));
                    let (message, tail) = body
                        .split_at_checked(len)
                        .ok_or_else(|| NetError::Protocol("truncated message".to_owned()))?;
                    sink.feed(Message::binary(message.to_vec())).await?;
                    rest = tail;
                }
                Ok(sink.flush().await?)
            }
        }
    }

    /// Closes the sending direction (TCP FIN, or a WebSocket close frame).
    pub(crate) async fn shutdown(&mut self) -> Result<(), NetError> {
        match self {
            RawWriter::Tcp(half) => Ok(half.shutdown().await?),
            RawWriter::Ws(sink) => Ok(sink.close().await?),
        }
    }
}

/// Opens the carrier to `endpoint` (TCP connect, then the WebSocket upgrade and TLS if
/// asked for) where `peer` listens; through a relay, the relay's socket is the carrier.
pub(crate) async fn dial(
    endpoint: &Endpoint,
    peer: paychan_core::Address,
) -> Result<(RawReader, RawWriter, TransportKind), NetError> {
    match endpoint {
        Endpoint::Tcp { host, port } => {
            let stream = TcpStream::connect((host.as_str(), *port)).await?;
            stream.set_nodelay(true)?;
            let (r, w) = split_tcp(stream);
            Ok((r, w, TransportKind::Tcp))
        }
        Endpoint::WebSocket(url) => {
            let ws = dial_ws(url).await?;
            let (r, w) = split_ws(ws);
            Ok((r, w, TransportKind::WebSocket))
        }
        Endpoint::Relay(url) => {
            let url = url.with_query("to", &paychan_relay::proto::address_param(peer));
            let ws = dial_ws(&url).await?;
            let (r, w) = split_ws(ws);
            Ok((r, w, TransportKind::Relay))
        }
    }
}

pub(crate) async fn dial_ws(url: &WsUrl) -> Result<WsStream, NetError> {
    let stream = TcpStream::connect((url.host(), url.port())).await?;
    stream.set_nodelay(true)?;
    let connector = Connector::Rustls(tls_config()?);
    let (ws, _response) = tokio_tungstenite::client_async_tls_with_config(
        url.to_string(),
        stream,
        Some(ws_config()),
        Some(connector),
    )
    .await?;
    Ok(ws)
}

/// Accepts the WebSocket upgrade on an incoming TCP stream (any path: a reverse proxy may
/// forward under its own).
pub(crate) async fn accept_ws(stream: TcpStream) -> Result<WsStream, NetError> {
    Ok(tokio_tungstenite::accept_async_with_config(
        MaybeTlsStream::Plain(stream),
        Some(ws_config()),
    )
    .await?)
}

/// The TLS client settings of `wss://`: ring as the crypto provider (explicitly, so no
/// process-wide default is needed) and the Mozilla roots compiled in (webpki-roots), so
/// nothing depends on system certificates or is fetched at run time.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, NetError> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|builder| {
                    Arc::new(builder.with_root_certificates(roots).with_no_client_auth())
                })
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(NetError::Tls)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::time::Duration;

    use tokio::net::TcpListener;

    use super::*;
    use crate::handshake::MAX_HANDSHAKE_MSG;

    /// A connected pair: our reader, and the stranger's socket.
    async fn pair() -> (RawReader, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stranger = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (ours, _) = listener.accept().await.unwrap();
        (split_tcp(ours).0, stranger)
    }

    #[test]
    fn take_message_refuses_a_long_message_from_its_prefix() {
        let (mut buf, mut out) = (vec![0, 3, 1, 2], Vec::new());
        assert!(!take_message(&mut buf, &mut out, 3).unwrap());
        buf.push(3);
        buf.push(0);
        assert!(take_message(&mut buf, &mut out, 3).unwrap());
        assert_eq!((out.as_slice(), buf.as_slice()), (&[1, 2, 3][..], &[0][..]));
        let mut buf = vec![0, 4];
        assert!(matches!(
            take_message(&mut buf, &mut out, 3),
            Err(NetError::Protocol(_))
        ));
    }

    #[tokio::test]
    async fn before_authentication_a_long_prefix_is_refused_before_its_body() {
        // Issue 21, defect 2: the prefix announced 64 KiB and the reader waited for them.
        let (mut reader, mut stranger) = pair().await;
        stranger.write_all(&[0xff, 0xff, 1, 2, 3]).await.unwrap();
        let mut out = Vec::new();
        // The stranger keeps the connection open: only the prefix can end the read.
        let read = tokio::time::timeout(
            Duration::from_secs(30),
            reader.read_message(&mut out, MAX_HANDSHAKE_MSG),
        )
        .await
        .expect("refused without waiting for the body");
        assert!(matches!(read, Err(NetError::Protocol(_))), "{read:?}");
    }

    #[tokio::test]
    async fn before_authentication_the_buffer_grows_with_what_arrives() {
        // Issue 21, defect 2: each read reserved 16 KiB, whatever the peer sent.
        let (mut reader, mut stranger) = pair().await;
        stranger.write_all(&[0x03, 0xe8]).await.unwrap();
        stranger.write_all(&[7; 900]).await.unwrap();
        stranger.shutdown().await.unwrap();
        let mut out = Vec::new();
        let read = reader.read_message(&mut out, MAX_HANDSHAKE_MSG).await;
        assert!(matches!(read, Err(NetError::Closed)), "{read:?}");
        let RawReader::Tcp { buf, .. } = &reader else {
            panic!("a TCP reader")
        };
        assert_eq!(buf.len(), 902);
        assert!(
            buf.capacity() <= 2 * (MAX_HANDSHAKE_MSG + 2),
            "{} bytes reserved",
            buf.capacity()
        );
    }
}
