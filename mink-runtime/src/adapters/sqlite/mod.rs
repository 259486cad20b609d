//! The SQLite event store: the embedded default. One file in WAL mode, no
//! server; `sqlite3 mink.db 'select * from events'` shows the log.
//!
//! # Layout
//!
//! The log is one table, `events`, created by the embedded migrations in
//! `mink-runtime/migrations/sqlite` (re-running them is a no-op). Payloads
//! that are valid UTF-8 without NUL bytes (JSON, the default) are stored as
//! TEXT, anything else as a BLOB; reads return the exact bytes either way.
//! Beside it live the idempotency records (`mink_idempotency`) and the
//! projections' checkpoints, leases and dead letters (`mink_projections`,
//! `mink_projection_dead_letters`; see [`SqliteStore::projections`]).
//!
//! # Writing
//!
//! SQLite has one writer at a time. The store makes that explicit instead of
//! letting writers collide: appends queue on an in-process lock, run on one
//! dedicated connection, and open their transaction with `BEGIN IMMEDIATE`
//! so the write lock is taken before the versions are checked. Another
//! process writing the same file is waited for up to the busy timeout, and a
//! transaction that still finds the file busy is retried from the start
//! (nothing of it was written). Positions are rowids: with one writer they
//! are allocated and committed in the same order, so a reader that resumes
//! after a position never misses an event (see
//! `docs/adr/006-sqlite-embedded-default.md`).
//!
//! Concurrent appends to different streams are coalesced by default: those
//! that queue while an earlier one commits are written in one transaction,
//! with one `fsync`, and each caller gets its own result or error
//! (`docs/adr/021-coalesced-commits.md`; [`SqliteStoreOptions::coalesce`],
//! [`SqliteStoreOptions::no_coalescing`]).
//!
//! # Reading
//!
//! Reads use a separate pool of connections; in WAL mode they never block
//! the writer and always see every committed append.

mod errors;
mod idempotency;
mod inspect;
mod options;
mod outbox;
mod projections;
mod read_model;
mod rows;
mod sagas;
mod sql;
mod transaction;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Sqlite, Transaction};
use tokio::sync::Mutex;
use uuid::Uuid;

pub use idempotency::SqliteIdempotencyStore;
pub use outbox::SqliteOutboxStore;
pub use projections::SqliteProjectionStore;
pub use read_model::SqliteReadModels;
pub use sagas::SqliteSagaStore;
pub use transaction::SqliteTransaction;

use options::Location;
pub use options::SqliteStoreOptions;
use rows::{PayloadColumn, metadata_text};
/// The sqlx this store is built with, so a unit of work can use
/// [`SqliteTransaction::connection`] without depending on a matching sqlx.
pub use sqlx;

use crate::error::{Error, Result};
use crate::event::{ExpectedVersion, Position, RecordedEvent};
use crate::store::rules::{
    check_expected, decode_log_page, decode_stream_page, sql_i64, stored_u64,
};
use crate::store::{
    AppendResult, AppendedStream, CoalescingStore, EventStore, Limits, LogChanges, LogSignal,
    ProjectionStore, ReadAll, StreamAppend, StreamInfo, UnitOfWork, WrittenEvent,
};

/// The schema, embedded at compile time.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// How often an append that finds the file busy (another process holding
/// the write lock past the busy timeout) starts over before giving up.
const BUSY_RETRIES: u32 = 5;

/// The SQLite event store.
///
/// Cloning is cheap and shares the connections and the writer queue.
///
/// # Examples
///
/// ```
/// # use mink_runtime::{adapters::sqlite::SqliteStore, EventStore, ExpectedVersion, NewEvent};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> mink_runtime::Result<()> {
/// let store = SqliteStore::in_memory().await?;
/// store
///     .append_to_stream("order-1", ExpectedVersion::NoStream, vec![NewEvent::new("Created", b"{}".to_vec())])
///     .await?;
/// assert_eq!(store.read_stream_forward("order-1", 1, 10).await?.len(), 1);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// The one connection appends run on.
    writer: SqlitePool,
    /// Connections for reads (the writer itself for in-memory stores).
    readers: SqlitePool,
    /// Appends of this store take turns here rather than in SQLite's lock.
    write_turn: Arc<Mutex<()>>,
    acquire_timeout: Duration,
    limits: Limits,
    /// Wakes this process's readers of the log after each append commits.
    signal: LogSignal,
    /// Merges concurrent appends into shared transactions of a copy of this
    /// store without one; `None` writes each append on its own.
    coalescer: Option<Arc<CoalescingStore<SqliteStore>>>,
}

impl SqliteStore {
    /// Opens (and creates when missing) the store in the file at `path`,
    /// with default settings.
    pub async fn open(path: impl AsRef<std::path::Path>) -> Result<Self> {
        SqliteStoreOptions::file(path).open().await
    }

