//! The PostgreSQL event store: the conformance suite, and what is particular
//! to PostgreSQL (late commits in the global log, racing writers, the JSON
//! requirement, a server restart mid-run).
//!
//! Runs when `MINK_TEST_POSTGRES_URL` is set (CI sets it to
//! `postgres://postgres@127.0.0.1:5432/test`); otherwise each test prints
//! `skipped: MINK_TEST_POSTGRES_URL not set`. Each store gets a schema of its
//! own. The restart test makes a throwaway cluster with `initdb` and never
//! touches the shared server.
//!
//! Tests on the shared server take turns (see [`Gate`]): a transaction open
//! anywhere on a server holds every reader of the global log back until it
//! ends (docs/adr/004-global-ordering.md), and several cases read the log
//! right after appending to it.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use mink::adapters::postgres::PostgresStore;
use mink::adapters::postgres::sqlx::{self, Connection, PgConnection};
use mink::{
    Error, EventStore, ExpectedVersion, Limits, NewEvent, Position, ReadAll, RecordedEvent,
    StreamAppend,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use uuid::Uuid;

const URL_VAR: &str = "MINK_TEST_POSTGRES_URL";

/// How long a test waits for something that must happen (events becoming
/// readable, a server coming back) before it fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(90);

/// The shared server's URL, or `None` after printing the skip line.
fn server_url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!("skipped: {URL_VAR} not set");
            None
        }
    }
}

// ---------------------------------------------------------------------------
// Taking turns on the shared server

/// Lets one test at a time work on the shared server, across threads and
/// processes, while letting a test open several stores (the conformance
/// harness asks for more than one).
///
/// Inside the process, a test is its thread: `#[tokio::test]` runs the test
/// body on the thread of the test. Across processes, the first entry takes a
/// PostgreSQL advisory lock on a connection kept until the last exit. The
/// holder then drops the schemas earlier tests left behind.
struct Gate;

/// Who holds the gate: the test's thread, how many stores it has open, and
/// the connection holding the advisory lock.
struct GateState {
    owner: ThreadId,
    entries: usize,
    _lock: PgConnection,
}

static GATE: Mutex<Option<GateState>> = Mutex::new(None);

/// The advisory lock key of these tests ("minkpgst").
const GATE_LOCK_KEY: i64 = 0x6d69_6e6b_7067_7374;

/// Prefix of the schemas these tests create.
const SCHEMA_PREFIX: &str = "mink_pgstore_";

fn gate_state() -> std::sync::MutexGuard<'static, Option<GateState>> {
    GATE.lock().unwrap_or_else(|p| p.into_inner())
}

impl Gate {
    async fn enter(url: &str) -> Gate {
        let me = std::thread::current().id();
        loop {
            match reenter(me) {
                Some(true) => return Gate,
                Some(false) => tokio::time::sleep(Duration::from_millis(20)).await,
                None => break,
            }
        }
        // Nobody in this process holds it: take the cross-process lock
        // without holding the in-process one across awaits, then claim.
        let mut conn = PgConnection::connect(url)
            .await
            .expect("connect for the test lock");
        loop {
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(GATE_LOCK_KEY)
                .execute(&mut conn)
                .await
                .expect("take the test lock");
            match claim(me, conn) {
                Ok(()) => break,
                // Another thread of this process got in first: step back.
                Err(mut back) => {
                    sqlx::query("SELECT pg_advisory_unlock($1)")
                        .bind(GATE_LOCK_KEY)
                        .execute(&mut back)
                        .await
                        .expect("release the test lock");
                    conn = back;
                }
            }
            while gate_state().is_some() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        drop_old_schemas(url).await;
        Gate
    }
}

/// Whether `me` already holds the gate (then counted once more), or `None`
/// when nobody does.
fn reenter(me: ThreadId) -> Option<bool> {
    let mut state = gate_state();
    let s = state.as_mut()?;
    if s.owner == me {
        s.entries += 1;
    }
    Some(s.owner == me)
}

/// Makes `me` the holder when nobody holds the gate; otherwise hands the
/// lock connection back.
fn claim(me: ThreadId, lock: PgConnection) -> Result<(), PgConnection> {
    let mut state = gate_state();
    if state.is_some() {
        return Err(lock);
    }
    *state = Some(GateState {
        owner: me,
        entries: 1,
        _lock: lock,
    });
    Ok(())
}

impl Drop for Gate {
    fn drop(&mut self) {
        let mut state = gate_state();
        if let Some(s) = state.as_mut() {
            s.entries -= 1;
            if s.entries == 0 {
                // Dropping the connection ends its session and the lock.
                *state = None;
            }
        }
    }
}

/// Drops the schemas of earlier tests. Only gate holders use them, so none
/// is in use now.
async fn drop_old_schemas(url: &str) {
    let mut conn = PgConnection::connect(url)
        .await
        .expect("connect to clean up");
    let pattern = format!("{}%", SCHEMA_PREFIX.replace('_', "\\_"));
    let schemas: Vec<String> =
        sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE $1")
            .bind(pattern)
            .fetch_all(&mut conn)
            .await
            .expect("list old test schemas");
    for schema in schemas {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE"
        )))
        .execute(&mut conn)
        .await
        .expect("drop an old test schema");
    }
}

