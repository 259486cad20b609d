//! The PostgreSQL event store, for production (feature `postgres`).
//!
//! Events live in one plain table, `<schema>.events` (default schema
//! `mink`), created by embedded sqlx migrations and readable with `psql`.
//!
//! - **Appends** are one SQL statement per call, whatever the number of
//!   streams and events. Optimistic concurrency comes from the unique
//!   `(stream_id, version)` constraint; there is no global or advisory lock
//!   on the write path (`docs/adr/005-concurrency-control.md`).
//! - **Concurrent appends are coalesced** by default: appends to different
//!   streams that arrive while an earlier one commits are written by one
//!   statement in one transaction, and each caller gets its own result or
//!   its own error (`docs/adr/021-coalesced-commits.md`;
//!   [`PostgresStoreBuilder::coalesce`], [`PostgresStoreBuilder::no_coalescing`]).
//! - **The global log** is ordered by [`Position`]`{ commit, event }`:
//!   `commit` is the writing transaction's id (`xid8`), `event` the row's
//!   identity value. Readers only see transactions older than every running
//!   one, so a transaction that commits late is delivered late, never skipped
//!   (`docs/adr/004-global-ordering.md`). The price: a long transaction
//!   anywhere in the database holds readers of the log back until it ends.
//!   Stream reads are not held back.
//! - **Payloads** of a JSON content type that are one JSON value are stored
//!   as `jsonb`, readable with `psql`; what is read back is the same JSON
//!   value re-serialized compactly (PostgreSQL drops insignificant whitespace
//!   and reorders object keys), which JSON serializers (the default) read
//!   back unchanged. Any other payload (MessagePack, protobuf, whatever its
//!   bytes) is stored in `payload_bytes` (`bytea`) and read back byte for
//!   byte; each event's content type is kept in `content_type`
//!   (`docs/adr/009-payload-storage.md`, `docs/adr/019-payload-formats.md`).
//! - **Idempotency records** live in `<schema>.idempotency`, from
//!   [`PostgresStore::idempotency`], by the database's clock.
//! - **Units of work** ([`EventStore::append_with`]) run in the append's own
//!   transaction, on [`PostgresTransaction::connection`].
//! - **Projection checkpoints, leases and dead letters** live in
//!   `<schema>.projections` and `<schema>.projection_dead_letters`, from
//!   [`PostgresStore::projections`].
//! - **Readers of the log** are woken after each commit: in this process at
//!   once, in others through `LISTEN`/`NOTIFY` on
//!   [`PostgresStore::log_channel`], sent by a background task outside the
//!   append's transaction.
//!
//! # Examples
//!
//! ```no_run
//! # use mink_runtime::{adapters::postgres::PostgresStore, EventStore, ExpectedVersion, NewEvent};
//! # async fn demo() -> mink_runtime::Result<()> {
//! let store = PostgresStore::connect("postgres://postgres@127.0.0.1:5432/app").await?;
//! store
//!     .append_to_stream(
//!         "order-1",
//!         ExpectedVersion::NoStream,
//!         vec![NewEvent::json("Created", &serde_json::json!({ "customer": "c-7" }))?],
//!     )
//!     .await?;
//! # Ok(()) }
//! ```

mod append;
mod builder;
mod idempotency;
mod inspect;
mod notify;
mod outbox;
mod projections;
mod read_model;
mod restore;
mod rows;
mod sagas;
mod sql;
mod transaction;

use std::sync::Arc;

use async_trait::async_trait;
use futures::TryStreamExt;
use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgConnection, PgPool};

use crate::error::{Error, Result};
use crate::event::{Position, RecordedEvent};
use crate::store::rules::{LogPage, StreamPage, sql_i64};
use crate::store::{
    AppendResult, CoalescingStore, EventStore, Limits, LogChanges, ProjectionStore, ReadAll,
    StreamAppend, StreamInfo, UnitOfWork,
};

use append::{Attempt, EncodedAppend, map_error};
use notify::LogNotifications;
use sql::Statements;

pub use builder::{DEFAULT_SCHEMA, PostgresStoreBuilder};
pub use idempotency::PostgresIdempotencyStore;
pub use outbox::PostgresOutboxStore;
pub use projections::PostgresProjectionStore;
pub use read_model::PostgresReadModels;
pub use restore::{ClusterIdentity, LogRepair};
pub use sagas::PostgresSagaStore;
pub use transaction::PostgresTransaction;

