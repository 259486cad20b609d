//! Idempotency records in PostgreSQL, next to the events.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::{PgPool, Row};

use super::{Claim, IdempotencyStore};
use crate::command::CommandResult;
use crate::error::{Error, Result};

const CREATE: &str = "CREATE TABLE IF NOT EXISTS mink_idempotency (
    key text PRIMARY KEY,
    result jsonb,
    expires_at timestamptz NOT NULL
)";

/// Keeps idempotency records in the table `mink_idempotency` (in the
/// pool's search path). A claim is one `INSERT … ON CONFLICT` statement:
/// of concurrent duplicates, in one process or many, exactly one wins.
#[derive(Debug, Clone)]
pub struct PostgresIdempotencyStore {
    pool: PgPool,
}

fn interval(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl PostgresIdempotencyStore {
    /// Uses `pool`, creating the table when missing.
    pub async fn new(pool: PgPool) -> Result<Self> {
        sqlx::query(CREATE)
            .execute(&pool)
            .await
            .map_err(Error::backend)?;
        Ok(PostgresIdempotencyStore { pool })
    }
}

#[async_trait]
impl IdempotencyStore for PostgresIdempotencyStore {
    async fn claim(&self, key: &str, lease: Duration) -> Result<Claim> {
        let claimed = sqlx::query(
            "INSERT INTO mink_idempotency (key, result, expires_at)
             VALUES ($1, NULL, now() + make_interval(secs => $2))
             ON CONFLICT (key) DO UPDATE SET result = NULL, expires_at = excluded.expires_at
             WHERE mink_idempotency.expires_at <= now()
             RETURNING key",
        )
        .bind(key)
        .bind(interval(lease))
        .fetch_optional(&self.pool)
        .await
        .map_err(Error::backend)?;
        if claimed.is_some() {
            return Ok(Claim::Started);
        }
        let row = sqlx::query("SELECT result::text FROM mink_idempotency WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(Error::backend)?;
        super::claim_outcome(row.and_then(|r| r.get::<Option<String>, _>(0)))
    }

    async fn complete(&self, key: &str, result: &CommandResult, ttl: Duration) -> Result<()> {
        let json = serde_json::to_string(result).map_err(Error::backend)?;
        sqlx::query(
            "UPDATE mink_idempotency SET result = $2::jsonb, expires_at = now() + make_interval(secs => $3)
             WHERE key = $1",
        )
        .bind(key)
        .bind(json)
        .bind(interval(ttl))
        .execute(&self.pool)
        .await
        .map_err(Error::backend)?;
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM mink_idempotency WHERE key = $1 AND result IS NULL")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(Error::backend)?;
        Ok(())
    }
}
