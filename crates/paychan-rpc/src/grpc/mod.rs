//! The gRPC API (tonic and prost), served beside the JSON-RPC API when
//! [`RpcConfig::grpc_listen`](crate::RpcConfig::grpc_listen) is set: the `paychan.v1.Node`
//! service of `proto/paychan/v1/node.proto`, and the gRPC reflection service (so `grpcurl`
//! needs no `.proto` file).
//!
//! Every method is the JSON-RPC method of the same name: it converts its request into that
//! method's typed params ([`convert`]) and calls the same function of the service layer
//! ([`crate::api`]) as the JSON-RPC handler does, so nothing is implemented twice.
//!
//! Who may call: every call carries the metadata `authorization: Bearer <token>`, checked by
//! the JSON-RPC API's own rules ([`AuthLayer`]): the full-access token or a scoped token,
//! within the scopes of the JSON-RPC method it mirrors ([`crate::tokens::class_of`]), a `pay`
//! token within its limit. A missing or wrong token is `UNAUTHENTICATED`; a call outside the
//! token's scopes is `PERMISSION_DENIED` (paychan code 1907) before it runs, so it changes
//! nothing. The reflection service answers without a token: it describes the API, as the
//! committed `.proto` file does, and reads nothing of the node.
//!
//! Limits: a message in either direction is at most `max_request_body_size` bytes (a
//! payment's message may be 512 KiB, as over JSON-RPC); there is no `Origin` check, since a
//! browser page cannot speak gRPC over HTTP/2 without a grpc-web proxy, and the number of
//! connections is not bounded here as `max_connections` bounds JSON-RPC's: keep the port on
//! loopback or behind a proxy that limits them.
//!
//! Errors: a failed call answers the gRPC code of its paychan code ([`convert::code_of`];
//! the table is in docs/API.md) with the paychan code in the metadata `paychan-code`, its
//! category in `paychan-category` and the rule of a refusal in `paychan-reason`.

pub(crate) mod convert;
mod service;
mod streams;

use std::{net::SocketAddr, sync::Arc};

use tokio::{net::TcpListener, sync::watch, task::JoinHandle};
use tonic::transport::server::TcpIncoming;

use crate::{api::Context, auth::AuthLayer, server::ServeError};

/// The code prost and tonic generated from `proto/paychan/v1/node.proto`: the messages,
/// the client [`pb::node_client::NodeClient`] and the server.
#[allow(
    missing_docs,
    unreachable_pub,
    clippy::all,
    clippy::pedantic,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
pub mod pb {
    tonic::include_proto!("paychan.v1");

    /// The encoded descriptors of the `.proto` files, served by the reflection service.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("paychan_v1_descriptor");
}

/// The running gRPC server.
#[derive(Debug)]
pub(crate) struct GrpcServer {
    addr: SocketAddr,
    /// Set to `true` to stop: the server and its open streams watch it.
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl GrpcServer {
    /// Binds `addr` and serves the API of `ctx` there, behind the tokens of `auth`.
    pub(crate) async fn start(
        ctx: Arc<Context>,
        auth: AuthLayer,
        addr: SocketAddr,
        max_message_size: usize,
    ) -> Result<GrpcServer, ServeError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ServeError::Bind { addr, source })?;
        // Both versions of the reflection protocol: grpcurl and most tools ask v1 first,
        // older ones v1alpha only.
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(|e| ServeError::Register(e.to_string()))?;
        let reflection_alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()
            .map_err(|e| ServeError::Register(e.to_string()))?;
        let (stop, mut stopped) = watch::channel(false);
        let node =
            pb::node_server::NodeServer::new(service::NodeApi::new(ctx, auth, stop.subscribe()))
                .max_decoding_message_size(max_message_size)
                .max_encoding_message_size(max_message_size);
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let task = tokio::spawn(async move {
            let served = tonic::transport::Server::builder()
                .add_service(node)
                .add_service(reflection)
                .add_service(reflection_alpha)
                .serve_with_incoming_shutdown(incoming, async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                })
                .await;
            if let Err(error) = served {
                tracing::warn!(%error, "the gRPC API stopped");
            }
        });
        tracing::info!(%addr, "gRPC API listening");
        Ok(GrpcServer { addr, stop, task })
    }

    /// Where it listens.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Tells it to stop (without waiting): it takes no new calls, and its streams end.
    pub(crate) fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Stops it and waits until it has.
    pub(crate) async fn stopped(self) {
        self.stop();
        let _ = self.task.await;
    }
}
