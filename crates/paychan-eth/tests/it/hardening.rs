//! Where the contract meets unusual recipients and tokens (issue 20): the deployment's minimum
//! challenge period, a token that moves funds and returns `false`, a recipient that answers a
//! payout with a return-data bomb, a contract wallet that refuses ETH and claims its deferred
//! payout to another address (both events indexed as ledger events), and an `open` that a
//! third party front-ran.

use alloy::{primitives::U256 as AU256, sol_types::SolCall};
use paychan_core::{
    Address, B256, ChannelId, ChannelParams, Pair, Role, Settlement,
    adjudicator::{ChannelStatus, LedgerEvent, Rule},
    channel::CoSigned,
    eip712::Eip712,
};
use paychan_eth::{
    CHALLENGE_PERIOD_FLOOR, EthAccount,
    bindings::{FalseReturningERC20, PaychanAdjudicator, TestRecipient},
    deploy::{adjudicator_code, deploy_code},
    testkit::{EthHarness, test_key},
};
use paychan_ledger::{
    LedgerClose, LedgerError, LedgerEvents, LedgerFunding, LedgerQuery, testkit::Harness,
};

fn params(a: Address, b: Address, token: Address, period: u64, nonce: u8) -> ChannelParams {
    ChannelParams {
        party_a: a,
        party_b: b,
        token,
        challenge_period: period,
        nonce: B256::repeat_byte(nonce),
    }
}

/// Checks that `r` is a refusal under exactly `rule`.
fn refused(what: &str, rule: Rule, r: Result<paychan_ledger::Receipt, LedgerError>) {
    match r {
        Err(LedgerError::Rejected(got)) => assert_eq!(got, rule, "{what}"),
        other => panic!("{what}: expected a refusal under {rule:?}, got {other:?}"),
    }
}

