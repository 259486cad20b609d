//! The contract every [`EventStore`] adapter passes, written once against
//! `Arc<dyn EventStore>`. An adapter is done when the whole suite passes.
//!
//! # Instantiating it
//!
//! Write an async factory that returns a **fresh, empty** store enforcing
//! the given [`Limits`], or `None` when the adapter cannot run here (no
//! database server configured, say), then expand the suite in a test
//! module:
//!
//! ```ignore
//! async fn memory_store(limits: mink::Limits) -> Option<Arc<dyn mink::EventStore>> {
//!     Some(Arc::new(mink::InMemoryStore::with_limits(limits)))
//! }
//!
//! mink_tests::conformance_suite!(memory_store);
//! ```
//!
//! The macro takes one path to an `async fn(Limits) -> Option<Arc<dyn
//! EventStore>>` (its future must be `Send + 'static`). It expands to one
//! `#[tokio::test(flavor = "multi_thread", worker_threads = 4)]` per case,
//! named after the case, each of which:
//!
//! 1. calls the factory with [`Limits::default()`]; on `None` it prints
//!    `skipped: <case> (store unavailable)` and returns;
//! 2. otherwise runs the `pub async fn <case>(Harness)` of this module.
//!
//! A case may ask the [`Harness`] for more fresh stores (with other limits);
//! the factory is then called again and must not return `None`. The crate
//! using the macro needs `tokio` with the `macros` and `rt-multi-thread`
//! features. To keep a resource (a temp dir, a database schema) alive as
//! long as a store, wrap the store with [`keep_alive`].
//!
//! # What the suite assumes beyond the trait's documentation
//!
//! - Payloads are bytes: a store returns exactly what it was given, or —
//!   for a JSON-only store such as PostgreSQL's `jsonb` column — refuses a
//!   non-JSON payload with `Error::InvalidInput { field: "payload", .. }`
//!   and writes nothing ([`binary_payload_round_trips`]). JSON payloads are
//!   compared as JSON values, so a store may normalize their spelling.
//! - Within one append call, events enter the global log in request order:
//!   stream by stream, event by event.
//! - Positions strictly increase along the log; they need not be
//!   contiguous.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mink::{
    AppendResult, AppendedStream, BoxError, Error, Event, EventMetadata, EventStore,
    ExpectedVersion, JsonSerializer, Limits, NewEvent, Position, ReadAll, ReadFilter,
    RecordedEvent, Serializer, StreamAppend, StreamInfo, async_trait,
};
use serde_json::{Value, json};
use tokio::sync::Barrier;

/// Expands the conformance suite for one adapter; see the [module
/// documentation](crate::conformance) for the factory it takes.
#[macro_export]
macro_rules! conformance_suite {
    ($factory:path) => {
        $crate::conformance_suite!(@cases $factory;
            expected_versions,
            missing_stream_reads_empty,
            read_stream_from_version,
            read_all_after_position,
            filter_by_event_type,
            filter_by_category,
            filter_by_stream,
            filter_combined,
            multi_stream_append_is_atomic,
            same_stream_twice_is_refused,
            racing_writers_one_stream,
            racing_writers_many_streams,
            positions_increase_and_head_agrees,
            metadata_round_trips,
            timestamps_round_trip,
            large_payload_round_trips,
            binary_payload_round_trips,
            unicode_stream_ids,
            oversized_event_is_refused,
            bad_stream_ids_and_event_types_are_refused,
            undecodable_payload_is_a_typed_error,
            appending_zero_events,
            stream_info_reports_versions_and_times,
            random_appends_match_reference_model,
        );
    };
    (@cases $factory:path; $($case:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let ::core::option::Option::Some(harness) =
                    $crate::conformance::Harness::start($factory).await
                else {
                    ::std::println!("skipped: {} (store unavailable)", ::core::stringify!($case));
                    return;
                };
                $crate::conformance::$case(harness).await;
            }
        )+
    };
}

// ---------------------------------------------------------------------------
// Harness

/// What a factory returns, boxed.
pub type StoreFuture = Pin<Box<dyn Future<Output = Option<Arc<dyn EventStore>>> + Send>>;

type Factory = Box<dyn Fn(Limits) -> StoreFuture + Send + Sync>;

/// A fresh store for one case, and the factory for more.
pub struct Harness {
    store: Arc<dyn EventStore>,
    factory: Factory,
}

impl Harness {
    /// Makes the first store with default limits; `None` when the adapter is
    /// unavailable.
    pub async fn start<F, Fut>(factory: F) -> Option<Harness>
    where
        F: Fn(Limits) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<Arc<dyn EventStore>>> + Send + 'static,
    {
        let factory: Factory = Box::new(move |limits| Box::pin(factory(limits)));
        let store = factory(Limits::default()).await?;
        Some(Harness { store, factory })
    }

    /// The fresh store made with default limits.
    pub fn store(&self) -> Arc<dyn EventStore> {
        Arc::clone(&self.store)
    }

    /// Another fresh, empty store enforcing `limits`.
    ///
    /// # Panics
    ///
    /// When the factory, which gave the first store, now returns `None`.
    pub async fn fresh_store(&self, limits: Limits) -> Arc<dyn EventStore> {
        match (self.factory)(limits).await {
            Some(store) => store,
            None => panic!("the store factory gave a first store, then none"),
        }
    }
}

/// Wraps `store` so that `guard` lives exactly as long as it (dropped after
/// the store): a temp dir holding a database file, a schema to drop.
pub fn keep_alive<S, G>(store: S, guard: G) -> Arc<dyn EventStore>
where
    S: EventStore,
    G: Send + Sync + 'static,
{
    Arc::new(KeepAlive {
        store,
        _guard: guard,
    })
}

/// A store and what must outlive it. Fields drop in order: store first.
struct KeepAlive<S, G> {
    store: S,
    _guard: G,
}

