//! The leases of the PostgreSQL and MariaDB backends (`paychan_store::lease`), run against
//! both by `postgres.rs` and `mysql.rs`: grants and refusals, renewal, release, expiry on the
//! database's clock, and fenced commits, including a holder that keeps committing while
//! another takes the lease over.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use paychan_store::{Batch, Fence, LeaseAttempt, Store, StoreError};

use crate::shared::{id, paid};

const LEASE: &str = "background";

fn fenced(mut batch: Batch, token: u64) -> Batch {
    batch.fence = Some(Fence {
        lease: LEASE.to_owned(),
        token,
    });
    batch
}

fn granted(attempt: LeaseAttempt) -> u64 {
    match attempt {
        LeaseAttempt::Granted { token } => token,
        held => panic!("expected the lease, got {held:?}"),
    }
}

/// Polls `condition` every 20 ms until it holds, for at most 10 s.
async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition().await {
        assert!(Instant::now() < deadline, "{what}: still not after 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One holder at a time; renewals, releases and takeovers move the token forward.
pub(crate) async fn one_holder_at_a_time(stores: [Arc<dyn Store>; 2]) {
    let [a, b] = stores;
    let long = Duration::from_secs(60);
    let first = granted(a.acquire_lease(LEASE, "a", long).await.unwrap());
    match b.acquire_lease(LEASE, "b", long).await.unwrap() {
        LeaseAttempt::Held {
            holder,
            token,
            remaining,
        } => {
            assert_eq!((holder.as_str(), token), ("a", first));
            assert!(
                remaining <= long && remaining > Duration::from_secs(50),
                "{remaining:?}"
            );
        }
        other => panic!("b took a held lease: {other:?}"),
    }
    // The holder itself cannot acquire twice either: it renews.
    assert!(matches!(
        a.acquire_lease(LEASE, "a", long).await.unwrap(),
        LeaseAttempt::Held { .. }
    ));
    assert!(a.renew_lease(LEASE, first, long).await.unwrap());
    assert!(
        a.renew_lease(LEASE, first, long).await.unwrap(),
        "twice at once"
    );
    assert!(
        !b.renew_lease(LEASE, first + 1, long).await.unwrap(),
        "a token never granted"
    );
    // A clean handover: released, the next holder gets the next token at once.
    assert!(a.release_lease(LEASE, first).await.unwrap());
    let second = granted(b.acquire_lease(LEASE, "b", long).await.unwrap());
    assert_eq!(second, first + 1);
    // The old token has lost it for good: no renewal, no release, no write.
    assert!(!a.renew_lease(LEASE, first, long).await.unwrap());
    assert!(!a.release_lease(LEASE, first).await.unwrap());
    match a.commit(fenced(paid(1, 1, 0), first)).await {
        Err(e @ StoreError::Fenced { .. }) => {
            assert_eq!(e.remedy(), paychan_store::Remedy::StandDown);
            assert!(e.to_string().contains("another process is active"), "{e}");
        }
        other => panic!("a write with a lost token: {other:?}"),
    }
    assert_eq!(a.channel(id(1)).await.unwrap(), None, "nothing was written");
    b.commit(fenced(paid(1, 1, 1), second)).await.unwrap();
    // Other leases are independent.
    granted(a.acquire_lease("other", "a", long).await.unwrap());
}

/// A lease that is not renewed expires on the database's clock: its fenced writes fail from
/// then on; renewed before anyone took it, it holds again; once taken, never.
pub(crate) async fn an_unrenewed_lease_expires(stores: [Arc<dyn Store>; 2]) {
    let [a, b] = stores;
    let short = Duration::from_millis(300);
    let token = granted(a.acquire_lease(LEASE, "a", short).await.unwrap());
    a.commit(fenced(paid(1, 1, 0), token)).await.unwrap();
    let mut version = 1;
    eventually("the lease expires", || {
        let a = Arc::clone(&a);
        version += 1;
        let batch = fenced(paid(1, version, 0), token);
        async move {
            match a.commit(batch).await {
                Ok(()) => false,
                Err(StoreError::Fenced { .. }) => true,
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await;
    let stored = a.channel(id(1)).await.unwrap().unwrap().version;
    // No one took it: the holder renews and writes again.
    assert!(
        a.renew_lease(LEASE, token, Duration::from_secs(60))
            .await
            .unwrap()
    );
    a.commit(fenced(paid(1, stored + 1, 0), token))
        .await
        .unwrap();
    a.release_lease(LEASE, token).await.unwrap();
    let next = granted(b.acquire_lease(LEASE, "b", short).await.unwrap());
    assert_eq!(next, token + 1);
    assert!(!a.renew_lease(LEASE, token, short).await.unwrap());
}

/// A holder commits fenced versions of one channel as fast as it can and never renews; the
/// other polls for the lease. Once the other holds it, the first never writes again, and
/// every version the first wrote was written before the takeover: the new holder reads the
/// last of them, and its own next version follows it.
pub(crate) async fn a_takeover_cuts_off_the_old_holder(stores: [Arc<dyn Store>; 2]) {
    let [a, b] = stores;
    let token = granted(
        a.acquire_lease(LEASE, "a", Duration::from_millis(500))
            .await
            .unwrap(),
    );
    let writer = {
        let a = Arc::clone(&a);
        tokio::spawn(async move {
            let mut version = 0;
            loop {
                match a.commit(fenced(paid(1, version + 1, 0), token)).await {
                    Ok(()) => version += 1,
                    Err(StoreError::Fenced { .. }) => return version,
                    Err(e) => panic!("version {}: {e}", version + 1),
                }
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let new_token = loop {
        match b
            .acquire_lease(LEASE, "b", Duration::from_secs(60))
            .await
            .unwrap()
        {
            LeaseAttempt::Granted { token } => break token,
            LeaseAttempt::Held { .. } => {
                assert!(Instant::now() < deadline, "no takeover after 10 s");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    assert_eq!(new_token, token + 1);
    let seen = b.channel(id(1)).await.unwrap().map_or(0, |row| row.version);
    let written = writer.await.unwrap();
    assert!(
        written > 0,
        "the first holder wrote before it lost the lease"
    );
    assert_eq!(
        seen, written,
        "no write of the old holder after the takeover"
    );
    b.commit(fenced(paid(1, seen + 1, 1), new_token))
        .await
        .unwrap();
    eprintln!("the old holder wrote {written} versions before the takeover");
}
