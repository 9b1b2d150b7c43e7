//! The settings of the API server: where it listens, the token, the allowed browser origins
//! and the resource limits. The defaults suit one machine.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

/// The default port of the API (aa-channels' RPC used the same).
pub const DEFAULT_PORT: u16 = 6333;

/// The API server's settings.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RpcConfig {
    /// Where to listen (HTTP and WebSocket on the same port). Default `127.0.0.1:6333`.
    pub listen: SocketAddr,
    /// The bearer token every request must carry (`Authorization: Bearer <token>`).
    pub token: String,
    /// Browser origins allowed to call the API (e.g. `https://app.example`); a request with
    /// any other `Origin` header is refused. Empty by default: no browser access. `*` is not
    /// accepted.
    pub allowed_origins: Vec<String>,
    /// The largest request body, in bytes. Default 2 MiB (a payment message may be 512 KiB).
    pub max_request_body_size: u32,
    /// The largest response body, in bytes. Default 16 MiB.
    pub max_response_body_size: u32,
    /// The most calls in one batch. Default 16.
    pub max_batch_len: u32,
    /// The most connections (HTTP and WebSocket) at once. Default 64.
    pub max_connections: u32,
    /// The most subscriptions per WebSocket connection. Default 16.
    pub max_subscriptions_per_connection: u32,
    /// Where to serve the gRPC API (`crate::grpc`), beside the JSON-RPC API on its own
    /// port, with the same tokens. `None` (the default): no gRPC.
    pub grpc_listen: Option<SocketAddr>,
}

impl RpcConfig {
    /// The defaults, with `token`.
    pub fn new(token: impl Into<String>) -> Self {
        RpcConfig {
            listen: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, DEFAULT_PORT)),
            token: token.into(),
            allowed_origins: vec![],
            max_request_body_size: 2 * 1024 * 1024,
            max_response_body_size: 16 * 1024 * 1024,
            max_batch_len: 16,
            max_connections: 64,
            max_subscriptions_per_connection: 16,
            grpc_listen: None,
        }
    }

    /// Sets [`RpcConfig::listen`].
    pub fn with_listen(mut self, listen: SocketAddr) -> Self {
        self.listen = listen;
        self
    }

    /// Sets [`RpcConfig::grpc_listen`]: serve the gRPC API there too.
    pub fn with_grpc_listen(mut self, listen: SocketAddr) -> Self {
        self.grpc_listen = Some(listen);
        self
    }

    /// Sets [`RpcConfig::allowed_origins`].
    pub fn with_allowed_origins(mut self, origins: Vec<String>) -> Self {
        self.allowed_origins = origins;
        self
    }

    /// Sets [`RpcConfig::max_request_body_size`].
    pub fn with_max_request_body_size(mut self, bytes: u32) -> Self {
        self.max_request_body_size = bytes;
        self
    }

    /// Sets [`RpcConfig::max_batch_len`].
    pub fn with_max_batch_len(mut self, len: u32) -> Self {
        self.max_batch_len = len;
        self
    }

    /// Sets [`RpcConfig::max_connections`].
    pub fn with_max_connections(mut self, max: u32) -> Self {
        self.max_connections = max;
        self
    }
}

impl std::fmt::Debug for RpcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token stays out of logs.
        f.debug_struct("RpcConfig")
            .field("listen", &self.listen)
            .field("allowed_origins", &self.allowed_origins)
            .field("max_request_body_size", &self.max_request_body_size)
            .field("max_response_body_size", &self.max_response_body_size)
            .field("max_batch_len", &self.max_batch_len)
            .field("max_connections", &self.max_connections)
            .field(
                "max_subscriptions_per_connection",
                &self.max_subscriptions_per_connection,
            )
            .field("grpc_listen", &self.grpc_listen)
            .finish_non_exhaustive()
    }
}