/// A store on a fresh schema of the shared server, and the turn it holds.
struct TestStore {
    store: PostgresStore,
    _gate: Gate,
}

impl std::ops::Deref for TestStore {
    type Target = PostgresStore;
    fn deref(&self) -> &PostgresStore {
        &self.store
    }
}

fn fresh_schema() -> String {
    format!("{SCHEMA_PREFIX}{}", Uuid::now_v7().simple())
}

async fn test_store_with(limits: Limits) -> Option<TestStore> {
    let url = server_url()?;
    let gate = Gate::enter(&url).await;
    let store = PostgresStore::builder(url)
        .schema(fresh_schema())
        .limits(limits)
        .max_connections(16)
        .build()
        .await
        .expect("a store on a fresh schema");
    Some(TestStore { store, _gate: gate })
}

async fn test_store() -> Option<TestStore> {
    test_store_with(Limits::default()).await
}

// ---------------------------------------------------------------------------
// The conformance suite

async fn postgres_store(limits: Limits) -> Option<Arc<dyn EventStore>> {
    let TestStore { store, _gate } = test_store_with(limits).await?;
    Some(mink_tests::conformance::keep_alive(store, _gate))
}

mod conformance {
    use super::postgres_store;
    mink_tests::conformance_suite!(postgres_store);
}

// ---------------------------------------------------------------------------
// Helpers

fn event(event_type: &str, n: u64) -> NewEvent {
    NewEvent::json(event_type, &json!({ "n": n })).expect("a JSON payload")
}

fn one(stream: &str, expected: ExpectedVersion, e: NewEvent) -> Vec<StreamAppend> {
    vec![StreamAppend::new(stream, expected, vec![e])]
}

/// Reads the log after `checkpoint` in pages of `page` until a page comes
/// back empty, moving `checkpoint` along. Positions must strictly increase.
async fn read_pass(
    store: &dyn EventStore,
    checkpoint: &mut Position,
    page: usize,
) -> Vec<RecordedEvent> {
    let mut out = Vec::new();
    loop {
        let events = store
            .read_all_forward(ReadAll::after(*checkpoint, page))
            .await
            .expect("read the log");
        if events.is_empty() {
            return out;
        }
        for e in events {
            assert!(
                e.position > *checkpoint,
                "{} delivered after {}",
                e.position,
                checkpoint
            );
            *checkpoint = e.position;
            out.push(e);
        }
    }
}

