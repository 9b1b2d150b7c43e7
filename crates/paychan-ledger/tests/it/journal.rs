//! The embedded ledger's persistence: what was confirmed survives a restart, a torn write is
//! cut off, a corrupt journal is refused, and one data directory serves one process.

use std::{fs::OpenOptions, io::Write};

use futures::StreamExt;
use paychan_core::{Address, B256, ChannelParams, Role, SigningKey};
use paychan_ledger::{
    Clock, EmbeddedLedger, LedgerClose, LedgerError, LedgerFunding, LedgerQuery, Operation, Rule,
    embedded::{JOURNAL_FILE, token},
    request::SignedRequest,
};

const START: u64 = 1_700_000_000;

struct Setup {
    a: SigningKey,
    b: SigningKey,
    params: ChannelParams,
}

fn setup() -> Setup {
    let a = SigningKey::from_entropy(&[31; 32]).unwrap();
    let b = SigningKey::from_entropy(&[32; 32]).unwrap();
    let params = ChannelParams {
        party_a: a.address(),
        party_b: b.address(),
        token: Address::ZERO,
        challenge_period: 60,
        nonce: B256::repeat_byte(4),
    };
    Setup { a, b, params }
}

/// Everything observable about a ledger, to compare before and after a restart.
async fn observe(
    ledger: &EmbeddedLedger,
    s: &Setup,
) -> (
    Vec<u128>,
    Option<paychan_core::adjudicator::ChannelRecord>,
    Vec<u64>,
    u64,
) {
    let id = s.params.id(&ledger.domain());
    let mut balances = vec![];
    for who in [s.a.address(), s.b.address()] {
        for asset in [Address::ZERO, token("USDC")] {
            balances.push(ledger.balance(who, asset).await.unwrap());
        }
    }
    let events: Vec<u64> = ledger
        .event_stream(0)
        .take(ledger_event_count(ledger).await)
        .map(|r| r.unwrap().cursor)
        .collect()
        .await;
    (
        balances,
        ledger.channel(id).await.unwrap(),
        events,
        ledger.nonce(s.a.address()).unwrap(),
    )
}

async fn ledger_event_count(ledger: &EmbeddedLedger) -> usize {
    // Count events by draining the stream with a short timeout.
    let mut stream = ledger.event_stream(0);
    let mut n = 0;
    while let Ok(Some(_)) =
        tokio::time::timeout(std::time::Duration::from_millis(50), stream.next()).await
    {
        n += 1;
    }
    n
}

#[tokio::test]
async fn confirmed_operations_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup();
    let clock = Clock::manual(START);
    let before = {
        let ledger = EmbeddedLedger::open(dir.path(), clock.clone(), true).unwrap();
        ledger.faucet(s.a.address(), Address::ZERO, 1_000).unwrap();
        ledger.faucet(s.b.address(), token("USDC"), 50).unwrap();
        let a = ledger.account(s.a.clone());
        let b = ledger.account(s.b.clone());
        let id = s.params.id(&ledger.domain());
        a.open(&s.params, 300).await.unwrap();
        b.deposit(id, Role::B, 0).await.unwrap_err(); // refused: uses up a nonce of B
        a.deposit(id, Role::B, 100).await.unwrap();
        b.start_close(id, None).await.unwrap();
        clock.advance(60);
        a.settle(id).await.unwrap();
        observe(&ledger, &s).await
    };
    let ledger = EmbeddedLedger::open(dir.path(), clock, true).unwrap();
    assert_eq!(observe(&ledger, &s).await, before);
    // A paid 300 into its side and 100 into B's; with no vouchers each side gets its deposit.
    assert_eq!(before.0[0], 1_000 - 300 - 100 + 300);
    assert_eq!(before.0[2], 100);
    assert_eq!(
        ledger.nonce(s.b.address()).unwrap(),
        2,
        "the refused request's nonce stays used"
    );
    assert_eq!(
        ledger.total(Address::ZERO).unwrap(),
        ledger.supply(Address::ZERO).unwrap()
    );
    // The ledger goes on where it stopped: same cursors, new nonces.
    let a = ledger.account(s.a.clone());
    let again = ChannelParams {
        nonce: B256::repeat_byte(5),
        ..s.params
    };
    let receipt = a.open(&again, 1).await.unwrap();
    assert_eq!(receipt.events[0].cursor as usize, before.2.len());
}

