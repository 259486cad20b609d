//! What runs at the bottom of the bus: loading aggregates, running
//! handlers, appending their events. [`Runtime`] implements the command
//! layer's [`Execute`].

use std::sync::Arc;

use futures::future::FutureExt;
use tracing::Instrument;
use uuid::Uuid;

use super::registry::Registry;
use crate::aggregate::{Aggregate, AggregateCache, Event, Tracked};
use crate::command::{
    Command, CommandError, CommandResult, Context, DispatchError, Execute, ExecuteFuture,
    HandlerContext, Handles, PlainHandler, Rejection, ResultRecord,
};
use crate::error::Result;
use crate::event::{ExpectedVersion, Serializer};
use crate::store::{
    AppendResult, AppendedStream, EventStore, StoreTransaction, StreamAppend, UnitOfWork,
    WorkFuture,
};

/// How many events one read of a stream fetches while loading an aggregate.
const LOAD_PAGE: usize = 4096;

/// Everything command execution needs, shared by every command in flight.
pub(super) struct Runtime<S> {
    pub(super) store: Arc<dyn EventStore>,
    pub(super) serializer: S,
    pub(super) registry: Registry,
    pub(super) work: Vec<Arc<dyn UnitOfWork>>,
    /// Recently loaded aggregates, when the application keeps them.
    pub(super) cache: Option<Arc<AggregateCache>>,
    /// Runs one aggregate's commands one at a time, when asked.
    pub(super) queue: Option<Arc<AggregateQueue>>,
}

/// Striped locks by stream id: a command holds its aggregate's stripe from
/// load to append, so commands to one aggregate in this instance take turns
/// instead of conflicting.
pub(crate) struct AggregateQueue {
    stripes: Vec<tokio::sync::Mutex<()>>,
}

impl AggregateQueue {
    pub(super) fn new(stripes: usize) -> Self {
        AggregateQueue {
            stripes: (0..stripes.max(1))
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        }
    }

    /// Waits for the turn of `stream_id`.
    async fn turn(&self, stream_id: &str) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        stream_id.hash(&mut hasher);
        let stripe = (hasher.finish() % self.stripes.len() as u64) as usize;
        self.stripes[stripe].lock().await
    }
}

impl<S: Serializer> Runtime<S> {
    pub(super) async fn load_or_new<A: Aggregate>(&self, id: &str) -> Result<Tracked<A>> {
        let span = tracing::info_span!(
            "mink.load",
            category = A::CATEGORY,
            aggregate_id = id,
            version = tracing::field::Empty,
        );
        let loaded = self.replay::<A>(id).instrument(span.clone()).await;
        if let Ok(tracked) = &loaded {
            span.record("version", tracked.version());
        }
        loaded
    }

    async fn replay<A: Aggregate>(&self, id: &str) -> Result<Tracked<A>> {
        let Some(cache) = &self.cache else {
            return self.fold(Tracked::<A>::new(id)?).await;
        };
        let stream_id = A::stream_id(id);
        let start = match cache.get::<A>(id, &stream_id) {
            Some(cached) => cached,
            None => Tracked::<A>::new(id)?,
        };
        let tracked = self.fold(start).await?;
        cache.put(&tracked);
        Ok(tracked)
    }

    /// Folds the events stored after `tracked`'s version into it.
    async fn fold<A: Aggregate>(&self, mut tracked: Tracked<A>) -> Result<Tracked<A>> {
        let mut next = tracked.version() + 1;
        loop {
            let page = self
                .store
                .read_stream_forward(tracked.stream_id(), next, LOAD_PAGE)
                .await?;
            for recorded in &page {
                let event = A::Event::from_recorded(recorded, &self.serializer)?;
                tracked.replay(&event, recorded.version);
            }
            if page.len() < LOAD_PAGE {
                return Ok(tracked);
            }
            next += page.len() as u64;
        }
    }

    /// Appends `events` for `aggregate` (expecting its loaded version), with
    /// the units of work in the same transaction, and marks them committed.
    /// Returns the append result and the event ids.
    pub(super) async fn append_events<A: Aggregate>(
        &self,
        aggregate: &mut Tracked<A>,
        events: &[A::Event],
        context: &Context,
    ) -> Result<(AppendResult, Vec<Uuid>)> {
        self.append_events_with(aggregate, events, context, None)
            .await
    }

