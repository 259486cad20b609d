//! Looking at the SQLite store from outside the application: its streams,
//! the size of its log, and the migrations it embeds (for `mink migrate`).
//! The report types live in [`crate::adapters::memory::inspect`].

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteRow;

use super::SqliteStore;
use super::errors::map_error;
use crate::adapters::memory::inspect::{LogStats, StreamQuery, Tally, rank};
use crate::error::{Error, Result};
use crate::store::StreamInfo;
use crate::store::rules::{sql_i64, stored_u64};

/// Streams, first written first; `?1` prefix pattern, `?2` category, `?3`
/// limit (NULL filters select everything).
const LIST_STREAMS: &str = "\
    SELECT stream_id, max(version) AS version, min(created_at) AS first_at, \
           max(created_at) AS last_at, min(position) AS first_position \
    FROM events \
    WHERE (?1 IS NULL OR stream_id LIKE ?1 ESCAPE '\\') \
      AND (?2 IS NULL OR category = ?2) \
    GROUP BY stream_id ORDER BY first_position LIMIT ?3";

/// Bytes of one row's payload and metadata.
const ROW_BYTES: &str = "length(CAST(payload AS BLOB)) + length(CAST(metadata AS BLOB))";

impl SqliteStore {
    /// The migrations this store runs when it opens, as embedded in the
    /// build (`mink-runtime/migrations/sqlite`); sqlx records them in
    /// `_sqlx_migrations` with their checksums.
    pub fn migrator() -> &'static Migrator {
        &super::MIGRATOR
    }

    /// The streams `query` selects, in the order they were first written.
    pub async fn list_streams(&self, query: &StreamQuery) -> Result<Vec<StreamInfo>> {
        let rows = sqlx::query(LIST_STREAMS)
            .bind(query.prefix.as_deref().map(like_prefix))
            .bind(query.category.as_deref())
            .bind(sql_i64(query.limit))
            .fetch_all(&self.readers)
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
                    created_at: time(row, "first_at")?,
                    updated_at: time(row, "last_at")?,
                })
            })
            .collect()
    }

    /// Counts and sizes of the whole log, with the `top` longest streams.
    pub async fn log_stats(&self, top: usize) -> Result<LogStats> {
        let totals = sqlx::query(
            "SELECT count(*) AS events, count(DISTINCT stream_id) AS streams, \
                    min(created_at) AS first_at, max(created_at) AS last_at \
             FROM events",
        )
        .fetch_one(&self.readers)
        .await
        .map_err(map_error)?;
        let bytes: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT coalesce(sum({ROW_BYTES}), 0) FROM events"
        )))
        .fetch_one(&self.readers)
        .await
        .map_err(map_error)?;
        let pages: i64 = sqlx::query_scalar(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
        )
        .fetch_one(&self.readers)
        .await
        .map_err(map_error)?;
        let first_at: Option<String> = totals.try_get("first_at").map_err(Error::backend)?;
        let last_at: Option<String> = totals.try_get("last_at").map_err(Error::backend)?;
        Ok(LogStats {
            events: stored_u64("events", totals.try_get("events").map_err(Error::backend)?)?,
            streams: stored_u64(
                "streams",
                totals.try_get("streams").map_err(Error::backend)?,
            )?,
            payload_bytes: stored_u64("bytes", bytes)?,
            database_bytes: Some(stored_u64("page_count", pages)?),
            first_event_at: first_at.as_deref().map(parse_time).transpose()?,
            last_event_at: last_at.as_deref().map(parse_time).transpose()?,
            event_types: self.tally("event_type", usize::MAX).await?,
            categories: self.tally("category", usize::MAX).await?,
            top_streams: self.tally("stream_id", top).await?,
        })
    }

    /// Events and bytes grouped by `column` (a fixed column name).
    async fn tally(&self, column: &str, keep: usize) -> Result<Vec<Tally>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {column} AS name, count(*) AS events, coalesce(sum({ROW_BYTES}), 0) AS bytes \
             FROM events GROUP BY {column} ORDER BY events DESC, name LIMIT ?1"
        )))
        .bind(sql_i64(keep))
        .fetch_all(&self.readers)
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

/// A LIKE pattern matching ids that start with `prefix` literally.
fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

fn time(row: &SqliteRow, column: &str) -> Result<DateTime<Utc>> {
    let text: String = row.try_get(column).map_err(Error::backend)?;
    parse_time(&text)
}

fn parse_time(text: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| Error::backend(format!("created_at `{text}` is not RFC 3339: {e}")))
}

#[cfg(test)]
mod tests {
    use super::like_prefix;

    #[test]
    fn prefixes_match_literally() {
        assert_eq!(like_prefix("order-"), "order-%");
        assert_eq!(like_prefix("a_b%c\\"), "a\\_b\\%c\\\\%");
    }
}
