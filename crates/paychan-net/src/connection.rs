//! An authenticated, encrypted connection to one peer.
//!
//! A [`Connection`] carries application frames both ways after the handshake proved the
//! peer's address. It can be split into a [`ConnectionReader`] and a (cloneable)
//! [`ConnectionWriter`] used from different tasks.
//!
//! Each connection runs two small tasks, which end with it: a read task that decrypts and
//! reassembles incoming frames into a short queue (so a peer's end or silence is noticed even
//! while the application is busy), and a keep-alive task. When nothing was sent for one
//! keep-alive period, a keep-alive goes out (the peer's [`ConnectionReader::recv`] never
//! returns it); when nothing was received for three periods, the connection fails with
//! [`TimeoutKind::Idle`].

use std::{
    sync::{Arc, Weak},
    time::Duration,
};

use paychan_core::{Address, wire::MAX_FRAME_LEN};
use snow::StatelessTransportState;
use tokio::{
    sync::{Mutex, mpsc, watch},
    time::{Instant, sleep_until, timeout},
};

use crate::{
    config::NetConfig,
    error::{CloseReason, NetError, TimeoutKind},
    frame::{self, Assembled, Assembler, KIND_DATA, KIND_KEEPALIVE, MAX_NOISE_MSG},
    handshake::Session,
    transport::{RawReader, RawWriter, TransportKind},
};

/// How long a graceful close may take to flush before the socket is just dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// How many received frames wait for [`ConnectionReader::recv`] (each at most
/// [`MAX_FRAME_LEN`]); when full, the connection stops reading from the socket.
const FRAME_BUFFER: usize = 2;
/// How many bytes of encrypted messages [`ConnectionWriter::send_many`] gathers before it
/// writes them out.
const BATCH_BYTES: usize = 64 * 1024;
/// The shortest keep-alive period honoured (a zero period would spin).
const MIN_KEEPALIVE: Duration = Duration::from_millis(1);

type CloseState = Option<CloseReason>;

/// State shared by the halves of one connection.
struct Shared {
    peer: Address,
    kind: TransportKind,
    closed: watch::Sender<CloseState>,
}

impl Shared {
    /// Records why the connection ended; the first reason wins.
    fn close(&self, reason: CloseReason) {
        self.closed.send_if_modified(|state| {
            if state.is_none() {
                *state = Some(reason);
                true
            } else {
                false
            }
        });
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.close(CloseReason::Local);
    }
}

/// A far-away instant, for deadlines that overflow.
fn far_future() -> Instant {
    Instant::now()
        .checked_add(Duration::from_secs(86_400 * 365))
        .unwrap_or_else(Instant::now)
}