    /// A private in-memory store: handy for tests, gone when dropped.
    pub async fn in_memory() -> Result<Self> {
        SqliteStoreOptions::memory().open().await
    }

    /// Settings for a store in the file at `path`; finish with
    /// [`SqliteStoreOptions::open`].
    pub fn options(path: impl AsRef<std::path::Path>) -> SqliteStoreOptions {
        SqliteStoreOptions::file(path)
    }

    /// Opens a store as `options` describe, creating the file and running
    /// the migrations when needed.
    pub async fn open_with(options: SqliteStoreOptions) -> Result<Self> {
        options::check_limits(&options.limits)?;
        if options.max_readers == 0 {
            return Err(Error::Configuration(
                "a SQLite store needs at least one reader connection; \
                 set `max_readers` to 1 or more"
                    .to_owned(),
            ));
        }
        let connect = SqliteConnectOptions::new().busy_timeout(options.busy_timeout);
        let (writer, readers) = match &options.location {
            Location::File(path) => {
                let connect = connect
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal);
                // The writer connects first: it switches the file to WAL and
                // creates the schema before any reader looks at it.
                let writer =
                    single_connection_pool(connect.clone(), options.acquire_timeout).await?;
                MIGRATOR.run(&writer).await.map_err(Error::backend)?;
                let readers = SqlitePoolOptions::new()
                    .max_connections(options.max_readers)
                    .acquire_timeout(options.acquire_timeout)
                    .connect_with(connect)
                    .await
                    .map_err(errors::map_error)?;
                (writer, readers)
            }
            Location::Memory => {
                // Every connection to `:memory:` is its own database, so one
                // connection serves both sides and must never be recycled.
                let pool = single_connection_pool(connect.in_memory(true), options.acquire_timeout)
                    .await?;
                MIGRATOR.run(&pool).await.map_err(Error::backend)?;
                (pool.clone(), pool)
            }
        };
        let mut store = SqliteStore {
            writer,
            readers,
            write_turn: Arc::new(Mutex::new(())),
            acquire_timeout: options.acquire_timeout,
            limits: options.limits,
            signal: LogSignal::new(),
            coalescer: None,
        };
        if let Some(coalesce) = options.coalesce {
            // The merged calls go to a copy without a coalescer of its own.
            store.coalescer = Some(Arc::new(CoalescingStore::new(store.clone(), coalesce)));
        }
        Ok(store)
    }

    /// The bounds appends are checked against.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Closes every connection, waiting for running statements. Later calls
    /// on the store fail with [`Error::Backend`].
    pub async fn close(&self) {
        self.readers.close().await;
        self.writer.close().await;
    }

    /// The idempotency records kept in this store's file, written through
    /// its one writer connection.
    pub fn idempotency(&self) -> SqliteIdempotencyStore {
        SqliteIdempotencyStore::new(self.clone())
    }

    /// The projection checkpoints, leases, control requests and dead
    /// letters kept in this store's file, written through its one writer
    /// connection in its writer turn.
    pub fn projections(&self) -> SqliteProjectionStore {
        SqliteProjectionStore::new(self.clone())
    }

    /// The saga records, associations, commands, deadlines and history
    /// kept in this store's file.
    pub fn sagas(&self) -> SqliteSagaStore {
        SqliteSagaStore::new(self.clone())
    }

    /// One attempt at an append: the outer error is SQLite's (maybe worth a
    /// retry), the inner one the caller's (a conflict, a duplicate id, a
    /// failed unit of work).
    async fn try_append(
        &self,
        appends: &[PreparedAppend<'_>],
        created_at: &str,
        work: Option<&dyn UnitOfWork>,
    ) -> std::result::Result<Result<AppendResult>, sqlx::Error> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let mut current_versions = Vec::with_capacity(appends.len());
        for a in appends {
            let actual = stream_version(&mut tx, a.stream_id).await?;
            if let Err(conflict) = check_expected(a.stream_id, a.expected, actual) {
                tx.rollback().await?;
                return Ok(Err(conflict));
            }
            current_versions.push(actual);
        }
        let mut result = AppendResult {
            streams: Vec::with_capacity(appends.len()),
        };
        for (a, current) in appends.iter().zip(current_versions) {
            let mut written = Vec::with_capacity(a.events.len());
            for (version, e) in (current + 1..).zip(&a.events) {
                let query = sqlx::query_scalar(sql::INSERT_EVENT)
                    .bind(&e.event_id_text)
                    .bind(a.stream_id)
                    .bind(sql_i64(version))
                    .bind(e.event_type)
                    .bind(e.schema_version);
                let query = match e.payload {
                    PayloadColumn::Text(text) => query.bind(text),
                    PayloadColumn::Blob(bytes) => query.bind(bytes),
                };
                let inserted = query
                    .bind(&e.metadata)
                    .bind(created_at)
                    .bind(e.content_type)
                    .fetch_one(&mut *tx)
                    .await;
                let position: i64 = match inserted {
                    Ok(position) => position,
                    // The unique index on event ids refused it: name the id
                    // (repeats inside one call were refused before).
                    Err(e) if is_unique_violation(&e, "events.event_id") => {
                        tx.rollback().await?;
                        let stored = stored_event_id(&self.readers, appends).await?;
                        return Ok(Err(match stored {
                            Some(event_id) => Error::DuplicateEventId { event_id },
                            None => Error::backend(e),
                        }));
                    }
                    Err(e) => return Err(e),
                };
                let position = match stored_u64("position", position) {
                    Ok(p) => p,
                    Err(e) => return Ok(Err(e)),
                };
                written.push(WrittenEvent {
                    event_id: e.event_id,
                    version,
                    position: Position::sequential(position),
                });
            }
            result
                .streams
                .push(AppendedStream::after(a.stream_id, current, written));
        }
        if let Some(work) = work {
            let mut unit = SqliteTransaction::new(tx, Arc::clone(&self.write_turn));
            if let Err(e) = work.run(&mut unit, &result).await {
                unit.into_inner().rollback().await?;
                return Ok(Err(Error::UnitOfWork(e)));
            }
            tx = unit.into_inner();
        }
        tx.commit().await?;
        Ok(Ok(result))
    }

    async fn append(
        &self,
        appends: Vec<StreamAppend>,
        work: Option<&dyn UnitOfWork>,
    ) -> Result<AppendResult> {
        self.limits.check_appends(&appends)?;
        let prepared = prepare(&appends)?;
        // Bounded like a connection: a queue that does not move within the
        // wait means the store cannot take more now.
        let _turn = tokio::time::timeout(self.acquire_timeout, self.write_turn.lock())
            .await
            .map_err(|_| {
                Error::Unavailable(
                    format!(
                        "no turn to write within {:?}: appends ahead of this one are still running",
                        self.acquire_timeout
                    )
                    .into(),
                )
            })?;
        let created_at = rows::timestamp_text(Utc::now());
        let mut retries = 0;
        loop {
            match self.try_append(&prepared, &created_at, work).await {
                Ok(outcome) => {
                    if outcome.is_ok() {
                        self.signal.notify();
                    }
                    return outcome;
                }
                Err(e) if is_busy(&e) && retries < BUSY_RETRIES => {
                    retries += 1;
                    tracing::debug!(retries, "SQLite file busy; retrying the append");
                    tokio::time::sleep(Duration::from_millis(10 << retries)).await;
                }
                Err(e) => return Err(errors::map_error(e)),
            }
        }
    }
}

