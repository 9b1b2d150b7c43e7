//! `paychan certify-front`: the payee's certificate of a front's own key (docs/HA.md), so
//! that its fronts sign receipts with keys that cannot move funds and expire.
//!
//! Run where the payee's keystore is (its data directory): it unlocks the payee key, reads
//! the ledger's domain (the served ledger's, or the contract's from the config), and signs
//! an EIP-712 `FrontCertificate(payee, front, expiry)`. `--new-key FILE` also makes the
//! front's key (a plaintext hex key, mode 0600: a front runs unattended, and a stolen front
//! key speaks for the payee only until the certificate expires). The fronts then run with
//! `paychan front --receipt-key FILE --certificate FILE`.

use std::{path::PathBuf, time::Duration};

use anyhow::{Context, Result, anyhow, bail};
use paychan_core::{Address, Domain, front::SignedFrontCertificate};
use paychan_ledger::{LedgerQuery, rpc::RpcReader};
use paychan_rpc::tokens::parse_period;

use crate::{
    config::{Config, LedgerKind, data_dir, in_dir},
    keystore::{self, PassphraseArgs},
    output::{errln, outln},
    when,
};

/// Options of `paychan certify-front`.
#[derive(clap::Args, Debug)]
pub(crate) struct CertifyArgs {
    /// The payee's data directory (its keystore and ledger; default: ~/.paychan, or
    /// ./paychan-data without a home).
    #[arg(long, env = "PAYCHAN_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(flatten)]
    passphrase: PassphraseArgs,
    /// The front key's address, when the front made its key itself.
    #[arg(
        long,
        value_name = "ADDRESS",
        required_unless_present = "new_key",
        conflicts_with = "new_key"
    )]
    front: Option<Address>,
    /// Make a new front key in FILE (it must not exist) and certify it.
    #[arg(long, value_name = "FILE")]
    new_key: Option<PathBuf>,
    /// How long the certificate holds, as 12h, 30d or 3600s; renew it before then.
    #[arg(long, value_name = "PERIOD", default_value = "30d", value_parser = parse_period)]
    valid_for: Duration,
    /// Where to write the certificate (JSON; default: stdout).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// The domain of the payee's ledger, as its node would use it.
async fn domain(config: &Config) -> Result<Domain> {
    match config.ledger.kind {
        LedgerKind::EmbeddedRemote => {
            let reader = RpcReader::connect(&config.ledger.url).await.map_err(|e| {
                anyhow!(
                    "cannot reach the ledger at {} (ledger.url): {e}",
                    config.ledger.url
                )
            })?;
            reader
                .domain()
                .await
                .map_err(|e| anyhow!("the ledger at {} did not answer: {e}", config.ledger.url))
        }
        LedgerKind::Ethereum => match (config.ledger.chain_id, config.ledger.contract) {
            (Some(chain_id), Some(contract)) => Ok(Domain::new(chain_id, contract)),
            _ => bail!("ledger.kind = \"ethereum\" needs ledger.chain_id and ledger.contract"),
        },
    }
}

/// Runs `paychan certify-front`.
pub(crate) fn run(args: &CertifyArgs) -> Result<()> {
    let dir = data_dir(args.data_dir.as_deref());
    let config = Config::load(&dir)?;
    let payee = keystore::load(&in_dir(&dir, &config.node.key_file), &args.passphrase)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let domain = runtime.block_on(domain(&config))?;
    let front = match (&args.new_key, args.front) {
        (Some(path), _) => {
            let key = keystore::generate()?;
            keystore::write_plaintext(path, &key)
                .with_context(|| format!("cannot write the front key {}", path.display()))?;
            errln!("front key {} written to {}", key.address(), path.display());
            key.address()
        }
        (None, Some(front)) => front,
        (None, None) => bail!("give --front ADDRESS or --new-key FILE"),
    };
    let now = crate::when::now();
    let expiry = now.saturating_add(args.valid_for.as_secs());
    let certificate = SignedFrontCertificate::sign(&payee, front, expiry, &domain);
    let text = serde_json::to_string_pretty(&certificate)?;
    match &args.out {
        Some(path) => {
            std::fs::write(path, format!("{text}\n"))
                .with_context(|| format!("cannot write {}", path.display()))?;
            errln!(
                "certificate for front {front} of payee {} written to {}, valid until {}",
                payee.address(),
                path.display(),
                when::deadline(expiry, Some(now))
            );
        }
        None => outln!("{text}"),
    }
    Ok(())
}
