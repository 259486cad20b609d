//! The projection store every adapter keeps beside its events: leases that
//! one instance holds at a time and another takes over after expiry,
//! checkpoints that move compare-and-set and fenced by the lease, with the
//! read-model writes of their batch or not at all; rebuild and pause
//! requests; dead letters.
//!
//! The read model of these cases is one table (or, in memory, one list)
//! written through the batch's own transaction, as a projection would.

mod read_model;

use std::sync::Arc;
use std::time::Duration;

use mink::adapters::postgres::sqlx::types::chrono::{DateTime, Utc};
use mink::store::{
    CheckpointUpdate, DeadLetter, Desired, Lease, ProjectionRecord, ProjectionState,
    ProjectionStore, RebuildRequest, RebuildStep, StatusReport,
};
use mink::{Error, Position};
use tokio::sync::Barrier;
use uuid::Uuid;

use super::harness::Harness;
use read_model::ReadModel;

/// A lease long enough never to run out during a case.
const LONG: Duration = Duration::from_secs(300);

/// A lease short enough to wait out.
const SHORT: Duration = Duration::from_millis(300);

/// The projection store of the harness's store.
fn projections(harness: &Harness) -> Arc<dyn ProjectionStore> {
    match harness.store().projection_store() {
        Some(store) => store,
        None => panic!("the store keeps no projection records"),
    }
}

/// An ordinary batch from `from` to `to` that applied `applied` events.
fn batch(from: Position, to: Position, applied: u64) -> CheckpointUpdate {
    CheckpointUpdate {
        from,
        to,
        applied,
        parked: Vec::new(),
        rebuild: RebuildStep::None,
    }
}

fn at(n: u64) -> Position {
    Position::sequential(n)
}

/// A parked event at `n`, its time in whole milliseconds (what every store
/// keeps).
fn parked(projection: &str, n: u64) -> DeadLetter {
    let now = Utc::now().timestamp_millis();
    DeadLetter {
        projection: projection.to_owned(),
        position: at(n),
        event_id: Uuid::now_v7(),
        stream_id: format!("order-{n}"),
        version: n,
        event_type: "Shipped".to_owned(),
        error: format!("cannot apply event {n}"),
        attempts: 3,
        parked_at: DateTime::from_timestamp_millis(now).expect("a time"),
    }
}

/// Commits `row` and `update` in one batch of `lease`.
async fn commit(
    store: &dyn ProjectionStore,
    model: &ReadModel,
    lease: &Lease,
    row: &str,
    update: CheckpointUpdate,
) -> mink::Result<()> {
    let mut tx = store.begin(lease).await.expect("begin a batch");
    model.write(tx.transaction(), row).await;
    tx.commit(update).await
}

async fn record(store: &dyn ProjectionStore, name: &str) -> ProjectionRecord {
    match store.record(name).await.expect("read a record") {
        Some(record) => record,
        None => panic!("no record for `{name}`"),
    }
}

#[track_caller]
fn assert_lease_lost(result: mink::Result<()>, lease: &Lease) {
    match result {
        Err(Error::LeaseLost {
            projection,
            generation,
        }) => assert_eq!(
            (projection.as_str(), generation),
            (lease.projection.as_str(), lease.generation)
        ),
        other => panic!("expected the lease to be lost, got {other:?}"),
    }
}

fn status(state: ProjectionState, last_error: Option<&str>) -> StatusReport {
    StatusReport {
        state,
        last_error: last_error.map(str::to_owned),
    }
}

