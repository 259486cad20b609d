//! The global log never skips a late commit: it is ordered by transaction,
//! then event; an open transaction holds readers back until it commits or
//! rolls back; a following reader sees every event once under racing
//! writers.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mink::{EventStore, ExpectedVersion, NewEvent, Position, StreamAppend};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use super::support::{assert_each_once, event, follow_until, ids, one, read_pass, test_store};

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

/// A write transaction held open elsewhere — in another database of the
/// same server, or on another table of the store's own database — cannot
/// add rows to this store's table, so it does not hold readers of the log
/// back: a new event is readable at once. A transaction that holds the
/// events table (an append not yet committed) still is waited for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_on_other_tables_or_databases_do_not_hold_readers_back() {
    use mink::adapters::postgres::sqlx::{self, Connection};

    let Some(store) = test_store().await else {
        return;
    };
    let url = super::support::server_url().expect("the gate saw a URL");
    let mut admin = sqlx::PgConnection::connect(&url).await.expect("connect");
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'mink_other')",
    )
    .fetch_one(&mut admin)
    .await
    .expect("look for the other database");
    if !exists {
        // Two test runs may race to create it; losing the race is fine.
        let _ = sqlx::query("CREATE DATABASE mink_other")
            .execute(&mut admin)
            .await;
    }
    let other_url = match url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/mink_other"),
        None => panic!("a URL naming a database: {url}"),
    };
    let mut other = sqlx::PgConnection::connect(&other_url)
        .await
        .expect("connect to the other database");
    sqlx::query("CREATE TABLE IF NOT EXISTS held (n int)")
        .execute(&mut other)
        .await
        .expect("a table there");
    let mut elsewhere = other.begin().await.expect("begin");
    sqlx::query("INSERT INTO held VALUES (1)")
        .execute(&mut *elsewhere)
        .await
        .expect("a write that takes a transaction id");
    let side_table = format!("{}.side_table", store.schema());
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE {side_table} (n int)"
    )))
    .execute(store.pool())
    .await
    .expect("another table of this database");
    let mut here = store.pool().begin().await.expect("begin");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {side_table} VALUES (1)"
    )))
    .execute(&mut *here)
    .await
    .expect("a write on another table, holding its id");

    let written = store
        .append_to_stream(
            "elsewhere-1",
            ExpectedVersion::NoStream,
            vec![event("E", 1)],
        )
        .await
        .expect("append");
    let last = written.last_position().expect("one event");
    let started = std::time::Instant::now();
    store
        .wait_until_visible(last, Duration::from_secs(3))
        .await
        .expect("visible while the other transactions are open");
    println!(
        "delivered in {:?} with transactions open on another table and in another database",
        started.elapsed()
    );
    // The transaction that wrote another table first cannot append now.
    let refused = store
        .append_to_streams_in(
            &mut here,
            one("late-1", ExpectedVersion::NoStream, event("L", 3)),
        )
        .await;
    assert!(
        matches!(
            refused,
            Err(mink::Error::InvalidInput {
                field: "transaction",
                ..
            })
        ),
        "{refused:?}"
    );
    here.rollback().await.expect("rollback");
    elsewhere.rollback().await.expect("rollback");

    // An append not yet committed holds readers back until it ends.
    let mut open = store.pool().begin().await.expect("begin");
    store
        .append_to_streams_in(
            &mut open,
            one("open-1", ExpectedVersion::NoStream, event("O", 4)),
        )
        .await
        .expect("append inside the open transaction");
    let written = store
        .append_to_stream("here-1", ExpectedVersion::NoStream, vec![event("E", 2)])
        .await
        .expect("append");
    let last = written.last_position().expect("one event");
    assert!(
        store
            .wait_until_visible(last, Duration::from_millis(300))
            .await
            .is_err(),
        "an open append holds readers back"
    );
    open.rollback().await.expect("rollback");
    store
        .wait_until_visible(last, Duration::from_secs(10))
        .await
        .expect("visible once it ended");
}
