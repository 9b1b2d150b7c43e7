//! Who may call: the token on HTTP and WebSocket, browser origins, and the limits.

use std::time::Duration;

use http::{HeaderMap, HeaderValue, header};
use jsonrpsee::{core::client::ClientT, ws_client::WsClientBuilder};
use paychan_rpc::{
    BEARER_PROTOCOL_PREFIX, RpcConfig, RpcServerBuilder, SUBPROTOCOL, client, method,
};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::harness::{ALLOWED_ORIGIN, Net, TOKEN, ok, wait_status};

/// One raw HTTP/1.1 exchange: the status code, the headers (lower-case names) and the body.
async fn raw(
    addr: std::net::SocketAddr,
    method: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut request = format!(
        "{method} / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_owned())
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_requests_need_the_token() {
    let net = Net::new(true).await;
    let client = net.http_a();
    let opened = ok(
        &client,
        method::OPEN_CHANNEL,
        json!({ "peer": net.b.address(), "deposit": 100 }),
    )
    .await;
    let id = opened["channel_id"].as_str().unwrap().to_owned();
    // The call returns once A has the channel open; B follows when the last message of the
    // opening reaches it. Wait for that before the snapshot.
    let client_b = client::http(&net.rpc_b.url(), TOKEN).unwrap();
    wait_status(&client_b, &opened["channel_id"], "open").await;
    let before = net.snapshot().await;
    let addr = net.rpc_a.local_addr();
    let deposit = json!({ "jsonrpc": "2.0", "id": 1, "method": "deposit", "params": { "channel_id": id, "amount": 5 } }).to_string();
    let wrong = bearer("test-token-0123456789abcdeX");
    let basic = format!("Basic {TOKEN}");
    for headers in [
        vec![],
        vec![("Authorization", wrong.as_str())],
        vec![("Authorization", basic.as_str())],
        vec![("Authorization", "Bearer")],
    ] {
        let (status, head, _) = raw(addr, "POST", &headers, &deposit).await;
        assert_eq!(status, 401, "{headers:?}");
        assert!(head.contains("www-authenticate: bearer"), "{head}");
    }
    // Nothing was executed.
    assert_eq!(net.snapshot().await, before);
    // The right token works, with any case of the scheme.
    let good = format!("bearer {TOKEN}");
    let (status, _, body) = raw(addr, "POST", &[("Authorization", &good)], &deposit).await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["result"]["balances"]["my_deposit"], "105");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrades_need_the_token() {
    let net = Net::new(true).await;
    let url = net.rpc_a.ws_url();
    assert!(
        WsClientBuilder::default().build(&url).await.is_err(),
        "no token"
    );
    let wrong = client::auth_headers("not-the-token-at-all-000").unwrap();
    assert!(
        WsClientBuilder::default()
            .set_headers(wrong)
            .build(&url)
            .await
            .is_err(),
        "wrong token"
    );
    let ws = client::ws(&url, TOKEN).await.unwrap();
    let info: Value = ws
        .request(method::NODE_INFO, client::no_params())
        .await
        .unwrap();
    assert_eq!(info["address"], json!(net.a.address()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_origins_are_refused() {
    let net = Net::new(true).await;
    let addr = net.rpc_a.local_addr();
    let call = json!({ "jsonrpc": "2.0", "id": 1, "method": "node_info" }).to_string();
    let auth = bearer(TOKEN);
    // A foreign page, even with the token (it could have stolen it): refused.
    let (status, head, _) = raw(
        addr,
        "POST",
        &[("Authorization", &auth), ("Origin", "https://evil.example")],
        &call,
    )
    .await;
    assert_eq!(status, 403);
    assert!(!head.contains("access-control-allow-origin"), "{head}");
    let (status, _, _) = raw(
        addr,
        "OPTIONS",
        &[
            ("Origin", "https://evil.example"),
            ("Access-Control-Request-Method", "POST"),
        ],
        "",
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, _) = raw(
        addr,
        "POST",
        &[("Authorization", &auth), ("Origin", "null")],
        &call,
    )
    .await;
    assert_eq!(status, 403);
    // The configured origin: preflight answered, CORS headers name exactly that origin.
    let (status, head, _) = raw(
        addr,
        "OPTIONS",
        &[
            ("Origin", ALLOWED_ORIGIN),
            ("Access-Control-Request-Method", "POST"),
        ],
        "",
    )
    .await;
    assert_eq!(status, 204);
    assert!(
        head.contains(&format!("access-control-allow-origin: {ALLOWED_ORIGIN}")),
        "{head}"
    );
    assert!(
        head.contains("access-control-allow-headers: authorization, content-type"),
        "{head}"
    );
    let (status, head, body) = raw(
        addr,
        "POST",
        &[("Authorization", &auth), ("Origin", ALLOWED_ORIGIN)],
        &call,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        head.contains(&format!("access-control-allow-origin: {ALLOWED_ORIGIN}")),
        "{head}"
    );
    assert!(!head.contains("access-control-allow-origin: *"));
    // The allowed origin still needs the token.
    let (status, _, _) = raw(addr, "POST", &[("Origin", ALLOWED_ORIGIN)], &call).await;
    assert_eq!(status, 401);
    // WebSocket upgrades from a foreign origin are refused too.
    let mut headers: HeaderMap = client::auth_headers(TOKEN).unwrap();
    headers.insert(
        header::ORIGIN,
        HeaderValue::from_static("https://evil.example"),
    );
    assert!(
        WsClientBuilder::default()
            .set_headers(headers)
            .build(net.rpc_a.ws_url())
            .await
            .is_err()
    );
    let mut headers: HeaderMap = client::auth_headers(TOKEN).unwrap();
    headers.insert(header::ORIGIN, HeaderValue::from_static(ALLOWED_ORIGIN));
    assert!(
        WsClientBuilder::default()
            .set_headers(headers)
            .build(net.rpc_a.ws_url())
            .await
            .is_ok()
    );
}

/// A raw WebSocket upgrade (as a browser sends it): the status and the answer's head.
async fn upgrade(addr: std::net::SocketAddr, headers: &[(&str, &str)]) -> (u16, String) {
    let mut all = vec![
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    all.extend_from_slice(headers);
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\n");
    for (name, value) in all {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    // Read the head only: a successful upgrade keeps the connection open.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut byte))
            .await
            .unwrap()
            .unwrap();
        if n == 0 {
            break;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_send_the_token_as_a_websocket_subprotocol() {
    let net = Net::new(true).await;
    let addr = net.rpc_a.local_addr();
    let offer = |token: &str| format!("{SUBPROTOCOL}, {BEARER_PROTOCOL_PREFIX}{token}");
    // The right token, from the allowed origin: upgraded, and the answer selects paychan.v1
    // (never the token).
    let (status, head) = upgrade(
        addr,
        &[
            ("Origin", ALLOWED_ORIGIN),
            ("Sec-WebSocket-Protocol", &offer(TOKEN)),
        ],
    )
    .await;
    assert_eq!(status, 101, "{head}");
    assert!(
        head.contains("sec-websocket-protocol: paychan.v1\r\n"),
        "{head}"
    );
    assert!(!head.contains(&TOKEN.to_ascii_lowercase()), "{head}");
    // A wrong token, no token, or a foreign origin with the right one: refused.
    let (status, _) = upgrade(
        addr,
        &[
            ("Origin", ALLOWED_ORIGIN),
            ("Sec-WebSocket-Protocol", &offer("not-the-token-at-all-000")),
        ],
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = upgrade(
        addr,
        &[
            ("Origin", ALLOWED_ORIGIN),
            ("Sec-WebSocket-Protocol", SUBPROTOCOL),
        ],
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = upgrade(
        addr,
        &[
            ("Origin", "https://evil.example"),
            ("Sec-WebSocket-Protocol", &offer(TOKEN)),
        ],
    )
    .await;
    assert_eq!(status, 403);
    // The token without paychan.v1 beside it: a clear 400 (a browser would drop an answer
    // selecting none of its offers).
    let only_token = format!("{BEARER_PROTOCOL_PREFIX}{TOKEN}");
    let (status, _) = upgrade(
        addr,
        &[
            ("Origin", ALLOWED_ORIGIN),
            ("Sec-WebSocket-Protocol", &only_token),
        ],
    )
    .await;
    assert_eq!(status, 400);
    // A client upgraded this way (as a browser: the offer in the request, the selection
    // checked against it) calls methods.
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
    let mut request = net.rpc_a.ws_url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert(header::ORIGIN, HeaderValue::from_static(ALLOWED_ORIGIN));
    request.headers_mut().insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_str(&offer(TOKEN)).unwrap(),
    );
    let (mut ws, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(
        response.headers()[header::SEC_WEBSOCKET_PROTOCOL],
        SUBPROTOCOL
    );
    let call = json!({ "jsonrpc": "2.0", "id": 1, "method": "node_info" }).to_string();
    ws.send(Message::text(call)).await.unwrap();
    let answer = loop {
        match ws.next().await.unwrap().unwrap() {
            Message::Text(text) => break serde_json::from_str::<Value>(&text).unwrap(),
            _ => continue,
        }
    };
    assert_eq!(answer["result"]["address"], json!(net.a.address()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_on_bodies_batches_and_connections() {
    let net = Net::new(true).await;
    let config = RpcConfig::new(TOKEN)
        .with_listen("127.0.0.1:0".parse().unwrap())
        .with_max_request_body_size(64 * 1024)
        .with_max_batch_len(4)
        .with_max_connections(2);
    let server = RpcServerBuilder::new(net.a.clone(), config)
        .start()
        .await
        .unwrap();
    let addr = server.local_addr();
    let auth = bearer(TOKEN);

    // Too large a body.
    let big = json!({ "jsonrpc": "2.0", "id": 1, "method": "send_message", "params": { "channel_id": "0x00", "message": "x".repeat(70 * 1024) } }).to_string();
    let (status, _, _) = raw(addr, "POST", &[("Authorization", &auth)], &big).await;
    assert_eq!(status, 413);

    // Too long a batch: refused as a whole; a short one is answered.
    let batch = |n: usize| {
        Value::Array(
            (0..n)
                .map(|i| json!({ "jsonrpc": "2.0", "id": i, "method": "node_info" }))
                .collect(),
        )
        .to_string()
    };
    let (status, _, body) = raw(addr, "POST", &[("Authorization", &auth)], &batch(5)).await;
    assert!(!body.contains("\"result\""), "{status} {body}");
    let (status, _, body) = raw(addr, "POST", &[("Authorization", &auth)], &batch(4)).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        4
    );

    // Connections: two WebSocket sessions hold both slots; a third is turned away.
    // (The server frees a slot once it has seen its connection go, which may take a moment
    // after the client saw it end: the HTTP connections above, the sessions dropped below.)
    let url = server.ws_url();
    let first = ws_once_a_slot_is_free(&url).await;
    let second = ws_once_a_slot_is_free(&url).await;
    assert!(client::ws(&url, TOKEN).await.is_err());
    drop(first);
    drop(second);
    ws_once_a_slot_is_free(&url).await;
}

/// A WebSocket session with `url`, retried until the server has a connection slot free.
async fn ws_once_a_slot_is_free(url: &str) -> jsonrpsee::ws_client::WsClient {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match client::ws(url, TOKEN).await {
            Ok(ws) => return ws,
            Err(e) => assert!(
                tokio::time::Instant::now() < deadline,
                "no connection slot came free: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
