//! Idempotency: concurrent duplicates run once on every idempotency store
//! (in memory, SQLite, PostgreSQL), in-flight duplicates can be refused,
//! keys expire, and failures release them.

use std::sync::Arc;
use std::time::Duration;

use mink::DispatchError;
use mink::idempotency::{IdempotencyLayer, IdempotencyStore, InFlight, InMemoryIdempotencyStore};
use mink::prelude::*;

use super::{Credit, CreditOnce, SlowStore, credit, runs};

/// Sixteen identical dispatches at once: the handler runs once, every caller
/// gets the same result.
async fn sixteen_duplicates_run_once(idem: Arc<dyn IdempotencyStore>, wallet: &str) {
    let app = Mink::builder()
        .store(InMemoryStore::new())
        .layer(IdempotencyLayer::shared(idem))
        .build()
        .await
        .unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(16));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let app = app.clone();
            let barrier = barrier.clone();
            let wallet = wallet.to_owned();
            tokio::spawn(async move {
                barrier.wait().await;
                app.dispatch(credit(&wallet, 7)).await
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap().expect("every duplicate succeeds"));
    }
    assert_eq!(runs(wallet), 1, "the handler ran once");
    assert!(results.windows(2).all(|w| w[0] == w[1]), "{results:?}");
    assert_eq!(results[0].version, 1);
    let info = app
        .store()
        .stream_info(&format!("wallet-{wallet}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.version, 1);

    // A different command is not a duplicate.
    app.dispatch(credit(wallet, 8)).await.unwrap();
    assert_eq!(runs(wallet), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idempotency_memory_sixteen_concurrent_duplicates_run_once() {
    sixteen_duplicates_run_once(Arc::new(InMemoryIdempotencyStore::new()), "i-mem").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idempotency_sqlite_sixteen_concurrent_duplicates_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = mink::idempotency::SqliteIdempotencyStore::open(dir.path().join("idem.db"))
        .await
        .unwrap();
    sixteen_duplicates_run_once(Arc::new(store), "i-sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idempotency_postgres_sixteen_concurrent_duplicates_run_once() {
    let Ok(url) = std::env::var("MINK_TEST_POSTGRES_URL") else {
        println!("skipped: MINK_TEST_POSTGRES_URL not set");
        return;
    };
    let schema = format!("mink_idem_{}", uuid::Uuid::now_v7().simple());
    let pg = mink::PostgresStore::builder(url)
        .schema(schema.clone())
        .build()
        .await
        .unwrap();
    let store = mink::idempotency::PostgresIdempotencyStore::new(pg.pool().clone())
        .await
        .unwrap();
    sixteen_duplicates_run_once(Arc::new(store), "i-pg").await;
    sqlx_drop_schema(&pg, &schema).await;
}

async fn sqlx_drop_schema(pg: &mink::PostgresStore, schema: &str) {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA \"{schema}\" CASCADE"
    )))
    .execute(pg.pool())
    .await
    .expect("drop the test schema");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idempotency_can_refuse_in_flight_duplicates() {
    let app = Mink::builder()
        .store(SlowStore {
            inner: InMemoryStore::new(),
            delay: Duration::from_millis(200),
        })
        .layer(IdempotencyLayer::new(InMemoryIdempotencyStore::new()).in_flight(InFlight::Reject))
        .build()
        .await
        .unwrap();
    let first = {
        let app = app.clone();
        tokio::spawn(async move { app.dispatch(credit("i-rej", 1)).await })
    };
    // Wait until the first holds the key (its handler has run).
    while runs("i-rej") == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let err = app.dispatch(credit("i-rej", 1)).await.unwrap_err();
    assert!(matches!(err, DispatchError::InProgress { .. }), "{err:?}");
    let done = first.await.unwrap().unwrap();
    // Once finished, a repeat returns the stored result.
    let again = app.dispatch(credit("i-rej", 1)).await.unwrap();
    assert_eq!(again, done);
    assert_eq!(runs("i-rej"), 1);
}

#[tokio::test]
async fn idempotency_keys_expire_and_failures_release_them() {
    let app = Mink::builder()
        .store(InMemoryStore::new())
        .layer(
            IdempotencyLayer::new(InMemoryIdempotencyStore::new()).ttl(Duration::from_millis(30)),
        )
        .build()
        .await
        .unwrap();
    let cmd = |amount| CreditOnce {
        wallet: "i-ttl".into(),
        amount,
        request: "req-1".into(),
    };
    let first = app.dispatch(cmd(1)).await.unwrap();
    // Same explicit key, different payload: still a repeat.
    let repeat = app.dispatch(cmd(99)).await.unwrap();
    assert_eq!(repeat, first);
    assert_eq!(runs("i-ttl"), 1);
    tokio::time::sleep(Duration::from_millis(60)).await;
    let after_ttl = app.dispatch(cmd(1)).await.unwrap();
    assert_eq!(after_ttl.version, 2);
    assert_eq!(runs("i-ttl"), 2);

    // A rejected command does not keep its key: fixing and retrying runs it.
    let refused = Credit {
        wallet: "i-fail".into(),
        amount: 1,
        note: "refuse".into(),
    };
    assert!(app.dispatch(refused.clone()).await.is_err());
    assert!(app.dispatch(refused).await.is_err());
    assert_eq!(runs("i-fail"), 2, "a failed command may be retried");

    // The context's key overrides the command's.
    let a = app
        .dispatch_with(cmd(5), Context::new().with_idempotency_key("ctx-key"))
        .await
        .unwrap();
    let b = app
        .dispatch_with(cmd(6), Context::new().with_idempotency_key("ctx-key"))
        .await
        .unwrap();
    assert_eq!(a, b);
}
