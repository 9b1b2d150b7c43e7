//! A MariaDB/MySQL database per test (features `testkit` and `mysql`), on the server at
//! `PAYCHAN_TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306`): created for the test,
//! dropped with everything in it when the value is dropped, failed test or not. A server that
//! cannot be reached fails the test with a message saying what it needs; it never skips.

use std::{
    sync::atomic::{AtomicU32, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

use mysql_async::prelude::Queryable;

use crate::mysql::{MysqlOptions, MysqlStore};

/// The server's URL, without a database.
pub fn server() -> String {
    std::env::var("PAYCHAN_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned())
}

/// A database of one test: created on [`TestDatabase::create`], dropped with everything in it
/// when the value is dropped (also while a failed test unwinds).
pub struct TestDatabase {
    /// Its name (unique to the test).
    pub name: String,
}

impl TestDatabase {
    /// Creates a database with a name no other test uses. Panics, saying what to do, if the
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
        execute(&format!("CREATE DATABASE `{name}`")).await;
        TestDatabase { name }
    }

    /// The URL of this database.
    pub fn url(&self) -> String {
        format!("{}/{}", server(), self.name)
    }

    /// A store in this database, with a pool of its own.
    pub async fn store(&self) -> MysqlStore {
        MysqlStore::connect_with(&self.url(), options())
            .await
            .unwrap_or_else(|e| panic!("connecting to MariaDB at {}: {e}", self.url()))
    }
}

/// The options of the tests' stores: a small pool.
pub fn options() -> MysqlOptions {
    MysqlOptions {
        max_connections: 8,
        ..MysqlOptions::default()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop may run inside the test's runtime, which cannot block: use a thread of its own.
        let sql = format!("DROP DATABASE IF EXISTS `{}`", self.name);
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
            Ok(Err(e)) => eprintln!("dropping test database {}: {e}", self.name),
            Err(_) => eprintln!("dropping test database {}: the thread panicked", self.name),
        }
    }
}

/// Runs `sql` on a connection of its own; panics with a clear message on failure.
pub async fn execute(sql: &str) {
    if let Err(e) = try_execute(sql).await {
        panic!(
            "MariaDB at {} (the tests need it running: 127.0.0.1:3306, root with an empty \
             password): {e}",
            server()
        );
    }
}

async fn try_execute(sql: &str) -> Result<(), String> {
    let opts = mysql_async::Opts::from_url(&server()).map_err(|e| e.to_string())?;
    let mut conn = mysql_async::Conn::new(opts)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let outcome = conn
        .query_drop(sql)
        .await
        .map_err(|e| format!("{sql}: {e}"));
    let _ = conn.disconnect().await;
    outcome
}
