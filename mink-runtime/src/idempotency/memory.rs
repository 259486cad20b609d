//! Idempotency records in memory (one process).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::{Claim, IdempotencyStore};
use crate::command::CommandResult;
use crate::error::Result;

/// Keeps idempotency records in a map; expired ones are swept on access.
#[derive(Debug, Clone, Default)]
pub struct InMemoryIdempotencyStore {
    records: Arc<Mutex<HashMap<String, Record>>>,
}

#[derive(Debug)]
struct Record {
    result: Option<CommandResult>,
    expires_at: Instant,
}

impl InMemoryIdempotencyStore {
    /// An empty store.
    pub fn new() -> Self {
        InMemoryIdempotencyStore::default()
    }

    fn records(&self) -> std::sync::MutexGuard<'_, HashMap<String, Record>> {
        // Each critical section below is a single map operation, so a
        // poisoned lock still holds a consistent map.
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl IdempotencyStore for InMemoryIdempotencyStore {
    async fn claim(&self, key: &str, lease: Duration) -> Result<Claim> {
        let now = Instant::now();
        let mut records = self.records();
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

    async fn complete(&self, key: &str, result: &CommandResult, ttl: Duration) -> Result<()> {
        self.records().insert(
            key.to_owned(),
            Record {
                result: Some(result.clone()),
                expires_at: Instant::now() + ttl,
            },
        );
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<()> {
        let mut records = self.records();
        if records.get(key).is_some_and(|r| r.result.is_none()) {
            records.remove(key);
        }
        Ok(())
    }
}
