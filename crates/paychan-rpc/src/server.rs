//! Serving the API: one jsonrpsee server answering HTTP and WebSocket on the same port, with
//! the [`AuthLayer`] in front and the limits of [`RpcConfig`].

use std::{net::SocketAddr, sync::Arc, time::Duration};

use jsonrpsee::server::{
    BatchRequestConfig, Server, ServerConfig, ServerHandle, middleware::rpc::RpcServiceBuilder,
};
use paychan_ledger::LedgerQuery;
use paychan_node::{Node, decisions::ProposalDecisions};

use crate::{
    aa_compat::{AaCompatConfig, AaServer},
    api::{Context, module},
    auth::{AuthConfigError, AuthLayer},
    config::RpcConfig,
    dial::Dialer,
    grpc::GrpcServer,
    remote::{RemoteHandler, Shared},
    tokens::{TokenRegistry, guard::ScopeGuard},
};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The token or the allowed origins are unusable.
    #[error(transparent)]
    Config(#[from] AuthConfigError),
    /// The address cannot be bound (in use, not local).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The methods could not be registered (a bug).
    #[error("cannot register the RPC methods: {0}")]
    Register(String),
}

/// Starts the API server of a node.
pub struct RpcServerBuilder {
    node: Node,
    config: RpcConfig,
    ledger: Option<Arc<dyn LedgerQuery>>,
    dialer: Option<Arc<dyn Dialer>>,
    remote_handler: bool,
    aa_compat: Option<AaCompatConfig>,
    tokens: Option<Arc<TokenRegistry>>,
    decision_window: Option<Duration>,
}

impl RpcServerBuilder {
    /// Serves `node` with `config`.
    pub fn new(node: Node, config: RpcConfig) -> Self {
        RpcServerBuilder {
            node,
            config,
            ledger: None,
            dialer: None,
            remote_handler: false,
            aa_compat: None,
            tokens: None,
            decision_window: None,
        }
    }

    /// Also serves the aa-channels compatibility listener (see [`crate::aa_compat`]) with
    /// `config`, behind the same full-access token and origin rules, over the same node.
    /// Scoped tokens are not accepted there (their scope checks are the native API's).
    pub fn aa_compat(mut self, config: AaCompatConfig) -> Self {
        self.aa_compat = Some(config);
        self
    }

    /// Offers scoped tokens: accepts the tokens of `tokens` (each within its scopes, a
    /// `pay` token within its limit) and serves `create_token`, `list_tokens` and
    /// `revoke_token` to the full-access token. Without it only the full-access token works.
    pub fn tokens(mut self, tokens: Arc<TokenRegistry>) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// Offers the remote payment handler (`subscribe_payments`): the server becomes the
    /// node's payment handler, answering the node's `default_response` while no client is
    /// subscribed. This replaces a handler set on the node before.
    pub fn remote_payment_handler(mut self) -> Self {
        self.remote_handler = true;
        self
    }

    /// Decides channel proposals over the API (`subscribe_proposals`, `list_proposals`,
    /// `accept_proposal`, `reject_proposal`): each proposal that passes the node's policy
    /// waits up to `window` for the user's decision and is rejected if none comes. This
    /// replaces a proposal handler set on the node before. Keep `window` below the proposers'
    /// `request_timeout` (30 s by default), or they give up first.
    pub fn proposal_decisions(mut self, window: Duration) -> Self {
        self.decision_window = Some(window);
        self
    }

    /// A read handle on the node's ledger: `node_info` reports the balance and the ledger
    /// time, and opens and deposits beyond the balance are refused before anything is sent.
    pub fn ledger(mut self, ledger: Arc<dyn LedgerQuery>) -> Self {
        self.ledger = Some(ledger);
        self
    }

    /// The networking hook: lets `open_channel` dial peers.
    pub fn dialer(mut self, dialer: Arc<dyn Dialer>) -> Self {
        self.dialer = Some(dialer);
        self
    }

