//! Clients of the API: jsonrpsee HTTP and WebSocket clients that send the bearer token, and
//! the paychan error inside a failed call.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use jsonrpsee::{core::client::ClientT, rpc_params};
//! let client = paychan_rpc::client::http("http://127.0.0.1:6333", "the token")?;
//! let channels: serde_json::Value = client.request("list_channels", rpc_params![]).await?;
//! # Ok(()) }
//! ```

use std::time::Duration;

use http::{HeaderMap, HeaderValue, header};
use jsonrpsee::{
    core::{ClientError, params::ObjectParams, traits::ToRpcParams},
    http_client::{HttpClient, HttpClientBuilder},
    ws_client::{WsClient, WsClientBuilder},
};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::error::{ErrorData, error_data};

/// How long a call may take by default: opening a channel waits for the peer and the ledger.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// The `Authorization` header for `token`.
pub fn auth_headers(token: &str) -> Result<HeaderMap, ClientError> {
    let value = HeaderValue::from_str(&format!("Bearer {}", token.trim()))
        .map_err(|_| ClientError::Custom("the token contains characters a header cannot".into()))?;
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, value);
    Ok(headers)
}

/// An HTTP client of the API at `url` (`http://host:port`) with `token`.
pub fn http(url: &str, token: &str) -> Result<HttpClient, ClientError> {
    HttpClientBuilder::default()
        .set_headers(auth_headers(token)?)
        .request_timeout(DEFAULT_TIMEOUT)
        .max_response_size(64 * 1024 * 1024)
        .build(url)
}

/// A WebSocket client of the API at `url` (`ws://host:port`) with `token`; needed for
/// `subscribe_events`.
pub async fn ws(url: &str, token: &str) -> Result<WsClient, ClientError> {
    WsClientBuilder::default()
        .set_headers(auth_headers(token)?)
        .request_timeout(DEFAULT_TIMEOUT)
        .max_response_size(64 * 1024 * 1024)
        .build(url)
        .await
}

/// Named params from any serializable struct or map (a JSON object).
#[derive(Debug)]
pub struct Named<T>(pub T);

impl<T: Serialize> ToRpcParams for Named<T> {
    fn to_rpc_params(self) -> Result<Option<Box<RawValue>>, serde_json::Error> {
        serde_json::value::to_raw_value(&self.0).map(Some)
    }
}

/// Empty named params.
pub fn no_params() -> ObjectParams {
    ObjectParams::new()
}

/// The paychan error of a failed call, if the server sent one.
pub fn paychan_error(error: &ClientError) -> Option<ErrorData> {
    match error {
        ClientError::Call(object) => error_data(object),
        _ => None,
    }
}
