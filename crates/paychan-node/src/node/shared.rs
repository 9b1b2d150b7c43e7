//! A node on a store that other processes write too: the background of a high-availability
//! payee (`docs/HA.md`). Fronts accept payments in the same channel rows, so the node reloads
//! a row before it acts on it and after losing a race, adopts channels that fronts stored,
//! and signs only while its lease holds.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Node {
    /// The key, to sign with: refused while a background does not hold its lease.
    pub(crate) fn key(&self) -> Result<&SigningKey, NodeError> {
        if let Some(lease) = &self.inner.lease {
            lease.check()?;
        }
        Ok(&self.inner.key)
    }

    /// Whether the store is shared with other writers (a high-availability background).
    pub(crate) fn shared_store(&self) -> bool {
        self.inner.lease.is_some()
    }

    /// In a shared store, brings `entry` up to the channel's stored row if another process
    /// (a front accepting a payment) wrote a newer version; answers whether it changed.
    pub(crate) async fn reload(&self, entry: &mut Entry) -> Result<bool, NodeError> {
        if !self.shared_store() {
            return Ok(false);
        }
        let id = entry.state.channel.id();
        let Some(row) = self.inner.store.channel(id).await? else {
            return Ok(false);
        };
        if row.version <= entry.version {
            return Ok(false);
        }
        let state = crate::payouts::decode_persisted(&row.state).map_err(|e| {
            NodeError::Protocol(format!("stored channel {id} does not decode: {e}"))
        })?;
        entry.state = state;
        entry.version = row.version;
        self.rearm(id, entry);
        let exposure = entry.state.channel.exposure();
        let mut exposures = lock(&self.inner.exposures);
        if exposure > 0 {
            exposures.insert(id, exposure);
        } else {
            exposures.remove(&id);
        }
        Ok(true)
    }

    /// Locks the channel's entry; in a shared store, brought up to its stored row first. If
    /// the store cannot be read, the entry is as last known: a decision made on it cannot
    /// commit if the row moved on (the store's compare-and-set).
    pub(crate) async fn lock_entry<'s>(
        &self,
        slot: &'s Slot,
    ) -> tokio::sync::MutexGuard<'s, Entry> {
        let mut entry = slot.entry.lock().await;
        if let Err(error) = self.reload(&mut entry).await {
            tracing::warn!(channel = %entry.state.channel.id(), %error, "cannot reload a shared channel");
        }
        entry
    }

    /// In a shared store, the channel `id` as another process stored it (a front learnt it
    /// from a payment), now known to this node too.
    pub(crate) async fn adopt(&self, id: ChannelId) -> Result<Option<Arc<Slot>>, NodeError> {
        if !self.shared_store() {
            return Ok(None);
        }
        let Some(row) = self.inner.store.channel(id).await? else {
            return Ok(None);
        };
        let state = crate::payouts::decode_persisted(&row.state).map_err(|e| {
            NodeError::Protocol(format!("stored channel {id} does not decode: {e}"))
        })?;
        if state.channel.me() != self.address() || *state.channel.domain() != self.domain() {
            return Ok(None);
        }
        let mut entry = Entry::new(state, row.version);
        self.rearm(id, &mut entry);
        match self.insert_slot(id, entry) {
            Ok(slot) => Ok(Some(slot)),
            // Adopted meanwhile by another task.
            Err(_) => Ok(self.slot(&id).ok()),
        }
    }

    /// The channel `id`'s slot; in a shared store, also a channel only the store knows yet
    /// (a front stored it).
    pub(crate) async fn slot_or_adopt(&self, id: &ChannelId) -> Result<Arc<Slot>, NodeError> {
        match self.slot(id) {
            Ok(slot) => Ok(slot),
            Err(unknown) => self.adopt(*id).await?.ok_or(unknown),
        }
    }
}
