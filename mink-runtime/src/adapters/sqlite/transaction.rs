//! The append transaction of a SQLite store, as a unit of work sees it.

use sqlx::sqlite::SqliteConnection;
use sqlx::{Sqlite, Transaction};

use crate::store::StoreTransaction;

/// The append transaction of a [`SqliteStore`](super::SqliteStore), as a unit of work sees it:
/// rows written on [`connection`](Self::connection) commit or roll back
/// with the events.
#[derive(Debug)]
pub struct SqliteTransaction {
    tx: Transaction<'static, Sqlite>,
}

impl SqliteTransaction {
    pub(super) fn new(tx: Transaction<'static, Sqlite>) -> Self {
        SqliteTransaction { tx }
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
