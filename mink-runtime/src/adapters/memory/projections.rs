//! Projection checkpoints, leases and dead letters of an
//! [`InMemoryStore`](super::InMemoryStore): one process, nothing survives
//! it. Leases still fence workers, so that two engines sharing one store
//! in a test behave as two instances sharing a database do.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryTransaction;
use crate::error::{Error, Result};
use crate::event::Position;
use crate::store::{
    CheckpointTransaction, CheckpointUpdate, DeadLetter, Desired, Lease, ProjectionRecord,
    ProjectionState, ProjectionStore, RebuildRequest, RebuildStep, StatusReport, StoreTransaction,
};

/// The projection records of an in-memory store; cloning shares them.
#[derive(Debug, Clone, Default)]
pub struct InMemoryProjectionStore {
    inner: Arc<Mutex<Records>>,
}

#[derive(Debug, Default)]
struct Records {
    by_name: HashMap<String, ProjectionRecord>,
    dead: HashMap<String, Vec<DeadLetter>>,
    next_request: u64,
}

fn fresh(name: &str, now: DateTime<Utc>) -> ProjectionRecord {
    ProjectionRecord {
        name: name.to_owned(),
        checkpoint: Position::START,
        state: ProjectionState::Stopped,
        desired: Desired::Running,
        rebuild: None,
        owner: None,
        generation: 0,
        lease_expires_at: None,
        heartbeat_at: None,
        events_processed: 0,
        last_error: None,
        updated_at: now,
    }
}

fn ttl_of(ttl: Duration) -> chrono::Duration {
    chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX)
}

impl InMemoryProjectionStore {
    fn lock(&self) -> MutexGuard<'_, Records> {
        // Every critical section leaves the map consistent before it can
        // panic, so a poisoned lock still holds good records.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Records {
    fn entry(&mut self, name: &str, now: DateTime<Utc>) -> &mut ProjectionRecord {
        self.by_name
            .entry(name.to_owned())
            .or_insert_with(|| fresh(name, now))
    }

    /// The record when `lease` still holds it.
    fn held(&mut self, lease: &Lease) -> Option<&mut ProjectionRecord> {
        self.by_name.get_mut(&lease.projection).filter(|r| {
            r.generation == lease.generation && r.owner.as_deref() == Some(&lease.owner)
        })
    }
}

#[async_trait]
impl ProjectionStore for InMemoryProjectionStore {
    async fn record(&self, name: &str) -> Result<Option<ProjectionRecord>> {
        Ok(self.lock().by_name.get(name).cloned())
    }

