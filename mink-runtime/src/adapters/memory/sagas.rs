//! Saga records, associations, commands, deadlines and history of an
//! [`InMemoryStore`](super::InMemoryStore): one process, nothing survives
//! it. A write inside a checkpoint's transaction is checked when staged and
//! applied when the transaction commits (one manager works a saga type at
//! a time, so nothing can move in between but through its own lease).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{InMemoryIdempotencyStore, MemoryTransaction};
use crate::error::{Error, Result};
use crate::store::{
    IdempotencyStore, SagaAssociation, SagaCommandRecord, SagaCommandStatus, SagaDeadline,
    SagaHistoryEntry, SagaQuery, SagaRecord, SagaStore, SagaWrite, StoreTransaction,
    association_taken, saga_conflict,
};

/// The saga tables of an in-memory store; cloning shares them.
#[derive(Debug, Clone, Default)]
pub(super) struct SagaTables {
    inner: Arc<Mutex<Tables>>,
}

#[derive(Debug, Default)]
struct Tables {
    sagas: HashMap<Uuid, SagaRecord>,
    associations: Vec<SagaAssociation>,
    /// By saga, then sequence.
    commands: BTreeMap<(Uuid, u64), SagaCommandRecord>,
    /// Message id to its key in `commands`.
    command_keys: HashMap<Uuid, (Uuid, u64)>,
    deadlines: HashMap<Uuid, SagaDeadline>,
    history: HashMap<Uuid, Vec<SagaHistoryEntry>>,
}

