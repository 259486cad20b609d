//! The outbox of an [`InMemoryStore`](super::InMemoryStore): messages kept
//! beside its events, published with them when an append commits.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;
use uuid::Uuid;

use super::MemoryTransaction;
use crate::error::Result;
use crate::store::{
    OutboxClaim, OutboxCounts, OutboxRow, OutboxStatus, OutboxStore, StoreTransaction,
};

#[derive(Debug)]
struct Entry {
    row: OutboxRow,
    status: OutboxStatus,
    next_attempt_at: Instant,
    claim: Option<(Uuid, Instant)>,
    delivered_at: Option<Instant>,
}

impl Entry {
    fn held_by(&self, token: Uuid) -> bool {
        self.status == OutboxStatus::Pending
            && self
                .claim
                .is_some_and(|(t, until)| t == token && until > Instant::now())
    }
}

#[derive(Debug, Default)]
struct Messages {
    next_seq: u64,
    /// Every message by its write order.
    entries: BTreeMap<u64, Entry>,
    /// The pending ones' write order, oldest first.
    pending: BTreeSet<u64>,
    by_id: HashMap<Uuid, u64>,
}

impl Messages {
    fn entry_held(&mut self, token: Uuid, id: Uuid) -> Option<(u64, &mut Entry)> {
        let seq = *self.by_id.get(&id)?;
        let entry = self.entries.get_mut(&seq)?;
        entry.held_by(token).then_some((seq, entry))
    }
}

/// The outbox of an in-memory store, from its `outbox_store`. Cloning
/// shares the messages.
#[derive(Debug, Clone, Default)]
pub struct InMemoryOutboxStore {
    messages: Arc<Mutex<Messages>>,
}

