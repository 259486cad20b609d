//! Saga records, associations, commands, deadlines and history of a
//! [`PostgresStore`](super::PostgresStore), in its schema (`<schema>.sagas`,
//! `saga_associations`, `saga_commands`, `saga_deadlines`, `saga_history`;
//! docs/adr/016-sagas.md).
//!
//! Writes in a checkpoint's transaction run on its connection, so the
//! sagas' state, what they emit and the cursor commit together. No column
//! holds a log position (only the cursor does), so a repair that
//! renumbers positions leaves these tables alone.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::{AssertSqlSafe, Postgres, Row};
use uuid::Uuid;

use super::append::map_error;
use super::{PostgresStore, PostgresTransaction};
use crate::error::{Error, Result};
use crate::store::rules::{sql_i64, stored_u64};
use crate::store::{
    IdempotencyStore, SagaAssociation, SagaCommandRecord, SagaDeadline, SagaHistoryEntry,
    SagaQuery, SagaRecord, SagaStore, SagaWrite, StoreTransaction, association_taken,
    saga_conflict,
};

const SAGA_COLUMNS: &str = "id, saga_type, state::text AS state, status, version, \
     commands_issued, created_at, updated_at, last_error";
const COMMAND_COLUMNS: &str = "message_id, saga_id, saga_type, seq, kind, compensates, name, \
     payload, aggregate_id, correlation_id, causation_id, user_id, tenant_id, status, attempts, \
     next_attempt_at, last_error, result, created_at";
const DEADLINE_COLUMNS: &str =
    "id, saga_id, saga_type, name, due, event_type, schema_version, payload";

/// The statements of the saga store, qualified with the store's schema.
#[derive(Debug)]
struct Statements {
    insert_saga: Arc<str>,
    update_saga: Arc<str>,
    release: Arc<str>,
    inactive_of: Arc<str>,
    reactivate: Arc<str>,
    associate: Arc<str>,
    cancel_deadline: Arc<str>,
    remove_deadline: Arc<str>,
    clear_deadlines: Arc<str>,
    schedule: Arc<str>,
    insert_command: Arc<str>,
    update_command: Arc<str>,
    insert_history: Arc<str>,
    saga: Arc<str>,
    find: Arc<str>,
    list: Arc<str>,
    associations: Arc<str>,
    commands: Arc<str>,
    pending: Arc<str>,
    deadlines: Arc<str>,
    due: Arc<str>,
    history: Arc<str>,
}

impl Statements {
    /// `schema` was checked by the store's builder (it needs no quoting).
    fn new(schema: &str) -> Statements {
        let s = format!("{schema}.sagas");
        let a = format!("{schema}.saga_associations");
        let c = format!("{schema}.saga_commands");
        let d = format!("{schema}.saga_deadlines");
        let h = format!("{schema}.saga_history");
        Statements {
            insert_saga: format!(
                "INSERT INTO {s} (id, saga_type, state, status, version, commands_issued, \
                 created_at, updated_at, last_error) \
                 VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING"
            )
            .into(),
            update_saga: format!(
                "UPDATE {s} SET state = $1::jsonb, status = $2, version = $3, \
                 commands_issued = $4, updated_at = $5, last_error = $6 \
                 WHERE id = $7 AND version = $8"
            )
            .into(),
            release: format!("UPDATE {a} SET active = false WHERE saga_id = $1").into(),
            inactive_of: format!(
                "SELECT saga_type, key, value FROM {a} WHERE saga_id = $1 AND NOT active"
            )
            .into(),
            reactivate: format!(
                "UPDATE {a} SET active = true \
                 WHERE saga_id = $1 AND saga_type = $2 AND key = $3 AND value = $4"
            )
            .into(),
            associate: format!(
                "INSERT INTO {a} (saga_type, key, value, saga_id, active) \
                 VALUES ($1, $2, $3, $4, true) ON CONFLICT (saga_id, saga_type, key, value) \
                 DO UPDATE SET active = true"
            )
            .into(),
            cancel_deadline: format!("DELETE FROM {d} WHERE saga_id = $1 AND name = $2").into(),
            remove_deadline: format!("DELETE FROM {d} WHERE id = $1").into(),
            clear_deadlines: format!("DELETE FROM {d} WHERE saga_id = $1").into(),
            schedule: format!(
                "INSERT INTO {d} (id, saga_id, saga_type, name, due, event_type, schema_version, \
                 payload) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (saga_id, name) DO UPDATE SET id = excluded.id, due = excluded.due, \
                 event_type = excluded.event_type, schema_version = excluded.schema_version, \
                 payload = excluded.payload"
            )
            .into(),
            insert_command: format!(
                "INSERT INTO {c} ({COMMAND_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
                 $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) \
                 ON CONFLICT (message_id) DO NOTHING"
            )
            .into(),
            update_command: format!(
                "UPDATE {c} SET status = $1, attempts = $2, next_attempt_at = $3, \
                 last_error = $4, result = $5 WHERE message_id = $6"
            )
            .into(),
            insert_history: format!(
                "INSERT INTO {h} (saga_id, at, kind, detail) VALUES ($1, $2, $3, $4)"
            )
            .into(),
            saga: format!("SELECT {SAGA_COLUMNS} FROM {s} WHERE id = $1").into(),
            find: format!(
                "SELECT {SAGA_COLUMNS} FROM {s} WHERE id = (SELECT saga_id FROM {a} \
                 WHERE saga_type = $1 AND key = $2 AND value = $3 AND active)"
            )
            .into(),
            list: format!(
                "SELECT {SAGA_COLUMNS} FROM {s} WHERE ($1::text IS NULL OR saga_type = $1) \
                 AND ($2::text IS NULL OR status = $2) ORDER BY updated_at DESC, id DESC \
                 LIMIT $3"
            )
            .into(),
            associations: format!(
                "SELECT saga_type, key, value, saga_id, active FROM {a} WHERE saga_id = $1 \
                 ORDER BY saga_type, key, value"
            )
            .into(),
            commands: format!("SELECT {COMMAND_COLUMNS} FROM {c} WHERE saga_id = $1 ORDER BY seq")
                .into(),
            pending: format!(
                "SELECT {COMMAND_COLUMNS} FROM {c} WHERE saga_type = $1 AND status = 'pending' \
                 ORDER BY saga_id, seq LIMIT $2"
            )
            .into(),
            deadlines: format!(
                "SELECT {DEADLINE_COLUMNS} FROM {d} WHERE saga_id = $1 ORDER BY due, name"
            )
            .into(),
            due: format!(
                "SELECT {DEADLINE_COLUMNS} FROM {d} WHERE saga_type = $1 AND due <= $2 \
                 ORDER BY due, id LIMIT $3"
            )
            .into(),
            history: format!(
                "SELECT saga_id, at, kind, detail FROM {h} WHERE saga_id = $1 ORDER BY seq"
            )
            .into(),
        }
    }
}

