//! Idempotency records of an [`InMemoryStore`](super::InMemoryStore), kept
//! beside its events (one process).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::MemoryTransaction;
use crate::error::Result;
use crate::store::{Claim, IdempotencyStore, StoreTransaction};

/// The records, shared by the store and its idempotency handles.
#[derive(Debug, Default)]
pub(super) struct IdempotencyRecords {
    records: Mutex<HashMap<String, Record>>,
}

#[derive(Debug)]
struct Record {
    result: Option<Vec<u8>>,
    expires_at: Instant,
}

impl IdempotencyRecords {
    fn records(&self) -> std::sync::MutexGuard<'_, HashMap<String, Record>> {
        // Each critical section below is a single map operation, so a
        // poisoned lock still holds a consistent map.
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn complete(&self, key: String, result: Vec<u8>, ttl: Duration) {
        self.records().insert(
            key,
            Record {
                result: Some(result),
                expires_at: Instant::now() + ttl,
            },
        );
    }
}

/// Idempotency records in memory; expired ones are replaced on claim.
///
/// `InMemoryStore::idempotency()` gives the records of that store;
/// [`InMemoryIdempotencyStore::new`] gives records of their own.
#[derive(Debug, Clone, Default)]
pub struct InMemoryIdempotencyStore {
    records: Arc<IdempotencyRecords>,
}

impl InMemoryIdempotencyStore {
    /// An empty store of its own.
    pub fn new() -> Self {
        InMemoryIdempotencyStore::default()
    }

    pub(super) fn new_shared(records: Arc<IdempotencyRecords>) -> Self {
        InMemoryIdempotencyStore { records }
    }
}

#[async_trait]
impl IdempotencyStore for InMemoryIdempotencyStore {
    async fn claim(&self, key: &str, lease: Duration) -> Result<Claim> {
        let now = Instant::now();
        let mut records = self.records.records();
        if let Some(r) = records.get(key).filter(|r| r.expires_at > now) {
            return Ok(match &r.result {
                Some(result) => Claim::Completed(result.clone()),
                None => Claim::InProgress,
            });
        }
        records.insert(
            key.to_owned(),
            Record {
                result: None,
                expires_at: now + lease,
            },
        );
        Ok(Claim::Started)
    }

    async fn complete(&self, key: &str, result: &[u8], ttl: Duration) -> Result<()> {
        self.records.complete(key.to_owned(), result.to_vec(), ttl);
        Ok(())
    }

    async fn complete_in(
        &self,
        tx: &mut dyn StoreTransaction,
        key: &str,
        result: &[u8],
        ttl: Duration,
    ) -> Result<bool> {
        Ok(tx
            .downcast_mut::<MemoryTransaction>()
            .is_some_and(|tx| tx.stage_completion(&self.records, key, result, ttl)))
    }

    async fn release(&self, key: &str) -> Result<()> {
        let mut records = self.records.records();
        if records.get(key).is_some_and(|r| r.result.is_none()) {
            records.remove(key);
        }
        Ok(())
    }
}
