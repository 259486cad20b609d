//! Idempotency records of a [`PostgresStore`](super::PostgresStore), in its
//! schema, on its pool, by the database's clock.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::AssertSqlSafe;

use super::append::map_error;
use super::{PostgresStore, PostgresTransaction};
use crate::error::Result;
use crate::store::{Claim, IdempotencyStore, StoreTransaction};

/// The table `<schema>.idempotency` of a PostgreSQL store, from
/// [`PostgresStore::idempotency`]. A claim is one `INSERT … ON CONFLICT`
/// statement: of concurrent duplicates, in one process or many, exactly one
/// wins.
#[derive(Debug, Clone)]
pub struct PostgresIdempotencyStore {
    store: PostgresStore,
}

impl PostgresIdempotencyStore {
    pub(super) fn new(store: PostgresStore) -> Self {
        PostgresIdempotencyStore { store }
    }
}

#[async_trait]
impl IdempotencyStore for PostgresIdempotencyStore {
    async fn claim(&self, key: &str, lease: Duration) -> Result<Claim> {
        let statements = &self.store.statements;
        let claimed = sqlx::query(AssertSqlSafe(Arc::clone(&statements.claim_key)))
            .bind(key)
            .bind(lease.as_secs_f64())
            .fetch_optional(&self.store.pool)
            .await
            .map_err(map_error)?;
        if claimed.is_some() {
            return Ok(Claim::Started);
        }
        let result: Option<Option<Vec<u8>>> =
            sqlx::query_scalar(AssertSqlSafe(Arc::clone(&statements.key_result)))
                .bind(key)
                .fetch_optional(&self.store.pool)
                .await
                .map_err(map_error)?;
        Ok(match result.flatten() {
            Some(bytes) => Claim::Completed(bytes),
            None => Claim::InProgress,
        })
    }

    async fn complete(&self, key: &str, result: &[u8], ttl: Duration) -> Result<()> {
        sqlx::query(AssertSqlSafe(Arc::clone(
            &self.store.statements.complete_key,
        )))
        .bind(key)
        .bind(result)
        .bind(ttl.as_secs_f64())
        .execute(&self.store.pool)
        .await
        .map_err(map_error)?;
        Ok(())
    }

    async fn complete_in(
        &self,
        tx: &mut dyn StoreTransaction,
        key: &str,
        result: &[u8],
        ttl: Duration,
    ) -> Result<bool> {
        let statements = &self.store.statements;
        let Some(conn) = tx
            .downcast_mut::<PostgresTransaction>()
            .and_then(|tx| tx.connection_of(statements))
        else {
            return Ok(false);
        };
        sqlx::query(AssertSqlSafe(Arc::clone(&statements.complete_key)))
            .bind(key)
            .bind(result)
            .bind(ttl.as_secs_f64())
            .execute(conn)
            .await
            .map_err(map_error)?;
        Ok(true)
    }

    async fn release(&self, key: &str) -> Result<()> {
        sqlx::query(AssertSqlSafe(Arc::clone(
            &self.store.statements.release_key,
        )))
        .bind(key)
        .execute(&self.store.pool)
        .await
        .map_err(map_error)?;
        Ok(())
    }
}