/// The sqlx this store is built with, so callers can use [`PostgresStore::pool`]
/// and open transactions for [`PostgresStore::append_to_streams_in`] without
/// depending on a matching sqlx themselves.
pub use sqlx;

/// How many times an append whose expectations still hold runs again after
/// losing a race on the `(stream_id, version)` constraint. Each lost race
/// means another append committed, so the log made progress meanwhile.
const MAX_APPEND_ATTEMPTS: usize = 64;

/// The most events a log page reserves room for before its rows arrive.
const PAGE_CAPACITY: usize = 4096;

/// An [`EventStore`] on PostgreSQL. Cloning is cheap and shares the pool.
///
/// See the [module documentation](self) for the table, the ordering of the
/// global log and how payloads are kept.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    statements: Arc<Statements>,
    schema: Arc<str>,
    limits: Limits,
    /// Wake-ups for readers of the log, here and in other processes.
    notifications: Arc<LogNotifications>,
    /// Merges concurrent appends into shared calls of a copy of this store
    /// without one; `None` writes each append on its own.
    coalescer: Option<Arc<CoalescingStore<PostgresStore>>>,
}

impl PostgresStore {
    /// Connects to `url` with default settings: schema `mink`, migrations
    /// applied, a pool of up to 10 connections, default [`Limits`].
    pub async fn connect(url: &str) -> Result<PostgresStore> {
        PostgresStoreBuilder::new(url).build().await
    }

    /// Settings for a store on the database at `url`.
    pub fn builder(url: impl Into<String>) -> PostgresStoreBuilder {
        PostgresStoreBuilder::new(url)
    }

    /// The connection pool, for work that belongs next to the events (read
    /// models, checkpoints) or for opening a transaction to pass to
    /// [`append_to_streams_in`](Self::append_to_streams_in).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The schema holding the store's tables.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The input bounds this store enforces.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The idempotency records kept in this store's schema, on its pool.
    pub fn idempotency(&self) -> PostgresIdempotencyStore {
        PostgresIdempotencyStore::new(self.clone())
    }

    /// The projection checkpoints, leases, control requests and dead
    /// letters kept in this store's schema, on its pool.
    pub fn projections(&self) -> PostgresProjectionStore {
        PostgresProjectionStore::new(self.clone())
    }

    /// The saga records, associations, commands, deadlines and history
    /// kept in this store's schema.
    pub fn sagas(&self) -> PostgresSagaStore {
        PostgresSagaStore::new(self.clone())
    }

    /// The `LISTEN`/`NOTIFY` channel on which stores of this schema
    /// announce commits: `<schema>.events`, cut to 63 bytes. Each append
    /// sends one notification after it commits (appends made with
    /// [`append_to_streams_in`](Self::append_to_streams_in) do not: the
    /// caller commits them); `LISTEN "<channel>"` in `psql` shows them.
    pub fn log_channel(&self) -> &str {
        self.notifications.channel()
    }

