//! Projection checkpoints, leases, control requests and dead letters of a
//! [`PostgresStore`](super::PostgresStore), in its schema
//! (`<schema>.projections`, `<schema>.projection_dead_letters`), by the
//! database's clock (docs/adr/013-checkpoints-and-leases.md).
//!
//! A lease is taken with one `INSERT … ON CONFLICT DO UPDATE … WHERE`
//! statement: of instances racing for a projection, in one process or many,
//! exactly one gets it. A batch's checkpoint moves with one `UPDATE` whose
//! `WHERE` checks the lease's generation and owner and the checkpoint the
//! batch started from; it runs in the batch's transaction, after the
//! read-model writes, so either both commit or neither does.

mod sql;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::{AssertSqlSafe, Postgres, Row};
use uuid::Uuid;

use super::append::map_error;
use super::{PostgresStore, PostgresTransaction};
use crate::error::{Error, Result};
use crate::event::Position;
use crate::store::rules::{sql_i64, stored_u64};
use crate::store::{
    CheckpointTransaction, CheckpointUpdate, DeadLetter, Desired, Lease, ProjectionRecord,
    ProjectionStore, RebuildRequest, RebuildStep, StatusReport, StoreTransaction,
};
use sql::Statements;

/// The longest lease granted: a longer `ttl` would overflow PostgreSQL's
/// intervals, and no worker needs one.
const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The projection records of a PostgreSQL store, from
/// [`PostgresStore::projections`]: kept in its schema, on its pool, by the
/// database's clock.
#[derive(Debug, Clone)]
pub struct PostgresProjectionStore {
    store: PostgresStore,
    statements: Arc<Statements>,
}

impl PostgresProjectionStore {
    pub(super) fn new(store: PostgresStore) -> Self {
        let statements = Arc::new(Statements::new(store.schema()));
        PostgresProjectionStore { store, statements }
    }
}

fn query(
    statement: &Arc<str>,
) -> sqlx::query::Query<'static, Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(AssertSqlSafe(Arc::clone(statement)))
}

fn ttl_secs(ttl: Duration) -> f64 {
    ttl.min(MAX_TTL).as_secs_f64()
}

/// Text for a `text` column: PostgreSQL refuses NUL characters in text, and
/// an error message that carries one must still be stored.
fn storable(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\0') {
        text.replace('\0', "\u{fffd}").into()
    } else {
        text.into()
    }
}

fn lost(lease: &Lease) -> Error {
    Error::LeaseLost {
        projection: lease.projection.clone(),
        generation: lease.generation,
    }
}

#[async_trait]
impl ProjectionStore for PostgresProjectionStore {
    async fn record(&self, name: &str) -> Result<Option<ProjectionRecord>> {
        let row = query(&self.statements.record)
            .bind(name)
            .fetch_optional(&self.store.pool)
            .await
            .map_err(map_error)?;
        row.as_ref().map(decode_record).transpose()
    }

    async fn records(&self) -> Result<Vec<ProjectionRecord>> {
        let rows = query(&self.statements.records)
            .fetch_all(&self.store.pool)
            .await
            .map_err(map_error)?;
        rows.iter().map(decode_record).collect()
    }