/// An authenticated connection to a peer whose address was proven in the handshake.
pub struct Connection {
    reader: ConnectionReader,
    writer: ConnectionWriter,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.peer_address())
            .field("transport", &self.transport())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Wraps a carrier whose handshake produced `session`; starts the keep-alive task.
    pub(crate) fn new(
        raw_reader: RawReader,
        raw_writer: RawWriter,
        session: Session,
        kind: TransportKind,
        config: &NetConfig,
    ) -> Connection {
        let (closed, closed_rx) = watch::channel(None);
        let shared = Arc::new(Shared {
            peer: session.peer,
            kind,
            closed,
        });
        let noise = Arc::new(session.noise);
        let now = Instant::now();
        let writer = Arc::new(Mutex::new(WriterState {
            raw: raw_writer,
            noise: Arc::clone(&noise),
            nonce: 0,
            out: Vec::new(),
            scratch: Vec::new(),
            last_sent: now,
            poisoned: false,
            shut: false,
        }));
        tokio::spawn(keepalive(
            Arc::downgrade(&writer),
            Arc::downgrade(&shared),
            shared.closed.subscribe(),
            config.keepalive.max(MIN_KEEPALIVE),
        ));
        let (frames_tx, frames) = mpsc::channel(FRAME_BUFFER);
        let read_state = ReadState {
            raw: raw_reader,
            noise,
            nonce: 0,
            assembler: Assembler::default(),
            message: Vec::new(),
            plain: Vec::new(),
            idle_timeout: config.idle_timeout().max(MIN_KEEPALIVE),
        };
        tokio::spawn(read_task(
            read_state,
            frames_tx,
            Arc::downgrade(&shared),
            closed_rx,
        ));
        Connection {
            reader: ConnectionReader {
                frames,
                end_reported: false,
                shared: Arc::clone(&shared),
            },
            writer: ConnectionWriter {
                state: writer,
                shared,
            },
        }
    }

    /// The address the peer proved.
    pub fn peer_address(&self) -> Address {
        self.writer.shared.peer
    }

    /// The carrier (TCP or WebSocket).
    pub fn transport(&self) -> TransportKind {
        self.writer.shared.kind
    }

    /// Sends one frame (see [`ConnectionWriter::send`]).
    pub async fn send(&self, frame: &[u8]) -> Result<(), NetError> {
        self.writer.send(frame).await
    }

    /// Receives the next frame (see [`ConnectionReader::recv`]).
    pub async fn recv(&mut self) -> Result<Option<Vec<u8>>, NetError> {
        self.reader.recv().await
    }

    /// A handle that resolves when the connection ends, and says why.
    pub fn close_watch(&self) -> CloseWatch {
        self.writer.close_watch()
    }

    /// Splits into a reader and a writer, to receive and send from different tasks.
    pub fn split(self) -> (ConnectionReader, ConnectionWriter) {
        (self.reader, self.writer)
    }

    /// Closes the connection gracefully (see [`ConnectionWriter::close`]).
    pub async fn close(self) {
        self.writer.close().await;
    }
}

/// The receiving half of a [`Connection`].
///
/// Keep it while the connection is in use: dropping it stops reading from the socket, and
/// with that the detection of a silent or vanished peer.
pub struct ConnectionReader {
    frames: mpsc::Receiver<Vec<u8>>,
    /// The end was reported once; later calls answer [`NetError::Closed`] (or `None`).
    end_reported: bool,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ConnectionReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionReader")
            .field("peer", &self.shared.peer)
            .finish_non_exhaustive()
    }
}

impl ConnectionReader {
    /// The address the peer proved.
    pub fn peer_address(&self) -> Address {
        self.shared.peer
    }

    /// A handle that resolves when the connection ends, and says why.
    pub fn close_watch(&self) -> CloseWatch {
        CloseWatch {
            rx: self.shared.closed.subscribe(),
        }
    }

    /// The frames as a plain channel, for a consumer that forwards them elsewhere anyway:
    /// it takes them straight from the connection's read task, one task hop less per frame
    /// than a loop over [`recv`](Self::recv). The channel simply ends with the connection;
    /// take a [`close_watch`](Self::close_watch) first to learn why.
    pub fn into_frames(self) -> mpsc::Receiver<Vec<u8>> {
        self.frames
    }

    /// Receives the next application frame; `Ok(None)` once the peer closed cleanly.
    ///
    /// Keep-alives are consumed by the connection and never returned. Fails with
    /// [`TimeoutKind::Idle`] when nothing arrived for three keep-alive periods (time spent
    /// waiting for this side to take frames does not count), with
    /// [`NetError::FrameTooLarge`] when the peer announces a frame above the limit (nothing
    /// is allocated for it), and with the writer's error if the connection failed on the
    /// sending side. After an error the connection is finished and later calls answer
    /// [`NetError::Closed`].
    ///
    /// Cancel-safe: a `recv` dropped before it completes loses nothing.
    pub async fn recv(&mut self) -> Result<Option<Vec<u8>>, NetError> {
        if let Some(frame) = self.frames.recv().await {
            return Ok(Some(frame));
        }
        // The read task ended, after recording why.
        let reason = self.shared.closed.borrow().clone();
        let first = !std::mem::replace(&mut self.end_reported, true);
        match reason {
            Some(CloseReason::PeerClosed) => Ok(None),
            Some(CloseReason::Failed(e)) if first => Err(e),
            _ => Err(NetError::Closed),
        }
    }
}