/// The saga records of a PostgreSQL store, from [`PostgresStore::sagas`].
#[derive(Debug, Clone)]
pub struct PostgresSagaStore {
    store: PostgresStore,
    statements: Arc<Statements>,
}

impl PostgresSagaStore {
    pub(super) fn new(store: PostgresStore) -> Self {
        let statements = Arc::new(Statements::new(store.schema()));
        PostgresSagaStore { store, statements }
    }
}

fn query(
    statement: &Arc<str>,
) -> sqlx::query::Query<'static, Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(AssertSqlSafe(Arc::clone(statement)))
}

/// Text PostgreSQL accepts: no NUL characters.
fn storable(text: &str) -> String {
    text.replace('\0', "\u{fffd}")
}

fn association_error(e: sqlx::Error, association: &SagaAssociation) -> Error {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => association_taken(association),
        _ => map_error(e),
    }
}

async fn apply(st: &Statements, conn: &mut PgConnection, write: &SagaWrite) -> Result<()> {
    for upsert in &write.sagas {
        let r = &upsert.record;
        let state = String::from_utf8_lossy(&r.state).into_owned();
        let last_error = r.last_error.as_deref().map(storable);
        let done = match upsert.expected {
            None => query(&st.insert_saga)
                .bind(r.id)
                .bind(&r.saga_type)
                .bind(state)
                .bind(r.status.as_str())
                .bind(sql_i64(r.version))
                .bind(sql_i64(r.commands_issued))
                .bind(r.created_at)
                .bind(r.updated_at)
                .bind(last_error)
                .execute(&mut *conn)
                .await
                .map_err(map_error)?,
            Some(expected) => query(&st.update_saga)
                .bind(state)
                .bind(r.status.as_str())
                .bind(sql_i64(r.version))
                .bind(sql_i64(r.commands_issued))
                .bind(r.updated_at)
                .bind(last_error)
                .bind(r.id)
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
        query(&st.release)
            .bind(*id)
            .execute(&mut *conn)
            .await
            .map_err(map_error)?;
    }
    for id in &write.reactivate {
        let rows = query(&st.inactive_of)
            .bind(*id)
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
            query(&st.reactivate)
                .bind(*id)
                .bind(&association.saga_type)
                .bind(&association.key)
                .bind(&association.value)
                .execute(&mut *conn)
                .await
                .map_err(|e| association_error(e, &association))?;
        }
    }
    for a in &write.associate {
        query(&st.associate)
            .bind(&a.saga_type)
            .bind(storable(&a.key))
            .bind(storable(&a.value))
            .bind(a.saga_id)
            .execute(&mut *conn)
            .await
            .map_err(|e| association_error(e, a))?;
    }
    for (saga, name) in &write.cancel_deadlines {
        query(&st.cancel_deadline)
            .bind(*saga)
            .bind(storable(name))
            .execute(&mut *conn)
            .await
            .map_err(map_error)?;
    }
    for id in &write.remove_deadlines {
        query(&st.remove_deadline)
            .bind(*id)
            .execute(&mut *conn)
            .await
            .map_err(map_error)?;
    }
    for saga in &write.clear_deadlines {
        query(&st.clear_deadlines)
            .bind(*saga)
            .execute(&mut *conn)
            .await
            .map_err(map_error)?;
    }
    for d in &write.deadlines {
        query(&st.schedule)
            .bind(d.id)
            .bind(d.saga_id)
            .bind(&d.saga_type)
            .bind(storable(&d.name))
            .bind(d.due)
            .bind(&d.event_type)
            .bind(i64::from(d.schema_version))
            .bind(d.payload.as_slice())
            .execute(&mut *conn)
            .await
            .map_err(map_error)?;
    }
    for c in &write.commands {
        query(&st.insert_command)
            .bind(c.message_id)
            .bind(c.saga_id)
            .bind(&c.saga_type)
            .bind(sql_i64(c.seq))
            .bind(c.kind.as_str())
            .bind(c.compensates)
            .bind(&c.name)
            .bind(c.payload.as_slice())
            .bind(c.aggregate_id.as_deref().map(storable))
            .bind(c.correlation_id.as_deref().map(storable))
            .bind(c.causation_id.as_deref().map(storable))
            .bind(c.user_id.as_deref().map(storable))
            .bind(c.tenant_id.as_deref().map(storable))
            .bind(c.status.as_str())
            .bind(i64::from(c.attempts))
            .bind(c.next_attempt_at)
            .bind(c.last_error.as_deref().map(storable))
            .bind(c.result.as_deref().map(storable))
            .bind(c.created_at)
            .execute(&mut *conn)
            .await
            .map_err(map_error)?;
    }
    for u in &write.command_updates {
        query(&st.update_command)
            .bind(u.status.as_str())
            .bind(i64::from(u.attempts))
            .bind(u.next_attempt_at)
            .bind(u.last_error.as_deref().map(storable))
            .bind(u.result.as_deref().map(storable))
            .bind(u.message_id)
            .execute(&mut *conn)
            .await
            .map_err(map_error)?;
    }
    for h in &write.history {
        query(&st.insert_history)
            .bind(h.saga_id)
            .bind(h.at)
            .bind(storable(&h.kind))
            .bind(storable(&h.detail))
            .execute(&mut *conn)
            .await
            .map_err(map_error)?;
    }
    Ok(())
}

