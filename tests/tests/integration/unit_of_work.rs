//! A unit of work registered on `Mink` runs inside the transaction of every
//! append the application makes: a read-model row written on the adapter's
//! own connection commits with the events, and when the work fails, the
//! command fails and neither the events nor the row are stored. On each
//! adapter, through `Mink::dispatch`.

use std::sync::Arc;

use futures::future::{BoxFuture, FutureExt};
use mink::adapters::memory::MemoryTransaction;
use mink::adapters::postgres::{PostgresTransaction, sqlx};
use mink::adapters::sqlite::SqliteTransaction;
use mink::prelude::*;
use mink::{AppendResult, BoxError, EventStore, StoreTransaction, UnitOfWork};

#[event]
pub enum TallyEvent {
    Counted { by: u32 },
}

#[derive(Aggregate, Default)]
#[aggregate(events = TallyEvent, category = "tally")]
pub struct Tally {
    #[aggregate(id)]
    id: String,
}

#[command(aggregate = Tally)]
pub struct Count {
    #[command(id)]
    tally: String,
    by: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

#[command_handler]
impl Tally {
    fn count(&self, cmd: Count) -> Result<Vec<TallyEvent>, Never> {
        Ok(vec![TallyEvent::Counted { by: cmd.by }])
    }

    fn apply(&mut self, _event: &TallyEvent) {}
}

/// Writes one read-model row per event on the transaction's connection,
/// then refuses streams whose id says `doomed`.
struct TallyReadModel {
    table: String,
}

impl UnitOfWork for TallyReadModel {
    fn run<'a>(
        &'a self,
        tx: &'a mut dyn StoreTransaction,
        written: &'a AppendResult,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        async move {
            for s in &written.streams {
                for e in &s.events {
                    let insert = format!(
                        "INSERT INTO {} (stream_id, version) VALUES ($1, $2)",
                        self.table
                    );
                    let version = i64::try_from(e.version)?;
                    if let Some(pg) = tx.downcast_mut::<PostgresTransaction>() {
                        sqlx::query(sqlx::AssertSqlSafe(insert))
                            .bind(&s.stream_id)
                            .bind(version)
                            .execute(pg.connection())
                            .await?;
                    } else if let Some(lite) = tx.downcast_mut::<SqliteTransaction>() {
                        sqlx::query(sqlx::AssertSqlSafe(insert))
                            .bind(&s.stream_id)
                            .bind(version)
                            .execute(lite.connection())
                            .await?;
                    } else if tx.downcast_mut::<MemoryTransaction>().is_none() {
                        return Err(format!("unexpected backend {}", tx.backend()).into());
                    }
                }
                if s.stream_id.contains("doomed") {
                    return Err(format!("the read model refuses `{}`", s.stream_id).into());
                }
            }
            Ok(())
        }
        .boxed()
    }
}

/// Dispatches one good and one doomed command and checks the events of
/// each, and the read-model rows through `rows` (`None` where the adapter
/// has no tables: memory).
async fn rolls_back_with_the_events<F, Fut>(store: Arc<dyn EventStore>, table: &str, rows: F)
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Option<i64>>,
{
    let app = Mink::builder()
        .shared_store(Arc::clone(&store))
        .unit_of_work(TallyReadModel {
            table: table.to_owned(),
        })
        .build()
        .await
        .unwrap();
    let done = app
        .dispatch(Count {
            tally: "kept".into(),
            by: 1,
        })
        .await
        .expect("the work accepts it");
    assert_eq!(done.version, Some(1));
    if let Some(n) = rows("tally-kept".into()).await {
        assert_eq!(n, 1, "the row committed");
    }

    let err = app
        .dispatch(Count {
            tally: "doomed".into(),
            by: 1,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err.store(), Some(mink::Error::UnitOfWork(_))),
        "{err:?}"
    );
    assert!(store.stream_info("tally-doomed").await.unwrap().is_none());
    if let Some(n) = rows("tally-doomed".into()).await {
        assert_eq!(n, 0, "the row rolled back");
    }
}

#[tokio::test]
async fn memory_unit_of_work_rolls_back_with_the_events() {
    let store: Arc<dyn EventStore> = Arc::new(InMemoryStore::new());
    rolls_back_with_the_events(store, "unused", |_| async { None }).await;
}

#[tokio::test]
async fn sqlite_unit_of_work_rolls_back_with_the_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("uow.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let reader = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("CREATE TABLE tally_rows (stream_id TEXT NOT NULL, version INTEGER NOT NULL)")
        .execute(&reader)
        .await
        .unwrap();
    let rows = |stream: String| {
        let reader = reader.clone();
        async move {
            let n = sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM tally_rows WHERE stream_id = ?1",
            )
            .bind(stream)
            .fetch_one(&reader)
            .await
            .unwrap();
            Some(n)
        }
    };
    rolls_back_with_the_events(Arc::new(store), "tally_rows", rows).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_unit_of_work_rolls_back_with_the_events() {
    let Some(pg) = crate::postgres::support::test_store().await else {
        mink_tests::skip("unit of work on PostgreSQL (MINK_TEST_POSTGRES_URL not set)");
        return;
    };
    let table = format!("{}.tally_rows", pg.schema());
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE {table} (stream_id text NOT NULL, version bigint NOT NULL)"
    )))
    .execute(pg.pool())
    .await
    .unwrap();
    let pool = pg.pool().clone();
    let count = format!("SELECT count(*) FROM {table} WHERE stream_id = $1");
    let rows = |stream: String| {
        let pool = pool.clone();
        let count = count.clone();
        async move {
            let n = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count))
                .bind(stream)
                .fetch_one(&pool)
                .await
                .unwrap();
            Some(n)
        }
    };
    rolls_back_with_the_events(Arc::new(pg.store.clone()), &table, rows).await;
}