    async fn records(&self) -> Result<Vec<ProjectionRecord>> {
        let mut all: Vec<_> = self.lock().by_name.values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    async fn acquire(&self, name: &str, owner: &str, ttl: Duration) -> Result<Option<Lease>> {
        let now = Utc::now();
        let mut records = self.lock();
        let record = records.entry(name, now);
        let live = record.lease_expires_at.is_some_and(|t| t > now);
        let ours = record.owner.as_deref() == Some(owner);
        if live && !ours {
            return Ok(None);
        }
        if !(live && ours) {
            record.generation += 1;
        }
        record.owner = Some(owner.to_owned());
        record.lease_expires_at = Some(now + ttl_of(ttl));
        record.heartbeat_at = Some(now);
        record.updated_at = now;
        Ok(Some(Lease {
            projection: name.to_owned(),
            owner: owner.to_owned(),
            generation: record.generation,
        }))
    }

    async fn renew(
        &self,
        lease: &Lease,
        ttl: Duration,
        status: &StatusReport,
    ) -> Result<Option<ProjectionRecord>> {
        let now = Utc::now();
        let mut records = self.lock();
        let Some(record) = records.held(lease) else {
            return Ok(None);
        };
        record.lease_expires_at = Some(now + ttl_of(ttl));
        record.heartbeat_at = Some(now);
        record.state = status.state;
        record.last_error.clone_from(&status.last_error);
        record.updated_at = now;
        Ok(Some(record.clone()))
    }

    async fn release(&self, lease: &Lease, status: &StatusReport) -> Result<()> {
        let now = Utc::now();
        let mut records = self.lock();
        if let Some(record) = records.held(lease) {
            record.lease_expires_at = None;
            record.state = status.state;
            record.last_error.clone_from(&status.last_error);
            record.updated_at = now;
        }
        Ok(())
    }

    async fn begin(&self, lease: &Lease) -> Result<Box<dyn CheckpointTransaction>> {
        Ok(Box::new(MemoryCheckpoint {
            store: self.clone(),
            lease: lease.clone(),
            tx: MemoryTransaction::new(Arc::default()),
        }))
    }

    async fn set_desired(&self, name: &str, desired: Desired) -> Result<()> {
        let now = Utc::now();
        let mut records = self.lock();
        let record = records.entry(name, now);
        record.desired = desired;
        record.updated_at = now;
        Ok(())
    }

    async fn request_rebuild(
        &self,
        name: &str,
        from: Position,
        to: Option<Position>,
    ) -> Result<u64> {
        if to.is_some_and(|to| to < from) {
            return Err(Error::invalid(
                "rebuild",
                format!(
                    "the upper bound {} is before the lower bound {from}",
                    to.unwrap_or(from)
                ),
            ));
        }
        let now = Utc::now();
        let mut records = self.lock();
        records.next_request += 1;
        let id = records.next_request;
        let record = records.entry(name, now);
        record.rebuild = Some(RebuildRequest {
            id,
            from,
            to,
            started: false,
        });
        record.updated_at = now;
        Ok(id)
    }

    async fn cancel_rebuild(&self, name: &str) -> Result<()> {
        let now = Utc::now();
        let mut records = self.lock();
        if let Some(record) = records.by_name.get_mut(name) {
            record.rebuild = None;
            record.updated_at = now;
        }
        Ok(())
    }

    async fn dead_letters(&self, name: &str) -> Result<Vec<DeadLetter>> {
        Ok(self.lock().dead.get(name).cloned().unwrap_or_default())
    }

    async fn remove_dead_letter(&self, name: &str, position: Position) -> Result<bool> {
        let mut records = self.lock();
        let Some(parked) = records.dead.get_mut(name) else {
            return Ok(false);
        };
        let before = parked.len();
        parked.retain(|d| d.position != position);
        Ok(parked.len() != before)
    }
}

/// One batch's transaction: read-model writes staged on a
/// [`MemoryTransaction`], published with the checkpoint.
struct MemoryCheckpoint {
    store: InMemoryProjectionStore,
    lease: Lease,
    tx: MemoryTransaction,
}

#[async_trait]
impl CheckpointTransaction for MemoryCheckpoint {
    fn transaction(&mut self) -> &mut dyn StoreTransaction {
        &mut self.tx
    }

    async fn commit(self: Box<Self>, update: CheckpointUpdate) -> Result<()> {
        let MemoryCheckpoint { store, lease, tx } = *self;
        let now = Utc::now();
        let mut records = store.lock();
        let lost = || Error::LeaseLost {
            projection: lease.projection.clone(),
            generation: lease.generation,
        };
        let record = records.held(&lease).ok_or_else(lost)?;
        if record.checkpoint != update.from {
            return Err(lost());
        }
        record.checkpoint = update.to;
        record.events_processed += update.applied;
        record.updated_at = now;
        match update.rebuild {
            RebuildStep::None => {}
            RebuildStep::Started(id) => {
                if let Some(request) = record.rebuild.as_mut().filter(|r| r.id == id) {
                    request.started = true;
                }
            }
            RebuildStep::Finished(id) => {
                if let Some(request) = record.rebuild.filter(|r| r.id == id) {
                    record.rebuild = None;
                    if request.to.is_some() {
                        record.desired = Desired::Paused;
                    }
                }
            }
        }
        if !update.parked.is_empty() {
            let parked = records.dead.entry(lease.projection.clone()).or_default();
            for dead in update.parked {
                // One per position, in log order, as the SQL stores keep them.
                match parked.binary_search_by(|d| d.position.cmp(&dead.position)) {
                    Ok(at) => parked[at] = dead,
                    Err(at) => parked.insert(at, dead),
                }
            }
        }
        // Under the lock: a reader of the checkpoint already sees the read
        // model it covers.
        tx.publish();
        Ok(())
    }
}