#[async_trait]
impl SagaStore for PostgresSagaStore {
    async fn write_in(&self, tx: &mut dyn StoreTransaction, write: &SagaWrite) -> Result<()> {
        let backend = tx.backend();
        let Some(tx) = tx.downcast_mut::<PostgresTransaction>() else {
            return Err(Error::backend(format!(
                "a PostgreSQL saga store cannot write in a {backend} transaction"
            )));
        };
        let Some(conn) = tx.connection_of(&self.store.statements) else {
            return Err(Error::backend(
                "the transaction belongs to another PostgreSQL store than this saga store",
            ));
        };
        apply(&self.statements, conn, write).await
    }

    async fn write(&self, write: &SagaWrite) -> Result<()> {
        let mut tx = self.store.pool.begin().await.map_err(map_error)?;
        apply(&self.statements, &mut tx, write).await?;
        tx.commit().await.map_err(map_error)
    }

    async fn saga(&self, id: Uuid) -> Result<Option<SagaRecord>> {
        let row = query(&self.statements.saga)
            .bind(id)
            .fetch_optional(&self.store.pool)
            .await
            .map_err(map_error)?;
        row.as_ref().map(decode_saga).transpose()
    }

    async fn find(&self, saga_type: &str, key: &str, value: &str) -> Result<Option<SagaRecord>> {
        let row = query(&self.statements.find)
            .bind(saga_type)
            .bind(storable(key))
            .bind(storable(value))
            .fetch_optional(&self.store.pool)
            .await
            .map_err(map_error)?;
        row.as_ref().map(decode_saga).transpose()
    }

    async fn list(&self, query_: &SagaQuery) -> Result<Vec<SagaRecord>> {
        let limit = if query_.limit == 0 {
            None
        } else {
            Some(sql_i64(query_.limit))
        };
        let rows = query(&self.statements.list)
            .bind(query_.saga_type.as_deref())
            .bind(query_.status.map(|s| s.as_str()))
            .bind(limit)
            .fetch_all(&self.store.pool)
            .await
            .map_err(map_error)?;
        rows.iter().map(decode_saga).collect()
    }

