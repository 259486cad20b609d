//! Coalesced commits (`CoalescingStore`). The SQL stores coalesce by
//! default, so their own conformance suites run through it; here the suite
//! runs on the in-memory store wrapped in it, and on the SQL stores with
//! coalescing turned off. Then: appends of many writers merged into shared
//! calls (and, on the SQL stores by default, into shared transactions), and
//! a randomized mix of conflicting and non-conflicting appends whose every
//! caller's outcome is checked against a model.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use mink::store::{CoalesceOptions, CoalescingStore};
use mink::{
    AppendResult, EventStore, ExpectedVersion, InMemoryStore, Limits, NewEvent, Position, ReadAll,
    RecordedEvent, StreamAppend, StreamInfo, UnitOfWork,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

fn coalesced(store: Arc<dyn EventStore>) -> Arc<dyn EventStore> {
    Arc::new(CoalescingStore::new(store, CoalesceOptions::default()))
}

mod memory {
    use super::*;

    async fn store(limits: Limits) -> Option<Arc<dyn EventStore>> {
        Some(coalesced(Arc::new(InMemoryStore::with_limits(limits))))
    }

    mink_tests::conformance_suite!(store);
}

/// SQLite with coalescing turned off: the suite also holds for appends
/// written one transaction each.
mod sqlite_uncoalesced {
    use mink::adapters::sqlite::SqliteStore;

    use super::*;

    pub(super) async fn store(limits: Limits) -> Option<Arc<dyn EventStore>> {
        let dir = tempfile::tempdir().expect("a temp dir for the database");
        let store = SqliteStore::options(dir.path().join("mink.db"))
            .limits(limits)
            .no_coalescing()
            .open()
            .await
            .expect("open a fresh SQLite store");
        Some(mink_tests::conformance::keep_alive(store, dir))
    }

    mink_tests::conformance_suite!(store);
}

/// PostgreSQL with coalescing turned off.
mod postgres_uncoalesced {
    use super::*;
    use crate::postgres::support::{TestStore, test_store_without_coalescing};

    pub(super) async fn store(limits: Limits) -> Option<Arc<dyn EventStore>> {
        let TestStore { store, _gate } = test_store_without_coalescing(limits).await?;
        Some(mink_tests::conformance::keep_alive(store, _gate))
    }

    mink_tests::conformance_suite!(store);
}

/// Appends to `writers` streams at once on `store`, each stream's one
/// event by its own task, then reads the log back: the streams of each
/// shared transaction, told apart by a key of the recorded events.
async fn streams_per_commit<K: std::hash::Hash + Eq>(
    store: Arc<dyn EventStore>,
    writers: usize,
    key: impl Fn(&RecordedEvent) -> K,
) -> Vec<usize> {
    let barrier = Arc::new(tokio::sync::Barrier::new(writers));
    let tasks: Vec<_> = (0..writers)
        .map(|i| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .append_to_stream(
                        &format!("merge-{i}"),
                        ExpectedVersion::NoStream,
                        vec![NewEvent::json("Tick", &i).unwrap()],
                    )
                    .await
                    .expect("each append succeeds")
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("the writer finishes");
    }
    let events = store
        .read_all_forward(ReadAll::after(Position::START, 10 * writers))
        .await
        .expect("the log reads back");
    assert_eq!(events.len(), writers, "every append landed once");
    let mut groups: HashMap<K, usize> = HashMap::new();
    for e in &events {
        *groups.entry(key(e)).or_default() += 1;
    }
    groups.into_values().collect()
}

/// By default the PostgreSQL store writes concurrent appends to different
/// streams in shared transactions (their events carry one transaction id);
/// with coalescing off, every append is a transaction of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_coalesces_concurrent_appends_by_default() {
    use crate::postgres::support::{TestStore, test_store_with, test_store_without_coalescing};
    let Some(TestStore { store, _gate }) = test_store_with(Limits::default()).await else {
        mink_tests::skip("coalescing by default on PostgreSQL (MINK_TEST_POSTGRES_URL not set)");
        return;
    };
    let shared = streams_per_commit(Arc::new(store), 32, |e| e.position.commit).await;
    assert!(
        shared.iter().any(|&n| n > 1),
        "no transaction carried two appends: {shared:?}"
    );
    drop(_gate);
    let Some(TestStore { store, _gate }) = test_store_without_coalescing(Limits::default()).await
    else {
        panic!("the PostgreSQL server answered a moment ago, and now does not");
    };
    let alone = streams_per_commit(Arc::new(store), 32, |e| e.position.commit).await;
    assert!(
        alone.iter().all(|&n| n == 1),
        "without coalescing, appends shared a transaction: {alone:?}"
    );
}

