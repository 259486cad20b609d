//! Writing messages: the unit of work that turns an append's events into
//! outbox rows in the append's own transaction, and the store wrapper that
//! runs it on every append.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use futures::FutureExt;

use super::error::OutboxError;
use super::route::{Route, message_id};
use crate::error::{BoxError, Result};
use crate::event::{NewEvent, Position, RecordedEvent};
use crate::store::{
    AppendResult, EventStore, LogChanges, OutboxRow, OutboxStore, ProjectionStore, ReadAll,
    StoreTransaction, StreamAppend, StreamInfo, ThenWork, UnitOfWork, WorkFuture,
};

/// The routes of an outbox and the store its rows go to.
#[derive(Clone)]
pub struct OutboxWriter {
    routes: Arc<[(String, Route)]>,
    store: Arc<dyn OutboxStore>,
}

impl std::fmt::Debug for OutboxWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.routes.iter().map(|(name, _)| name))
            .finish()
    }
}

impl OutboxWriter {
    /// Writes messages of `routes` to `store`. Route names must be unique
    /// (the outbox's builder checks them).
    pub fn new(routes: Vec<Route>, store: Arc<dyn OutboxStore>) -> Self {
        OutboxWriter {
            routes: routes.into_iter().map(|r| (r.name(), r)).collect(),
            store,
        }
    }

    /// The rows the routes write for `events`, in event order, then route
    /// order. Fails on the first transform that fails or panics.
    pub fn rows(
        &self,
        events: &[RecordedEvent],
    ) -> std::result::Result<Vec<OutboxRow>, OutboxError> {
        let mut rows = Vec::new();
        for event in events {
            for (name, route) in self.routes.iter() {
                if !route.matches(event) {
                    continue;
                }
                let built = std::panic::catch_unwind(AssertUnwindSafe(|| route.payload(event)))
                    .unwrap_or_else(|panic| Err(panic_error(&*panic)));
                let message = built.map_err(|source| OutboxError::TransformFailed {
                    route: name.clone(),
                    event_type: event.event_type.clone(),
                    event_id: event.event_id,
                    stream: event.stream_id.clone(),
                    version: event.version,
                    source,
                })?;
                rows.push(OutboxRow {
                    id: message_id(event.event_id, name),
                    route: name.clone(),
                    publisher: route.publisher().to_owned(),
                    destination: route.destination().to_owned(),
                    key: message.key,
                    event_id: event.event_id,
                    event_type: event.event_type.clone(),
                    stream_id: event.stream_id.clone(),
                    position: event.position,
                    payload: message.payload,
                    content_type: message.content_type,
                    headers: message.headers,
                    attempts: 0,
                    last_error: None,
                    created_at: event.timestamp,
                });
            }
        }
        Ok(rows)
    }

    /// A unit of work writing the messages of `appends` in the append
    /// transaction, once the store has placed the events.
    pub fn work_for(&self, appends: &[StreamAppend]) -> OutboxWork {
        OutboxWork {
            writer: self.clone(),
            appends: appends
                .iter()
                .map(|a| (a.stream_id.clone(), a.events.clone()))
                .collect(),
        }
    }
}

fn panic_error(panic: &(dyn std::any::Any + Send)) -> BoxError {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic".to_owned());
    format!("the transform panicked: {text}").into()
}

/// The outbox messages of one append, as a [`UnitOfWork`]: it writes them
/// in the append's transaction, so a conflict or any other failure of the
/// append stores neither the events nor the messages.
#[derive(Debug)]
pub struct OutboxWork {
    writer: OutboxWriter,
    appends: Vec<(String, Vec<NewEvent>)>,
}

impl OutboxWork {
    /// The appended events as the store placed them; the timestamp is the
    /// work's clock, within the append's transaction.
    fn recorded(&self, written: &AppendResult) -> Vec<RecordedEvent> {
        let now = Utc::now();
        let mut events = Vec::new();
        for ((stream_id, new), stream) in self.appends.iter().zip(&written.streams) {
            for (event, at) in new.iter().zip(&stream.events) {
                events.push(RecordedEvent::recorded(
                    event.clone(),
                    stream_id.clone(),
                    at.version,
                    at.position,
                    now,
                ));
            }
        }
        events
    }
}

impl UnitOfWork for OutboxWork {
    fn run<'a>(
        &'a self,
        tx: &'a mut dyn StoreTransaction,
        written: &'a AppendResult,
    ) -> WorkFuture<'a> {
        async move {
            let rows = self.writer.rows(&self.recorded(written))?;
            if rows.is_empty() {
                return Ok(());
            }
            let backend = tx.backend();
            if !self.writer.store.write_in(tx, &rows).await? {
                return Err(OutboxError::ForeignTransaction { backend }.into());
            }
            Ok(())
        }
        .boxed()
    }
}

/// An event store that writes outbox messages in every append's
/// transaction, whoever appends: dispatched commands, saved aggregates, or
/// the application's own calls on `Mink::store`.
pub struct OutboxEventStore {
    inner: Arc<dyn EventStore>,
    writer: OutboxWriter,
}

impl std::fmt::Debug for OutboxEventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxEventStore")
            .field("routes", &self.writer)
            .finish_non_exhaustive()
    }
}

impl OutboxEventStore {
    /// Wraps `inner`, writing the messages of `writer`'s routes in its
    /// appends.
    pub fn new(inner: Arc<dyn EventStore>, writer: OutboxWriter) -> Self {
        OutboxEventStore { inner, writer }
    }
}

#[async_trait]
impl EventStore for OutboxEventStore {
    async fn append_to_streams(&self, appends: Vec<StreamAppend>) -> Result<AppendResult> {
        let work = self.writer.work_for(&appends);
        self.inner.append_with(appends, &work).await
    }

    async fn append_with(
        &self,
        appends: Vec<StreamAppend>,
        work: &dyn UnitOfWork,
    ) -> Result<AppendResult> {
        let both = ThenWork {
            first: self.writer.work_for(&appends),
            then: work,
        };
        self.inner.append_with(appends, &both).await
    }

    async fn read_stream_forward(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        self.inner
            .read_stream_forward(stream_id, from_version, limit)
            .await
    }

    async fn read_all_forward(&self, request: ReadAll) -> Result<Vec<RecordedEvent>> {
        self.inner.read_all_forward(request).await
    }

    async fn stream_info(&self, stream_id: &str) -> Result<Option<StreamInfo>> {
        self.inner.stream_info(stream_id).await
    }

    async fn head_position(&self) -> Result<Position> {
        self.inner.head_position().await
    }

    async fn wait_until_visible(&self, position: Position, timeout: Duration) -> Result<()> {
        self.inner.wait_until_visible(position, timeout).await
    }

    fn log_changes(&self) -> LogChanges {
        self.inner.log_changes()
    }

    fn projection_store(&self) -> Option<Arc<dyn ProjectionStore>> {
        self.inner.projection_store()
    }

    fn outbox_store(&self) -> Option<Arc<dyn OutboxStore>> {
        self.inner.outbox_store()
    }

    fn saga_store(&self) -> Option<Arc<dyn crate::store::SagaStore>> {
        self.inner.saga_store()
    }
}