impl SagaTables {
    fn lock(&self) -> MutexGuard<'_, Tables> {
        // Every write is checked before it changes anything, so a poisoned
        // lock still holds consistent tables.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Tables {
    /// Fails as the SQL stores would, before anything changes.
    fn check(&self, write: &SagaWrite) -> Result<()> {
        for upsert in &write.sagas {
            let stored = self.sagas.get(&upsert.record.id);
            match (upsert.expected, stored) {
                (None, None) => {}
                (Some(v), Some(s)) if s.version == v => {}
                (expected, _) => {
                    return Err(saga_conflict(upsert.record.id, expected.unwrap_or(0)));
                }
            }
        }
        let mut claimed: HashMap<(&str, &str, &str), Uuid> = HashMap::new();
        let active = self
            .associations
            .iter()
            .filter(|a| a.active && !write.release.contains(&a.saga_id))
            .chain(
                self.associations
                    .iter()
                    .filter(|a| !a.active && write.reactivate.contains(&a.saga_id)),
            )
            .chain(write.associate.iter());
        for a in active {
            let key = (a.saga_type.as_str(), a.key.as_str(), a.value.as_str());
            match claimed.get(&key) {
                Some(id) if *id != a.saga_id => return Err(association_taken(a)),
                _ => {
                    claimed.insert(key, a.saga_id);
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, write: &SagaWrite) {
        for upsert in &write.sagas {
            self.sagas.insert(upsert.record.id, upsert.record.clone());
        }
        for a in &mut self.associations {
            if write.release.contains(&a.saga_id) {
                a.active = false;
            }
            if write.reactivate.contains(&a.saga_id) {
                a.active = true;
            }
        }
        for new in &write.associate {
            let same = |a: &SagaAssociation| {
                a.saga_id == new.saga_id
                    && a.saga_type == new.saga_type
                    && a.key == new.key
                    && a.value == new.value
            };
            match self.associations.iter_mut().find(|a| same(a)) {
                Some(a) => a.active = true,
                None => self.associations.push(new.clone()),
            }
        }
        self.deadlines.retain(|_, d| {
            !write
                .cancel_deadlines
                .iter()
                .any(|(saga, name)| *saga == d.saga_id && *name == d.name)
                && !write.remove_deadlines.contains(&d.id)
                && !write.clear_deadlines.contains(&d.saga_id)
        });
        for deadline in &write.deadlines {
            self.deadlines
                .retain(|_, d| !(d.saga_id == deadline.saga_id && d.name == deadline.name));
            self.deadlines.insert(deadline.id, deadline.clone());
        }
        for command in &write.commands {
            if self.command_keys.contains_key(&command.message_id) {
                continue;
            }
            let key = (command.saga_id, command.seq);
            self.command_keys.insert(command.message_id, key);
            self.commands.insert(key, command.clone());
        }
        for update in &write.command_updates {
            let Some(key) = self.command_keys.get(&update.message_id) else {
                continue;
            };
            if let Some(command) = self.commands.get_mut(key) {
                command.status = update.status;
                command.attempts = update.attempts;
                command.next_attempt_at = update.next_attempt_at;
                command.last_error.clone_from(&update.last_error);
                command.result.clone_from(&update.result);
            }
        }
        for line in &write.history {
            self.history
                .entry(line.saga_id)
                .or_default()
                .push(line.clone());
        }
    }
}

/// The saga store of an [`InMemoryStore`](super::InMemoryStore), from
/// [`EventStore::saga_store`](crate::store::EventStore::saga_store).
#[derive(Debug, Clone)]
pub struct InMemorySagaStore {
    tables: SagaTables,
    idempotency: InMemoryIdempotencyStore,
}

impl InMemorySagaStore {
    pub(super) fn new(tables: SagaTables, idempotency: InMemoryIdempotencyStore) -> Self {
        InMemorySagaStore {
            tables,
            idempotency,
        }
    }
}

#[async_trait]
impl SagaStore for InMemorySagaStore {
    async fn write_in(&self, tx: &mut dyn StoreTransaction, write: &SagaWrite) -> Result<()> {
        let backend = tx.backend();
        let Some(tx) = tx.downcast_mut::<MemoryTransaction>() else {
            return Err(Error::backend(format!(
                "an in-memory saga store cannot write in a {backend} transaction"
            )));
        };
        self.tables.lock().check(write)?;
        let tables = self.tables.clone();
        let write = write.clone();
        tx.on_commit(move || tables.lock().apply(&write));
        Ok(())
    }

    async fn write(&self, write: &SagaWrite) -> Result<()> {
        let mut tables = self.tables.lock();
        tables.check(write)?;
        tables.apply(write);
        Ok(())
    }

    async fn saga(&self, id: Uuid) -> Result<Option<SagaRecord>> {
        Ok(self.tables.lock().sagas.get(&id).cloned())
    }

    async fn find(&self, saga_type: &str, key: &str, value: &str) -> Result<Option<SagaRecord>> {
        let tables = self.tables.lock();
        Ok(tables
            .associations
            .iter()
            .find(|a| a.active && a.saga_type == saga_type && a.key == key && a.value == value)
            .and_then(|a| tables.sagas.get(&a.saga_id).cloned()))
    }

    async fn list(&self, query: &SagaQuery) -> Result<Vec<SagaRecord>> {
        let tables = self.tables.lock();
        let mut found: Vec<SagaRecord> = tables
            .sagas
            .values()
            .filter(|s| query.saga_type.as_deref().is_none_or(|t| s.saga_type == t))
            .filter(|s| query.status.is_none_or(|st| s.status == st))
            .cloned()
            .collect();
        found.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(b.id.cmp(&a.id)));
        if query.limit > 0 {
            found.truncate(query.limit);
        }
        Ok(found)
    }

    async fn associations(&self, saga_id: Uuid) -> Result<Vec<SagaAssociation>> {
        Ok(self
            .tables
            .lock()
            .associations
            .iter()
            .filter(|a| a.saga_id == saga_id)
            .cloned()
            .collect())
    }

    async fn commands(&self, saga_id: Uuid) -> Result<Vec<SagaCommandRecord>> {
        Ok(self
            .tables
            .lock()
            .commands
            .range((saga_id, 0)..=(saga_id, u64::MAX))
            .map(|(_, c)| c.clone())
            .collect())
    }

    async fn pending_commands(
        &self,
        saga_type: &str,
        limit: usize,
    ) -> Result<Vec<SagaCommandRecord>> {
        Ok(self
            .tables
            .lock()
            .commands
            .values()
            .filter(|c| c.saga_type == saga_type && c.status == SagaCommandStatus::Pending)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn deadlines(&self, saga_id: Uuid) -> Result<Vec<SagaDeadline>> {
        let mut found: Vec<SagaDeadline> = self
            .tables
            .lock()
            .deadlines
            .values()
            .filter(|d| d.saga_id == saga_id)
            .cloned()
            .collect();
        found.sort_by(|a, b| a.due.cmp(&b.due).then(a.name.cmp(&b.name)));
        Ok(found)
    }

    async fn due_deadlines(
        &self,
        saga_type: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<SagaDeadline>> {
        let mut found: Vec<SagaDeadline> = self
            .tables
            .lock()
            .deadlines
            .values()
            .filter(|d| d.saga_type == saga_type && d.due <= now)
            .cloned()
            .collect();
        found.sort_by(|a, b| a.due.cmp(&b.due).then(a.id.cmp(&b.id)));
        found.truncate(limit);
        Ok(found)
    }

    async fn history(&self, saga_id: Uuid) -> Result<Vec<SagaHistoryEntry>> {
        Ok(self
            .tables
            .lock()
            .history
            .get(&saga_id)
            .cloned()
            .unwrap_or_default())
    }

    fn idempotency(&self) -> Arc<dyn IdempotencyStore> {
        Arc::new(self.idempotency.clone())
    }
}
