//! Read models in a [`SqliteStore`]'s file: one plain table per model,
//! beside the events, written through the store's writer connection or in
//! an append's [`SqliteTransaction`].

use async_trait::async_trait;
use serde_json::Value;
use sqlx::sqlite::{SqliteArguments, SqliteConnection, SqliteRow};
use sqlx::{AssertSqlSafe, Row as _, Sqlite};

use super::errors::map_error;
use super::{SqliteStore, SqliteTransaction};
use crate::read_model::sql::{Dialect, Param, Sql, Statement, quote};
use crate::read_model::{
    ColumnKind, ModelSchema, Predicate, ReadModelError, ReadModelStore, Row, Select,
};
use crate::store::StoreTransaction;

/// The table recording each read model's schema version and columns.
const META_TABLE: &str = "mink_read_models";

/// Read-model tables in a [`SqliteStore`]'s file, from
/// [`SqliteStore::read_models`]. `sqlite3 app.db 'select * from
/// order_summaries'` shows them.
#[derive(Debug, Clone)]
pub struct SqliteReadModels {
    store: SqliteStore,
}

impl SqliteStore {
    /// The read models kept in this store's file: bind their repositories
    /// to this store's transactions so their writes commit with the events.
    pub fn read_models(&self) -> SqliteReadModels {
        SqliteReadModels {
            store: self.clone(),
        }
    }
}

type Query<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments>;

fn sql(schema: &ModelSchema) -> Sql<'_> {
    Sql::new(Dialect::Sqlite, schema, quote(schema.table))
}

fn bind_value<'q>(q: Query<'q>, kind: ColumnKind, value: &Value) -> Query<'q> {
    if value.is_null() {
        return q.bind(None::<String>);
    }
    match kind {
        ColumnKind::Text | ColumnKind::Timestamp => q.bind(match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
        ColumnKind::Integer => q.bind(value.as_i64()),
        ColumnKind::Real => q.bind(value.as_f64()),
        ColumnKind::Bool => q.bind(i64::from(value.as_bool().unwrap_or_default())),
        ColumnKind::Json => q.bind(value.to_string()),
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

fn decode_row(schema: &ModelSchema, row: &SqliteRow) -> Result<Row, ReadModelError> {
    let bad = |i: usize, e: String| ReadModelError::Decode {
        table: schema.table,
        column: schema.columns[i].name.to_owned(),
        reason: e,
    };
    schema
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let v = match c.kind {
                ColumnKind::Text | ColumnKind::Timestamp => row
                    .try_get::<Option<String>, _>(i)
                    .map(|v| v.map_or(Value::Null, Value::String)),
                ColumnKind::Integer => row
                    .try_get::<Option<i64>, _>(i)
                    .map(|v| v.map_or(Value::Null, Value::from)),
                ColumnKind::Real => row
                    .try_get::<Option<f64>, _>(i)
                    .map(|v| v.map_or(Value::Null, Value::from)),
                ColumnKind::Bool => row
                    .try_get::<Option<i64>, _>(i)
                    .map(|v| v.map_or(Value::Null, |b| Value::Bool(b != 0))),
                ColumnKind::Json => {
                    let text = row
                        .try_get::<Option<String>, _>(i)
                        .map_err(|e| bad(i, e.to_string()))?;
                    return match text {
                        None => Ok(Value::Null),
                        Some(t) => serde_json::from_str(&t).map_err(|e| bad(i, e.to_string())),
                    };
                }
            };
            v.map_err(|e| bad(i, e.to_string()))
        })
        .collect()
}

/// Maps a failed write: a unique index names its column in the message
/// (`UNIQUE constraint failed: table.column`).
fn write_error(schema: &'static ModelSchema, row: &Row, err: sqlx::Error) -> ReadModelError {
    if let sqlx::Error::Database(db) = &err
        && db.is_unique_violation()
    {
        let message = db.message();
        let column = message
            .rsplit_once('.')
            .map_or(message, |(_, c)| c)
            .to_owned();
        if column == schema.id_column().name {
            return ReadModelError::AlreadyExists {
                table: schema.table,
                id: row[schema.id].to_string(),
            };
        }
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

impl SqliteReadModels {
    /// The transaction's connection, when it is this store's.
    fn connection<'t>(
        &self,
        schema: &'static ModelSchema,
        tx: &'t mut dyn StoreTransaction,
    ) -> Result<&'t mut SqliteConnection, ReadModelError> {
        let found = tx.backend();
        match tx.downcast_mut::<SqliteTransaction>() {
            Some(tx) if tx.is_of(&self.store.write_turn) => Ok(tx.connection()),
            _ => Err(ReadModelError::ForeignTransaction {
                table: schema.table,
                expected: "sqlite",
                found,
            }),
        }
    }

    async fn fetch(
        conn: &mut SqliteConnection,
        schema: &'static ModelSchema,
        st: &Statement,
    ) -> Result<Vec<Row>, ReadModelError> {
        let rows = bind_params(sqlx::query(AssertSqlSafe(st.sql.clone())), &st.params)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| store_error(schema, e))?;
        rows.iter().map(|r| decode_row(schema, r)).collect()
    }

    /// Inserts `row` (or upserts it, on `upsert`), in `tx` or on the
    /// writer connection.
    async fn put(
        &self,
        tx: Option<&mut dyn StoreTransaction>,
        schema: &'static ModelSchema,
        row: Row,
        upsert: bool,
    ) -> Result<(), ReadModelError> {
        let text = sql(schema).insert(upsert);
        match tx {
            Some(tx) => Self::write_row(self.connection(schema, tx)?, schema, text, &row).await,
            None => {
                let mut conn = self
                    .store
                    .writer
                    .acquire()
                    .await
                    .map_err(|e| store_error(schema, e))?;
                Self::write_row(&mut conn, schema, text, &row).await
            }
        }
        .map(drop)
    }

    async fn write_row(
        conn: &mut SqliteConnection,
        schema: &'static ModelSchema,
        sql_text: String,
        row: &Row,
    ) -> Result<u64, ReadModelError> {
        let mut q = sqlx::query(AssertSqlSafe(sql_text));
        for (v, c) in row.iter().zip(&schema.columns) {
            q = bind_value(q, c.kind, v);
        }
        match q.execute(&mut *conn).await {
            Ok(done) => Ok(done.rows_affected()),
            Err(e) => {
                let err = write_error(schema, row, e);
                // SQLite may name a unique field before the id when both
                // repeat; a taken id is what the caller must hear about.
                if matches!(err, ReadModelError::UniqueViolation { .. })
                    && Self::id_exists(conn, schema, &row[schema.id]).await?
                {
                    return Err(ReadModelError::AlreadyExists {
                        table: schema.table,
                        id: row[schema.id].to_string(),
                    });
                }
                Err(err)
            }
        }
    }

    async fn id_exists(
        conn: &mut SqliteConnection,
        schema: &'static ModelSchema,
        id: &Value,
    ) -> Result<bool, ReadModelError> {
        let select = Select {
            predicate: Predicate::id_is(schema, id.clone()),
            order: Vec::new(),
            limit: Some(1),
            offset: 0,
        };
        let st = sql(schema).select(&select, false);
        Ok(!Self::fetch(conn, schema, &st).await?.is_empty())
    }

    async fn update_in(
        conn: &mut SqliteConnection,
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
        let st = sql(schema).select(&select, false);
        let Some(row) = Self::fetch(conn, schema, &st).await?.into_iter().next() else {
            return Ok(None);
        };
        let row = change(row)?;
        let mut q = sqlx::query(AssertSqlSafe(sql(schema).update()));
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
}