fn adjudicator(
    h: &EthHarness,
) -> PaychanAdjudicator::PaychanAdjudicatorInstance<alloy::providers::DynProvider> {
    PaychanAdjudicator::new(h.deployment().address, h.ledger().provider().clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn challenge_periods_below_the_deployment_minimum_are_refused() {
    let h = EthHarness::with_token().await;
    let (ka, kb) = (test_key("min-period/alice"), test_key("min-period/bob"));
    let a = h.account(ka.clone()).await;
    h.fund(ka.address(), 1_000).await;
    let c = adjudicator(&h);
    assert_eq!(
        c.CHALLENGE_PERIOD_FLOOR().call().await.unwrap(),
        CHALLENGE_PERIOD_FLOOR
    );
    assert_eq!(
        c.minChallengePeriod().call().await.unwrap(),
        CHALLENGE_PERIOD_FLOOR
    );

    // The payer's trick of issue 20: a 60 s challenge period, shorter than a watcher under 12
    // confirmations needs to see a close. Refused, as is anything below the minimum.
    for period in [60, 144, CHALLENGE_PERIOD_FLOOR - 1] {
        refused(
            &format!("open with a {period} s challenge period"),
            Rule::ChallengePeriodTooShort,
            a.open(
                &params(ka.address(), kb.address(), h.asset(), period, 1),
                100,
            )
            .await,
        );
    }
    assert_eq!(
        a.balance(ka.address(), h.asset()).await.unwrap(),
        1_000,
        "nothing moved"
    );
    a.open(
        &params(
            ka.address(),
            kb.address(),
            h.asset(),
            CHALLENGE_PERIOD_FLOOR,
            1,
        ),
        100,
    )
    .await
    .unwrap();

    // A deployment chooses its minimum, never below the floor.
    let deployer = h.devnet().deployer();
    let below = deploy_code(
        h.url(),
        deployer,
        adjudicator_code(CHALLENGE_PERIOD_FLOOR - 1),
    )
    .await;
    assert!(below.is_err(), "a deployment below the floor: {below:?}");
    assert!(
        paychan_eth::deploy_adjudicator(h.url(), deployer, 60)
            .await
            .is_err(),
        "deploy_adjudicator refuses a minimum below the floor"
    );
    let stricter = deploy_code(h.url(), deployer, adjudicator_code(7_200))
        .await
        .unwrap()
        .address;
    let view = PaychanAdjudicator::new(stricter, h.ledger().provider().clone());
    assert_eq!(view.minChallengePeriod().call().await.unwrap(), 7_200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_returns_false_after_moving_is_paid_once() {
    let h = EthHarness::with_token().await;
    let (ka, kb) = (test_key("false-token/alice"), test_key("false-token/bob"));
    let (a, b) = (h.account(ka.clone()).await, h.account(kb.clone()).await);
    let domain = a.domain().await.unwrap();
    let token = h.deploy(FalseReturningERC20::BYTECODE.clone()).await;
    h.call_as_deployer(
        token,
        FalseReturningERC20::mintCall {
            to: ka.address(),
            amount: AU256::from(1_000),
        },
    )
    .await;
    let contract = h.deployment().address;
    // Two channels of the same token: the second one's deposits are in the same pool.
    let p1 = params(ka.address(), kb.address(), token, CHALLENGE_PERIOD_FLOOR, 1);
    let p2 = params(ka.address(), kb.address(), token, CHALLENGE_PERIOD_FLOOR, 2);
    a.open(&p1, 400).await.unwrap();
    a.open(&p2, 500).await.unwrap();
    // Settle the first: A paid B 150; the token moves both payouts and says it did not.
    let body = Settlement {
        channel_id: p1.id(&domain),
        paid_by_a: 150,
        paid_by_b: 0,
    };
    let settlement = CoSigned {
        body,
        sig_a: body.sign(&domain, &ka),
        sig_b: body.sign(&domain, &kb),
    };
    let receipt = b.close_cooperative(&settlement).await.unwrap();
    assert!(
        !receipt
            .events
            .iter()
            .any(|r| matches!(r.event, LedgerEvent::PayoutDeferred { .. })),
        "a payout that moved is not deferred: {:?}",
        receipt.events
    );
    assert_eq!(
        a.balance(kb.address(), token).await.unwrap(),
        150,
        "B paid once"
    );
    assert_eq!(a.balance(ka.address(), token).await.unwrap(), 100 + 250);
    assert_eq!(
        a.unclaimed(kb.address(), token).await.unwrap(),
        0,
        "nothing more owed to B"
    );
    assert_eq!(a.unclaimed(ka.address(), token).await.unwrap(), 0);
    assert_eq!(
        a.balance(contract, token).await.unwrap(),
        500,
        "the pool holds exactly the second channel's deposit"
    );
    refused(
        "B claims the payout again",
        Rule::NothingToClaim,
        b.claim(token, kb.address()).await,
    );
}

/// Opens a native channel from `a` (an EOA) to the contract party `b`, deposits for both,
/// closes it without a voucher and settles it once the challenge period has passed.
async fn close_and_settle(
    h: &EthHarness,
    a: &EthAccount,
    b: Address,
    nonce: u8,
) -> (ChannelId, u64) {
    let p = params(
        LedgerFunding::account(a),
        b,
        Address::ZERO,
        CHALLENGE_PERIOD_FLOOR,
        nonce,
    );
    let id = p.id(&a.domain().await.unwrap());
    a.open(&p, 500).await.unwrap();
    a.deposit(id, Role::B, 300).await.unwrap();
    a.start_close(id, None).await.unwrap();
    h.advance(CHALLENGE_PERIOD_FLOOR).await;
    let mined = h
        .deployer()
        .transact(
            h.deployment().address,
            PaychanAdjudicator::settleCall { id: id.0 }.abi_encode(),
            paychan_core::U256::ZERO,
        )
        .await
        .unwrap();
    (id, mined.receipt.gas_used)
}

/// Deploys a [`TestRecipient`] and sets its mode, from `by`'s account.
async fn recipient(h: &EthHarness, by: &EthAccount, mode: u8, bomb: u64) -> Address {
    let at = h.deploy(TestRecipient::BYTECODE.clone()).await;
    let set = TestRecipient::setModeCall {
        mode_: mode,
        bombSize_: AU256::from(bomb),
    };
    by.transact(at, set.abi_encode(), paychan_core::U256::ZERO)
        .await
        .unwrap();
    at
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_data_bomb_costs_the_settler_no_more_than_the_payout_gas() {
    let h = EthHarness::native().await;
    let ka = test_key("bomb/alice");
    let a = h.account(ka.clone()).await;
    h.fund(ka.address(), 10_000).await;
    let plain = recipient(&h, &a, 0, 0).await;
    // About 190 kB: near the most a recipient can return within the 100,000 gas a payout
    // forwards.
    let bomb = recipient(&h, &a, 2, 190_000).await;
    let (_, plain_gas) = close_and_settle(&h, &a, plain, 1).await;
    let (id, bomb_gas) = close_and_settle(&h, &a, bomb, 2).await;
    assert_eq!(
        a.channel(id).await.unwrap().unwrap().status,
        ChannelStatus::Settled {
            payouts: Pair::new(500, 300)
        }
    );
    assert_eq!(
        a.balance(bomb, Address::ZERO).await.unwrap(),
        300,
        "the bomb was paid"
    );
    // The recipient may burn the 100,000 gas the payout forwards; copying its return data
    // would cost the settler as much again.
    assert!(
        bomb_gas < plain_gas + 100_000,
        "settle paying a return-data bomb used {bomb_gas} gas, paying a plain recipient {plain_gas}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contract_wallet_that_refuses_eth_claims_to_another_address() {
    let h = EthHarness::native().await;
    let ka = test_key("claim-to/alice");
    let carol = test_key("claim-to/carol").address();
    let a = h.account(ka.clone()).await;
    h.fund(ka.address(), 10_000).await;
    let wallet = recipient(&h, &a, 1, 0).await;
    let start = a.index_len().await;
    let (id, _) = close_and_settle(&h, &a, wallet, 1).await;
    assert_eq!(a.balance(wallet, Address::ZERO).await.unwrap(), 0);
    assert_eq!(a.unclaimed(wallet, Address::ZERO).await.unwrap(), 300);

    let contract = h.deployment().address;
    let claim_to = |to| TestRecipient::claimToCall {
        adjudicator: contract,
        token: Address::ZERO,
        to,
    };
    // To itself: it refuses the ETH, the claim reverts and stays.
    let to_itself = h
        .deployer()
        .transact(
            wallet,
            claim_to(wallet).abi_encode(),
            paychan_core::U256::ZERO,
        )
        .await;
    assert!(to_itself.is_err(), "{to_itself:?}");
    assert_eq!(a.unclaimed(wallet, Address::ZERO).await.unwrap(), 300);
    // To carol: paid, once.
    h.call_as_deployer(wallet, claim_to(carol)).await;
    assert_eq!(a.balance(carol, Address::ZERO).await.unwrap(), 300);
    assert_eq!(a.unclaimed(wallet, Address::ZERO).await.unwrap(), 0);
    assert!(
        h.deployer()
            .transact(
                wallet,
                claim_to(carol).abi_encode(),
                paychan_core::U256::ZERO
            )
            .await
            .is_err(),
        "a second claim"
    );

    // Both are ledger events, the deferral with its channel.
    let events = a.events_since(start).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(
                e,
                LedgerEvent::PayoutDeferred { .. } | LedgerEvent::Claimed { .. }
            ))
            .copied()
            .collect::<Vec<_>>(),
        vec![
            LedgerEvent::PayoutDeferred {
                channel_id: id,
                asset: Address::ZERO,
                to: wallet,
                amount: 300,
            },
            LedgerEvent::Claimed {
                asset: Address::ZERO,
                owner: wallet,
                to: carol,
                amount: 300,
            },
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_front_run_by_a_third_party_becomes_a_deposit() {
    let h = EthHarness::with_token().await;
    let (ka, kb) = (test_key("front-run/alice"), test_key("front-run/bob"));
    let a = h.account(ka.clone()).await;
    h.fund(ka.address(), 2_000).await;
    let domain = a.domain().await.unwrap();
    let p = params(
        ka.address(),
        kb.address(),
        h.asset(),
        CHALLENGE_PERIOD_FLOOR,
        1,
    );
    let id = p.id(&domain);
    // Someone saw A's open in the mempool and opened the same parameters with nothing.
    h.call_as_deployer(
        h.deployment().address,
        PaychanAdjudicator::openCall {
            c: PaychanAdjudicator::Channel {
                partyA: p.party_a,
                partyB: p.party_b,
                token: p.token,
                challengePeriod: p.challenge_period,
                nonce: p.nonce,
            },
            amount: AU256::ZERO,
        },
    )
    .await;
    let receipt = a.open(&p, 600).await.unwrap();
    let events: Vec<_> = receipt.events.iter().map(|r| r.event).collect();
    assert_eq!(
        events,
        vec![
            LedgerEvent::Opened {
                channel_id: id,
                params: p,
                deposit: 0
            },
            LedgerEvent::Deposited {
                channel_id: id,
                party: Role::A,
                amount: 600,
                total: 600
            },
        ]
    );
    let record = a.channel(id).await.unwrap().unwrap();
    assert_eq!(record.deposited, Pair::new(600, 0));
    assert_eq!(a.balance(ka.address(), h.asset()).await.unwrap(), 1_400);
    // A retried open never pays twice.
    refused("the open again", Rule::ChannelExists, a.open(&p, 600).await);
    assert_eq!(a.balance(ka.address(), h.asset()).await.unwrap(), 1_400);
    // A's own open, replayed, stays refused.
    let q = params(
        ka.address(),
        kb.address(),
        h.asset(),
        CHALLENGE_PERIOD_FLOOR,
        2,
    );
    a.open(&q, 100).await.unwrap();
    refused(
        "A's own open again",
        Rule::ChannelExists,
        a.open(&q, 100).await,
    );
    assert_eq!(a.balance(ka.address(), h.asset()).await.unwrap(), 1_300);
}

/// Helpers over the ledger's event stream.
trait Events {
    async fn index_len(&self) -> u64;
    async fn events_since(&self, from: u64) -> Vec<LedgerEvent>;
}

impl Events for EthAccount {
    async fn index_len(&self) -> u64 {
        let index = self.ledger().index().clone();
        index.sync().await.unwrap();
        index.len().await
    }

    async fn events_since(&self, from: u64) -> Vec<LedgerEvent> {
        use futures::StreamExt;
        let end = self.index_len().await;
        let stream = self.events(from).await.unwrap();
        stream
            .take(usize::try_from(end - from).unwrap())
            .map(|r| r.unwrap().event)
            .collect()
            .await
    }
}
