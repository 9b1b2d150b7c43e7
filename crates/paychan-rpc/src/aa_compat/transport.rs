//! HTTP and WebSocket on one port, as rpcify served them: JSON-RPC in a `POST` body or in
//! WebSocket text frames, and the node's events pushed to every WebSocket connection.

use std::{convert::Infallible, sync::Arc};

use futures::{SinkExt, StreamExt};
use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::{body::Incoming, server::conn::http1, service::service_fn, upgrade::Upgraded};
use hyper_util::rt::TokioIo;
use jsonrpsee::{
    core::BoxError,
    server::{HttpBody, HttpResponse},
    types::ErrorObjectOwned,
};
use serde_json::{Value, json};
use tokio::{
    net::TcpListener,
    sync::{Semaphore, broadcast::error::RecvError, mpsc},
};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{
        Message, handshake::derive_accept_key, protocol::Role, protocol::WebSocketConfig,
    },
};
use tower::{Layer, ServiceExt};

use super::{Shared, calls, events};

/// rpcify's code for a call that failed.
const CALL_FAILED: i32 = -32603;
/// Requests of one WebSocket connection executed at once.
const IN_FLIGHT_PER_CONNECTION: usize = 32;

/// Accepts connections until shutdown.
pub(super) async fn serve(listener: TcpListener, shared: Arc<Shared>, max_connections: u32) {
    let connections = Arc::new(Semaphore::new(
        usize::try_from(max_connections.max(1)).unwrap_or(usize::MAX),
    ));
    let mut shutdown = shared.shutdown.clone();
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::debug!(error = %e, "aa-channels listener: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "aa-channels listener: too many connections");
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let open = shared.loopback_open && peer.ip().is_loopback();
            let mut shutdown = shared.shutdown.clone();
            let service = service_fn(move |request| route(shared.clone(), request, open));
            let connection = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = shutdown.changed() => connection.as_mut().graceful_shutdown(),
            }
        });
    }
}

/// The token and origin checks of the native API, unless the client is on loopback, sends no
/// `Origin` and the operator allowed that.
async fn route(
    shared: Arc<Shared>,
    request: Request<Incoming>,
    open: bool,
) -> Result<HttpResponse, BoxError> {
    let bypass = open && !request.headers().contains_key(header::ORIGIN);
    let inner = tower::service_fn({
        let shared = shared.clone();
        move |request| answer(shared.clone(), request)
    });
    if bypass {
        Ok(inner.oneshot(request).await?)
    } else {
        shared.auth.clone().layer(inner).oneshot(request).await
    }
}

fn plain(status: StatusCode, body: &'static str) -> HttpResponse {
    let mut response = HttpResponse::new(HttpBody::from(body));
    *response.status_mut() = status;
    response
}

