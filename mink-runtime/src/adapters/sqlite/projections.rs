//! Projection checkpoints, leases, control requests and dead letters of a
//! [`SqliteStore`](super::SqliteStore), in its own file
//! (`mink_projections`, `mink_projection_dead_letters`).
//!
//! Every write takes the store's writer turn, like an append, and runs in a
//! `BEGIN IMMEDIATE` transaction on the one writer connection: the file's
//! write lock is taken before anything is read, so a lease or checkpoint is
//! decided on what is committed, by one writer at a time, also when several
//! processes share the file (another process is waited for up to the busy
//! timeout). Times are SQLite's clock in milliseconds since the Unix epoch
//! (docs/adr/013-checkpoints-and-leases.md).

mod sql;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};
use tokio::sync::OwnedMutexGuard;
use uuid::Uuid;

use super::errors::map_error;
use super::{BUSY_RETRIES, SqliteStore, SqliteTransaction, is_busy};
use crate::error::{Error, Result};
use crate::event::Position;
use crate::store::rules::{sql_i64, stored_u64};
use crate::store::{
    CheckpointTransaction, CheckpointUpdate, DeadLetter, Desired, Lease, ProjectionRecord,
    ProjectionStore, RebuildRequest, RebuildStep, StatusReport, StoreTransaction,
};

/// The longest lease granted: a longer `ttl` would overflow SQLite's
/// integers, and no worker needs one.
const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The projection records of a SQLite store, from
/// [`SqliteStore::projections`]: kept in its file, written through its one
/// writer connection in its writer turn, by SQLite's clock.
#[derive(Debug, Clone)]
pub struct SqliteProjectionStore {
    store: SqliteStore,
}

/// The writer turn and the open write transaction of one projection write.
struct WriteTurn {
    tx: Transaction<'static, Sqlite>,
    /// Held until the transaction ends.
    _turn: OwnedMutexGuard<()>,
}

impl SqliteProjectionStore {
    pub(super) fn new(store: SqliteStore) -> Self {
        SqliteProjectionStore { store }
    }

    /// Waits for the store's writer turn (bounded like an append's), then
    /// opens a `BEGIN IMMEDIATE` transaction, retrying while another
    /// process keeps the file busy past the busy timeout.
    async fn begin_write(&self) -> Result<WriteTurn> {
        let wait = self.store.acquire_timeout;
        let turn = tokio::time::timeout(wait, Arc::clone(&self.store.write_turn).lock_owned())
            .await
            .map_err(|_| {
                Error::Unavailable(
                    format!(
                        "no turn to write within {wait:?}: appends ahead of this projection \
                         write are still running"
                    )
                    .into(),
                )
            })?;
        let mut retries = 0;
        loop {
            match self.store.writer.begin_with("BEGIN IMMEDIATE").await {
                Ok(tx) => return Ok(WriteTurn { tx, _turn: turn }),
                Err(e) if is_busy(&e) && retries < BUSY_RETRIES => {
                    retries += 1;
                    tracing::debug!(retries, "SQLite file busy; retrying a projection write");
                    tokio::time::sleep(Duration::from_millis(10 << retries)).await;
                }
                Err(e) => return Err(map_error(e)),
            }
        }
    }
}

fn ttl_ms(ttl: Duration) -> i64 {
    sql_i64(ttl.min(MAX_TTL).as_millis())
}

fn lost(lease: &Lease) -> Error {
    Error::LeaseLost {
        projection: lease.projection.clone(),
        generation: lease.generation,
    }
}

#[async_trait]
impl ProjectionStore for SqliteProjectionStore {
    async fn record(&self, name: &str) -> Result<Option<ProjectionRecord>> {
        let row = sqlx::query(sql::RECORD)
            .bind(name)
            .fetch_optional(&self.store.readers)
            .await
            .map_err(map_error)?;
        row.as_ref().map(decode_record).transpose()
    }

    async fn records(&self) -> Result<Vec<ProjectionRecord>> {
        let rows = sqlx::query(sql::RECORDS)
            .fetch_all(&self.store.readers)
            .await
            .map_err(map_error)?;
        rows.iter().map(decode_record).collect()
    }

    async fn acquire(&self, name: &str, owner: &str, ttl: Duration) -> Result<Option<Lease>> {
        let mut write = self.begin_write().await?;
        let generation: Option<i64> = sqlx::query_scalar(sql::ACQUIRE)
            .bind(name)
            .bind(owner)
            .bind(ttl_ms(ttl))
            .fetch_optional(&mut *write.tx)
            .await
            .map_err(map_error)?;
        write.tx.commit().await.map_err(map_error)?;
        generation
            .map(|generation| {
                Ok(Lease {
                    projection: name.to_owned(),
                    owner: owner.to_owned(),
                    generation: stored_u64("generation", generation)?,
                })
            })
            .transpose()
    }