#[async_trait]
impl<S: EventStore, G: Send + Sync + 'static> EventStore for KeepAlive<S, G> {
    async fn append_to_streams(&self, appends: Vec<StreamAppend>) -> mink::Result<AppendResult> {
        self.store.append_to_streams(appends).await
    }
    async fn read_stream_forward(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> mink::Result<Vec<RecordedEvent>> {
        self.store
            .read_stream_forward(stream_id, from_version, limit)
            .await
    }
    async fn read_all_forward(&self, request: ReadAll) -> mink::Result<Vec<RecordedEvent>> {
        self.store.read_all_forward(request).await
    }
    async fn stream_info(&self, stream_id: &str) -> mink::Result<Option<StreamInfo>> {
        self.store.stream_info(stream_id).await
    }
    async fn head_position(&self) -> mink::Result<Position> {
        self.store.head_position().await
    }
}

// ---------------------------------------------------------------------------
// Helpers

/// An event of type `event_type` whose payload is `payload` as JSON.
fn event(event_type: &str, payload: Value) -> NewEvent {
    NewEvent::new(event_type, payload.to_string().into_bytes())
}

/// `n` events of type `event_type` with payloads `{"n": 1}`, `{"n": 2}`, …
fn numbered(event_type: &str, n: u64) -> Vec<NewEvent> {
    (1..=n)
        .map(|i| event(event_type, json!({ "n": i })))
        .collect()
}

fn payload_json(e: &RecordedEvent) -> Value {
    match serde_json::from_slice(&e.payload) {
        Ok(value) => value,
        Err(err) => panic!(
            "event {} of `{}` holds no JSON: {err}",
            e.version, e.stream_id
        ),
    }
}

/// Every event of the log, read in pages of 7 to exercise paging.
async fn whole_log(store: &dyn EventStore) -> Vec<RecordedEvent> {
    let mut all = Vec::new();
    let mut after = Position::START;
    loop {
        let page = store
            .read_all_forward(ReadAll::after(after, 7))
            .await
            .expect("read_all_forward");
        assert!(
            page.len() <= 7,
            "a page of limit 7 held {} events",
            page.len()
        );
        let Some(last) = page.last() else {
            return all;
        };
        after = last.position;
        all.extend(page);
    }
}

async fn whole_stream(store: &dyn EventStore, stream_id: &str) -> Vec<RecordedEvent> {
    store
        .read_stream_forward(stream_id, 1, usize::MAX)
        .await
        .expect("read_stream_forward")
}

async fn filtered(store: &dyn EventStore, filter: ReadFilter) -> Vec<(String, u64)> {
    let request = ReadAll::after(Position::START, usize::MAX).filter(filter);
    let events = store
        .read_all_forward(request)
        .await
        .expect("filtered read");
    events
        .into_iter()
        .map(|e| (e.stream_id, e.version))
        .collect()
}

fn ids(events: &[(&str, u64)]) -> Vec<(String, u64)> {
    events.iter().map(|(s, v)| ((*s).to_owned(), *v)).collect()
}

/// Asserts `result` is a conflict on `stream` with these versions.
#[track_caller]
fn assert_conflict<T: std::fmt::Debug>(
    result: mink::Result<T>,
    stream: &str,
    expected: ExpectedVersion,
    actual: u64,
) {
    match result {
        Err(Error::ConcurrencyConflict {
            stream: s,
            expected: e,
            actual: a,
        }) => assert_eq!(
            (s.as_str(), e, a),
            (stream, expected, actual),
            "conflict fields"
        ),
        other => {
            panic!("expected a conflict on `{stream}` ({expected}, actual {actual}), got {other:?}")
        }
    }
}

/// Asserts `result` refuses input `field`.
#[track_caller]
fn assert_invalid<T: std::fmt::Debug>(result: mink::Result<T>, field: &str) {
    match result {
        Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field, "refused field"),
        other => panic!("expected invalid `{field}`, got {other:?}"),
    }
}

/// Asserts the log holds nothing at all.
async fn assert_empty_log(store: &dyn EventStore) {
    assert_eq!(
        whole_log(store).await,
        Vec::new(),
        "the log should be empty"
    );
    assert_eq!(
        store.head_position().await.expect("head_position"),
        Position::START
    );
}

async fn append(
    store: &dyn EventStore,
    stream_id: &str,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) -> AppendResult {
    match store.append_to_stream(stream_id, expected, events).await {
        Ok(result) => result,
        Err(e) => panic!("append to `{stream_id}` ({expected}) failed: {e}"),
    }
}

// ---------------------------------------------------------------------------
// Expected versions

/// Every [`ExpectedVersion`] against a missing and an existing stream:
/// accepted appends report the right versions, refused ones a typed
/// conflict with the stream's actual version, and write nothing.
pub async fn expected_versions(harness: Harness) {
    use ExpectedVersion::*;
    let store = harness.store();
    // (stream's events before, expectation, accepted?)
    let table = [
        (0, Any, true),
        (2, Any, true),
        (0, NoStream, true),
        (2, NoStream, false),
        (0, StreamExists, false),
        (2, StreamExists, true),
        (0, Exact(0), true),
        (0, Exact(1), false),
        (2, Exact(2), true),
        (2, Exact(1), false),
        (2, Exact(3), false),
        (2, Exact(0), false),
        (2, Exact(u64::MAX), false),
    ];
    for (row, (before, expected, accepted)) in table.into_iter().enumerate() {
        let stream = format!("ev{row}-s");
        if before > 0 {
            append(&*store, &stream, NoStream, numbered("Seeded", before)).await;
        }
        let result = store
            .append_to_stream(&stream, expected, numbered("Tried", 2))
            .await;
        if accepted {
            let result = result.unwrap_or_else(|e| panic!("row {row} ({expected}): {e}"));
            assert_eq!(
                result.streams,
                vec![AppendedStream {
                    stream_id: stream.clone(),
                    first_version: before + 1,
                    last_version: before + 2
                }],
                "row {row}"
            );
            assert_eq!(result.last_version(), before + 2);
        } else {
            assert_conflict(result, &stream, expected, before);
        }
        let versions: Vec<u64> = whole_stream(&*store, &stream)
            .await
            .iter()
            .map(|e| e.version)
            .collect();
        let want = if accepted { before + 2 } else { before };
        assert_eq!(
            versions,
            (1..=want).collect::<Vec<_>>(),
            "row {row}: versions of `{stream}`"
        );
    }
}

// ---------------------------------------------------------------------------
// Reads