/// The receiving side's state, owned by the read task.
struct ReadState {
    raw: RawReader,
    noise: Arc<StatelessTransportState>,
    nonce: u64,
    assembler: Assembler,
    /// The current Noise message (ciphertext).
    message: Vec<u8>,
    /// Its plaintext.
    plain: Vec<u8>,
    idle_timeout: Duration,
}

impl ReadState {
    /// Reads until a whole frame arrived; `None` at a clean end of the stream.
    async fn next_frame(&mut self) -> Result<Option<Vec<u8>>, NetError> {
        loop {
            let read = timeout(
                self.idle_timeout,
                self.raw.read_message(&mut self.message, MAX_NOISE_MSG),
            )
            .await
            .map_err(|_| NetError::Timeout(TimeoutKind::Idle))?;
            if !read? {
                return if self.assembler.in_frame() {
                    Err(NetError::Closed)
                } else {
                    Ok(None)
                };
            }
            if self.message.len() > MAX_NOISE_MSG {
                return Err(NetError::Protocol(format!(
                    "Noise message of {} bytes",
                    self.message.len()
                )));
            }
            self.plain.resize(self.message.len(), 0);
            let len = self
                .noise
                .read_message(self.nonce, &self.message, &mut self.plain)
                .map_err(|e| NetError::Protocol(format!("undecryptable message: {e}")))?;
            self.nonce = self.nonce.checked_add(1).ok_or(NetError::Closed)?;
            let plain = self.plain.get(..len).unwrap_or_default();
            match self.assembler.push(plain)? {
                Assembled::Frame(frame) => return Ok(Some(frame)),
                Assembled::KeepAlive | Assembled::Partial => {}
            }
        }
    }
}

/// Reads frames into the reader's channel until the connection ends, then records why.
///
/// The idle timer runs only while waiting for the socket: while the channel is full (the
/// application is busy) nothing is read and nothing times out.
async fn read_task(
    mut state: ReadState,
    frames: mpsc::Sender<Vec<u8>>,
    shared: Weak<Shared>,
    mut closed: watch::Receiver<CloseState>,
) {
    let end = loop {
        let next = tokio::select! {
            next = state.next_frame() => next,
            // Closed from the sending side: the reason is recorded already.
            _ = closed.wait_for(Option::is_some) => return,
            // The reader was dropped: nobody wants the frames.
            () = frames.closed() => return,
        };
        match next {
            Ok(Some(frame)) => {
                tokio::select! {
                    sent = frames.send(frame) => if sent.is_err() { return },
                    _ = closed.wait_for(Option::is_some) => return,
                }
            }
            Ok(None) => break CloseReason::PeerClosed,
            Err(e) => break CloseReason::Failed(e),
        }
    };
    if let Some(shared) = shared.upgrade() {
        shared.close(end);
    }
    // `frames` drops after the reason is recorded, so the reader sees both in order.
}

/// The sending half of a [`Connection`]; clones send on the same connection (frames are
/// never interleaved).
#[derive(Clone)]
pub struct ConnectionWriter {
    state: Arc<Mutex<WriterState>>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ConnectionWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionWriter")
            .field("peer", &self.shared.peer)
            .finish_non_exhaustive()
    }
}

impl ConnectionWriter {
    /// The address the peer proved.
    pub fn peer_address(&self) -> Address {
        self.shared.peer
    }

    /// A handle that resolves when the connection ends, and says why.
    pub fn close_watch(&self) -> CloseWatch {
        CloseWatch {
            rx: self.shared.closed.subscribe(),
        }
    }