fn json_response(body: String) -> HttpResponse {
    let mut response = HttpResponse::new(HttpBody::from(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn is_upgrade(request: &Request<Incoming>) -> bool {
    request
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

async fn answer(
    shared: Arc<Shared>,
    mut request: Request<Incoming>,
) -> Result<HttpResponse, Infallible> {
    if is_upgrade(&request) {
        let Some(key) = request.headers().get(header::SEC_WEBSOCKET_KEY) else {
            return Ok(plain(
                StatusCode::BAD_REQUEST,
                "missing Sec-WebSocket-Key\n",
            ));
        };
        let accept = derive_accept_key(key.as_bytes());
        let upgrade = hyper::upgrade::on(&mut request);
        tokio::spawn(async move {
            match upgrade.await {
                Ok(upgraded) => session(shared, upgraded).await,
                Err(e) => tracing::debug!(error = %e, "aa-channels listener: upgrade failed"),
            }
        });
        let mut response = HttpResponse::new(HttpBody::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(accept) = HeaderValue::from_str(&accept) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        }
        return Ok(response);
    }
    if request.method() != Method::POST {
        return Ok(plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "POST a JSON-RPC request, or open a WebSocket\n",
        ));
    }
    let body = match Limited::new(request.into_body(), shared.max_body)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(_) => {
            return Ok(plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large or unreadable\n",
            ));
        }
    };
    let text = String::from_utf8_lossy(&body);
    let answer = respond(&shared, &text)
        .await
        .unwrap_or_else(|| Value::Null.to_string());
    Ok(json_response(answer))
}

/// A WebSocket client: its calls answered as they complete, every node event pushed.
async fn session(shared: Arc<Shared>, upgraded: Upgraded) {
    let mut config = WebSocketConfig::default();
    config.max_message_size = Some(shared.max_body);
    config.max_frame_size = Some(shared.max_body);
    let ws =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
    let (mut sink, mut incoming) = ws.split();
    let (out, mut queue) = mpsc::channel::<String>(256);
    let mut node_events = shared.ctx.node.subscribe();
    let writer = tokio::spawn(async move {
        while let Some(text) = queue.recv().await {
            if sink.send(Message::text(text)).await.is_err() {
                return;
            }
        }
        let _ = sink.close().await;
    });
    let ready = json!({ "event": events::READY, "data": [] }).to_string();
    if out.send(ready).await.is_err() {
        return;
    }
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT_PER_CONNECTION));
    let mut shutdown = shared.shutdown.clone();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            message = incoming.next() => {
                let text = match message {
                    Some(Ok(Message::Text(text))) => text.as_str().to_owned(),
                    Some(Ok(Message::Binary(bytes))) => String::from_utf8_lossy(&bytes).into_owned(),
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                    Some(Ok(_)) => continue,
                };
                let Ok(permit) = in_flight.clone().acquire_owned().await else { break };
                let (shared, out) = (shared.clone(), out.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    if let Some(answer) = respond(&shared, &text).await {
                        let _ = out.send(answer).await;
                    }
                });
            }
            event = node_events.recv() => {
                let frame = match event {
                    Ok(event) => events::frame(&event),
                    Err(RecvError::Lagged(lost)) => events::lagged(lost),
                    Err(RecvError::Closed) => break,
                };
                if out.send(frame.to_string()).await.is_err() {
                    break;
                }
            }
        }
    }
    drop(out);
    let _ = writer.await;
}

/// The answer to a request or a batch (`None`: only notifications).
async fn respond(shared: &Shared, text: &str) -> Option<String> {
    let parsed: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Some(
                error(Value::Null, -32700, &format!("parse error: {e}"), None).to_string(),
            );
        }
    };
    match parsed {
        Value::Array(batch) if !batch.is_empty() => {
            let mut answers = vec![];
            for request in batch {
                if let Some(answer) = one(shared, request).await {
                    answers.push(answer);
                }
            }
            (!answers.is_empty()).then(|| Value::Array(answers).to_string())
        }
        request => one(shared, request).await.map(|a| a.to_string()),
    }
}

fn error(id: Value, code: i32, message: &str, data: Option<Value>) -> Value {
    let mut error = json!({ "code": code, "message": message });
    if let (Some(data), Some(object)) = (data, error.as_object_mut()) {
        object.insert("data".into(), data);
    }
    json!({ "jsonrpc": "2.0", "id": id, "error": error })
}

/// One call: `None` for a notification (no `id`).
async fn one(shared: &Shared, request: Value) -> Option<Value> {
    let id = request.get("id").cloned();
    let answer_id = id.clone().unwrap_or(Value::Null);
    let Some(method) = request.get("method").and_then(Value::as_str) else {
        return Some(error(answer_id, -32600, "invalid request: no method", None));
    };
    if !calls::METHODS.contains(&method) {
        return Some(error(
            answer_id,
            -32601,
            &format!("method not found: {method}"),
            None,
        ));
    }
    // rpcify: an array is the arguments; an object is the first argument.
    let values = match request.get("params") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(values)) => values.clone(),
        Some(other) => vec![other.clone()],
    };
    let result = calls::call(&shared.ctx, method, values).await;
    let id = id?;
    Some(match result {
        Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        Err(e) => {
            let object = ErrorObjectOwned::from(e);
            let data = object
                .data()
                .and_then(|raw| serde_json::from_str::<Value>(raw.get()).ok());
            tracing::debug!(method, error = object.message(), "aa-channels call failed");
            error(id, CALL_FAILED, object.message(), data)
        }
    })
}