    /// Like [`append_events`](Self::append_events), also recording the
    /// command's result in the append transaction when `outcome` asks.
    async fn append_events_with<A: Aggregate>(
        &self,
        aggregate: &mut Tracked<A>,
        events: &[A::Event],
        context: &Context,
        outcome: Option<RecordResult>,
    ) -> Result<(AppendResult, Vec<Uuid>)> {
        if events.is_empty() {
            return self
                .append_in_span(aggregate, events, context, outcome)
                .await;
        }
        // The span is current while the metadata is built, so each event
        // records it as its trace parent.
        let span = tracing::info_span!(
            "mink.append",
            stream_id = aggregate.stream_id(),
            expected_version = aggregate.version(),
            events = events.len(),
            outcome = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        let appended = self
            .append_in_span(aggregate, events, context, outcome)
            .instrument(span.clone())
            .await;
        match &appended {
            Ok(_) => span.record("outcome", "ok"),
            Err(e) if e.is_concurrency_conflict() => span.record("outcome", "conflict"),
            Err(_) => span
                .record("outcome", "error")
                .record("otel.status_code", "error"),
        };
        appended
    }

    async fn append_in_span<A: Aggregate>(
        &self,
        aggregate: &mut Tracked<A>,
        events: &[A::Event],
        context: &Context,
        outcome: Option<RecordResult>,
    ) -> Result<(AppendResult, Vec<Uuid>)> {
        if events.is_empty() {
            let unchanged =
                AppendedStream::after(aggregate.stream_id(), aggregate.version(), vec![]);
            let result = AppendResult {
                streams: vec![unchanged],
            };
            return Ok((result, Vec::new()));
        }
        let metadata = context.event_metadata();
        let encoded = events
            .iter()
            .map(|e| e.to_new_event(&self.serializer, metadata.clone()))
            .collect::<Result<Vec<_>>>()?;
        let ids: Vec<Uuid> = encoded.iter().map(|e| e.event_id).collect();
        let append = vec![StreamAppend::new(
            aggregate.stream_id(),
            ExpectedVersion::Exact(aggregate.version()),
            encoded,
        )];
        let result = match outcome {
            None if self.work.is_empty() => self.store.append_to_streams(append).await?,
            None => self.store.append_with(append, &self.work).await?,
            Some(outcome) => {
                let work = AppendWork {
                    application: self.work.clone(),
                    outcome,
                    event_ids: ids.clone(),
                };
                self.store.append_with(append, &work).await?
            }
        };
        let version = result
            .streams
            .first()
            .map_or(aggregate.version(), |s| s.last_version);
        aggregate.committed(version);
        Ok((result, ids))
    }

    async fn run_on_aggregate<C>(
        &self,
        command: C,
        aggregate_id: String,
        context: Context,
        record: Option<Arc<ResultRecord>>,
    ) -> std::result::Result<CommandResult, CommandError>
    where
        C: Command,
        C::Aggregate: Handles<C>,
    {
        let stream_id = <C::Aggregate as Aggregate>::stream_id(&aggregate_id);
        let _turn = match &self.queue {
            Some(queue) => Some(queue.turn(&stream_id).await),
            None => None,
        };
        let mut aggregate = self.load_or_new::<C::Aggregate>(&aggregate_id).await?;
        let handled = tracing::info_span!(
            "mink.handle",
            command = C::NAME,
            aggregate_id = aggregate_id.as_str(),
            events = tracing::field::Empty,
            outcome = tracing::field::Empty,
        );
        let events = handled
            .in_scope(|| aggregate.state().handle(command))
            .map_err(|e| DispatchError::Rejected(Rejection::new(e)));
        match &events {
            Ok(events) => handled
                .record("events", events.len())
                .record("outcome", "ok"),
            Err(_) => handled.record("outcome", "rejected"),
        };
        let events = events?;
        let outcome = record.map(|record| RecordResult {
            record,
            command: C::NAME,
            aggregate_id: aggregate_id.clone(),
        });
        let (_, event_ids) = self
            .append_events_with(&mut aggregate, &events, &context, outcome)
            .await?;
        Ok(CommandResult {
            command: C::NAME.to_owned(),
            stream_id: Some(aggregate.stream_id().to_owned()),
            version: Some(aggregate.version()),
            aggregate_id: Some(aggregate_id),
            event_ids,
        })
    }
}

/// What the idempotency layer asked to record: the key's record and what
/// the command's result is made of.
struct RecordResult {
    record: Arc<ResultRecord>,
    command: &'static str,
    aggregate_id: String,
}

/// The application's units of work, then the command's result record, in
/// one append transaction.
struct AppendWork {
    application: Vec<Arc<dyn UnitOfWork>>,
    outcome: RecordResult,
    event_ids: Vec<Uuid>,
}

impl UnitOfWork for AppendWork {
    fn run<'a>(
        &'a self,
        tx: &'a mut dyn StoreTransaction,
        written: &'a AppendResult,
    ) -> WorkFuture<'a> {
        async move {
            self.application.run(&mut *tx, written).await?;
            let Some(stream) = written.streams.first() else {
                return Ok(());
            };
            let result = CommandResult {
                command: self.outcome.command.to_owned(),
                aggregate_id: Some(self.outcome.aggregate_id.clone()),
                stream_id: Some(stream.stream_id.clone()),
                version: Some(stream.last_version),
                event_ids: self.event_ids.clone(),
            };
            self.outcome.record.record_in(tx, &result).await?;
            Ok(())
        }
        .boxed()
    }
}

impl<S: Serializer> Execute for Runtime<S> {
    fn execute_on_aggregate<C>(
        self: Arc<Self>,
        command: C,
        aggregate_id: String,
        context: Context,
        record: Option<Arc<ResultRecord>>,
    ) -> ExecuteFuture
    where
        C: Command,
        C::Aggregate: Handles<C>,
    {
        let span = command_span(C::NAME, Some(&aggregate_id));
        async move {
            self.run_on_aggregate(command, aggregate_id, context, record)
                .await
        }
        .instrument(span)
        .boxed()
    }

    fn execute_plain<C: PlainHandler>(
        self: Arc<Self>,
        command: C,
        aggregate_id: Option<String>,
        context: Context,
    ) -> ExecuteFuture {
        let ctx = HandlerContext {
            context,
            store: Arc::clone(&self.store),
        };
        let span = command_span(C::NAME, aggregate_id.as_deref());
        command
            .handle(ctx)
            .instrument(span)
            .map(move |r| match r {
                Ok(()) => Ok(CommandResult {
                    command: C::NAME.to_owned(),
                    aggregate_id,
                    stream_id: None,
                    version: None,
                    event_ids: Vec::new(),
                }),
                Err(e) => Err(DispatchError::Rejected(Rejection::new(e))),
            })
            .boxed()
    }
}

/// The `mink.command` span around one command's execution: the parent of
/// its load, handle and append spans (and a child of the bus's
/// `mink.dispatch` span when the `TracingLayer` is installed).
fn command_span(command: &'static str, aggregate_id: Option<&str>) -> tracing::Span {
    tracing::info_span!(
        "mink.command",
        command,
        aggregate_id = aggregate_id.unwrap_or(""),
    )
}
