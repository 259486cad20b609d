//! Read models in a [`PostgresStore`]'s schema: one plain table per model
//! beside the events, written on the store's pool or in a
//! [`PostgresTransaction`] (an append's, or a projection batch's).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::{PgArguments, PgConnection, PgRow};
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, Postgres, Row as _};

use super::append::map_error;
use super::{PostgresStore, PostgresTransaction};
use crate::read_model::sql::{Dialect, Param, Sql, Statement, quote};
use crate::read_model::{
    ColumnKind, ModelSchema, Predicate, ReadModelError, ReadModelStore, Row, Select,
    format_timestamp,
};
use crate::store::StoreTransaction;

/// Read-model tables in a [`PostgresStore`]'s schema, from
/// [`PostgresStore::read_models`]. `psql -c 'select * from
/// mink.order_summaries'` shows them.
#[derive(Debug, Clone)]
pub struct PostgresReadModels {
    store: PostgresStore,
}

impl PostgresStore {
    /// The read models kept in this store's schema: bind their
    /// repositories to this store's transactions so their writes commit
    /// with the events or the checkpoint.
    pub fn read_models(&self) -> PostgresReadModels {
        PostgresReadModels {
            store: self.clone(),
        }
    }
}

type Query<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

fn bind_value<'q>(q: Query<'q>, kind: ColumnKind, value: &Value) -> Query<'q> {
    let null = value.is_null();
    match kind {
        ColumnKind::Text => q.bind((!null).then(|| match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })),
        ColumnKind::Integer => q.bind(value.as_i64()),
        ColumnKind::Real => q.bind(value.as_f64()),
        ColumnKind::Bool => q.bind(value.as_bool()),
        ColumnKind::Timestamp => q.bind(
            value
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc)),
        ),
        ColumnKind::Json => q.bind((!null).then(|| Json(value.clone()))),
    }
}

fn bind_params<'q>(mut q: Query<'q>, params: &[Param]) -> Query<'q> {
    for p in params {
        q = match p {
            Param::Value(kind, v) => bind_value(q, *kind, v),
            Param::Text(t) => q.bind(t.clone()),
            Param::Integer(i) => q.bind(*i),
        };
    }
    q
}

fn decode_row(schema: &ModelSchema, row: &PgRow) -> Result<Row, ReadModelError> {
    schema
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let v = match c.kind {
                ColumnKind::Text => row
                    .try_get::<Option<String>, _>(i)
                    .map(|v| v.map_or(Value::Null, Value::String)),
                ColumnKind::Integer => row
                    .try_get::<Option<i64>, _>(i)
                    .map(|v| v.map_or(Value::Null, Value::from)),
                ColumnKind::Real => row
                    .try_get::<Option<f64>, _>(i)
                    .map(|v| v.map_or(Value::Null, Value::from)),
                ColumnKind::Bool => row
                    .try_get::<Option<bool>, _>(i)
                    .map(|v| v.map_or(Value::Null, Value::Bool)),
                ColumnKind::Timestamp => row
                    .try_get::<Option<DateTime<Utc>>, _>(i)
                    .map(|v| v.map_or(Value::Null, |t| Value::String(format_timestamp(t)))),
                ColumnKind::Json => row
                    .try_get::<Option<Json<Value>>, _>(i)
                    .map(|v| v.map_or(Value::Null, |j| j.0)),
            };
            v.map_err(|e| ReadModelError::Decode {
                table: schema.table,
                column: c.name.to_owned(),
                reason: e.to_string(),
            })
        })
        .collect()
}

/// Maps a failed write: the primary key's constraint is `<table>_pkey`,
/// a unique field's index `<table>_<field>_key`.
fn write_error(schema: &'static ModelSchema, row: &Row, err: sqlx::Error) -> ReadModelError {
    if let sqlx::Error::Database(db) = &err
        && db.is_unique_violation()
    {
        let constraint = db.constraint().unwrap_or_default();
        if constraint == format!("{}_pkey", schema.table) {
            return ReadModelError::AlreadyExists {
                table: schema.table,
                id: row[schema.id].to_string(),
            };
        }
        let column = constraint
            .strip_prefix(schema.table)
            .and_then(|c| c.strip_prefix('_'))
            .and_then(|c| c.strip_suffix("_key"))
            .unwrap_or(constraint)
            .to_owned();
        return ReadModelError::UniqueViolation {
            table: schema.table,
            column,
        };
    }
    store_error(schema, err)
}

fn store_error(schema: &'static ModelSchema, err: sqlx::Error) -> ReadModelError {
    ReadModelError::Store {
        table: schema.table,
        source: map_error(err),
    }
}

