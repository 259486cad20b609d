//! Saga records, associations, commands, deadlines and history of a
//! [`SqliteStore`](super::SqliteStore), in its file (`mink_sagas`,
//! `mink_saga_associations`, `mink_saga_commands`, `mink_saga_deadlines`,
//! `mink_saga_history`; docs/adr/016-sagas.md).
//!
//! Writes in a checkpoint's transaction run on its connection; writes of
//! their own take the store's writer turn and a `BEGIN IMMEDIATE`
//! transaction, like projection writes. Times are milliseconds since the
//! Unix epoch, ids are UUIDs as text.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::{Row, Sqlite, Transaction};
use uuid::Uuid;

use super::errors::map_error;
use super::{BUSY_RETRIES, SqliteStore, SqliteTransaction, is_busy};
use crate::error::{Error, Result};
use crate::store::rules::{sql_i64, stored_u64};
use crate::store::{
    IdempotencyStore, SagaAssociation, SagaCommandRecord, SagaDeadline, SagaHistoryEntry,
    SagaQuery, SagaRecord, SagaStore, SagaWrite, StoreTransaction, association_taken,
    saga_conflict,
};

/// The saga records of a SQLite store, from [`SqliteStore::sagas`].
#[derive(Debug, Clone)]
pub struct SqliteSagaStore {
    store: SqliteStore,
}

const SAGA_COLUMNS: &str = "id, saga_type, state, status, version, commands_issued, created_at, \
     updated_at, last_error";
const COMMAND_COLUMNS: &str = "message_id, saga_id, saga_type, seq, kind, compensates, name, \
     payload, aggregate_id, correlation_id, causation_id, user_id, tenant_id, status, attempts, \
     next_attempt_at, last_error, result, created_at";
const DEADLINE_COLUMNS: &str =
    "id, saga_id, saga_type, name, due, event_type, schema_version, payload";

impl SqliteSagaStore {
    pub(super) fn new(store: SqliteStore) -> Self {
        SqliteSagaStore { store }
    }

    /// The writer turn and a `BEGIN IMMEDIATE` transaction (as projection
    /// writes take them).
    async fn begin_write(
        &self,
    ) -> Result<(
        Transaction<'static, Sqlite>,
        tokio::sync::OwnedMutexGuard<()>,
    )> {
        let wait = self.store.acquire_timeout;
        let turn = tokio::time::timeout(wait, Arc::clone(&self.store.write_turn).lock_owned())
            .await
            .map_err(|_| {
                Error::Unavailable(
                    format!("no turn to write within {wait:?}: appends ahead of this saga write are still running").into(),
                )
            })?;
        let mut retries = 0;
        loop {
            match self.store.writer.begin_with("BEGIN IMMEDIATE").await {
                Ok(tx) => return Ok((tx, turn)),
                Err(e) if is_busy(&e) && retries < BUSY_RETRIES => {
                    retries += 1;
                    tokio::time::sleep(Duration::from_millis(10 << retries)).await;
                }
                Err(e) => return Err(map_error(e)),
            }
        }
    }
}

fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn text(id: Uuid) -> String {
    id.hyphenated().to_string()
}

/// A unique violation of the active associations, as the typed error.
fn association_error(e: sqlx::Error, association: &SagaAssociation) -> Error {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => association_taken(association),
        _ => map_error(e),
    }
}

