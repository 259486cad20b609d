//! Inline projections: run inside the append transaction, so that their
//! read-model writes commit with the events, and their failure fails the
//! append with nothing stored.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use futures::FutureExt;
use tracing::Instrument;

use super::handler::{Projection, ProjectionContext, ProjectionKind};
use super::worker::{handling_span, panic_message};
use crate::error::{BoxError, Error, Result};
use crate::event::{NewEvent, Position, RecordedEvent};
use crate::store::{
    AppendResult, EventStore, LogChanges, ProjectionStore, ReadAll, StoreTransaction, StreamAppend,
    StreamInfo, ThenWork, UnitOfWork, WorkFuture,
};

/// An inline projection failed on an event: the append was rolled back.
/// It reaches the caller as the source of [`Error::UnitOfWork`].
#[derive(Debug, thiserror::Error)]
#[error(
    "inline projection `{projection}` failed on `{event_type}` at {position} (stream `{stream}`): {source}"
)]
pub struct ProjectionFailed {
    /// The projection.
    pub projection: String,
    /// The event's type name.
    pub event_type: String,
    /// The event's stream.
    pub stream: String,
    /// The position the event would have had.
    pub position: Position,
    /// The handler's error.
    #[source]
    pub source: BoxError,
}

/// The inline projections of an application, in the order they were added.
#[derive(Clone, Default)]
pub struct InlineProjections {
    projections: Vec<(Arc<dyn Projection>, Vec<&'static str>)>,
}

impl std::fmt::Debug for InlineProjections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.projections.iter().map(|(p, _)| p.name()))
            .finish()
    }
}

impl InlineProjections {
    /// No projections.
    pub fn new() -> Self {
        InlineProjections::default()
    }

    /// Adds an inline projection; fails with [`Error::Configuration`] for
    /// another kind, or a name already added.
    pub fn add(&mut self, projection: Arc<dyn Projection>) -> Result<()> {
        if projection.kind() != ProjectionKind::Inline {
            return Err(Error::Configuration(format!(
                "projection `{}` is {}, not inline",
                projection.name(),
                projection.kind()
            )));
        }
        if self
            .projections
            .iter()
            .any(|(p, _)| p.name() == projection.name())
        {
            return Err(Error::Configuration(format!(
                "two projections are named `{}`; projection names must be unique",
                projection.name()
            )));
        }
        let types = projection.event_types();
        self.projections.push((projection, types));
        Ok(())
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.projections.is_empty()
    }

    /// The names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.projections.iter().map(|(p, _)| p.name())
    }

    /// Applies `events` to every projection that handles them, in `tx`.
    /// The first failure (a handler's error or panic) stops and is
    /// returned as a [`ProjectionFailed`].
    pub async fn apply(
        &self,
        tx: &mut dyn StoreTransaction,
        events: &[RecordedEvent],
    ) -> std::result::Result<(), BoxError> {
        for event in events {
            for (projection, types) in &self.projections {
                if !types.contains(&event.event_type.as_str()) {
                    continue;
                }
                let outcome = {
                    let mut ctx = ProjectionContext::new(
                        projection.name(),
                        ProjectionKind::Inline,
                        Some(&mut *tx),
                    );
                    // Inside the append: the current span (the append's)
                    // is the parent.
                    let span = handling_span(projection.name(), ProjectionKind::Inline, event);
                    AssertUnwindSafe(projection.handle(event, &mut ctx))
                        .catch_unwind()
                        .instrument(span)
                        .await
                };
                let source: BoxError = match outcome {
                    Ok(Ok(())) => continue,
                    Ok(Err(e)) => e.into_source(),
                    Err(panic) => format!("the handler panicked: {}", panic_message(&panic)).into(),
                };
                return Err(Box::new(ProjectionFailed {
                    projection: projection.name().to_owned(),
                    event_type: event.event_type.clone(),
                    stream: event.stream_id.clone(),
                    position: event.position,
                    source,
                }));
            }
        }
        Ok(())
    }

    /// A unit of work applying the events of `appends` in the append
    /// transaction, once the store has placed them.
    pub fn work_for(&self, appends: &[StreamAppend]) -> InlineWork {
        InlineWork {
            projections: self.clone(),
            appends: appends
                .iter()
                .map(|a| (a.stream_id.clone(), a.events.clone()))
                .collect(),
        }
    }
}

/// The inline projections of one append, as a [`UnitOfWork`].
#[derive(Debug)]
pub struct InlineWork {
    projections: InlineProjections,
    appends: Vec<(String, Vec<NewEvent>)>,
}

impl InlineWork {
    /// The appended events as the store recorded them. The timestamp is the
    /// work's clock, within the append's transaction.
    fn recorded(&self, written: &AppendResult) -> Vec<RecordedEvent> {
        let now = Utc::now();
        let mut events = Vec::new();
        for ((stream_id, new), stream) in self.appends.iter().zip(&written.streams) {
            for (event, at) in new.iter().zip(&stream.events) {
                events.push(RecordedEvent {
                    event_id: at.event_id,
                    stream_id: stream_id.clone(),
                    version: at.version,
                    position: at.position,
                    event_type: event.event_type.clone(),
                    schema_version: event.schema_version,
                    payload: event.payload.clone(),
                    content_type: event.content_type.clone(),
                    metadata: event.metadata.clone(),
                    timestamp: now,
                });
            }
        }
        events
    }
}

impl UnitOfWork for InlineWork {
    fn run<'a>(
        &'a self,
        tx: &'a mut dyn StoreTransaction,
        written: &'a AppendResult,
    ) -> WorkFuture<'a> {
        async move {
            let events = self.recorded(written);
            self.projections.apply(tx, &events).await
        }
        .boxed()
    }
}

/// An event store that runs inline projections in every append's
/// transaction, whoever appends: dispatched commands, saved aggregates,
/// plain handlers, or the application's own calls on
/// `Mink::store`.
pub struct InlineStore {
    inner: Arc<dyn EventStore>,
    projections: InlineProjections,
}

impl std::fmt::Debug for InlineStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineStore")
            .field("projections", &self.projections)
            .finish_non_exhaustive()
    }
}

impl InlineStore {
    /// Wraps `inner`, running `projections` in its appends.
    pub fn new(inner: Arc<dyn EventStore>, projections: InlineProjections) -> Self {
        InlineStore { inner, projections }
    }

    /// The inline projections it runs.
    pub fn projections(&self) -> &InlineProjections {
        &self.projections
    }
}

#[async_trait]
impl EventStore for InlineStore {
    async fn append_to_streams(&self, appends: Vec<StreamAppend>) -> Result<AppendResult> {
        let work = self.projections.work_for(&appends);
        self.inner.append_with(appends, &work).await
    }

    async fn append_with(
        &self,
        appends: Vec<StreamAppend>,
        work: &dyn UnitOfWork,
    ) -> Result<AppendResult> {
        let both = ThenWork {
            first: self.projections.work_for(&appends),
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

    fn outbox_store(&self) -> Option<Arc<dyn crate::store::OutboxStore>> {
        self.inner.outbox_store()
    }

    fn saga_store(&self) -> Option<Arc<dyn crate::store::SagaStore>> {
        self.inner.saga_store()
    }
}
