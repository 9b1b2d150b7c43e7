//! Attacks specific to the contract: a token that re-enters, a token that takes a fee on
//! transfer, a token that blocks a recipient (its settlement payout is deferred and later
//! claimed with `claim`, exactly once), signatures with a high `s`, objects signed for another
//! deployment, and the exact time boundaries of deadlines and expiries.

use alloy::{
    primitives::{Bytes, U256 as AU256},
    providers::Provider,
    rpc::types::{Filter, TransactionRequest},
    sol_types::{SolCall, SolError, SolEventInterface},
};
use paychan_core::{
    Address, Amount, B256, ChannelParams, Domain, Pair, Role, Settlement, Signature, SignedVoucher,
    SigningKey, U256, Voucher, Withdrawal,
    adjudicator::{ChannelStatus, Rule},
    channel::CoSigned,
    eip712::Eip712,
};
use paychan_eth::{
    EthAccount,
    bindings::{BlockingERC20, FeeOnTransferERC20, MockERC20, PaychanAdjudicator, ReentrantERC20},
    testkit::{EthHarness, test_key},
};
use paychan_ledger::{
    LedgerClose, LedgerError, LedgerFunding, LedgerQuery, LedgerWithdraw, testkit::Harness,
};

/// The secp256k1 group order.
const N: U256 = U256::from_be_bytes([
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
]);

struct Setup {
    h: EthHarness,
    a: (SigningKey, EthAccount),
    b: (SigningKey, EthAccount),
    domain: Domain,
}

async fn setup(case: &str) -> Setup {
    let h = EthHarness::with_token().await;
    let ka = test_key(&format!("{case}/alice"));
    let kb = test_key(&format!("{case}/bob"));
    let a = h.account(ka.clone()).await;
    let b = h.account(kb.clone()).await;
    let domain = a.domain().await.unwrap();
    Setup {
        h,
        a: (ka, a),
        b: (kb, b),
        domain,
    }
}

fn params(a: &SigningKey, b: &SigningKey, token: Address, nonce: u8) -> ChannelParams {
    ChannelParams {
        party_a: a.address(),
        party_b: b.address(),
        token,
        challenge_period: 3_600,
        nonce: B256::repeat_byte(nonce),
    }
}

fn cosign<T: Eip712 + Copy>(d: &Domain, body: T, a: &SigningKey, b: &SigningKey) -> CoSigned<T> {
    CoSigned {
        body,
        sig_a: body.sign(d, a),
        sig_b: body.sign(d, b),
    }
}

fn voucher(
    d: &Domain,
    key: &SigningKey,
    id: paychan_core::ChannelId,
    cumulative: Amount,
) -> SignedVoucher {
    let voucher = Voucher {
        channel_id: id,
        payer: key.address(),
        cumulative,
        sequence: 1,
        memo: B256::ZERO,
    };
    SignedVoucher {
        signature: voucher.sign(d, key),
        voucher,
    }
}

/// Checks that `r` is a refusal by the rules under exactly `rule`.
fn rejected(what: &str, rule: Rule, r: Result<paychan_ledger::Receipt, LedgerError>) {
    match r {
        Err(LedgerError::Rejected(got)) => assert_eq!(got, rule, "{what}"),
        other => panic!("{what}: expected a refusal under {rule:?}, got {other:?}"),
    }
}

/// The same signature with `s` replaced by `n - s` and `v` flipped: what `ecrecover` accepts
/// as the same signer.
fn high_s(sig: &Signature) -> Signature {
    let mut bytes = *sig.as_bytes();
    let s = U256::from_be_slice(&bytes[32..64]);
    bytes[32..64].copy_from_slice(&(N - s).to_be_bytes::<32>());
    bytes[64] = if bytes[64] == 27 { 28 } else { 27 };
    Signature(bytes.into())
}

/// What the raw `ecrecover` precompile says `sig` over `hash` recovers to.
async fn ecrecover(h: &EthHarness, hash: B256, sig: &Signature) -> Address {
    let b = sig.as_bytes();
    let mut input = Vec::with_capacity(128);
    input.extend_from_slice(hash.as_slice());
    input.extend_from_slice(&U256::from(b[64]).to_be_bytes::<32>());
    input.extend_from_slice(&b[..64]);
    let tx = TransactionRequest::default()
        .to(Address::with_last_byte(1))
        .input(Bytes::from(input).into());
    let out = h.ledger().provider().call(tx).await.unwrap();
    Address::from_slice(&out[12..32])
}