/// Follows the log from `checkpoint` until `seen` holds `want` events.
async fn follow_until(
    store: &dyn EventStore,
    checkpoint: &mut Position,
    seen: &mut Vec<RecordedEvent>,
    want: usize,
) {
    let start = Instant::now();
    while seen.len() < want {
        seen.extend(read_pass(store, checkpoint, 5).await);
        assert!(
            start.elapsed() < PATIENCE,
            "only {} of {want} events became readable",
            seen.len()
        );
        if seen.len() < want {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn ids(events: &[RecordedEvent]) -> Vec<Uuid> {
    events.iter().map(|e| e.event_id).collect()
}

#[track_caller]
fn assert_each_once(events: &[RecordedEvent]) {
    let mut seen = HashSet::new();
    for e in events {
        assert!(
            seen.insert(e.event_id),
            "event {} delivered twice",
            e.event_id
        );
    }
}

// ---------------------------------------------------------------------------
// The global log never skips a late commit

/// The case a bigserial reader gets wrong: an event written first (lower
/// position) commits after one written later. The later one is held back
/// until the first commits; then both arrive, each once, first one first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_commit_is_delivered_not_skipped() {
    let Some(store) = test_store().await else {
        return;
    };
    let held = event("Held", 1);
    let late = event("Late", 2);

    let mut tx = store.pool().begin().await.expect("begin");
    store
        .append_to_streams_in(
            &mut tx,
            one("held-1", ExpectedVersion::NoStream, held.clone()),
        )
        .await
        .expect("append inside the open transaction");
    store
        .append_to_stream("late-1", ExpectedVersion::NoStream, vec![late.clone()])
        .await
        .expect("append and commit");
    let late_recorded = store
        .read_stream_forward("late-1", 1, 1)
        .await
        .expect("read")[0]
        .clone();

    let mut checkpoint = Position::START;
    let mut seen = read_pass(&*store, &mut checkpoint, 10).await;
    assert!(
        !seen.iter().any(|e| e.event_id == late.event_id),
        "the later commit was delivered while an earlier transaction was open"
    );
    assert!(store.head_position().await.expect("head") < late_recorded.position);

    tx.commit().await.expect("commit the held transaction");
    follow_until(&*store, &mut checkpoint, &mut seen, 2).await;
    assert_eq!(ids(&seen), vec![held.event_id, late.event_id]);
    // The held event got the lower identity value: a reader ordering by it
    // alone would have moved past it while it was invisible.
    assert!(seen[0].position.event < seen[1].position.event);
    // A reader starting over sees the same order.
    let mut again = Position::START;
    assert_eq!(ids(&read_pass(&*store, &mut again, 1).await), ids(&seen));
    assert_eq!(store.head_position().await.expect("head"), seen[1].position);
}

/// The log is ordered by transaction first: events a transaction writes
/// after another one committed still come before that one's, because the
/// transaction started writing first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_orders_by_transaction_then_event() {
    let Some(store) = test_store().await else {
        return;
    };
    let (first, middle, last) = (event("A", 1), event("B", 2), event("C", 3));
    let mut tx = store.pool().begin().await.expect("begin");
    store
        .append_to_streams_in(
            &mut tx,
            one("tx-1", ExpectedVersion::NoStream, first.clone()),
        )
        .await
        .expect("first append of the transaction");
    store
        .append_to_stream("other-1", ExpectedVersion::NoStream, vec![middle.clone()])
        .await
        .expect("a commit in between");
    store
        .append_to_streams_in(
            &mut tx,
            one("tx-1", ExpectedVersion::Exact(1), last.clone()),
        )
        .await
        .expect("second append of the transaction");
    tx.commit().await.expect("commit");

    let mut checkpoint = Position::START;
    let mut seen = Vec::new();
    follow_until(&*store, &mut checkpoint, &mut seen, 3).await;
    assert_eq!(
        ids(&seen),
        vec![first.event_id, last.event_id, middle.event_id]
    );
    assert_eq!(seen[0].position.commit, seen[1].position.commit);
    assert!(seen[1].position.event > seen[2].position.event);
}

/// A rolled-back transaction holds readers back while it is open and
/// leaves nothing behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_append_releases_readers() {
    let Some(store) = test_store().await else {
        return;
    };
    let mut tx = store.pool().begin().await.expect("begin");
    store
        .append_to_streams_in(
            &mut tx,
            one("gone-1", ExpectedVersion::NoStream, event("Gone", 1)),
        )
        .await
        .expect("append inside the transaction");
    let kept = event("Kept", 2);
    store
        .append_to_stream("kept-1", ExpectedVersion::NoStream, vec![kept.clone()])
        .await
        .expect("append");
    let mut checkpoint = Position::START;
    let mut seen = read_pass(&*store, &mut checkpoint, 10).await;
    assert!(
        seen.is_empty(),
        "delivered past an open transaction: {seen:?}"
    );
    tx.rollback().await.expect("rollback");
    follow_until(&*store, &mut checkpoint, &mut seen, 1).await;
    assert_eq!(ids(&seen), vec![kept.event_id]);
    assert_eq!(store.stream_info("gone-1").await.expect("info"), None);
}