/// The SQLite store's appends take one timestamp per transaction: by
/// default, concurrent appends share transactions, so some share a
/// timestamp.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_coalesces_concurrent_appends_by_default() {
    let dir = tempfile::tempdir().expect("a temp dir for the database");
    let store = mink::adapters::sqlite::SqliteStore::open(dir.path().join("mink.db"))
        .await
        .expect("open a fresh SQLite store");
    let shared = streams_per_commit(Arc::new(store), 32, |e| e.timestamp).await;
    assert!(
        shared.iter().any(|&n| n > 1),
        "no transaction carried two appends: {shared:?}"
    );
}

/// A store that takes `delay` for every append and counts the calls it
/// gets: while one call waits, the others' appends queue up and are merged.
struct SlowAppends {
    inner: InMemoryStore,
    delay: Duration,
    calls: AtomicUsize,
}

#[async_trait]
impl EventStore for SlowAppends {
    async fn append_to_streams(&self, appends: Vec<StreamAppend>) -> mink::Result<AppendResult> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        self.inner.append_to_streams(appends).await
    }
    async fn append_with(
        &self,
        appends: Vec<StreamAppend>,
        work: &dyn UnitOfWork,
    ) -> mink::Result<AppendResult> {
        self.inner.append_with(appends, work).await
    }
    async fn read_stream_forward(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> mink::Result<Vec<RecordedEvent>> {
        self.inner
            .read_stream_forward(stream_id, from_version, limit)
            .await
    }
    async fn read_all_forward(&self, request: ReadAll) -> mink::Result<Vec<RecordedEvent>> {
        self.inner.read_all_forward(request).await
    }
    async fn stream_info(&self, stream_id: &str) -> mink::Result<Option<StreamInfo>> {
        self.inner.stream_info(stream_id).await
    }
    async fn head_position(&self) -> mink::Result<Position> {
        self.inner.head_position().await
    }
}

fn event(n: u64) -> NewEvent {
    NewEvent::json("Tick", &n).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_share_calls_and_each_gets_its_own_result() {
    let slow = Arc::new(SlowAppends {
        inner: InMemoryStore::new(),
        delay: Duration::from_millis(30),
        calls: AtomicUsize::new(0),
    });
    let options = CoalesceOptions {
        in_flight: 1,
        ..CoalesceOptions::default()
    };
    let store = Arc::new(CoalescingStore::shared(Arc::clone(&slow), options));
    let spawn = |i: u64, expected: ExpectedVersion| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            store
                .append_to_stream(&format!("tick-{i}"), expected, vec![event(i), event(i)])
                .await
        })
    };
    // First 31 appends that all succeed: while one call waits, the others
    // queue and are merged.
    let tasks: Vec<_> = (1..32u64)
        .map(|i| spawn(i, ExpectedVersion::NoStream))
        .collect();
    for (i, task) in (1..32u64).zip(tasks) {
        let result = task.await.unwrap().unwrap();
        assert_eq!(result.streams.len(), 1, "only its own stream");
        assert_eq!(result.streams[0].stream_id, format!("tick-{i}"));
        assert_eq!(result.last_version_of(&format!("tick-{i}")), Some(2));
    }
    let calls = slow.calls.load(Ordering::SeqCst);
    assert!(
        calls < 31,
        "31 concurrent appends took {calls} calls of the store: none were merged"
    );
    // Then stream 0 expects a version it does not have, among appends that
    // can succeed: its conflict must not fail anyone else, whichever call
    // it lands in.
    let conflicting = spawn(0, ExpectedVersion::Exact(7));
    let others: Vec<_> = (32..40u64)
        .map(|i| spawn(i, ExpectedVersion::NoStream))
        .collect();
    let err = conflicting.await.unwrap().unwrap_err();
    assert!(err.is_concurrency_conflict(), "{err}");
    for (i, task) in (32..40u64).zip(others) {
        let result = task.await.unwrap().unwrap();
        assert_eq!(result.last_version_of(&format!("tick-{i}")), Some(2));
    }
    assert!(slow.inner.stream_info("tick-0").await.unwrap().is_none());
    for i in 1..40u64 {
        let stored = slow
            .inner
            .read_stream_forward(&format!("tick-{i}"), 1, 10)
            .await
            .unwrap();
        assert_eq!(stored.len(), 2, "tick-{i}");
    }
}

/// What one writer asks for, and what the model says must happen.
struct Step {
    appends: Vec<StreamAppend>,
    succeeds: bool,
}

