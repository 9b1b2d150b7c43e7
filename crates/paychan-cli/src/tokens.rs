//! `paychan token create|list|revoke`: the node's scoped API tokens (see
//! `paychan_rpc::tokens`), through its JSON-RPC API with the full-access token. `create`
//! prints the new token alone on stdout (so `> file` keeps it), which is shown only then.
//!
//! The node's root key for tokens is `tokens.key` in the data directory (32 random bytes in
//! hex, readable by its owner only), made by the node on its first start: [`root_key`].

use std::{path::Path, time::Duration};

use anyhow::{Context, Result, bail};
use paychan_core::Amount;
use paychan_rpc::{
    method,
    tokens::{Scope, TokenInfo, format::ROOT_KEY_LEN, parse_period},
    types::CreatedToken,
};
use serde_json::json;

use crate::channel::{ApiArgs, Failure, print_json, with_api};
use crate::keystore;
use crate::output::{errln, outln};

/// The root key's file name in the data directory.
pub(crate) const ROOT_KEY_FILE: &str = "tokens.key";

/// Options of `paychan token`.
#[derive(clap::Args, Debug)]
pub(crate) struct TokenArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: TokenCommand,
}

#[derive(clap::Subcommand, Debug)]
enum TokenCommand {
    /// Mints a token that may call part of the API only, and prints it.
    Create {
        /// read (channels, contacts, events), verify (payment packages: what `paychan
        /// proxy` needs) or pay (payments, up to --limit per --period, and reading); several
        /// as read,verify or by repeating.
        #[arg(
            long = "scope",
            value_name = "SCOPE",
            required = true,
            value_delimiter = ','
        )]
        scopes: Vec<Scope>,
        /// With pay: the most the token may pay per period.
        #[arg(long, value_name = "AMOUNT", requires = "period", value_parser = crate::channel::positive_amount)]
        limit: Option<Amount>,
        /// With pay: the period of the limit, as 90s, 30m, 1h or 7d (periods start when the
        /// token is created).
        #[arg(long, value_name = "PERIOD", requires = "limit", value_parser = parse_period)]
        period: Option<Duration>,
        /// A note to recognize the token by in `paychan token list`.
        #[arg(long)]
        label: Option<String>,
    },
    /// Lists the tokens: scopes, limits, what each paid in its current period.
    List,
    /// Revokes a token at once (open WebSocket connections too).
    Revoke {
        /// The token's id (from `paychan token list`).
        id: u64,
    },
}

fn scopes(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.name())
        .collect::<Vec<_>>()
        .join(",")
}

fn limit(info: &TokenInfo) -> String {
    match (&info.limit, info.period, &info.spent) {
        (Some(limit), Some(period), Some(spent)) => format!("{spent}/{limit} per {period}s"),
        _ => "-".to_owned(),
    }
}

/// Runs `paychan token ...`.
pub(crate) fn run(args: &TokenArgs) -> Result<()> {
    with_api(&args.api, |api| async move {
        match &args.command {
            TokenCommand::Create {
                scopes: wanted,
                limit: amount,
                period,
                label,
            } => {
                let params = json!({
                    "scopes": wanted,
                    "limit": amount.map(|a| a.to_string()),
                    "period": period.map(|p| p.as_secs()),
                    "label": label,
                });
                let created: CreatedToken = api.call(method::CREATE_TOKEN, params).await?;
                if api.json {
                    return print_json(&created);
                }
                outln!("{}", created.token);
                errln!(
                    "token {} ({}{}): shown only now; revoke it with `paychan token revoke {}`",
                    created.info.id,
                    scopes(&created.info.scopes),
                    match (&created.info.limit, created.info.period) {
                        (Some(limit), Some(period)) => format!(", at most {limit} per {period} s"),
                        _ => String::new(),
                    },
                    created.info.id
                );
            }
            TokenCommand::List => {
                let tokens: Vec<TokenInfo> = api.call(method::LIST_TOKENS, json!({})).await?;
                if api.json {
                    return print_json(&tokens);
                }
                outln!(
                    "{:<4} {:<16} {:<28} {:<8} LABEL",
                    "ID",
                    "SCOPES",
                    "SPENT/LIMIT",
                    "STATUS"
                );
                for t in &tokens {
                    outln!(
                        "{:<4} {:<16} {:<28} {:<8} {}",
                        t.id,
                        scopes(&t.scopes),
                        limit(t),
                        if t.revoked { "revoked" } else { "active" },
                        t.label.as_deref().unwrap_or("")
                    );
                }
            }
            TokenCommand::Revoke { id } => {
                let info: TokenInfo = api.call(method::REVOKE_TOKEN, json!({ "id": id })).await?;
                if api.json {
                    return print_json(&info);
                }
                outln!("revoked token {}", info.id);
            }
        }
        Ok::<(), Failure>(())
    })
}

/// The node's root key for tokens: read from `tokens.key` in `dir`, or made and written there
/// (mode 0600) if the file does not exist yet.
pub(crate) fn root_key(dir: &Path) -> Result<[u8; ROOT_KEY_LEN]> {
    let path = dir.join(ROOT_KEY_FILE);
    if !path.exists() {
        let key = keystore::random::<ROOT_KEY_LEN>()?;
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        keystore::write_private(&path, format!("{hex}\n").as_bytes())?;
        return Ok(key);
    }
    keystore::warn_if_readable(&path);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the token root key {}", path.display()))?;
    let text = text.trim();
    let mut key = [0u8; ROOT_KEY_LEN];
    if text.len() != ROOT_KEY_LEN.saturating_mul(2) || !text.is_ascii() {
        bail!(
            "{} is not a token root key (64 hex digits): remove it to make a new one (every scoped token then stops working)",
            path.display()
        );
    }
    for (byte, pair) in key.iter_mut().zip(text.as_bytes().chunks(2)) {
        let pair = std::str::from_utf8(pair).unwrap_or("");
        *byte = u8::from_str_radix(pair, 16)
            .with_context(|| format!("{} holds a non-hex digit", path.display()))?;
    }
    Ok(key)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_root_key_is_made_once_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let made = root_key(dir.path()).unwrap();
        assert_eq!(root_key(dir.path()).unwrap(), made);
        std::fs::write(dir.path().join(ROOT_KEY_FILE), "zz\n").unwrap();
        assert!(root_key(dir.path()).is_err());
    }
}
