//! A PostgreSQL schema per test (features `testkit` and `postgres`), on the server at
//! `PAYCHAN_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`, trust
//! authentication): created for the test, dropped with everything in it when the value is
//! dropped, failed test or not. A server that cannot be reached fails the test with a message
//! saying what it needs; it never skips.

use std::{
    sync::atomic::{AtomicU32, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

use crate::postgres::{PostgresOptions, PostgresStore};

/// The server's URL.
pub fn url() -> String {
    std::env::var("PAYCHAN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A schema of one test: created on [`TestSchema::create`], dropped with everything in it
/// when the value is dropped (also while a failed test unwinds).
pub struct TestSchema {
    /// Its name (unique to the test).
    pub name: String,
}

impl TestSchema {
    /// Creates a schema with a name no other test uses. Panics, saying what to do, if the
    /// server cannot be reached.
    pub async fn create() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!(
            "paychan_test_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        execute(&format!("CREATE SCHEMA \"{name}\"")).await;
        TestSchema { name }
    }

    /// Options of a store in this schema.
    pub fn options(&self) -> PostgresOptions {
        let mut options = PostgresOptions::in_schema(&self.name);
        options.max_connections = 8;
        options
    }

    /// A store in this schema, with a pool of its own.
    pub async fn store(&self) -> PostgresStore {
        PostgresStore::connect_with(&url(), self.options())
            .await
            .unwrap_or_else(|e| panic!("connecting to PostgreSQL at {}: {e}", url()))
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        // Drop may run inside the test's runtime, which cannot block: use a thread of its own.
        let sql = format!(
            "SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS \"{}\" CASCADE",
            self.name
        );
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?
                .block_on(try_execute(&sql))
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("dropping test schema {}: {e}", self.name),
            Err(_) => eprintln!("dropping test schema {}: the thread panicked", self.name),
        }
    }
}

/// Runs `sql` on a connection of its own; panics with a clear message on failure.
pub async fn execute(sql: &str) {
    if let Err(e) = try_execute(sql).await {
        panic!(
            "PostgreSQL at {} (the tests need it running: 127.0.0.1:5432, trust \
             authentication, database `test`): {e}",
            url()
        );
    }
}

async fn try_execute(sql: &str) -> Result<(), String> {
    let (client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let connection = tokio::spawn(connection);
    let outcome = client
        .batch_execute(sql)
        .await
        .map_err(|e| format!("{sql}: {e}"));
    drop(client);
    let _ = connection.await;
    outcome
}