    async fn renew(
        &self,
        lease: &Lease,
        ttl: Duration,
        status: &StatusReport,
    ) -> Result<Option<ProjectionRecord>> {
        let mut write = self.begin_write().await?;
        let row = sqlx::query(sql::RENEW)
            .bind(&lease.projection)
            .bind(sql_i64(lease.generation))
            .bind(&lease.owner)
            .bind(ttl_ms(ttl))
            .bind(status.state.as_str())
            .bind(status.last_error.as_deref())
            .fetch_optional(&mut *write.tx)
            .await
            .map_err(map_error)?;
        write.tx.commit().await.map_err(map_error)?;
        row.as_ref().map(decode_record).transpose()
    }

    async fn release(&self, lease: &Lease, status: &StatusReport) -> Result<()> {
        let mut write = self.begin_write().await?;
        sqlx::query(sql::RELEASE)
            .bind(&lease.projection)
            .bind(sql_i64(lease.generation))
            .bind(&lease.owner)
            .bind(status.state.as_str())
            .bind(status.last_error.as_deref())
            .execute(&mut *write.tx)
            .await
            .map_err(map_error)?;
        write.tx.commit().await.map_err(map_error)
    }

    async fn begin(&self, lease: &Lease) -> Result<Box<dyn CheckpointTransaction>> {
        let WriteTurn { tx, _turn } = self.begin_write().await?;
        Ok(Box::new(SqliteCheckpoint {
            lease: lease.clone(),
            tx: SqliteTransaction::new(tx, Arc::clone(&self.store.write_turn)),
            _turn,
        }))
    }

    async fn set_desired(&self, name: &str, desired: Desired) -> Result<()> {
        let mut write = self.begin_write().await?;
        sqlx::query(sql::SET_DESIRED)
            .bind(name)
            .bind(desired.as_str())
            .execute(&mut *write.tx)
            .await
            .map_err(map_error)?;
        write.tx.commit().await.map_err(map_error)
    }

    async fn request_rebuild(
        &self,
        name: &str,
        from: Position,
        to: Option<Position>,
    ) -> Result<u64> {
        if let Some(to) = to.filter(|to| *to < from) {
            return Err(Error::invalid(
                "rebuild",
                format!("the upper bound {to} is before the lower bound {from}"),
            ));
        }
        let mut write = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(sql::NEXT_REBUILD_ID)
            .fetch_one(&mut *write.tx)
            .await
            .map_err(map_error)?;
        sqlx::query(sql::REQUEST_REBUILD)
            .bind(name)
            .bind(id)
            .bind(sql_i64(from.commit))
            .bind(sql_i64(from.event))
            .bind(to.map(|to| sql_i64(to.commit)))
            .bind(to.map(|to| sql_i64(to.event)))
            .execute(&mut *write.tx)
            .await
            .map_err(map_error)?;
        write.tx.commit().await.map_err(map_error)?;
        stored_u64("rebuild_id", id)
    }

    async fn cancel_rebuild(&self, name: &str) -> Result<()> {
        let mut write = self.begin_write().await?;
        sqlx::query(sql::CANCEL_REBUILD)
            .bind(name)
            .execute(&mut *write.tx)
            .await
            .map_err(map_error)?;
        write.tx.commit().await.map_err(map_error)
    }

    async fn dead_letters(&self, name: &str) -> Result<Vec<DeadLetter>> {
        let rows = sqlx::query(sql::DEAD_LETTERS)
            .bind(name)
            .fetch_all(&self.store.readers)
            .await
            .map_err(map_error)?;
        rows.iter().map(decode_dead_letter).collect()
    }

    async fn remove_dead_letter(&self, name: &str, position: Position) -> Result<bool> {
        let mut write = self.begin_write().await?;
        let removed = sqlx::query(sql::REMOVE_DEAD_LETTER)
            .bind(name)
            .bind(sql_i64(position.commit))
            .bind(sql_i64(position.event))
            .execute(&mut *write.tx)
            .await
            .map_err(map_error)?
            .rows_affected();
        write.tx.commit().await.map_err(map_error)?;
        Ok(removed > 0)
    }
}

/// One batch's transaction: the writer connection in `BEGIN IMMEDIATE`,
/// holding the store's writer turn until it ends.
struct SqliteCheckpoint {
    lease: Lease,
    tx: SqliteTransaction,
    _turn: OwnedMutexGuard<()>,
}

#[async_trait]
impl CheckpointTransaction for SqliteCheckpoint {
    fn transaction(&mut self) -> &mut dyn StoreTransaction {
        &mut self.tx
    }

