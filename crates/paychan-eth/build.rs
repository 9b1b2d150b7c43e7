//! `PAYCHAN_SKIP_ANVIL=1` compiles the tests that need anvil out (with a printed notice), for
//! machines without it; CI never sets it, so there they fail loudly if anvil is missing.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(paychan_skip_anvil)");
    println!("cargo::rerun-if-env-changed=PAYCHAN_SKIP_ANVIL");
    if std::env::var("PAYCHAN_SKIP_ANVIL").is_ok_and(|v| v == "1") {
        println!("cargo::rustc-cfg=paychan_skip_anvil");
        println!(
            "cargo::warning=PAYCHAN_SKIP_ANVIL=1: the paychan-eth tests against anvil are compiled out"
        );
    }
}
