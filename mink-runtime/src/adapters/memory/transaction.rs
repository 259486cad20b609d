//! The append transaction of an in-memory store, as a unit of work sees it.

use std::sync::Arc;
use std::time::Duration;

use super::idempotency::IdempotencyRecords;
use crate::store::StoreTransaction;

/// The append transaction of an [`InMemoryStore`](super::InMemoryStore),
/// as a unit of work sees it. The events it wrote, and the idempotency
/// results recorded in it, are published together, only after the work
/// succeeds.
pub struct MemoryTransaction {
    records: Arc<IdempotencyRecords>,
    completions: Vec<(String, Vec<u8>, Duration)>,
    effects: Vec<Box<dyn FnOnce() + Send>>,
}

impl std::fmt::Debug for MemoryTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryTransaction")
            .field("completions", &self.completions.len())
            .field("effects", &self.effects.len())
            .finish_non_exhaustive()
    }
}

impl MemoryTransaction {
    pub(super) fn new(records: Arc<IdempotencyRecords>) -> Self {
        MemoryTransaction {
            records,
            completions: Vec::new(),
            effects: Vec::new(),
        }
    }

    /// Stages `effect` to run when the transaction commits, in the order
    /// staged, and never when it rolls back. In-memory read models write
    /// through it, so that their changes commit with the events or the
    /// checkpoint, or not at all.
    pub fn on_commit(&mut self, effect: impl FnOnce() + Send + 'static) {
        self.effects.push(Box::new(effect));
    }

    /// Stages an idempotency result when `records` are this store's own.
    pub(super) fn stage_completion(
        &mut self,
        records: &Arc<IdempotencyRecords>,
        key: &str,
        result: &[u8],
        ttl: Duration,
    ) -> bool {
        if !Arc::ptr_eq(records, &self.records) {
            return false;
        }
        self.completions
            .push((key.to_owned(), result.to_vec(), ttl));
        true
    }

    /// Publishes the staged results and runs the staged effects; called
    /// once the events (or the checkpoint) are published.
    pub(super) fn publish(self) {
        for (key, result, ttl) in self.completions {
            self.records.complete(key, result, ttl);
        }
        for effect in self.effects {
            effect();
        }
    }
}

impl StoreTransaction for MemoryTransaction {
    fn backend(&self) -> &'static str {
        "memory"
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}