    async fn associations(&self, saga_id: Uuid) -> Result<Vec<SagaAssociation>> {
        let rows = query(&self.statements.associations)
            .bind(saga_id)
            .fetch_all(&self.store.pool)
            .await
            .map_err(map_error)?;
        rows.iter()
            .map(|row| {
                Ok(SagaAssociation {
                    saga_type: get(row, "saga_type")?,
                    key: get(row, "key")?,
                    value: get(row, "value")?,
                    saga_id: get(row, "saga_id")?,
                    active: get(row, "active")?,
                })
            })
            .collect()
    }

    async fn commands(&self, saga_id: Uuid) -> Result<Vec<SagaCommandRecord>> {
        let rows = query(&self.statements.commands)
            .bind(saga_id)
            .fetch_all(&self.store.pool)
            .await
            .map_err(map_error)?;
        rows.iter().map(decode_command).collect()
    }

    async fn pending_commands(
        &self,
        saga_type: &str,
        limit: usize,
    ) -> Result<Vec<SagaCommandRecord>> {
        let rows = query(&self.statements.pending)
            .bind(saga_type)
            .bind(sql_i64(limit))
            .fetch_all(&self.store.pool)
            .await
            .map_err(map_error)?;
        rows.iter().map(decode_command).collect()
    }

    async fn deadlines(&self, saga_id: Uuid) -> Result<Vec<SagaDeadline>> {
        let rows = query(&self.statements.deadlines)
            .bind(saga_id)
            .fetch_all(&self.store.pool)
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
        let rows = query(&self.statements.due)
            .bind(saga_type)
            .bind(now)
            .bind(sql_i64(limit))
            .fetch_all(&self.store.pool)
            .await
            .map_err(map_error)?;
        rows.iter().map(decode_deadline).collect()
    }

    async fn history(&self, saga_id: Uuid) -> Result<Vec<SagaHistoryEntry>> {
        let rows = query(&self.statements.history)
            .bind(saga_id)
            .fetch_all(&self.store.pool)
            .await
            .map_err(map_error)?;
        rows.iter()
            .map(|row| {
                Ok(SagaHistoryEntry {
                    saga_id: get(row, "saga_id")?,
                    at: get(row, "at")?,
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
fn get<'r, T>(row: &'r PgRow, column: &'static str) -> Result<T>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    row.try_get(column)
        .map_err(|e| Error::backend(format!("column `{column}` of a saga row: {e}")))
}

fn u32_of(row: &PgRow, column: &'static str) -> Result<u32> {
    let n: i64 = get(row, column)?;
    u32::try_from(n).map_err(|_| Error::backend(format!("column `{column}` holds {n}")))
}

fn decode_saga(row: &PgRow) -> Result<SagaRecord> {
    let state: String = get(row, "state")?;
    Ok(SagaRecord {
        id: get(row, "id")?,
        saga_type: get(row, "saga_type")?,
        state: state.into_bytes(),
        status: get::<String>(row, "status")?.parse()?,
        version: stored_u64("version", get(row, "version")?)?,
        commands_issued: stored_u64("commands_issued", get(row, "commands_issued")?)?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
        last_error: get(row, "last_error")?,
    })
}

fn decode_command(row: &PgRow) -> Result<SagaCommandRecord> {
    Ok(SagaCommandRecord {
        message_id: get(row, "message_id")?,
        saga_id: get(row, "saga_id")?,
        saga_type: get(row, "saga_type")?,
        seq: stored_u64("seq", get(row, "seq")?)?,
        kind: get::<String>(row, "kind")?.parse()?,
        compensates: get(row, "compensates")?,
        name: get(row, "name")?,
        payload: get(row, "payload")?,
        aggregate_id: get(row, "aggregate_id")?,
        correlation_id: get(row, "correlation_id")?,
        causation_id: get(row, "causation_id")?,
        user_id: get(row, "user_id")?,
        tenant_id: get(row, "tenant_id")?,
        status: get::<String>(row, "status")?.parse()?,
        attempts: u32_of(row, "attempts")?,
        next_attempt_at: get(row, "next_attempt_at")?,
        last_error: get(row, "last_error")?,
        result: get(row, "result")?,
        created_at: get(row, "created_at")?,
    })
}

fn decode_deadline(row: &PgRow) -> Result<SagaDeadline> {
    Ok(SagaDeadline {
        id: get(row, "id")?,
        saga_id: get(row, "saga_id")?,
        saga_type: get(row, "saga_type")?,
        name: get(row, "name")?,
        due: get(row, "due")?,
        event_type: get(row, "event_type")?,
        schema_version: u32_of(row, "schema_version")?,
        payload: get(row, "payload")?,
    })
}
