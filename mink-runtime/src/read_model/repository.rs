//! The typed repository over a read-model store, unbound or bound to a
//! transaction.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;

use super::error::ReadModelError;
use super::field::Operand;
use super::query::{Page, Predicate, Query, Select};
use super::schema::{ModelSchema, Row};
use crate::store::StoreTransaction;

/// A read model: a plain struct whose rows a projection writes and an
/// application queries. Implemented by `#[derive(ReadModel)]`.
pub trait ReadModel: Sized + Send + Sync + 'static {
    /// The type of the `#[read_model(id)]` field.
    type Id: Serialize + Send + Sync;
    /// The typed field handles, one public field per field of the model.
    type Fields: Copy;

    /// The table: its name, columns and indexes.
    fn schema() -> &'static ModelSchema;

    /// The typed field handles, to build queries from.
    fn fields() -> Self::Fields;

    /// The model as one value per column.
    fn to_row(&self) -> Result<Row, ReadModelError>;

    /// The model back from a stored row.
    fn from_row(row: Row) -> Result<Self, ReadModelError>;
}

/// The storage side of read models, implemented by each adapter
/// (`InMemoryReadModels`, `SqliteReadModels`, `PostgresReadModels`) on
/// untyped rows. Applications use it through [`ReadModelRepository`].
///
/// Every operation takes the transaction to run in, or `None` to run on
/// its own.
#[async_trait]
pub trait ReadModelStore: fmt::Debug + Send + Sync + 'static {
    /// The adapter: `memory`, `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Creates the table and its indexes, or migrates a stored one
    /// (adding `Option` columns); with `recreate`, drops it first. Returns
    /// the schema version the table records.
    async fn prepare(
        &self,
        schema: &'static ModelSchema,
        recreate: bool,
    ) -> Result<i64, ReadModelError>;

    /// The rows `select` picks, in its order.
    async fn select(
        &self,
        tx: Option<&mut dyn StoreTransaction>,
        schema: &'static ModelSchema,
        select: &Select,
    ) -> Result<Vec<Row>, ReadModelError>;

    /// How many rows match.
    async fn count(
        &self,
        tx: Option<&mut dyn StoreTransaction>,
        schema: &'static ModelSchema,
        predicate: &Predicate,
    ) -> Result<u64, ReadModelError>;

    /// Adds a row; [`ReadModelError::AlreadyExists`] when its id is taken.
    async fn insert(
        &self,
        tx: Option<&mut dyn StoreTransaction>,
        schema: &'static ModelSchema,
        row: Row,
    ) -> Result<(), ReadModelError>;

    /// Adds a row, or replaces the row with its id.
    async fn upsert(
        &self,
        tx: Option<&mut dyn StoreTransaction>,
        schema: &'static ModelSchema,
        row: Row,
    ) -> Result<(), ReadModelError>;

    /// Replaces the row with id `id` by what `change` makes of it, with the
    /// row locked meanwhile; `None` when there is no such row.
    async fn update(
        &self,
        tx: Option<&mut dyn StoreTransaction>,
        schema: &'static ModelSchema,
        id: Value,
        change: &mut (dyn FnMut(Row) -> Result<Row, ReadModelError> + Send),
    ) -> Result<Option<Row>, ReadModelError>;

    /// Deletes the matching rows; returns how many.
    async fn delete(
        &self,
        tx: Option<&mut dyn StoreTransaction>,
        schema: &'static ModelSchema,
        predicate: &Predicate,
    ) -> Result<u64, ReadModelError>;
}

