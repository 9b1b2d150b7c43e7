//! Bad params: wrong types, negative, zero, fractional and huge amounts, unknown keys and
//! channels. Each gets a client error and changes nothing on either node or the ledger.

use jsonrpsee::core::client::ClientT;
use paychan_node::Category;
use paychan_rpc::method;
use serde_json::{Value, json};

use crate::harness::{Net, err, ok};

const INVALID_PARAMS: i32 = -32602;

async fn refused<C: ClientT + Sync>(
    net: &Net,
    client: &C,
    method: &str,
    params: Value,
) -> (i32, u16) {
    let before = net.snapshot().await;
    let (code, data) = err(client, method, params.clone()).await;
    assert_eq!(
        data.category,
        Category::Client,
        "{method} {params}: {data:?}"
    );
    assert_eq!(
        code,
        if data.code == 1000 {
            INVALID_PARAMS
        } else {
            -33000 - i32::from(data.code)
        }
    );
    assert!(!data.message.is_empty());
    assert_eq!(
        net.snapshot().await,
        before,
        "{method} {params} changed something"
    );
    (code, data.code)
}

async fn bad_params<C: ClientT + Sync>(net: &Net, client: &C) {
    let opened = ok(
        client,
        method::OPEN_CHANNEL,
        json!({ "peer": net.b.address(), "deposit": 1000 }),
    )
    .await;
    let id = opened["channel_id"].clone();
    ok(
        client,
        method::PAY,
        json!({ "channel_id": id, "amount": 1 }),
    )
    .await;
    let unknown = json!(format!("0x{}", "ab".repeat(32)));
    let too_big = "340282366920938463463374607431768211456"; // 2^128

    for amount in [
        json!(-5),
        json!("-5"),
        json!(0),
        json!("0"),
        json!(1.5),
        json!(1e30),
        json!("1e3"),
        json!(""),
        json!(" 7"),
        json!("0x10"),
        json!(true),
        json!(null),
        json!({}),
        json!([1]),
        json!(too_big),
        serde_json::from_str::<Value>(too_big).unwrap(),
    ] {
        for m in [method::PAY, method::DEPOSIT, method::WITHDRAW] {
            let (code, _) = refused(
                net,
                client,
                m,
                json!({ "channel_id": id, "amount": amount }),
            )
            .await;
            assert_eq!(code, INVALID_PARAMS, "{m} {amount}");
        }
    }
    let (code, _) = refused(
        net,
        client,
        method::OPEN_CHANNEL,
        json!({ "peer": net.b.address(), "deposit": -1 }),
    )
    .await;
    assert_eq!(code, INVALID_PARAMS);
    let (code, _) = refused(
        net,
        client,
        method::OPEN_CHANNEL,
        json!({ "peer": net.b.address(), "deposit": too_big }),
    )
    .await;
    assert_eq!(code, INVALID_PARAMS);

    // Wrong types, missing and unknown keys, malformed ids and addresses.
    for (m, params) in [
        (method::PAY, json!({ "channel_id": id })),
        (method::PAY, json!({ "channel_id": 7, "amount": 1 })),
        (method::PAY, json!({ "channel_id": "0x1234", "amount": 1 })),
        (
            method::PAY,
            json!({ "channel_id": id, "amount": 1, "extra": 1 }),
        ),
        (method::PAY, json!([id, 1, "m", "too many"])),
        (method::PAY, json!("a string")),
        (method::CLOSE, json!({ "channel_id": id, "force": "yes" })),
        (method::CHANNEL_INFO, json!({})),
        (method::LIST_CHANNELS, json!({ "peer": "0xnobody" })),
        (method::NODE_INFO, json!({ "verbose": true })),
        (
            method::OPEN_CHANNEL,
            json!({ "peer": "0xnot-an-address", "deposit": 1 }),
        ),
        (method::OPEN_CHANNEL, json!({ "deposit": 1 })),
        (
            method::OPEN_CHANNEL,
            json!({ "peer": net.b.address(), "peer_url": "x@y:1", "deposit": 1 }),
        ),
        (
            method::SET_AUTO_REFILL,
            json!({ "channel_id": id, "threshold": -1, "amount": 5 }),
        ),
        (method::SEND_MESSAGE, json!({ "channel_id": id })),
        (method::aa::SEND_MESSAGE_AND_PAY, json!([id, "m", "-1"])),
        (method::aa::SEND_MESSAGE_AND_PAY, json!([id, "m", 0])),
        (
            method::aa::SEND_MESSAGE_AND_PAY,
            json!({ "aa_address": id }),
        ),
        (
            method::aa::CREATE_NEW_CHANNEL,
            json!([net.b.address(), 1, { "asset": "gold" }]),
        ),
        (
            method::aa::CREATE_NEW_CHANNEL,
            json!([net.b.address(), 1, { "timeout": 5 }]),
        ),
        (
            method::aa::CREATE_NEW_CHANNEL,
            json!([net.b.address(), 1, { "unknown_option": 5 }]),
        ),
        (method::aa::GET_BALANCES_AND_STATUS, json!([id, "extra"])),
        (method::aa::GET_CHANNELS_FOR_PEER, json!(["nobody"])),
    ] {
        let (code, _) = refused(net, client, m, params.clone()).await;
        assert_eq!(code, INVALID_PARAMS, "{m} {params}");
    }

    // Well-formed but unknown channels.
    for (m, params) in [
        (method::PAY, json!({ "channel_id": unknown, "amount": 1 })),
        (
            method::SEND_MESSAGE,
            json!({ "channel_id": unknown, "message": 1 }),
        ),
        (
            method::DEPOSIT,
            json!({ "channel_id": unknown, "amount": 1 }),
        ),
        (
            method::WITHDRAW,
            json!({ "channel_id": unknown, "amount": 1 }),
        ),
        (method::CLOSE, json!({ "channel_id": unknown })),
        (
            method::CLOSE,
            json!({ "channel_id": unknown, "force": true }),
        ),
        (method::CHANNEL_INFO, json!({ "channel_id": unknown })),
        (
            method::SET_AUTO_REFILL,
            json!({ "channel_id": unknown, "threshold": 1, "amount": 1 }),
        ),
        (method::aa::GET_BALANCES_AND_STATUS, json!([unknown])),
        (method::aa::SEND_MESSAGE_AND_PAY, json!([unknown, "m", 1])),
    ] {
        assert_eq!(refused(net, client, m, params).await, (-34001, 1001), "{m}");
    }

    // Huge but representable amounts: more than the channel or the ledger holds.
    let huge = (u128::MAX - 1).to_string();
    assert_eq!(
        refused(
            net,
            client,
            method::PAY,
            json!({ "channel_id": id, "amount": huge })
        )
        .await
        .1,
        1002
    );
    assert_eq!(
        refused(
            net,
            client,
            method::WITHDRAW,
            json!({ "channel_id": id, "amount": huge })
        )
        .await
        .1,
        1002
    );
    assert_eq!(
        refused(
            net,
            client,
            method::DEPOSIT,
            json!({ "channel_id": id, "amount": huge })
        )
        .await
        .1,
        1903
    );
    assert_eq!(
        refused(
            net,
            client,
            method::OPEN_CHANNEL,
            json!({ "peer": net.b.address(), "deposit": huge })
        )
        .await
        .1,
        1903
    );

    // Unknown methods are the standard error.
    match client
        .request::<Value, _>("no_such_method", paychan_rpc::client::no_params())
        .await
    {
        Err(jsonrpsee::core::ClientError::Call(e)) => assert_eq!(e.code(), -32601),
        other => panic!("{other:?}"),
    }

    // The channel still works.
    let paid = ok(
        client,
        method::PAY,
        json!({ "channel_id": id, "amount": "2" }),
    )
    .await;
    assert_eq!(paid["response"]["paid"], "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_params_over_http_change_nothing() {
    let net = Net::new(true).await;
    bad_params(&net, &net.http_a()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_params_over_websocket_change_nothing() {
    let net = Net::new(true).await;
    bad_params(&net, &net.ws_a().await).await;
}
