//! The raw PostgreSQL baseline: the same work as W1, W2 and W4 done by
//! `pgbench` with custom scripts, on a table shaped exactly like the store's
//! (`CREATE TABLE … (LIKE <store>.events INCLUDING ALL)`: same columns,
//! defaults, constraints and indexes). What mink adds on top of these
//! figures is its own cost: the driver, the statement, the checks.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hdrhistogram::Histogram;
use mink::adapters::postgres::sqlx;
use mink::prelude::*;

use crate::OrSay;
use crate::measure::{Plan, Stats, histogram, median, stats_of};
use crate::shape;

/// The system name in the report.
pub const SYSTEM: &str = "raw/postgres";

/// A table for pgbench next to a store's, and a place for its scripts.
pub struct RawBaseline {
    url: String,
    store_schema: String,
    schema: String,
    dir: PathBuf,
    pgbench: String,
}

/// The `pgbench` to run: `$PGBENCH`, else the one on `PATH`, else
/// PostgreSQL 15's.
fn pgbench_path() -> String {
    if let Ok(p) = std::env::var("PGBENCH") {
        return p;
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("pgbench").is_file()))
        .unwrap_or(false);
    if on_path {
        "pgbench".to_owned()
    } else {
        "/usr/lib/postgresql/15/bin/pgbench".to_owned()
    }
}

impl RawBaseline {
    /// Creates `<schema>_raw` with a copy of `store`'s events table, empty.
    pub async fn create(url: &str, store: &PostgresStore) -> Result<RawBaseline, String> {
        let schema = format!("{}_raw", store.schema());
        let ddl = format!(
            "CREATE SCHEMA {schema};
             CREATE TABLE {schema}.events (LIKE {store}.events INCLUDING ALL);
             CREATE SEQUENCE {schema}.versions;",
            store = store.schema()
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(ddl))
            .execute(store.pool())
            .await
            .or_say("creating the raw baseline's table")?;
        let dir = std::env::temp_dir().join(&schema);
        std::fs::create_dir_all(&dir).or_say("creating the pgbench directory")?;
        Ok(RawBaseline {
            url: url.to_owned(),
            store_schema: store.schema().to_owned(),
            schema,
            dir,
            pgbench: pgbench_path(),
        })
    }

