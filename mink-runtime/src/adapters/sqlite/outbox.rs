//! The outbox of a [`SqliteStore`](super::SqliteStore): the table
//! `mink_outbox` in its file, written in the append's transaction, claimed
//! and updated through the store's one writer connection, by SQLite's clock.
//!
//! SQLite has one writer at a time, so each claim is one `UPDATE …
//! RETURNING` statement that no other relay (in this process or another
//! sharing the file) can interleave with. A claim expires: a relay that
//! dies leaves its messages to be claimed again after the claim's time.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};
use uuid::Uuid;

use super::errors::map_error;
use super::{SqliteStore, SqliteTransaction};
use crate::error::{Error, Result};
use crate::event::Position;
use crate::store::rules::{sql_i64, stored_u64};
use crate::store::{
    OutboxClaim, OutboxCounts, OutboxRow, OutboxStatus, OutboxStore, StoreTransaction,
};

/// SQLite's clock, in milliseconds since the Unix epoch.
macro_rules! now_ms {
    () => {
        "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
    };
}

/// The columns `decode_row` reads.
macro_rules! columns {
    () => {
        "seq, id, route, publisher, destination, msg_key, event_id, event_type, stream_id, \
         position_commit, position_event, payload, content_type, headers, attempts, last_error, \
         created_at"
    };
}

const INSERT: &str = "INSERT INTO mink_outbox (id, route, publisher, destination, msg_key, \
     event_id, event_type, stream_id, position_commit, position_event, payload, content_type, \
     headers, next_attempt_at, created_at) ";

/// `?1` token, `?2` ttl in ms, `?3` limit: claims the oldest pending
/// message of each key that is due and not held by a live claim.
const CLAIM: &str = concat!(
    "UPDATE mink_outbox SET claim_token = ?1, claimed_until = ",
    now_ms!(),
    " + ?2 WHERE seq IN (SELECT m.seq FROM mink_outbox m \
     WHERE m.status = 'pending' AND m.next_attempt_at <= ",
    now_ms!(),
    " AND (m.claimed_until IS NULL OR m.claimed_until <= ",
    now_ms!(),
    ") AND NOT EXISTS (SELECT 1 FROM mink_outbox e WHERE e.status = 'pending' \
     AND e.msg_key = m.msg_key AND e.seq < m.seq) ORDER BY m.seq LIMIT ?3) RETURNING ",
    columns!()
);

/// A message still held by claim `?1` (`?2` its id): pending, and the
/// claim not yet expired.
macro_rules! held {
    () => {
        concat!(
            " WHERE id = ?2 AND claim_token = ?1 AND status = 'pending' AND claimed_until > ",
            now_ms!()
        )
    };
}

/// `?1` token, `?2` id.
const MARK_DELIVERED: &str = concat!(
    "UPDATE mink_outbox SET status = 'delivered', claim_token = NULL, claimed_until = NULL, \
     delivered_at = ",
    now_ms!(),
    held!()
);

/// `?1` token, `?2` id, `?3` error, `?4` delay in ms.
const RETRY_LATER: &str = concat!(
    "UPDATE mink_outbox SET attempts = attempts + 1, last_error = ?3, next_attempt_at = ",
    now_ms!(),
    " + ?4, claim_token = NULL, claimed_until = NULL",
    held!()
);

/// `?1` token, `?2` id, `?3` error.
const DEAD_LETTER: &str = concat!(
    "UPDATE mink_outbox SET status = 'dead', attempts = attempts + 1, last_error = ?3, \
     claim_token = NULL, claimed_until = NULL",
    held!()
);

/// `?1` token, `?2` id.
const RELEASE: &str = concat!(
    "UPDATE mink_outbox SET claim_token = NULL, claimed_until = NULL",
    held!()
);

/// `?1` limit.
const DEAD_LETTERS: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM mink_outbox WHERE status = 'dead' ORDER BY seq LIMIT ?1"
);

/// `?1` id.
const REQUEUE: &str = concat!(
    "UPDATE mink_outbox SET status = 'pending', attempts = 0, next_attempt_at = ",
    now_ms!(),
    ", claim_token = NULL, claimed_until = NULL WHERE id = ?1 AND status = 'dead'"
);

