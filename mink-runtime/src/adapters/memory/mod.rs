//! An in-memory [`EventStore`]: for tests, examples and speed. Nothing
//! survives the process.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use chrono::Utc;

use crate::error::{Error, Result};
use crate::event::{Position, RecordedEvent};
use crate::store::{
    AppendResult, AppendedStream, EventStore, Limits, ReadAll, StreamAppend, StreamInfo,
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
    limits: Limits,
}

#[derive(Debug, Default)]
struct Log {
    /// The global log; an event's index is its position minus one.
    events: Vec<RecordedEvent>,
    /// Indexes into `events`, per stream, in version order.
    streams: HashMap<String, Vec<usize>>,
}

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
            inner: Arc::default(),
            limits,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Log> {
        // A panic while holding the lock cannot leave the log half-written:
        // appends check everything before the first push.
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Log> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl EventStore for InMemoryStore {
    async fn append_to_streams(&self, appends: Vec<StreamAppend>) -> Result<AppendResult> {
        self.limits.check_appends(&appends)?;
        let mut log = self.write();
        for a in &appends {
            let actual = log.version_of(&a.stream_id);
            if !a.expected.accepts(actual) {
                return Err(Error::ConcurrencyConflict {
                    stream: a.stream_id.clone(),
                    expected: a.expected,
                    actual,
                });
            }
        }
        let now = Utc::now();
        let mut result = AppendResult {
            streams: Vec::with_capacity(appends.len()),
        };
        for a in appends {
            let current = log.version_of(&a.stream_id);
            let mut indexes = Vec::with_capacity(a.events.len());
            for (i, e) in a.events.into_iter().enumerate() {
                let index = log.events.len();
                log.events.push(RecordedEvent {
                    event_id: e.event_id,
                    stream_id: a.stream_id.clone(),
                    version: current + 1 + i as u64,
                    position: Position::sequential(index as u64 + 1),
                    event_type: e.event_type,
                    schema_version: e.schema_version,
                    payload: e.payload,
                    metadata: e.metadata,
                    timestamp: now,
                });
                indexes.push(index);
            }
            let written = indexes.len() as u64;
            if written > 0 {
                log.streams
                    .entry(a.stream_id.clone())
                    .or_default()
                    .extend(indexes);
            }
            result.streams.push(AppendedStream {
                stream_id: a.stream_id,
                first_version: if written > 0 { current + 1 } else { current },
                last_version: current + written,
            });
        }
        Ok(result)
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
}