/// A writer's random appends over its own streams, with the model's
/// verdict for each: some expectations are right, some wrong, some
/// multi-stream appends carry one wrong expectation among right ones.
fn plan(writer: usize, steps: usize, rng: &mut StdRng) -> Vec<Step> {
    let streams: Vec<String> = (0..3).map(|s| format!("model{writer}-{s}")).collect();
    let mut versions: HashMap<String, u64> = streams.iter().map(|s| (s.clone(), 0)).collect();
    let mut out = Vec::new();
    for n in 0..steps {
        let width = if rng.random_bool(0.25) { 2 } else { 1 };
        let first = rng.random_range(0..streams.len());
        let chosen: Vec<&String> = (0..width)
            .map(|k| &streams[(first + k) % streams.len()])
            .collect();
        let mut succeeds = true;
        let mut appends = Vec::new();
        for stream in chosen {
            let v = versions[stream];
            let (expected, ok) = match rng.random_range(0..6) {
                0 => (ExpectedVersion::Any, true),
                1 => (ExpectedVersion::Exact(v + 1), false),
                2 if v > 0 => (ExpectedVersion::Exact(v - 1), false),
                3 => (ExpectedVersion::StreamExists, v > 0),
                4 => (ExpectedVersion::NoStream, v == 0),
                _ => (ExpectedVersion::Exact(v), true),
            };
            succeeds &= ok;
            let count = rng.random_range(1..=3);
            let events = (0..count).map(|k| event((n * 10 + k) as u64)).collect();
            appends.push(StreamAppend::new(stream.clone(), expected, events));
        }
        if succeeds {
            for a in &appends {
                *versions.get_mut(&a.stream_id).unwrap() += a.events.len() as u64;
            }
        }
        out.push(Step { appends, succeeds });
    }
    out
}

/// Writers run their plans at once through the coalescing store; each
/// outcome matches the model, and each stream holds exactly the events of
/// the appends the model says succeed, in order.
async fn outcomes_match_the_model(store: Arc<dyn EventStore>, seed: u64) {
    let writers = 12;
    let mut rng = StdRng::seed_from_u64(seed);
    let plans: Vec<Vec<Step>> = (0..writers).map(|w| plan(w, 25, &mut rng)).collect();
    let mut expected_streams: HashMap<String, Vec<Uuid>> = HashMap::new();
    for step in plans.iter().flatten().filter(|s| s.succeeds) {
        for a in &step.appends {
            expected_streams
                .entry(a.stream_id.clone())
                .or_default()
                .extend(a.events.iter().map(|e| e.event_id));
        }
    }
    let mut tasks = Vec::new();
    for (w, steps) in plans.into_iter().enumerate() {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            for (n, step) in steps.into_iter().enumerate() {
                let result = store.append_to_streams(step.appends.clone()).await;
                match (step.succeeds, result) {
                    (true, Ok(result)) => {
                        let streams: Vec<&str> = result
                            .streams
                            .iter()
                            .map(|s| s.stream_id.as_str())
                            .collect();
                        let asked: Vec<&str> =
                            step.appends.iter().map(|a| a.stream_id.as_str()).collect();
                        assert_eq!(streams, asked, "writer {w} step {n}: its own streams");
                        for (s, a) in result.streams.iter().zip(&step.appends) {
                            let ids: Vec<Uuid> = s.events.iter().map(|e| e.event_id).collect();
                            let sent: Vec<Uuid> = a.events.iter().map(|e| e.event_id).collect();
                            assert_eq!(ids, sent, "writer {w} step {n}");
                        }
                    }
                    (false, Err(e)) => {
                        assert!(e.is_concurrency_conflict(), "writer {w} step {n}: {e}");
                    }
                    (true, Err(e)) => panic!("writer {w} step {n} must succeed: {e}"),
                    (false, Ok(r)) => panic!("writer {w} step {n} must conflict: {r:?}"),
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    for (stream, ids) in expected_streams {
        let stored: Vec<Uuid> = store
            .read_stream_forward(&stream, 1, usize::MAX)
            .await
            .unwrap()
            .iter()
            .map(|e| e.event_id)
            .collect();
        assert_eq!(stored, ids, "{stream}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_coalesced_outcomes_match_the_model() {
    for seed in 0..4 {
        let store = coalesced(Arc::new(InMemoryStore::new()));
        outcomes_match_the_model(store, seed).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_coalesced_outcomes_match_the_model() {
    // The store coalesces by default.
    let dir = tempfile::tempdir().expect("a temp dir for the database");
    let store = mink::adapters::sqlite::SqliteStore::open(dir.path().join("mink.db"))
        .await
        .expect("open a fresh SQLite store");
    outcomes_match_the_model(mink_tests::conformance::keep_alive(store, dir), 7).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_coalesced_outcomes_match_the_model() {
    // The store coalesces by default.
    use crate::postgres::support::{TestStore, test_store_with};
    let Some(TestStore { store, _gate }) = test_store_with(Limits::default()).await else {
        mink_tests::skip("coalesced commits on PostgreSQL (MINK_TEST_POSTGRES_URL not set)");
        return;
    };
    outcomes_match_the_model(mink_tests::conformance::keep_alive(store, _gate), 11).await;
}
