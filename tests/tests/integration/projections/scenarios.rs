//! The engine's behaviours, each written once and run on every store.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::future::FutureExt;
use mink::projection::{PoisonPolicy, ProjectionEngine, ProjectionKind, ProjectionStatus};
use mink::store::{
    CheckpointUpdate, Desired, ProjectionRecord, ProjectionState, ProjectionStore as _,
    RebuildStep, StoreTransaction, UnitOfWork, WorkFuture,
};
use mink::subscription::StartFrom;
use mink::{AppendResult, Error, EventStore, ExpectedVersion, Mink, Position, ReadAll};

use super::{Counting, Harness, Model, PATIENCE, append_ticks, rows_of_ticks as rows_of, tick};

fn engine(store: &Arc<dyn EventStore>, instance: &str, projection: Counting) -> ProjectionEngine {
    ProjectionEngine::builder(Arc::clone(store))
        .instance_id(instance)
        .projection(projection)
        .build()
        .expect("an engine")
}

/// Waits until `check` holds on the projection's status.
pub(super) async fn until_status(
    engine: &ProjectionEngine,
    name: &str,
    what: &str,
    check: impl Fn(&ProjectionStatus) -> bool,
) -> ProjectionStatus {
    let started = Instant::now();
    loop {
        let status = engine.status_of(name).await.expect("a status");
        if check(&status) {
            return status;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "waited {PATIENCE:?} for {what}; status: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until `check` holds on the stored record, read through another
/// handle on the database.
async fn until_record(
    h: &Harness,
    name: &str,
    what: &str,
    check: impl Fn(&ProjectionRecord) -> bool,
) -> ProjectionRecord {
    let checkpoints = h.other.projection_store().expect("a projection store");
    let started = Instant::now();
    loop {
        let record = checkpoints.record(name).await.expect("a record");
        if let Some(record) = record.filter(|r| check(r)) {
            return record;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "waited {PATIENCE:?} for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The position of the `n`-th event of the log (1-based).
async fn position_of(store: &dyn EventStore, n: usize) -> Position {
    let all = store
        .read_all_forward(ReadAll::after(Position::START, n))
        .await
        .expect("read the log");
    all[n - 1].position
}

pub(super) async fn applies_each_event_once_and_resumes_from_the_checkpoint(h: Harness) {
    append_ticks(&*h.store, 0, 120, |_| None).await;
    // Another type of event, which the projection does not handle.
    h.store
        .append_to_stream(
            "other-1",
            ExpectedVersion::Any,
            vec![mink::NewEvent::new("Other", b"{}".to_vec())],
        )
        .await
        .unwrap();
    let first = engine(&h.store, "a", Counting::new("counter", &h.model));
    first.start();
    first.wait_caught_up("counter", PATIENCE).await.unwrap();
    assert_eq!(h.model.rows("counter").await, rows_of(0, 120));
    first.stop().await;

    append_ticks(&*h.store, 120, 30, |_| None).await;
    let second = engine(&h.store, "b", Counting::new("counter", &h.model));
    second.start();
    second.wait_caught_up("counter", PATIENCE).await.unwrap();
    // Every event once: a replay would have failed the model's key.
    assert_eq!(h.model.rows("counter").await, rows_of(0, 150));
    // The checkpoint passes the event of another type too (PostgreSQL may
    // show the head a moment late, hence the wait).
    let status = until_status(&second, "counter", "the checkpoint at the head", |s| {
        s.checkpoint == s.head && s.lag_events == 0
    })
    .await;
    assert_eq!(status.events_processed, 150);
    assert_eq!(status.state, ProjectionState::Running);
    assert_eq!(status.owner.as_deref(), Some("b"));
    second.stop().await;
    let stopped = second.status_of("counter").await.unwrap();
    assert_eq!(stopped.state, ProjectionState::Stopped);
}

pub(super) async fn parks_a_poison_event_and_applies_its_neighbours(h: Harness) {
    append_ticks(&*h.store, 0, 40, |n| (n == 17).then_some("poison")).await;
    let projection = Counting::new("poisoned", &h.model).options(|o| o.batch_size = 25);
    projection.faults.poison.store(true, Ordering::SeqCst);
    let faults = Arc::clone(&projection.faults);
    let engine = engine(&h.store, "a", projection);
    engine.start();
    engine.wait_caught_up("poisoned", PATIENCE).await.unwrap();
    let mut expected = rows_of(0, 40);
    expected.retain(|r| r.stream != "tick-17");
    assert_eq!(h.model.rows("poisoned").await, expected);
    let dead = engine.dead_letters("poisoned").await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].stream_id, "tick-17");
    assert_eq!(dead[0].position, position_of(&*h.store, 18).await);
    assert_eq!(dead[0].event_type, "Ticked");
    assert_eq!(dead[0].attempts, 3);
    assert!(
        dead[0].error.contains("cannot apply tick-17"),
        "{}",
        dead[0].error
    );
    // Once in its batch (whose 17 good events were then applied on their
    // own), then three attempts in a batch of its own.
    assert_eq!(faults.failures.load(Ordering::SeqCst), 4);
    let status = engine.status_of("poisoned").await.unwrap();
    assert_eq!(status.dead_letters, 1);
    assert_eq!(status.events_processed, 39);

    // Replaying it while it still fails leaves it parked.
    let err = engine
        .replay_dead_letter("poisoned", dead[0].position)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot apply tick-17"), "{err}");
    assert_eq!(engine.dead_letters("poisoned").await.unwrap().len(), 1);
    // Once the cause is fixed, the replay applies it and clears it.
    faults.poison.store(false, Ordering::SeqCst);
    engine
        .replay_dead_letter("poisoned", dead[0].position)
        .await
        .unwrap();
    assert_eq!(h.model.rows("poisoned").await, rows_of(0, 40));
    assert!(engine.dead_letters("poisoned").await.unwrap().is_empty());
    let status = engine.status_of("poisoned").await.unwrap();
    assert_eq!(status.events_processed, 40);
    assert!(
        engine
            .replay_dead_letter("poisoned", dead[0].position)
            .await
            .is_err(),
        "a position with no parked event is refused"
    );
    engine.stop().await;
}

pub(super) async fn a_panicking_handler_is_a_poison_event_and_the_worker_survives(h: Harness) {
    append_ticks(&*h.store, 0, 10, |n| (n == 4).then_some("panic")).await;
    let projection = Counting::new("panicky", &h.model).options(|o| o.max_attempts = 1);
    projection.faults.panics.store(true, Ordering::SeqCst);
    let engine = engine(&h.store, "a", projection);
    engine.start();
    engine.wait_caught_up("panicky", PATIENCE).await.unwrap();
    assert_eq!(h.model.rows("panicky").await.len(), 9);
    let dead = engine.dead_letters("panicky").await.unwrap();
    assert_eq!(dead.len(), 1);
    assert!(dead[0].error.contains("panicked"), "{}", dead[0].error);
    // The worker is alive: new events still arrive.
    append_ticks(&*h.store, 10, 3, |_| None).await;
    engine.wait_caught_up("panicky", PATIENCE).await.unwrap();
    assert_eq!(h.model.rows("panicky").await.len(), 12);
    engine.stop().await;
}

pub(super) async fn exhausted_retries_fault_the_projection_until_resumed(h: Harness) {
    append_ticks(&*h.store, 0, 10, |n| (n == 6).then_some("poison")).await;
    let projection =
        Counting::new("strict", &h.model).options(|o| o.on_poison = PoisonPolicy::Pause);
    projection.faults.poison.store(true, Ordering::SeqCst);
    let faults = Arc::clone(&projection.faults);
    let engine = engine(&h.store, "a", projection);
    engine.start();
    let status = until_status(&engine, "strict", "a fault", |s| {
        s.state == ProjectionState::Faulted
    })
    .await;
    assert!(
        status
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("cannot apply tick-6")),
        "{status:?}"
    );
    // It stopped at the poison event, with the events before it applied.
    assert_eq!(h.model.rows("strict").await, rows_of(0, 6));
    assert_eq!(status.checkpoint, position_of(&*h.store, 6).await);
    assert!(engine.dead_letters("strict").await.unwrap().is_empty());
    // Another handle sees the fault too: it is stored with the lease.
    let record = until_record(&h, "strict", "the stored fault", |r| {
        r.state == ProjectionState::Faulted
    })
    .await;
    assert!(record.last_error.is_some());

    // The operator fixes the cause and resumes: the event applies.
    faults.poison.store(false, Ordering::SeqCst);
    engine.resume("strict").await.unwrap();
    engine.wait_caught_up("strict", PATIENCE).await.unwrap();
    assert_eq!(h.model.rows("strict").await, rows_of(0, 10));
    let status = until_status(&engine, "strict", "running", |s| {
        s.state == ProjectionState::Running
    })
    .await;
    assert_eq!(status.last_error, None);
    engine.stop().await;
}

pub(super) async fn rebuild_honours_its_bounds_then_pauses_there(h: Harness) {
    append_ticks(&*h.store, 0, 10, |_| None).await;
    let engine = engine(&h.store, "a", Counting::new("rebuilt", &h.model));
    engine.start();
    engine.wait_caught_up("rebuilt", PATIENCE).await.unwrap();
    assert_eq!(h.model.rows("rebuilt").await, rows_of(0, 10));

    // Rebuild the events after the 3rd, up to and including the 7th.
    let from = position_of(&*h.store, 3).await;
    let to = position_of(&*h.store, 7).await;
    let request = engine.rebuild("rebuilt", from, Some(to)).await.unwrap();
    assert!(request > 0);
    let status = until_status(
        &engine,
        "rebuilt",
        "the rebuild to pause at its bound",
        |s| s.state == ProjectionState::Paused,
    )
    .await;
    assert_eq!(status.checkpoint, to);
    assert_eq!(h.model.rows("rebuilt").await, rows_of(3, 4));
    let record = h
        .other
        .projection_store()
        .unwrap()
        .record("rebuilt")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.rebuild, None);
    assert_eq!(record.desired, Desired::Paused);

    // Events appended meanwhile wait for the resume.
    append_ticks(&*h.store, 10, 2, |_| None).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(h.model.rows("rebuilt").await, rows_of(3, 4));
    engine.resume("rebuilt").await.unwrap();
    engine.wait_caught_up("rebuilt", PATIENCE).await.unwrap();
    assert_eq!(h.model.rows("rebuilt").await, rows_of(3, 9));

    // An unbounded rebuild from the start replays everything and runs on.
    engine
        .rebuild("rebuilt", Position::START, None)
        .await
        .unwrap();
    until_status(&engine, "rebuilt", "the full rebuild", |s| {
        s.events_processed == 10 + 4 + 5 + 12
    })
    .await;
    assert_eq!(h.model.rows("rebuilt").await, rows_of(0, 12));
    let record = until_record(&h, "rebuilt", "the rebuild to finish", |r| {
        r.rebuild.is_none()
    })
    .await;
    assert_eq!(record.desired, Desired::Running);
    assert!(
        engine.rebuild("rebuilt", to, Some(from)).await.is_err(),
        "a rebuild whose bound is before its start is refused"
    );
    engine.stop().await;
}

pub(super) async fn pause_and_resume_requested_through_another_handle(h: Harness) {
    append_ticks(&*h.store, 0, 5, |_| None).await;
    let engine = engine(&h.store, "a", Counting::new("paused", &h.model));
    engine.start();
    engine.wait_caught_up("paused", PATIENCE).await.unwrap();

    // Another handle on the database (its own connections) asks.
    let remote = h.other.projection_store().unwrap();
    remote.set_desired("paused", Desired::Paused).await.unwrap();
    until_status(&engine, "paused", "the pause", |s| {
        s.state == ProjectionState::Paused
    })
    .await;
    append_ticks(&*h.store, 5, 5, |_| None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.model.rows("paused").await, rows_of(0, 5));

    remote
        .set_desired("paused", Desired::Running)
        .await
        .unwrap();
    engine.wait_caught_up("paused", PATIENCE).await.unwrap();
    assert_eq!(h.model.rows("paused").await, rows_of(0, 10));
    engine.stop().await;
}

pub(super) async fn stop_joins_a_worker_that_is_backing_off(h: Harness) {
    append_ticks(&*h.store, 0, 3, |_| None).await;
    let projection = Counting::new("backing-off", &h.model).options(|o| {
        o.backoff_initial = Duration::from_secs(60);
        o.backoff_max = Duration::from_secs(60);
    });
    projection.faults.transient.store(true, Ordering::SeqCst);
    let faults = Arc::clone(&projection.faults);
    let first = engine(&h.store, "a", projection);
    first.start();
    let started = Instant::now();
    while faults.failures.load(Ordering::SeqCst) == 0 {
        assert!(started.elapsed() < PATIENCE, "the handler never ran");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Transient failures do not count: nothing is parked or faulted.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let status = first.status_of("backing-off").await.unwrap();
    assert_eq!(status.state, ProjectionState::Running);
    assert!(status.last_error.is_some());
    tokio::time::timeout(Duration::from_secs(10), first.stop())
        .await
        .expect("stop returns while the worker backs off for a minute");
    assert!(first.dead_letters("backing-off").await.unwrap().is_empty());
    assert_eq!(faults.failures.load(Ordering::SeqCst), 1);
    // The lease was released: another instance takes over at once.
    faults.transient.store(false, Ordering::SeqCst);
    let next = engine(&h.other, "b", Counting::new("backing-off", &h.model));
    next.start();
    next.wait_caught_up("backing-off", Duration::from_secs(1))
        .await
        .expect("taken over well within the lease's time-to-live");
    assert_eq!(h.model.rows("backing-off").await, rows_of(0, 3));
    next.stop().await;
}

pub(super) async fn one_instance_works_a_projection_and_another_takes_over(h: Harness) {
    let a = engine(&h.store, "a", Counting::new("shared", &h.model));
    let b = engine(&h.other, "b", Counting::new("shared", &h.model));
    a.start();
    b.start();
    let writer = {
        let store = Arc::clone(&h.store);
        tokio::spawn(async move { append_ticks(&*store, 0, 200, |_| None).await })
    };
    let owner = until_status(&a, "shared", "an owner", |s| s.owner.is_some()).await;
    writer.await.unwrap();
    a.wait_caught_up("shared", PATIENCE).await.unwrap();
    assert_eq!(h.model.rows("shared").await, rows_of(0, 200));
    let (owner, standby) = if owner.owner.as_deref() == Some("a") {
        (a, b)
    } else {
        (b, a)
    };
    assert!(owner.status_of("shared").await.unwrap().owned_here);
    assert!(!standby.status_of("shared").await.unwrap().owned_here);

    owner.stop().await;
    append_ticks(&*h.store, 200, 20, |_| None).await;
    standby.wait_caught_up("shared", PATIENCE).await.unwrap();
    let status = until_status(&standby, "shared", "the take-over", |s| s.owned_here).await;
    assert_eq!(h.model.rows("shared").await, rows_of(0, 220));
    assert_eq!(status.events_processed, 220);
    standby.stop().await;
}

pub(super) async fn a_stale_worker_cannot_commit_after_a_take_over(h: Harness) {
    append_ticks(&*h.store, 0, 2, |_| None).await;
    let checkpoints = h.store.projection_store().unwrap();
    let other = h.other.projection_store().unwrap();
    let ttl = Duration::from_millis(300);
    let first = h
        .store
        .read_all_forward(ReadAll::after(Position::START, 1))
        .await
        .unwrap();
    let update = || CheckpointUpdate {
        from: Position::START,
        to: first[0].position,
        applied: 1,
        parked: Vec::new(),
        rebuild: RebuildStep::None,
    };
    let stale = checkpoints
        .acquire("fenced", "a", ttl)
        .await
        .unwrap()
        .unwrap();
    let mut tx = checkpoints.begin(&stale).await.unwrap();
    let backend = tx.transaction().backend();
    if backend == "sqlite" {
        // One writer at a time: the open batch holds the file, so nobody
        // can take over until it ends. Its lease ran out before it began.
        drop(tx);
        tokio::time::sleep(ttl + Duration::from_millis(200)).await;
        let fresh = other.acquire("fenced", "b", ttl).await.unwrap().unwrap();
        assert!(fresh.generation > stale.generation);
        tx = checkpoints.begin(&stale).await.unwrap();
        h.model
            .write(tx.transaction(), "fenced", &first[0])
            .await
            .unwrap();
    } else {
        // The lease runs out while the batch is open; another instance
        // takes the projection over.
        h.model
            .write(tx.transaction(), "fenced", &first[0])
            .await
            .unwrap();
        tokio::time::sleep(ttl + Duration::from_millis(200)).await;
        let fresh = other.acquire("fenced", "b", ttl).await.unwrap().unwrap();
        assert!(fresh.generation > stale.generation);
    }
    let err = tx.commit(update()).await.unwrap_err();
    assert!(matches!(err, Error::LeaseLost { .. }), "{err}");
    // Neither the checkpoint nor the read-model row was stored.
    let record = other.record("fenced").await.unwrap().unwrap();
    assert_eq!(record.checkpoint, Position::START);
    assert_eq!(record.events_processed, 0);
    assert!(h.model.rows("fenced").await.is_empty());
}

/// A unit of work that always fails.
struct Refuse;

impl UnitOfWork for Refuse {
    fn run<'a>(
        &'a self,
        _tx: &'a mut dyn StoreTransaction,
        _written: &'a AppendResult,
    ) -> WorkFuture<'a> {
        async { Err("refused".into()) }.boxed()
    }
}

pub(super) async fn inline_projection_commits_with_the_events_or_not_at_all(h: Harness) {
    let projection = Counting::new("inline", &h.model).kind(ProjectionKind::Inline);
    projection.faults.poison.store(true, Ordering::SeqCst);
    let app = Mink::builder()
        .shared_store(Arc::clone(&h.store))
        .registered_projections(false)
        .projection(projection)
        .build()
        .await
        .unwrap();
    let store = app.store();
    store
        .append_to_stream("tick-1", ExpectedVersion::NoStream, vec![tick(1, None)])
        .await
        .unwrap();
    assert_eq!(h.model.rows("inline").await, rows_of(1, 1));

    // The projection fails: neither the event nor the row is stored.
    let err = store
        .append_to_stream(
            "tick-2",
            ExpectedVersion::NoStream,
            vec![tick(2, Some("poison"))],
        )
        .await
        .unwrap_err();
    let Error::UnitOfWork(source) = &err else {
        panic!("expected a unit-of-work error, got {err}");
    };
    let failed = source
        .downcast_ref::<mink::projection::ProjectionFailed>()
        .expect("a typed projection failure");
    assert_eq!(failed.projection, "inline");
    assert_eq!(failed.stream, "tick-2");
    assert_eq!(store.stream_info("tick-2").await.unwrap(), None);

    // Another unit of work fails after the projection ran: both roll back.
    let err = store
        .append_with(
            vec![mink::StreamAppend::new(
                "tick-3",
                ExpectedVersion::NoStream,
                vec![tick(3, None)],
            )],
            &Refuse,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnitOfWork(_)), "{err}");
    assert_eq!(store.stream_info("tick-3").await.unwrap(), None);
    assert_eq!(h.model.rows("inline").await, rows_of(1, 1));
}