/// Acquires `name` for `owner`, retrying while another owner's lease runs
/// out (bounded).
async fn acquire_after_expiry(store: &dyn ProjectionStore, name: &str, owner: &str) -> Lease {
    let give_up = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(lease) = store.acquire(name, owner, LONG).await.expect("acquire") {
            return lease;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "the expired lease on `{name}` was never free"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One owner at a time: a live lease keeps others out and is renewed by
/// acquiring again without a new generation; once it expires (by the
/// store's clock) another owner takes over with the next generation, and
/// the old owner's batch then fails as `LeaseLost` and stores nothing, its
/// read-model row included.
pub async fn leases_are_exclusive_until_they_expire(harness: Harness) {
    let store = projections(&harness);
    let model = ReadModel::default();
    let a = store
        .acquire("orders", "instance-a", SHORT)
        .await
        .unwrap()
        .expect("a missing record is free");
    assert_eq!(a.generation, 1);
    let fresh = record(&*store, "orders").await;
    assert_eq!(fresh.checkpoint, Position::START);
    assert_eq!(fresh.owner.as_deref(), Some("instance-a"));
    let (expires, beat) = (fresh.lease_expires_at.unwrap(), fresh.heartbeat_at.unwrap());
    let granted = (expires - beat).num_milliseconds();
    assert!(
        (295..=305).contains(&granted),
        "a lease of 300 ms runs {granted} ms"
    );

    assert_eq!(
        store.acquire("orders", "instance-b", LONG).await.unwrap(),
        None,
        "a live lease keeps another owner out"
    );
    let again = store.acquire("orders", "instance-a", SHORT).await.unwrap();
    assert_eq!(again.as_ref(), Some(&a), "the holder keeps its generation");

    commit(&*store, &model, &a, "a-1", batch(Position::START, at(1), 1))
        .await
        .expect("the holder commits");

    let b = acquire_after_expiry(&*store, "orders", "instance-b").await;
    assert_eq!(
        b.generation,
        a.generation + 1,
        "a take-over bumps the generation"
    );

    let mut late = batch(at(1), at(2), 1);
    late.parked.push(parked("orders", 2));
    assert_lease_lost(commit(&*store, &model, &a, "a-2", late).await, &a);
    let after = record(&*store, "orders").await;
    assert_eq!(after.checkpoint, at(1), "the lost batch moved nothing");
    assert_eq!(after.events_processed, 1);
    assert_eq!(after.owner.as_deref(), Some("instance-b"));
    assert_eq!(
        model.rows(&*store, &b).await,
        ["a-1"],
        "its row was rolled back"
    );
    assert!(store.dead_letters("orders").await.unwrap().is_empty());

    commit(&*store, &model, &b, "b-2", batch(at(1), at(2), 1))
        .await
        .expect("the new holder commits");
    assert_eq!(model.rows(&*store, &b).await, ["a-1", "b-2"]);
    assert_eq!(record(&*store, "orders").await.events_processed, 2);
}

/// A batch commits only from the checkpoint it started at: a second batch
/// from the same place (a stale worker of the same generation) fails as
/// `LeaseLost` and stores nothing.
pub async fn checkpoint_moves_compare_and_set(harness: Harness) {
    let store = projections(&harness);
    let model = ReadModel::default();
    let lease = store
        .acquire("stock", "instance-a", LONG)
        .await
        .unwrap()
        .expect("free");
    commit(
        &*store,
        &model,
        &lease,
        "first",
        batch(Position::START, at(3), 3),
    )
    .await
    .expect("the first batch commits");
    let mut stale = batch(Position::START, at(5), 5);
    stale.parked.push(parked("stock", 4));
    stale.rebuild = RebuildStep::Finished(1);
    assert_lease_lost(
        commit(&*store, &model, &lease, "stale", stale).await,
        &lease,
    );
    let now = record(&*store, "stock").await;
    assert_eq!((now.checkpoint, now.events_processed), (at(3), 3));
    assert_eq!(model.rows(&*store, &lease).await, ["first"]);
    assert!(store.dead_letters("stock").await.unwrap().is_empty());
    commit(&*store, &model, &lease, "next", batch(at(3), at(5), 2))
        .await
        .expect("a batch from the stored checkpoint commits");
    let now = record(&*store, "stock").await;
    assert_eq!((now.checkpoint, now.events_processed), (at(5), 5));
}

/// Renewing extends a held lease and stores the worker's status; releasing
/// frees it at once for another owner. After a take-over the old lease
/// renews to `None` and its release changes nothing.
pub async fn renew_and_release_follow_the_lease(harness: Harness) {
    let store = projections(&harness);
    let a = store
        .acquire("mail", "instance-a", LONG)
        .await
        .unwrap()
        .expect("free");
    let failing = status(ProjectionState::Running, Some("smtp down"));
    let renewed = store
        .renew(&a, LONG, &failing)
        .await
        .unwrap()
        .expect("the holder renews");
    assert_eq!(renewed.state, ProjectionState::Running);
    assert_eq!(renewed.last_error.as_deref(), Some("smtp down"));
    assert_eq!(renewed.generation, a.generation);
    assert_eq!(
        renewed,
        record(&*store, "mail").await,
        "renew returns the record"
    );

    store
        .release(&a, &status(ProjectionState::Stopped, None))
        .await
        .unwrap();
    let released = record(&*store, "mail").await;
    assert_eq!(released.lease_expires_at, None);
    assert_eq!(released.state, ProjectionState::Stopped);
    assert_eq!(released.last_error, None);

    let b = store
        .acquire("mail", "instance-b", LONG)
        .await
        .unwrap()
        .expect("a released lease is free");
    assert_eq!(b.generation, a.generation + 1);
    assert_eq!(
        store
            .renew(&a, LONG, &status(ProjectionState::Running, None))
            .await
            .unwrap(),
        None,
        "the old lease is lost"
    );
    store
        .release(&a, &status(ProjectionState::Faulted, Some("late")))
        .await
        .unwrap();
    let held = record(&*store, "mail").await;
    assert_eq!(held.owner.as_deref(), Some("instance-b"));
    assert!(held.lease_expires_at.is_some(), "b's lease stands");
    assert_eq!(
        held.state,
        ProjectionState::Stopped,
        "a's release changed nothing"
    );
}

/// Tasks racing for one free projection: exactly one gets the lease.
pub async fn racing_acquires_have_one_winner(harness: Harness) {
    const TASKS: usize = 8;
    let store = projections(&harness);
    for round in 0..4 {
        let name = format!("race-{round}");
        let barrier = Arc::new(Barrier::new(TASKS));
        let tasks: Vec<_> = (0..TASKS)
            .map(|task| {
                let (store, barrier, name) =
                    (Arc::clone(&store), Arc::clone(&barrier), name.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store
                        .acquire(&name, &format!("instance-{task}"), LONG)
                        .await
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            if let Some(lease) = task.await.expect("task panicked").expect("acquire") {
                winners.push(lease);
            }
        }
        assert_eq!(winners.len(), 1, "{name}: {winners:?}");
        let held = record(&*store, &name).await;
        assert_eq!(held.owner.as_deref(), Some(winners[0].owner.as_str()));
        assert_eq!((held.generation, winners[0].generation), (1, 1));
    }
}

/// Pause and resume requests are stored for any process to read, creating
/// the record when missing.
pub async fn desired_state_is_stored(harness: Harness) {
    let store = projections(&harness);
    assert_eq!(store.record("report").await.unwrap(), None);
    store.set_desired("report", Desired::Paused).await.unwrap();
    let created = record(&*store, "report").await;
    assert_eq!(created.desired, Desired::Paused);
    assert_eq!(created.state, ProjectionState::Stopped);
    assert_eq!(created.checkpoint, Position::START);
    assert_eq!((created.generation, created.owner), (0, None));
    assert_eq!(created.rebuild, None);
    store.set_desired("report", Desired::Running).await.unwrap();
    assert_eq!(record(&*store, "report").await.desired, Desired::Running);
    store.set_desired("audit", Desired::Paused).await.unwrap();
    let names: Vec<_> = store
        .records()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["audit", "report"], "records come by name");
}

/// A rebuild request is stored, started and finished by the batches that
/// carry its id: finishing a bounded one leaves the projection paused,
/// an unbounded one running. Steps with another id change nothing; a new
/// request replaces the old one; a cancelled one is gone; a range that
/// ends before it starts is refused.
pub async fn rebuild_requests_start_and_finish(harness: Harness) {
    let store = projections(&harness);
    let model = ReadModel::default();
    let lease = store
        .acquire("totals", "instance-a", LONG)
        .await
        .unwrap()
        .expect("free");
    commit(
        &*store,
        &model,
        &lease,
        "1",
        batch(Position::START, at(9), 9),
    )
    .await
    .unwrap();

    let first = store
        .request_rebuild("totals", at(2), Some(at(6)))
        .await
        .unwrap();
    assert_eq!(
        record(&*store, "totals").await.rebuild,
        Some(RebuildRequest {
            id: first,
            from: at(2),
            to: Some(at(6)),
            started: false,
        })
    );

    let mut other = batch(at(9), at(9), 0);
    other.rebuild = RebuildStep::Started(first + 1000);
    commit(&*store, &model, &lease, "2", other).await.unwrap();
    assert!(!record(&*store, "totals").await.rebuild.unwrap().started);

    let mut start = batch(at(9), at(2), 0);
    start.rebuild = RebuildStep::Started(first);
    commit(&*store, &model, &lease, "3", start).await.unwrap();
    let started = record(&*store, "totals").await;
    assert_eq!(started.checkpoint, at(2));
    assert!(started.rebuild.unwrap().started);

    let mut finish = batch(at(2), at(6), 4);
    finish.rebuild = RebuildStep::Finished(first);
    commit(&*store, &model, &lease, "4", finish).await.unwrap();
    let finished = record(&*store, "totals").await;
    assert_eq!(finished.rebuild, None);
    assert_eq!(
        finished.desired,
        Desired::Paused,
        "a bounded rebuild pauses"
    );
    assert_eq!(
        (finished.checkpoint, finished.events_processed),
        (at(6), 13)
    );

    store.set_desired("totals", Desired::Running).await.unwrap();
    let replaced = store.request_rebuild("totals", at(1), None).await.unwrap();
    let second = store
        .request_rebuild("totals", Position::START, None)
        .await
        .unwrap();
    assert!(
        first < replaced && replaced < second,
        "{first} {replaced} {second}"
    );
    let mut stale = batch(at(6), Position::START, 0);
    stale.rebuild = RebuildStep::Finished(replaced);
    commit(&*store, &model, &lease, "5", stale).await.unwrap();
    assert_eq!(
        record(&*store, "totals").await.rebuild.map(|r| r.id),
        Some(second),
        "finishing a replaced request leaves the new one"
    );
    let mut done = batch(Position::START, at(9), 9);
    done.rebuild = RebuildStep::Finished(second);
    commit(&*store, &model, &lease, "6", done).await.unwrap();
    let done = record(&*store, "totals").await;
    assert_eq!((done.rebuild, done.desired), (None, Desired::Running));

    store.request_rebuild("totals", at(3), None).await.unwrap();
    store.cancel_rebuild("totals").await.unwrap();
    assert_eq!(record(&*store, "totals").await.rebuild, None);
    store.cancel_rebuild("never-seen").await.unwrap();

    match store.request_rebuild("totals", at(5), Some(at(4))).await {
        Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "rebuild"),
        other => panic!("expected a backwards range to be refused, got {other:?}"),
    }
    assert_eq!(
        model.rows(&*store, &lease).await,
        ["1", "2", "3", "4", "5", "6"]
    );
}

/// Parked events are stored with their batch, listed in log order, and
/// removed one by one.
pub async fn dead_letters_commit_with_the_checkpoint(harness: Harness) {
    let store = projections(&harness);
    let model = ReadModel::default();
    let lease = store
        .acquire("invoices", "instance-a", LONG)
        .await
        .unwrap()
        .expect("free");
    let (second, fourth, fifth) = (
        parked("invoices", 2),
        parked("invoices", 4),
        parked("invoices", 5),
    );
    let mut update = batch(Position::START, at(4), 2);
    update.parked = vec![second.clone(), fourth.clone()];
    commit(&*store, &model, &lease, "first", update)
        .await
        .unwrap();
    let mut update = batch(at(4), at(5), 0);
    update.parked = vec![fifth.clone()];
    commit(&*store, &model, &lease, "second", update)
        .await
        .unwrap();
    assert_eq!(
        store.dead_letters("invoices").await.unwrap(),
        [second.clone(), fourth.clone(), fifth.clone()],
        "parked events come in log order"
    );
    assert!(store.dead_letters("other").await.unwrap().is_empty());

    assert!(store.remove_dead_letter("invoices", at(4)).await.unwrap());
    assert!(!store.remove_dead_letter("invoices", at(4)).await.unwrap());
    assert!(!store.remove_dead_letter("other", at(2)).await.unwrap());
    assert_eq!(
        store.dead_letters("invoices").await.unwrap(),
        [second, fifth]
    );
}
