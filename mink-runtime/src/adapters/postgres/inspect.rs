//! Looking at the PostgreSQL store from outside the application: its
//! streams, the size of its log, and the migrations it embeds (for
//! `mink migrate`). The report types live in
//! [`crate::adapters::memory::inspect`].

use sqlx::migrate::Migrator;
use sqlx::{AssertSqlSafe, Row};

use super::PostgresStore;
use super::append::map_error;
use crate::adapters::memory::inspect::{LogStats, StreamQuery, Tally, rank};
use crate::error::{Error, Result};
use crate::store::StreamInfo;
use crate::store::rules::{sql_i64, stored_u64};

/// The same migrations the store's builder runs, embedded again here so
/// that tools can read their versions and checksums.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Bytes of one row's payload and metadata.
const ROW_BYTES: &str = "coalesce(octet_length(payload::text), octet_length(payload_bytes)) + octet_length(metadata::text)";

impl PostgresStore {
    /// The migrations this store runs when it opens, as embedded in the
    /// build (`mink-runtime/migrations/postgres`); sqlx records them in the
    /// schema's `_sqlx_migrations` with their checksums.
    pub fn migrator() -> &'static Migrator {
        &MIGRATOR
    }

    /// The streams `query` selects, in the order they were first written.
    pub async fn list_streams(&self, query: &StreamQuery) -> Result<Vec<StreamInfo>> {
        let sql = format!(
            "SELECT stream_id, max(version) AS version, min(created_at) AS first_at, \
                    max(created_at) AS last_at \
             FROM {}.events \
             WHERE ($1::text IS NULL OR starts_with(stream_id, $1)) \
               AND ($2::text IS NULL OR split_part(stream_id, '-', 1) = $2) \
             GROUP BY stream_id ORDER BY min(position) LIMIT $3",
            self.schema
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(query.prefix.as_deref())
            .bind(query.category.as_deref())
            .bind(sql_i64(query.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(map_error)?;
        rows.iter()
            .map(|row| {
                Ok(StreamInfo {
                    stream_id: row.try_get("stream_id").map_err(Error::backend)?,
                    version: stored_u64(
                        "version",
                        row.try_get("version").map_err(Error::backend)?,
                    )?,
                    created_at: row.try_get("first_at").map_err(Error::backend)?,
                    updated_at: row.try_get("last_at").map_err(Error::backend)?,
                })
            })
            .collect()
    }

    /// Counts and sizes of the whole log, with the `top` longest streams.
    pub async fn log_stats(&self, top: usize) -> Result<LogStats> {
        let schema = &self.schema;
        let totals = sqlx::query(AssertSqlSafe(format!(
            "SELECT count(*) AS events, count(DISTINCT stream_id) AS streams, \
                    coalesce(sum({ROW_BYTES}), 0)::bigint AS bytes, \
                    min(created_at) AS first_at, max(created_at) AS last_at, \
                    pg_total_relation_size('{schema}.events') AS table_bytes \
             FROM {schema}.events"
        )))
        .fetch_one(&self.pool)
        .await
        .map_err(map_error)?;
        let get_u64 = |column: &'static str| -> Result<u64> {
            stored_u64(column, totals.try_get(column).map_err(Error::backend)?)
        };
        Ok(LogStats {
            events: get_u64("events")?,
            streams: get_u64("streams")?,
            payload_bytes: get_u64("bytes")?,
            database_bytes: Some(get_u64("table_bytes")?),
            first_event_at: totals.try_get("first_at").map_err(Error::backend)?,
            last_event_at: totals.try_get("last_at").map_err(Error::backend)?,
            event_types: self.tally("event_type", usize::MAX).await?,
            categories: self
                .tally("split_part(stream_id, '-', 1)", usize::MAX)
                .await?,
            top_streams: self.tally("stream_id", top).await?,
        })
    }

    /// Events and bytes grouped by `expression` (fixed SQL text).
    async fn tally(&self, expression: &str, keep: usize) -> Result<Vec<Tally>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {expression} AS name, count(*) AS events, \
                    coalesce(sum({ROW_BYTES}), 0)::bigint AS bytes \
             FROM {}.events GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT $1",
            self.schema
        )))
        .bind(sql_i64(keep))
        .fetch_all(&self.pool)
        .await
        .map_err(map_error)?;
        let tallies = rows
            .iter()
            .map(|row| {
                Ok(Tally {
                    name: row.try_get("name").map_err(Error::backend)?,
                    events: stored_u64("events", row.try_get("events").map_err(Error::backend)?)?,
                    bytes: stored_u64("bytes", row.try_get("bytes").map_err(Error::backend)?)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(rank(tallies, keep))
    }
}