    /// Sends one frame of at most [`MAX_FRAME_LEN`] bytes (an empty frame is a frame too).
    ///
    /// A larger frame is refused with [`NetError::FrameTooLarge`] and nothing is sent: the
    /// connection stays usable. Any other error, or the connection closing while the frame
    /// is being written, finishes the connection. Not cancel-safe: a send dropped halfway
    /// finishes the connection too (the peer could not resynchronise).
    pub async fn send(&self, frame: &[u8]) -> Result<(), NetError> {
        if frame.len() > MAX_FRAME_LEN {
            return Err(NetError::FrameTooLarge {
                len: frame.len(),
                max: MAX_FRAME_LEN,
            });
        }
        let mut closed = self.shared.closed.subscribe();
        if closed.borrow().is_some() {
            return Err(NetError::Closed);
        }
        let mut state = self.state.lock().await;
        let result = state.send_frame(KIND_DATA, frame, &mut closed).await;
        if let Err(e) = &result
            && !matches!(e, NetError::Closed | NetError::FrameTooLarge { .. })
        {
            self.shared.close(CloseReason::Failed(e.clone()));
        }
        result
    }

    /// Sends several frames at once: their Noise messages are written together (one system
    /// call for a batch of small frames instead of one each), in order, never interleaved
    /// with another sender's frames.
    ///
    /// If any frame is above [`MAX_FRAME_LEN`], nothing is sent and the error is
    /// [`NetError::FrameTooLarge`]; the connection stays usable. Otherwise as
    /// [`send`](Self::send).
    pub async fn send_many(&self, frames: &[Vec<u8>]) -> Result<(), NetError> {
        if let Some(large) = frames.iter().find(|f| f.len() > MAX_FRAME_LEN) {
            return Err(NetError::FrameTooLarge {
                len: large.len(),
                max: MAX_FRAME_LEN,
            });
        }
        let mut closed = self.shared.closed.subscribe();
        if closed.borrow().is_some() {
            return Err(NetError::Closed);
        }
        let mut state = self.state.lock().await;
        let result = state.send_frames(frames, &mut closed).await;
        if let Err(e) = &result
            && !matches!(e, NetError::Closed | NetError::FrameTooLarge { .. })
        {
            self.shared.close(CloseReason::Failed(e.clone()));
        }
        result
    }

    /// Closes the connection: the reader and other senders stop, and the sending direction
    /// is shut (TCP FIN or WebSocket close frame) so the peer sees a clean end.
    pub async fn close(&self) {
        self.shared.close(CloseReason::Local);
        self.state.lock().await.shutdown().await;
    }
}

/// The sending side's state, behind the writer's lock.
struct WriterState {
    raw: RawWriter,
    noise: Arc<StatelessTransportState>,
    nonce: u64,
    /// The Noise message being sent, in stream form.
    out: Vec<u8>,
    /// The plaintext of a frame's first message.
    scratch: Vec<u8>,
    last_sent: Instant,
    /// A write was cut halfway (or encryption failed): nothing more can be sent.
    poisoned: bool,
    /// The sending direction was shut.
    shut: bool,
}

impl WriterState {
    /// Sends one frame, message by message, unless the connection closes meanwhile.
    async fn send_frame(
        &mut self,
        kind: u8,
        frame: &[u8],
        closed: &mut watch::Receiver<CloseState>,
    ) -> Result<(), NetError> {
        if self.poisoned || self.shut {
            return Err(NetError::Closed);
        }
        // Refused before anything is encrypted or written: the connection stays usable.
        let header = frame::header(kind, frame.len())?;
        self.poisoned = true;
        tokio::select! {
            written = self.write_frame(&header, frame) => written?,
            _ = closed.wait_for(Option::is_some) => return Err(NetError::Closed),
        }
        self.poisoned = false;
        self.last_sent = Instant::now();
        Ok(())
    }

    /// Sends data frames, their messages written together, unless the connection closes
    /// meanwhile.
    async fn send_frames(
        &mut self,
        frames: &[Vec<u8>],
        closed: &mut watch::Receiver<CloseState>,
    ) -> Result<(), NetError> {
        if self.poisoned || self.shut {
            return Err(NetError::Closed);
        }
        self.poisoned = true;
        tokio::select! {
            written = self.write_frames(frames) => written?,
            _ = closed.wait_for(Option::is_some) => return Err(NetError::Closed),
        }
        self.poisoned = false;
        self.last_sent = Instant::now();
        Ok(())
    }