    /// Drops the baseline's schema and scripts.
    pub async fn drop(self, store: &PostgresStore) -> Result<(), String> {
        let _ = std::fs::remove_dir_all(&self.dir);
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {} CASCADE",
            self.schema
        )))
        .execute(store.pool())
        .await
        .or_say("dropping the raw baseline's schema")?;
        Ok(())
    }

    /// W1's baseline: single-row INSERT transactions to random streams, at
    /// `clients` concurrent connections. Events/s = transactions/s.
    pub async fn single_inserts(&self, plan: &Plan, clients: usize) -> Result<Stats, String> {
        let script = format!(
            "\\set stream random(1, {streams})\n\
             INSERT INTO {raw}.events (event_id, stream_id, version, event_type, schema_version, payload) \
             VALUES (gen_random_uuid(), 'cart-raw-' || :stream::text, nextval('{raw}.versions'), \
             'ItemAdded', 1, '{payload}'::jsonb);\n",
            streams = shape::STREAMS,
            raw = self.schema,
            payload = shape::line_item_sql_literal(1),
        );
        self.run("w1", &script, plan, clients, 1).await
    }

    /// W2's baseline: one `INSERT … SELECT` of `batch` rows per transaction,
    /// each client on a stream of its own.
    pub async fn batch_inserts(
        &self,
        plan: &Plan,
        batch: usize,
        clients: usize,
    ) -> Result<Stats, String> {
        let script = format!(
            "INSERT INTO {raw}.events (event_id, stream_id, version, event_type, schema_version, payload) \
             SELECT gen_random_uuid(), 'cart-raw-b' || :client_id::text, nextval('{raw}.versions'), \
             'ItemAdded', 1, '{payload}'::jsonb FROM generate_series(1, {batch});\n",
            raw = self.schema,
            payload = shape::line_item_sql_literal(1),
        );
        self.run(&format!("w2b{batch}"), &script, plan, clients, batch as u64)
            .await
    }

    /// W4's baseline: the store's own stream-reading SELECT on the cart of
    /// `size` events that W4 seeded in the store's table.
    pub async fn stream_select(&self, plan: &Plan, size: usize) -> Result<Stats, String> {
        let stream =
            <crate::domain::Cart as mink::Aggregate>::stream_id(&crate::load::cart_id(size));
        // The columns and clauses of the store's `read_stream` statement.
        let script = format!(
            "SELECT event_id, stream_id, version, transaction_id::text::bigint AS commit, \
             position, event_type, schema_version, payload::text, metadata, created_at \
             FROM {store}.events WHERE stream_id = '{stream}' AND version >= 1 \
             ORDER BY version LIMIT 4096;\n",
            store = self.store_schema,
        );
        self.run(&format!("w4s{size}"), &script, plan, 1, 1).await
    }

    /// W5's baseline: the store's global-log SELECT for the first page of
    /// `page` events of the log in `log_schema`. Events/s = pages/s × `page`.
    pub async fn log_page_select(
        &self,
        plan: &Plan,
        log_schema: &str,
        page: usize,
    ) -> Result<Stats, String> {
        // The columns and clauses of the store's `read_all` statement, with
        // its empty filters spelled as literals.
        let script = format!(
            "SELECT event_id, stream_id, version, transaction_id::text::bigint AS commit, \
             position, event_type, schema_version, payload::text, metadata, created_at \
             FROM {log_schema}.events \
             WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot()) \
               AND (transaction_id, position) > ('0'::xid8, 0::bigint) \
               AND (cardinality('{{}}'::text[]) = 0 OR event_type = ANY('{{}}'::text[])) \
               AND (cardinality('{{}}'::text[]) = 0 OR split_part(stream_id, '-', 1) = ANY('{{}}'::text[])) \
               AND (cardinality('{{}}'::text[]) = 0 OR stream_id = ANY('{{}}'::text[])) \
             ORDER BY transaction_id, position LIMIT {page};\n"
        );
        self.run("w5", &script, plan, 1, page as u64).await
    }

    /// Runs `script`: a warm-up, then `plan.runs` timed runs; latency comes
    /// from pgbench's per-transaction log.
    async fn run(
        &self,
        name: &str,
        script: &str,
        plan: &Plan,
        clients: usize,
        events_per_tx: u64,
    ) -> Result<Stats, String> {
        let script_path = self.dir.join(format!("{name}.sql"));
        std::fs::write(&script_path, script).or_say("writing a pgbench script")?;
        self.pgbench(&script_path, clients, plan.warmup, None)
            .await?;
        let mut runs = Vec::new();
        for i in 0..plan.runs.max(1) {
            let log_dir = self.dir.join(format!("{name}-log{i}"));
            std::fs::create_dir_all(&log_dir).or_say("creating a pgbench log directory")?;
            let tps = self
                .pgbench(&script_path, clients, plan.window, Some(&log_dir))
                .await?;
            let hist = read_latency_logs(&log_dir)?;
            let _ = std::fs::remove_dir_all(&log_dir);
            let mut stats = stats_of(&hist, 0, 0, Duration::from_secs(1));
            stats.ops_per_sec = tps;
            stats.events_per_sec = tps * events_per_tx as f64;
            runs.push(stats);
        }
        Ok(median(&runs))
    }

    /// One pgbench run; returns its transactions per second.
    async fn pgbench(
        &self,
        script: &Path,
        clients: usize,
        length: Duration,
        log_dir: Option<&Path>,
    ) -> Result<f64, String> {
        let secs = length.as_secs_f64().ceil().max(1.0) as u64;
        let mut cmd = tokio::process::Command::new(&self.pgbench);
        cmd.arg("--no-vacuum")
            .arg("--protocol=prepared")
            .arg(format!("--client={clients}"))
            .arg(format!("--jobs={}", clients.min(2)))
            .arg(format!("--time={secs}"))
            .arg(format!("--file={}", script.display()));
        if let Some(dir) = log_dir {
            cmd.arg("--log")
                .arg(format!("--log-prefix={}", dir.join("tx").display()));
        }
        cmd.arg(&self.url);
        let out = cmd
            .output()
            .await
            .or_say(&format!("running {}", self.pgbench))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!(
                "pgbench failed: {}\n{stdout}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        stdout
            .lines()
            .find_map(|l| l.strip_prefix("tps = "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("no `tps = ` line in pgbench's output:\n{stdout}"))
    }
}

/// Reads pgbench's per-transaction logs (`client tx latency_us script
/// epoch us` per line) into a histogram of latencies.
fn read_latency_logs(dir: &Path) -> Result<Histogram<u64>, String> {
    let mut hist = histogram();
    for entry in std::fs::read_dir(dir).or_say("reading pgbench logs")? {
        let path = entry.or_say("reading pgbench logs")?.path();
        let text = std::fs::read_to_string(&path).or_say("reading a pgbench log")?;
        for line in text.lines() {
            if let Some(us) = line
                .split_whitespace()
                .nth(2)
                .and_then(|f| f.parse::<u64>().ok())
            {
                hist.saturating_record(us.max(1));
            }
        }
    }
    Ok(hist)
}
