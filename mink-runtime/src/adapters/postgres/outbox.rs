//! The outbox of a [`PostgresStore`](super::PostgresStore): the table
//! `<schema>.outbox`, written in the append's transaction with one
//! statement, claimed by relays with `FOR UPDATE SKIP LOCKED`, by the
//! database's clock (docs/adr/017-outbox.md).
//!
//! A claim is one `UPDATE` whose subquery takes, in write order, the
//! messages that are due, not held by a live claim, and have no earlier
//! pending message of their key; rows another relay is claiming at that
//! moment are skipped, never waited for. Each claim carries a token and an
//! expiry, and every later update checks both, so a relay that died or
//! stalled past its claim changes nothing once another relay took over.
//!
//! Relays are woken by the store's log notifications (`LISTEN` on
//! [`PostgresStore::log_channel`](super::PostgresStore)), sent after each
//! commit and outside its transaction; they also poll.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{AssertSqlSafe, Postgres, Row};
use uuid::Uuid;

use super::append::map_error;
use super::{PostgresStore, PostgresTransaction};
use crate::error::{Error, Result};
use crate::event::Position;
use crate::store::rules::{sql_i64, stored_u64};
use crate::store::{
    OutboxClaim, OutboxCounts, OutboxRow, OutboxStatus, OutboxStore, StoreTransaction,
};

/// The columns `decode_row` reads.
const COLUMNS: &str = "seq, id, route, publisher, destination, msg_key, event_id, event_type, \
     stream_id, position_commit, position_event, payload, content_type, headers::text AS headers, \
     attempts, last_error, created_at";

/// The longest delay or claim: a longer one would overflow PostgreSQL's
/// intervals, and nobody needs one.
const MAX_INTERVAL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The statements of the outbox, qualified with the store's schema.
#[derive(Debug)]
struct Statements {
    insert: Arc<str>,
    claim: Arc<str>,
    mark_delivered: Arc<str>,
    retry_later: Arc<str>,
    dead_letter: Arc<str>,
    release: Arc<str>,
    dead_letters: Arc<str>,
    requeue: Arc<str>,
    purge: Arc<str>,
    status: Arc<str>,
    counts: Arc<str>,
}

impl Statements {
    /// Statements on `<schema>.outbox`, `schema` a name already checked by
    /// `builder::check_schema_name` (so it needs no quoting).
    fn new(schema: &str) -> Statements {
        let o = format!("{schema}.outbox");
        // `$1` the claim's token, `$2` the message ids: messages that claim
        // still holds.
        let held = "claim_token = $1 AND id = ANY($2) AND status = 'pending' \
                    AND claimed_until > now()";
        Statements {
            insert: format!(
                "INSERT INTO {o} (id, route, publisher, destination, msg_key, event_id, \
                 event_type, stream_id, position_commit, position_event, payload, content_type, \
                 headers, created_at) \
                 SELECT id, route, publisher, destination, msg_key, event_id, event_type, \
                 stream_id, position_commit, position_event, payload, content_type, \
                 headers::jsonb, created_at FROM UNNEST($1::uuid[], $2::text[], $3::text[], \
                 $4::text[], $5::text[], $6::uuid[], $7::text[], $8::text[], $9::int8[], \
                 $10::int8[], $11::bytea[], $12::text[], $13::text[], $14::timestamptz[]) \
                 AS m(id, route, publisher, destination, msg_key, event_id, event_type, \
                 stream_id, position_commit, position_event, payload, content_type, headers, \
                 created_at)"
            )
            .into(),
            // `$1` token, `$2` claim in seconds, `$3` limit.
            claim: format!(
                "UPDATE {o} SET claim_token = $1, \
                 claimed_until = now() + make_interval(secs => $2) \
                 WHERE seq IN (SELECT m.seq FROM {o} m \
                 WHERE m.status = 'pending' AND m.next_attempt_at <= now() \
                 AND (m.claimed_until IS NULL OR m.claimed_until <= now()) \
                 AND NOT EXISTS (SELECT 1 FROM {o} e WHERE e.status = 'pending' \
                 AND e.msg_key = m.msg_key AND e.seq < m.seq) \
                 ORDER BY m.seq LIMIT $3 FOR UPDATE SKIP LOCKED) \
                 RETURNING {COLUMNS}"
            )
            .into(),
            mark_delivered: format!(
                "UPDATE {o} SET status = 'delivered', delivered_at = now(), claim_token = NULL, \
                 claimed_until = NULL WHERE {held}"
            )
            .into(),
            // `$3` error, `$4` delay in seconds.
            retry_later: format!(
                "UPDATE {o} SET attempts = attempts + 1, last_error = $3, \
                 next_attempt_at = now() + make_interval(secs => $4), claim_token = NULL, \
                 claimed_until = NULL WHERE {held}"
            )
            .into(),
            // `$3` error.
            dead_letter: format!(
                "UPDATE {o} SET status = 'dead', attempts = attempts + 1, last_error = $3, \
                 claim_token = NULL, claimed_until = NULL WHERE {held}"
            )
            .into(),
            release: format!(
                "UPDATE {o} SET claim_token = NULL, claimed_until = NULL WHERE {held}"
            )
            .into(),
            // `$1` limit.
            dead_letters: format!(
                "SELECT {COLUMNS} FROM {o} WHERE status = 'dead' ORDER BY seq LIMIT $1"
            )
            .into(),
            // `$1` id.
            requeue: format!(
                "UPDATE {o} SET status = 'pending', attempts = 0, next_attempt_at = now(), \
                 claim_token = NULL, claimed_until = NULL WHERE id = $1 AND status = 'dead'"
            )
            .into(),
            // `$1` age in seconds.
            purge: format!(
                "DELETE FROM {o} WHERE status = 'delivered' \
                 AND delivered_at <= now() - make_interval(secs => $1)"
            )
            .into(),
            status: format!("SELECT status FROM {o} WHERE id = $1").into(),
            counts: format!("SELECT status, count(*) FROM {o} GROUP BY status").into(),
        }
    }
}