/// Whether SQLite refused a row for the unique constraint on `column`
/// (spelled `table.column`).
fn is_unique_violation(error: &sqlx::Error, column: &str) -> bool {
    match error {
        sqlx::Error::Database(e) => {
            e.kind() == sqlx::error::ErrorKind::UniqueViolation && e.message().contains(column)
        }
        _ => false,
    }
}

/// One of the append's event ids that is already stored, if any.
async fn stored_event_id(
    readers: &SqlitePool,
    appends: &[PreparedAppend<'_>],
) -> std::result::Result<Option<Uuid>, sqlx::Error> {
    let ids: Vec<&str> = appends
        .iter()
        .flat_map(|a| a.events.iter().map(|e| e.event_id_text.as_str()))
        .collect();
    if ids.is_empty() {
        return Ok(None);
    }
    let json = serde_json::to_string(&ids).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let found: Option<String> = sqlx::query_scalar(sql::STORED_EVENT_ID)
        .bind(json)
        .fetch_optional(readers)
        .await?;
    Ok(found.and_then(|id| Uuid::parse_str(&id).ok()))
}

/// A pool of exactly one connection that lives as long as the store.
async fn single_connection_pool(
    connect: SqliteConnectOptions,
    acquire_timeout: Duration,
) -> Result<SqlitePool> {
    SqlitePoolOptions::new()
        .acquire_timeout(acquire_timeout)
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(connect)
        .await
        .map_err(errors::map_error)
}

/// The version of `stream_id` inside the append transaction.
async fn stream_version(
    tx: &mut Transaction<'static, Sqlite>,
    stream_id: &str,
) -> std::result::Result<u64, sqlx::Error> {
    let version: i64 = sqlx::query_scalar(sql::STREAM_VERSION)
        .bind(stream_id)
        .fetch_one(&mut **tx)
        .await?;
    // The CHECK constraint keeps versions positive.
    Ok(u64::try_from(version).unwrap_or(0))
}

/// Whether SQLite refused because another connection holds a lock.
fn is_busy(error: &sqlx::Error) -> bool {
    const SQLITE_BUSY: i32 = 5;
    const SQLITE_LOCKED: i32 = 6;
    match error {
        sqlx::Error::Database(e) => e
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(|code| matches!(code & 0xff, SQLITE_BUSY | SQLITE_LOCKED)),
        _ => false,
    }
}

/// One stream's append, converted to column values before the write lock is
/// taken.
struct PreparedAppend<'a> {
    stream_id: &'a str,
    expected: ExpectedVersion,
    events: Vec<PreparedEvent<'a>>,
}

