//! Idempotency records of a [`SqliteStore`](super::SqliteStore), in its own
//! file, through its one writer connection and by SQLite's clock.

use std::time::Duration;

use async_trait::async_trait;

use super::errors::map_error;
use super::{SqliteStore, SqliteTransaction, sql};
use crate::error::Result;
use crate::store::rules::sql_i64;
use crate::store::{Claim, IdempotencyStore, StoreTransaction};

/// The table `mink_idempotency` of a SQLite store, from
/// [`SqliteStore::idempotency`]. Claims are one atomic upsert, so
/// concurrent duplicates in one or several processes run the handler once.
#[derive(Debug, Clone)]
pub struct SqliteIdempotencyStore {
    store: SqliteStore,
}

impl SqliteIdempotencyStore {
    pub(super) fn new(store: SqliteStore) -> Self {
        SqliteIdempotencyStore { store }
    }
}

fn ms(d: Duration) -> i64 {
    sql_i64(d.as_millis())
}

#[async_trait]
impl IdempotencyStore for SqliteIdempotencyStore {
    async fn claim(&self, key: &str, lease: Duration) -> Result<Claim> {
        let writer = &self.store.writer;
        let claimed = sqlx::query(sql::CLAIM_KEY)
            .bind(key)
            .bind(ms(lease))
            .fetch_optional(writer)
            .await
            .map_err(map_error)?;
        if claimed.is_some() {
            return Ok(Claim::Started);
        }
        let result: Option<Option<Vec<u8>>> = sqlx::query_scalar(sql::KEY_RESULT)
            .bind(key)
            .fetch_optional(writer)
            .await
            .map_err(map_error)?;
        Ok(match result.flatten() {
            Some(bytes) => Claim::Completed(bytes),
            None => Claim::InProgress,
        })
    }

    async fn complete(&self, key: &str, result: &[u8], ttl: Duration) -> Result<()> {
        sqlx::query(sql::COMPLETE_KEY)
            .bind(key)
            .bind(result)
            .bind(ms(ttl))
            .execute(&self.store.writer)
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
        let Some(tx) = tx
            .downcast_mut::<SqliteTransaction>()
            .filter(|tx| tx.is_of(&self.store.write_turn))
        else {
            return Ok(false);
        };
        sqlx::query(sql::COMPLETE_KEY)
            .bind(key)
            .bind(result)
            .bind(ms(ttl))
            .execute(tx.connection())
            .await
            .map_err(map_error)?;
        Ok(true)
    }

    async fn release(&self, key: &str) -> Result<()> {
        sqlx::query(sql::RELEASE_KEY)
            .bind(key)
            .execute(&self.store.writer)
            .await
            .map_err(map_error)?;
        Ok(())
    }
}