    /// Encrypts data frames into one buffer and writes it, flushing early whenever it holds
    /// more than [`BATCH_BYTES`] (so a batch of large frames buffers little more than that).
    async fn write_frames(&mut self, frames: &[Vec<u8>]) -> Result<(), NetError> {
        self.out.clear();
        for frame in frames {
            let header = frame::header(KIND_DATA, frame.len())?;
            let (first, rest) = frame::split(frame);
            self.scratch.clear();
            self.scratch.extend_from_slice(&header);
            self.scratch.extend_from_slice(first);
            frame::seal(&self.noise, &mut self.nonce, &self.scratch, &mut self.out)?;
            for chunk in rest {
                if self.out.len() >= BATCH_BYTES {
                    self.raw.write_messages(&self.out).await?;
                    self.out.clear();
                }
                frame::seal(&self.noise, &mut self.nonce, chunk, &mut self.out)?;
            }
            if self.out.len() >= BATCH_BYTES {
                self.raw.write_messages(&self.out).await?;
                self.out.clear();
            }
        }
        if !self.out.is_empty() {
            self.raw.write_messages(&self.out).await?;
        }
        Ok(())
    }

    /// Encrypts and writes a frame one Noise message at a time (at most 64 KiB buffered).
    async fn write_frame(&mut self, header: &[u8], frame: &[u8]) -> Result<(), NetError> {
        let (first, rest) = frame::split(frame);
        self.scratch.clear();
        self.scratch.extend_from_slice(header);
        self.scratch.extend_from_slice(first);
        self.out.clear();
        frame::seal(&self.noise, &mut self.nonce, &self.scratch, &mut self.out)?;
        self.raw.write_messages(&self.out).await?;
        for chunk in rest {
            self.out.clear();
            frame::seal(&self.noise, &mut self.nonce, chunk, &mut self.out)?;
            self.raw.write_messages(&self.out).await?;
        }
        Ok(())
    }

    async fn shutdown(&mut self) {
        if !self.shut {
            self.shut = true;
            // Best effort: the peer may be gone already.
            let _ = timeout(CLOSE_TIMEOUT, self.raw.shutdown()).await;
        }
    }
}

/// Sends keep-alives while the connection is idle; shuts the sending direction when the
/// connection closes; ends with the connection.
async fn keepalive(
    writer: Weak<Mutex<WriterState>>,
    shared: Weak<Shared>,
    mut closed: watch::Receiver<CloseState>,
    period: Duration,
) {
    loop {
        let Some(state) = writer.upgrade() else {
            return;
        };
        let last_sent = state.lock().await.last_sent;
        drop(state);
        let deadline = last_sent.checked_add(period).unwrap_or_else(far_future);
        tokio::select! {
            () = sleep_until(deadline) => {}
            _ = closed.wait_for(Option::is_some) => break,
        }
        let Some(state) = writer.upgrade() else {
            return;
        };
        let mut state = state.lock().await;
        if state.last_sent.elapsed() >= period
            && let Err(e) = state.send_frame(KIND_KEEPALIVE, &[], &mut closed).await
        {
            drop(state);
            if let Some(shared) = shared.upgrade() {
                shared.close(CloseReason::Failed(e));
            }
            break;
        }
    }
    if let Some(state) = writer.upgrade() {
        state.lock().await.shutdown().await;
    }
}

/// Resolves when a connection ends, with the reason (cheap to clone; does not keep the
/// connection open).
#[derive(Debug, Clone)]
pub struct CloseWatch {
    rx: watch::Receiver<CloseState>,
}

impl CloseWatch {
    /// Waits until the connection ends and says why.
    pub async fn closed(&mut self) -> CloseReason {
        let reason = match self.rx.wait_for(Option::is_some).await {
            Ok(state) => state.clone(),
            Err(_) => None,
        };
        reason
            .or_else(|| self.rx.borrow().clone())
            .unwrap_or(CloseReason::Local)
    }

    /// Why the connection ended, if it has.
    pub fn reason(&self) -> Option<CloseReason> {
        self.rx.borrow().clone()
    }
}
