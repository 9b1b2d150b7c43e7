//! Runs the `paychan` binary's demo as a user would and checks what it reports.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::process::Command;

fn paychan(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_paychan"))
        .args(args)
        .output()
        .expect("runs")
}

#[test]
fn demo_succeeds_and_balances_match_payments() {
    let out = paychan(&["demo", "--requests", "40", "--stream", "10"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("every balance matches the answered payments: ok"));
    assert!(stdout.contains("40 paid requests answered"));
    assert!(stdout.contains("closed cooperatively"));
    assert!(stdout.contains("watcher submitted"));
    assert!(stdout.contains("the watcher settled"));
}

#[test]
fn demo_json_reports_every_party_ok_and_conserves_money() {
    let out = paychan(&[
        "demo",
        "--json",
        "--requests",
        "30",
        "--stream",
        "5",
        "--seed",
        "7",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
    assert_eq!(v["ok"], true);
    assert!(v["pay_per_call_per_second"].as_f64().unwrap() > 0.0);
    let parties = v["parties"].as_array().unwrap();
    assert_eq!(parties.len(), 2);
    let mut net: i128 = 0;
    for p in parties {
        assert_eq!(p["ok"], true);
        assert_eq!(p["expected_balance"], p["ledger_balance"]);
        let paid: i128 = p["paid"].as_str().unwrap().parse().unwrap();
        let received: i128 = p["received"].as_str().unwrap().parse().unwrap();
        net += received - paid;
    }
    assert_eq!(net, 0, "what one party received the other paid");
}

#[test]
fn demo_refuses_bad_options() {
    for args in [
        &["demo", "--requests", "0"][..],
        &["demo", "--requests", "-3"],
        &["demo", "--stream", "x"],
        &["demo", "--seed", "not-a-number"],
    ] {
        let out = paychan(args);
        assert!(!out.status.success(), "{args:?} should fail");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("invalid value") || stderr.contains("unexpected argument"),
            "{args:?}: {stderr}"
        );
    }
}
