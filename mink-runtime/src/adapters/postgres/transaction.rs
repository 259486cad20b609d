//! The append transaction of a PostgreSQL store, as a unit of work sees it.

use sqlx::postgres::PgConnection;
use sqlx::{Postgres, Transaction};

use crate::store::StoreTransaction;

/// The append transaction of a [`PostgresStore`](super::PostgresStore), as a unit of work sees
/// it: rows written on [`connection`](Self::connection) commit or roll back
/// with the events.
#[derive(Debug)]
pub struct PostgresTransaction {
    tx: Transaction<'static, Postgres>,
}

impl PostgresTransaction {
    pub(super) fn new(tx: Transaction<'static, Postgres>) -> Self {
        PostgresTransaction { tx }
    }

    pub(super) fn into_inner(self) -> Transaction<'static, Postgres> {
        self.tx
    }

    /// The connection, inside the append's transaction. Qualify table names
    /// with the store's schema, or set `search_path` yourself.
    pub fn connection(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}

impl StoreTransaction for PostgresTransaction {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}