/// Many writers with random delays, some holding their transaction open a
/// while, against one reader following the log from its checkpoint: the
/// reader sees every committed event exactly once, in the order a fresh
/// reader sees afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_following_reader_sees_every_event_once_under_racing_writers() {
    const WRITERS: usize = 8;
    const APPENDS: usize = 25;
    let Some(store) = test_store().await else {
        return;
    };
    let store = Arc::new(store);
    let seed: u64 = rand::random();
    println!("seed {seed}");

    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (store, done) = (Arc::clone(&store), Arc::clone(&done));
        tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut checkpoint = Position::START;
            let mut seen = Vec::new();
            while !done.load(Ordering::Acquire) {
                seen.extend(read_pass(&**store, &mut checkpoint, rng.random_range(1..8)).await);
                tokio::time::sleep(Duration::from_millis(rng.random_range(0..4))).await;
            }
            (checkpoint, seen)
        })
    };

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(seed ^ (w as u64 + 1));
                let mut written = Vec::new();
                for k in 0..APPENDS {
                    let n = (w * 1000 + k) as u64;
                    let batch: Vec<NewEvent> = (0..rng.random_range(1..4))
                        .map(|i| event("Raced", n * 10 + i))
                        .collect();
                    let ids: Vec<Uuid> = batch.iter().map(|e| e.event_id).collect();
                    let own = format!("writer-{w}");
                    let ok = match rng.random_range(0..4) {
                        0 => store
                            .append_to_stream(&own, ExpectedVersion::Any, batch)
                            .await
                            .is_ok(),
                        // One stream every writer appends to: lost races retry inside.
                        1 => store
                            .append_to_stream("shared-1", ExpectedVersion::Any, batch)
                            .await
                            .is_ok(),
                        2 => {
                            let mut tx = store.pool().begin().await.expect("begin");
                            let appended = store
                                .append_to_streams_in(
                                    &mut tx,
                                    vec![StreamAppend::new(&own, ExpectedVersion::Any, batch)],
                                )
                                .await;
                            tokio::time::sleep(Duration::from_millis(rng.random_range(0..30)))
                                .await;
                            match appended {
                                Ok(_) => {
                                    tx.commit().await.expect("commit");
                                    true
                                }
                                Err(e) => panic!("append inside a transaction failed: {e}"),
                            }
                        }
                        _ => {
                            let (first, second) = batch.split_at(1);
                            store
                                .append_to_streams(vec![
                                    StreamAppend::new(&own, ExpectedVersion::Any, first.to_vec()),
                                    StreamAppend::new(
                                        format!("pair-{w}-{k}"),
                                        ExpectedVersion::NoStream,
                                        second.to_vec(),
                                    ),
                                ])
                                .await
                                .is_ok()
                        }
                    };
                    assert!(ok, "writer {w}: append {k} failed");
                    written.extend(ids);
                    tokio::time::sleep(Duration::from_millis(rng.random_range(0..5))).await;
                }
                written
            })
        })
        .collect();

    let mut written = HashSet::new();
    for w in writers {
        written.extend(w.await.expect("writer panicked"));
    }
    done.store(true, Ordering::Release);
    let (mut checkpoint, mut seen) = reader.await.expect("reader panicked");
    follow_until(&**store, &mut checkpoint, &mut seen, written.len()).await;

    assert_each_once(&seen);
    assert_eq!(seen.len(), written.len());
    assert_eq!(ids(&seen).into_iter().collect::<HashSet<_>>(), written);
    let mut fresh = Position::START;
    assert_eq!(
        ids(&read_pass(&**store, &mut fresh, 100).await),
        ids(&seen),
        "the order is not stable"
    );
    // The stream every writer raced on is gap-free.
    let shared = store
        .read_stream_forward("shared-1", 1, usize::MAX)
        .await
        .expect("read");
    let versions: Vec<u64> = shared.iter().map(|e| e.version).collect();
    assert_eq!(versions, (1..=shared.len() as u64).collect::<Vec<_>>());
}