/// The rows of the read model `M` in one store: typed reads, writes and
/// queries.
///
/// Open it once (it creates or migrates the table), clone it freely. Its
/// operations run on their own; [`in_tx`](Self::in_tx) binds them to a
/// transaction, so that a projection's writes commit with the events or
/// the checkpoint.
///
/// ```
/// use mink_runtime::adapters::memory::InMemoryReadModels;
/// use mink_runtime::read_model::ReadModelRepository;
/// # use mink_runtime::read_model::{ReadModel, ModelSchema, Row, ReadModelError};
/// # struct Note; impl ReadModel for Note { type Id = String; type Fields = ();
/// #   fn schema() -> &'static ModelSchema { unimplemented!() } fn fields() {}
/// #   fn to_row(&self) -> Result<Row, ReadModelError> { unimplemented!() }
/// #   fn from_row(_: Row) -> Result<Self, ReadModelError> { unimplemented!() } }
/// # async fn demo() -> Result<(), ReadModelError> {
/// let notes = ReadModelRepository::<Note>::open(InMemoryReadModels::new()).await?;
/// # Ok(()) }
/// ```
pub struct ReadModelRepository<M> {
    store: Arc<dyn ReadModelStore>,
    version: i64,
    _model: PhantomData<fn() -> M>,
}

impl<M> Clone for ReadModelRepository<M> {
    fn clone(&self) -> Self {
        ReadModelRepository {
            store: Arc::clone(&self.store),
            version: self.version,
            _model: PhantomData,
        }
    }
}

impl<M: ReadModel> fmt::Debug for ReadModelRepository<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadModelRepository")
            .field("table", &M::schema().table)
            .field("store", &self.store.backend())
            .field("schema_version", &self.version)
            .finish()
    }
}

/// A [`ReadModelRepository`] bound to a transaction: the same operations,
/// run in it, so they commit or roll back with it. Reads see the
/// transaction's own writes.
pub struct ReadModelTx<'t, M> {
    store: &'t dyn ReadModelStore,
    tx: &'t mut dyn StoreTransaction,
    _model: PhantomData<fn() -> M>,
}

impl<M: ReadModel> fmt::Debug for ReadModelTx<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadModelTx")
            .field("table", &M::schema().table)
            .field("transaction", &self.tx.backend())
            .finish()
    }
}

impl<M: ReadModel> ReadModelRepository<M> {
    /// The repository of `M` in `store`, creating its table and indexes,
    /// or adding the `Option` fields that are new since the table was
    /// made. A change that cannot be made in place fails with
    /// [`ReadModelError::SchemaMismatch`].
    pub async fn open<S: ReadModelStore>(store: S) -> Result<Self, ReadModelError> {
        Self::open_shared(Arc::new(store)).await
    }

    /// [`open`](Self::open) on a shared store.
    pub async fn open_shared(store: Arc<dyn ReadModelStore>) -> Result<Self, ReadModelError> {
        let version = store.prepare(M::schema(), false).await?;
        Ok(ReadModelRepository {
            store,
            version,
            _model: PhantomData,
        })
    }

    /// Drops `M`'s table and makes it anew, empty, in the current shape:
    /// the way out of a [`ReadModelError::SchemaMismatch`], before the
    /// projection that writes it replays the log from the start.
    pub async fn recreate<S: ReadModelStore>(store: S) -> Result<Self, ReadModelError> {
        Self::recreate_shared(Arc::new(store)).await
    }

    /// [`recreate`](Self::recreate) on a shared store.
    pub async fn recreate_shared(store: Arc<dyn ReadModelStore>) -> Result<Self, ReadModelError> {
        let version = store.prepare(M::schema(), true).await?;
        Ok(ReadModelRepository {
            store,
            version,
            _model: PhantomData,
        })
    }

    /// The schema version the table records: 1 when made, one more for
    /// each in-place migration.
    pub fn schema_version(&self) -> i64 {
        self.version
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn ReadModelStore> {
        &self.store
    }

    /// The same operations, run in `tx`: the transaction a unit of work or
    /// a projection handler gets. `tx` must belong to the store this
    /// repository was opened on.
    pub fn in_tx<'t>(&'t self, tx: &'t mut dyn StoreTransaction) -> ReadModelTx<'t, M> {
        ReadModelTx {
            store: &*self.store,
            tx,
            _model: PhantomData,
        }
    }

    fn exec(&self) -> Exec<'_, M> {
        Exec {
            store: &*self.store,
            tx: None,
            _model: PhantomData,
        }
    }

