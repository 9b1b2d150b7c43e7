//! Contacts: aliases for peers (an address, and where to reach it), persisted in the store,
//! so that a user opens a channel to `bob` rather than to `0x7e5f…@10.0.0.7:9735`.
//!
//! An alias is 1 to 64 letters, digits, `-`, `_` or `.`, and does not start with `0x`, so an
//! alias is never mistaken for an address. The peer is an address or a peer URL
//! (`ADDRESS@HOST:PORT`, `ADDRESS@ws://HOST/PATH`), which is checked and kept in its
//! canonical spelling.

use std::{
    collections::{BTreeMap, BTreeSet},
    str::FromStr,
};

use paychan_core::Address;
use paychan_net::PeerAddr;
pub use paychan_store::Contact;

use crate::{Node, NodeError};

/// The longest alias, in characters.
pub const MAX_ALIAS_LEN: usize = 64;

/// Checks an alias (see the [module docs](self)).
pub fn check_alias(alias: &str) -> Result<(), NodeError> {
    let invalid = |why: &str| NodeError::InvalidContact(format!("alias {alias:?} {why}"));
    let len = alias.chars().count();
    if len == 0 || len > MAX_ALIAS_LEN {
        return Err(invalid("must have 1 to 64 characters"));
    }
    if alias.starts_with("0x") || alias.starts_with("0X") {
        return Err(invalid(
            "must not start with 0x (it would read as an address)",
        ));
    }
    if let Some(c) = alias
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(invalid(&format!(
            "contains {c:?}: only letters, digits, '-', '_' and '.' are allowed"
        )));
    }
    Ok(())
}

/// Parses a contact's peer: an address, or a peer URL. Answers the address and the URL.
pub fn parse_peer(peer: &str) -> Result<(Address, Option<String>), NodeError> {
    let peer = peer.trim();
    if peer.contains('@') {
        let url = PeerAddr::from_str(peer)
            .map_err(|e| NodeError::InvalidContact(format!("peer URL {peer:?}: {e}")))?;
        return Ok((url.address(), Some(url.to_string())));
    }
    let address = Address::from_str(peer).map_err(|_| {
        NodeError::InvalidContact(format!(
            "peer {peer:?} is neither an address (0x and 40 hex digits) nor ADDRESS@HOST:PORT"
        ))
    })?;
    Ok((address, None))
}

/// What [`Node::sync_contacts`] changed, by alias.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContactsSync {
    /// Aliases that were new.
    pub added: Vec<String>,
    /// Aliases whose peer changed.
    pub replaced: Vec<String>,
    /// Aliases removed (listed before, not any more).
    pub removed: Vec<String>,
    /// How many were already as listed.
    pub unchanged: usize,
}

impl ContactsSync {
    /// Whether anything changed.
    pub fn changed(&self) -> bool {
        !(self.added.is_empty() && self.replaced.is_empty() && self.removed.is_empty())
    }
}

impl Node {
    /// Makes the contacts say what `entries` (alias → peer) says, and removes the aliases of
    /// `previous` that `entries` no longer lists: a contacts file reloaded (contacts added
    /// otherwise, and not in the file, stay). Every entry is checked before anything is
    /// written, so one bad entry changes nothing.
    pub async fn sync_contacts(
        &self,
        entries: &BTreeMap<String, String>,
        previous: &BTreeSet<String>,
    ) -> Result<ContactsSync, NodeError> {
        let mut wanted = Vec::with_capacity(entries.len());
        for (alias, peer) in entries {
            check_alias(alias)?;
            let (address, peer_url) =
                parse_peer(peer).map_err(|e| NodeError::InvalidContact(format!("{alias}: {e}")))?;
            wanted.push(Contact {
                alias: alias.clone(),
                address,
                peer_url,
            });
        }
        let current: BTreeMap<String, Contact> = self
            .inner
            .store
            .contacts()
            .await?
            .into_iter()
            .map(|c| (c.alias.clone(), c))
            .collect();
        let mut sync = ContactsSync::default();
        for contact in wanted {
            match current.get(&contact.alias) {
                Some(old) if *old == contact => {
                    sync.unchanged = sync.unchanged.saturating_add(1);
                    continue;
                }
                Some(_) => sync.replaced.push(contact.alias.clone()),
                None => sync.added.push(contact.alias.clone()),
            }
            self.inner.store.put_contact(&contact).await?;
        }
        for alias in previous {
            if !entries.contains_key(alias) && self.inner.store.remove_contact(alias).await? {
                sync.removed.push(alias.clone());
            }
        }
        if sync.changed() {
            tracing::info!(added = ?sync.added, replaced = ?sync.replaced, removed = ?sync.removed, "contacts synced");
        }
        Ok(sync)
    }

    /// Adds the contact `alias` for `peer` (an address or a peer URL). An existing alias is
    /// refused unless `replace`.
    pub async fn add_contact(
        &self,
        alias: &str,
        peer: &str,
        replace: bool,
    ) -> Result<Contact, NodeError> {
        check_alias(alias)?;
        let (address, peer_url) = parse_peer(peer)?;
        if !replace && self.inner.store.contact(alias).await?.is_some() {
            return Err(NodeError::ContactExists(alias.to_owned()));
        }
        let contact = Contact {
            alias: alias.to_owned(),
            address,
            peer_url,
        };
        self.inner.store.put_contact(&contact).await?;
        tracing::info!(alias, %address, "contact saved");
        Ok(contact)
    }

    /// The contact `alias`.
    pub async fn contact(&self, alias: &str) -> Result<Contact, NodeError> {
        self.inner
            .store
            .contact(alias)
            .await?
            .ok_or_else(|| NodeError::UnknownContact(alias.to_owned()))
    }

    /// Every contact, in alias order.
    pub async fn contacts(&self) -> Result<Vec<Contact>, NodeError> {
        Ok(self.inner.store.contacts().await?)
    }

    /// Removes the contact `alias` (channels with the peer are not affected).
    pub async fn remove_contact(&self, alias: &str) -> Result<(), NodeError> {
        if self.inner.store.remove_contact(alias).await? {
            Ok(())
        } else {
            Err(NodeError::UnknownContact(alias.to_owned()))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn aliases() {
        for good in ["bob", "Bob.2", "the-shop_1", "ünïcode", &"x".repeat(64)] {
            check_alias(good).unwrap();
        }
        for bad in [
            "",
            "0xabc",
            "0Xabc",
            "with space",
            "a@b",
            "tab\t",
            "new\nline",
            "a/b",
            &"x".repeat(65),
        ] {
            assert!(
                matches!(check_alias(bad), Err(NodeError::InvalidContact(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn peers() {
        let address = "0x00000000000000000000000000000000000000b0";
        assert_eq!(
            parse_peer(address).unwrap(),
            (address.parse().unwrap(), None)
        );
        let (parsed, url) = parse_peer(&format!(" {address}@127.0.0.1:9735 ")).unwrap();
        assert_eq!(parsed, address.parse::<Address>().unwrap());
        assert!(url.unwrap().ends_with("@127.0.0.1:9735"));
        for bad in [
            "bob",
            "0x12",
            "0x00000000000000000000000000000000000000b0@",
            "@1.2.3.4:5",
        ] {
            assert!(parse_peer(bad).is_err(), "{bad:?}");
        }
    }
}