    async fn acquire(&self, name: &str, owner: &str, ttl: Duration) -> Result<Option<Lease>> {
        let row = query(&self.statements.acquire)
            .bind(name)
            .bind(owner)
            .bind(ttl_secs(ttl))
            .fetch_optional(&self.store.pool)
            .await
            .map_err(map_error)?;
        row.map(|row| {
            Ok(Lease {
                projection: name.to_owned(),
                owner: owner.to_owned(),
                generation: get_u64(&row, "generation")?,
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
        let row = query(&self.statements.renew)
            .bind(&lease.projection)
            .bind(sql_i64(lease.generation))
            .bind(&lease.owner)
            .bind(ttl_secs(ttl))
            .bind(status.state.as_str())
            .bind(status.last_error.as_deref().map(storable))
            .fetch_optional(&self.store.pool)
            .await
            .map_err(map_error)?;
        row.as_ref().map(decode_record).transpose()
    }

    async fn release(&self, lease: &Lease, status: &StatusReport) -> Result<()> {
        query(&self.statements.release)
            .bind(&lease.projection)
            .bind(sql_i64(lease.generation))
            .bind(&lease.owner)
            .bind(status.state.as_str())
            .bind(status.last_error.as_deref().map(storable))
            .execute(&self.store.pool)
            .await
            .map_err(map_error)?;
        Ok(())
    }

    async fn begin(&self, lease: &Lease) -> Result<Box<dyn CheckpointTransaction>> {
        let tx = self.store.pool.begin().await.map_err(map_error)?;
        Ok(Box::new(PostgresCheckpoint {
            statements: Arc::clone(&self.statements),
            lease: lease.clone(),
            tx: PostgresTransaction::new(tx, Arc::clone(&self.store.statements)),
        }))
    }

    async fn set_desired(&self, name: &str, desired: Desired) -> Result<()> {
        query(&self.statements.set_desired)
            .bind(name)
            .bind(desired.as_str())
            .execute(&self.store.pool)
            .await
            .map_err(map_error)?;
        Ok(())
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
        let row = query(&self.statements.request_rebuild)
            .bind(name)
            .bind(sql_i64(from.commit))
            .bind(sql_i64(from.event))
            .bind(to.map(|to| sql_i64(to.commit)))
            .bind(to.map(|to| sql_i64(to.event)))
            .fetch_one(&self.store.pool)
            .await
            .map_err(map_error)?;
        get_u64(&row, "rebuild_id")
    }

    async fn cancel_rebuild(&self, name: &str) -> Result<()> {
        query(&self.statements.cancel_rebuild)
            .bind(name)
            .execute(&self.store.pool)
            .await
            .map_err(map_error)?;
        Ok(())
    }

    async fn dead_letters(&self, name: &str) -> Result<Vec<DeadLetter>> {
        let rows = query(&self.statements.dead_letters)
            .bind(name)
            .fetch_all(&self.store.pool)
            .await
            .map_err(map_error)?;
        rows.iter().map(decode_dead_letter).collect()
    }

    async fn remove_dead_letter(&self, name: &str, position: Position) -> Result<bool> {
        let removed = query(&self.statements.remove_dead_letter)
            .bind(name)
            .bind(sql_i64(position.commit))
            .bind(sql_i64(position.event))
            .execute(&self.store.pool)
            .await
            .map_err(map_error)?
            .rows_affected();
        Ok(removed > 0)
    }
}

/// One batch's transaction on a pool connection.
struct PostgresCheckpoint {
    statements: Arc<Statements>,
    lease: Lease,
    tx: PostgresTransaction,
}

/// Writes the checkpoint and what goes with it on `conn`; `false` when the
/// lease or the checkpoint moved.
async fn write_checkpoint(
    statements: &Statements,
    lease: &Lease,
    conn: &mut PgConnection,
    update: &CheckpointUpdate,
) -> Result<bool> {
    let moved = query(&statements.move_checkpoint)
        .bind(&lease.projection)
        .bind(sql_i64(lease.generation))
        .bind(&lease.owner)
        .bind(sql_i64(update.from.commit))
        .bind(sql_i64(update.from.event))
        .bind(sql_i64(update.to.commit))
        .bind(sql_i64(update.to.event))
        .bind(sql_i64(update.applied))
        .execute(&mut *conn)
        .await
        .map_err(map_error)?
        .rows_affected();
    if moved == 0 {
        return Ok(false);
    }
    let step = match update.rebuild {
        RebuildStep::None => None,
        RebuildStep::Started(id) => Some((&statements.rebuild_started, id)),
        RebuildStep::Finished(id) => Some((&statements.rebuild_finished, id)),
    };
    if let Some((statement, id)) = step {
        query(statement)
            .bind(&lease.projection)
            .bind(sql_i64(id))
            .execute(&mut *conn)
            .await
            .map_err(map_error)?;
    }
    for parked in &update.parked {
        query(&statements.park)
            .bind(&lease.projection)
            .bind(sql_i64(parked.position.commit))
            .bind(sql_i64(parked.position.event))
            .bind(parked.event_id)
            .bind(&parked.stream_id)
            .bind(sql_i64(parked.version))
            .bind(&parked.event_type)
            .bind(storable(&parked.error))
            .bind(i64::from(parked.attempts))
            .bind(parked.parked_at)
            .execute(&mut *conn)
            .await
            .map_err(map_error)?;
    }
    Ok(true)
}

#[async_trait]
impl CheckpointTransaction for PostgresCheckpoint {
    fn transaction(&mut self) -> &mut dyn StoreTransaction {
        &mut self.tx
    }

    async fn commit(self: Box<Self>, update: CheckpointUpdate) -> Result<()> {
        let PostgresCheckpoint {
            statements,
            lease,
            tx,
        } = *self;
        let mut tx = tx.into_inner();
        if !write_checkpoint(&statements, &lease, &mut tx, &update).await? {
            tx.rollback().await.map_err(map_error)?;
            return Err(lost(&lease));
        }
        tx.commit().await.map_err(map_error)
    }
}

/// A column, or a backend error naming it.
fn get<'r, T>(row: &'r PgRow, column: &'static str) -> Result<T>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    row.try_get(column)
        .map_err(|e| Error::backend(format!("column `{column}` of a projection row: {e}")))
}

fn get_u64(row: &PgRow, column: &'static str) -> Result<u64> {
    stored_u64(column, get(row, column)?)
}

fn position(row: &PgRow, commit: &'static str, event: &'static str) -> Result<Position> {
    Ok(Position {
        commit: get_u64(row, commit)?,
        event: get_u64(row, event)?,
    })
}

fn decode_record(row: &PgRow) -> Result<ProjectionRecord> {
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
                started: get(row, "rebuild_started")?,
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
        lease_expires_at: get::<Option<DateTime<Utc>>>(row, "lease_expires_at")?,
        heartbeat_at: get::<Option<DateTime<Utc>>>(row, "heartbeat_at")?,
        events_processed: get_u64(row, "events_processed")?,
        last_error: get(row, "last_error")?,
        updated_at: get(row, "updated_at")?,
    })
}

fn decode_dead_letter(row: &PgRow) -> Result<DeadLetter> {
    let attempts = get::<i64>(row, "attempts")?;
    Ok(DeadLetter {
        projection: get(row, "projection")?,
        position: position(row, "position_commit", "position_event")?,
        event_id: get::<Uuid>(row, "event_id")?,
        stream_id: get(row, "stream_id")?,
        version: get_u64(row, "version")?,
        event_type: get(row, "event_type")?,
        error: get(row, "error")?,
        attempts: u32::try_from(attempts).map_err(|_| {
            Error::backend(format!("column `attempts` holds {attempts}, out of range"))
        })?,
        parked_at: get(row, "parked_at")?,
    })
}