/// A stream nobody wrote reads as empty, with no info and no error.
pub async fn missing_stream_reads_empty(harness: Harness) {
    let store = harness.store();
    assert_empty_log(&*store).await;
    append(
        &*store,
        "present-1",
        ExpectedVersion::NoStream,
        numbered("E", 1),
    )
    .await;
    assert_eq!(whole_stream(&*store, "absent-1").await, Vec::new());
    assert_eq!(
        store.stream_info("absent-1").await.expect("stream_info"),
        None
    );
    assert_eq!(
        filtered(&*store, ReadFilter::all().stream("absent-1")).await,
        Vec::new()
    );
    assert_eq!(
        filtered(&*store, ReadFilter::all().category("absent")).await,
        Vec::new()
    );
}

/// A stream reads forward from a version, at most `limit` events.
pub async fn read_stream_from_version(harness: Harness) {
    let store = harness.store();
    append(
        &*store,
        "ten-1",
        ExpectedVersion::NoStream,
        numbered("E", 4),
    )
    .await;
    append(
        &*store,
        "other-1",
        ExpectedVersion::NoStream,
        numbered("E", 3),
    )
    .await;
    append(
        &*store,
        "ten-1",
        ExpectedVersion::Exact(4),
        numbered("F", 6),
    )
    .await;

    let versions =
        |events: Vec<RecordedEvent>| events.iter().map(|e| e.version).collect::<Vec<_>>();
    let read = |from, limit| {
        let store = Arc::clone(&store);
        async move {
            store
                .read_stream_forward("ten-1", from, limit)
                .await
                .expect("read")
        }
    };
    assert_eq!(versions(read(1, 3).await), vec![1, 2, 3]);
    assert_eq!(versions(read(4, 100).await), vec![4, 5, 6, 7, 8, 9, 10]);
    assert_eq!(versions(read(10, 5).await), vec![10]);
    assert_eq!(versions(read(11, 5).await), Vec::<u64>::new());
    assert_eq!(versions(read(u64::MAX, 5).await), Vec::<u64>::new());
    assert_eq!(versions(read(2, 0).await), Vec::<u64>::new());

    let all = read(1, usize::MAX).await;
    assert!(all.iter().all(|e| e.stream_id == "ten-1"));
    let types: Vec<&str> = all.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["E", "E", "E", "E", "F", "F", "F", "F", "F", "F"]);
    assert_eq!(payload_json(&all[4]), json!({ "n": 1 }));
}

/// The log reads after a position, in pages, without gaps or repeats.
pub async fn read_all_after_position(harness: Harness) {
    let store = harness.store();
    for (i, stream) in ["a-1", "b-1", "a-2", "b-1", "c-9"].into_iter().enumerate() {
        append(
            &*store,
            stream,
            ExpectedVersion::Any,
            numbered("E", i as u64 + 1),
        )
        .await;
    }
    let log = whole_log(&*store).await;
    assert_eq!(log.len(), 15);
    let third = log[2].position;
    let rest = store
        .read_all_forward(ReadAll::after(third, 100))
        .await
        .expect("read after");
    assert_eq!(rest, log[3..]);
    let two = store
        .read_all_forward(ReadAll::after(third, 2))
        .await
        .expect("read after");
    assert_eq!(two, log[3..5]);
    let past_head = ReadAll::after(store.head_position().await.expect("head"), 10);
    assert_eq!(
        store
            .read_all_forward(past_head)
            .await
            .expect("read past head"),
        Vec::new()
    );
    let none = store
        .read_all_forward(ReadAll::after(Position::START, 0))
        .await
        .expect("limit 0");
    assert_eq!(none, Vec::new());
}

/// Writes the log the filter cases read.
async fn seed_filter_log(store: &dyn EventStore) {
    use ExpectedVersion::NoStream;
    let e = |t: &str| event(t, json!({}));
    append(
        store,
        "order-1",
        NoStream,
        vec![e("OrderPlaced"), e("OrderShipped")],
    )
    .await;
    append(store, "customer-1", NoStream, vec![e("CustomerRegistered")]).await;
    append(store, "order-2", NoStream, vec![e("OrderPlaced")]).await;
    // No dash: the whole id is the category.
    append(store, "order", NoStream, vec![e("OrderPlaced")]).await;
    // Shares a prefix with `order` but is another category.
    append(store, "orderly-1", NoStream, vec![e("OrderPlaced")]).await;
    // Only the part before the first dash counts.
    append(store, "order-x-y", NoStream, vec![e("OrderShipped")]).await;
    append(
        store,
        "customer-1",
        ExpectedVersion::Exact(1),
        vec![e("CustomerMoved")],
    )
    .await;
}

/// Filtering the log by event type.
pub async fn filter_by_event_type(harness: Harness) {
    let store = harness.store();
    seed_filter_log(&*store).await;
    let placed = ReadFilter::all().event_type("OrderPlaced");
    assert_eq!(
        filtered(&*store, placed.clone()).await,
        ids(&[
            ("order-1", 1),
            ("order-2", 1),
            ("order", 1),
            ("orderly-1", 1)
        ])
    );
    let either = ReadFilter::all()
        .event_type("CustomerMoved")
        .event_type("OrderShipped");
    assert_eq!(
        filtered(&*store, either).await,
        ids(&[("order-1", 2), ("order-x-y", 1), ("customer-1", 2)])
    );
    assert_eq!(
        filtered(&*store, ReadFilter::all().event_type("Nothing")).await,
        Vec::new()
    );

    // The limit counts matching events, and paging resumes after the last.
    let first_two = store
        .read_all_forward(ReadAll::after(Position::START, 2).filter(placed.clone()))
        .await
        .expect("page");
    assert_eq!(
        first_two
            .iter()
            .map(|e| e.stream_id.as_str())
            .collect::<Vec<_>>(),
        ["order-1", "order-2"]
    );
    let next = ReadAll::after(first_two[1].position, 10).filter(placed);
    let next = store.read_all_forward(next).await.expect("next page");
    assert_eq!(
        next.iter()
            .map(|e| e.stream_id.as_str())
            .collect::<Vec<_>>(),
        ["order", "orderly-1"]
    );
}