    /// Binds and starts serving until the returned server is stopped or dropped.
    pub async fn start(self) -> Result<RpcServer, ServeError> {
        let RpcServerBuilder {
            node,
            config,
            ledger,
            dialer,
            remote_handler,
            aa_compat,
            tokens,
            decision_window,
        } = self;
        let decisions = decision_window.map(|window| {
            let decisions = ProposalDecisions::new(node.domain(), window);
            node.set_proposal_handler(decisions.clone());
            decisions
        });
        let remote = remote_handler.then(|| {
            let remote = RemoteHandler::new(
                node.config().default_response.clone(),
                node.config().handler_timeout,
            );
            node.set_payment_handler(Shared(remote.clone()));
            remote
        });
        let auth = AuthLayer::new(&config.token, &config.allowed_origins)?;
        // The aa-channels listener takes the full-access token only: scoped tokens are
        // checked per method by the native API's middleware, which it does not run.
        let auth_for_aa = auth.clone();
        let auth = match &tokens {
            Some(tokens) => auth.with_tokens(tokens.clone()),
            None => auth,
        };
        let auth_for_grpc = auth.clone();
        let ctx = Arc::new(Context {
            node,
            ledger,
            dialer,
            remote,
            tokens: tokens.clone(),
            decisions,
        });
        let methods = module(ctx.clone()).map_err(|e| ServeError::Register(e.to_string()))?;
        let server_config = ServerConfig::builder()
            .max_request_body_size(config.max_request_body_size)
            .max_response_body_size(config.max_response_body_size)
            .max_connections(config.max_connections)
            .max_subscriptions_per_connection(config.max_subscriptions_per_connection)
            .set_batch_request_config(if config.max_batch_len == 0 {
                BatchRequestConfig::Disabled
            } else {
                BatchRequestConfig::Limit(config.max_batch_len)
            })
            .build();
        let addr = config.listen;
        let server = Server::builder()
            .set_config(server_config)
            .set_http_middleware(tower::ServiceBuilder::new().layer(auth))
            .set_rpc_middleware(RpcServiceBuilder::new().layer_fn(move |inner| ScopeGuard {
                inner,
                tokens: tokens.clone(),
            }))
            .build(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        let addr = server
            .local_addr()
            .map_err(|source| ServeError::Bind { addr, source })?;
        let aa = match &aa_compat {
            Some(aa_config) => Some(
                AaServer::start(
                    ctx.clone(),
                    aa_config,
                    auth_for_aa,
                    config.max_request_body_size,
                    config.max_connections,
                )
                .await?,
            ),
            None => None,
        };
        let grpc = match config.grpc_listen {
            Some(grpc_addr) => Some(
                GrpcServer::start(
                    ctx,
                    auth_for_grpc,
                    grpc_addr,
                    usize::try_from(config.max_request_body_size).unwrap_or(usize::MAX),
                )
                .await?,
            ),
            None => None,
        };
        let handle = server.start(methods);
        tracing::info!(%addr, origins = ?config.allowed_origins, "JSON-RPC API listening (HTTP and WebSocket)");
        Ok(RpcServer {
            handle,
            addr,
            aa,
            grpc,
        })
    }
}

/// A running API server. Dropping it (or [`RpcServer::stop`]) stops it.
#[derive(Debug)]
pub struct RpcServer {
    handle: ServerHandle,
    addr: SocketAddr,
    aa: Option<AaServer>,
    grpc: Option<GrpcServer>,
}

impl RpcServer {
    /// The address it listens on (the actual port when started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its `http://` URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Its `ws://` URL (the same port).
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The address of the aa-channels compatibility listener, if it runs.
    pub fn aa_local_addr(&self) -> Option<SocketAddr> {
        self.aa.as_ref().map(AaServer::local_addr)
    }

    /// The `http://` URL of the aa-channels compatibility listener, if it runs (its
    /// WebSocket is `ws://` on the same address).
    pub fn aa_url(&self) -> Option<String> {
        self.aa_local_addr().map(|addr| format!("http://{addr}"))
    }

    /// The address of the gRPC API, if it runs ([`RpcConfig::grpc_listen`]).
    pub fn grpc_local_addr(&self) -> Option<SocketAddr> {
        self.grpc.as_ref().map(GrpcServer::local_addr)
    }

    /// The `http://` URL of the gRPC API, if it runs (what a tonic client connects to).
    pub fn grpc_url(&self) -> Option<String> {
        self.grpc_local_addr().map(|addr| format!("http://{addr}"))
    }

    /// Tells the server to stop (without waiting); does nothing if it already stopped.
    pub fn stop(&self) {
        let _ = self.handle.stop();
        if let Some(aa) = &self.aa {
            aa.stop();
        }
        if let Some(grpc) = &self.grpc {
            grpc.stop();
        }
    }

    /// Waits until the server has stopped.
    pub async fn stopped(self) {
        self.handle.stopped().await;
        if let Some(aa) = self.aa {
            aa.stop();
            aa.stopped().await;
        }
        if let Some(grpc) = self.grpc {
            grpc.stopped().await;
        }
    }
}
