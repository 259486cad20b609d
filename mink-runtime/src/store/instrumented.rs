//! [`InstrumentedStore`]: metrics and a span for every call on any
//! [`EventStore`], named after OpenTelemetry's database conventions.
//!
//! Every call records, through the `metrics` facade:
//!
//! | metric | kind | labels |
//! | --- | --- | --- |
//! | [`STORE_OPERATIONS_TOTAL`] | counter | `store`, `operation`, `category`, `outcome` |
//! | [`STORE_OPERATION_DURATION_SECONDS`] | histogram | `store`, `operation`, `category`, `outcome` |
//! | [`STORE_EVENTS_TOTAL`] | counter | `store`, `operation`, `category` |
//! | [`STORE_BYTES_TOTAL`] | counter | `store`, `operation`, `category` |
//! | [`STORE_CONFLICTS_TOTAL`] | counter | `store`, `category` |
//!
//! and opens a `mink.store` span (OpenTelemetry name `"{operation}
//! {category}"`, kind client; at `INFO` level for appends, `DEBUG` for the
//! rest, which idle projections call many times a second) with the attributes `db.system.name`,
//! `db.operation.name`, `db.collection.name`, `db.response.returned_rows`
//! and, on failure, `error.type`. Neither ever carries an event's payload
//! or metadata: only sizes and counts.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tracing::Instrument;

use super::{
    AppendResult, EventStore, LogChanges, ProjectionStore, ReadAll, StreamAppend, StreamInfo,
    UnitOfWork,
};
use crate::error::{Error, Result};
use crate::event::{ExpectedVersion, NewEvent, Position, RecordedEvent, category_of};

/// Counter: calls on the store, by `store`, `operation`, `category` and
/// `outcome` (`ok`, `conflict`, or the error's kind).
pub const STORE_OPERATIONS_TOTAL: &str = "mink_store_operations_total";
/// Histogram: how long calls on the store took, in seconds (labels as
/// [`STORE_OPERATIONS_TOTAL`]).
pub const STORE_OPERATION_DURATION_SECONDS: &str = "mink_store_operation_duration_seconds";
/// Counter: events appended or read, by `store`, `operation` and
/// `category`.
pub const STORE_EVENTS_TOTAL: &str = "mink_store_events_total";
/// Counter: payload bytes of the events appended or read, by `store`,
/// `operation` and `category`.
pub const STORE_BYTES_TOTAL: &str = "mink_store_bytes_total";
/// Counter: appends refused by a concurrency conflict, by `store` and
/// `category`.
pub const STORE_CONFLICTS_TOTAL: &str = "mink_store_conflicts_total";

/// The `operation` label of appends (with or without a unit of work).
pub const OPERATION_APPEND: &str = "append";
/// The `operation` label of stream reads.
pub const OPERATION_READ_STREAM: &str = "read_stream";
/// The `operation` label of reads of the global log.
pub const OPERATION_READ_ALL: &str = "read_all";
/// The `operation` label of stream descriptions.
pub const OPERATION_STREAM_INFO: &str = "stream_info";
/// The `operation` label of head position reads.
pub const OPERATION_HEAD_POSITION: &str = "head_position";
/// The `operation` label of waits for a position to become visible.
pub const OPERATION_WAIT_UNTIL_VISIBLE: &str = "wait_until_visible";

/// An [`EventStore`] that measures every call on the store it wraps and
/// passes it on unchanged: see the [module docs](self) for what it
/// records.
///
/// `system` names the store in the `store` label and the
/// `db.system.name` attribute: `"memory"`, `"sqlite"`, `"postgres"`, or
/// any name of your own.
///
/// # Examples
///
/// ```
/// use mink_runtime::adapters::memory::InMemoryStore;
/// use mink_runtime::store::InstrumentedStore;
/// use mink_runtime::{EventStore, ExpectedVersion, NewEvent};
///
/// # tokio_test_block(async {
/// let store = InstrumentedStore::new(InMemoryStore::new(), "memory");
/// store
///     .append_to_stream("order-1", ExpectedVersion::NoStream, vec![NewEvent::new("Created", b"{}".to_vec())])
///     .await
///     .unwrap();
/// // mink_store_operations_total{store="memory",operation="append",category="order",outcome="ok"} 1
/// # });
/// # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct InstrumentedStore<S> {
    inner: S,
    system: &'static str,
}

