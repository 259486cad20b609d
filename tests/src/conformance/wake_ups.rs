//! Wake-ups for readers of the log: a reader waiting on
//! [`EventStore::log_changes`](mink::EventStore::log_changes) is woken by
//! an append instead of at its next poll. On PostgreSQL also by an append
//! of another store instance (another pool, as another process would have),
//! through `LISTEN`/`NOTIFY`, and still after the listener's connection was
//! terminated.

use std::sync::Arc;
use std::time::Duration;

use mink::adapters::postgres::{PostgresStore, PostgresTransaction, sqlx};
use mink::store::{Lease, LogChanges};
use mink::{EventStore, ExpectedVersion};

use super::harness::Harness;
use super::support::{append, numbered};

/// How long a woken reader may take to notice.
const WAKE: Duration = Duration::from_secs(10);

/// Forgets the wake-ups that came so far, waiting until none has come for
/// a while (a listener that just connected wakes its readers once).
async fn settle(changes: &mut LogChanges) {
    changes.mark_seen();
    while changes.wait(Duration::from_millis(300)).await {}
}

/// A reader of the log is woken by an append, and so is every reader
/// listening at the time. On PostgreSQL, an append of another store
/// instance wakes it too, also after the listener's connection was
/// terminated, and the listener stops with its store.
pub async fn log_changes_wake_after_an_append(harness: Harness) {
    let store = harness.store();
    let mut changes = store.log_changes();
    let mut other = store.log_changes();
    assert!(changes.is_live(), "the store offers wake-ups");
    settle(&mut changes).await;
    settle(&mut other).await;
    append(&*store, "wake-1", ExpectedVersion::Any, numbered("Woke", 1)).await;
    assert!(changes.wait(WAKE).await, "an append wakes the reader");
    assert!(other.wait(WAKE).await, "an append wakes every reader");

    let Some(schema) = postgres_schema(&store).await else {
        return;
    };
    let Ok(url) = std::env::var("MINK_TEST_POSTGRES_URL") else {
        crate::skip("wake-ups across instances (MINK_TEST_POSTGRES_URL not set)");
        return;
    };
    let other = PostgresStore::builder(url)
        .schema(schema)
        .max_connections(2)
        .build()
        .await
        .expect("a second store instance on the same schema");
    let listening = format!("LISTEN \"{}\"", other.log_channel());
    across_instances(&other, &listening, &mut changes).await;

    drop((store, harness));
    let give_up = tokio::time::Instant::now() + Duration::from_secs(30);
    while listening_backend(&other, &listening, None).await.is_some() {
        assert!(
            tokio::time::Instant::now() < give_up,
            "the listener outlived its store"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The schema of the store when it is a PostgreSQL store, asked on the
/// connection of a batch transaction (rolled back).
async fn postgres_schema(store: &Arc<dyn EventStore>) -> Option<String> {
    let projections = store.projection_store()?;
    let probe = Lease {
        projection: "wake-probe".to_owned(),
        owner: "probe".to_owned(),
        generation: 0,
    };
    let mut batch = projections.begin(&probe).await.expect("begin a batch");
    let tx = batch.transaction().downcast_mut::<PostgresTransaction>()?;
    let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
        .fetch_one(tx.connection())
        .await
        .expect("read the store's schema");
    Some(schema)
}

/// A second store instance on the same schema wakes the first one's
/// reader, also after the first one's listener connection was terminated.
async fn across_instances(other: &PostgresStore, listening: &str, changes: &mut LogChanges) {
    let first = listener_backend(other, listening, None).await;
    settle(changes).await;
    append(other, "wake-2", ExpectedVersion::Any, numbered("Woke", 1)).await;
    assert!(
        changes.wait(WAKE).await,
        "an append of another instance wakes the reader"
    );

    let terminated: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(first)
        .fetch_one(other.pool())
        .await
        .expect("terminate the listener's backend");
    assert!(terminated, "the listener's backend {first} was terminated");
    let second = listener_backend(other, listening, Some(first)).await;
    assert_ne!(first, second);
    settle(changes).await;
    append(other, "wake-3", ExpectedVersion::Any, numbered("Woke", 1)).await;
    assert!(
        changes.wait(WAKE).await,
        "the listener connected again and is woken by another instance's append"
    );
}

/// The process id of the backend listening with `listening`, other than
/// `not`, once it waits for notifications.
async fn listener_backend(store: &PostgresStore, listening: &str, not: Option<i32>) -> i32 {
    let give_up = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(pid) = listening_backend(store, listening, not).await {
            return pid;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "no backend runs `{listening}`"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A backend other than `not` that listens with `listening` and waits for
/// notifications, if any.
async fn listening_backend(
    store: &PostgresStore,
    listening: &str,
    not: Option<i32>,
) -> Option<i32> {
    sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity \
         WHERE query = $1 AND state = 'idle' AND pid <> COALESCE($2, -1) LIMIT 1",
    )
    .bind(listening)
    .bind(not)
    .fetch_optional(store.pool())
    .await
    .expect("read pg_stat_activity")
}