/// Filtering the log by category: the part of the stream id before the
/// first `-`.
pub async fn filter_by_category(harness: Harness) {
    let store = harness.store();
    seed_filter_log(&*store).await;
    assert_eq!(
        filtered(&*store, ReadFilter::all().category("order")).await,
        ids(&[
            ("order-1", 1),
            ("order-1", 2),
            ("order-2", 1),
            ("order", 1),
            ("order-x-y", 1)
        ])
    );
    assert_eq!(
        filtered(
            &*store,
            ReadFilter::all().category("orderly").category("customer")
        )
        .await,
        ids(&[("customer-1", 1), ("orderly-1", 1), ("customer-1", 2)])
    );
    assert_eq!(
        filtered(&*store, ReadFilter::all().category("order-x")).await,
        Vec::new()
    );
    assert_eq!(
        filtered(&*store, ReadFilter::all().category("ord")).await,
        Vec::new()
    );
    assert_eq!(
        filtered(&*store, ReadFilter::all().category("ORDER")).await,
        Vec::new()
    );
}

/// Filtering the log by stream id.
pub async fn filter_by_stream(harness: Harness) {
    let store = harness.store();
    seed_filter_log(&*store).await;
    assert_eq!(
        filtered(&*store, ReadFilter::all().stream("customer-1")).await,
        ids(&[("customer-1", 1), ("customer-1", 2)])
    );
    assert_eq!(
        filtered(&*store, ReadFilter::all().stream("order").stream("order-1")).await,
        ids(&[("order-1", 1), ("order-1", 2), ("order", 1)])
    );
    assert_eq!(
        filtered(&*store, ReadFilter::all().stream("order-")).await,
        Vec::new()
    );
}

/// Filters of different kinds must all pass; values of one kind are
/// alternatives.
pub async fn filter_combined(harness: Harness) {
    let store = harness.store();
    seed_filter_log(&*store).await;
    let shipped_orders = ReadFilter::all()
        .category("order")
        .event_type("OrderShipped");
    assert_eq!(
        filtered(&*store, shipped_orders).await,
        ids(&[("order-1", 2), ("order-x-y", 1)])
    );
    let placed_in = ReadFilter::all()
        .event_type("OrderPlaced")
        .stream("order-1")
        .stream("customer-1")
        .stream("orderly-1");
    assert_eq!(
        filtered(&*store, placed_in).await,
        ids(&[("order-1", 1), ("orderly-1", 1)])
    );
    let disjoint = ReadFilter::all()
        .stream("order-2")
        .event_type("OrderShipped");
    assert_eq!(filtered(&*store, disjoint).await, Vec::new());
    let all_three = ReadFilter::all()
        .category("customer")
        .stream("customer-1")
        .event_type("CustomerMoved");
    assert_eq!(
        filtered(&*store, all_three).await,
        ids(&[("customer-1", 2)])
    );
    let after_first = store
        .read_all_forward(ReadAll::after(Position::START, 1))
        .await
        .expect("first");
    let later =
        ReadAll::after(after_first[0].position, 10).filter(ReadFilter::all().stream("order-1"));
    let later = store
        .read_all_forward(later)
        .await
        .expect("after a position");
    assert_eq!(later.iter().map(|e| e.version).collect::<Vec<_>>(), [2]);
}

// ---------------------------------------------------------------------------
// Atomicity

/// One call spans several streams; a conflict on any writes nothing to any.
pub async fn multi_stream_append_is_atomic(harness: Harness) {
    use ExpectedVersion::*;
    let store = harness.store();
    append(&*store, "account-1", NoStream, numbered("Opened", 1)).await;

    let result = store
        .append_to_streams(vec![
            StreamAppend::new("account-1", Exact(1), numbered("Debited", 2)),
            StreamAppend::new("account-2", NoStream, numbered("Credited", 1)),
        ])
        .await
        .expect("a valid multi-stream append");
    assert_eq!(
        result.streams,
        vec![
            AppendedStream {
                stream_id: "account-1".into(),
                first_version: 2,
                last_version: 3
            },
            AppendedStream {
                stream_id: "account-2".into(),
                first_version: 1,
                last_version: 1
            },
        ]
    );
    let log = whole_log(&*store).await;
    let order: Vec<(&str, u64)> = log
        .iter()
        .map(|e| (e.stream_id.as_str(), e.version))
        .collect();
    assert_eq!(
        order,
        [
            ("account-1", 1),
            ("account-1", 2),
            ("account-1", 3),
            ("account-2", 1)
        ]
    );

    let before = whole_log(&*store).await;
    // The first two streams are fine; the last one conflicts.
    let refused = store
        .append_to_streams(vec![
            StreamAppend::new("account-1", Exact(3), numbered("Debited", 1)),
            StreamAppend::new("account-3", NoStream, numbered("Opened", 1)),
            StreamAppend::new("account-2", Exact(7), numbered("Credited", 1)),
        ])
        .await;
    assert_conflict(refused, "account-2", Exact(7), 1);
    assert_eq!(
        whole_log(&*store).await,
        before,
        "a refused call wrote something"
    );
    assert_eq!(store.stream_info("account-3").await.expect("info"), None);
    assert_eq!(
        store
            .stream_info("account-1")
            .await
            .expect("info")
            .map(|i| i.version),
        Some(3)
    );
}

/// The same stream twice in one call is refused before anything is written.
pub async fn same_stream_twice_is_refused(harness: Harness) {
    let store = harness.store();
    let refused = store
        .append_to_streams(vec![
            StreamAppend::new("twice-1", ExpectedVersion::Any, numbered("E", 1)),
            StreamAppend::new("twice-1", ExpectedVersion::Any, numbered("E", 1)),
        ])
        .await;
    assert_invalid(refused, "stream_id");
    assert_invalid(store.append_to_streams(Vec::new()).await, "appends");
    assert_empty_log(&*store).await;
}

// ---------------------------------------------------------------------------
// Concurrency