/// The table `<schema>.outbox` of a PostgreSQL store, from its
/// `outbox_store`: kept in its schema, on its pool.
#[derive(Debug, Clone)]
pub struct PostgresOutboxStore {
    store: PostgresStore,
    statements: Arc<Statements>,
}

impl PostgresOutboxStore {
    pub(super) fn new(store: PostgresStore) -> Self {
        let statements = Arc::new(Statements::new(store.schema()));
        PostgresOutboxStore { store, statements }
    }
}

fn query(statement: &Arc<str>) -> sqlx::query::Query<'static, Postgres, PgArguments> {
    sqlx::query(AssertSqlSafe(Arc::clone(statement)))
}

fn secs(d: Duration) -> f64 {
    d.min(MAX_INTERVAL).as_secs_f64()
}

/// Text for a `text` column: PostgreSQL refuses NUL characters in text.
fn storable(text: &str) -> String {
    text.replace('\0', "\u{fffd}")
}

fn decode_row(row: &PgRow) -> Result<(i64, OutboxRow)> {
    let headers_text: String = row.try_get("headers").map_err(Error::backend)?;
    let headers: BTreeMap<String, String> = serde_json::from_str(&headers_text)
        .map_err(|e| Error::backend(format!("outbox headers `{headers_text}`: {e}")))?;
    let int = |column: &'static str| -> Result<i64> {
        row.try_get::<i64, _>(column).map_err(Error::backend)
    };
    let attempts: i32 = row.try_get("attempts").map_err(Error::backend)?;
    let created_at: DateTime<Utc> = row.try_get("created_at").map_err(Error::backend)?;
    Ok((
        int("seq")?,
        OutboxRow {
            id: row.try_get("id").map_err(Error::backend)?,
            route: row.try_get("route").map_err(Error::backend)?,
            publisher: row.try_get("publisher").map_err(Error::backend)?,
            destination: row.try_get("destination").map_err(Error::backend)?,
            key: row.try_get("msg_key").map_err(Error::backend)?,
            event_id: row.try_get("event_id").map_err(Error::backend)?,
            event_type: row.try_get("event_type").map_err(Error::backend)?,
            stream_id: row.try_get("stream_id").map_err(Error::backend)?,
            position: Position {
                commit: stored_u64("position_commit", int("position_commit")?)?,
                event: stored_u64("position_event", int("position_event")?)?,
            },
            payload: row.try_get("payload").map_err(Error::backend)?,
            content_type: row.try_get("content_type").map_err(Error::backend)?,
            headers,
            attempts: u32::try_from(attempts).unwrap_or(0),
            last_error: row.try_get("last_error").map_err(Error::backend)?,
            created_at,
        },
    ))
}

fn decode_rows(rows: &[PgRow]) -> Result<Vec<OutboxRow>> {
    let mut decoded = rows.iter().map(decode_row).collect::<Result<Vec<_>>>()?;
    decoded.sort_by_key(|(seq, _)| *seq);
    Ok(decoded.into_iter().map(|(_, row)| row).collect())
}