// ---------------------------------------------------------------------------
// Concurrency control

/// Writers racing on one stream with exact versions: each version is won
/// once, the losers are told the stream's real version, and the stream ends
/// gap-free with every event once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_exact_writers_get_the_real_version() {
    const TASKS: usize = 8;
    const EACH: usize = 5;
    let Some(store) = test_store().await else {
        return;
    };
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut mine = Vec::new();
                let mut conflicts = 0;
                while mine.len() < EACH {
                    let version = store
                        .stream_info("race-1")
                        .await
                        .expect("info")
                        .map_or(0, |i| i.version);
                    let e = event("Raced", (t * 100 + mine.len()) as u64);
                    let id = e.event_id;
                    match store
                        .append_to_stream("race-1", ExpectedVersion::Exact(version), vec![e])
                        .await
                    {
                        Ok(r) => {
                            assert_eq!(r.last_version(), version + 1);
                            mine.push(id);
                        }
                        Err(Error::ConcurrencyConflict {
                            stream,
                            expected,
                            actual,
                        }) => {
                            assert_eq!(
                                (stream.as_str(), expected),
                                ("race-1", ExpectedVersion::Exact(version))
                            );
                            assert!(
                                actual > version,
                                "conflict reports {actual}, not past {version}"
                            );
                            conflicts += 1;
                        }
                        Err(e) => panic!("unexpected error: {e}"),
                    }
                }
                (mine, conflicts)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut conflicts = 0;
    for t in tasks {
        let (mine, c) = t.await.expect("task panicked");
        all.extend(mine);
        conflicts += c;
    }
    println!("{conflicts} conflicts");
    let stream = store
        .read_stream_forward("race-1", 1, usize::MAX)
        .await
        .expect("read");
    assert_eq!(
        stream.iter().map(|e| e.version).collect::<Vec<_>>(),
        (1..=(TASKS * EACH) as u64).collect::<Vec<_>>()
    );
    assert_eq!(
        ids(&stream).into_iter().collect::<HashSet<_>>(),
        all.into_iter().collect::<HashSet<_>>()
    );
}

/// `Any` appends that lose the race on the version constraint retry inside
/// the store: none fails, none is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_any_writers_all_succeed() {
    const TASKS: usize = 10;
    const EACH: usize = 10;
    let Some(store) = test_store().await else {
        return;
    };
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut mine = Vec::new();
                for i in 0..EACH {
                    let e = event("Any", (t * 100 + i) as u64);
                    mine.push(e.event_id);
                    store
                        .append_to_stream("crowded-1", ExpectedVersion::Any, vec![e])
                        .await
                        .expect("an Any append never conflicts");
                }
                mine
            })
        })
        .collect();
    let mut all = HashSet::new();
    for t in tasks {
        all.extend(t.await.expect("task panicked"));
    }
    let stream = store
        .read_stream_forward("crowded-1", 1, usize::MAX)
        .await
        .expect("read");
    assert_eq!(stream.len(), TASKS * EACH);
    assert_eq!(ids(&stream).into_iter().collect::<HashSet<_>>(), all);
    assert_eq!(
        stream.last().map(|e| e.version),
        Some((TASKS * EACH) as u64)
    );
}