/// Many tasks race to append to one stream with exact expected versions:
/// each version has exactly one winner, losers see typed conflicts, and
/// nothing is lost, duplicated or reordered.
pub async fn racing_writers_one_stream(harness: Harness) {
    const TASKS: u64 = 12;
    const ROUNDS: u64 = 4;
    const EACH: u64 = 8;
    let store = harness.store();

    // Lock-step rounds: every task expects the same version.
    for round in 0..ROUNDS {
        let barrier = Arc::new(Barrier::new(TASKS as usize));
        let tasks: Vec<_> = (0..TASKS)
            .map(|task| {
                let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
                tokio::spawn(async move {
                    barrier.wait().await;
                    let e = event("Raced", json!({ "round": round, "task": task }));
                    store
                        .append_to_stream("race-1", ExpectedVersion::Exact(round), vec![e])
                        .await
                })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            match task.await.expect("task panicked") {
                Ok(result) => {
                    winners += 1;
                    assert_eq!(result.last_version(), round + 1);
                }
                Err(e) => assert_conflict::<()>(
                    Err(e),
                    "race-1",
                    ExpectedVersion::Exact(round),
                    round + 1,
                ),
            }
        }
        assert_eq!(winners, 1, "round {round}: one append per version must win");
    }

    // Free-running: every task retries until it wrote its events in order.
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut seq = 0;
                let mut conflicts = 0u64;
                while seq < EACH {
                    let current = store
                        .stream_info("race-2")
                        .await
                        .expect("info")
                        .map_or(0, |i| i.version);
                    let e = event("Counted", json!({ "task": task, "seq": seq }));
                    match store
                        .append_to_stream("race-2", ExpectedVersion::Exact(current), vec![e])
                        .await
                    {
                        Ok(result) => {
                            assert_eq!(result.last_version(), current + 1);
                            seq += 1;
                        }
                        Err(Error::ConcurrencyConflict { actual, .. }) => {
                            assert!(
                                actual > current,
                                "a conflict went back in time: {actual} <= {current}"
                            );
                            conflicts += 1;
                        }
                        Err(e) => panic!("task {task}: {e}"),
                    }
                }
                conflicts
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task panicked");
    }
    let events = whole_stream(&*store, "race-2").await;
    assert_eq!(
        events.iter().map(|e| e.version).collect::<Vec<_>>(),
        (1..=TASKS * EACH).collect::<Vec<_>>()
    );
    let mut next_seq: HashMap<u64, u64> = HashMap::new();
    for e in &events {
        let p = payload_json(e);
        let (task, seq) = (
            p["task"].as_u64().expect("task"),
            p["seq"].as_u64().expect("seq"),
        );
        let expected_seq = next_seq.entry(task).or_default();
        assert_eq!(
            seq, *expected_seq,
            "task {task}'s events out of order or duplicated"
        );
        *expected_seq += 1;
    }
    assert!(next_seq.values().all(|&n| n == EACH) && next_seq.len() as u64 == TASKS);
    let in_log: Vec<u64> = whole_log(&*store)
        .await
        .into_iter()
        .filter(|e| e.stream_id == "race-2")
        .map(|e| e.version)
        .collect();
    assert_eq!(
        in_log,
        (1..=TASKS * EACH).collect::<Vec<_>>(),
        "the log reorders the stream"
    );
}

/// Many tasks append to many streams at once; every stream and the log
/// hold everything, in order.
pub async fn racing_writers_many_streams(harness: Harness) {
    const TASKS: u64 = 16;
    const CALLS: u64 = 10;
    let store = harness.store();
    let barrier = Arc::new(Barrier::new(TASKS as usize));
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                for call in 0..CALLS {
                    // Calls of two events, and every other one also touches
                    // a stream shared by all tasks.
                    let mut appends = vec![StreamAppend::new(
                        format!("many-{task}"),
                        ExpectedVersion::Exact(call * 2),
                        numbered("Own", 2),
                    )];
                    if call % 2 == 0 {
                        appends.push(StreamAppend::new(
                            "shared-1",
                            ExpectedVersion::Any,
                            numbered("Shared", 1),
                        ));
                    }
                    store
                        .append_to_streams(appends)
                        .await
                        .expect("racing append");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task panicked");
    }
    let log = whole_log(&*store).await;
    assert_eq!(log.len() as u64, TASKS * CALLS * 2 + TASKS * CALLS / 2);
    assert_strictly_increasing(&log);
    let mut seen: HashMap<&str, u64> = HashMap::new();
    for e in &log {
        let last = seen.entry(e.stream_id.as_str()).or_default();
        assert_eq!(
            e.version,
            *last + 1,
            "`{}` skips or repeats a version in the log",
            e.stream_id
        );
        *last = e.version;
    }
    for task in 0..TASKS {
        let stream = format!("many-{task}");
        let versions: Vec<u64> = whole_stream(&*store, &stream)
            .await
            .iter()
            .map(|e| e.version)
            .collect();
        assert_eq!(versions, (1..=CALLS * 2).collect::<Vec<_>>(), "{stream}");
    }
    assert_eq!(
        whole_stream(&*store, "shared-1").await.len() as u64,
        TASKS * CALLS / 2
    );
    let ids: HashSet<_> = log.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), log.len(), "an event was stored twice");
}

#[track_caller]
fn assert_strictly_increasing(log: &[RecordedEvent]) {
    for pair in log.windows(2) {
        assert!(
            pair[0].position < pair[1].position,
            "positions not increasing: {} then {}",
            pair[0].position,
            pair[1].position
        );
    }
}

