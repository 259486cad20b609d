//! Idempotency records in SQLite, next to the events.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Row, SqlitePool};

use super::{Claim, IdempotencyStore};
use crate::command::CommandResult;
use crate::error::{Error, Result};

const CREATE: &str = "CREATE TABLE IF NOT EXISTS mink_idempotency (
    key TEXT PRIMARY KEY,
    result TEXT,
    expires_at INTEGER NOT NULL
)";

/// Keeps idempotency records in the table `mink_idempotency` of a SQLite
/// database. Claims are one atomic upsert, so concurrent duplicates in one
/// or several processes run the handler once.
#[derive(Debug, Clone)]
pub struct SqliteIdempotencyStore {
    pool: SqlitePool,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl SqliteIdempotencyStore {
    /// Opens (or creates) the database file at `path` with a pool of its
    /// own, in WAL mode, and creates the table when missing. The file may be
    /// the event store's own.
    pub async fn open(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10));
        // One connection: claims from this process queue here instead of
        // contending for SQLite's write lock.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(Error::backend)?;
        SqliteIdempotencyStore::new(pool).await
    }

    /// Uses `pool`, creating the table when missing.
    pub async fn new(pool: SqlitePool) -> Result<Self> {
        sqlx::query(CREATE)
            .execute(&pool)
            .await
            .map_err(Error::backend)?;
        Ok(SqliteIdempotencyStore { pool })
    }
}

#[async_trait]
impl IdempotencyStore for SqliteIdempotencyStore {
    async fn claim(&self, key: &str, lease: Duration) -> Result<Claim> {
        let now = now_ms();
        // Inserts a claim, or takes over an expired record; returns a row
        // only when this call now holds the key.
        let claimed = sqlx::query(
            "INSERT INTO mink_idempotency (key, result, expires_at) VALUES (?1, NULL, ?2)
             ON CONFLICT (key) DO UPDATE SET result = NULL, expires_at = excluded.expires_at
             WHERE mink_idempotency.expires_at <= ?3
             RETURNING key",
        )
        .bind(key)
        .bind(now.saturating_add(ms(lease)))
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(Error::backend)?;
        if claimed.is_some() {
            return Ok(Claim::Started);
        }
        let row = sqlx::query("SELECT result FROM mink_idempotency WHERE key = ?1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(Error::backend)?;
        super::claim_outcome(row.and_then(|r| r.get::<Option<String>, _>(0)))
    }

    async fn complete(&self, key: &str, result: &CommandResult, ttl: Duration) -> Result<()> {
        let json = serde_json::to_string(result).map_err(Error::backend)?;
        sqlx::query("UPDATE mink_idempotency SET result = ?2, expires_at = ?3 WHERE key = ?1")
            .bind(key)
            .bind(json)
            .bind(now_ms().saturating_add(ms(ttl)))
            .execute(&self.pool)
            .await
            .map_err(Error::backend)?;
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM mink_idempotency WHERE key = ?1 AND result IS NULL")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(Error::backend)?;
        Ok(())
    }
}
