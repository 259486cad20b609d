//! The append transaction of a PostgreSQL store, as a unit of work sees it.

use std::sync::Arc;

use sqlx::postgres::PgConnection;
use sqlx::{Postgres, Transaction};

use super::sql::Statements;

use crate::store::StoreTransaction;

/// The append transaction of a [`PostgresStore`](super::PostgresStore), as a unit of work sees
/// it: rows written on [`connection`](Self::connection) commit or roll back
/// with the events.
#[derive(Debug)]
pub struct PostgresTransaction {
    tx: Transaction<'static, Postgres>,
    /// The statements of the store that opened it: tells its own tables
    /// from another store's.
    statements: Arc<Statements>,
}

impl PostgresTransaction {
    pub(super) fn new(tx: Transaction<'static, Postgres>, statements: Arc<Statements>) -> Self {
        PostgresTransaction { tx, statements }
    }

    /// This transaction's connection, when it belongs to the store whose
    /// statements are `statements`.
    pub(super) fn connection_of(
        &mut self,
        statements: &Arc<Statements>,
    ) -> Option<&mut PgConnection> {
        Arc::ptr_eq(&self.statements, statements).then_some(&mut *self.tx)
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
