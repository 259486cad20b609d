//! The projection engine on every store: checkpoints that commit with the
//! read model, poison events, faults, rebuilds, control requests, leases,
//! inline and live projections, and processes killed mid-batch.
//!
//! Each scenario in `scenarios` runs on memory, SQLite and PostgreSQL
//! through a [`Harness`]: the store, and a small read model (one row per
//! applied event, keyed by projection and event id, so that an event
//! applied twice fails its insert) written in the transaction the engine
//! hands to the handler.

mod kill;
mod scenarios;
mod subscriptions;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use mink::adapters::memory::{InMemoryStore, MemoryTransaction};
use mink::adapters::postgres::PostgresTransaction;
use mink::adapters::postgres::sqlx::{self as pgx, PgPool};
use mink::adapters::sqlite::sqlx::{self as sqlx_sqlite, SqlitePool};
use mink::adapters::sqlite::{SqliteStore, SqliteTransaction};
use mink::projection::{
    HandlerError, PoisonPolicy, Projection, ProjectionContext, ProjectionKind, ProjectionOptions,
    Transient,
};
use mink::store::StoreTransaction;
use mink::{BoxError, EventStore, ExpectedVersion, NewEvent, RecordedEvent};
use serde_json::json;

use crate::postgres::support;

/// How long a scenario waits for something that must happen.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

/// One applied event in the test read model.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Row {
    pub stream: String,
    pub version: u64,
}

/// In-memory rows by projection, each with its event id.
pub(crate) type MemoryRows = Arc<Mutex<BTreeMap<String, Vec<(String, Row)>>>>;

/// Where the test read model lives: beside the store's events.
#[derive(Clone)]
pub(crate) enum Model {
    Memory(MemoryRows),
    Sqlite(SqlitePool),
    Postgres(PgPool, String),
}

impl Model {
    /// Writes one applied event inside `tx`; fails on a second write of one
    /// event for one projection.
    pub(crate) async fn write(
        &self,
        tx: &mut dyn StoreTransaction,
        projection: &str,
        event: &RecordedEvent,
    ) -> Result<(), BoxError> {
        let id = event.event_id.to_string();
        match self {
            Model::Memory(rows) => {
                let tx = tx
                    .downcast_mut::<MemoryTransaction>()
                    .ok_or("not a memory transaction")?;
                let rows = Arc::clone(rows);
                let projection = projection.to_owned();
                let row = Row {
                    stream: event.stream_id.clone(),
                    version: event.version,
                };
                tx.on_commit(move || {
                    let mut rows = rows.lock().unwrap();
                    let list = rows.entry(projection).or_default();
                    assert!(
                        !list.iter().any(|(seen, _)| *seen == id),
                        "event {id} applied twice"
                    );
                    list.push((id, row));
                });
            }
            Model::Sqlite(_) => {
                let tx = tx
                    .downcast_mut::<SqliteTransaction>()
                    .ok_or("not a SQLite transaction")?;
                sqlx_sqlite::query(
                    "INSERT INTO applied (projection, event_id, stream_id, version) VALUES (?, ?, ?, ?)",
                )
                .bind(projection)
                .bind(&id)
                .bind(&event.stream_id)
                .bind(event.version as i64)
                .execute(tx.connection())
                .await?;
            }
            Model::Postgres(_, schema) => {
                let tx = tx
                    .downcast_mut::<PostgresTransaction>()
                    .ok_or("not a PostgreSQL transaction")?;
                pgx::query(pgx::AssertSqlSafe(format!(
                    "INSERT INTO \"{schema}\".applied (projection, event_id, stream_id, version) VALUES ($1, $2, $3, $4)"
                )))
                .bind(projection)
                .bind(&id)
                .bind(&event.stream_id)
                .bind(event.version as i64)
                .execute(tx.connection())
                .await?;
            }
        }
        Ok(())
    }

