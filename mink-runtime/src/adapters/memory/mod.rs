//! An in-memory [`EventStore`]: for tests, examples and speed. Nothing
//! survives the process.
//!
//! An append checks, numbers and publishes its events under the log's
//! write lock. An append with a unit of work stages its events first, runs
//! the work on a [`MemoryTransaction`] without holding the lock, and
//! publishes only when the work succeeded and no other append landed
//! meanwhile; otherwise it stages and runs the work again, as a lost race
//! does on PostgreSQL. A failed unit of work leaves no trace.

mod idempotency;
pub mod inspect;
mod outbox;
mod projections;
mod read_model;
mod sagas;
mod transaction;

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use chrono::Utc;
use uuid::Uuid;

use idempotency::IdempotencyRecords;
pub use idempotency::InMemoryIdempotencyStore;
pub use outbox::InMemoryOutboxStore;
pub use projections::InMemoryProjectionStore;
pub use read_model::InMemoryReadModels;
pub use sagas::InMemorySagaStore;
pub use transaction::MemoryTransaction;

use crate::error::{Error, Result};
use crate::event::{Position, RecordedEvent};
use crate::store::rules::check_expected;
use crate::store::{
    AppendResult, AppendedStream, EventStore, Limits, LogChanges, LogSignal, ProjectionStore,
    ReadAll, StreamAppend, StreamInfo, UnitOfWork, WrittenEvent,
};

/// An event store held in memory, safe to share between tasks.
///
/// Cloning is cheap and shares the same events.
///
/// # Examples
///
/// ```
/// # use mink_runtime::{adapters::memory::InMemoryStore, EventStore, ExpectedVersion, NewEvent};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> mink_runtime::Result<()> {
/// let store = InMemoryStore::new();
/// store
///     .append_to_stream("order-1", ExpectedVersion::NoStream, vec![NewEvent::new("Created", b"{}".to_vec())])
///     .await?;
/// assert_eq!(store.read_stream_forward("order-1", 1, 10).await?.len(), 1);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct InMemoryStore {
    inner: Arc<RwLock<Log>>,
    idempotency: Arc<IdempotencyRecords>,
    projections: InMemoryProjectionStore,
    outbox: InMemoryOutboxStore,
    read_models: InMemoryReadModels,
    sagas: sagas::SagaTables,
    signal: LogSignal,
    limits: Limits,
}

#[derive(Debug, Default)]
struct Log {
    /// The global log; an event's index is its position minus one.
    events: Vec<RecordedEvent>,
    /// Indexes into `events`, per stream, in version order.
    streams: HashMap<String, Vec<usize>>,
    /// Every stored event id.
    ids: HashSet<Uuid, BuildHasherDefault<IdHasher>>,
}

/// Hashes an event id by folding its bits: ids are random (UUIDv7 keeps 74
/// random bits), so a keyed hash would buy nothing here but time.
#[derive(Debug, Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(29) ^ u64::from_le_bytes(word);
        }
    }
}

/// How many times an append with a unit of work stages and runs it again
/// because other appends kept landing first.
const MAX_WORK_ATTEMPTS: usize = 64;

impl Log {
    fn version_of(&self, stream_id: &str) -> u64 {
        self.streams.get(stream_id).map_or(0, |s| s.len() as u64)
    }
}

impl InMemoryStore {
    /// An empty store with default [`Limits`].
    pub fn new() -> Self {
        InMemoryStore::default()
    }

    /// An empty store enforcing `limits`.
    pub fn with_limits(limits: Limits) -> Self {
        InMemoryStore {
            limits,
            ..InMemoryStore::default()
        }
    }

    /// The idempotency records kept beside these events.
    pub fn idempotency(&self) -> InMemoryIdempotencyStore {
        InMemoryIdempotencyStore::new_shared(Arc::clone(&self.idempotency))
    }

    /// The read models kept beside these events; every call shares the same
    /// tables.
    pub fn read_models(&self) -> InMemoryReadModels {
        self.read_models.clone()
    }