#[async_trait]
impl ReadModelStore for SqliteReadModels {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn prepare(
        &self,
        schema: &'static ModelSchema,
        recreate: bool,
    ) -> Result<i64, ReadModelError> {
        let err = |e| store_error(schema, e);
        let sql = sql(schema);
        let _turn = self.store.write_turn.lock().await;
        let mut tx = self
            .store
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(err)?;
        sqlx::query(AssertSqlSafe(format!(
            "CREATE TABLE IF NOT EXISTS {META_TABLE} (table_name TEXT NOT NULL PRIMARY KEY, \
             model TEXT NOT NULL, version INTEGER NOT NULL, columns TEXT NOT NULL, \
             updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))) STRICT"
        )))
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        if recreate {
            sqlx::query(AssertSqlSafe(format!(
                "DROP TABLE IF EXISTS {}",
                quote(schema.table)
            )))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
            sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {META_TABLE} WHERE table_name = ?1"
            )))
            .bind(schema.table)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        let stored: Option<(i64, String)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT version, columns FROM {META_TABLE} WHERE table_name = ?1"
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
                    "INSERT INTO {META_TABLE} (table_name, model, version, columns) \
                     VALUES (?1, ?2, 1, ?3)"
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
                    "UPDATE {META_TABLE} SET version = ?2, model = ?3, columns = ?4, \
                     updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') \
                     WHERE table_name = ?1 AND columns <> ?4"
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
        let st = sql(schema).select(select, false);
        match tx {
            Some(tx) => Self::fetch(self.connection(schema, tx)?, schema, &st).await,
            None => {
                let mut conn = self
                    .store
                    .readers
                    .acquire()
                    .await
                    .map_err(|e| store_error(schema, e))?;
                Self::fetch(&mut conn, schema, &st).await
            }
        }
    }

    async fn count(
        &self,
        tx: Option<&mut dyn StoreTransaction>,
        schema: &'static ModelSchema,
        predicate: &Predicate,
    ) -> Result<u64, ReadModelError> {
        let st = sql(schema).count(predicate);
        let q = bind_params(sqlx::query(AssertSqlSafe(st.sql)), &st.params);
        let row = match tx {
            Some(tx) => q.fetch_one(self.connection(schema, tx)?).await,
            None => q.fetch_one(&self.store.readers).await,
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
        self.put(tx, schema, row, false).await
    }

    async fn upsert(
        &self,
        tx: Option<&mut dyn StoreTransaction>,
        schema: &'static ModelSchema,
        row: Row,
    ) -> Result<(), ReadModelError> {
        self.put(tx, schema, row, true).await
    }

    async fn update(
        &self,
        tx: Option<&mut dyn StoreTransaction>,
        schema: &'static ModelSchema,
        id: Value,
        change: &mut (dyn FnMut(Row) -> Result<Row, ReadModelError> + Send),
    ) -> Result<Option<Row>, ReadModelError> {
        match tx {
            Some(tx) => Self::update_in(self.connection(schema, tx)?, schema, id, change).await,
            None => {
                let mut own = self
                    .store
                    .writer
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .map_err(|e| store_error(schema, e))?;
                let row = Self::update_in(&mut own, schema, id, change).await?;
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
        let st = sql(schema).delete(predicate);
        let q = bind_params(sqlx::query(AssertSqlSafe(st.sql)), &st.params);
        let done = match tx {
            Some(tx) => q.execute(self.connection(schema, tx)?).await,
            None => q.execute(&self.store.writer).await,
        }
        .map_err(|e| store_error(schema, e))?;
        Ok(done.rows_affected())
    }
}