    /// Clears one projection's rows inside `tx`.
    pub(crate) async fn clear(
        &self,
        tx: &mut dyn StoreTransaction,
        projection: &str,
    ) -> Result<(), BoxError> {
        match self {
            Model::Memory(rows) => {
                let tx = tx
                    .downcast_mut::<MemoryTransaction>()
                    .ok_or("not a memory transaction")?;
                let rows = Arc::clone(rows);
                let projection = projection.to_owned();
                tx.on_commit(move || {
                    rows.lock().unwrap().remove(&projection);
                });
            }
            Model::Sqlite(_) => {
                let tx = tx
                    .downcast_mut::<SqliteTransaction>()
                    .ok_or("not a SQLite transaction")?;
                sqlx_sqlite::query("DELETE FROM applied WHERE projection = ?")
                    .bind(projection)
                    .execute(tx.connection())
                    .await?;
            }
            Model::Postgres(_, schema) => {
                let tx = tx
                    .downcast_mut::<PostgresTransaction>()
                    .ok_or("not a PostgreSQL transaction")?;
                pgx::query(pgx::AssertSqlSafe(format!(
                    "DELETE FROM \"{schema}\".applied WHERE projection = $1"
                )))
                .bind(projection)
                .execute(tx.connection())
                .await?;
            }
        }
        Ok(())
    }

    /// The rows of one projection, sorted.
    pub(crate) async fn rows(&self, projection: &str) -> Vec<Row> {
        let mut rows: Vec<Row> = match self {
            Model::Memory(rows) => rows
                .lock()
                .unwrap()
                .get(projection)
                .map(|l| l.iter().map(|(_, r)| r.clone()).collect())
                .unwrap_or_default(),
            Model::Sqlite(pool) => sqlx_sqlite::query_as::<_, (String, i64)>(
                "SELECT stream_id, version FROM applied WHERE projection = ?",
            )
            .bind(projection)
            .fetch_all(pool)
            .await
            .expect("read the SQLite model")
            .into_iter()
            .map(|(stream, version)| Row {
                stream,
                version: version as u64,
            })
            .collect(),
            Model::Postgres(pool, schema) => {
                pgx::query_as::<_, (String, i64)>(pgx::AssertSqlSafe(format!(
                    "SELECT stream_id, version FROM \"{schema}\".applied WHERE projection = $1"
                )))
                .bind(projection)
                .fetch_all(pool)
                .await
                .expect("read the PostgreSQL model")
                .into_iter()
                .map(|(stream, version)| Row {
                    stream,
                    version: version as u64,
                })
                .collect()
            }
        };
        rows.sort();
        rows
    }
}

/// A store and its read model, kept alive for one scenario.
pub(crate) struct Harness {
    pub store: Arc<dyn EventStore>,
    pub model: Model,
    /// A second handle on the same database, as another process would
    /// have: its own pool or file connection.
    pub other: Arc<dyn EventStore>,
    /// The SQLite file, for other processes.
    pub path: Option<String>,
    _keep: Box<dyn std::any::Any + Send + Sync>,
}

impl Harness {
    pub(crate) fn memory() -> Harness {
        let store = InMemoryStore::new();
        Harness {
            other: Arc::new(store.clone()),
            store: Arc::new(store),
            model: Model::Memory(Arc::default()),
            path: None,
            _keep: Box::new(()),
        }
    }

    pub(crate) async fn sqlite() -> Harness {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("events.db");
        let store = SqliteStore::open(&path).await.expect("a SQLite store");
        let other = SqliteStore::open(&path)
            .await
            .expect("a second SQLite store");
        let pool = SqlitePool::connect(&format!("sqlite://{}", path.display()))
            .await
            .expect("a pool on the file");
        sqlx_sqlite::query(
            "CREATE TABLE applied (projection TEXT NOT NULL, event_id TEXT NOT NULL, stream_id TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (projection, event_id))",
        )
        .execute(&pool)
        .await
        .expect("the model's table");
        Harness {
            store: Arc::new(store),
            other: Arc::new(other),
            model: Model::Sqlite(pool),
            path: Some(path.display().to_string()),
            _keep: Box::new(dir),
        }
    }

