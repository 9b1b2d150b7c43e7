//! `docs/openrpc.json` stays in step with the server: the same methods, and for each the
//! params the server actually accepts (read from the server's own refusal of an unknown
//! param, or of one positional param too many).

use std::collections::BTreeSet;

use jsonrpsee::core::{ClientError, client::ClientT};
use paychan_rpc::{client::Named, method};
use serde_json::{Value, json};

use crate::harness::Net;

fn document() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openrpc.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

/// The message of the error a call gets.
async fn refusal<C: ClientT + Sync>(client: &C, name: &str, params: Value) -> String {
    match client
        .request::<Value, _>(name, Named(params.clone()))
        .await
    {
        Err(ClientError::Call(e)) => e.message().to_owned(),
        other => panic!("{name} {params}: expected a refusal, got {other:?}"),
    }
}

/// The field names serde lists in "unknown field `x`, expected one of `a`, `b`".
fn expected_fields(message: &str) -> BTreeSet<String> {
    if message.contains("there are no fields") {
        return BTreeSet::new();
    }
    let list = message
        .split_once("expected ")
        .unwrap_or_else(|| panic!("no field list in {message:?}"))
        .1;
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openrpc_document_lists_every_method_with_the_params_the_server_accepts() {
    let doc = document();
    assert_eq!(doc["openrpc"], "1.2.6");
    let methods = doc["methods"].as_array().unwrap();
    let documented: Vec<&str> = methods
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    let documented_set: BTreeSet<&str> = documented.iter().copied().collect();
    assert_eq!(
        documented.len(),
        documented_set.len(),
        "a method is documented twice"
    );
    let served: BTreeSet<&str> = method::ALL.iter().copied().collect();
    assert_eq!(
        documented_set, served,
        "docs/openrpc.json and the served methods differ"
    );

    let net = Net::new(true).await;
    let http = net.http_a();
    let ws = net.ws_a().await;
    for m in methods {
        let name = m["name"].as_str().unwrap();
        let params: Vec<&str> = m["params"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        if name.starts_with("unsubscribe_") {
            continue;
        }
        if m["paramStructure"] == "by-position" {
            let too_many = Value::Array(vec![Value::Null; params.len() + 1]);
            let message = refusal(&http, name, too_many).await;
            assert!(
                message.contains(&format!("at most {} params", params.len())),
                "{name}: documented with {} params, the server says {message:?}",
                params.len()
            );
            continue;
        }
        let probe = json!({ "__probe__": 1 });
        let message = if name.starts_with("subscribe_") {
            match jsonrpsee::core::client::SubscriptionClientT::subscribe::<Value, _>(
                &ws,
                name,
                Named(probe),
                "unsubscribe_events",
            )
            .await
            {
                Err(ClientError::Call(e)) => e.message().to_owned(),
                other => panic!("{name}: expected a refusal, got {other:?}"),
            }
        } else {
            refusal(&http, name, probe).await
        };
        assert!(
            message.contains("unknown field `__probe__`"),
            "{name}: {message}"
        );
        let accepted = expected_fields(&message);
        let documented: BTreeSet<String> = params.iter().map(|p| (*p).to_owned()).collect();
        assert_eq!(
            documented, accepted,
            "{name}: documented params differ from the server's"
        );
    }

    // Every documented error's JSON-RPC code follows from its paychan code.
    for (key, error) in doc["components"]["errors"].as_object().unwrap() {
        let code = error["data"]["code"].as_i64().unwrap();
        assert_eq!(key, &format!("E{code}"));
        let expected = if code == 1000 { -32602 } else { -33000 - code };
        assert_eq!(error["code"], expected, "{key}");
    }
}

/// The code table in `paychan_rpc::error`'s docs and `components.errors` list the same codes.
#[test]
fn the_error_code_tables_agree() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/error.rs");
    let source = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let in_source: BTreeSet<String> = source
        .lines()
        .filter_map(|line| line.strip_prefix("//! | "))
        .filter_map(|row| row.split(' ').next())
        .filter(|code| code.len() == 4 && code.bytes().all(|b| b.is_ascii_digit()))
        .map(|code| format!("E{code}"))
        .collect();
    let in_document: BTreeSet<String> = document()["components"]["errors"]
        .as_object()
        .expect("components.errors")
        .keys()
        .cloned()
        .collect();
    assert_eq!(in_source, in_document);
}