/// The log's positions strictly increase, and the head is the last one.
pub async fn positions_increase_and_head_agrees(harness: Harness) {
    let store = harness.store();
    assert_eq!(store.head_position().await.expect("head"), Position::START);
    let mut heads = Vec::new();
    for i in 0..6u64 {
        let stream = format!("pos-{}", i % 3);
        append(
            &*store,
            &stream,
            ExpectedVersion::Any,
            numbered("E", i % 3 + 1),
        )
        .await;
        let head = store.head_position().await.expect("head");
        let log = whole_log(&*store).await;
        assert_eq!(
            Some(head),
            log.last().map(|e| e.position),
            "head after append {i}"
        );
        assert!(head > Position::START);
        heads.push(head);
    }
    assert!(
        heads.windows(2).all(|w| w[0] < w[1]),
        "head went backwards: {heads:?}"
    );
    let log = whole_log(&*store).await;
    assert_eq!(log.len(), 12);
    assert_strictly_increasing(&log);
    // Stream reads report the same positions as the log.
    for stream in ["pos-0", "pos-1", "pos-2"] {
        for e in whole_stream(&*store, stream).await {
            assert!(
                log.contains(&e),
                "{stream} v{} differs from the log's copy",
                e.version
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Round trips

/// Every metadata field, the custom map, ids, type names and schema
/// versions come back as written, on both read paths.
pub async fn metadata_round_trips(harness: Harness) {
    let store = harness.store();
    let metadata = EventMetadata::default()
        .with_correlation_id("corr-1")
        .with_causation_id("cause-2")
        .with_user_id("user-ü")
        .with_tenant_id("tenant-4")
        .with_custom("region", "eu-west")
        .with_custom("trace", "ça va? {\"quoted\"}");
    let full = event("Registered", json!({ "name": "Ada" }))
        .with_schema_version(3)
        .with_metadata(metadata.clone());
    let partial_meta = EventMetadata::default().with_user_id("user-5");
    let partial = event("Renamed", json!({})).with_metadata(partial_meta.clone());
    let bare = event("Noted", json!(null));
    let written = [full.clone(), partial.clone(), bare.clone()];
    append(
        &*store,
        "user-1",
        ExpectedVersion::NoStream,
        written.to_vec(),
    )
    .await;

    let from_stream = whole_stream(&*store, "user-1").await;
    assert_eq!(from_stream, whole_log(&*store).await);
    for (stored, new) in from_stream.iter().zip(&written) {
        assert_eq!(stored.event_id, new.event_id);
        assert_eq!(stored.event_type, new.event_type);
        assert_eq!(stored.schema_version, new.schema_version);
        assert_eq!(stored.metadata, new.metadata);
        assert_eq!(
            payload_json(stored),
            serde_json::from_slice::<Value>(&new.payload).expect("json")
        );
    }
    assert_eq!(from_stream[0].schema_version, 3);
    assert_eq!(from_stream[0].metadata, metadata);
    assert_eq!(from_stream[1].metadata, partial_meta);
    assert!(from_stream[2].metadata.is_empty());
}

/// Timestamps are the time of the append, the same on both read paths, and
/// what stream info reports.
pub async fn timestamps_round_trip(harness: Harness) {
    let store = harness.store();
    let slack = Duration::from_secs(5);
    let before = SystemTime::now();
    append(
        &*store,
        "clock-1",
        ExpectedVersion::NoStream,
        numbered("E", 2),
    )
    .await;
    let after = SystemTime::now();
    let events = whole_stream(&*store, "clock-1").await;
    for e in &events {
        let at = SystemTime::from(e.timestamp);
        assert!(
            at + slack >= before && at <= after + slack,
            "timestamp {} is not the append's time",
            e.timestamp
        );
    }
    let log = whole_log(&*store).await;
    assert_eq!(
        log.iter().map(|e| e.timestamp).collect::<Vec<_>>(),
        events.iter().map(|e| e.timestamp).collect::<Vec<_>>()
    );
}

/// A 1 MiB payload comes back whole.
pub async fn large_payload_round_trips(harness: Harness) {
    let store = harness.store();
    let text: String = (0..(1 << 20))
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let payload = json!({ "blob": text });
    let e = event("Big", payload.clone());
    assert!(e.payload.len() > 1 << 20);
    append(
        &*store,
        "big-1",
        ExpectedVersion::NoStream,
        vec![e, event("Small", json!({}))],
    )
    .await;
    let events = whole_stream(&*store, "big-1").await;
    assert_eq!(events.len(), 2);
    assert_eq!(payload_json(&events[0]), payload);
    assert_eq!(payload_json(&whole_log(&*store).await[0]), payload);
}

/// Payloads are bytes: a non-JSON, non-UTF-8 payload (another serializer's
/// output) comes back byte for byte, and so does text with a NUL — unless
/// the store is JSON-only, in which case it refuses them, typed, writing
/// nothing.
pub async fn binary_payload_round_trips(harness: Harness) {
    let store = harness.store();
    let binary: Vec<u8> = (0..=255u8).rev().collect();
    let with_nul = b"text\0with nul".to_vec();
    let empty = Vec::new();
    let written = vec![
        NewEvent::new("Binary", binary.clone()),
        NewEvent::new("Nul", with_nul.clone()),
        NewEvent::new("Empty", empty.clone()),
    ];
    match store
        .append_to_stream("bytes-1", ExpectedVersion::NoStream, written)
        .await
    {
        Ok(_) => {
            let payloads: Vec<Vec<u8>> = whole_stream(&*store, "bytes-1")
                .await
                .into_iter()
                .map(|e| e.payload)
                .collect();
            assert_eq!(payloads, vec![binary, with_nul, empty]);
        }
        // A JSON-only store refuses, typed, and writes nothing.
        Err(Error::InvalidInput { field, .. }) => {
            assert_eq!(field, "payload");
            assert!(whole_stream(&*store, "bytes-1").await.is_empty());
            assert_eq!(store.head_position().await.unwrap(), Position::START);
        }
        Err(other) => panic!(
            "a non-JSON payload must round-trip or be refused as invalid input, got {other:?}"
        ),
    }
}

/// Stream ids are any UTF-8 text: reads, info and filters work on them.
pub async fn unicode_stream_ids(harness: Harness) {
    let store = harness.store();
    let streams = [
        "commande-été-🚀",
        "заказ-1",
        "注文-一",
        "it's-100%_done",
        "emoji🙂",
    ];
    for (i, stream) in streams.into_iter().enumerate() {
        append(
            &*store,
            stream,
            ExpectedVersion::NoStream,
            numbered("E", i as u64 + 1),
        )
        .await;
    }
    for (i, stream) in streams.into_iter().enumerate() {
        let events = whole_stream(&*store, stream).await;
        assert_eq!(events.len(), i + 1, "{stream}");
        assert!(events.iter().all(|e| e.stream_id == stream));
        let info = store
            .stream_info(stream)
            .await
            .expect("info")
            .expect("stream exists");
        assert_eq!(
            (info.stream_id.as_str(), info.version),
            (stream, i as u64 + 1)
        );
    }
    assert_eq!(
        filtered(&*store, ReadFilter::all().category("заказ")).await,
        ids(&[("заказ-1", 1), ("заказ-1", 2)])
    );
    assert_eq!(
        filtered(&*store, ReadFilter::all().stream("emoji🙂"))
            .await
            .len(),
        5
    );
    assert_eq!(
        filtered(&*store, ReadFilter::all().category("it's"))
            .await
            .len(),
        4
    );
    assert_eq!(
        filtered(&*store, ReadFilter::all().category("it_s")).await,
        Vec::new()
    );
    assert_eq!(whole_stream(&*store, "заказ-2").await, Vec::new());
}

// ---------------------------------------------------------------------------
// Refused input

/// An event larger than `max_event_size` is refused, alone or inside a
/// multi-stream call, and nothing is written; the limit itself is allowed.
pub async fn oversized_event_is_refused(harness: Harness) {
    let limits = Limits {
        max_event_size: 1024,
        ..Limits::default()
    };
    let store = harness.fresh_store(limits).await;
    let sized = |n: usize| NewEvent::new("Sized", vec![b'7'; n]);

    assert_invalid(
        store
            .append_to_stream("size-1", ExpectedVersion::Any, vec![sized(1025)])
            .await,
        "payload",
    );
    let mixed = store
        .append_to_streams(vec![
            StreamAppend::new("size-1", ExpectedVersion::Any, vec![sized(10)]),
            StreamAppend::new("size-2", ExpectedVersion::Any, vec![sized(1), sized(4096)]),
        ])
        .await;
    assert_invalid(mixed, "payload");
    assert_empty_log(&*store).await;

    append(
        &*store,
        "size-1",
        ExpectedVersion::NoStream,
        vec![sized(1024)],
    )
    .await;
    let stored = whole_stream(&*store, "size-1").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].payload.len(), 1024);
}

/// Empty or too long stream ids and event types are refused, and nothing is
/// written.
pub async fn bad_stream_ids_and_event_types_are_refused(harness: Harness) {
    let store = harness.store();
    let limits = Limits::default();
    let long_id = "s".repeat(limits.max_stream_id_len + 1);
    // Within the limit in characters, over it in bytes.
    let long_unicode_id = "é".repeat(limits.max_stream_id_len / 2 + 1);
    let long_type = "T".repeat(limits.max_event_type_len + 1);
    let ok = || numbered("E", 1);
    let cases: Vec<(&str, Vec<NewEvent>, &str)> = vec![
        ("", ok(), "stream_id"),
        (&long_id, ok(), "stream_id"),
        (&long_unicode_id, ok(), "stream_id"),
        ("fine-1", vec![event("", json!({}))], "event_type"),
        (
            "fine-1",
            vec![event("Fine", json!({})), event(&long_type, json!({}))],
            "event_type",
        ),
    ];
    for (stream, events, field) in cases {
        assert_invalid(
            store
                .append_to_stream(stream, ExpectedVersion::Any, events)
                .await,
            field,
        );
    }
    let empty_id_among_others = store
        .append_to_streams(vec![
            StreamAppend::new("fine-2", ExpectedVersion::Any, ok()),
            StreamAppend::new("", ExpectedVersion::Any, ok()),
        ])
        .await;
    assert_invalid(empty_id_among_others, "stream_id");
    assert_empty_log(&*store).await;

    let longest_id = "s".repeat(limits.max_stream_id_len);
    let longest_type = "T".repeat(limits.max_event_type_len);
    append(
        &*store,
        &longest_id,
        ExpectedVersion::NoStream,
        vec![event(&longest_type, json!({}))],
    )
    .await;
    assert_eq!(
        whole_stream(&*store, &longest_id).await[0].event_type,
        longest_type
    );
}

/// A test event with a hand-written [`Event`] implementation.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Tick {
    count: u64,
}

impl Event for Tick {
    const EVENT_TYPES: &'static [&'static str] = &["Tick"];

    fn event_type(&self) -> &'static str {
        "Tick"
    }

    fn schema_version(&self) -> u32 {
        1
    }

    fn encode<S: Serializer>(&self, serializer: &S) -> Result<Vec<u8>, BoxError> {
        serializer.serialize(self)
    }

    fn decode<S: Serializer>(
        event_type: &str,
        _schema_version: u32,
        payload: &[u8],
        serializer: &S,
    ) -> Result<Option<Self>, BoxError> {
        if event_type != "Tick" {
            return Ok(None);
        }
        serializer.deserialize(payload).map(Some)
    }
}