async fn apply(conn: &mut SqliteConnection, write: &SagaWrite) -> Result<()> {
    for upsert in &write.sagas {
        let r = &upsert.record;
        let state = r.state.as_slice();
        let done = match upsert.expected {
            None => sqlx::query(
                "INSERT INTO mink_sagas (id, saga_type, state, status, version, commands_issued, \
                 created_at, updated_at, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(text(r.id))
            .bind(&r.saga_type)
            .bind(state)
            .bind(r.status.as_str())
            .bind(sql_i64(r.version))
            .bind(sql_i64(r.commands_issued))
            .bind(ms(r.created_at))
            .bind(ms(r.updated_at))
            .bind(r.last_error.as_deref())
            .execute(&mut *conn)
            .await
            .map_err(map_error)?,
            Some(expected) => sqlx::query(
                "UPDATE mink_sagas SET state = ?, status = ?, version = ?, commands_issued = ?, \
                 updated_at = ?, last_error = ? WHERE id = ? AND version = ?",
            )
            .bind(state)
            .bind(r.status.as_str())
            .bind(sql_i64(r.version))
            .bind(sql_i64(r.commands_issued))
            .bind(ms(r.updated_at))
            .bind(r.last_error.as_deref())
            .bind(text(r.id))
            .bind(sql_i64(expected))
            .execute(&mut *conn)
            .await
            .map_err(map_error)?,
        };
        if done.rows_affected() == 0 {
            return Err(saga_conflict(r.id, upsert.expected.unwrap_or(0)));
        }
    }
    for id in &write.release {
        sqlx::query("UPDATE mink_saga_associations SET active = 0 WHERE saga_id = ?")
            .bind(text(*id))
            .execute(&mut *conn)
            .await
            .map_err(map_error)?;
    }
    for id in &write.reactivate {
        let rows = sqlx::query(
            "SELECT saga_type, key, value FROM mink_saga_associations \
             WHERE saga_id = ? AND active = 0",
        )
        .bind(text(*id))
        .fetch_all(&mut *conn)
        .await
        .map_err(map_error)?;
        for row in rows {
            let association = SagaAssociation {
                saga_type: get(&row, "saga_type")?,
                key: get(&row, "key")?,
                value: get(&row, "value")?,
                saga_id: *id,
                active: true,
            };
            sqlx::query(
                "UPDATE mink_saga_associations SET active = 1 \
                 WHERE saga_id = ? AND saga_type = ? AND key = ? AND value = ?",
            )
            .bind(text(*id))
            .bind(&association.saga_type)
            .bind(&association.key)
            .bind(&association.value)
            .execute(&mut *conn)
            .await
            .map_err(|e| association_error(e, &association))?;
        }
    }
    for a in &write.associate {
        sqlx::query(
            "INSERT INTO mink_saga_associations (saga_type, key, value, saga_id, active) \
             VALUES (?, ?, ?, ?, 1) ON CONFLICT (saga_id, saga_type, key, value) \
             DO UPDATE SET active = 1",
        )
        .bind(&a.saga_type)
        .bind(&a.key)
        .bind(&a.value)
        .bind(text(a.saga_id))
        .execute(&mut *conn)
        .await
        .map_err(|e| association_error(e, a))?;
    }
    for (saga, name) in &write.cancel_deadlines {
        sqlx::query("DELETE FROM mink_saga_deadlines WHERE saga_id = ? AND name = ?")
            .bind(text(*saga))
            .bind(name)
            .execute(&mut *conn)
            .await
            .map_err(map_error)?;
    }
    for id in &write.remove_deadlines {
        sqlx::query("DELETE FROM mink_saga_deadlines WHERE id = ?")
            .bind(text(*id))
            .execute(&mut *conn)
            .await
            .map_err(map_error)?;
    }
    for saga in &write.clear_deadlines {
        sqlx::query("DELETE FROM mink_saga_deadlines WHERE saga_id = ?")
            .bind(text(*saga))
            .execute(&mut *conn)
            .await
            .map_err(map_error)?;
    }
    for d in &write.deadlines {
        sqlx::query(
            "INSERT INTO mink_saga_deadlines (id, saga_id, saga_type, name, due, event_type, \
             schema_version, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (saga_id, name) DO UPDATE SET id = excluded.id, due = excluded.due, \
             event_type = excluded.event_type, schema_version = excluded.schema_version, \
             payload = excluded.payload",
        )
        .bind(text(d.id))
        .bind(text(d.saga_id))
        .bind(&d.saga_type)
        .bind(&d.name)
        .bind(ms(d.due))
        .bind(&d.event_type)
        .bind(i64::from(d.schema_version))
        .bind(d.payload.as_slice())
        .execute(&mut *conn)
        .await
        .map_err(map_error)?;
    }
    for c in &write.commands {
        sqlx::query(
            "INSERT INTO mink_saga_commands (message_id, saga_id, saga_type, seq, kind, \
             compensates, name, payload, aggregate_id, correlation_id, causation_id, user_id, \
             tenant_id, status, attempts, next_attempt_at, last_error, result, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (message_id) DO NOTHING",
        )
        .bind(text(c.message_id))
        .bind(text(c.saga_id))
        .bind(&c.saga_type)
        .bind(sql_i64(c.seq))
        .bind(c.kind.as_str())
        .bind(c.compensates.map(text))
        .bind(&c.name)
        .bind(c.payload.as_slice())
        .bind(c.aggregate_id.as_deref())
        .bind(c.correlation_id.as_deref())
        .bind(c.causation_id.as_deref())
        .bind(c.user_id.as_deref())
        .bind(c.tenant_id.as_deref())
        .bind(c.status.as_str())
        .bind(i64::from(c.attempts))
        .bind(ms(c.next_attempt_at))
        .bind(c.last_error.as_deref())
        .bind(c.result.as_deref())
        .bind(ms(c.created_at))
        .execute(&mut *conn)
        .await
        .map_err(map_error)?;
    }
    for u in &write.command_updates {
        sqlx::query(
            "UPDATE mink_saga_commands SET status = ?, attempts = ?, next_attempt_at = ?, \
             last_error = ?, result = ? WHERE message_id = ?",
        )
        .bind(u.status.as_str())
        .bind(i64::from(u.attempts))
        .bind(ms(u.next_attempt_at))
        .bind(u.last_error.as_deref())
        .bind(u.result.as_deref())
        .bind(text(u.message_id))
        .execute(&mut *conn)
        .await
        .map_err(map_error)?;
    }
    for h in &write.history {
        sqlx::query(
            "INSERT INTO mink_saga_history (saga_id, at, kind, detail) VALUES (?, ?, ?, ?)",
        )
        .bind(text(h.saga_id))
        .bind(ms(h.at))
        .bind(&h.kind)
        .bind(&h.detail)
        .execute(&mut *conn)
        .await
        .map_err(map_error)?;
    }
    Ok(())
}

#[async_trait]
impl SagaStore for SqliteSagaStore {
    async fn write_in(&self, tx: &mut dyn StoreTransaction, write: &SagaWrite) -> Result<()> {
        let backend = tx.backend();
        let Some(tx) = tx.downcast_mut::<SqliteTransaction>() else {
            return Err(Error::backend(format!(
                "a SQLite saga store cannot write in a {backend} transaction"
            )));
        };
        if !tx.is_of(&self.store.write_turn) {
            return Err(Error::backend(
                "the transaction belongs to another SQLite store than this saga store",
            ));
        }
        apply(tx.connection(), write).await
    }

    async fn write(&self, write: &SagaWrite) -> Result<()> {
        let (mut tx, _turn) = self.begin_write().await?;
        apply(&mut tx, write).await?;
        tx.commit().await.map_err(map_error)
    }

    async fn saga(&self, id: Uuid) -> Result<Option<SagaRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SAGA_COLUMNS} FROM mink_sagas WHERE id = ?"
        )))
        .bind(text(id))
        .fetch_optional(&self.store.readers)
        .await
        .map_err(map_error)?;
        row.as_ref().map(decode_saga).transpose()
    }

    async fn find(&self, saga_type: &str, key: &str, value: &str) -> Result<Option<SagaRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SAGA_COLUMNS} FROM mink_sagas WHERE id = (SELECT saga_id FROM \
             mink_saga_associations WHERE saga_type = ? AND key = ? AND value = ? AND active = 1)"
        )))
        .bind(saga_type)
        .bind(key)
        .bind(value)
        .fetch_optional(&self.store.readers)
        .await
        .map_err(map_error)?;
        row.as_ref().map(decode_saga).transpose()
    }

    async fn list(&self, query: &SagaQuery) -> Result<Vec<SagaRecord>> {
        let limit = if query.limit == 0 {
            -1
        } else {
            sql_i64(query.limit)
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SAGA_COLUMNS} FROM mink_sagas WHERE (?1 IS NULL OR saga_type = ?1) \
             AND (?2 IS NULL OR status = ?2) ORDER BY updated_at DESC, id DESC LIMIT ?3"
        )))
        .bind(query.saga_type.as_deref())
        .bind(query.status.map(|s| s.as_str()))
        .bind(limit)
        .fetch_all(&self.store.readers)
        .await
        .map_err(map_error)?;
        rows.iter().map(decode_saga).collect()
    }

    async fn associations(&self, saga_id: Uuid) -> Result<Vec<SagaAssociation>> {
        let rows = sqlx::query(
            "SELECT saga_type, key, value, saga_id, active FROM mink_saga_associations \
             WHERE saga_id = ? ORDER BY saga_type, key, value",
        )
        .bind(text(saga_id))
        .fetch_all(&self.store.readers)
        .await
        .map_err(map_error)?;
        rows.iter()
            .map(|row| {
                Ok(SagaAssociation {
                    saga_type: get(row, "saga_type")?,
                    key: get(row, "key")?,
                    value: get(row, "value")?,
                    saga_id: uuid_of(row, "saga_id")?,
                    active: get::<i64>(row, "active")? != 0,
                })
            })
            .collect()
    }

    async fn commands(&self, saga_id: Uuid) -> Result<Vec<SagaCommandRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COMMAND_COLUMNS} FROM mink_saga_commands WHERE saga_id = ? ORDER BY seq"
        )))
        .bind(text(saga_id))
        .fetch_all(&self.store.readers)
        .await
        .map_err(map_error)?;
        rows.iter().map(decode_command).collect()
    }

    async fn pending_commands(
        &self,
        saga_type: &str,
        limit: usize,
    ) -> Result<Vec<SagaCommandRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COMMAND_COLUMNS} FROM mink_saga_commands \
             WHERE saga_type = ? AND status = 'pending' ORDER BY saga_id, seq LIMIT ?"
        )))
        .bind(saga_type)
        .bind(sql_i64(limit))
        .fetch_all(&self.store.readers)
        .await
        .map_err(map_error)?;
        rows.iter().map(decode_command).collect()
    }

    async fn deadlines(&self, saga_id: Uuid) -> Result<Vec<SagaDeadline>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DEADLINE_COLUMNS} FROM mink_saga_deadlines WHERE saga_id = ? \
             ORDER BY due, name"
        )))
        .bind(text(saga_id))
        .fetch_all(&self.store.readers)
        .await
        .map_err(map_error)?;
        rows.iter().map(decode_deadline).collect()
    }

    async fn due_deadlines(
        &self,
        saga_type: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<SagaDeadline>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DEADLINE_COLUMNS} FROM mink_saga_deadlines WHERE saga_type = ? AND due <= ? \
             ORDER BY due, id LIMIT ?"
        )))
        .bind(saga_type)
        .bind(ms(now))
        .bind(sql_i64(limit))
        .fetch_all(&self.store.readers)
        .await
        .map_err(map_error)?;
        rows.iter().map(decode_deadline).collect()
    }

    async fn history(&self, saga_id: Uuid) -> Result<Vec<SagaHistoryEntry>> {
        let rows = sqlx::query(
            "SELECT saga_id, at, kind, detail FROM mink_saga_history WHERE saga_id = ? \
             ORDER BY seq",
        )
        .bind(text(saga_id))
        .fetch_all(&self.store.readers)
        .await
        .map_err(map_error)?;
        rows.iter()
            .map(|row| {
                Ok(SagaHistoryEntry {
                    saga_id: uuid_of(row, "saga_id")?,
                    at: time_of(row, "at")?,
                    kind: get(row, "kind")?,
                    detail: get(row, "detail")?,
                })
            })
            .collect()
    }

    fn idempotency(&self) -> Arc<dyn IdempotencyStore> {
        Arc::new(self.store.idempotency())
    }
}

