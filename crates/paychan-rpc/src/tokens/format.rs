//! The text of a scoped token: `pct1.<claims>.<mac>`, where `<claims>` is the base64url
//! (unpadded) JSON of [`Claims`] and `<mac>` the base64url HMAC-SHA256 of `<claims>` under the
//! node's root key (32 random bytes in the data directory, `tokens.key`). The node alone
//! holds the key, so only the node mints tokens, and a token whose claims were changed fails
//! the MAC. Claims say what the token may do; the node's registry says whether it still may
//! (revocation) and how much it has spent (see [`super::registry`]).

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::{PayLimit, Scope};

/// What every scoped token starts with (a full-access token never does).
pub const PREFIX: &str = "pct1.";

/// The length of the root key.
pub const ROOT_KEY_LEN: usize = 32;

/// Domain separation of the MAC.
const CONTEXT: &[u8] = b"paychan scoped token v1\0";

/// What a token says about itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// The token's number in the registry.
    pub id: u64,
    /// What it may call, besides `node_info`.
    pub scopes: Vec<Scope>,
    /// With the `pay` scope: at most this much per period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<PayLimit>,
}

fn mac(root: &[u8; ROOT_KEY_LEN]) -> Hmac<Sha256> {
    // HMAC takes a key of any length: this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(root)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(CONTEXT);
    mac
}

/// The token text of `claims` under `root`.
pub fn mint(root: &[u8; ROOT_KEY_LEN], claims: &Claims) -> String {
    // Serializing plain data to JSON cannot fail.
    let json = serde_json::to_vec(claims).unwrap_or_default();
    let payload = URL_SAFE_NO_PAD.encode(json);
    let mut mac = mac(root);
    mac.update(payload.as_bytes());
    let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{PREFIX}{payload}.{tag}")
}

/// The claims of `token` if it is a scoped token minted under `root`; `None` for anything
/// else (another key, changed claims, a full-access token, garbage). The MAC is compared in
/// constant time.
pub fn open(root: &[u8; ROOT_KEY_LEN], token: &str) -> Option<Claims> {
    let rest = token.strip_prefix(PREFIX)?;
    let (payload, tag) = rest.split_once('.')?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    let mut mac = mac(root);
    mac.update(payload.as_bytes());
    mac.verify_slice(&tag).ok()?;
    let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&json).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            id: 7,
            scopes: vec![Scope::Pay, Scope::Read],
            limit: Some(PayLimit {
                amount: 1000,
                period: 3600,
            }),
        }
    }

    #[test]
    fn a_minted_token_opens_under_its_key_only() {
        let root = [3u8; ROOT_KEY_LEN];
        let token = mint(&root, &claims());
        assert!(token.starts_with(PREFIX));
        assert_eq!(open(&root, &token), Some(claims()));
        assert_eq!(open(&[4u8; ROOT_KEY_LEN], &token), None);
    }

    #[test]
    fn changed_claims_or_tags_are_refused() {
        let root = [3u8; ROOT_KEY_LEN];
        let token = mint(&root, &claims());
        let (head, tag) = token.rsplit_once('.').unwrap();
        let mut widened = claims();
        widened.limit = None;
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&widened).unwrap());
        assert_eq!(
            open(&root, &format!("{PREFIX}{forged_payload}.{tag}")),
            None
        );
        let mut bad_tag = tag.to_owned();
        bad_tag.replace_range(0..1, if tag.starts_with('A') { "B" } else { "A" });
        assert_eq!(open(&root, &format!("{head}.{bad_tag}")), None);
        assert_eq!(open(&root, "0123456789abcdef0123456789abcdef"), None);
        assert_eq!(open(&root, "pct1."), None);
        assert_eq!(open(&root, "pct1.a.b.c"), None);
    }
}
