//! The ledger conformance suite against the served ledger: an in-memory embedded ledger with
//! a manual clock behind the JSON-RPC server on loopback, every account an [`RpcLedger`]
//! client, funding through `ledger_faucet` and time through `ledger_advanceTime`. Run once
//! with the native asset and once with a named token.

use async_trait::async_trait;
use paychan_core::{Address, Amount, SigningKey};
use paychan_ledger::{
    Clock, EmbeddedLedger,
    embedded::token,
    rpc::{RpcLedger, RpcReader, RpcServer, ServeOptions, serve},
    testkit::Harness,
};

/// Where the served ledger's manual clock starts.
const START: u64 = 1_700_000_000;

/// A served ledger and a reader for its development methods. Dropping it stops the server.
pub struct ServedHarness {
    server: RpcServer,
    reader: RpcReader,
    asset: Address,
}

impl ServedHarness {
    /// A new empty ledger served on `127.0.0.1:0`; the suite uses the native asset.
    pub async fn start() -> Self {
        Self::start_with(Address::ZERO).await
    }

    /// The same, with the embedded token called `name`.
    pub async fn with_token(name: &str) -> Self {
        Self::start_with(token(name)).await
    }

    async fn start_with(asset: Address) -> Self {
        let ledger = EmbeddedLedger::in_memory(Clock::manual(START));
        let options = ServeOptions {
            faucet: true,
            manual_clock: true,
        };
        let server = serve(ledger, "127.0.0.1:0".parse().unwrap(), options)
            .await
            .expect("serve the ledger on loopback");
        let reader = RpcReader::connect(&server.url())
            .await
            .expect("connect to the served ledger");
        ServedHarness {
            server,
            reader,
            asset,
        }
    }
}

#[async_trait]
impl Harness for ServedHarness {
    type Account = RpcLedger;

    async fn account(&self, key: SigningKey) -> RpcLedger {
        RpcLedger::connect(&self.server.url(), key)
            .await
            .expect("connect an account to the served ledger")
    }

    async fn fund(&self, owner: Address, amount: Amount) {
        if let Err(e) = self.reader.faucet(owner, self.asset, amount).await {
            panic!("faucet of {amount} to {owner} failed: {e}");
        }
    }

    fn asset(&self) -> Address {
        self.asset
    }

    async fn advance(&self, secs: u64) {
        if let Err(e) = self.reader.advance_time(secs).await {
            panic!("advancing the served ledger's clock by {secs} s failed: {e}");
        }
    }
}

mod native {
    paychan_ledger::conformance_suite!(async { super::ServedHarness::start().await });
}

mod token_asset {
    paychan_ledger::conformance_suite!(async { super::ServedHarness::with_token("USDC").await });
}
