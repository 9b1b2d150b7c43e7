//! `paychan contacts add|list|show|remove|import|export`: the node's contacts (aliases for
//! peers), through its JSON-RPC API. An alias then stands for the peer in `paychan channel
//! open` and `paychan channel list --peer`. `import` and `export` read and write the YAML
//! contacts files of [`crate::contacts_file`].

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, anyhow};
use paychan_node::contacts::{Contact, check_alias, parse_peer};
use paychan_rpc::{method, types::ContactView};
use serde_json::json;

use crate::channel::{ApiArgs, Failure, print_json, with_api};
use crate::contacts_file;
use crate::output::{errln, out, outln};

/// Options of `paychan contacts`.
#[derive(clap::Args, Debug)]
pub(crate) struct ContactsArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: ContactsCommand,
}

#[derive(clap::Subcommand, Debug)]
enum ContactsCommand {
    /// Saves ALIAS for PEER: an address, or ADDRESS@HOST:PORT / ADDRESS@ws://HOST/PATH where
    /// the node dials it.
    Add {
        /// 1 to 64 letters, digits, '-', '_' or '.', not starting with 0x.
        alias: String,
        /// The peer.
        peer: String,
        /// Overwrite an existing contact with this alias.
        #[arg(long)]
        replace: bool,
    },
    /// Lists the contacts.
    List,
    /// Shows one contact.
    Show {
        /// The alias.
        alias: String,
    },
    /// Removes a contact (its channels stay).
    Remove {
        /// The alias.
        alias: String,
    },
    /// Adds the contacts of a YAML file (`alias: peer` per line). Every entry is checked
    /// first: a bad one, or an alias that exists with another peer (without --replace),
    /// adds nothing.
    Import {
        /// The file.
        file: PathBuf,
        /// Overwrite existing contacts whose peer differs.
        #[arg(long)]
        replace: bool,
    },
    /// Writes the contacts as YAML (to stdout, or --out FILE), for `import` or
    /// `node.contacts_file`.
    Export {
        /// The file to write (it must not exist).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// The contacts of the node, by alias.
async fn current(api: &crate::channel::Api) -> Result<BTreeMap<String, ContactView>, Failure> {
    let contacts: Vec<ContactView> = api.call(method::LIST_CONTACTS, json!({})).await?;
    Ok(contacts.into_iter().map(|c| (c.alias.clone(), c)).collect())
}

/// `paychan contacts import FILE [--replace]`.
async fn import(api: &crate::channel::Api, file: &Path, replace: bool) -> Result<(), Failure> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let entries = contacts_file::parse(&text)
        .with_context(|| format!("{} is not a contacts file", file.display()))?;
    // Everything is checked before the first contact is added.
    let mut wanted = Vec::with_capacity(entries.len());
    for (alias, peer) in &entries {
        check_alias(alias).map_err(|e| anyhow!("{}: {e}", file.display()))?;
        let (address, url) =
            parse_peer(peer).map_err(|e| anyhow!("{}: {alias}: {e}", file.display()))?;
        wanted.push((alias, url.unwrap_or_else(|| address.to_string()), address));
    }
    let existing = current(api).await?;
    let same = |alias: &String, peer: &str, address: paychan_core::Address| {
        existing.get(alias).is_some_and(|c| {
            c.address == address && c.peer_url.as_deref().unwrap_or(&c.address.to_string()) == peer
        })
    };
    let conflicts: Vec<&str> = wanted
        .iter()
        .filter(|(alias, peer, address)| {
            existing.contains_key(*alias) && !same(alias, peer, *address)
        })
        .map(|(alias, _, _)| alias.as_str())
        .collect();
    if !conflicts.is_empty() && !replace {
        return Err(anyhow!(
            "these aliases exist with another peer: {} (nothing imported; --replace overwrites them)",
            conflicts.join(", ")
        )
        .into());
    }
    let (mut added, mut replaced, mut unchanged) = (0u32, 0u32, 0u32);
    for (alias, peer, address) in &wanted {
        if same(alias, peer, *address) {
            unchanged = unchanged.saturating_add(1);
            continue;
        }
        let params = json!({ "alias": alias, "peer": peer, "replace": replace });
        let _: ContactView = api.call(method::ADD_CONTACT, params).await?;
        if existing.contains_key(*alias) {
            replaced = replaced.saturating_add(1);
        } else {
            added = added.saturating_add(1);
        }
    }
    if api.json {
        return print_json(
            &json!({ "added": added, "replaced": replaced, "unchanged": unchanged }),
        );
    }
    outln!(
        "imported {}: {added} added, {replaced} replaced, {unchanged} unchanged",
        file.display()
    );
    Ok(())
}

/// `paychan contacts export [--out FILE]`.
async fn export(api: &crate::channel::Api, out: Option<&Path>) -> Result<(), Failure> {
    let contacts: Vec<Contact> = current(api)
        .await?
        .into_values()
        .map(|c| Contact {
            alias: c.alias,
            address: c.address,
            peer_url: c.peer_url,
        })
        .collect();
    let text = contacts_file::render(&contacts)?;
    match out {
        Some(path) => {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            std::io::Write::write_all(&mut file, text.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            errln!("{} contacts written to {}", contacts.len(), path.display());
        }
        None => out!("{text}"),
    }
    Ok(())
}

fn print_contact(c: &ContactView) {
    match &c.peer_url {
        Some(url) => outln!("{:<20} {url}", c.alias),
        None => outln!("{:<20} {}", c.alias, c.address),
    }
}

/// Runs `paychan contacts ...`.
pub(crate) fn run(args: &ContactsArgs) -> Result<()> {
    with_api(&args.api, |api| async move {
        match &args.command {
            ContactsCommand::Add {
                alias,
                peer,
                replace,
            } => {
                let params = json!({ "alias": alias, "peer": peer, "replace": replace });
                let contact: ContactView = api.call(method::ADD_CONTACT, params).await?;
                if api.json {
                    return print_json(&contact);
                }
                outln!("saved {} = {}", contact.alias, contact.address);
            }
            ContactsCommand::List => {
                let contacts: Vec<ContactView> = api.call(method::LIST_CONTACTS, json!({})).await?;
                if api.json {
                    return print_json(&contacts);
                }
                if contacts.is_empty() {
                    outln!("no contacts");
                }
                contacts.iter().for_each(print_contact);
            }
            ContactsCommand::Show { alias } => {
                let contact: ContactView = api
                    .call(method::GET_CONTACT, json!({ "alias": alias }))
                    .await?;
                if api.json {
                    return print_json(&contact);
                }
                outln!("{}", contact.alias);
                outln!("  address  {}", contact.address);
                if let Some(url) = &contact.peer_url {
                    outln!("  dial     {url}");
                }
            }
            ContactsCommand::Import { file, replace } => import(&api, file, *replace).await?,
            ContactsCommand::Export { out } => export(&api, out.as_deref()).await?,
            ContactsCommand::Remove { alias } => {
                let removed: bool = api
                    .call(method::REMOVE_CONTACT, json!({ "alias": alias }))
                    .await?;
                if api.json {
                    return print_json(&json!({ "removed": removed }));
                }
                outln!("removed {alias}");
            }
        }
        Ok::<(), Failure>(())
    })
}