#[tokio::test]
async fn a_replayed_request_is_refused_even_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup();
    let ledger = EmbeddedLedger::open(dir.path(), Clock::manual(START), false).unwrap();
    let domain = ledger.domain();
    // Refused for lack of funds...
    let request = SignedRequest::sign(
        &domain,
        &s.a,
        1,
        Operation::Open {
            params: s.params,
            amount: 10,
        },
    )
    .unwrap();
    assert!(matches!(
        ledger.submit(&request),
        Err(LedgerError::InsufficientFunds { .. })
    ));
    // ...then A is funded: the captured request must not spend A's money now.
    ledger.faucet(s.a.address(), Address::ZERO, 100).unwrap();
    assert!(matches!(
        ledger.submit(&request),
        Err(LedgerError::Unauthorized(_))
    ));
    drop(ledger);
    let ledger = EmbeddedLedger::open(dir.path(), Clock::manual(START), false).unwrap();
    assert!(matches!(
        ledger.submit(&request),
        Err(LedgerError::Unauthorized(_))
    ));
    assert_eq!(
        ledger.balance_of(s.a.address(), Address::ZERO).unwrap(),
        100
    );
    // A request signed by someone else for A's account is refused outright.
    let forged = SignedRequest {
        from: s.a.address(),
        ..SignedRequest::sign(
            &domain,
            &s.b,
            9,
            Operation::Open {
                params: s.params,
                amount: 10,
            },
        )
        .unwrap()
    };
    assert!(matches!(
        ledger.submit(&forged),
        Err(LedgerError::Unauthorized(_))
    ));
    assert_eq!(
        ledger.balance_of(s.a.address(), Address::ZERO).unwrap(),
        100
    );
}

#[tokio::test]
async fn a_torn_last_write_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup();
    {
        let ledger = EmbeddedLedger::open(dir.path(), Clock::manual(START), false).unwrap();
        ledger.faucet(s.a.address(), Address::ZERO, 500).unwrap();
        ledger
            .account(s.a.clone())
            .open(&s.params, 200)
            .await
            .unwrap();
    }
    let path = dir.path().join(JOURNAL_FILE);
    let whole = std::fs::metadata(&path).unwrap().len();
    // A crash in the middle of writing the next line.
    OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(b"{\"kind\":\"op\",\"ti")
        .unwrap();
    let ledger = EmbeddedLedger::open(dir.path(), Clock::manual(START), false).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        whole,
        "the torn line is cut off"
    );
    assert_eq!(
        ledger.balance_of(s.a.address(), Address::ZERO).unwrap(),
        300
    );
    // And the journal goes on cleanly after it.
    ledger.faucet(s.b.address(), Address::ZERO, 7).unwrap();
    drop(ledger);
    let ledger = EmbeddedLedger::open(dir.path(), Clock::manual(START), false).unwrap();
    assert_eq!(ledger.balance_of(s.b.address(), Address::ZERO).unwrap(), 7);
}

#[tokio::test]
async fn a_corrupt_journal_is_refused_not_guessed() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup();
    {
        let ledger = EmbeddedLedger::open(dir.path(), Clock::manual(START), false).unwrap();
        ledger.faucet(s.a.address(), Address::ZERO, 500).unwrap();
        ledger.faucet(s.b.address(), Address::ZERO, 500).unwrap();
    }
    let path = dir.path().join(JOURNAL_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let corrupted = text.replacen("faucet", "fau\u{0}cet", 1);
    std::fs::write(&path, corrupted).unwrap();
    match EmbeddedLedger::open(dir.path(), Clock::manual(START), false) {
        Err(LedgerError::Unavailable(why)) => assert!(why.contains("corrupt at line 1"), "{why}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn one_data_directory_serves_one_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let first = EmbeddedLedger::open(dir.path(), Clock::System, false).unwrap();
    match EmbeddedLedger::open(dir.path(), Clock::System, false) {
        Err(LedgerError::Unavailable(why)) => assert!(why.contains("in use"), "{why}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    drop(first);
    EmbeddedLedger::open(dir.path(), Clock::System, false).unwrap();
}

#[tokio::test]
async fn the_faucet_refuses_to_overflow_the_supply() {
    let ledger = EmbeddedLedger::in_memory(Clock::manual(START));
    let who = Address::repeat_byte(1);
    ledger.faucet(who, Address::ZERO, u128::MAX).unwrap();
    assert!(matches!(
        ledger.faucet(who, Address::ZERO, 1),
        Err(LedgerError::Rejected(Rule::Overflow))
    ));
    assert_eq!(ledger.supply(Address::ZERO).unwrap(), u128::MAX);
}
