//! `paychan backup PATH` and `paychan restore PATH`: the node's store (`store.path` of the
//! data directory's config), copied with SQLite's online backup
//! (`paychan_store::sqlite::backup`).
//!
//! `backup` runs beside a running node: the copy is the store as of one commit. `restore`
//! refuses while a node runs on the data directory (it takes the directory's lock,
//! [`dirlock`]), checks the backup, keeps the current store beside it, copies the backup in,
//! and counts every `pay` token's current period as used up (what the tokens paid since the
//! backup is not in it). When the node starts again, the counter sync with each peer brings
//! back the payments made since the backup, in both directions (docs/PROTOCOL.md).
//!
//! Neither copies the key file, `config.toml` or the token files: they do not change while the
//! node runs; keep a copy of them once.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use paychan_rpc::tokens::TokenRegistry;
use paychan_store::{
    Durability,
    sqlite::{
        SqliteStore,
        backup::{self, BackupReport},
    },
};
use serde_json::json;

use crate::{
    config::{Config, data_dir, in_dir},
    dirlock,
    output::outln,
};

/// Options of `paychan backup`.
#[derive(clap::Args, Debug)]
pub(crate) struct BackupArgs {
    /// The backup file to write (must not exist).
    path: PathBuf,
    /// The node's data directory (default: ~/.paychan, or ./paychan-data without a home).
    #[arg(long, env = "PAYCHAN_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print the result as one JSON line.
    #[arg(long)]
    json: bool,
}

/// Options of `paychan restore`.
#[derive(clap::Args, Debug)]
pub(crate) struct RestoreArgs {
    /// The backup file written by `paychan backup`.
    path: PathBuf,
    /// The node's data directory (default: ~/.paychan, or ./paychan-data without a home).
    #[arg(long, env = "PAYCHAN_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print the result as one JSON line.
    #[arg(long)]
    json: bool,
}

fn report_json(report: &BackupReport, pay_tokens_exhausted: Option<usize>) -> serde_json::Value {
    json!({
        "path": report.path,
        "bytes": report.bytes,
        "channels": report.channels,
        "payments": report.payments,
        "replaced": report.replaced,
        "pay_tokens_exhausted": pay_tokens_exhausted,
    })
}

/// Runs `paychan backup`.
pub(crate) fn backup(args: &BackupArgs) -> Result<()> {
    let dir = data_dir(args.data_dir.as_deref());
    let config = Config::load(&dir)?;
    let store = in_dir(&dir, &config.store.path);
    let report = backup::backup(&store, &args.path)
        .map_err(|e| anyhow!("cannot back up {}: {e}", store.display()))?;
    if args.json {
        outln!("{}", report_json(&report, None));
        return Ok(());
    }
    outln!(
        "backed up {} to {}: {} channels, {} payments, {} bytes",
        store.display(),
        report.path.display(),
        report.channels,
        report.payments,
        report.bytes
    );
    outln!(
        "keep a copy of {} and config.toml too: the backup holds the store only",
        in_dir(&dir, &config.node.key_file).display()
    );
    Ok(())
}

/// Runs `paychan restore`.
pub(crate) fn restore(args: &RestoreArgs) -> Result<()> {
    let dir = data_dir(args.data_dir.as_deref());
    let config = Config::load(&dir)?;
    // Held until the restore is done: no node may run on the store meanwhile.
    let _lock = dirlock::lock(&dir)?;
    let store = in_dir(&dir, &config.store.path);
    let report = backup::restore(&args.path, &store)
        .map_err(|e| anyhow!("cannot restore {}: {e}", args.path.display()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let now = crate::when::now();
    let marked = runtime.block_on(async {
        let restored = SqliteStore::open(&store, Durability::Full)?;
        TokenRegistry::exhaust_after_restore(&restored, now).await
    });
    let marked = marked.map_err(|e| {
        anyhow!(
            "restored {}, but could not mark the pay tokens' periods as used up: {e}",
            store.display()
        )
    })?;
    if args.json {
        outln!("{}", report_json(&report, Some(marked)));
        return Ok(());
    }
    outln!(
        "restored {} from {}: {} channels, {} payments",
        store.display(),
        args.path.display(),
        report.channels,
        report.payments
    );
    if let Some(aside) = &report.replaced {
        outln!("the store it replaced is kept as {}", aside.display());
    }
    if marked > 0 {
        outln!("{marked} pay token(s): the current period counts as used up");
    }
    outln!(
        "start the node: the counter sync with each peer brings back the payments made since the backup"
    );
    Ok(())
}
