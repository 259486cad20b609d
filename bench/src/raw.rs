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

/// The system name of W1 on the minimal table.
pub const MINIMAL: &str = "raw/minimal";

/// The indexes of the store's events table, by their columns, with the
/// name the report gives each (`docs/adr/022-event-table-indexes.md`).
pub const STORE_INDEXES: [(&str, &str); 4] = [
    ("position", "the primary key (position)"),
    ("stream_id,version", "unique (stream_id, version)"),
    ("event_id", "unique (event_id)"),
    (
        "transaction_id,position",
        "the log order (transaction_id, position)",
    ),
];

/// The fewest columns and indexes that hold the same events: the event's
/// id, stream, version, type and payload, and one index, the primary key
/// on (stream_id, version) that every appender needs to refuse a second
/// event at one version. No global position, no commit number, no time,
/// no metadata, no duplicate-id check.
pub const MINIMAL_TABLE: &str = "(event_id uuid NOT NULL, stream_id text NOT NULL, \
     version bigint NOT NULL, event_type text NOT NULL, payload jsonb NOT NULL, \
     PRIMARY KEY (stream_id, version))";

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
        self.single_inserts_into("events", true, plan, clients)
            .await
    }

    /// The single-row INSERT of W1 into `table` of the baseline's schema;
    /// `schema_version` is written only when the table has that column.
    async fn single_inserts_into(
        &self,
        table: &str,
        with_schema_version: bool,
        plan: &Plan,
        clients: usize,
    ) -> Result<Stats, String> {
        let (column, value) = if with_schema_version {
            (", schema_version", ", 1")
        } else {
            ("", "")
        };
        let script = format!(
            "\\set stream random(1, {streams})\n\
             INSERT INTO {raw}.{table} (event_id, stream_id, version, event_type{column}, payload) \
             VALUES (gen_random_uuid(), 'cart-raw-' || :stream::text, nextval('{raw}.versions'), \
             'ItemAdded'{value}, '{payload}'::jsonb);\n",
            streams = shape::STREAMS,
            raw = self.schema,
            payload = shape::line_item_sql_literal(1),
        );
        self.run(&format!("w1-{table}"), &script, plan, clients, 1)
            .await
    }

    /// W1's baseline on the *minimal* event table: the fewest columns and
    /// indexes that hold the same events ([`MINIMAL_TABLE`]). What the
    /// store's table costs beyond it is the price of its schema.
    pub async fn minimal_single_inserts(
        &self,
        store: &PostgresStore,
        plan: &Plan,
        clients: usize,
    ) -> Result<Stats, String> {
        let ddl = format!(
            "DROP TABLE IF EXISTS {raw}.minimal; CREATE TABLE {raw}.minimal {MINIMAL_TABLE}",
            raw = self.schema
        );
        self.execute(store, &ddl, "creating the minimal table")
            .await?;
        let stats = self
            .single_inserts_into("minimal", false, plan, clients)
            .await;
        let drop = format!("DROP TABLE IF EXISTS {}.minimal", self.schema);
        self.execute(store, &drop, "dropping the minimal table")
            .await?;
        stats
    }

    /// The write cost of each index of the store's events table: W1's
    /// single-row INSERT at `clients` connections into copies of the table
    /// with all of its indexes, without each one in turn, without any, and
    /// into the minimal table; each figure comes with its case name.
    pub async fn index_costs(
        &self,
        store: &PostgresStore,
        plan: &Plan,
        clients: usize,
    ) -> Result<Vec<(String, Stats)>, String> {
        let mut cases: Vec<(String, Vec<&str>)> = vec![("all four indexes".to_owned(), vec![])];
        for (columns, name) in STORE_INDEXES {
            cases.push((format!("without {name}"), vec![columns]));
        }
        cases.push((
            "no index".to_owned(),
            STORE_INDEXES.iter().map(|(c, _)| *c).collect(),
        ));
        let mut out = Vec::new();
        for (case, without) in cases {
            let ddl = format!(
                "DROP TABLE IF EXISTS {raw}.variant; \
                 CREATE TABLE {raw}.variant (LIKE {store}.events INCLUDING ALL);",
                raw = self.schema,
                store = self.store_schema,
            );
            self.execute(store, &ddl, "creating an index-cost table")
                .await?;
            for columns in without {
                self.drop_index_on(store, "variant", columns).await?;
            }
            let stats = self
                .single_inserts_into("variant", true, plan, clients)
                .await?;
            out.push((case, stats));
        }
        let drop = format!("DROP TABLE IF EXISTS {}.variant", self.schema);
        self.execute(store, &drop, "dropping the index-cost table")
            .await?;
        out.push((
            "minimal table".to_owned(),
            self.minimal_single_inserts(store, plan, clients).await?,
        ));
        Ok(out)
    }

    /// Drops the index of `table` (in the baseline's schema) over exactly
    /// `columns` (comma-separated, in order), or the constraint it backs.
    async fn drop_index_on(
        &self,
        store: &PostgresStore,
        table: &str,
        columns: &str,
    ) -> Result<(), String> {
        let found: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT i.indexrelid::regclass::text, c.conname::text \
             FROM pg_index i \
             LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid \
             WHERE i.indrelid = $1::regclass \
               AND array_to_string(ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY AS k(n, o) \
                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o), ',') = $2",
        )
        .bind(format!("{}.{table}", self.schema))
        .bind(columns)
        .fetch_optional(store.pool())
        .await
        .or_say("finding an index to drop")?;
        let Some((index, constraint)) = found else {
            return Err(format!("{table} has no index on ({columns})"));
        };
        let ddl = match constraint {
            Some(name) => format!(
                "ALTER TABLE {}.{table} DROP CONSTRAINT \"{name}\"",
                self.schema
            ),
            None => format!("DROP INDEX {index}"),
        };
        self.execute(store, &ddl, "dropping an index").await
    }

    async fn execute(&self, store: &PostgresStore, sql: &str, what: &str) -> Result<(), String> {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(store.pool())
            .await
            .or_say(what)?;
        Ok(())
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
