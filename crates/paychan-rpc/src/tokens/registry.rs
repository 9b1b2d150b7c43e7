//! The node's record of the scoped tokens it minted: their claims, whether they are revoked,
//! and what each `pay` token spent in its current period. One JSON document under the store's
//! setting `rpc.tokens`, rewritten (durably, [`Store::set_meta`]) on every change before the
//! change takes effect in memory; one writer at a time.
//!
//! # The pay limit
//!
//! Periods are fixed windows counted from the token's creation (`created + k * period`). A
//! paying call first [`reserve`](TokenRegistry::reserve)s its amount: the new spent total is
//! written to the store before the call runs, so a payment is never made without being
//! counted, and a crash or restart finds it counted. If the call fails in a way that says
//! nothing was paid, the reservation is [`refund`](TokenRegistry::refund)ed; if the outcome
//! is unknown (a timeout, a lost connection, a call dropped midway), it stays counted. If the
//! clock goes back, the period never goes back with it.

use std::{
    collections::BTreeMap,
    sync::{Arc, PoisonError, RwLock},
    time::{SystemTime, UNIX_EPOCH},
};

use paychan_core::Amount;
use paychan_node::{Category, NodeError};
use paychan_store::{Store, StoreError};
use serde::{Deserialize, Serialize};

use super::{
    PayLimit, Scope,
    format::{self, Claims, ROOT_KEY_LEN},
};
use crate::error::{PAY_LIMIT_EXCEEDED, RpcError, SCOPE_DENIED, UNKNOWN_TOKEN};

/// The store setting that holds the registry.
pub const META_KEY: &str = "rpc.tokens";

/// The longest label.
const MAX_LABEL: usize = 64;

/// One token as the registry keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    scopes: Vec<Scope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    limit: Option<PayLimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    /// Unix seconds.
    created: u64,
    #[serde(default)]
    revoked: bool,
    /// The period `spent` counts in (0 = the first).
    #[serde(default)]
    period_index: u64,
    #[serde(default, with = "super::amount_text")]
    spent: Amount,
}

impl Record {
    /// The index of the period `now` falls in, never before the one already counted.
    fn period_at(&self, now: u64) -> u64 {
        let current = match self.limit {
            Some(limit) => now
                .saturating_sub(self.created)
                .checked_div(limit.period)
                .unwrap_or(0),
            None => 0,
        };
        current.max(self.period_index)
    }

    /// What was spent in the period of `now`.
    fn spent_at(&self, now: u64) -> Amount {
        if self.period_at(now) == self.period_index {
            self.spent
        } else {
            0
        }
    }
}

/// The whole registry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Doc {
    next_id: u64,
    tokens: BTreeMap<u64, Record>,
}

/// A token as the API shows it (`create_token`, `list_tokens`, `revoke_token`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// Its number.
    pub id: u64,
    /// Its scopes.
    pub scopes: Vec<Scope>,
    /// The most it may pay per period, as a decimal string (`pay` tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// The period in seconds (`pay` tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<u64>,
    /// What it paid in the current period, as a decimal string (`pay` tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spent: Option<String>,
    /// When the current period ends, in Unix seconds (`pay` tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_ends: Option<u64>,
    /// The label given at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// When it was created, in Unix seconds.
    pub created: u64,
    /// Whether it was revoked.
    pub revoked: bool,
}

fn info(id: u64, record: &Record, now: u64) -> TokenInfo {
    let period_ends = record.limit.map(|limit| {
        record
            .period_at(now)
            .saturating_add(1)
            .saturating_mul(limit.period)
            .saturating_add(record.created)
    });
    TokenInfo {
        id,
        scopes: record.scopes.clone(),
        limit: record.limit.map(|l| l.amount.to_string()),
        period: record.limit.map(|l| l.period),
        spent: record.limit.map(|_| record.spent_at(now).to_string()),
        period_ends,
        label: record.label.clone(),
        created: record.created,
        revoked: record.revoked,
    }
}

/// `secs` as `2 h 5 min`, `5 min 3 s` or `42 s`.
fn time_left(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s} s"),
        (0, _) => format!("{m} min {s} s"),
        _ => format!("{h} h {m} min"),
    }
}

/// A spent amount counted against a token, until [`TokenRegistry::refund`] takes it back.
#[derive(Debug)]
#[must_use = "a reservation stays counted unless refunded"]
pub struct Reservation {
    id: u64,
    period_index: u64,
    amount: Amount,
}

/// The clock of the registry: Unix seconds.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

fn system_clock() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The scoped tokens of one node (see the [module docs](self)).
pub struct TokenRegistry {
    root: [u8; ROOT_KEY_LEN],
    store: Arc<dyn Store>,
    doc: RwLock<Doc>,
    write: tokio::sync::Mutex<()>,
    clock: Clock,
}