impl InMemoryOutboxStore {
    fn lock(&self) -> MutexGuard<'_, Messages> {
        // Each critical section leaves the maps consistent before anything
        // can panic, so a poisoned lock still holds consistent messages.
        self.messages.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl OutboxStore for InMemoryOutboxStore {
    /// Stages the rows to be added when `tx` commits (any in-memory
    /// transaction: the memory store has one database per process).
    async fn write_in(&self, tx: &mut dyn StoreTransaction, rows: &[OutboxRow]) -> Result<bool> {
        let Some(tx) = tx.downcast_mut::<MemoryTransaction>() else {
            return Ok(false);
        };
        let messages = Arc::clone(&self.messages);
        let rows = rows.to_vec();
        tx.on_commit(move || {
            let mut messages = messages.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            for row in rows {
                messages.next_seq += 1;
                let seq = messages.next_seq;
                messages.by_id.insert(row.id, seq);
                messages.pending.insert(seq);
                messages.entries.insert(
                    seq,
                    Entry {
                        row,
                        status: OutboxStatus::Pending,
                        next_attempt_at: now,
                        claim: None,
                        delivered_at: None,
                    },
                );
            }
        });
        Ok(true)
    }

    async fn claim(&self, limit: usize, ttl: Duration) -> Result<OutboxClaim> {
        let token = Uuid::now_v7();
        let now = Instant::now();
        let mut guard = self.lock();
        let messages = &mut *guard;
        let mut seen_keys = HashSet::new();
        let mut rows = Vec::new();
        for seq in messages.pending.iter() {
            if rows.len() >= limit {
                break;
            }
            let Some(entry) = messages.entries.get_mut(seq) else {
                continue;
            };
            // Only the oldest pending message of each key may go.
            if !seen_keys.insert(entry.row.key.clone()) {
                continue;
            }
            let claimed = entry.claim.is_some_and(|(_, until)| until > now);
            if claimed || entry.next_attempt_at > now {
                continue;
            }
            entry.claim = Some((token, now + ttl));
            rows.push(entry.row.clone());
        }
        Ok(OutboxClaim { token, ttl, rows })
    }

    async fn mark_delivered(&self, token: Uuid, ids: &[Uuid]) -> Result<u64> {
        let mut messages = self.lock();
        let mut marked = 0;
        for id in ids {
            if let Some((seq, entry)) = messages.entry_held(token, *id) {
                entry.status = OutboxStatus::Delivered;
                entry.claim = None;
                entry.delivered_at = Some(Instant::now());
                messages.pending.remove(&seq);
                marked += 1;
            }
        }
        Ok(marked)
    }

    async fn retry_later(
        &self,
        token: Uuid,
        id: Uuid,
        error: &str,
        delay: Duration,
    ) -> Result<bool> {
        let mut messages = self.lock();
        let Some((_, entry)) = messages.entry_held(token, id) else {
            return Ok(false);
        };
        entry.row.attempts = entry.row.attempts.saturating_add(1);
        entry.row.last_error = Some(error.to_owned());
        entry.next_attempt_at = Instant::now() + delay;
        entry.claim = None;
        Ok(true)
    }

    async fn dead_letter(&self, token: Uuid, id: Uuid, error: &str) -> Result<bool> {
        let mut messages = self.lock();
        let Some((seq, entry)) = messages.entry_held(token, id) else {
            return Ok(false);
        };
        entry.row.attempts = entry.row.attempts.saturating_add(1);
        entry.row.last_error = Some(error.to_owned());
        entry.status = OutboxStatus::DeadLettered;
        entry.claim = None;
        messages.pending.remove(&seq);
        Ok(true)
    }

    async fn release(&self, token: Uuid, ids: &[Uuid]) -> Result<()> {
        let mut messages = self.lock();
        for id in ids {
            if let Some((_, entry)) = messages.entry_held(token, *id) {
                entry.claim = None;
            }
        }
        Ok(())
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<OutboxRow>> {
        Ok(self
            .lock()
            .entries
            .values()
            .filter(|e| e.status == OutboxStatus::DeadLettered)
            .take(limit)
            .map(|e| e.row.clone())
            .collect())
    }

    async fn requeue(&self, id: Uuid) -> Result<bool> {
        let mut guard = self.lock();
        let messages = &mut *guard;
        let Some(seq) = messages.by_id.get(&id).copied() else {
            return Ok(false);
        };
        let Some(entry) = messages
            .entries
            .get_mut(&seq)
            .filter(|e| e.status == OutboxStatus::DeadLettered)
        else {
            return Ok(false);
        };
        entry.status = OutboxStatus::Pending;
        entry.row.attempts = 0;
        entry.next_attempt_at = Instant::now();
        entry.claim = None;
        messages.pending.insert(seq);
        Ok(true)
    }

    async fn purge_delivered(&self, older_than: Duration) -> Result<u64> {
        let mut guard = self.lock();
        let messages = &mut *guard;
        let now = Instant::now();
        let old: Vec<u64> = messages
            .entries
            .iter()
            .filter(|(_, e)| {
                e.status == OutboxStatus::Delivered
                    && e.delivered_at
                        .is_some_and(|at| now.saturating_duration_since(at) >= older_than)
            })
            .map(|(seq, _)| *seq)
            .collect();
        for seq in &old {
            if let Some(entry) = messages.entries.remove(seq) {
                messages.by_id.remove(&entry.row.id);
            }
        }
        Ok(old.len() as u64)
    }

    async fn status(&self, id: Uuid) -> Result<Option<OutboxStatus>> {
        let messages = self.lock();
        Ok(messages
            .by_id
            .get(&id)
            .and_then(|seq| messages.entries.get(seq))
            .map(|e| e.status))
    }

    async fn counts(&self) -> Result<OutboxCounts> {
        let messages = self.lock();
        let mut counts = OutboxCounts::default();
        for entry in messages.entries.values() {
            match entry.status {
                OutboxStatus::Pending => counts.pending += 1,
                OutboxStatus::Delivered => counts.delivered += 1,
                OutboxStatus::DeadLettered => counts.dead_lettered += 1,
            }
        }
        Ok(counts)
    }
}