/// A mismatch on any stream of a call writes nothing to any of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mismatch_on_one_stream_writes_nothing() {
    let Some(store) = test_store().await else {
        return;
    };
    store
        .append_to_stream("a-1", ExpectedVersion::NoStream, vec![event("E", 1)])
        .await
        .expect("seed a-1");
    let refused = store
        .append_to_streams(vec![
            StreamAppend::new("a-1", ExpectedVersion::Exact(1), vec![event("E", 2)]),
            StreamAppend::new("b-1", ExpectedVersion::Exact(5), vec![event("E", 3)]),
        ])
        .await;
    match refused {
        Err(Error::ConcurrencyConflict { stream, actual, .. }) => {
            assert_eq!((stream.as_str(), actual), ("b-1", 0))
        }
        other => panic!("expected a conflict on b-1, got {other:?}"),
    }
    assert_eq!(
        store
            .stream_info("a-1")
            .await
            .expect("info")
            .map(|i| i.version),
        Some(1)
    );
    assert_eq!(store.stream_info("b-1").await.expect("info"), None);
}

// ---------------------------------------------------------------------------
// Input this store refuses or keeps apart

/// Payloads are stored as jsonb: anything else is refused and nothing of
/// the call is written; JSON comes back as the same JSON value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_must_be_json() {
    let Some(store) = test_store().await else {
        return;
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"not json".to_vec(), "payload"),
        (Vec::new(), "payload"),
        (vec![0xff, 0xfe], "payload"),
        // Valid JSON, but jsonb cannot hold a NUL character.
        (br#"{"a":"\u0000"}"#.to_vec(), "input"),
    ];
    for (payload, field) in cases {
        let result = store
            .append_to_streams(vec![
                StreamAppend::new("json-1", ExpectedVersion::Any, vec![event("Fine", 1)]),
                StreamAppend::new(
                    "json-2",
                    ExpectedVersion::Any,
                    vec![NewEvent::new("Bad", payload.clone())],
                ),
            ])
            .await;
        match result {
            Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field, "{payload:?}"),
            other => panic!("{payload:?}: expected invalid {field}, got {other:?}"),
        }
    }
    assert_eq!(store.stream_info("json-1").await.expect("info"), None);

    let value = json!({ "zeta": [1, 2.5, "three"], "alpha": { "nested": null }, "b": true });
    let spaced =
        b"{ \"zeta\" : [1, 2.5, \"three\"],\n \"alpha\": {\"nested\": null}, \"b\": true }"
            .to_vec();
    store
        .append_to_stream(
            "json-3",
            ExpectedVersion::NoStream,
            vec![NewEvent::new("Spaced", spaced)],
        )
        .await
        .expect("append JSON");
    let stored = &store
        .read_stream_forward("json-3", 1, 1)
        .await
        .expect("read")[0];
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&stored.payload).expect("JSON"),
        value
    );
}

/// Event ids are unique in the store: appending one again is refused and
/// names the id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_id_is_stored_once() {
    let Some(store) = test_store().await else {
        return;
    };
    let e = event("Once", 1);
    store
        .append_to_stream("once-1", ExpectedVersion::Any, vec![e.clone()])
        .await
        .expect("first");
    match store
        .append_to_stream("once-2", ExpectedVersion::Any, vec![e.clone()])
        .await
    {
        Err(Error::InvalidInput {
            field: "event_id",
            reason,
        }) => {
            assert!(reason.contains(&e.event_id.to_string()), "{reason}");
        }
        other => panic!("expected the duplicate id to be refused, got {other:?}"),
    }
    assert_eq!(store.stream_info("once-2").await.expect("info"), None);
}

/// Limits set on the builder are enforced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_limits_are_enforced() {
    let limits = Limits {
        max_event_size: 16,
        ..Limits::default()
    };
    let Some(store) = test_store_with(limits).await else {
        return;
    };
    let big = NewEvent::new("Big", format!("\"{}\"", "x".repeat(20)).into_bytes());
    match store
        .append_to_stream("big-1", ExpectedVersion::Any, vec![big])
        .await
    {
        Err(Error::InvalidInput {
            field: "payload", ..
        }) => {}
        other => panic!("expected the payload to be refused, got {other:?}"),
    }
    assert_eq!(store.limits(), limits);
}