/// A column, or a backend error naming it.
fn get<'r, T>(row: &'r SqliteRow, column: &'static str) -> Result<T>
where
    T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    row.try_get(column)
        .map_err(|e| Error::backend(format!("column `{column}` of a saga row: {e}")))
}

fn uuid_of(row: &SqliteRow, column: &'static str) -> Result<Uuid> {
    let text: String = get(row, column)?;
    Uuid::parse_str(&text)
        .map_err(|e| Error::backend(format!("column `{column}` of a saga row: {e}")))
}

fn time_of(row: &SqliteRow, column: &'static str) -> Result<DateTime<Utc>> {
    let ms: i64 = get(row, column)?;
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| Error::backend(format!("column `{column}` of a saga row: {ms} ms")))
}

fn u32_of(row: &SqliteRow, column: &'static str) -> Result<u32> {
    let n: i64 = get(row, column)?;
    u32::try_from(n).map_err(|_| Error::backend(format!("column `{column}` holds {n}")))
}

fn decode_saga(row: &SqliteRow) -> Result<SagaRecord> {
    Ok(SagaRecord {
        id: uuid_of(row, "id")?,
        saga_type: get(row, "saga_type")?,
        state: get(row, "state")?,
        status: get::<String>(row, "status")?.parse()?,
        version: stored_u64("version", get(row, "version")?)?,
        commands_issued: stored_u64("commands_issued", get(row, "commands_issued")?)?,
        created_at: time_of(row, "created_at")?,
        updated_at: time_of(row, "updated_at")?,
        last_error: get(row, "last_error")?,
    })
}