    /// The projection checkpoints, leases and dead letters kept beside
    /// these events.
    pub fn projections(&self) -> InMemoryProjectionStore {
        self.projections.clone()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Log> {
        // A panic while holding the lock cannot leave the log half-written:
        // appends stage everything before the first push.
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Log> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    fn append_now(&self, appends: Vec<StreamAppend>) -> Result<AppendResult> {
        self.limits.check_appends(&appends)?;
        let mut log = self.write();
        let (staged, result) = stage(&log, appends)?;
        publish(&mut log, staged);
        drop(log);
        self.signal.notify();
        Ok(result)
    }

    async fn append_with_work(
        &self,
        appends: Vec<StreamAppend>,
        work: &dyn UnitOfWork,
    ) -> Result<AppendResult> {
        self.limits.check_appends(&appends)?;
        for _ in 0..MAX_WORK_ATTEMPTS {
            let (staged, result, base) = {
                let log = self.read();
                let (staged, result) = stage(&log, appends.clone())?;
                (staged, result, log.events.len())
            };
            let mut tx = MemoryTransaction::new(Arc::clone(&self.idempotency));
            work.run(&mut tx, &result)
                .await
                .map_err(Error::UnitOfWork)?;
            let mut log = self.write();
            if log.events.len() == base {
                publish(&mut log, staged);
                // Under the log's lock: whoever reads the key's result can
                // already read its events.
                tx.publish();
                drop(log);
                self.signal.notify();
                return Ok(result);
            }
            // Another append landed while the work ran: versions and
            // positions may have moved, so stage and run it again.
        }
        Err(Error::backend(format!(
            "an append with a unit of work lost to other appends {MAX_WORK_ATTEMPTS} times in a row"
        )))
    }
}

/// One stream's events, checked and numbered, not yet published.
struct StagedStream {
    stream_id: String,
    events: Vec<RecordedEvent>,
}

/// Checks versions and ids against `log` and numbers the events, without
/// publishing them. Each stream is looked up once.
fn stage(log: &Log, appends: Vec<StreamAppend>) -> Result<(Vec<StagedStream>, AppendResult)> {
    let now = Utc::now();
    let mut next_position = log.events.len() as u64 + 1;
    let mut staged = Vec::with_capacity(appends.len());
    let mut result = AppendResult {
        streams: Vec::with_capacity(appends.len()),
    };
    for a in appends {
        let current = log.version_of(&a.stream_id);
        check_expected(&a.stream_id, a.expected, current)?;
        if let Some(e) = a.events.iter().find(|e| log.ids.contains(&e.event_id)) {
            return Err(Error::DuplicateEventId {
                event_id: e.event_id,
            });
        }
        let mut written = Vec::with_capacity(a.events.len());
        let mut events = Vec::with_capacity(a.events.len());
        for (version, e) in (current + 1..).zip(a.events) {
            let position = Position::sequential(next_position);
            next_position += 1;
            written.push(WrittenEvent {
                event_id: e.event_id,
                version,
                position,
            });
            events.push(RecordedEvent::recorded(
                e,
                a.stream_id.clone(),
                version,
                position,
                now,
            ));
        }
        staged.push(StagedStream {
            stream_id: a.stream_id.clone(),
            events,
        });
        result
            .streams
            .push(AppendedStream::after(a.stream_id, current, written));
    }
    Ok((staged, result))
}

/// Adds staged events to the log, in order.
fn publish(log: &mut Log, staged: Vec<StagedStream>) {
    for stream in staged {
        let first = log.events.len();
        let count = stream.events.len();
        log.ids.extend(stream.events.iter().map(|e| e.event_id));
        log.events.extend(stream.events);
        match log.streams.get_mut(&stream.stream_id) {
            Some(indexes) => indexes.extend(first..first + count),
            None => {
                log.streams
                    .insert(stream.stream_id, (first..first + count).collect());
            }
        }
    }
}

#[async_trait]
impl EventStore for InMemoryStore {
    async fn append_to_streams(&self, appends: Vec<StreamAppend>) -> Result<AppendResult> {
        self.append_now(appends)
    }

    async fn append_with(
        &self,
        appends: Vec<StreamAppend>,
        work: &dyn UnitOfWork,
    ) -> Result<AppendResult> {
        self.append_with_work(appends, work).await
    }
    async fn read_stream_forward(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        self.limits.check_stream_id(stream_id)?;
        let log = self.read();
        let Some(indexes) = log.streams.get(stream_id) else {
            return Ok(Vec::new());
        };
        let skip = from_version.saturating_sub(1) as usize;
        Ok(indexes
            .iter()
            .skip(skip)
            .take(limit)
            .map(|&i| log.events[i].clone())
            .collect())
    }

    async fn read_all_forward(&self, request: ReadAll) -> Result<Vec<RecordedEvent>> {
        let log = self.read();
        let start = request.after.event as usize;
        if request.filter.stream_ids.len() == 1 && request.filter.categories.is_empty() {
            // One stream: walk its index instead of the whole log.
            let Some(indexes) = log.streams.get(&request.filter.stream_ids[0]) else {
                return Ok(Vec::new());
            };
            let from = indexes.partition_point(|&i| i < start);
            return Ok(indexes[from..]
                .iter()
                .map(|&i| &log.events[i])
                .filter(|e| request.filter.matches(e))
                .take(request.limit)
                .cloned()
                .collect());
        }
        Ok(log
            .events
            .iter()
            .skip(start)
            .filter(|e| request.filter.matches(e))
            .take(request.limit)
            .cloned()
            .collect())
    }

    async fn stream_info(&self, stream_id: &str) -> Result<Option<StreamInfo>> {
        self.limits.check_stream_id(stream_id)?;
        let log = self.read();
        Ok(log.streams.get(stream_id).and_then(|indexes| {
            let first = &log.events[*indexes.first()?];
            let last = &log.events[*indexes.last()?];
            Some(StreamInfo {
                stream_id: stream_id.to_owned(),
                version: indexes.len() as u64,
                created_at: first.timestamp,
                updated_at: last.timestamp,
            })
        }))
    }

    async fn head_position(&self) -> Result<Position> {
        Ok(Position::sequential(self.read().events.len() as u64))
    }

    fn log_changes(&self) -> LogChanges {
        self.signal.listen()
    }

    fn projection_store(&self) -> Option<Arc<dyn ProjectionStore>> {
        Some(Arc::new(self.projections.clone()))
    }

    fn saga_store(&self) -> Option<Arc<dyn crate::store::SagaStore>> {
        Some(Arc::new(InMemorySagaStore::new(
            self.sagas.clone(),
            self.idempotency(),
        )))
    }

    fn outbox_store(&self) -> Option<Arc<dyn crate::store::OutboxStore>> {
        Some(Arc::new(self.outbox.clone()))
    }
}