pub(super) async fn live_projection_catches_up_follows_and_loses_nothing_while_paused(h: Harness) {
    // A live projection keeps its model in memory, whatever the store.
    let model = Model::Memory(Arc::default());
    append_ticks(&*h.store, 0, 20, |_| None).await;
    let live = Counting::new("live", &model).kind(ProjectionKind::Live);
    let engine = ProjectionEngine::builder(Arc::clone(&h.store))
        .live_projection_from(live, StartFrom::Beginning)
        .build()
        .unwrap();
    engine.start();
    engine.wait_caught_up("live", PATIENCE).await.unwrap();
    assert_eq!(model.rows("live").await, rows_of(0, 20));
    engine.pause("live").await.unwrap();
    until_status(&engine, "live", "the pause", |s| {
        s.state == ProjectionState::Paused
    })
    .await;
    append_ticks(&*h.store, 20, 15, |_| None).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(model.rows("live").await, rows_of(0, 20));
    engine.resume("live").await.unwrap();
    engine.wait_caught_up("live", PATIENCE).await.unwrap();
    assert_eq!(model.rows("live").await, rows_of(0, 35));
    append_ticks(&*h.store, 35, 5, |_| None).await;
    engine.wait_caught_up("live", PATIENCE).await.unwrap();
    assert_eq!(model.rows("live").await, rows_of(0, 40));
    // Events it does not handle leave nothing to wait for.
    h.store
        .append_to_stream(
            "other-1",
            ExpectedVersion::Any,
            vec![mink::NewEvent::new("Other", b"{}".to_vec())],
        )
        .await
        .unwrap();
    engine
        .wait_caught_up("live", Duration::from_secs(2))
        .await
        .expect("caught up: nothing it handles is waiting");
    engine.stop().await;
}

