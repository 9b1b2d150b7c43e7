//! What the PostgreSQL and MariaDB tests share: fixtures, and two stores racing for one
//! channel.

use std::sync::Arc;

use paychan_core::{Address, B256, ChannelId, keccak256};
use paychan_store::{Batch, ChannelRow, Direction, PaymentRow, Remedy, Store, StoreError};
use tokio::sync::Barrier;

pub(crate) fn id(n: u32) -> ChannelId {
    ChannelId(keccak256(n.to_be_bytes()))
}

pub(crate) fn row(n: u32, version: u64) -> ChannelRow {
    ChannelRow {
        id: id(n),
        peer: Address::repeat_byte(1),
        phase: "open".to_owned(),
        version,
        state: format!("channel {n} version {version}").into_bytes(),
        updated_at: version,
    }
}

pub(crate) fn paid(n: u32, version: u64, writer: u8) -> Batch {
    let mut row = row(n, version);
    row.state.push(writer);
    Batch {
        channels: vec![row],
        payments: vec![PaymentRow {
            channel_id: id(n),
            direction: Direction::Incoming,
            sequence: version,
            amount: u128::from(writer),
            cumulative: u128::from(version),
            memo: B256::repeat_byte(writer),
            time: version,
        }],
        ledger_cursor: None,
        removals: vec![],
        fence: None,
    }
}

/// Two stores with pools of their own (two processes, as in high availability) commit the same
/// version of one channel at the same instant, a hundred times: exactly one wins each time,
/// the other gets a conflict naming the winner's version, reloads, and commits the next
/// version. The stored history has exactly one payment per version, from its winner.
pub(crate) async fn two_stores_race(stores: [Arc<dyn Store>; 2]) {
    stores[0].commit(paid(1, 1, 0)).await.unwrap();
    let mut version = 1;
    let mut wins = [0u32; 2];
    for _ in 0..100 {
        version += 1;
        let barrier = Arc::new(Barrier::new(2));
        let racers: Vec<_> = (0..2u8)
            .map(|writer| {
                let (store, barrier) = (
                    Arc::clone(&stores[usize::from(writer)]),
                    Arc::clone(&barrier),
                );
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.commit(paid(1, version, writer)).await
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for racer in racers {
            outcomes.push(racer.await.unwrap());
        }
        let winner = match (&outcomes[0], &outcomes[1]) {
            (Ok(()), Err(_)) => 0,
            (Err(_), Ok(())) => 1,
            other => panic!("version {version}: expected one winner, got {other:?}"),
        };
        wins[winner] += 1;
        let loser = 1 - winner;
        match &outcomes[loser] {
            Err(
                e @ StoreError::Conflict {
                    channel_id,
                    stored_version,
                },
            ) => {
                assert_eq!((*channel_id, *stored_version), (id(1), version));
                assert_eq!(e.remedy(), Remedy::ReloadAndRetry);
            }
            other => panic!("version {version}: the loser got {other:?}"),
        }
        let reloaded = stores[loser].channel(id(1)).await.unwrap().unwrap();
        assert_eq!(reloaded.version, version);
        assert_eq!(
            reloaded.state.last(),
            Some(&(winner as u8)),
            "the winner's state"
        );
        version += 1;
        stores[loser]
            .commit(paid(1, version, loser as u8))
            .await
            .unwrap();
    }
    let payments = stores[1]
        .payments(id(1), Direction::Incoming, u32::MAX, None)
        .await
        .unwrap();
    assert_eq!(payments.len() as u64, version, "one payment per version");
    assert!(
        payments
            .iter()
            .all(|p| p.cumulative == u128::from(p.sequence)),
        "each payment is its version's"
    );
    eprintln!("wins per store: {wins:?}");
}

/// Commits `batch` as a node would after losing its connections: an error must be
/// [`StoreError::Unavailable`] (retry later), and a retry of a batch whose first attempt did
/// commit fails with a conflict naming the batch's own version. Answers how many attempts
/// failed.
pub(crate) async fn commit_retrying(store: &dyn Store, batch: Batch) -> u32 {
    let version = batch.channels[0].version;
    let mut failed = 0;
    loop {
        match store.commit(batch.clone()).await {
            Ok(()) => return failed,
            Err(StoreError::Conflict { stored_version, .. })
                if failed > 0 && stored_version == version =>
            {
                return failed;
            }
            Err(e) => {
                assert_eq!(e.remedy(), Remedy::RetryLater, "{e}");
                failed += 1;
                assert!(failed < 5, "still failing after 5 attempts: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}