    /// Appends inside a transaction the caller controls, so that other
    /// writes (an inline projection, an outbox row) commit or roll back
    /// together with the events. The events are not written until the
    /// caller commits.
    ///
    /// Same single statement and checks as
    /// [`append_to_streams`](EventStore::append_to_streams), with one
    /// difference: a lost race cannot be retried here, because the failed
    /// statement aborts the caller's transaction. It is reported as
    /// [`Error::ConcurrencyConflict`] on the first stream whose expectation
    /// no longer holds, or else on the first stream of the call; roll back
    /// and run the whole transaction again.
    ///
    /// Append before the transaction's other writes (or lock the events
    /// table first, `LOCK TABLE <schema>.events IN ROW EXCLUSIVE MODE`):
    /// readers of the log do not wait for transactions that hold no lock on
    /// the table, so a transaction that got its id writing elsewhere is
    /// refused here with [`Error::InvalidInput`] (`field: "transaction"`),
    /// writing nothing (docs/adr/004-global-ordering.md).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use mink_runtime::{adapters::postgres::PostgresStore, ExpectedVersion, NewEvent, StreamAppend};
    /// # async fn demo(store: &PostgresStore) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut tx = store.pool().begin().await?;
    /// let appends = vec![StreamAppend::new(
    ///     "order-1",
    ///     ExpectedVersion::Exact(3),
    ///     vec![NewEvent::new("Shipped", b"{}".to_vec())],
    /// )];
    /// store.append_to_streams_in(&mut tx, appends).await?;
    /// // … update a read model on `tx` …
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    pub async fn append_to_streams_in(
        &self,
        conn: &mut PgConnection,
        appends: Vec<StreamAppend>,
    ) -> Result<AppendResult> {
        self.limits.check_appends(&appends)?;
        let encoded = EncodedAppend::new(&appends)?;
        let wrote_first: bool = sqlx::query_scalar(AssertSqlSafe(Arc::clone(
            &self.statements.transaction_writes_first,
        )))
        .fetch_one(&mut *conn)
        .await
        .map_err(map_error)?;
        if wrote_first {
            return Err(Error::invalid(
                "transaction",
                format!(
                    "it wrote before it appended, so readers of the log may already be past \
                     its transaction id: append first, or run `LOCK TABLE {}.events IN ROW \
                     EXCLUSIVE MODE` before the transaction's first write",
                    self.schema
                ),
            ));
        }
        match append::run_once(conn, &self.statements, &appends, &encoded).await {
            Attempt::Done(result) => result,
            Attempt::DuplicateEventId => Err(self.duplicate_event_id(&encoded).await),
            Attempt::LostRace => {
                let versions =
                    append::current_versions(&self.pool, &self.statements, &appends).await?;
                Err(
                    append::first_conflict(&appends, &versions).unwrap_or_else(|| {
                        Error::conflict(&appends[0].stream_id, appends[0].expected, versions[0])
                    }),
                )
            }
        }
    }

    /// The error for an append whose event id is already stored, naming it.
    async fn duplicate_event_id(&self, encoded: &EncodedAppend) -> Error {
        match append::stored_event_id(&self.pool, &self.statements, encoded).await {
            Ok(Some(event_id)) => Error::DuplicateEventId { event_id },
            Ok(None) => {
                Error::backend("an event id of this append was already stored, and is gone again")
            }
            Err(e) => e,
        }
    }

    /// Appends with `work` in one transaction, running both again after a
    /// lost race whose expectations still hold.
    async fn append_in_transaction(
        &self,
        appends: Vec<StreamAppend>,
        work: &dyn UnitOfWork,
    ) -> Result<AppendResult> {
        self.limits.check_appends(&appends)?;
        let encoded = EncodedAppend::new(&appends)?;
        for _ in 0..MAX_APPEND_ATTEMPTS {
            let tx = self.pool.begin().await.map_err(map_error)?;
            let mut unit = PostgresTransaction::new(tx, Arc::clone(&self.statements));
            match append::run_once(unit.connection(), &self.statements, &appends, &encoded).await {
                Attempt::Done(Ok(result)) => {
                    work.run(&mut unit, &result)
                        .await
                        .map_err(Error::UnitOfWork)?;
                    unit.into_inner().commit().await.map_err(map_error)?;
                    self.notifications.committed();
                    return Ok(result);
                }
                Attempt::Done(Err(e)) => return Err(e),
                Attempt::DuplicateEventId => return Err(self.duplicate_event_id(&encoded).await),
                Attempt::LostRace => {
                    drop(unit);
                    self.check_still_appendable(&appends).await?;
                }
            }
        }
        Err(self.too_many_lost_races(&appends))
    }

    /// After a lost race: the conflict when an expectation no longer holds,
    /// else `Ok` to run the append again.
    async fn check_still_appendable(&self, appends: &[StreamAppend]) -> Result<()> {
        let versions = append::current_versions(&self.pool, &self.statements, appends).await?;
        match append::first_conflict(appends, &versions) {
            Some(conflict) => Err(conflict),
            // Every expectation still holds (`Any`, `StreamExists`, or a
            // strict one on a stream nobody raced on): run again.
            None => Ok(()),
        }
    }

    fn too_many_lost_races(&self, appends: &[StreamAppend]) -> Error {
        Error::backend(format!(
            "append to `{}` lost the race on its stream versions {MAX_APPEND_ATTEMPTS} times in a row",
            appends[0].stream_id
        ))
    }
}

