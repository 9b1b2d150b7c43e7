//! `paychan contacts add|list|show|remove`: the node's contacts (aliases for peers),
//! through its JSON-RPC API. An alias then stands for the peer in `paychan channel open` and
//! `paychan channel list --peer`.

use anyhow::Result;
use paychan_rpc::{method, types::ContactView};
use serde_json::json;

use crate::channel::{ApiArgs, Failure, print_json, with_api};
use crate::output::outln;

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
