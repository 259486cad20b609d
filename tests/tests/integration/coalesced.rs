//! Coalesced commits (`CoalescingStore`): the conformance suite through it
//! on every store, appends of many writers merged into shared calls, and a
//! randomized mix of conflicting and non-conflicting appends whose every
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

mod sqlite {
    use mink::adapters::sqlite::SqliteStore;

    use super::*;

    pub(super) async fn store(limits: Limits) -> Option<Arc<dyn EventStore>> {
        let dir = tempfile::tempdir().expect("a temp dir for the database");
        let store = SqliteStore::options(dir.path().join("mink.db"))
            .limits(limits)
            .open()
            .await
            .expect("open a fresh SQLite store");
        Some(coalesced(mink_tests::conformance::keep_alive(store, dir)))
    }

    mink_tests::conformance_suite!(store);
}

mod postgres {
    use super::*;
    use crate::postgres::support::{TestStore, test_store_with};

    pub(super) async fn store(limits: Limits) -> Option<Arc<dyn EventStore>> {
        let TestStore { store, _gate } = test_store_with(limits).await?;
        Some(coalesced(mink_tests::conformance::keep_alive(store, _gate)))
    }

    mink_tests::conformance_suite!(store);
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
    // Stream 0 expects a version it does not have: its conflict must not
    // fail anyone else.
    let mut tasks = Vec::new();
    for i in 0..32u64 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let expected = if i == 0 {
                ExpectedVersion::Exact(7)
            } else {
                ExpectedVersion::NoStream
            };
            store
                .append_to_stream(&format!("tick-{i}"), expected, vec![event(i), event(i)])
                .await
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        let result = task.await.unwrap();
        if i == 0 {
            let err = result.unwrap_err();
            assert!(err.is_concurrency_conflict(), "{err}");
        } else {
            let result = result.unwrap();
            assert_eq!(result.streams.len(), 1, "only its own stream");
            assert_eq!(result.streams[0].stream_id, format!("tick-{i}"));
            assert_eq!(result.last_version_of(&format!("tick-{i}")), Some(2));
        }
    }
    let calls = slow.calls.load(Ordering::SeqCst);
    // 32 appends; merged calls, plus one failed merged call split into
    // single appends at most once per batch.
    assert!(
        calls < 32,
        "32 concurrent appends took {calls} calls of the store: none were merged"
    );
    assert!(slow.inner.stream_info("tick-0").await.unwrap().is_none());
    for i in 1..32u64 {
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
    let store = sqlite::store(Limits::default()).await.unwrap();
    outcomes_match_the_model(store, 7).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_coalesced_outcomes_match_the_model() {
    let Some(store) = postgres::store(Limits::default()).await else {
        mink_tests::skip("coalesced commits on PostgreSQL (MINK_TEST_POSTGRES_URL not set)");
        return;
    };
    outcomes_match_the_model(store, 11).await;
}
