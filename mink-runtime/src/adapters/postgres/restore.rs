//! A log restored into another cluster (`pg_dump` and restore, a move to a
//! new server): detecting it and repairing it in one transaction
//! (docs/adr/004-global-ordering.md, "Moving to another cluster").
//!
//! The log is ordered by the writing transaction's id, and readers only read
//! below the oldest running transaction. Transaction ids belong to a
//! cluster: restored rows keep the ids of the cluster they were written on,
//! which a fresh cluster has not reached yet, so its readers see none of
//! them, and its new writes would sort before them.

use sqlx::{AssertSqlSafe, Row};

use super::PostgresStore;
use super::append::map_error;
use crate::error::{Error, Result};
use crate::store::rules::stored_u64;

/// The identity of the PostgreSQL cluster a store runs on: a checkpoint
/// taken on one cluster or timeline is not trusted on another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClusterIdentity {
    /// `pg_control_system().system_identifier`: set by `initdb`, kept by
    /// physical replicas, new after a dump and restore.
    pub system_identifier: u64,
    /// The timeline of the last checkpoint: a promoted standby starts a new
    /// one.
    pub timeline: u32,
}

/// What [`PostgresStore::repair_restored_log`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogRepair {
    /// How many events were renumbered (0 when the log needed no repair).
    pub events: u64,
}

/// The id every repaired row carries: the first normal transaction id,
/// below every id the cluster hands out.
const REPAIRED_TRANSACTION_ID: &str = "3";

impl PostgresStore {
    /// The identity of the cluster the store's pool is connected to.
    pub async fn cluster_identity(&self) -> Result<ClusterIdentity> {
        let row = sqlx::query(
            "SELECT s.system_identifier::text, c.timeline_id \
             FROM pg_control_system() s, pg_control_checkpoint() c",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(map_error)?;
        let system: String = row.try_get(0).map_err(Error::backend)?;
        let timeline: i32 = row.try_get(1).map_err(Error::backend)?;
        Ok(ClusterIdentity {
            system_identifier: system
                .parse()
                .map_err(|e| Error::backend(format!("system identifier `{system}`: {e}")))?,
            timeline: u32::try_from(timeline)
                .map_err(|_| Error::backend(format!("timeline {timeline}")))?,
        })
    }

    /// Whether the events table holds transaction ids this cluster has not
    /// handed out yet: the log was restored from another cluster, and
    /// readers of the log would see none of it until
    /// [`repair_restored_log`](Self::repair_restored_log) runs.
    pub async fn holds_foreign_transaction_ids(&self) -> Result<bool> {
        let sql = format!(
            "SELECT COALESCE(max(transaction_id) >= pg_snapshot_xmax(pg_current_snapshot()), false) \
             FROM {}.events",
            self.schema
        );
        sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_one(&self.pool)
            .await
            .map_err(map_error)
    }

    /// Repairs a log restored from another cluster, in one transaction that
    /// locks the events table: every row gets the same transaction id, below
    /// every id this cluster hands out, and positions are renumbered from 1
    /// in the log's original `(transaction id, position)` order. The log
    /// then reads complete and in its original order, and new appends sort
    /// after it. Stream ids, versions, event ids and payloads do not change.
    ///
    /// Positions change. The projections' checkpoints, rebuild bounds and
    /// dead letters kept in this schema move with their events in the same
    /// transaction, so projections go on where they were. Positions kept
    /// elsewhere (a subscriber's own checkpoint) must not be reused: start
    /// those from the beginning. Does nothing when the log needs no repair.
    pub async fn repair_restored_log(&self) -> Result<LogRepair> {
        let events = format!("{}.events", self.schema);
        let mut tx = self.pool.begin().await.map_err(map_error)?;
        let run = |sql: String| AssertSqlSafe(sql);
        sqlx::query(run(format!("LOCK TABLE {events} IN ACCESS EXCLUSIVE MODE")))
            .execute(&mut *tx)
            .await
            .map_err(map_error)?;
        let foreign: bool = sqlx::query_scalar(run(format!(
            "SELECT COALESCE(max(transaction_id) >= pg_snapshot_xmax(pg_current_snapshot()), false) \
             FROM {events}"
        )))
        .fetch_one(&mut *tx)
        .await
        .map_err(map_error)?;
        if !foreign {
            return Ok(LogRepair { events: 0 });
        }
        let schema = &self.schema;
        // Where each event moves: its rank in the log's original order.
        // Checkpoints, rebuild bounds and dead letters move with it.
        let remap = |table: &str, commit: &str, event: &str| {
            format!(
                "UPDATE {schema}.{table} t SET {commit} = {REPAIRED_TRANSACTION_ID}, {event} = \
                 COALESCE((SELECT max(m.n) FROM mink_repair_map m \
                           WHERE (m.old_tx, m.old) <= (t.{commit}, t.{event})), 0) \
                 WHERE t.{commit} IS NOT NULL AND (t.{commit}, t.{event}) <> (0, 0)"
            )
        };
        let statements = [
            format!(
                "CREATE TEMPORARY TABLE mink_repair_map ON COMMIT DROP AS \
                 SELECT transaction_id::text::bigint AS old_tx, position AS old, \
                 row_number() OVER (ORDER BY transaction_id, position) AS n FROM {events}"
            ),
            "CREATE INDEX ON mink_repair_map (old_tx, old)".to_owned(),
            remap("projections", "checkpoint_commit", "checkpoint_event"),
            remap("projections", "rebuild_from_commit", "rebuild_from_event"),
            remap("projections", "rebuild_to_commit", "rebuild_to_event"),
            remap(
                "projection_dead_letters",
                "position_commit",
                "position_event",
            ),
            format!("ALTER TABLE {events} ALTER COLUMN position SET GENERATED BY DEFAULT"),
            // Negative first, so no new number meets an old one in the
            // primary key on the way.
            format!(
                "UPDATE {events} e SET position = -o.n FROM mink_repair_map o \
                 WHERE e.position = o.old"
            ),
            format!(
                "UPDATE {events} SET position = -position, \
                 transaction_id = '{REPAIRED_TRANSACTION_ID}'::xid8"
            ),
            format!("ALTER TABLE {events} ALTER COLUMN position SET GENERATED ALWAYS"),
            format!(
                "SELECT setval(pg_get_serial_sequence('{events}', 'position'), \
                 GREATEST((SELECT max(position) FROM {events}), 1))"
            ),
        ];
        for sql in statements {
            sqlx::query(run(sql))
                .execute(&mut *tx)
                .await
                .map_err(map_error)?;
        }
        let count: i64 = sqlx::query_scalar(run(format!("SELECT count(*) FROM {events}")))
            .fetch_one(&mut *tx)
            .await
            .map_err(map_error)?;
        tx.commit().await.map_err(map_error)?;
        Ok(LogRepair {
            events: stored_u64("count", count)?,
        })
    }
}