/// `?1` age in ms.
const PURGE: &str = concat!(
    "DELETE FROM mink_outbox WHERE status = 'delivered' AND delivered_at <= ",
    now_ms!(),
    " - ?1"
);

const STATUS: &str = "SELECT status FROM mink_outbox WHERE id = ?1";

const COUNTS: &str = "SELECT status, COUNT(*) FROM mink_outbox GROUP BY status";

/// The table `mink_outbox` of a SQLite store, from its `outbox_store`.
#[derive(Debug, Clone)]
pub struct SqliteOutboxStore {
    store: SqliteStore,
}

impl SqliteOutboxStore {
    pub(super) fn new(store: SqliteStore) -> Self {
        SqliteOutboxStore { store }
    }
}

fn ms(d: Duration) -> i64 {
    sql_i64(d.as_millis())
}

fn decode_row(row: &SqliteRow) -> Result<(i64, OutboxRow)> {
    let get_text = |column: &'static str| -> Result<String> {
        row.try_get::<String, _>(column).map_err(Error::backend)
    };
    let uuid = |column: &'static str| -> Result<Uuid> {
        let text = get_text(column)?;
        Uuid::parse_str(&text)
            .map_err(|e| Error::backend(format!("column `{column}` holds `{text}`: {e}")))
    };
    let int = |column: &'static str| -> Result<i64> {
        row.try_get::<i64, _>(column).map_err(Error::backend)
    };
    let headers_text = get_text("headers")?;
    let headers: BTreeMap<String, String> = serde_json::from_str(&headers_text)
        .map_err(|e| Error::backend(format!("outbox headers `{headers_text}`: {e}")))?;
    let created_ms = int("created_at")?;
    let created_at: DateTime<Utc> = Utc
        .timestamp_millis_opt(created_ms)
        .single()
        .ok_or_else(|| Error::backend(format!("outbox created_at {created_ms} is out of range")))?;
    let attempts = stored_u64("attempts", int("attempts")?)?;
    Ok((
        int("seq")?,
        OutboxRow {
            id: uuid("id")?,
            route: get_text("route")?,
            publisher: get_text("publisher")?,
            destination: get_text("destination")?,
            key: get_text("msg_key")?,
            event_id: uuid("event_id")?,
            event_type: get_text("event_type")?,
            stream_id: get_text("stream_id")?,
            position: Position {
                commit: stored_u64("position_commit", int("position_commit")?)?,
                event: stored_u64("position_event", int("position_event")?)?,
            },
            payload: row
                .try_get::<Vec<u8>, _>("payload")
                .map_err(Error::backend)?,
            content_type: get_text("content_type")?,
            headers,
            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            last_error: row
                .try_get::<Option<String>, _>("last_error")
                .map_err(Error::backend)?,
            created_at,
        },
    ))
}

fn decode_rows(rows: &[SqliteRow]) -> Result<Vec<OutboxRow>> {
    let mut decoded = rows.iter().map(decode_row).collect::<Result<Vec<_>>>()?;
    decoded.sort_by_key(|(seq, _)| *seq);
    Ok(decoded.into_iter().map(|(_, row)| row).collect())
}

/// Statements past this many rows are split: SQLite binds at most 32766
/// parameters per statement, and a row binds 14.
const ROWS_PER_INSERT: usize = 1000;