#[async_trait]
impl EventStore for PostgresStore {
    async fn append_to_streams(&self, appends: Vec<StreamAppend>) -> Result<AppendResult> {
        self.limits.check_appends(&appends)?;
        if let Some(coalescer) = &self.coalescer {
            // Checked first, so bad input never fails a merged call.
            return coalescer.append_to_streams(appends).await;
        }
        let encoded = EncodedAppend::new(&appends)?;
        // Versions known in advance: the first attempt inserts them as they
        // are; after a lost race the general statement tells what happened.
        let mut known = encoded.has_known_versions();
        for _ in 0..MAX_APPEND_ATTEMPTS {
            let mut conn = self.pool.acquire().await.map_err(map_error)?;
            let attempt = if std::mem::take(&mut known) {
                append::run_known_versions(&mut conn, &self.statements, &appends, &encoded).await
            } else {
                append::run_once(&mut conn, &self.statements, &appends, &encoded).await
            };
            match attempt {
                Attempt::Done(result) => {
                    if result.is_ok() {
                        self.notifications.committed();
                    }
                    return result;
                }
                Attempt::DuplicateEventId => return Err(self.duplicate_event_id(&encoded).await),
                Attempt::LostRace => {
                    drop(conn);
                    self.check_still_appendable(&appends).await?;
                }
            }
        }
        Err(self.too_many_lost_races(&appends))
    }

    async fn append_with(
        &self,
        appends: Vec<StreamAppend>,
        work: &dyn UnitOfWork,
    ) -> Result<AppendResult> {
        self.append_in_transaction(appends, work).await
    }

    async fn read_stream_forward(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        self.limits.check_stream_id(stream_id)?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let query = sqlx::query(AssertSqlSafe(Arc::clone(&self.statements.read_stream)))
            .bind(stream_id)
            .bind(sql_i64(from_version.max(1)))
            .bind(sql_i64(limit));
        // Rows are decoded as they arrive, as in `read_all_forward`.
        let mut arriving = query.fetch(&self.pool);
        let mut page = StreamPage::new(from_version, limit.min(PAGE_CAPACITY));
        while let Some(row) = arriving.try_next().await.map_err(map_error)? {
            page.push(rows::decode_event(&row))?;
        }
        Ok(page.finish())
    }

    async fn read_all_forward(&self, request: ReadAll) -> Result<Vec<RecordedEvent>> {
        if request.limit == 0 {
            return Ok(Vec::new());
        }
        let filter = &request.filter;
        let query = sqlx::query(AssertSqlSafe(Arc::clone(&self.statements.read_all)))
            // xid8 has no cast from bigint; text carries the full u64.
            .bind(request.after.commit.to_string())
            .bind(sql_i64(request.after.event))
            .bind(&filter.event_types)
            .bind(&filter.categories)
            .bind(&filter.stream_ids)
            .bind(sql_i64(request.limit));
        // Rows are decoded as they arrive, while the server is still
        // sending the rest of the page.
        let mut arriving = query.fetch(&self.pool);
        let mut page = LogPage::with_capacity(request.limit.min(PAGE_CAPACITY));
        while let Some(row) = arriving.try_next().await.map_err(map_error)? {
            if !page.push(rows::decode_event(&row))? {
                break;
            }
        }
        Ok(page.finish())
    }

    async fn stream_info(&self, stream_id: &str) -> Result<Option<StreamInfo>> {
        self.limits.check_stream_id(stream_id)?;
        let row = sqlx::query(AssertSqlSafe(Arc::clone(&self.statements.stream_info)))
            .bind(stream_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_error)?;
        row.map(|row| rows::decode_stream_info(&row, stream_id))
            .transpose()
    }

    async fn head_position(&self) -> Result<Position> {
        let row = sqlx::query(AssertSqlSafe(Arc::clone(&self.statements.head_position)))
            .fetch_optional(&self.pool)
            .await
            .map_err(map_error)?;
        row.map_or(Ok(Position::START), |row| rows::decode_head(&row))
    }

    /// Woken after each append of this store commits, and, through
    /// `LISTEN` on [`log_channel`](PostgresStore::log_channel), after
    /// appends of other store instances on the same schema. The first call
    /// starts the listener's connection.
    fn log_changes(&self) -> LogChanges {
        self.notifications.listen()
    }

    fn projection_store(&self) -> Option<Arc<dyn ProjectionStore>> {
        Some(Arc::new(self.projections()))
    }

    fn saga_store(&self) -> Option<Arc<dyn crate::store::SagaStore>> {
        Some(Arc::new(self.sagas()))
    }

    fn outbox_store(&self) -> Option<Arc<dyn crate::store::OutboxStore>> {
        Some(Arc::new(PostgresOutboxStore::new(self.clone())))
    }
}
