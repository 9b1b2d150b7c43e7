//! Joining a dialer and a party: binary messages are forwarded both ways as they are (the
//! relay never reads them; they are the Noise messages of the two ends), each direction
//! within its rate, until either side leaves, breaks a limit or both stay silent too long.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use futures::{
    SinkExt, StreamExt,
    stream::{SplitSink, SplitStream},
};
use tokio::{
    sync::broadcast,
    time::{Instant, sleep_until, timeout},
};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, error::CapacityError};

use super::{CLOSE_GRACE, RelayConfig, Ws, close_frame};
use crate::proto::{CLOSE_BAD_REQUEST, CLOSE_GOING_AWAY, CLOSE_RATE, CLOSE_TIMEOUT, CLOSE_TOO_BIG};

/// The window over which rates are averaged (the burst allowed).
const RATE_WINDOW_SECS: u64 = 2;

/// A token bucket of bytes and one of messages, for what one connection sends.
#[derive(Debug)]
pub(super) struct Rate {
    bytes: Bucket,
    frames: Bucket,
}

impl Rate {
    pub(super) fn new(config: &RelayConfig) -> Self {
        Rate {
            bytes: Bucket::new(config.rate_bytes_per_sec),
            frames: Bucket::new(config.rate_frames_per_sec),
        }
    }

    /// Counts a message of `len` bytes; why not, if it exceeds the rate.
    pub(super) fn take(&mut self, len: usize) -> Result<(), String> {
        let now = Instant::now();
        if !self.frames.take(1, now) {
            return Err(format!(
                "more than {} messages per second",
                self.frames.per_sec
            ));
        }
        if !self.bytes.take(u64::try_from(len).unwrap_or(u64::MAX), now) {
            return Err(format!("more than {} bytes per second", self.bytes.per_sec));
        }
        Ok(())
    }
}

#[derive(Debug)]
struct Bucket {
    per_sec: u64,
    capacity: u64,
    tokens: u64,
    last: Instant,
}

impl Bucket {
    fn new(per_sec: u64) -> Self {
        let capacity = per_sec.saturating_mul(RATE_WINDOW_SECS);
        Bucket {
            per_sec,
            capacity,
            tokens: capacity,
            last: Instant::now(),
        }
    }

    fn take(&mut self, n: u64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_nanos();
        let earned = elapsed
            .saturating_mul(u128::from(self.per_sec))
            .checked_div(1_000_000_000)
            .unwrap_or(0);
        if earned > 0 {
            let earned = u64::try_from(earned).unwrap_or(u64::MAX);
            self.tokens = self.tokens.saturating_add(earned).min(self.capacity);
            self.last = now;
        }
        match self.tokens.checked_sub(n) {
            Some(left) => {
                self.tokens = left;
                true
            }
            None => false,
        }
    }
}

/// Pipes `a` and `b` until one side ends or breaks a limit; returns the close code and
/// reason sent to both.
pub(super) async fn pipe(
    config: &RelayConfig,
    a: Ws,
    b: Ws,
    mut stop: broadcast::Receiver<()>,
) -> (u16, String) {
    let (mut a_sink, mut a_stream) = a.split();
    let (mut b_sink, mut b_stream) = b.split();
    let start = Instant::now();
    let heard = AtomicU64::new(0);
    let (code, reason) = tokio::select! {
        end = forward(config, &mut a_stream, &mut b_sink, start, &heard) => end,
        end = forward(config, &mut b_stream, &mut a_sink, start, &heard) => end,
        end = idle(config.idle, start, &heard) => end,
        _ = stop.recv() => (CLOSE_GOING_AWAY, "relay shutting down".to_owned()),
    };
    let frame = close_frame(code, &reason);
    let _ = timeout(CLOSE_GRACE, async {
        let _ = futures::join!(
            a_sink.send(Message::Close(Some(frame.clone()))),
            b_sink.send(Message::Close(Some(frame)))
        );
        futures::join!(drain(&mut a_stream), drain(&mut b_stream));
    })
    .await;
    (code, reason)
}

/// Reads until the end, so that the client's answer to a close frame arrives.
async fn drain(stream: &mut SplitStream<Ws>) {
    while let Some(Ok(_)) = stream.next().await {}
}

/// Forwards what `from` sends to `to`; returns why it stopped.
async fn forward(
    config: &RelayConfig,
    from: &mut SplitStream<Ws>,
    to: &mut SplitSink<Ws, Message>,
    start: Instant,
    heard: &AtomicU64,
) -> (u16, String) {
    let mut rate = Rate::new(config);
    loop {
        let message = match from.next().await {
            Some(Ok(message)) => message,
            None | Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => {
                return (1000, "the other side left".to_owned());
            }
            Some(Err(WsError::Capacity(CapacityError::MessageTooLong { size, max_size }))) => {
                return (
                    CLOSE_TOO_BIG,
                    format!("message of {size} bytes, the most relayed is {max_size}"),
                );
            }
            Some(Err(e)) => return (1000, format!("the other side failed: {e}")),
        };
        heard.store(millis_since(start), Ordering::Relaxed);
        if let Err(reason) = rate.take(message.len()) {
            return (CLOSE_RATE, reason);
        }
        match message {
            Message::Binary(bytes) => {
                if to.send(Message::Binary(bytes)).await.is_err() {
                    return (1000, "the other side left".to_owned());
                }
            }
            Message::Ping(_) | Message::Pong(_) => {}
            Message::Close(_) => return (1000, "the other side left".to_owned()),
            Message::Text(_) | Message::Frame(_) => {
                return (
                    CLOSE_BAD_REQUEST,
                    "only binary messages are relayed".to_owned(),
                );
            }
        }
    }
}

/// Returns once nothing was heard from either side for `idle`.
async fn idle(idle: Duration, start: Instant, heard: &AtomicU64) -> (u16, String) {
    loop {
        let last = start
            .checked_add(Duration::from_millis(heard.load(Ordering::Relaxed)))
            .unwrap_or(start);
        let deadline = last.checked_add(idle).unwrap_or(last);
        if Instant::now() >= deadline {
            return (CLOSE_TIMEOUT, format!("nothing relayed for {idle:?}"));
        }
        sleep_until(deadline).await;
    }
}

fn millis_since(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}