impl<S: EventStore> InstrumentedStore<S> {
    /// Wraps `inner`, naming it `system` in labels and spans.
    pub fn new(inner: S, system: &'static str) -> Self {
        InstrumentedStore { inner, system }
    }

    /// The store's name in labels and spans.
    pub fn system(&self) -> &'static str {
        self.system
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Unwraps the store.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// Runs one call on the inner store under a span, and records its
    /// metrics. `sizes` gives the events and payload bytes of a success.
    async fn observe<T>(
        &self,
        operation: &'static str,
        category: &str,
        call: impl Future<Output = Result<T>>,
        sizes: impl FnOnce(&T) -> Option<(u64, u64)>,
    ) -> Result<T> {
        // Appends at INFO; reads at DEBUG, since idle projections poll the
        // log and its head many times a second.
        macro_rules! store_span {
            ($level:expr) => {
                tracing::span!(
                    $level,
                    "mink.store",
                    otel.name = %format_args!("{operation} {category}"),
                    otel.kind = "client",
                    db.system.name = self.system,
                    db.operation.name = operation,
                    db.collection.name = category,
                    db.response.returned_rows = tracing::field::Empty,
                    error.type = tracing::field::Empty,
                    otel.status_code = tracing::field::Empty,
                )
            };
        }
        let span = if operation == OPERATION_APPEND {
            store_span!(tracing::Level::INFO)
        } else {
            store_span!(tracing::Level::DEBUG)
        };
        let started = Instant::now();
        let result = call.instrument(span.clone()).await;
        let elapsed = started.elapsed().as_secs_f64();
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => error_kind(e),
        };
        let labels = [
            ("store", self.system.to_owned()),
            ("operation", operation.to_owned()),
            ("category", category.to_owned()),
            ("outcome", outcome.to_owned()),
        ];
        metrics::counter!(STORE_OPERATIONS_TOTAL, &labels).increment(1);
        metrics::histogram!(STORE_OPERATION_DURATION_SECONDS, &labels).record(elapsed);
        match &result {
            Ok(value) => {
                if let Some((events, bytes)) = sizes(value) {
                    let labels = &labels[..3];
                    metrics::counter!(STORE_EVENTS_TOTAL, labels).increment(events);
                    metrics::counter!(STORE_BYTES_TOTAL, labels).increment(bytes);
                    span.record("db.response.returned_rows", events);
                }
            }
            Err(e) => {
                if e.is_concurrency_conflict() {
                    let labels = [
                        ("store", self.system.to_owned()),
                        ("category", category.to_owned()),
                    ];
                    metrics::counter!(STORE_CONFLICTS_TOTAL, &labels).increment(1);
                }
                span.record("error.type", outcome);
                span.record("otel.status_code", "error");
            }
        }
        result
    }
}

/// The category of an append: the one its streams share, else empty.
fn append_category(appends: &[StreamAppend]) -> String {
    let mut categories = appends.iter().map(|a| category_of(&a.stream_id));
    match categories.next() {
        Some(first) if categories.all(|c| c == first) => first.to_owned(),
        _ => String::new(),
    }
}

/// The category a read of the log asks for: its one category filter, else
/// empty.
fn read_category(request: &ReadAll) -> String {
    match request.filter.categories.as_slice() {
        [one] => one.clone(),
        _ => String::new(),
    }
}

fn new_sizes(appends: &[StreamAppend]) -> (u64, u64) {
    let events = appends.iter().flat_map(|a| &a.events);
    events.fold((0, 0), |(n, bytes), e: &NewEvent| {
        (n + 1, bytes + e.payload.len() as u64)
    })
}

fn recorded_sizes(events: &[RecordedEvent]) -> (u64, u64) {
    let bytes = events.iter().map(|e| e.payload.len() as u64).sum();
    (events.len() as u64, bytes)
}