/// One event's column values.
struct PreparedEvent<'a> {
    event_id: Uuid,
    event_id_text: String,
    event_type: &'a str,
    schema_version: i64,
    payload: PayloadColumn<'a>,
    content_type: &'a str,
    metadata: String,
}

fn prepare(appends: &[StreamAppend]) -> Result<Vec<PreparedAppend<'_>>> {
    appends
        .iter()
        .map(|a| {
            let events = a
                .events
                .iter()
                .map(|e| {
                    Ok(PreparedEvent {
                        event_id: e.event_id,
                        event_id_text: e.event_id.hyphenated().to_string(),
                        event_type: &e.event_type,
                        schema_version: i64::from(e.schema_version),
                        payload: PayloadColumn::of(&e.payload, &e.content_type),
                        content_type: e.content_type.as_str(),
                        metadata: metadata_text(&e.metadata)?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(PreparedAppend {
                stream_id: &a.stream_id,
                expected: a.expected,
                events,
            })
        })
        .collect()
}

/// Encodes a filter list as the JSON array `sql::READ_ALL` expects, or
/// NULL when the list is empty (no filtering).
fn filter_list(values: &[String]) -> Result<Option<String>> {
    if values.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(values)
        .map(Some)
        .map_err(Error::backend)
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn append_to_streams(&self, appends: Vec<StreamAppend>) -> Result<AppendResult> {
        if let Some(coalescer) = &self.coalescer {
            // Checked first, so bad input never fails a merged call.
            self.limits.check_appends(&appends)?;
            return coalescer.append_to_streams(appends).await;
        }
        self.append(appends, None).await
    }

    async fn append_with(
        &self,
        appends: Vec<StreamAppend>,
        work: &dyn UnitOfWork,
    ) -> Result<AppendResult> {
        self.append(appends, Some(work)).await
    }

    async fn read_stream_forward(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        self.limits.check_stream_id(stream_id)?;
        let rows = sqlx::query(sql::READ_STREAM)
            .bind(stream_id)
            .bind(sql_i64(from_version))
            .bind(sql_i64(limit))
            .fetch_all(&self.readers)
            .await
            .map_err(errors::map_error)?;
        decode_stream_page(&rows, from_version, rows::decode_event)
    }

    async fn read_all_forward(&self, request: ReadAll) -> Result<Vec<RecordedEvent>> {
        let filter = &request.filter;
        let rows = sqlx::query(sql::READ_ALL)
            .bind(sql_i64(request.after.event))
            .bind(filter_list(&filter.event_types)?)
            .bind(filter_list(&filter.categories)?)
            .bind(filter_list(&filter.stream_ids)?)
            .bind(sql_i64(request.limit))
            .fetch_all(&self.readers)
            .await
            .map_err(errors::map_error)?;
        decode_log_page(&rows, rows::decode_event)
    }

    async fn stream_info(&self, stream_id: &str) -> Result<Option<StreamInfo>> {
        self.limits.check_stream_id(stream_id)?;
        let row = sqlx::query(sql::STREAM_INFO)
            .bind(stream_id)
            .fetch_optional(&self.readers)
            .await
            .map_err(errors::map_error)?;
        row.map(|row| rows::decode_stream_info(&row, stream_id))
            .transpose()
    }

    async fn head_position(&self) -> Result<Position> {
        let head: i64 = sqlx::query_scalar(sql::HEAD_POSITION)
            .fetch_one(&self.readers)
            .await
            .map_err(errors::map_error)?;
        // Rows at positions below 1 (written by hand) are outside the log:
        // reads after `Position::START` never reach them.
        Ok(Position::sequential(u64::try_from(head).unwrap_or(0)))
    }

    /// Woken after each append of this process commits; appends of other
    /// processes sharing the file are seen at the reader's next poll.
    fn log_changes(&self) -> LogChanges {
        self.signal.listen()
    }

    fn projection_store(&self) -> Option<Arc<dyn ProjectionStore>> {
        Some(Arc::new(self.projections()))
    }

    fn saga_store(&self) -> Option<Arc<dyn crate::store::SagaStore>> {
        Some(Arc::new(self.sagas()))
    }

    fn outbox_store(&self) -> Option<Arc<dyn crate::store::OutboxStore>> {
        Some(Arc::new(SqliteOutboxStore::new(self.clone())))
    }
}

#[cfg(test)]
mod tests;