impl std::fmt::Debug for TokenRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRegistry").finish_non_exhaustive()
    }
}

fn denied(message: String) -> RpcError {
    RpcError::api(SCOPE_DENIED, Category::Client, message)
}

fn invalid(message: impl Into<String>) -> RpcError {
    RpcError::invalid_params(message)
}

fn load(text: Option<String>) -> Result<Doc, StoreError> {
    match text {
        None => Ok(Doc::default()),
        Some(text) => serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
            reason: format!("the setting {META_KEY}: {e}"),
        }),
    }
}

impl TokenRegistry {
    /// The registry kept in `store`, with tokens keyed by `root`.
    pub async fn open(
        root: [u8; ROOT_KEY_LEN],
        store: Arc<dyn Store>,
    ) -> Result<TokenRegistry, StoreError> {
        let doc = load(store.meta(META_KEY).await?)?;
        Ok(TokenRegistry {
            root,
            store,
            doc: RwLock::new(doc),
            write: tokio::sync::Mutex::new(()),
            clock: Arc::new(system_clock),
        })
    }

    /// Uses `clock` (Unix seconds) instead of the system's.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    fn now(&self) -> u64 {
        (self.clock)()
    }

    fn read(&self) -> Doc {
        self.doc
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Applies `change` to a copy, stores it, then installs it.
    async fn update<T>(
        &self,
        change: impl FnOnce(&mut Doc, u64) -> Result<T, RpcError>,
    ) -> Result<T, RpcError> {
        let _writer = self.write.lock().await;
        let mut doc = self.read();
        let out = change(&mut doc, self.now())?;
        let text = serde_json::to_string(&doc)
            .map_err(|e| RpcError::invalid_params(format!("cannot encode the tokens: {e}")))?;
        self.store
            .set_meta(META_KEY, &text)
            .await
            .map_err(|e| RpcError::Node(NodeError::Store(e)))?;
        *self.doc.write().unwrap_or_else(PoisonError::into_inner) = doc;
        Ok(out)
    }

    /// The claims of `token` if the node minted it and it is not revoked.
    pub fn authenticate(&self, token: &str) -> Option<Claims> {
        let claims = format::open(&self.root, token)?;
        self.check(&claims).ok()?;
        Some(claims)
    }

    /// Whether the token of `claims` may still be used (not revoked, still known: a store
    /// restored from before its creation does not know it).
    pub fn check(&self, claims: &Claims) -> Result<(), RpcError> {
        let doc = self.doc.read().unwrap_or_else(PoisonError::into_inner);
        match doc.tokens.get(&claims.id) {
            Some(record) if record.revoked => {
                Err(denied(format!("token {} was revoked", claims.id)))
            }
            Some(record) if record.scopes == claims.scopes && record.limit == claims.limit => {
                Ok(())
            }
            _ => Err(denied(format!(
                "token {} is unknown to this node",
                claims.id
            ))),
        }
    }

    /// Mints a token with `scopes` (and, for `pay`, its `limit`); answers it and its text.
    pub async fn create(
        &self,
        scopes: &[Scope],
        limit: Option<PayLimit>,
        label: Option<String>,
    ) -> Result<(TokenInfo, String), RpcError> {
        let mut scopes = scopes.to_vec();
        scopes.sort();
        scopes.dedup();
        if scopes.is_empty() {
            return Err(invalid("scopes: give at least one of read, verify, pay"));
        }
        let pays = scopes.contains(&Scope::Pay);
        match limit {
            None if pays => {
                return Err(invalid(
                    "a pay token needs a limit: limit (amount) and period (seconds)",
                ));
            }
            Some(_) if !pays => return Err(invalid("limit and period apply to pay tokens only")),
            Some(l) if l.amount == 0 || l.period == 0 => {
                return Err(invalid("limit and period must be positive"));
            }
            _ => {}
        }
        if let Some(label) = &label
            && (label.chars().count() > MAX_LABEL || label.chars().any(char::is_control))
        {
            return Err(invalid(format!(
                "label: at most {MAX_LABEL} characters, no control characters"
            )));
        }
        let (id, record) = self
            .update(|doc, now| {
                doc.next_id = doc.next_id.saturating_add(1);
                let id = doc.next_id;
                let record = Record {
                    scopes,
                    limit,
                    label,
                    created: now,
                    revoked: false,
                    period_index: 0,
                    spent: 0,
                };
                doc.tokens.insert(id, record.clone());
                Ok((id, record))
            })
            .await?;
        let claims = Claims {
            id,
            scopes: record.scopes.clone(),
            limit: record.limit,
        };
        Ok((
            info(id, &record, self.now()),
            format::mint(&self.root, &claims),
        ))
    }

    /// Every token, by id.
    pub fn list(&self) -> Vec<TokenInfo> {
        let now = self.now();
        self.read()
            .tokens
            .iter()
            .map(|(id, record)| info(*id, record, now))
            .collect()
    }

    /// Revokes token `id`: every later call with it is refused, on open WebSocket
    /// connections too. Revoking a revoked token changes nothing.
    pub async fn revoke(&self, id: u64) -> Result<TokenInfo, RpcError> {
        self.update(|doc, now| {
            let record = doc.tokens.get_mut(&id).ok_or_else(|| {
                RpcError::api(UNKNOWN_TOKEN, Category::Client, format!("no token {id}"))
            })?;
            record.revoked = true;
            Ok(info(id, record, now))
        })
        .await
    }

    /// Counts `amount` against the limit of the token of `claims`, durably, or refuses it
    /// (code 1908) if it would take the period's total over the limit. A token without a
    /// limit (it cannot pay) is refused.
    pub async fn reserve(&self, claims: &Claims, amount: Amount) -> Result<Reservation, RpcError> {
        let id = claims.id;
        self.update(|doc, now| {
            let record = doc
                .tokens
                .get_mut(&id)
                .filter(|r| !r.revoked)
                .ok_or_else(|| denied(format!("token {id} is revoked or unknown")))?;
            let Some(limit) = record.limit else {
                return Err(denied(format!("token {id} may not pay")));
            };
            let period = record.period_at(now);
            let spent = record.spent_at(now);
            let total = spent.checked_add(amount).filter(|t| *t <= limit.amount);
            let Some(total) = total else {
                let ends = period
                    .saturating_add(1)
                    .saturating_mul(limit.period)
                    .saturating_add(record.created);
                return Err(RpcError::api(
                    PAY_LIMIT_EXCEEDED,
                    Category::Client,
                    format!(
                        "paying {amount} would exceed token {id}'s limit: {spent} of {} already paid in this period, which ends in {} (Unix time {ends}); nothing was paid",
                        limit.amount,
                        time_left(ends.saturating_sub(now))
                    ),
                ));
            };
            record.period_index = period;
            record.spent = total;
            Ok(Reservation {
                id,
                period_index: period,
                amount,
            })
        })
        .await
    }

    /// Takes back a reservation whose call paid nothing. A reservation of a period that has
    /// ended is dropped (the new period starts from zero anyway). If the store fails, the
    /// amount stays counted (the safe side), and the failure is logged.
    pub async fn refund(&self, reservation: Reservation) {
        let result = self
            .update(|doc, _| {
                if let Some(record) = doc.tokens.get_mut(&reservation.id)
                    && record.period_index == reservation.period_index
                {
                    record.spent = record.spent.saturating_sub(reservation.amount);
                }
                Ok(())
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(token = reservation.id, error = %e, "could not take back a reservation: it stays counted");
        }
    }

    /// For a store restored from a backup: what the tokens paid since the backup is unknown,
    /// so every `pay` token's current period counts as used up (its next period starts from
    /// zero). Run on the restored store before the node starts; answers how many tokens it
    /// marked.
    pub async fn exhaust_after_restore(store: &dyn Store, now: u64) -> Result<usize, StoreError> {
        let mut doc = load(store.meta(META_KEY).await?)?;
        let mut marked = 0usize;
        for record in doc.tokens.values_mut() {
            if let Some(limit) = record.limit
                && !record.revoked
            {
                record.period_index = record.period_at(now);
                record.spent = limit.amount;
                marked = marked.saturating_add(1);
            }
        }
        if marked > 0 {
            let text = serde_json::to_string(&doc).map_err(|e| StoreError::Corrupt {
                reason: format!("cannot encode {META_KEY}: {e}"),
            })?;
            store.set_meta(META_KEY, &text).await?;
        }
        Ok(marked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_reads_as_hours_minutes_seconds() {
        assert_eq!(time_left(42), "42 s");
        assert_eq!(time_left(303), "5 min 3 s");
        assert_eq!(time_left(7500), "2 h 5 min");
    }

    #[test]
    fn periods_never_go_back_with_the_clock() {
        let record = Record {
            scopes: vec![Scope::Pay],
            limit: Some(PayLimit {
                amount: 10,
                period: 100,
            }),
            label: None,
            created: 1000,
            revoked: false,
            period_index: 3,
            spent: 7,
        };
        assert_eq!(record.period_at(1350), 3);
        assert_eq!(record.spent_at(1350), 7);
        assert_eq!(record.period_at(500), 3, "a clock before the creation");
        assert_eq!(record.period_at(1400), 4);
        assert_eq!(record.spent_at(1400), 0);
    }
}