pub(super) async fn status_reports_lag_and_wait_caught_up_times_out_typed(h: Harness) {
    append_ticks(&*h.store, 0, 8, |_| None).await;
    let engine = engine(&h.store, "a", Counting::new("lagging", &h.model));
    // Not started: everything is lag.
    let status = engine.status_of("lagging").await.unwrap();
    assert_eq!(status.lag_events, 8);
    assert!(status.lag_seconds >= 0.0);
    let err = engine
        .wait_caught_up("lagging", Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::ProjectionLagging { projection, .. } if projection == "lagging"),
        "{err}"
    );
    assert!(matches!(
        engine.status_of("missing").await.unwrap_err(),
        Error::UnknownProjection(_)
    ));
    engine.start();
    engine.wait_caught_up("lagging", PATIENCE).await.unwrap();
    let status = engine.status_of("lagging").await.unwrap();
    assert_eq!(status.lag_events, 0);
    assert_eq!(status.lag_seconds, 0.0);
    assert_eq!(engine.status().await.unwrap().len(), 1);
    engine.stop().await;
}

/// Rewrites the metadata of `stream`'s events into a shape no reader
/// accepts, as a hand-made fix gone wrong would.
async fn corrupt(model: &Model, stream: &str) {
    use mink::adapters::postgres::sqlx as pgx;
    use mink::adapters::sqlite::sqlx as sqlite;
    match model {
        Model::Sqlite(pool) => {
            sqlite::query(
                "UPDATE events SET metadata = '{\"correlation_id\": 7}' WHERE stream_id = ?",
            )
            .bind(stream)
            .execute(pool)
            .await
            .unwrap();
        }
        Model::Postgres(pool, schema) => {
            pgx::query(pgx::AssertSqlSafe(format!(
                "UPDATE \"{schema}\".events SET metadata = '{{\"correlation_id\": 7}}'::jsonb WHERE stream_id = $1"
            )))
            .bind(stream)
            .execute(pool)
            .await
            .unwrap();
        }
        Model::Memory(_) => unreachable!("an in-memory log holds decoded events only"),
    }
}

pub(super) async fn an_undecodable_row_is_parked_and_the_log_goes_on(h: Harness) {
    append_ticks(&*h.store, 0, 12, |_| None).await;
    corrupt(&h.model, "tick-5").await;
    let engine = engine(&h.store, "a", Counting::new("undecodable", &h.model));
    engine.start();
    engine
        .wait_caught_up("undecodable", PATIENCE)
        .await
        .unwrap();
    let mut expected = rows_of(0, 12);
    expected.retain(|r| r.stream != "tick-5");
    assert_eq!(h.model.rows("undecodable").await, expected);
    let dead = engine.dead_letters("undecodable").await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].stream_id, "tick-5");
    // Its place in the log, between its neighbours.
    assert!(dead[0].position > position_of_stream(&h, "tick-4").await);
    assert!(dead[0].position < position_of_stream(&h, "tick-6").await);
    assert!(
        dead[0].error.contains("cannot be read"),
        "{}",
        dead[0].error
    );
    engine.stop().await;
}

/// The position of the one event of `stream`, read through its own stream.
async fn position_of_stream(h: &Harness, stream: &str) -> Position {
    h.store.read_stream_forward(stream, 1, 1).await.unwrap()[0].position
}