impl PostgresReadModels {
    fn sql<'s>(&self, schema: &'s ModelSchema) -> Sql<'s> {
        Sql::new(
            Dialect::Postgres,
            schema,
            format!("{}.{}", quote(self.store.schema()), quote(schema.table)),
        )
    }

    fn meta_table(&self) -> String {
        format!("{}.mink_read_models", quote(self.store.schema()))
    }

    /// The transaction's connection, when it is this store's.
    fn connection<'t>(
        &self,
        schema: &'static ModelSchema,
        tx: &'t mut dyn StoreTransaction,
    ) -> Result<&'t mut PgConnection, ReadModelError> {
        let found = tx.backend();
        tx.downcast_mut::<PostgresTransaction>()
            .and_then(|tx| tx.connection_of(&self.store.statements))
            .ok_or(ReadModelError::ForeignTransaction {
                table: schema.table,
                expected: "postgres",
                found,
            })
    }

    async fn fetch(
        conn: &mut PgConnection,
        schema: &'static ModelSchema,
        st: Statement,
    ) -> Result<Vec<Row>, ReadModelError> {
        let rows = bind_params(sqlx::query(AssertSqlSafe(st.sql)), &st.params)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| store_error(schema, e))?;
        rows.iter().map(|r| decode_row(schema, r)).collect()
    }

    async fn write_row(
        conn: &mut PgConnection,
        schema: &'static ModelSchema,
        sql_text: String,
        row: &Row,
    ) -> Result<(), ReadModelError> {
        let mut q = sqlx::query(AssertSqlSafe(sql_text));
        for (v, c) in row.iter().zip(&schema.columns) {
            q = bind_value(q, c.kind, v);
        }
        q.execute(&mut *conn)
            .await
            .map_err(|e| write_error(schema, row, e))?;
        Ok(())
    }

    async fn update_in(
        &self,
        conn: &mut PgConnection,
        schema: &'static ModelSchema,
        id: Value,
        change: &mut (dyn FnMut(Row) -> Result<Row, ReadModelError> + Send),
    ) -> Result<Option<Row>, ReadModelError> {
        let select = Select {
            predicate: Predicate::id_is(schema, id.clone()),
            order: Vec::new(),
            limit: Some(1),
            offset: 0,
        };
        let st = self.sql(schema).select(&select, true);
        let Some(row) = Self::fetch(conn, schema, st).await?.into_iter().next() else {
            return Ok(None);
        };
        let row = change(row)?;
        let mut q = sqlx::query(AssertSqlSafe(self.sql(schema).update()));
        for (i, (v, c)) in row.iter().zip(&schema.columns).enumerate() {
            if i != schema.id {
                q = bind_value(q, c.kind, v);
            }
        }
        q = bind_value(q, schema.id_column().kind, &id);
        q.execute(&mut *conn)
            .await
            .map_err(|e| write_error(schema, &row, e))?;
        Ok(Some(row))
    }

    async fn acquire(
        &self,
        schema: &'static ModelSchema,
    ) -> Result<sqlx::pool::PoolConnection<Postgres>, ReadModelError> {
        self.store
            .pool
            .acquire()
            .await
            .map_err(|e| store_error(schema, e))
    }
}

