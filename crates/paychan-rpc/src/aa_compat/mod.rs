//! The aa-channels compatibility listener: a second port that speaks what aa-channels-lib's
//! RPC server (rpcify on port 6333) spoke, so that an application written against it works
//! unchanged once it points at this port (and sends the token, see below).
//!
//! - **Calls**: JSON-RPC 2.0 over HTTP `POST` and over WebSocket, on the same port. Params are
//!   positional in aa-channels' order; results have aa-channels' shapes, following rpcify's
//!   rule (the callback's values after the error: one value is the result, several are an
//!   array, none is `[]`). A failed call answers code `-32603` (rpcify's) with the reason as
//!   the message and paychan's `{category, code, message}` as `data`. See [`calls`].
//! - **Events**: pushed to every WebSocket client without a subscription, as
//!   `{"event": NAME, "data": [ARGS...]}` with aa-channels' names and argument orders; the
//!   first frame of every connection is `{"event": "aa_channels_ready", "data": []}`. See
//!   [`events`].
//! - **Security**: the same full-access bearer token and browser-origin rules as the native
//!   API ([`crate::auth`]); scoped tokens are refused here, because their per-method checks
//!   are the native API's JSON-RPC middleware, which this listener does not run. With [`AaCompatConfig::allow_unauthenticated_loopback`] a client
//!   connecting from a loopback address without an `Origin` header needs no token, as with
//!   aa-channels; off by default, because any local process (another user's, a compromised
//!   tool) could then spend the node's channels, and a browser page could too if it reached
//!   the port without an `Origin` header (`Origin`-carrying requests always need the token).

mod calls;
mod events;
mod transport;

use std::{
    net::{Ipv4Addr, SocketAddr, SocketAddrV4},
    sync::Arc,
};

use tokio::{sync::watch, task::JoinHandle};

use crate::{api::Context, auth::AuthLayer, server::ServeError};

pub use calls::METHODS;
pub use events::READY;

/// The default port of the compatibility listener (the native API keeps 6333; an operator
/// who wants aa-channels' own port swaps them).
pub const DEFAULT_AA_PORT: u16 = 6332;

/// The compatibility listener's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AaCompatConfig {
    /// Where to listen (HTTP and WebSocket on the same port). Default `127.0.0.1:6332`.
    pub listen: SocketAddr,
    /// Whether a client on a loopback address that sends no `Origin` header may call without
    /// the token (aa-channels' behavior). Default `false`.
    pub allow_unauthenticated_loopback: bool,
}

impl Default for AaCompatConfig {
    fn default() -> Self {
        AaCompatConfig {
            listen: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, DEFAULT_AA_PORT)),
            allow_unauthenticated_loopback: false,
        }
    }
}

impl AaCompatConfig {
    /// Sets [`AaCompatConfig::listen`].
    pub fn with_listen(mut self, listen: SocketAddr) -> Self {
        self.listen = listen;
        self
    }

    /// Sets [`AaCompatConfig::allow_unauthenticated_loopback`].
    pub fn with_unauthenticated_loopback(mut self, allow: bool) -> Self {
        self.allow_unauthenticated_loopback = allow;
        self
    }
}

/// The running compatibility listener.
#[derive(Debug)]
pub(crate) struct AaServer {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// What every connection of the listener shares.
pub(crate) struct Shared {
    pub(crate) ctx: Arc<Context>,
    pub(crate) auth: AuthLayer,
    pub(crate) loopback_open: bool,
    pub(crate) max_body: usize,
    pub(crate) shutdown: watch::Receiver<bool>,
}

impl AaServer {
    /// Binds `config.listen` and serves `ctx` there with `auth` and the body limit.
    pub(crate) async fn start(
        ctx: Arc<Context>,
        config: &AaCompatConfig,
        auth: AuthLayer,
        max_body: u32,
        max_connections: u32,
    ) -> Result<AaServer, ServeError> {
        let addr = config.listen;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ServeError::Bind { addr, source })?;
        let (shutdown, watch) = watch::channel(false);
        let shared = Arc::new(Shared {
            ctx,
            auth,
            loopback_open: config.allow_unauthenticated_loopback,
            max_body: usize::try_from(max_body).unwrap_or(usize::MAX),
            shutdown: watch,
        });
        let task = tokio::spawn(transport::serve(listener, shared, max_connections));
        tracing::info!(
            %addr,
            unauthenticated_loopback = config.allow_unauthenticated_loopback,
            "aa-channels compatible API listening (HTTP and WebSocket)"
        );
        Ok(AaServer {
            addr,
            shutdown,
            task,
        })
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub(crate) fn stop(&self) {
        let _ = self.shutdown.send(true);
    }

    pub(crate) async fn stopped(self) {
        let _ = self.task.await;
    }
}