#[async_trait]
impl OutboxStore for PostgresOutboxStore {
    async fn write_in(&self, tx: &mut dyn StoreTransaction, rows: &[OutboxRow]) -> Result<bool> {
        let Some(connection) = tx
            .downcast_mut::<PostgresTransaction>()
            .and_then(|tx| tx.connection_of(&self.store.statements))
        else {
            return Ok(false);
        };
        let mut headers = Vec::with_capacity(rows.len());
        for row in rows {
            headers.push(serde_json::to_string(&row.headers).map_err(Error::backend)?);
        }
        query(&self.statements.insert)
            .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| storable(&r.route)).collect::<Vec<_>>())
            .bind(
                rows.iter()
                    .map(|r| storable(&r.publisher))
                    .collect::<Vec<_>>(),
            )
            .bind(
                rows.iter()
                    .map(|r| storable(&r.destination))
                    .collect::<Vec<_>>(),
            )
            .bind(rows.iter().map(|r| storable(&r.key)).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.event_id).collect::<Vec<_>>())
            .bind(
                rows.iter()
                    .map(|r| r.event_type.clone())
                    .collect::<Vec<_>>(),
            )
            .bind(rows.iter().map(|r| r.stream_id.clone()).collect::<Vec<_>>())
            .bind(
                rows.iter()
                    .map(|r| sql_i64(r.position.commit))
                    .collect::<Vec<_>>(),
            )
            .bind(
                rows.iter()
                    .map(|r| sql_i64(r.position.event))
                    .collect::<Vec<_>>(),
            )
            .bind(rows.iter().map(|r| r.payload.clone()).collect::<Vec<_>>())
            .bind(
                rows.iter()
                    .map(|r| storable(&r.content_type))
                    .collect::<Vec<_>>(),
            )
            .bind(headers)
            .bind(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
            .execute(connection)
            .await
            .map_err(map_error)?;
        Ok(true)
    }

    async fn claim(&self, limit: usize, ttl: Duration) -> Result<OutboxClaim> {
        let token = Uuid::now_v7();
        let rows = query(&self.statements.claim)
            .bind(token)
            .bind(secs(ttl))
            .bind(sql_i64(limit))
            .fetch_all(&self.store.pool)
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
        let done = query(&self.statements.mark_delivered)
            .bind(token)
            .bind(ids.to_vec())
            .execute(&self.store.pool)
            .await
            .map_err(map_error)?;
        Ok(done.rows_affected())
    }

    async fn retry_later(
        &self,
        token: Uuid,
        id: Uuid,
        error: &str,
        delay: Duration,
    ) -> Result<bool> {
        let done = query(&self.statements.retry_later)
            .bind(token)
            .bind(vec![id])
            .bind(storable(error))
            .bind(secs(delay))
            .execute(&self.store.pool)
            .await
            .map_err(map_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn dead_letter(&self, token: Uuid, id: Uuid, error: &str) -> Result<bool> {
        let done = query(&self.statements.dead_letter)
            .bind(token)
            .bind(vec![id])
            .bind(storable(error))
            .execute(&self.store.pool)
            .await
            .map_err(map_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn release(&self, token: Uuid, ids: &[Uuid]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        query(&self.statements.release)
            .bind(token)
            .bind(ids.to_vec())
            .execute(&self.store.pool)
            .await
            .map_err(map_error)?;
        Ok(())
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<OutboxRow>> {
        let rows = query(&self.statements.dead_letters)
            .bind(sql_i64(limit))
            .fetch_all(&self.store.pool)
            .await
            .map_err(map_error)?;
        decode_rows(&rows)
    }

    async fn requeue(&self, id: Uuid) -> Result<bool> {
        let done = query(&self.statements.requeue)
            .bind(id)
            .execute(&self.store.pool)
            .await
            .map_err(map_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn purge_delivered(&self, older_than: Duration) -> Result<u64> {
        let done = query(&self.statements.purge)
            .bind(secs(older_than))
            .execute(&self.store.pool)
            .await
            .map_err(map_error)?;
        Ok(done.rows_affected())
    }

    async fn status(&self, id: Uuid) -> Result<Option<OutboxStatus>> {
        let status: Option<String> =
            sqlx::query_scalar(AssertSqlSafe(Arc::clone(&self.statements.status)))
                .bind(id)
                .fetch_optional(&self.store.pool)
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
        let rows: Vec<(String, i64)> =
            sqlx::query_as(AssertSqlSafe(Arc::clone(&self.statements.counts)))
                .fetch_all(&self.store.pool)
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
