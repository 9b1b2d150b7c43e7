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
    let out = paychan(&["demo"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("every balance matches the payments: ok"));
    assert!(stdout.contains("closed cooperatively"));
    assert!(stdout.contains("watcher submits"));
}

#[test]
fn demo_json_reports_every_party_ok_and_conserves_money() {
    let out = paychan(&["demo", "--json", "--payments", "25", "--seed", "7"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
    assert_eq!(v["ok"], true);
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
    let out = paychan(&["demo", "--payments", "0"]);
    assert!(!out.status.success());
    let out = paychan(&["demo", "--payments", "-3"]);
    assert!(!out.status.success());
    let out = paychan(&["demo", "--seed", "not-a-number"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value"));
}