    pub(crate) async fn postgres() -> Option<Harness> {
        let test = support::test_store().await?;
        let schema = test.schema().to_owned();
        let pool = test.pool().clone();
        pgx::query(pgx::AssertSqlSafe(format!(
            "CREATE TABLE \"{schema}\".applied (projection text NOT NULL, event_id text NOT NULL, stream_id text NOT NULL, version bigint NOT NULL, PRIMARY KEY (projection, event_id))"
        )))
        .execute(&pool)
        .await
        .expect("the model's table");
        let url = support::server_url()?;
        let other = mink::adapters::postgres::PostgresStore::builder(url)
            .schema(schema.clone())
            .build()
            .await
            .expect("a second store on the schema");
        Some(Harness {
            store: Arc::new(test.store.clone()),
            other: Arc::new(other),
            model: Model::Postgres(pool, schema),
            path: None,
            _keep: Box::new(test),
        })
    }
}

/// What the test projection does with an event.
#[derive(Default)]
pub(crate) struct Faults {
    /// Events whose payload says `"poison": true` fail permanently.
    pub poison: AtomicBool,
    /// Every event fails transiently.
    pub transient: AtomicBool,
    /// Events whose payload says `"panic": true` panic.
    pub panics: AtomicBool,
    /// Handler calls that failed.
    pub failures: AtomicU32,
}

/// A projection counting events into the test read model.
pub(crate) struct Counting {
    pub name: String,
    pub kind: ProjectionKind,
    pub model: Model,
    pub faults: Arc<Faults>,
    pub options: ProjectionOptions,
}

impl Counting {
    pub(crate) fn new(name: &str, model: &Model) -> Counting {
        Counting {
            name: name.to_owned(),
            kind: ProjectionKind::Async,
            model: model.clone(),
            faults: Arc::default(),
            options: quick_options(),
        }
    }

    pub(crate) fn kind(mut self, kind: ProjectionKind) -> Self {
        self.kind = kind;
        self
    }

    pub(crate) fn options(mut self, f: impl FnOnce(&mut ProjectionOptions)) -> Self {
        f(&mut self.options);
        self
    }
}

/// Short pauses, so that scenarios run fast.
pub(crate) fn quick_options() -> ProjectionOptions {
    ProjectionOptions {
        batch_size: 50,
        max_attempts: 3,
        on_poison: PoisonPolicy::Skip,
        backoff_initial: Duration::from_millis(5),
        backoff_max: Duration::from_millis(50),
        lease_ttl: Duration::from_secs(2),
        poll_interval: Duration::from_millis(50),
        ..ProjectionOptions::default()
    }
}

#[async_trait]
impl Projection for Counting {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ProjectionKind {
        self.kind
    }

    fn event_types(&self) -> Vec<&'static str> {
        vec!["Ticked"]
    }

    fn options(&self) -> ProjectionOptions {
        self.options.clone()
    }

    async fn handle(
        &self,
        event: &RecordedEvent,
        ctx: &mut ProjectionContext<'_>,
    ) -> Result<(), HandlerError> {
        let payload: serde_json::Value =
            serde_json::from_slice(&event.payload).map_err(HandlerError::permanent)?;
        if self.faults.transient.load(Ordering::SeqCst) {
            self.faults.failures.fetch_add(1, Ordering::SeqCst);
            return Err(HandlerError::classify(Box::new(Transient::new(
                "the read model's server is restarting",
            ))));
        }
        if self.faults.poison.load(Ordering::SeqCst) && payload["poison"] == json!(true) {
            self.faults.failures.fetch_add(1, Ordering::SeqCst);
            return Err(HandlerError::permanent(format!(
                "cannot apply {} v{}",
                event.stream_id, event.version
            )));
        }
        if self.faults.panics.load(Ordering::SeqCst) && payload["panic"] == json!(true) {
            self.faults.failures.fetch_add(1, Ordering::SeqCst);
            panic!("a handler bug at {}", event.position);
        }
        if self.kind == ProjectionKind::Live {
            // Live projections have no transaction: keep rows in memory.
            if let Model::Memory(rows) = &self.model {
                rows.lock()
                    .unwrap()
                    .entry(self.name.clone())
                    .or_default()
                    .push((
                        event.event_id.to_string(),
                        Row {
                            stream: event.stream_id.clone(),
                            version: event.version,
                        },
                    ));
            }
            return Ok(());
        }
        let tx = ctx
            .transaction()
            .ok_or_else(|| HandlerError::permanent("no transaction"))?;
        self.model
            .write(tx, &self.name, event)
            .await
            .map_err(HandlerError::classify)
    }

    async fn reset(&self, ctx: &mut ProjectionContext<'_>) -> Result<(), HandlerError> {
        let tx = ctx
            .transaction()
            .ok_or_else(|| HandlerError::permanent("no transaction"))?;
        self.model
            .clear(tx, &self.name)
            .await
            .map_err(HandlerError::classify)
    }
}