#[async_trait]
impl ReadModelStore for PostgresReadModels {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn prepare(
        &self,
        schema: &'static ModelSchema,
        recreate: bool,
    ) -> Result<i64, ReadModelError> {
        let err = |e| store_error(schema, e);
        let sql = self.sql(schema);
        let meta = self.meta_table();
        let mut tx = self.store.pool.begin().await.map_err(err)?;
        // One preparer at a time in this database: DDL of concurrent
        // `IF NOT EXISTS` statements can otherwise collide.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('mink_read_models'))")
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        sqlx::query(AssertSqlSafe(format!(
            "CREATE TABLE IF NOT EXISTS {meta} (table_name text PRIMARY KEY, model text NOT NULL, \
             version bigint NOT NULL, columns jsonb NOT NULL, \
             updated_at timestamptz NOT NULL DEFAULT now())"
        )))
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        if recreate {
            sqlx::query(AssertSqlSafe(format!(
                "DROP TABLE IF EXISTS {}.{}",
                quote(self.store.schema()),
                quote(schema.table)
            )))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
            sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {meta} WHERE table_name = $1"
            )))
            .bind(schema.table)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        let stored: Option<(i64, String)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT version, columns::text FROM {meta} WHERE table_name = $1"
        )))
        .bind(schema.table)
        .fetch_optional(&mut *tx)
        .await
        .map_err(err)?;
        let version = match stored {
            None => {
                sqlx::query(AssertSqlSafe(sql.create_table()))
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO {meta} (table_name, model, version, columns) \
                     VALUES ($1, $2, 1, $3::jsonb)"
                )))
                .bind(schema.table)
                .bind(schema.model)
                .bind(schema.stored_columns_json())
                .execute(&mut *tx)
                .await
                .map_err(err)?;
                1
            }
            Some((version, columns)) => {
                let added = schema.migration_from(version, &columns)?;
                for column in &added {
                    sqlx::query(AssertSqlSafe(sql.add_column(column)))
                        .execute(&mut *tx)
                        .await
                        .map_err(err)?;
                }
                let version = version + i64::from(!added.is_empty());
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {meta} SET version = $2, model = $3, columns = $4::jsonb, \
                     updated_at = now() WHERE table_name = $1 AND columns <> $4::jsonb"
                )))
                .bind(schema.table)
                .bind(version)
                .bind(schema.model)
                .bind(schema.stored_columns_json())
                .execute(&mut *tx)
                .await
                .map_err(err)?;
                version
            }
        };
        for index in sql.create_indexes() {
            sqlx::query(AssertSqlSafe(index))
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        tx.commit().await.map_err(err)?;
        Ok(version)
    }

    async fn select(
        &self,
        tx: Option<&mut dyn StoreTransaction>,
        schema: &'static ModelSchema,
        select: &Select,
    ) -> Result<Vec<Row>, ReadModelError> {
        let st = self.sql(schema).select(select, false);
        match tx {
            Some(tx) => Self::fetch(self.connection(schema, tx)?, schema, st).await,
            None => Self::fetch(&mut *self.acquire(schema).await?, schema, st).await,
        }
    }

    async fn count(
        &self,
        tx: Option<&mut dyn StoreTransaction>,
        schema: &'static ModelSchema,
        predicate: &Predicate,
    ) -> Result<u64, ReadModelError> {
        let st = self.sql(schema).count(predicate);
        let q = bind_params(sqlx::query(AssertSqlSafe(st.sql)), &st.params);
        let row = match tx {
            Some(tx) => q.fetch_one(self.connection(schema, tx)?).await,
            None => q.fetch_one(&self.store.pool).await,
        }
        .map_err(|e| store_error(schema, e))?;
        let n: i64 = row.try_get(0).map_err(|e| store_error(schema, e))?;
        Ok(u64::try_from(n).unwrap_or_default())
    }

    async fn insert(
        &self,
        tx: Option<&mut dyn StoreTransaction>,
        schema: &'static ModelSchema,
        row: Row,
    ) -> Result<(), ReadModelError> {
        let text = self.sql(schema).insert(false);
        match tx {
            Some(tx) => Self::write_row(self.connection(schema, tx)?, schema, text, &row).await,
            None => Self::write_row(&mut *self.acquire(schema).await?, schema, text, &row).await,
        }
    }

    async fn upsert(
        &self,
        tx: Option<&mut dyn StoreTransaction>,
        schema: &'static ModelSchema,
        row: Row,
    ) -> Result<(), ReadModelError> {
        let text = self.sql(schema).insert(true);
        match tx {
            Some(tx) => Self::write_row(self.connection(schema, tx)?, schema, text, &row).await,
            None => Self::write_row(&mut *self.acquire(schema).await?, schema, text, &row).await,
        }
    }

    async fn update(
        &self,
        tx: Option<&mut dyn StoreTransaction>,
        schema: &'static ModelSchema,
        id: Value,
        change: &mut (dyn FnMut(Row) -> Result<Row, ReadModelError> + Send),
    ) -> Result<Option<Row>, ReadModelError> {
        match tx {
            Some(tx) => {
                self.update_in(self.connection(schema, tx)?, schema, id, change)
                    .await
            }
            None => {
                let mut own = self
                    .store
                    .pool
                    .begin()
                    .await
                    .map_err(|e| store_error(schema, e))?;
                let row = self.update_in(&mut own, schema, id, change).await?;
                own.commit().await.map_err(|e| store_error(schema, e))?;
                Ok(row)
            }
        }
    }

    async fn delete(
        &self,
        tx: Option<&mut dyn StoreTransaction>,
        schema: &'static ModelSchema,
        predicate: &Predicate,
    ) -> Result<u64, ReadModelError> {
        let st = self.sql(schema).delete(predicate);
        let q = bind_params(sqlx::query(AssertSqlSafe(st.sql)), &st.params);
        let done = match tx {
            Some(tx) => q.execute(self.connection(schema, tx)?).await,
            None => q.execute(&self.store.pool).await,
        }
        .map_err(|e| store_error(schema, e))?;
        Ok(done.rows_affected())
    }
}