    async fn commit(self: Box<Self>, update: CheckpointUpdate) -> Result<()> {
        let SqliteCheckpoint { lease, tx, _turn } = *self;
        let mut tx = tx.into_inner();
        let moved = sqlx::query(sql::MOVE_CHECKPOINT)
            .bind(&lease.projection)
            .bind(sql_i64(lease.generation))
            .bind(&lease.owner)
            .bind(sql_i64(update.from.commit))
            .bind(sql_i64(update.from.event))
            .bind(sql_i64(update.to.commit))
            .bind(sql_i64(update.to.event))
            .bind(sql_i64(update.applied))
            .execute(&mut *tx)
            .await
            .map_err(map_error)?
            .rows_affected();
        if moved == 0 {
            tx.rollback().await.map_err(map_error)?;
            return Err(lost(&lease));
        }
        let step = match update.rebuild {
            RebuildStep::None => None,
            RebuildStep::Started(id) => Some((sql::REBUILD_STARTED, id)),
            RebuildStep::Finished(id) => Some((sql::REBUILD_FINISHED, id)),
        };
        if let Some((statement, id)) = step {
            sqlx::query(statement)
                .bind(&lease.projection)
                .bind(sql_i64(id))
                .execute(&mut *tx)
                .await
                .map_err(map_error)?;
        }
        for parked in &update.parked {
            sqlx::query(sql::PARK)
                .bind(&lease.projection)
                .bind(sql_i64(parked.position.commit))
                .bind(sql_i64(parked.position.event))
                .bind(parked.event_id.hyphenated().to_string())
                .bind(&parked.stream_id)
                .bind(sql_i64(parked.version))
                .bind(&parked.event_type)
                .bind(&parked.error)
                .bind(i64::from(parked.attempts))
                .bind(parked.parked_at.timestamp_millis())
                .execute(&mut *tx)
                .await
                .map_err(map_error)?;
        }
        tx.commit().await.map_err(map_error)
    }
}

/// A column, or a backend error naming it.
fn get<'r, T>(row: &'r SqliteRow, column: &'static str) -> Result<T>
where
    T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    row.try_get(column)
        .map_err(|e| Error::backend(format!("column `{column}` of a projection row: {e}")))
}

fn get_u64(row: &SqliteRow, column: &'static str) -> Result<u64> {
    stored_u64(column, get(row, column)?)
}

fn position(row: &SqliteRow, commit: &'static str, event: &'static str) -> Result<Position> {
    Ok(Position {
        commit: get_u64(row, commit)?,
        event: get_u64(row, event)?,
    })
}

/// A time stored as milliseconds since the Unix epoch.
fn time(row: &SqliteRow, column: &'static str) -> Result<Option<DateTime<Utc>>> {
    get::<Option<i64>>(row, column)?
        .map(|ms| {
            DateTime::from_timestamp_millis(ms).ok_or_else(|| {
                Error::backend(format!(
                    "column `{column}` holds {ms}, out of range as a time"
                ))
            })
        })
        .transpose()
}

fn decode_record(row: &SqliteRow) -> Result<ProjectionRecord> {
    let rebuild = match get::<Option<i64>>(row, "rebuild_id")? {
        None => None,
        Some(id) => {
            let to = match get::<Option<i64>>(row, "rebuild_to_commit")? {
                None => None,
                Some(_) => Some(position(row, "rebuild_to_commit", "rebuild_to_event")?),
            };
            Some(RebuildRequest {
                id: stored_u64("rebuild_id", id)?,
                from: position(row, "rebuild_from_commit", "rebuild_from_event")?,
                to,
                started: get::<i64>(row, "rebuild_started")? != 0,
            })
        }
    };
    Ok(ProjectionRecord {
        name: get(row, "name")?,
        checkpoint: position(row, "checkpoint_commit", "checkpoint_event")?,
        state: get::<String>(row, "state")?.parse()?,
        desired: get::<String>(row, "desired")?.parse()?,
        rebuild,
        owner: get(row, "owner")?,
        generation: get_u64(row, "generation")?,
        lease_expires_at: time(row, "lease_expires_at")?,
        heartbeat_at: time(row, "heartbeat_at")?,
        events_processed: get_u64(row, "events_processed")?,
        last_error: get(row, "last_error")?,
        updated_at: time(row, "updated_at")?
            .ok_or_else(|| Error::backend("column `updated_at` of a projection row is NULL"))?,
    })
}

fn decode_dead_letter(row: &SqliteRow) -> Result<DeadLetter> {
    let event_id: String = get(row, "event_id")?;
    let event_id = Uuid::parse_str(&event_id).map_err(|e| {
        Error::backend(format!(
            "column `event_id` of a dead letter holds `{event_id}`: {e}"
        ))
    })?;
    let attempts = get::<i64>(row, "attempts")?;
    Ok(DeadLetter {
        projection: get(row, "projection")?,
        position: position(row, "position_commit", "position_event")?,
        event_id,
        stream_id: get(row, "stream_id")?,
        version: get_u64(row, "version")?,
        event_type: get(row, "event_type")?,
        error: get(row, "error")?,
        attempts: u32::try_from(attempts).map_err(|_| {
            Error::backend(format!("column `attempts` holds {attempts}, out of range"))
        })?,
        parked_at: time(row, "parked_at")?
            .ok_or_else(|| Error::backend("column `parked_at` of a dead letter is NULL"))?,
    })
}