/// Opening a store on a migrated schema migrates nothing and keeps the
/// events; the tables are where the schema says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_twice_is_a_no_op() {
    let Some(store) = test_store().await else {
        return;
    };
    let Some(url) = server_url() else { return };
    store
        .append_to_stream("kept-1", ExpectedVersion::NoStream, vec![event("Kept", 1)])
        .await
        .expect("append");
    let again = PostgresStore::builder(url)
        .schema(store.schema())
        .build()
        .await
        .expect("open again");
    assert_eq!(
        again
            .stream_info("kept-1")
            .await
            .expect("info")
            .map(|i| i.version),
        Some(1)
    );
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1",
    )
    .bind(store.schema())
    .fetch_all(store.pool())
    .await
    .expect("list tables");
    assert_eq!(tables, vec!["_sqlx_migrations", "events"]);
    let applied: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {}._sqlx_migrations",
        store.schema()
    )))
    .fetch_one(store.pool())
    .await
    .expect("count migrations");
    assert_eq!(applied, 1);
}

// ---------------------------------------------------------------------------
// A server restart mid-run

/// A throwaway PostgreSQL cluster on a free port, stopped and removed when
/// dropped (also when the test fails).
struct Cluster {
    root: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl Cluster {
    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Runs a server binary, as the `postgres` OS user when we are root
    /// (PostgreSQL refuses to run as root).
    fn run(&self, program: &str, args: &[&str]) -> bool {
        let program = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command.status().is_ok_and(|s| s.success())
    }

    fn pg_ctl(&self, args: &[&str]) -> bool {
        let data = self.data();
        let data = data.to_str().expect("a UTF-8 temp path");
        let mut all = vec!["-D", data, "-w", "-t", "60"];
        all.extend_from_slice(args);
        self.run("pg_ctl", &all)
    }

    /// Makes and starts a cluster, or `None` (with a skip line) when the
    /// server binaries are not installed.
    fn start() -> Option<Cluster> {
        let Some(bin) = server_bin_dir() else {
            println!("skipped: no PostgreSQL server binaries (initdb) found");
            return None;
        };
        let as_postgres = is_root();
        let root =
            std::env::temp_dir().join(format!("mink-pg-restart-{}", Uuid::now_v7().simple()));
        std::fs::create_dir_all(&root).expect("make the cluster dir");
        let port = free_port();
        let cluster = Cluster {
            root,
            bin,
            port,
            as_postgres,
        };
        if as_postgres {
            let chowned = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&cluster.root)
                .status()
                .is_ok_and(|s| s.success());
            assert!(chowned, "chown the cluster dir to postgres");
        }
        let data = cluster.data();
        let data = data.to_str().expect("a UTF-8 temp path");
        assert!(
            cluster.run(
                "initdb",
                &[
                    "-D",
                    data,
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-sync"
                ]
            ),
            "initdb failed"
        );
        let root = cluster.root.to_str().expect("a UTF-8 temp path");
        let server_options = format!("-p {port} -c listen_addresses=127.0.0.1 -k {root}");
        let log = format!("{root}/server.log");
        assert!(
            cluster.pg_ctl(&["-o", &server_options, "-l", &log, "start"]),
            "pg_ctl start failed"
        );
        Some(cluster)
    }

