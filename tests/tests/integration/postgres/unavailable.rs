//! A server that is down, on a throwaway cluster made with `initdb` (the
//! shared server is never touched): every call fails with
//! `Error::Unavailable` once the store's wait for a connection runs out,
//! and an append retried with the same event ids after the server is back
//! is stored once.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mink::adapters::postgres::PostgresStore;
use mink::{Error, EventStore, ExpectedVersion, IdempotencyStore, StreamAppend, UnitOfWork};

use super::support::{Cluster, PATIENCE, event, fresh_schema, ids, server_url};

/// The wait for a connection configured in this test.
const WAIT: Duration = Duration::from_secs(1);

/// The builder's documented default wait.
const DEFAULT_WAIT: Duration = Duration::from_secs(5);

/// Runs `call`, which must fail with `Error::Unavailable` before `3 × wait`
/// (the wait, plus a generous margin for a loaded machine).
async fn unavailable_within<T: Debug>(
    what: &str,
    wait: Duration,
    call: impl Future<Output = mink::Result<T>>,
) {
    let started = Instant::now();
    let outcome = call.await;
    let took = started.elapsed();
    assert!(
        matches!(outcome, Err(Error::Unavailable(_))),
        "{what}: expected Error::Unavailable, got {outcome:?}"
    );
    assert!(
        took < wait * 3,
        "{what}: failed after {took:?}, with a wait of {wait:?}"
    );
}

/// Calls made while the server is stopped fail as unavailable within the
/// configured wait, whatever they do (append, append in a transaction,
/// read, claim an idempotency key, open a store). After the server is
/// back, the append retried with the same event ids is stored; retried
/// again, it is refused as a duplicate, or as a conflict when it expects
/// the version the stored batch moved the stream from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_fail_as_unavailable_while_the_server_is_down() {
    if server_url().is_none() {
        return;
    }
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let schema = fresh_schema();
    let store = PostgresStore::builder(cluster.url())
        .schema(&schema)
        .acquire_timeout(WAIT)
        .build()
        .await
        .expect("a store on the throwaway cluster");
    let with_default_wait = PostgresStore::builder(cluster.url())
        .schema(&schema)
        .build()
        .await
        .expect("a store with the default wait");
    let stream = "unavailable-1";
    store
        .append_to_stream(stream, ExpectedVersion::NoStream, vec![event("Opened", 0)])
        .await
        .expect("an append while the server is up");

    cluster.stop();
    let batch = vec![event("Tick", 1), event("Tock", 2)];
    let batch_ids: Vec<_> = batch.iter().map(|e| e.event_id).collect();
    let append = || store.append_to_stream(stream, ExpectedVersion::Exact(1), batch.clone());
    let no_work: Vec<Arc<dyn UnitOfWork>> = Vec::new();
    let in_transaction = vec![StreamAppend::new(
        stream,
        ExpectedVersion::Exact(1),
        batch.clone(),
    )];
    let idempotency = store.idempotency();
    tokio::join!(
        unavailable_within("append_to_stream", WAIT, append()),
        unavailable_within(
            "append_with",
            WAIT,
            store.append_with(in_transaction, &no_work)
        ),
        unavailable_within(
            "read_stream_forward",
            WAIT,
            store.read_stream_forward(stream, 1, 10)
        ),
        unavailable_within(
            "claim",
            WAIT,
            idempotency.claim("unavailable-key", Duration::from_secs(60))
        ),
        unavailable_within(
            "build",
            WAIT,
            PostgresStore::builder(cluster.url())
                .schema(&schema)
                .acquire_timeout(WAIT)
                .build()
        ),
        unavailable_within(
            "append_to_stream with the default wait",
            DEFAULT_WAIT,
            with_default_wait.append_to_stream(stream, ExpectedVersion::Any, batch.clone())
        ),
    );

    cluster.start_again();
    let started = Instant::now();
    loop {
        match append().await {
            Ok(written) => {
                assert_eq!(written.streams[0].last_version, 3);
                break;
            }
            // Only possible if an earlier call had landed after all.
            Err(Error::DuplicateEventId { event_id }) => {
                assert!(batch_ids.contains(&event_id));
                break;
            }
            Err(Error::Unavailable(_)) if started.elapsed() < PATIENCE => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("retrying the append: {e}"),
        }
    }
    match store
        .append_to_stream(stream, ExpectedVersion::Any, batch.clone())
        .await
    {
        Err(Error::DuplicateEventId { event_id }) => assert!(batch_ids.contains(&event_id)),
        other => panic!("expected the stored batch to be refused, got {other:?}"),
    }
    // With its exact expectation, the same retry meets the version the
    // stored batch moved the stream to first.
    match append().await {
        Err(Error::ConcurrencyConflict { actual: 3, .. }) => {}
        other => panic!("expected a conflict at version 3, got {other:?}"),
    }
    let stored = store
        .read_stream_forward(stream, 2, 10)
        .await
        .expect("read the stream");
    assert_eq!(ids(&stored), batch_ids, "the batch is stored once");
    store.pool().close().await;
    with_default_wait.pool().close().await;
    drop(cluster);
}