    /// The row with `id`; [`ReadModelError::NotFound`] when there is none.
    pub async fn get(&self, id: impl Operand<M::Id>) -> Result<M, ReadModelError> {
        self.exec().get(id).await
    }

    /// The row with `id`, if any.
    pub async fn find_by_id(&self, id: impl Operand<M::Id>) -> Result<Option<M>, ReadModelError> {
        self.exec().find_by_id(id).await
    }

    /// The rows with these ids that exist, in id order.
    pub async fn get_many<I>(&self, ids: I) -> Result<Vec<M>, ReadModelError>
    where
        I: IntoIterator + Send,
        I::Item: Operand<M::Id>,
    {
        self.exec().get_many(ids).await
    }

    /// The rows the query picks.
    pub async fn find(&self, query: impl Into<Query<M>>) -> Result<Vec<M>, ReadModelError> {
        self.exec().find(query.into()).await
    }

    /// The first row the query picks.
    pub async fn find_one(&self, query: impl Into<Query<M>>) -> Result<Option<M>, ReadModelError> {
        self.exec().find_one(query.into()).await
    }

    /// The query's window of rows, with the number of rows its filter
    /// matches and whether more follow.
    pub async fn find_page(&self, query: impl Into<Query<M>>) -> Result<Page<M>, ReadModelError> {
        self.exec().find_page(query.into()).await
    }

    /// How many rows the query's filter matches (its window is ignored).
    pub async fn count(&self, query: impl Into<Query<M>>) -> Result<u64, ReadModelError> {
        self.exec().count(query.into()).await
    }

    /// Adds `model`; [`ReadModelError::AlreadyExists`] when its id is taken.
    pub async fn insert(&self, model: &M) -> Result<(), ReadModelError> {
        self.exec().insert(model).await
    }

    /// Adds `model`, or replaces the row with its id.
    pub async fn upsert(&self, model: &M) -> Result<(), ReadModelError> {
        self.exec().upsert(model).await
    }

    /// Changes the row with `id` in place, with the row locked meanwhile,
    /// and returns it; [`ReadModelError::NotFound`] when there is none.
    pub async fn update<F>(&self, id: impl Operand<M::Id>, change: F) -> Result<M, ReadModelError>
    where
        F: FnOnce(&mut M) + Send,
    {
        self.exec().update(id, change).await
    }

    /// Deletes the row with `id`; whether there was one.
    pub async fn delete(&self, id: impl Operand<M::Id>) -> Result<bool, ReadModelError> {
        self.exec().delete(id).await
    }

    /// Deletes the rows the query's filter matches; how many.
    pub async fn delete_many(&self, query: impl Into<Query<M>>) -> Result<u64, ReadModelError> {
        self.exec().delete_many(query.into()).await
    }

    /// Deletes every row; how many.
    pub async fn clear(&self) -> Result<u64, ReadModelError> {
        self.exec().delete_many(Query::new()).await
    }
}

