//! The append transaction of an in-memory store, as a unit of work sees it.

use std::sync::Arc;
use std::time::Duration;

use super::idempotency::IdempotencyRecords;
use crate::store::StoreTransaction;

/// The append transaction of an [`InMemoryStore`](super::InMemoryStore),
/// as a unit of work sees it. The events it wrote, and the idempotency
/// results recorded in it, are published together, only after the work
/// succeeds.
#[derive(Debug)]
pub struct MemoryTransaction {
    records: Arc<IdempotencyRecords>,
    completions: Vec<(String, Vec<u8>, Duration)>,
}

impl MemoryTransaction {
    pub(super) fn new(records: Arc<IdempotencyRecords>) -> Self {
        MemoryTransaction {
            records,
            completions: Vec::new(),
        }
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

    /// Publishes the staged results; called once the events are published.
    pub(super) fn publish(self) {
        for (key, result, ttl) in self.completions {
            self.records.complete(key, result, ttl);
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
