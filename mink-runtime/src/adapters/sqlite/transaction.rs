//! The append transaction of a SQLite store, as a unit of work sees it.

use std::sync::Arc;

use sqlx::sqlite::SqliteConnection;
use sqlx::{Sqlite, Transaction};
use tokio::sync::Mutex;

use crate::store::StoreTransaction;

/// The append transaction of a [`SqliteStore`](super::SqliteStore), as a unit of work sees it:
/// rows written on [`connection`](Self::connection) commit or roll back
/// with the events.
#[derive(Debug)]
pub struct SqliteTransaction {
    tx: Transaction<'static, Sqlite>,
    /// The writer turn of the store that opened it: tells its own
    /// idempotency records from another file's.
    store: Arc<Mutex<()>>,
}

impl SqliteTransaction {
    pub(super) fn new(tx: Transaction<'static, Sqlite>, store: Arc<Mutex<()>>) -> Self {
        SqliteTransaction { tx, store }
    }

    /// Whether this transaction belongs to the store whose writer turn is
    /// `store`.
    pub(super) fn is_of(&self, store: &Arc<Mutex<()>>) -> bool {
        Arc::ptr_eq(&self.store, store)
    }

    pub(super) fn into_inner(self) -> Transaction<'static, Sqlite> {
        self.tx
    }

    /// The writer connection, inside the append's transaction.
    pub fn connection(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }
}

impl StoreTransaction for SqliteTransaction {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}