impl<M: ReadModel> ReadModelTx<'_, M> {
    fn exec(&mut self) -> Exec<'_, M> {
        Exec {
            store: self.store,
            tx: Some(&mut *self.tx),
            _model: PhantomData,
        }
    }

    /// See [`ReadModelRepository::get`].
    pub async fn get(&mut self, id: impl Operand<M::Id>) -> Result<M, ReadModelError> {
        self.exec().get(id).await
    }

    /// See [`ReadModelRepository::find_by_id`].
    pub async fn find_by_id(
        &mut self,
        id: impl Operand<M::Id>,
    ) -> Result<Option<M>, ReadModelError> {
        self.exec().find_by_id(id).await
    }

    /// See [`ReadModelRepository::get_many`].
    pub async fn get_many<I>(&mut self, ids: I) -> Result<Vec<M>, ReadModelError>
    where
        I: IntoIterator + Send,
        I::Item: Operand<M::Id>,
    {
        self.exec().get_many(ids).await
    }

    /// See [`ReadModelRepository::find`].
    pub async fn find(&mut self, query: impl Into<Query<M>>) -> Result<Vec<M>, ReadModelError> {
        self.exec().find(query.into()).await
    }

    /// See [`ReadModelRepository::find_one`].
    pub async fn find_one(
        &mut self,
        query: impl Into<Query<M>>,
    ) -> Result<Option<M>, ReadModelError> {
        self.exec().find_one(query.into()).await
    }

    /// See [`ReadModelRepository::find_page`].
    pub async fn find_page(
        &mut self,
        query: impl Into<Query<M>>,
    ) -> Result<Page<M>, ReadModelError> {
        self.exec().find_page(query.into()).await
    }

    /// See [`ReadModelRepository::count`].
    pub async fn count(&mut self, query: impl Into<Query<M>>) -> Result<u64, ReadModelError> {
        self.exec().count(query.into()).await
    }

    /// See [`ReadModelRepository::insert`].
    pub async fn insert(&mut self, model: &M) -> Result<(), ReadModelError> {
        self.exec().insert(model).await
    }

    /// See [`ReadModelRepository::upsert`].
    pub async fn upsert(&mut self, model: &M) -> Result<(), ReadModelError> {
        self.exec().upsert(model).await
    }

    /// See [`ReadModelRepository::update`].
    pub async fn update<F>(
        &mut self,
        id: impl Operand<M::Id>,
        change: F,
    ) -> Result<M, ReadModelError>
    where
        F: FnOnce(&mut M) + Send,
    {
        self.exec().update(id, change).await
    }

    /// See [`ReadModelRepository::delete`].
    pub async fn delete(&mut self, id: impl Operand<M::Id>) -> Result<bool, ReadModelError> {
        self.exec().delete(id).await
    }

    /// See [`ReadModelRepository::delete_many`].
    pub async fn delete_many(&mut self, query: impl Into<Query<M>>) -> Result<u64, ReadModelError> {
        self.exec().delete_many(query.into()).await
    }

    /// See [`ReadModelRepository::clear`].
    pub async fn clear(&mut self) -> Result<u64, ReadModelError> {
        self.exec().delete_many(Query::new()).await
    }
}

/// One operation's store and transaction: every operation is written once
/// here, for both the unbound and the bound repository.
struct Exec<'a, M> {
    store: &'a dyn ReadModelStore,
    tx: Option<&'a mut dyn StoreTransaction>,
    _model: PhantomData<fn() -> M>,
}

