//! The scope check: a JSON-RPC middleware that runs for every call (alone, in a batch, over
//! HTTP or WebSocket) before its method does. It reads the [`Caller`] the HTTP middleware
//! ([`crate::auth`]) attached to the request, and answers a call outside the caller's scopes,
//! or made with a token revoked since the connection opened, with error 1907: the method never
//! runs, so nothing changes. Notifications (calls without an id) run no method on this server.

use std::{future::Future, sync::Arc};

use jsonrpsee::{
    server::{
        MethodResponse,
        middleware::rpc::{Batch, BatchEntry, BatchEntryErr, Notification, RpcServiceT},
    },
    types::{ErrorObjectOwned, Request},
};
use paychan_node::Category;

use super::{Caller, Class, TokenRegistry, class_of};
use crate::error::{RpcError, SCOPE_DENIED};

/// The middleware service.
#[derive(Clone, Debug)]
pub(crate) struct ScopeGuard<S> {
    pub(crate) inner: S,
    pub(crate) tokens: Option<Arc<TokenRegistry>>,
}

fn needed(class: Option<Class>) -> &'static str {
    match class {
        Some(Class::Info | Class::Read) => "the read or pay scope",
        Some(Class::Verify) => "the verify scope",
        Some(Class::Pay) => "the pay scope",
        Some(Class::Admin) | None => "the full-access token (rpc.token)",
    }
}

impl<S> ScopeGuard<S> {
    /// `Ok` if the caller of a request with `extensions` may call `method`.
    fn verdict(&self, method: &str, extensions: &http::Extensions) -> Result<(), RpcError> {
        verdict(method, extensions.get::<Caller>(), self.tokens.as_deref())
    }
}

/// `Ok` if `caller` may call `method` (a JSON-RPC method name: the gRPC methods are checked
/// under the name of the JSON-RPC method they mirror), with the tokens of `tokens` (a revoked
/// token is refused).
pub(crate) fn verdict(
    method: &str,
    caller: Option<&Caller>,
    tokens: Option<&TokenRegistry>,
) -> Result<(), RpcError> {
    let class = class_of(method);
    match caller {
        Some(Caller::Full) => Ok(()),
        Some(caller @ Caller::Token(claims)) => {
            if let Some(tokens) = tokens {
                tokens.check(claims)?;
            }
            if caller.allows(class) {
                return Ok(());
            }
            let scopes: Vec<&str> = claims.scopes.iter().map(|s| s.name()).collect();
            Err(RpcError::api(
                SCOPE_DENIED,
                Category::Client,
                format!(
                    "{method} needs {}: token {} has scope {}; nothing was done",
                    needed(class),
                    claims.id,
                    scopes.join(",")
                ),
            ))
        }
        // The HTTP middleware attaches a caller to every request it lets through.
        None => Err(RpcError::api(
            SCOPE_DENIED,
            Category::Client,
            "unauthenticated call",
        )),
    }
}

impl<S> RpcServiceT for ScopeGuard<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let verdict = self.verdict(request.method_name(), request.extensions());
        let inner = self.inner.clone();
        async move {
            match verdict {
                Ok(()) => inner.call(request).await,
                Err(e) => {
                    tracing::debug!(method = %request.method_name(), error = %e, "refused by scope");
                    MethodResponse::error(request.id, ErrorObjectOwned::from(e))
                }
            }
        }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let entries = batch
            .into_iter()
            .map(|entry| match entry {
                Ok(BatchEntry::Call(request)) => {
                    match self.verdict(request.method_name(), request.extensions()) {
                        Ok(()) => Ok(BatchEntry::Call(request)),
                        Err(e) => Err(BatchEntryErr::new(
                            request.id.clone(),
                            ErrorObjectOwned::from(e),
                        )),
                    }
                }
                other => other,
            })
            .collect();
        self.inner.batch(Batch::from(entries))
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.inner.notification(n)
    }
}
