//! Read models held in memory, with the same meaning as the SQL stores
//! (`read_model::eval`). Writes bound to a [`MemoryTransaction`] are staged
//! and applied only when it commits; reads bound to it see them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use async_trait::async_trait;
use serde_json::Value;

use super::MemoryTransaction;
use crate::read_model::eval::{compare_rows, matches};
use crate::read_model::{
    IndexKind, ModelSchema, Predicate, ReadModelError, ReadModelStore, Row, Select, StoredColumn,
};
use crate::store::StoreTransaction;

/// Read-model tables in memory: for tests, examples and speed.
///
/// Cloning is cheap and shares the tables. Bind a repository to a
/// [`MemoryTransaction`] (an in-memory store's unit of work or projection
/// batch) and its writes apply when that transaction commits, never when
/// it rolls back.
#[derive(Debug, Clone, Default)]
pub struct InMemoryReadModels {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    tables: HashMap<&'static str, Table>,
    /// The staged writes of open transactions, by the transaction's
    /// address. An entry lives as long as its transaction: its upgrade
    /// fails, and its guard removes it, once the transaction is dropped.
    staged: HashMap<usize, Weak<Mutex<Staged>>>,
}

#[derive(Debug)]
struct Table {
    columns: Vec<StoredColumn>,
    version: i64,
    rows: BTreeMap<Key, Row>,
}

/// A row's id as a map key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Int(i64),
    Text(String),
    Other(String),
}

impl Key {
    fn of(id: &Value) -> Key {
        match id {
            Value::Number(n) if n.is_i64() => Key::Int(n.as_i64().unwrap_or_default()),
            Value::String(s) => Key::Text(s.clone()),
            other => Key::Other(other.to_string()),
        }
    }
}

/// One transaction's writes, per table: `None` deletes the row.
#[derive(Debug, Default)]
struct Staged {
    tables: HashMap<&'static str, StagedTable>,
}

#[derive(Debug, Default)]
struct StagedTable {
    cleared: bool,
    rows: BTreeMap<Key, Option<Row>>,
}

/// Removes a transaction's entry from `staged` when its staged effect is
/// dropped: after it ran (commit) or with the transaction (rollback).
struct StagedGuard {
    state: Weak<Mutex<State>>,
    key: usize,
    staged: Weak<Mutex<Staged>>,
}