fn decode_command(row: &SqliteRow) -> Result<SagaCommandRecord> {
    let compensates: Option<String> = get(row, "compensates")?;
    Ok(SagaCommandRecord {
        message_id: uuid_of(row, "message_id")?,
        saga_id: uuid_of(row, "saga_id")?,
        saga_type: get(row, "saga_type")?,
        seq: stored_u64("seq", get(row, "seq")?)?,
        kind: get::<String>(row, "kind")?.parse()?,
        compensates: compensates
            .map(|c| Uuid::parse_str(&c))
            .transpose()
            .map_err(|e| Error::backend(format!("column `compensates` of a saga row: {e}")))?,
        name: get(row, "name")?,
        payload: get(row, "payload")?,
        aggregate_id: get(row, "aggregate_id")?,
        correlation_id: get(row, "correlation_id")?,
        causation_id: get(row, "causation_id")?,
        user_id: get(row, "user_id")?,
        tenant_id: get(row, "tenant_id")?,
        status: get::<String>(row, "status")?.parse()?,
        attempts: u32_of(row, "attempts")?,
        next_attempt_at: time_of(row, "next_attempt_at")?,
        last_error: get(row, "last_error")?,
        result: get(row, "result")?,
        created_at: time_of(row, "created_at")?,
    })
}

fn decode_deadline(row: &SqliteRow) -> Result<SagaDeadline> {
    Ok(SagaDeadline {
        id: uuid_of(row, "id")?,
        saga_id: uuid_of(row, "saga_id")?,
        saga_type: get(row, "saga_type")?,
        name: get(row, "name")?,
        due: time_of(row, "due")?,
        event_type: get(row, "event_type")?,
        schema_version: u32_of(row, "schema_version")?,
        payload: get(row, "payload")?,
    })
}