/// The rows of ticks `first..first + count`, sorted.
pub(crate) fn rows_of_ticks(first: u64, count: u64) -> Vec<Row> {
    let mut rows: Vec<Row> = (first..first + count)
        .map(|n| Row {
            stream: format!("tick-{n}"),
            version: 1,
        })
        .collect();
    rows.sort();
    rows
}

/// One `Ticked` event; `flag` (`"poison"`, `"panic"`) marks it.
pub(crate) fn tick(n: u64, flag: Option<&str>) -> NewEvent {
    let mut payload = json!({ "n": n });
    if let Some(flag) = flag {
        payload[flag] = json!(true);
    }
    NewEvent::json("Ticked", &payload).expect("a JSON payload")
}

/// Appends `count` ticks, one per stream `tick-<n>`, numbered from
/// `first`; `flag(n)` marks some.
pub(crate) async fn append_ticks(
    store: &dyn EventStore,
    first: u64,
    count: u64,
    flag: impl Fn(u64) -> Option<&'static str>,
) {
    for n in first..first + count {
        store
            .append_to_stream(
                &format!("tick-{n}"),
                ExpectedVersion::Any,
                vec![tick(n, flag(n))],
            )
            .await
            .expect("append a tick");
    }
}

/// Runs one scenario on memory, SQLite and PostgreSQL, as three tests.
macro_rules! on_every_store {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::scenarios::$name(super::Harness::memory()).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::scenarios::$name(super::Harness::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(harness) = super::Harness::postgres().await else { return };
                    super::scenarios::$name(harness).await;
                }
            )*
        }
    };
}

on_every_store!(
    applies_each_event_once_and_resumes_from_the_checkpoint,
    parks_a_poison_event_and_applies_its_neighbours,
    a_panicking_handler_is_a_poison_event_and_the_worker_survives,
    exhausted_retries_fault_the_projection_until_resumed,
    rebuild_honours_its_bounds_then_pauses_there,
    pause_and_resume_requested_through_another_handle,
    stop_joins_a_worker_that_is_backing_off,
    one_instance_works_a_projection_and_another_takes_over,
    a_stale_worker_cannot_commit_after_a_take_over,
    inline_projection_commits_with_the_events_or_not_at_all,
    live_projection_catches_up_follows_and_loses_nothing_while_paused,
    status_reports_lag_and_wait_caught_up_times_out_typed,
);

/// Scenarios about rows written by hand: SQLite and PostgreSQL only (an
/// in-memory log holds decoded events only).
mod corrupted {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_an_undecodable_row_is_parked_and_the_log_goes_on() {
        super::scenarios::an_undecodable_row_is_parked_and_the_log_goes_on(
            super::Harness::sqlite().await,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_an_undecodable_row_is_parked_and_the_log_goes_on() {
        let Some(h) = super::Harness::postgres().await else {
            return;
        };
        super::scenarios::an_undecodable_row_is_parked_and_the_log_goes_on(h).await;
    }
}