impl<M: ReadModel> Exec<'_, M> {
    fn id_value(&self, id: impl Operand<M::Id>) -> Result<Value, ReadModelError> {
        let schema = M::schema();
        let column = schema.id_column();
        let value = id.into_json().map_err(|reason| ReadModelError::Encode {
            table: schema.table,
            column: column.name.to_owned(),
            reason,
        })?;
        schema.normalize(column, value)
    }

    async fn find_by_id(&mut self, id: impl Operand<M::Id>) -> Result<Option<M>, ReadModelError> {
        let id = self.id_value(id)?;
        self.find_by_id_value(id).await
    }

    async fn get(&mut self, id: impl Operand<M::Id>) -> Result<M, ReadModelError> {
        let schema = M::schema();
        let id = self.id_value(id)?;
        let shown = id.to_string();
        match self.find_by_id_value(id).await? {
            Some(m) => Ok(m),
            None => Err(ReadModelError::NotFound {
                table: schema.table,
                id: shown,
            }),
        }
    }

    async fn find_by_id_value(&mut self, id: Value) -> Result<Option<M>, ReadModelError> {
        let schema = M::schema();
        let select = Select {
            predicate: Predicate::id_is(schema, id),
            order: Vec::new(),
            limit: Some(1),
            offset: 0,
        };
        let rows = self
            .store
            .select(self.tx.as_deref_mut(), schema, &select)
            .await?;
        rows.into_iter().next().map(M::from_row).transpose()
    }

    async fn get_many<I>(&mut self, ids: I) -> Result<Vec<M>, ReadModelError>
    where
        I: IntoIterator,
        I::Item: Operand<M::Id>,
    {
        let schema = M::schema();
        let mut values = Vec::new();
        for id in ids {
            let v = self.id_value(id)?;
            if !values.contains(&v) {
                values.push(v);
            }
        }
        if values.is_empty() {
            return Ok(Vec::new());
        }
        let select = Select {
            predicate: Predicate::In {
                column: schema.id,
                values,
                negated: false,
            },
            order: vec![(schema.id, super::query::Direction::Asc)],
            limit: None,
            offset: 0,
        };
        self.rows(&select).await
    }

    async fn rows(&mut self, select: &Select) -> Result<Vec<M>, ReadModelError> {
        let rows = self
            .store
            .select(self.tx.as_deref_mut(), M::schema(), select)
            .await?;
        rows.into_iter().map(M::from_row).collect()
    }

    async fn find(&mut self, query: Query<M>) -> Result<Vec<M>, ReadModelError> {
        let select = query.resolve(M::schema())?;
        self.rows(&select).await
    }

    async fn find_one(&mut self, query: Query<M>) -> Result<Option<M>, ReadModelError> {
        let mut select = query.resolve(M::schema())?;
        select.limit = Some(select.limit.map_or(1, |l| l.min(1)));
        Ok(self.rows(&select).await?.into_iter().next())
    }

    async fn find_page(&mut self, query: Query<M>) -> Result<Page<M>, ReadModelError> {
        let schema = M::schema();
        let select = query.resolve(schema)?;
        let total = self
            .store
            .count(self.tx.as_deref_mut(), schema, &select.predicate)
            .await?;
        let items = self.rows(&select).await?;
        let has_more = select.offset.saturating_add(items.len() as u64) < total;
        Ok(Page {
            items,
            total,
            has_more,
        })
    }

    async fn count(&mut self, query: Query<M>) -> Result<u64, ReadModelError> {
        let schema = M::schema();
        let predicate = query.resolve_filter(schema)?;
        self.store
            .count(self.tx.as_deref_mut(), schema, &predicate)
            .await
    }

    async fn insert(&mut self, model: &M) -> Result<(), ReadModelError> {
        let row = model.to_row()?;
        self.store
            .insert(self.tx.as_deref_mut(), M::schema(), row)
            .await
    }

    async fn upsert(&mut self, model: &M) -> Result<(), ReadModelError> {
        let row = model.to_row()?;
        self.store
            .upsert(self.tx.as_deref_mut(), M::schema(), row)
            .await
    }

    async fn update<F>(&mut self, id: impl Operand<M::Id>, change: F) -> Result<M, ReadModelError>
    where
        F: FnOnce(&mut M) + Send,
    {
        let schema = M::schema();
        let id = self.id_value(id)?;
        let shown = id.to_string();
        let mut change = Some(change);
        let mut apply = |row: Row| -> Result<Row, ReadModelError> {
            let before = row[schema.id].clone();
            let mut model = M::from_row(row)?;
            if let Some(change) = change.take() {
                change(&mut model);
            }
            let after = model.to_row()?;
            if after[schema.id] != before {
                return Err(ReadModelError::IdChanged {
                    table: schema.table,
                    from: before.to_string(),
                    to: after[schema.id].to_string(),
                });
            }
            Ok(after)
        };
        let row = self
            .store
            .update(self.tx.as_deref_mut(), schema, id, &mut apply)
            .await?;
        match row {
            Some(row) => M::from_row(row),
            None => Err(ReadModelError::NotFound {
                table: schema.table,
                id: shown,
            }),
        }
    }

    async fn delete(&mut self, id: impl Operand<M::Id>) -> Result<bool, ReadModelError> {
        let schema = M::schema();
        let id = self.id_value(id)?;
        let n = self
            .store
            .delete(
                self.tx.as_deref_mut(),
                schema,
                &Predicate::id_is(schema, id),
            )
            .await?;
        Ok(n > 0)
    }

    async fn delete_many(&mut self, query: Query<M>) -> Result<u64, ReadModelError> {
        let schema = M::schema();
        let predicate = query.resolve_filter(schema)?;
        self.store
            .delete(self.tx.as_deref_mut(), schema, &predicate)
            .await
    }
}