async fn token_balance(h: &EthHarness, token: Address, owner: Address) -> AU256 {
    MockERC20::new(token, h.ledger().provider().clone())
        .balanceOf(owner)
        .call()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reentrant_token_cannot_withdraw_or_settle_twice() {
    let s = setup("reentrant").await;
    let (ka, a) = &s.a;
    let (kb, b) = &s.b;
    let token = s.h.deploy(ReentrantERC20::BYTECODE.clone()).await;
    let adjudicator = s.h.deployment().address;
    let re = ReentrantERC20::new(token, s.h.ledger().provider().clone());
    s.h.call_as_deployer(
        token,
        ReentrantERC20::mintCall {
            to: ka.address(),
            amount: AU256::from(1_000),
        },
    )
    .await;
    let p = params(ka, kb, token, 1);
    let id = p.id(&s.domain);
    a.open(&p, 600).await.unwrap();

    // A withdrawal whose payout re-enters `withdraw` with the same certificate.
    let now = a.now().await.unwrap();
    let cert = cosign(
        &s.domain,
        Withdrawal {
            channel_id: id,
            party: ka.address(),
            total_withdrawn: 100,
            paid_by_a: 0,
            paid_by_b: 0,
            expiry: now + 86_400,
        },
        ka,
        kb,
    );
    let again = PaychanAdjudicator::withdrawCall {
        w: PaychanAdjudicator::Withdrawal {
            channelId: id.0,
            party: ka.address(),
            totalWithdrawn: AU256::from(100),
            paidByA: AU256::ZERO,
            paidByB: AU256::ZERO,
            expiry: now + 86_400,
        },
        sigA: Bytes::copy_from_slice(cert.sig_a.as_bytes()),
        sigB: Bytes::copy_from_slice(cert.sig_b.as_bytes()),
    };
    s.h.call_as_deployer(
        token,
        ReentrantERC20::armCall {
            target_: adjudicator,
            payload_: again.abi_encode().into(),
        },
    )
    .await;
    b.withdraw(&cert).await.unwrap();
    assert_eq!(
        re.attempts().call().await.unwrap(),
        AU256::from(1),
        "the token re-entered"
    );
    assert_eq!(
        re.successes().call().await.unwrap(),
        AU256::ZERO,
        "the re-entry must fail"
    );
    let revert = re.lastRevert().call().await.unwrap();
    assert_eq!(
        revert.as_ref(),
        PaychanAdjudicator::ReentrancyGuardReentrantCall {}
            .abi_encode()
            .as_slice(),
        "refused by the reentrancy guard"
    );
    assert_eq!(
        token_balance(&s.h, token, ka.address()).await,
        AU256::from(500),
        "A got 100 once"
    );
    assert_eq!(
        token_balance(&s.h, token, adjudicator).await,
        AU256::from(500)
    );

    // A cooperative close whose payouts re-enter `closeCooperative` with the same settlement.
    let st = cosign(
        &s.domain,
        Settlement {
            channel_id: id,
            paid_by_a: 50,
            paid_by_b: 0,
        },
        ka,
        kb,
    );
    let again = PaychanAdjudicator::closeCooperativeCall {
        s: PaychanAdjudicator::Settlement {
            channelId: id.0,
            paidByA: AU256::from(50),
            paidByB: AU256::ZERO,
        },
        sigA: Bytes::copy_from_slice(st.sig_a.as_bytes()),
        sigB: Bytes::copy_from_slice(st.sig_b.as_bytes()),
    };
    s.h.call_as_deployer(
        token,
        ReentrantERC20::armCall {
            target_: adjudicator,
            payload_: again.abi_encode().into(),
        },
    )
    .await;
    a.close_cooperative(&st).await.unwrap();
    assert_eq!(
        re.attempts().call().await.unwrap(),
        AU256::from(3),
        "one re-entry per payout"
    );
    assert_eq!(re.successes().call().await.unwrap(), AU256::ZERO);
    // total 500: A = 600 - 100 - 50 = 450, B = 50; nothing left in the contract.
    assert_eq!(
        token_balance(&s.h, token, ka.address()).await,
        AU256::from(950)
    );
    assert_eq!(
        token_balance(&s.h, token, kb.address()).await,
        AU256::from(50)
    );
    assert_eq!(token_balance(&s.h, token, adjudicator).await, AU256::ZERO);
    let rec = a.channel(id).await.unwrap().unwrap();
    assert_eq!(
        rec.status,
        ChannelStatus::Settled {
            payouts: Pair::new(450, 50)
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fee_on_transfer_token_is_refused() {
    let s = setup("fee").await;
    let (ka, a) = &s.a;
    let (kb, _) = &s.b;
    let token = s.h.deploy(FeeOnTransferERC20::BYTECODE.clone()).await;
    s.h.call_as_deployer(
        token,
        FeeOnTransferERC20::mintCall {
            to: ka.address(),
            amount: AU256::from(1_000),
        },
    )
    .await;
    let p = params(ka, kb, token, 1);
    let events_before = s.h.ledger().index().len().await;
    rejected(
        "open with a fee-on-transfer token",
        Rule::UnsupportedToken,
        a.open(&p, 500).await,
    );
    assert_eq!(
        token_balance(&s.h, token, ka.address()).await,
        AU256::from(1_000),
        "A keeps everything"
    );
    assert_eq!(
        token_balance(&s.h, token, s.h.deployment().address).await,
        AU256::ZERO
    );
    assert_eq!(
        a.channel(p.id(&s.domain)).await.unwrap(),
        None,
        "no channel"
    );
    s.h.ledger().index().sync().await.unwrap();
    assert_eq!(s.h.ledger().index().len().await, events_before, "no event");
    // Opening with nothing moves nothing and is allowed; a deposit is refused like the open.
    a.open(&p, 0).await.unwrap();
    rejected(
        "deposit of a fee-on-transfer token",
        Rule::UnsupportedToken,
        a.deposit(p.id(&s.domain), Role::A, 100).await,
    );
    assert_eq!(
        token_balance(&s.h, token, ka.address()).await,
        AU256::from(1_000)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn high_s_signatures_are_refused() {
    let s = setup("high-s").await;
    let (ka, a) = &s.a;
    let (kb, b) = &s.b;
    let token = s.h.asset();
    s.h.fund(ka.address(), 1_000).await;
    let p = params(ka, kb, token, 1);
    let id = p.id(&s.domain);
    a.open(&p, 500).await.unwrap();

    let v = voucher(&s.domain, ka, id, 40);
    let malleated = SignedVoucher {
        signature: high_s(&v.signature),
        ..v
    };
    // The malleated form is a valid signature for plain ecrecover, so only the low-s rule
    // refuses it.
    let hash = v.voucher.signing_hash(&s.domain);
    assert_eq!(
        ecrecover(&s.h, hash, &malleated.signature).await,
        ka.address()
    );
    assert_eq!(ecrecover(&s.h, hash, &v.signature).await, ka.address());

    let now = a.now().await.unwrap();
    let w = Withdrawal {
        channel_id: id,
        party: ka.address(),
        total_withdrawn: 10,
        paid_by_a: 0,
        paid_by_b: 0,
        expiry: now + 86_400,
    };
    let good = cosign(&s.domain, w, ka, kb);
    for bad in [
        CoSigned {
            sig_a: high_s(&good.sig_a),
            ..good
        },
        CoSigned {
            sig_b: high_s(&good.sig_b),
            ..good
        },
    ] {
        rejected(
            "withdrawal with a high-s signature",
            Rule::BadSignature,
            b.withdraw(&bad).await,
        );
    }
    rejected(
        "start close with a high-s voucher",
        Rule::BadSignature,
        b.start_close(id, Some(&malleated)).await,
    );
    b.withdraw(&good).await.unwrap();
    b.start_close(id, None).await.unwrap();
    rejected(
        "submit a high-s voucher",
        Rule::BadSignature,
        b.submit_voucher(&malleated).await,
    );
    let st = cosign(
        &s.domain,
        Settlement {
            channel_id: id,
            paid_by_a: 40,
            paid_by_b: 0,
        },
        ka,
        kb,
    );
    rejected(
        "settlement with a high-s signature",
        Rule::BadSignature,
        a.close_cooperative(&CoSigned {
            sig_b: high_s(&st.sig_b),
            ..st
        })
        .await,
    );
    b.submit_voucher(&v).await.unwrap();
    a.close_cooperative(&st).await.unwrap();
    let rec = a.channel(id).await.unwrap().unwrap();
    assert_eq!(
        rec.status,
        ChannelStatus::Settled {
            payouts: Pair::new(450, 40)
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_signed_for_another_deployment_are_refused() {
    let s = setup("other-deployment").await;
    let (ka, a) = &s.a;
    let (kb, b) = &s.b;
    let token = s.h.asset();
    s.h.fund(ka.address(), 1_000).await;
    // A second adjudicator on the same chain: the same parameters give another channel id.
    let other =
        s.h.deploy(paychan_eth::deploy::adjudicator_code(
            paychan_eth::CHALLENGE_PERIOD_FLOOR,
        ))
        .await;
    let other_domain = Domain::new(s.domain.chain_id(), other);
    let p = params(ka, kb, token, 1);
    let id = p.id(&s.domain);
    assert_ne!(id, p.id(&other_domain));
    a.open(&p, 500).await.unwrap();
    b.start_close(id, None).await.unwrap();
    for (what, d) in [
        ("the other contract", other_domain),
        (
            "another chain",
            Domain::new(s.domain.chain_id() + 1, s.domain.verifying_contract()),
        ),
        ("mainnet, the other contract", Domain::new(1, other)),
    ] {
        rejected(
            &format!("a voucher signed for {what}"),
            Rule::BadSignature,
            b.submit_voucher(&voucher(&d, ka, id, 30)).await,
        );
        let st = cosign(
            &d,
            Settlement {
                channel_id: id,
                paid_by_a: 0,
                paid_by_b: 0,
            },
            ka,
            kb,
        );
        rejected(
            &format!("a settlement signed for {what}"),
            Rule::BadSignature,
            b.close_cooperative(&st).await,
        );
    }
    // The voucher of the other deployment's channel id, correctly signed for it, is not this
    // channel's.
    rejected(
        "a voucher for the other deployment's channel",
        Rule::UnknownChannel,
        b.submit_voucher(&voucher(&other_domain, ka, p.id(&other_domain), 30))
            .await,
    );
    b.submit_voucher(&voucher(&s.domain, ka, id, 30))
        .await
        .unwrap();
}

/// Sets the timestamp of the next block.
async fn next_block_at(h: &EthHarness, t: u64) {
    let _: serde_json::Value = h
        .ledger()
        .provider()
        .raw_request("evm_setNextBlockTimestamp".into(), (AU256::from(t),))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_and_expiries_hold_to_the_second() {
    let s = setup("boundaries").await;
    let (ka, a) = &s.a;
    let (kb, b) = &s.b;
    s.h.fund(ka.address(), 1_000).await;
    let p = params(ka, kb, s.h.asset(), 1);
    let id = p.id(&s.domain);
    a.open(&p, 500).await.unwrap();

    // A certificate is valid until the second before its expiry.
    let now = a.now().await.unwrap();
    let expiry = now + 100;
    let w = |total| {
        cosign(
            &s.domain,
            Withdrawal {
                channel_id: id,
                party: ka.address(),
                total_withdrawn: total,
                paid_by_a: 0,
                paid_by_b: 0,
                expiry,
            },
            ka,
            kb,
        )
    };
    next_block_at(&s.h, expiry - 1).await;
    b.withdraw(&w(10)).await.unwrap();
    next_block_at(&s.h, expiry).await;
    rejected(
        "a withdrawal in the block of its expiry",
        Rule::Expired,
        b.withdraw(&w(20)).await,
    );

    // Vouchers count until the second before the deadline; settle from the deadline on.
    let receipt = b.start_close(id, None).await.unwrap();
    let deadline = match receipt.events[0].event {
        paychan_core::adjudicator::LedgerEvent::CloseStarted { deadline, .. } => deadline,
        other => panic!("{other:?}"),
    };
    next_block_at(&s.h, deadline - 1).await;
    rejected(
        "settle a second before the deadline",
        Rule::DeadlineNotReached,
        a.settle(id).await,
    );
    b.submit_voucher(&voucher(&s.domain, ka, id, 30))
        .await
        .unwrap();
    next_block_at(&s.h, deadline).await;
    rejected(
        "a voucher at the deadline",
        Rule::DeadlinePassed,
        b.submit_voucher(&voucher(&s.domain, ka, id, 60)).await,
    );
    a.settle(id).await.unwrap();
    let rec = a.channel(id).await.unwrap().unwrap();
    // total 490: A = 500 - 10 - 30 = 460, B = 30.
    assert_eq!(
        rec.status,
        ChannelStatus::Settled {
            payouts: Pair::new(460, 30)
        }
    );
}

/// The deferred payouts (`PayoutDeferred`) and claims (`Claimed`) the adjudicator has logged
/// so far, as (event, token, recipient, amount).
async fn deferred_and_claimed(h: &EthHarness) -> Vec<(&'static str, Address, Address, AU256)> {
    use PaychanAdjudicator::PaychanAdjudicatorEvents as E;
    let filter = Filter::new()
        .address(h.deployment().address)
        .from_block(0u64);
    let logs = h.ledger().provider().get_logs(&filter).await.unwrap();
    logs.iter()
        .filter_map(|log| match E::decode_log(&log.inner).unwrap().data {
            E::PayoutDeferred(e) => Some(("PayoutDeferred", e.token, e.to, e.amount)),
            E::Claimed(e) => {
                assert_eq!(e.owner, e.to, "these claims are paid to their owner");
                Some(("Claimed", e.token, e.to, e.amount))
            }
            _ => None,
        })
        .collect()
}

/// The revert data of `call` to `to` sent by `from`, simulated on the latest block.
async fn revert_data<C: SolCall>(h: &EthHarness, from: Address, to: Address, call: C) -> Vec<u8> {
    let tx = TransactionRequest::default()
        .from(from)
        .to(to)
        .input(Bytes::from(call.abi_encode()).into());
    match h.ledger().provider().call(tx).await {
        Ok(out) => panic!("expected a revert, the call returned {out}"),
        Err(e) => e
            .as_error_resp()
            .and_then(|p| p.as_revert_data())
            .map(|data| data.to_vec())
            .unwrap_or_else(|| panic!("a revert without data: {e}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_payout_is_deferred_and_claimable() {
    let s = setup("blocked-payout").await;
    let (ka, a) = &s.a;
    let (kb, b) = &s.b;
    let token = s.h.deploy(BlockingERC20::BYTECODE.clone()).await;
    let adjudicator = s.h.deployment().address;
    let blk = BlockingERC20::new(token, s.h.ledger().provider().clone());
    for (to, amount) in [(ka.address(), 1_000), (kb.address(), 300)] {
        s.h.call_as_deployer(
            token,
            BlockingERC20::mintCall {
                to,
                amount: AU256::from(amount),
            },
        )
        .await;
    }
    const MINTED: u64 = 1_300;
    let balances = async || {
        (
            token_balance(&s.h, token, ka.address()).await,
            token_balance(&s.h, token, kb.address()).await,
            token_balance(&s.h, token, adjudicator).await,
        )
    };
    let unclaimed = async |who: Address| {
        PaychanAdjudicator::new(adjudicator, s.h.ledger().provider().clone())
            .unclaimed(token, who)
            .call()
            .await
            .unwrap()
    };
    let claim = PaychanAdjudicator::claimCall {
        token,
        to: kb.address(),
    };
    // A claim sent as a transaction by `who`.
    let claim_by = async |who: &EthAccount| {
        who.transact(adjudicator, claim.abi_encode(), U256::ZERO)
            .await
            .map(|_| paychan_ledger::Receipt { events: vec![] })
    };
    let nothing_to_claim = PaychanAdjudicator::NothingToClaim {}.abi_encode();

    // Deposits A 600, B 200: total 800.
    let p = params(ka, kb, token, 1);
    let id = p.id(&s.domain);
    a.open(&p, 600).await.unwrap();
    b.deposit(id, Role::B, 200).await.unwrap();
    assert_eq!(
        balances().await,
        (AU256::from(400), AU256::from(100), AU256::from(800))
    );
    assert_eq!(
        revert_data(&s.h, kb.address(), adjudicator, claim.clone()).await,
        nothing_to_claim.as_slice(),
        "B is owed nothing yet"
    );

    // B's address is blocked by the token when the channel settles: A = 600 - 250 = 350 is
    // paid, B = 200 + 250 = 450 is deferred.
    s.h.call_as_deployer(
        token,
        BlockingERC20::setBlockedCall {
            who: kb.address(),
            blocked_: true,
        },
    )
    .await;
    assert!(blk.blocked(kb.address()).call().await.unwrap());
    let st = cosign(
        &s.domain,
        Settlement {
            channel_id: id,
            paid_by_a: 250,
            paid_by_b: 0,
        },
        ka,
        kb,
    );
    a.close_cooperative(&st).await.unwrap();
    let rec = a.channel(id).await.unwrap().unwrap();
    assert_eq!(
        rec.status,
        ChannelStatus::Settled {
            payouts: Pair::new(350, 450)
        }
    );
    let (bal_a, bal_b, bal_c) = balances().await;
    assert_eq!(bal_a, AU256::from(400 + 350), "A got its payout");
    assert_eq!(bal_b, AU256::from(100), "B got nothing yet");
    assert_eq!(unclaimed(kb.address()).await, AU256::from(450));
    assert_eq!(unclaimed(ka.address()).await, AU256::ZERO);
    assert_eq!(
        bal_c,
        AU256::from(450),
        "the contract holds exactly what it owes"
    );
    assert_eq!(
        bal_a + bal_b + bal_c,
        AU256::from(MINTED),
        "no token created or lost"
    );
    assert_eq!(
        deferred_and_claimed(&s.h).await,
        vec![("PayoutDeferred", token, kb.address(), AU256::from(450))]
    );

    // Nothing owed: A, and B for another token.
    assert_eq!(
        revert_data(&s.h, ka.address(), adjudicator, claim.clone()).await,
        nothing_to_claim.as_slice()
    );
    assert_eq!(
        revert_data(
            &s.h,
            kb.address(),
            adjudicator,
            PaychanAdjudicator::claimCall {
                token: s.h.asset(),
                to: kb.address()
            }
        )
        .await,
        nothing_to_claim.as_slice()
    );
    rejected(
        "a claim by A, who is owed nothing",
        Rule::NothingToClaim,
        claim_by(a).await,
    );

    // B cannot claim while blocked: the token moved nothing, and the claim stays.
    assert_eq!(
        revert_data(&s.h, kb.address(), adjudicator, claim.clone()).await,
        PaychanAdjudicator::TokenTransferFailed {
            token,
            to: kb.address(),
            moved: AU256::ZERO,
            amount: AU256::from(450),
        }
        .abi_encode()
        .as_slice()
    );
    rejected(
        "a claim by B while blocked",
        Rule::TransferFailed,
        claim_by(b).await,
    );
    assert_eq!(unclaimed(kb.address()).await, AU256::from(450));
    assert_eq!(balances().await, (bal_a, bal_b, bal_c));

    // Unblocked, B claims exactly what it is owed, once.
    s.h.call_as_deployer(
        token,
        BlockingERC20::setBlockedCall {
            who: kb.address(),
            blocked_: false,
        },
    )
    .await;
    claim_by(b).await.unwrap();
    assert_eq!(
        balances().await,
        (bal_a, bal_b + AU256::from(450), AU256::ZERO),
        "B got its 450, the contract owes nothing"
    );
    assert_eq!(unclaimed(kb.address()).await, AU256::ZERO);
    assert_eq!(
        deferred_and_claimed(&s.h).await,
        vec![
            ("PayoutDeferred", token, kb.address(), AU256::from(450)),
            ("Claimed", token, kb.address(), AU256::from(450)),
        ]
    );
    assert_eq!(
        revert_data(&s.h, kb.address(), adjudicator, claim.clone()).await,
        nothing_to_claim.as_slice(),
        "a second claim"
    );
    rejected(
        "a second claim by B",
        Rule::NothingToClaim,
        claim_by(b).await,
    );
    assert_eq!(
        balances().await,
        (bal_a, bal_b + AU256::from(450), AU256::ZERO)
    );
}