/// A stored payload that no longer fits its Rust type is a typed error
/// naming the event, not a panic; an unknown type name is another one.
pub async fn undecodable_payload_is_a_typed_error(harness: Harness) {
    let store = harness.store();
    let good = Tick { count: 3 }
        .to_new_event(&JsonSerializer, EventMetadata::default())
        .expect("encode");
    let bad = event("Tick", json!({ "count": "many" }));
    let bad_id = bad.event_id;
    let unknown = event("Tock", json!({ "count": 1 }));
    append(
        &*store,
        "clock-9",
        ExpectedVersion::NoStream,
        vec![good, bad, unknown],
    )
    .await;
    let events = whole_stream(&*store, "clock-9").await;

    assert_eq!(
        Tick::from_recorded(&events[0], &JsonSerializer).expect("decodes"),
        Tick { count: 3 }
    );
    match Tick::from_recorded(&events[1], &JsonSerializer) {
        Err(Error::Deserialization {
            event_type,
            stream,
            version,
            event_id,
            ..
        }) => {
            assert_eq!(
                (event_type.as_str(), stream.as_str(), version, event_id),
                ("Tick", "clock-9", 2, bad_id)
            );
        }
        other => panic!("expected a deserialization error, got {other:?}"),
    }
    match Tick::from_recorded(&events[2], &JsonSerializer) {
        Err(Error::UnknownEventType {
            event_type,
            stream,
            version,
        }) => {
            assert_eq!(
                (event_type.as_str(), stream.as_str(), version),
                ("Tock", "clock-9", 3)
            );
        }
        other => panic!("expected an unknown event type, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Edge cases

/// Appending no events checks the expected version and writes nothing.
pub async fn appending_zero_events(harness: Harness) {
    use ExpectedVersion::*;
    let store = harness.store();
    let result = append(&*store, "zero-1", NoStream, Vec::new()).await;
    assert_eq!(
        result.streams,
        vec![AppendedStream {
            stream_id: "zero-1".into(),
            first_version: 0,
            last_version: 0
        }]
    );
    assert_empty_log(&*store).await;
    assert_eq!(store.stream_info("zero-1").await.expect("info"), None);
    assert_conflict(
        store
            .append_to_stream("zero-1", StreamExists, Vec::new())
            .await,
        "zero-1",
        StreamExists,
        0,
    );

    append(&*store, "zero-1", NoStream, numbered("E", 2)).await;
    let result = append(&*store, "zero-1", Exact(2), Vec::new()).await;
    assert_eq!(
        result.streams[0],
        AppendedStream {
            stream_id: "zero-1".into(),
            first_version: 2,
            last_version: 2
        }
    );
    assert_conflict(
        store.append_to_stream("zero-1", Exact(5), Vec::new()).await,
        "zero-1",
        Exact(5),
        2,
    );
    assert_eq!(whole_log(&*store).await.len(), 2);
}

/// Stream info: the version, and the times of the first and last events.
pub async fn stream_info_reports_versions_and_times(harness: Harness) {
    let store = harness.store();
    append(
        &*store,
        "info-1",
        ExpectedVersion::NoStream,
        numbered("E", 2),
    )
    .await;
    append(
        &*store,
        "info-2",
        ExpectedVersion::NoStream,
        numbered("E", 5),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    append(
        &*store,
        "info-1",
        ExpectedVersion::Exact(2),
        numbered("E", 1),
    )
    .await;

    let info = store
        .stream_info("info-1")
        .await
        .expect("info")
        .expect("stream exists");
    let events = whole_stream(&*store, "info-1").await;
    assert_eq!(info.stream_id, "info-1");
    assert_eq!(info.version, 3);
    assert_eq!(info.created_at, events[0].timestamp);
    assert_eq!(info.updated_at, events[2].timestamp);
    assert!(
        info.created_at < info.updated_at,
        "20 ms apart, yet {} >= {}",
        info.created_at,
        info.updated_at
    );
    assert_eq!(
        store
            .stream_info("info-2")
            .await
            .expect("info")
            .map(|i| i.version),
        Some(5)
    );
    assert_eq!(store.stream_info("info-3").await.expect("info"), None);
}

// ---------------------------------------------------------------------------
// Reference model

/// A tiny deterministic generator (SplitMix64), so a failing seed replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The simplest correct store: streams of event ids and one global list.
#[derive(Default)]
struct Model {
    streams: BTreeMap<String, Vec<uuid::Uuid>>,
    log: Vec<uuid::Uuid>,
}

impl Model {
    fn version(&self, stream: &str) -> u64 {
        self.streams.get(stream).map_or(0, |s| s.len() as u64)
    }

    /// The conflicts `appends` would raise (stream, actual), or the result.
    fn append(&mut self, appends: &[StreamAppend]) -> Result<AppendResult, Vec<(String, u64)>> {
        let conflicts: Vec<_> = appends
            .iter()
            .filter(|a| !a.expected.accepts(self.version(&a.stream_id)))
            .map(|a| (a.stream_id.clone(), self.version(&a.stream_id)))
            .collect();
        if !conflicts.is_empty() {
            return Err(conflicts);
        }
        let mut result = AppendResult::default();
        for a in appends {
            let current = self.version(&a.stream_id);
            let ids: Vec<_> = a.events.iter().map(|e| e.event_id).collect();
            self.log.extend(&ids);
            if !ids.is_empty() {
                self.streams
                    .entry(a.stream_id.clone())
                    .or_default()
                    .extend(&ids);
            }
            let written = a.events.len() as u64;
            result.streams.push(AppendedStream {
                stream_id: a.stream_id.clone(),
                first_version: if written > 0 { current + 1 } else { current },
                last_version: current + written,
            });
        }
        Ok(result)
    }
}

fn random_expected(rng: &mut Rng, version: u64) -> ExpectedVersion {
    match rng.below(6) {
        0 => ExpectedVersion::Any,
        1 => ExpectedVersion::NoStream,
        2 => ExpectedVersion::StreamExists,
        // One below, right, or one above.
        _ => ExpectedVersion::Exact((version + rng.below(3)).saturating_sub(1)),
    }
}

/// Random sequences of appends (random streams, expected versions, batch
/// sizes, single- and multi-stream calls) against a Vec-based model: every
/// outcome, conflict and final state must match.
pub async fn random_appends_match_reference_model(harness: Harness) {
    const STREAMS: [&str; 4] = ["model-a", "model-b", "other-c", "model"];
    for seed in 1..=6u64 {
        let store = if seed == 1 {
            harness.store()
        } else {
            harness.fresh_store(Limits::default()).await
        };
        let mut rng = Rng(seed);
        let mut model = Model::default();
        for step in 0..60 {
            let streams = 1 + usize::from(rng.below(4) == 0);
            let mut appends: Vec<StreamAppend> = Vec::new();
            while appends.len() < streams {
                let stream = STREAMS[rng.below(STREAMS.len() as u64) as usize];
                if appends.iter().any(|a| a.stream_id == stream) {
                    continue;
                }
                let expected = random_expected(&mut rng, model.version(stream));
                let events = numbered(&format!("Step{step}"), rng.below(4));
                appends.push(StreamAppend::new(stream, expected, events));
            }
            let context = format!("seed {seed}, step {step}: {appends:?}");
            let want = model.append(&appends);
            match (store.append_to_streams(appends).await, want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{context}"),
                (Err(Error::ConcurrencyConflict { stream, actual, .. }), Err(conflicts)) => {
                    assert!(
                        conflicts.contains(&(stream.clone(), actual)),
                        "{context}: conflict on `{stream}` at {actual}, model expected one of {conflicts:?}"
                    )
                }
                (got, want) => panic!("{context}: store gave {got:?}, model {want:?}"),
            }
        }
        let log: Vec<_> = whole_log(&*store)
            .await
            .iter()
            .map(|e| e.event_id)
            .collect();
        assert_eq!(log, model.log, "seed {seed}: the global log");
        for stream in STREAMS {
            let stored: Vec<_> = whole_stream(&*store, stream)
                .await
                .iter()
                .map(|e| e.event_id)
                .collect();
            assert_eq!(
                stored,
                model.streams.get(stream).cloned().unwrap_or_default(),
                "seed {seed}: `{stream}`"
            );
            let info = store
                .stream_info(stream)
                .await
                .expect("info")
                .map(|i| i.version);
            assert_eq!(
                info.unwrap_or(0),
                model.version(stream),
                "seed {seed}: info of `{stream}`"
            );
        }
    }
}
