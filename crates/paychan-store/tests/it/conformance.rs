//! The conformance suite against a SQLite file database in a temporary directory, once per
//! durability.

use std::sync::Arc;

use paychan_store::{Durability, SqliteStore, Store, testkit::Harness};

/// A harness over a new database file; the directory lives as long as the harness.
pub(crate) async fn sqlite_harness(durability: Durability) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    Harness::new(move || {
        let path = dir.path().join("store.sqlite");
        async move {
            let store = tokio::task::spawn_blocking(move || SqliteStore::open(path, durability))
                .await
                .unwrap()?;
            Ok(Arc::new(store) as Arc<dyn Store>)
        }
    })
}

mod normal {
    paychan_store::store_conformance_suite!(super::sqlite_harness(
        paychan_store::Durability::Normal
    ));
}

mod full {
    paychan_store::store_conformance_suite!(super::sqlite_harness(paychan_store::Durability::Full));
}
