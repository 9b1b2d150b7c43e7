//! Integration tests of paychan-net: real sockets on 127.0.0.1, both transports, honest
//! and malicious peers.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    missing_docs,
    unreachable_pub
)]

mod addr;
mod adversarial;
mod frames;
mod keepalive;
mod link;
mod load;
mod mallory;
mod relay;

use std::{
    net::SocketAddr,
    sync::{
        Once,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use paychan_core::SigningKey;
use paychan_net::{Identity, ListenConfig, Listener, NetConfig, PeerAddr, TransportKind};

pub const LOCAL: &str = "127.0.0.1:0";

/// The signing key of test node `n`.
pub fn key(n: u8) -> SigningKey {
    SigningKey::from_entropy(&[n; 32]).unwrap()
}

/// The Noise static secret of test node `n`.
pub fn noise_secret(n: u8) -> [u8; 32] {
    [n.wrapping_add(100); 32]
}

/// The identity of test node `n` (fixed entropy).
pub fn identity(n: u8) -> Identity {
    Identity::new(key(n), noise_secret(n)).unwrap()
}

/// Settings for tests that are not about timing: short enough to notice hangs, long enough
/// for debug-build crypto on a loaded machine (keep-alive tests set their own). A 2 s
/// keep-alive (6 s idle timeout) was too short there: moving 1 MiB frames through debug-build
/// encryption while other tests took the CPU timed out in 2 of 7 runs under heavy load.
pub fn fast() -> NetConfig {
    NetConfig::default()
        .with_keepalive(Duration::from_secs(10))
        .with_handshake_timeout(Duration::from_secs(20))
}

/// A listener on both transports.
pub async fn listen(id: &Identity, net: NetConfig) -> Listener {
    let local: SocketAddr = LOCAL.parse().unwrap();
    Listener::bind(
        id.clone(),
        ListenConfig::new()
            .with_tcp(local)
            .with_ws(local)
            .with_net(net),
    )
    .await
    .unwrap()
}

/// How to reach `listener`, claiming it is `id`.
pub fn peer_addr(id: &Identity, listener: &Listener, kind: TransportKind) -> PeerAddr {
    let text = match kind {
        TransportKind::Tcp => format!("{}@{}", id.address(), listener.tcp_addr().unwrap()),
        _ => format!(
            "{}@ws://{}/paychan",
            id.address(),
            listener.ws_addr().unwrap()
        ),
    };
    text.parse().unwrap()
}

/// A deterministic byte pattern of `len` bytes, different per `seed`.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ ((i >> 8) as u8))
        .collect()
}

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Counts panics anywhere in the process (spawned tasks included), from the first call on.
pub fn count_panics() -> usize {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            default(info);
        }));
    });
    PANICS.load(Ordering::SeqCst)
}

/// Fails if `listener` yields a connection within `wait`.
pub async fn assert_no_connection(listener: &mut Listener, wait: Duration) {
    if let Ok(conn) = tokio::time::timeout(wait, listener.accept()).await {
        panic!("listener yielded an unexpected connection: {conn:?}");
    }
}

/// Dials `peer` as `id` (owned arguments, so it can be joined with an accept).
pub async fn dial(
    peer: &PeerAddr,
    id: Identity,
    net: NetConfig,
) -> Result<paychan_net::Connection, paychan_net::NetError> {
    paychan_net::connect_with(peer, &id, &net).await
}