#[async_trait]
impl OutboxStore for SqliteOutboxStore {
    async fn write_in(&self, tx: &mut dyn StoreTransaction, rows: &[OutboxRow]) -> Result<bool> {
        let Some(tx) = tx
            .downcast_mut::<SqliteTransaction>()
            .filter(|tx| tx.is_of(&self.store.write_turn))
        else {
            return Ok(false);
        };
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut insert = QueryBuilder::<Sqlite>::new(INSERT);
            let mut encoded = Vec::with_capacity(chunk.len());
            for row in chunk {
                let headers = serde_json::to_string(&row.headers).map_err(Error::backend)?;
                encoded.push((row, headers));
            }
            insert.push_values(&encoded, |mut b, (row, headers)| {
                b.push_bind(row.id.to_string())
                    .push_bind(row.route.as_str())
                    .push_bind(row.publisher.as_str())
                    .push_bind(row.destination.as_str())
                    .push_bind(row.key.as_str())
                    .push_bind(row.event_id.to_string())
                    .push_bind(row.event_type.as_str())
                    .push_bind(row.stream_id.as_str())
                    .push_bind(sql_i64(row.position.commit))
                    .push_bind(sql_i64(row.position.event))
                    .push_bind(row.payload.as_slice())
                    .push_bind(row.content_type.as_str())
                    .push_bind(headers.as_str())
                    .push(now_ms!())
                    .push_bind(row.created_at.timestamp_millis());
            });
            insert
                .build()
                .execute(tx.connection())
                .await
                .map_err(map_error)?;
        }
        Ok(true)
    }

    async fn claim(&self, limit: usize, ttl: Duration) -> Result<OutboxClaim> {
        let token = Uuid::now_v7();
        let rows = sqlx::query(CLAIM)
            .bind(token.to_string())
            .bind(ms(ttl))
            .bind(sql_i64(limit))
            .fetch_all(&self.store.writer)
            .await
            .map_err(map_error)?;
        Ok(OutboxClaim {
            token,
            ttl,
            rows: decode_rows(&rows)?,
        })
    }

    async fn mark_delivered(&self, token: Uuid, ids: &[Uuid]) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut tx = self.store.writer.begin().await.map_err(map_error)?;
        let mut marked = 0;
        for id in ids {
            marked += sqlx::query(MARK_DELIVERED)
                .bind(token.to_string())
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(map_error)?
                .rows_affected();
        }
        tx.commit().await.map_err(map_error)?;
        Ok(marked)
    }

    async fn retry_later(
        &self,
        token: Uuid,
        id: Uuid,
        error: &str,
        delay: Duration,
    ) -> Result<bool> {
        let done = sqlx::query(RETRY_LATER)
            .bind(token.to_string())
            .bind(id.to_string())
            .bind(error)
            .bind(ms(delay))
            .execute(&self.store.writer)
            .await
            .map_err(map_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn dead_letter(&self, token: Uuid, id: Uuid, error: &str) -> Result<bool> {
        let done = sqlx::query(DEAD_LETTER)
            .bind(token.to_string())
            .bind(id.to_string())
            .bind(error)
            .execute(&self.store.writer)
            .await
            .map_err(map_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn release(&self, token: Uuid, ids: &[Uuid]) -> Result<()> {
        for id in ids {
            sqlx::query(RELEASE)
                .bind(token.to_string())
                .bind(id.to_string())
                .execute(&self.store.writer)
                .await
                .map_err(map_error)?;
        }
        Ok(())
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<OutboxRow>> {
        let rows = sqlx::query(DEAD_LETTERS)
            .bind(sql_i64(limit))
            .fetch_all(&self.store.readers)
            .await
            .map_err(map_error)?;
        decode_rows(&rows)
    }

    async fn requeue(&self, id: Uuid) -> Result<bool> {
        let done = sqlx::query(REQUEUE)
            .bind(id.to_string())
            .execute(&self.store.writer)
            .await
            .map_err(map_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn purge_delivered(&self, older_than: Duration) -> Result<u64> {
        let done = sqlx::query(PURGE)
            .bind(ms(older_than))
            .execute(&self.store.writer)
            .await
            .map_err(map_error)?;
        Ok(done.rows_affected())
    }

    async fn status(&self, id: Uuid) -> Result<Option<OutboxStatus>> {
        let status: Option<String> = sqlx::query_scalar(STATUS)
            .bind(id.to_string())
            .fetch_optional(&self.store.readers)
            .await
            .map_err(map_error)?;
        status
            .map(|s| {
                OutboxStatus::parse(&s)
                    .ok_or_else(|| Error::backend(format!("unknown outbox status `{s}`")))
            })
            .transpose()
    }

    async fn counts(&self) -> Result<OutboxCounts> {
        let rows: Vec<(String, i64)> = sqlx::query_as(COUNTS)
            .fetch_all(&self.store.readers)
            .await
            .map_err(map_error)?;
        let mut counts = OutboxCounts::default();
        for (status, n) in rows {
            let n = stored_u64("count", n)?;
            match OutboxStatus::parse(&status) {
                Some(OutboxStatus::Pending) => counts.pending = n,
                Some(OutboxStatus::Delivered) => counts.delivered = n,
                Some(OutboxStatus::DeadLettered) => counts.dead_lettered = n,
                None => {}
            }
        }
        Ok(counts)
    }
}