/// The `outcome` label and `error.type` attribute of a failed call.
fn error_kind(error: &Error) -> &'static str {
    match error {
        Error::ConcurrencyConflict { .. } => "conflict",
        Error::StreamNotFound { .. } => "stream_not_found",
        Error::UnknownEventType { .. } => "unknown_event_type",
        Error::Serialization { .. } => "serialization",
        Error::Deserialization { .. } => "deserialization",
        Error::InvalidInput { .. } => "invalid_input",
        Error::DuplicateEventId { .. } => "duplicate_event_id",
        Error::DuplicateEventType { .. } => "duplicate_event_type",
        Error::UnitOfWork(_) => "unit_of_work",
        Error::NotVisible { .. } => "not_visible",
        Error::Configuration(_) => "configuration",
        Error::Undecodable { .. } => "undecodable",
        Error::Unavailable(_) => "unavailable",
        Error::LeaseLost { .. } => "lease_lost",
        Error::Backend(_) => "backend",
        _ => "error",
    }
}

#[async_trait]
impl<S: EventStore> EventStore for InstrumentedStore<S> {
    async fn append_to_streams(&self, appends: Vec<StreamAppend>) -> Result<AppendResult> {
        let category = append_category(&appends);
        let sizes = new_sizes(&appends);
        self.observe(
            OPERATION_APPEND,
            &category,
            self.inner.append_to_streams(appends),
            |_| Some(sizes),
        )
        .await
    }

    async fn append_with(
        &self,
        appends: Vec<StreamAppend>,
        work: &dyn UnitOfWork,
    ) -> Result<AppendResult> {
        let category = append_category(&appends);
        let sizes = new_sizes(&appends);
        self.observe(
            OPERATION_APPEND,
            &category,
            self.inner.append_with(appends, work),
            |_| Some(sizes),
        )
        .await
    }

    async fn append_to_stream(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult> {
        let sizes = events.iter().fold((0, 0), |(n, bytes), e| {
            (n + 1, bytes + e.payload.len() as u64)
        });
        self.observe(
            OPERATION_APPEND,
            category_of(stream_id),
            self.inner.append_to_stream(stream_id, expected, events),
            |_| Some(sizes),
        )
        .await
    }

    async fn read_stream_forward(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        self.observe(
            OPERATION_READ_STREAM,
            category_of(stream_id),
            self.inner
                .read_stream_forward(stream_id, from_version, limit),
            |events| Some(recorded_sizes(events)),
        )
        .await
    }

    async fn read_all_forward(&self, request: ReadAll) -> Result<Vec<RecordedEvent>> {
        let category = read_category(&request);
        self.observe(
            OPERATION_READ_ALL,
            &category,
            self.inner.read_all_forward(request),
            |events| Some(recorded_sizes(events)),
        )
        .await
    }

    async fn stream_info(&self, stream_id: &str) -> Result<Option<StreamInfo>> {
        self.observe(
            OPERATION_STREAM_INFO,
            category_of(stream_id),
            self.inner.stream_info(stream_id),
            |_| None,
        )
        .await
    }

    async fn head_position(&self) -> Result<Position> {
        self.observe(
            OPERATION_HEAD_POSITION,
            "",
            self.inner.head_position(),
            |_| None,
        )
        .await
    }

    async fn wait_until_visible(&self, position: Position, timeout: Duration) -> Result<()> {
        self.observe(
            OPERATION_WAIT_UNTIL_VISIBLE,
            "",
            self.inner.wait_until_visible(position, timeout),
            |_| None,
        )
        .await
    }

    fn log_changes(&self) -> LogChanges {
        self.inner.log_changes()
    }

    fn projection_store(&self) -> Option<Arc<dyn ProjectionStore>> {
        self.inner.projection_store()
    }

    fn outbox_store(&self) -> Option<Arc<dyn super::OutboxStore>> {
        self.inner.outbox_store()
    }

    fn saga_store(&self) -> Option<Arc<dyn super::SagaStore>> {
        self.inner.saga_store()
    }
}
