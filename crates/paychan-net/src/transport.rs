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

/// WebSocket limits: no message or frame larger than one Noise message.
pub(crate) fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_NOISE_MSG))
        .max_frame_size(Some(MAX_NOISE_MSG))
}

impl RawReader {
    /// Reads the next Noise message into `out` (replacing its contents); `false` at a clean
    /// end of the stream. Cancel-safe: bytes of a half-read message stay buffered.
    pub(crate) async fn read_message(&mut self, out: &mut Vec<u8>) -> Result<bool, NetError> {
        match self {
            RawReader::Tcp { half, buf } => loop {
                if let Some((len, body)) = buf.split_first_chunk::<2>() {
                    let len = usize::from(u16::from_be_bytes(*len));
                    if let Some(message) = body.get(..len) {
                        out.clear();
                        out.extend_from_slice(message);
                        buf.drain(..len.saturating_add(2));
                        return Ok(true);
                    }
                }
                // At most one partial message (< 64 KiB) is buffered before this read.
                buf.reserve(READ_CHUNK);
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
                        out.clear();
                        out.extend_from_slice(&bytes);
                        return Ok(true);
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
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
/// asked for).
pub(crate) async fn dial(
    endpoint: &Endpoint,
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
    }
}

async fn dial_ws(url: &WsUrl) -> Result<WsStream, NetError> {
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
