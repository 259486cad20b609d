//! The schema: opening a store on a migrated schema migrates nothing and
//! keeps the events; the tables are where the schema says.

use mink::adapters::postgres::PostgresStore;
use mink::adapters::postgres::sqlx;
use mink::{EventStore, ExpectedVersion};

use super::support::{event, server_url, test_store};

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
    assert_eq!(
        tables,
        vec![
            "_sqlx_migrations",
            "events",
            "idempotency",
            "outbox",
            "projection_dead_letters",
            "projections",
            "saga_associations",
            "saga_commands",
            "saga_deadlines",
            "saga_history",
            "sagas"
        ]
    );
    let applied: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {}._sqlx_migrations",
        store.schema()
    )))
    .fetch_one(store.pool())
    .await
    .expect("count migrations");
    let shipped = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../mink-runtime/migrations/postgres"
    ))
    .expect("the migrations folder")
    .filter(|f| {
        f.as_ref()
            .is_ok_and(|f| f.path().extension().is_some_and(|e| e == "sql"))
    })
    .count();
    assert_eq!(applied, i64::try_from(shipped).unwrap());
    assert_eq!(applied, 6, "0001 to 0006, each applied once");
}
