//! `paychan relay`: runs a blind WebSocket rendezvous relay (`paychan_relay`), where nodes
//! and browser pages without an open port register under their address and peers reach them
//! as `ADDRESS@relay+wss://HOST/PATH` (docs/PROTOCOL.md, "Relay"). The relay forwards the
//! two ends' encrypted messages without reading them; it holds no key and no state on disk.
//!
//! It speaks plain `ws://`: put a TLS-terminating proxy in front of it for `wss://` (and
//! `--public-host` if the proxy rewrites the `Host` header).

use std::{net::SocketAddr, time::Duration};

use anyhow::{Context, Result};
use paychan_relay::{Relay, RelayConfig};

use crate::logging::{self, LogArgs};
use crate::output::outln;

/// Options of `paychan relay`.
#[derive(clap::Args, Debug)]
pub(crate) struct RelayArgs {
    /// Where the relay listens (plain WebSocket).
    #[arg(long, default_value = "127.0.0.1:6340")]
    listen: SocketAddr,
    /// The URL path served; other paths get HTTP 404.
    #[arg(long, default_value = "/", value_parser = url_path)]
    path: String,
    /// Require `token=TOKEN` in the query of every connection (letters, digits, `-._~`).
    #[arg(long, env = "PAYCHAN_RELAY_TOKEN", value_parser = token, hide_env_values = true)]
    token: Option<String>,
    /// The host name parties sign their registration for [default: the `Host` header of
    /// each connection]; set it behind a proxy that rewrites `Host`.
    #[arg(long, value_name = "HOST")]
    public_host: Option<String>,
    /// The most connections at once.
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    /// The most connections at once from one IP address (0: no limit, e.g. behind a proxy).
    #[arg(long, default_value_t = 64)]
    max_per_ip: usize,
    /// The largest message relayed, in bytes (a Noise message is at most 65535).
    #[arg(long, default_value_t = 65_535, value_parser = clap::value_parser!(u32).range(1024..=16_777_216))]
    max_frame_bytes: u32,
    /// Bytes per second one connection may send (averaged over 2 s); beyond, it is closed.
    #[arg(long, value_name = "BYTES_PER_S", default_value_t = 4 << 20, value_parser = clap::value_parser!(u64).range(1..))]
    rate: u64,
    /// Messages per second one connection may send (averaged over 2 s).
    #[arg(long, value_name = "MESSAGES_PER_S", default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..))]
    rate_messages: u64,
    /// Seconds without any message before a connection is closed.
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    idle: u64,
    /// Seconds a registered party has to answer a dialer with its data connection.
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    accept_timeout: u64,
    /// The most dials waiting for one party's answer.
    #[arg(long, default_value_t = 16)]
    max_pending_dials: usize,
    #[command(flatten)]
    log: LogArgs,
}

fn url_path(text: &str) -> Result<String, String> {
    if !text.starts_with('/') || text.contains(['?', '#', ' ']) {
        return Err("a path starts with / and has no query, fragment or space".into());
    }
    Ok(text.to_owned())
}

fn token(text: &str) -> Result<String, String> {
    let url_safe = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
    if text.is_empty() || !text.bytes().all(url_safe) {
        return Err("a token is letters, digits and -._~ (it travels in the URL)".into());
    }
    Ok(text.to_owned())
}

impl RelayArgs {
    fn config(&self) -> RelayConfig {
        let mut config = RelayConfig::default();
        config.path.clone_from(&self.path);
        config.token.clone_from(&self.token);
        config.public_host.clone_from(&self.public_host);
        config.max_connections = self.max_connections.max(1);
        config.max_per_ip = self.max_per_ip;
        config.max_frame_bytes = usize::try_from(self.max_frame_bytes).unwrap_or(65_535);
        config.rate_bytes_per_sec = self.rate;
        config.rate_frames_per_sec = self.rate_messages;
        config.idle = Duration::from_secs(self.idle);
        config.accept_timeout = Duration::from_secs(self.accept_timeout);
        config.max_pending_dials = self.max_pending_dials.max(1);
        config
    }
}

/// Runs the relay until Ctrl-C or SIGTERM.
pub(crate) fn run(args: &RelayArgs) -> Result<()> {
    logging::init("info", &args.log, None, None)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let relay = Relay::bind(args.listen, args.config())
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let local = relay.local_addr();
        // Installed before the banner, so a SIGTERM right after it is not missed.
        let signals = crate::signals::Signals::install()?;
        let token = if args.token.is_some() {
            "?token=TOKEN"
        } else {
            ""
        };
        outln!("paychan relay on ws://{local}{}", args.path);
        outln!(
            "  nodes: [node] relays = [\"ws://{local}{}{token}\"]; peers dial ADDRESS@relay+ws://{local}{}{token}",
            args.path,
            args.path
        );
        tracing::info!(%local, path = %args.path, token = args.token.is_some(), "relay listening");
        let signal = signals.wait().await?;
        tracing::info!(signal, "shutting down");
        relay.shutdown().await;
        Ok(())
    })
}
