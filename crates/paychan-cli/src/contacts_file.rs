//! Contacts files: the node's contacts as YAML, one `alias: peer` line each (the peer an
//! address, or `ADDRESS@HOST:PORT` / `ADDRESS@ws://HOST/PATH`), for `paychan contacts
//! import|export` and for `[node] contacts_file`, which the running node reloads whenever
//! the file changes.
//!
//! The node polls the file every [`POLL`] rather than using file-system notifications: an
//! editor's save often replaces the file (a rename), which notifications report as a removal,
//! and one small read per poll costs nothing. A file that does not parse, or lists a bad
//! alias or peer, is reported in the log and changes nothing; the previous contacts stay.
//! Contacts the file no longer lists are removed if they came from it.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result, anyhow};
use paychan_node::{Node, contacts::Contact};

/// How often the node looks at its contacts file.
pub(crate) const POLL: Duration = Duration::from_secs(1);

/// The comment at the top of an exported file.
const HEADER: &str =
    "# paychan contacts: alias: peer (an address, or ADDRESS@HOST:PORT / ADDRESS@ws://HOST/PATH)\n";

/// Parses a contacts file: a YAML mapping of aliases to peers (empty: no contacts).
pub(crate) fn parse(text: &str) -> Result<BTreeMap<String, String>> {
    if text.trim().is_empty()
        || text
            .lines()
            .all(|l| l.trim_start().starts_with('#') || l.trim().is_empty())
    {
        return Ok(BTreeMap::new());
    }
    let entries: Option<Entries> =
        yaml_serde::from_str(text).map_err(|e| anyhow!("expected `alias: peer` lines: {e}"))?;
    Ok(entries.map(|e| e.0).unwrap_or_default())
}

/// The mapping of a file, refusing an alias listed twice (which of the two was meant?).
struct Entries(BTreeMap<String, String>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a mapping of aliases to peers")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Entries, A::Error> {
                let mut entries = BTreeMap::new();
                while let Some((alias, peer)) = map.next_entry::<String, String>()? {
                    if entries.contains_key(&alias) {
                        return Err(serde::de::Error::custom(format!(
                            "alias {alias:?} is listed twice"
                        )));
                    }
                    entries.insert(alias, peer);
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// Renders contacts as a file [`parse`] reads back.
pub(crate) fn render<'a>(contacts: impl IntoIterator<Item = &'a Contact>) -> Result<String> {
    let entries: BTreeMap<&str, String> = contacts
        .into_iter()
        .map(|c| {
            let peer = c.peer_url.clone().unwrap_or_else(|| c.address.to_string());
            (c.alias.as_str(), peer)
        })
        .collect();
    let body = if entries.is_empty() {
        String::new()
    } else {
        yaml_serde::to_string(&entries).context("cannot write the contacts as YAML")?
    };
    Ok(format!("{HEADER}{body}"))
}

/// Keeps `node`'s contacts in step with the file at `path` until the process ends.
pub(crate) fn watch(node: Node, path: PathBuf) {
    tokio::spawn(async move {
        let mut last: Option<Vec<u8>> = None;
        let mut from_file = BTreeSet::new();
        let mut missing_reported = false;
        loop {
            match tokio::fs::read(&path).await {
                Ok(bytes) if last.as_ref() != Some(&bytes) => {
                    missing_reported = false;
                    match load(&node, &path, &bytes, &from_file).await {
                        Ok(listed) => from_file = listed,
                        Err(e) => tracing::error!(
                            file = %path.display(),
                            "contacts file not applied (the contacts stay as they were): {e:#}"
                        ),
                    }
                    last = Some(bytes);
                }
                Ok(_) => {}
                Err(e) if !missing_reported => {
                    tracing::warn!(file = %path.display(), "cannot read the contacts file (node.contacts_file): {e}");
                    missing_reported = true;
                }
                Err(_) => {}
            }
            tokio::time::sleep(POLL).await;
        }
    });
}

/// Applies the file's `bytes`; answers the aliases it lists.
async fn load(
    node: &Node,
    path: &Path,
    bytes: &[u8],
    previous: &BTreeSet<String>,
) -> Result<BTreeSet<String>> {
    let text = std::str::from_utf8(bytes).context("the file is not UTF-8")?;
    let entries = parse(text)?;
    let sync = node.sync_contacts(&entries, previous).await?;
    tracing::info!(
        file = %path.display(),
        added = sync.added.len(),
        replaced = sync.replaced.len(),
        removed = sync.removed.len(),
        unchanged = sync.unchanged,
        "contacts file loaded"
    );
    Ok(entries.into_keys().collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use paychan_core::Address;

    #[test]
    fn files_round_trip_and_bad_ones_are_refused() {
        let contacts = vec![
            Contact {
                alias: "bob".into(),
                address: Address::repeat_byte(0xb0),
                peer_url: Some(format!("{}@127.0.0.1:6345", Address::repeat_byte(0xb0))),
            },
            Contact {
                alias: "carol".into(),
                address: Address::repeat_byte(0xca),
                peer_url: None,
            },
        ];
        let text = render(&contacts).unwrap();
        assert!(text.starts_with("# paychan contacts"));
        let parsed = parse(&text).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed["carol"], Address::repeat_byte(0xca).to_string());
        assert_eq!(parsed["bob"], contacts[0].peer_url.clone().unwrap());
        assert!(parse("").unwrap().is_empty());
        assert!(parse("# nothing yet\n").unwrap().is_empty());
        assert!(parse(&render(&[]).unwrap()).unwrap().is_empty());
        for bad in [
            "- bob\n- carol\n",
            "bob: [1, 2]\n",
            "bob: 0xb0\nbob: 0xb1\n",
            "just text",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
    }
}