impl Drop for StagedGuard {
    fn drop(&mut self) {
        if let Some(state) = self.state.upgrade() {
            let mut state = lock(&state);
            if state
                .staged
                .get(&self.key)
                .is_some_and(|w| Weak::ptr_eq(w, &self.staged))
            {
                state.staged.remove(&self.key);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl InMemoryReadModels {
    /// No tables yet.
    pub fn new() -> Self {
        InMemoryReadModels::default()
    }

    /// The staged writes of `tx`, made (and hooked to its commit) on first
    /// use.
    fn staged_of(
        &self,
        schema: &'static ModelSchema,
        tx: &mut dyn StoreTransaction,
    ) -> Result<Arc<Mutex<Staged>>, ReadModelError> {
        let found = tx.backend();
        let Some(tx) = tx.downcast_mut::<MemoryTransaction>() else {
            return Err(ReadModelError::ForeignTransaction {
                table: schema.table,
                expected: "memory",
                found,
            });
        };
        let key = std::ptr::from_mut(tx) as usize;
        let mut state = lock(&self.state);
        if let Some(staged) = state.staged.get(&key).and_then(Weak::upgrade) {
            return Ok(staged);
        }
        let staged = Arc::new(Mutex::new(Staged::default()));
        state.staged.insert(key, Arc::downgrade(&staged));
        drop(state);
        let guard = StagedGuard {
            state: Arc::downgrade(&self.state),
            key,
            staged: Arc::downgrade(&staged),
        };
        let shared = Arc::clone(&self.state);
        let effect = Arc::clone(&staged);
        tx.on_commit(move || {
            {
                let writes = std::mem::take(&mut *lock(&effect));
                let mut state = lock(&shared);
                for (table, writes) in writes.tables {
                    let Some(table) = state.tables.get_mut(table) else {
                        continue;
                    };
                    if writes.cleared {
                        table.rows.clear();
                    }
                    for (key, row) in writes.rows {
                        match row {
                            Some(row) => table.rows.insert(key, row),
                            None => table.rows.remove(&key),
                        };
                    }
                }
            }
            drop(guard);
        });
        Ok(staged)
    }

    /// Runs `f` on the rows as `tx` sees them (or as committed, without
    /// one), with a way to write.
    fn with_view<R>(
        &self,
        schema: &'static ModelSchema,
        tx: Option<&mut dyn StoreTransaction>,
        f: impl FnOnce(&mut View<'_>) -> Result<R, ReadModelError>,
    ) -> Result<R, ReadModelError> {
        let staged = tx.map(|tx| self.staged_of(schema, tx)).transpose()?;
        let mut staged_guard = staged.as_ref().map(|s| lock(s));
        let mut state = lock(&self.state);
        let Some(table) = state.tables.get_mut(schema.table) else {
            return Err(ReadModelError::backend(
                schema.table,
                format!("the table `{}` was not prepared", schema.table),
            ));
        };
        let mut view = View {
            schema,
            table,
            staged: staged_guard
                .as_mut()
                .map(|s| s.tables.entry(schema.table).or_default()),
        };
        f(&mut view)
    }
}

/// A table as one transaction sees it.
struct View<'a> {
    schema: &'static ModelSchema,
    table: &'a mut Table,
    staged: Option<&'a mut StagedTable>,
}

impl View<'_> {
    fn rows(&self) -> Vec<&Row> {
        match &self.staged {
            None => self.table.rows.values().collect(),
            Some(staged) => {
                let mut out: Vec<&Row> = if staged.cleared {
                    Vec::new()
                } else {
                    self.table
                        .rows
                        .iter()
                        .filter(|(k, _)| !staged.rows.contains_key(k))
                        .map(|(_, r)| r)
                        .collect()
                };
                out.extend(staged.rows.values().flatten());
                out
            }
        }
    }

    fn get(&self, key: &Key) -> Option<&Row> {
        if let Some(staged) = &self.staged {
            if let Some(row) = staged.rows.get(key) {
                return row.as_ref();
            }
            if staged.cleared {
                return None;
            }
        }
        self.table.rows.get(key)
    }

    fn put(&mut self, key: Key, row: Option<Row>) {
        match &mut self.staged {
            Some(staged) => {
                staged.rows.insert(key, row);
            }
            None => match row {
                Some(row) => {
                    self.table.rows.insert(key, row);
                }
                None => {
                    self.table.rows.remove(&key);
                }
            },
        }
    }

    /// Refuses `row` when a unique field holds a value another row has.
    fn check_unique(&self, row: &Row) -> Result<(), ReadModelError> {
        let id = &row[self.schema.id];
        for (i, c) in self.schema.columns.iter().enumerate() {
            if c.index != IndexKind::Unique || row[i].is_null() {
                continue;
            }
            if self
                .rows()
                .into_iter()
                .any(|other| other[i] == row[i] && &other[self.schema.id] != id)
            {
                return Err(ReadModelError::UniqueViolation {
                    table: self.schema.table,
                    column: c.name.to_owned(),
                });
            }
        }
        Ok(())
    }
}

#[async_trait]
impl ReadModelStore for InMemoryReadModels {
    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn prepare(
        &self,
        schema: &'static ModelSchema,
        recreate: bool,
    ) -> Result<i64, ReadModelError> {
        let mut state = lock(&self.state);
        let current = schema.stored_columns();
        if recreate {
            state.tables.remove(schema.table);
        }
        let Some(table) = state.tables.get_mut(schema.table) else {
            state.tables.insert(
                schema.table,
                Table {
                    columns: current,
                    version: 1,
                    rows: BTreeMap::new(),
                },
            );
            return Ok(1);
        };
        if table.columns == current {
            return Ok(table.version);
        }
        let stored = serde_json::to_string(&table.columns)
            .map_err(|e| ReadModelError::backend(schema.table, format!("the column list: {e}")))?;
        let added = schema.migration_from(table.version, &stored)?;
        // Same columns, maybe in another order, plus new nullable ones:
        // lay every row out in the new order.
        let from: Vec<Option<usize>> = current
            .iter()
            .map(|c| table.columns.iter().position(|o| o.name == c.name))
            .collect();
        for row in table.rows.values_mut() {
            let old = std::mem::take(row);
            *row = from
                .iter()
                .map(|i| i.map_or(Value::Null, |i| old[i].clone()))
                .collect();
        }
        table.columns = current;
        if !added.is_empty() {
            table.version += 1;
        }
        Ok(table.version)
    }

    async fn select(
        &self,
        tx: Option<&mut dyn StoreTransaction>,
        schema: &'static ModelSchema,
        select: &Select,
    ) -> Result<Vec<Row>, ReadModelError> {
        self.with_view(schema, tx, |view| {
            let mut rows: Vec<&Row> = view
                .rows()
                .into_iter()
                .filter(|r| matches(schema, &select.predicate, r))
                .collect();
            rows.sort_by(|a, b| compare_rows(schema, &select.order, a, b));
            let offset = usize::try_from(select.offset).unwrap_or(usize::MAX);
            let limit = select
                .limit
                .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
            Ok(rows.into_iter().skip(offset).take(limit).cloned().collect())
        })
    }

    async fn count(
        &self,
        tx: Option<&mut dyn StoreTransaction>,
        schema: &'static ModelSchema,
        predicate: &Predicate,
    ) -> Result<u64, ReadModelError> {
        self.with_view(schema, tx, |view| {
            Ok(view
                .rows()
                .into_iter()
                .filter(|r| matches(schema, predicate, r))
                .count() as u64)
        })
    }

    async fn insert(
        &self,
        tx: Option<&mut dyn StoreTransaction>,
        schema: &'static ModelSchema,
        row: Row,
    ) -> Result<(), ReadModelError> {
        self.with_view(schema, tx, |view| {
            let key = Key::of(&row[schema.id]);
            if view.get(&key).is_some() {
                return Err(ReadModelError::AlreadyExists {
                    table: schema.table,
                    id: row[schema.id].to_string(),
                });
            }
            view.check_unique(&row)?;
            view.put(key, Some(row));
            Ok(())
        })
    }

    async fn upsert(
        &self,
        tx: Option<&mut dyn StoreTransaction>,
        schema: &'static ModelSchema,
        row: Row,
    ) -> Result<(), ReadModelError> {
        self.with_view(schema, tx, |view| {
            view.check_unique(&row)?;
            view.put(Key::of(&row[schema.id]), Some(row));
            Ok(())
        })
    }

    async fn update(
        &self,
        tx: Option<&mut dyn StoreTransaction>,
        schema: &'static ModelSchema,
        id: Value,
        change: &mut (dyn FnMut(Row) -> Result<Row, ReadModelError> + Send),
    ) -> Result<Option<Row>, ReadModelError> {
        self.with_view(schema, tx, |view| {
            let key = Key::of(&id);
            let Some(row) = view.get(&key).cloned() else {
                return Ok(None);
            };
            let row = change(row)?;
            view.check_unique(&row)?;
            view.put(key, Some(row.clone()));
            Ok(Some(row))
        })
    }

    async fn delete(
        &self,
        tx: Option<&mut dyn StoreTransaction>,
        schema: &'static ModelSchema,
        predicate: &Predicate,
    ) -> Result<u64, ReadModelError> {
        self.with_view(schema, tx, |view| {
            let doomed: Vec<Key> = view
                .rows()
                .into_iter()
                .filter(|r| matches(schema, predicate, r))
                .map(|r| Key::of(&r[schema.id]))
                .collect();
            for key in &doomed {
                view.put(key.clone(), None);
            }
            Ok(doomed.len() as u64)
        })
    }
}