    /// Kills the server without a clean shutdown and starts it again: crash
    /// recovery, every connection gone.
    fn crash_and_restart(&self) {
        assert!(
            self.pg_ctl(&["-m", "immediate", "restart"]),
            "pg_ctl restart failed"
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.pg_ctl(&["-m", "immediate", "stop"]);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn server_bin_dir() -> Option<PathBuf> {
    let has_initdb = |dir: &Path| dir.join("initdb").is_file();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_initdb(&dir) {
            return Some(dir);
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|d| has_initdb(d))
        .collect();
    versions.sort();
    versions.pop()
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// Whether the events `ids` are at `version + 1 …` of `stream`: the check
/// that settles an append whose outcome the client never heard. Retries
/// until the server answers.
async fn landed(store: &PostgresStore, stream: &str, version: u64, ids: &[Uuid]) -> bool {
    let start = Instant::now();
    loop {
        match store
            .read_stream_forward(stream, version + 1, ids.len())
            .await
        {
            Ok(events) => {
                let found: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
                assert!(
                    found.is_empty() || found == ids,
                    "{stream}: another writer's events at v{}",
                    version + 1
                );
                return found == ids;
            }
            Err(Error::Backend(_)) => {
                assert!(start.elapsed() < PATIENCE, "the server did not come back");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("reading {stream}: {e}"),
        }
    }
}

/// Writers keep appending while the server is killed and restarted. The
/// pool reconnects by itself; an append cut off mid-flight is settled by
/// looking for its event ids, then retried only if absent. At the end every
/// event is stored exactly once, in order, and the log delivers each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_pool_recovers_from_a_server_restart() {
    const WRITERS: usize = 3;
    const APPENDS: usize = 60;
    if server_url().is_none() {
        return;
    }
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let store = PostgresStore::builder(cluster.url())
        .schema(fresh_schema())
        .acquire_timeout(Duration::from_secs(2))
        .build()
        .await
        .expect("a store on the throwaway cluster");
    let progress = Arc::new(AtomicUsize::new(0));
    let unknown_outcomes = Arc::new(AtomicUsize::new(0));

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (store, progress, unknown) = (
                store.clone(),
                Arc::clone(&progress),
                Arc::clone(&unknown_outcomes),
            );
            tokio::spawn(async move {
                let stream = format!("restart-{w}");
                let mut planned = Vec::new();
                let start = Instant::now();
                for k in 0..APPENDS {
                    let batch = vec![
                        event("Tick", (k * 2) as u64),
                        event("Tock", (k * 2 + 1) as u64),
                    ];
                    let ids: Vec<Uuid> = batch.iter().map(|e| e.event_id).collect();
                    let version = (k * 2) as u64;
                    loop {
                        assert!(
                            start.elapsed() < PATIENCE * 2,
                            "writer {w} made no progress"
                        );
                        match store
                            .append_to_stream(&stream, ExpectedVersion::Any, batch.clone())
                            .await
                        {
                            Ok(r) => {
                                assert_eq!(r.last_version(), version + 2);
                                break;
                            }
                            Err(Error::Backend(_)) => {
                                unknown.fetch_add(1, Ordering::Relaxed);
                                if landed(&store, &stream, version, &ids).await {
                                    break;
                                }
                            }
                            Err(e) => panic!("writer {w}, append {k}: {e}"),
                        }
                    }
                    planned.extend(ids);
                    progress.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(3)).await;
                }
                (stream, planned)
            })
        })
        .collect();

    while progress.load(Ordering::Relaxed) < WRITERS * APPENDS / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let restarting = tokio::task::spawn_blocking({
        let started = Instant::now();
        move || {
            cluster.crash_and_restart();
            println!("server down and up again in {:?}", started.elapsed());
            cluster
        }
    });
    let cluster = restarting.await.expect("restart task");
    let during = progress.load(Ordering::Relaxed);

    let mut expected: HashMap<String, Vec<Uuid>> = HashMap::new();
    for w in writers {
        let (stream, planned) = w.await.expect("writer panicked");
        expected.insert(stream, planned);
    }
    println!(
        "appends done when the restart finished: {during} of {}; appends cut off by it: {}",
        WRITERS * APPENDS,
        unknown_outcomes.load(Ordering::Relaxed)
    );
    for (stream, planned) in &expected {
        let stored = store
            .read_stream_forward(stream, 1, usize::MAX)
            .await
            .expect("read the stream");
        assert_eq!(&ids(&stored), planned, "{stream}");
        assert_eq!(
            stored.iter().map(|e| e.version).collect::<Vec<_>>(),
            (1..=planned.len() as u64).collect::<Vec<_>>()
        );
    }
    let mut checkpoint = Position::START;
    let mut log = Vec::new();
    follow_until(&store, &mut checkpoint, &mut log, WRITERS * APPENDS * 2).await;
    assert_each_once(&log);
    assert_eq!(log.len(), WRITERS * APPENDS * 2);
    store.pool().close().await;
    drop(cluster);
}
