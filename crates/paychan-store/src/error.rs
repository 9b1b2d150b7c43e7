//! [`StoreError`]: what can go wrong in a store, and what the caller should do about it.

use std::{error::Error as StdError, sync::Arc};

use paychan_core::ChannelId;

use crate::Direction;

/// A failure of a [`Store`](crate::Store) operation.
///
/// Every variant says what the caller should do; [`StoreError::remedy`] says it in code.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A channel row of the batch was not one version ahead of the stored row: another
    /// writer got there first (or this batch was already applied). Nothing of the batch was
    /// written. Reload the channel, apply the change to the fresh state and commit again.
    #[error(
        "channel {channel_id} was changed concurrently: the stored version is {stored_version}; reload it and retry"
    )]
    Conflict {
        /// The channel whose row was refused.
        channel_id: ChannelId,
        /// The version stored now (0: no row stored).
        stored_version: u64,
    },

    /// A payment of the batch is already stored (or appears twice in it). Nothing of the
    /// batch was written. A sequence number was reused: a bug or a replay in the caller; do
    /// not retry the same batch.
    #[error("payment {sequence} ({direction}) of channel {channel_id} is already stored")]
    DuplicatePayment {
        /// The payment's channel.
        channel_id: ChannelId,
        /// The payment's direction.
        direction: Direction,
        /// The payment's sequence number.
        sequence: u64,
    },

    /// The database cannot be used right now: busy beyond the timeout, an I/O error, a full
    /// disk, a lost connection. Retry later. For a commit, the outcome may be unknown (the
    /// connection may have dropped after the database committed): a retry of a batch that
    /// was applied fails with [`Conflict`](StoreError::Conflict) whose `stored_version` is
    /// the batch's own version.
    #[error("the store is unavailable, retry later: {source}")]
    Unavailable {
        /// What the database reported.
        #[source]
        source: Arc<dyn StdError + Send + Sync>,
    },

    /// The database holds something this code cannot read: not a database, not a paychan
    /// database, or a malformed row. Stop and investigate (restore a backup); writing
    /// anything could make it worse.
    #[error("the store is corrupt: {reason}")]
    Corrupt {
        /// What is wrong, and where.
        reason: String,
    },

    /// The database was written by a newer paychan whose schema this code does not know.
    /// Stop and run the newer paychan (downgrades are not supported).
    #[error(
        "the database schema is version {found}, newer than the {supported} this paychan knows: run a newer paychan"
    )]
    SchemaTooNew {
        /// The version stored in the database.
        found: u64,
        /// The newest version this code knows.
        supported: u64,
    },

    /// A step of the schema migration failed; the database is left at the previous version.
    /// Stop and investigate.
    #[error("migrating the database schema to version {version} failed: {source}")]
    Migration {
        /// The version the failed step leads to.
        version: u64,
        /// What the database reported.
        #[source]
        source: Arc<dyn StdError + Send + Sync>,
    },

    /// A fenced batch's token no longer holds its lease: another process took it over, or it
    /// expired while this one was paused. Nothing was written. Stop acting: this process is
    /// no longer the active one (see [`crate::lease`]).
    #[error(
        "lease {lease} is no longer held by token {token}: another process is active; nothing was written"
    )]
    Fenced {
        /// The lease.
        lease: String,
        /// The token that lost it.
        token: u64,
    },

    /// The backend does not offer this (leases on the embedded SQLite store, which serves one
    /// process). Use a backend that does.
    #[error("this store does not support {what}: use a PostgreSQL or MariaDB/MySQL store")]
    Unsupported {
        /// What was asked.
        what: &'static str,
    },

    /// Something that should never happen: a bug in paychan or in the database driver, or the
    /// store's writer has stopped. Stop.
    #[error("internal store error: {source}")]
    Internal {
        /// What happened.
        #[source]
        source: Arc<dyn StdError + Send + Sync>,
    },
}

/// What a caller should do after a [`StoreError`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Remedy {
    /// Reload the channel and apply the change again ([`StoreError::Conflict`]).
    ReloadAndRetry,
    /// Retry the same operation later ([`StoreError::Unavailable`]).
    RetryLater,
    /// The request itself is wrong; retrying it cannot succeed
    /// ([`StoreError::DuplicatePayment`]).
    FixTheRequest,
    /// This process lost its lease: stop acting as the active one ([`StoreError::Fenced`]).
    StandDown,
    /// Stop using the store: it is corrupt, too new, half-migrated, or the code is wrong.
    Stop,
}

impl StoreError {
    /// What the caller should do.
    pub fn remedy(&self) -> Remedy {
        match self {
            StoreError::Conflict { .. } => Remedy::ReloadAndRetry,
            StoreError::Unavailable { .. } => Remedy::RetryLater,
            StoreError::DuplicatePayment { .. } | StoreError::Unsupported { .. } => {
                Remedy::FixTheRequest
            }
            StoreError::Fenced { .. } => Remedy::StandDown,
            StoreError::Corrupt { .. }
            | StoreError::SchemaTooNew { .. }
            | StoreError::Migration { .. }
            | StoreError::Internal { .. } => Remedy::Stop,
        }
    }

    /// An [`Unavailable`](StoreError::Unavailable) error from any source.
    pub fn unavailable(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        StoreError::Unavailable {
            source: Arc::from(source.into()),
        }
    }

    /// An [`Internal`](StoreError::Internal) error from any source.
    pub fn internal(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        StoreError::Internal {
            source: Arc::from(source.into()),
        }
    }

    /// A [`Corrupt`](StoreError::Corrupt) error.
    pub fn corrupt(reason: impl Into<String>) -> Self {
        StoreError::Corrupt {
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_says_what_to_do() {
        let conflict = StoreError::Conflict {
            channel_id: ChannelId::default(),
            stored_version: 4,
        };
        assert_eq!(conflict.remedy(), Remedy::ReloadAndRetry);
        assert!(
            conflict
                .to_string()
                .contains("stored version is 4; reload it and retry")
        );
        assert_eq!(
            StoreError::unavailable("disk full").remedy(),
            Remedy::RetryLater
        );
        assert!(
            StoreError::unavailable("disk full")
                .to_string()
                .contains("retry later")
        );
        assert_eq!(StoreError::corrupt("bad").remedy(), Remedy::Stop);
        assert_eq!(StoreError::internal("bug").remedy(), Remedy::Stop);
        let too_new = StoreError::SchemaTooNew {
            found: 3,
            supported: 2,
        };
        assert_eq!(too_new.remedy(), Remedy::Stop);
        let duplicate = StoreError::DuplicatePayment {
            channel_id: ChannelId::default(),
            direction: Direction::Outgoing,
            sequence: 9,
        };
        assert_eq!(duplicate.remedy(), Remedy::FixTheRequest);
        assert!(duplicate.to_string().contains("payment 9 (outgoing)"));
    }
}
