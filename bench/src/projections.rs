//! W6 and W7, the read side: an async projection catching up on a large
//! log through the [`ProjectionEngine`] (W6), and the time from an append's
//! commit to its delivery on a live subscription (W7).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use mink::adapters::postgres::{PostgresTransaction, sqlx};
use mink::adapters::sqlite::SqliteTransaction;
use mink::prelude::*;
use mink::projection::{
    HandlerError, Projection, ProjectionContext, ProjectionEngine, ProjectionKind,
    ProjectionOptions,
};
use mink::subscription::{StartFrom, SubscriptionItem, subscribe_all};
use mink::{ReadFilter, RecordedEvent};
use serde::Serialize;

use crate::append::new_event;
use crate::measure::{Plan, histogram};
use crate::raw::RawBaseline;
use crate::{OrSay, catchup, stores};

/// W6 batch sizes.
pub const CATCH_UP_BATCHES: [usize; 2] = [500, 5_000];
/// W6 log size on SQLite (PostgreSQL uses W5's 1M).
pub const SQLITE_LOG_EVENTS: u64 = 200_000;
/// W6: how long a case may run before it is cut short and its rate taken
/// over what it applied.
pub const CATCH_UP_CAP: Duration = Duration::from_secs(120);
/// W6: the cap for the upsert-per-event case, which is slow by design.
pub const PER_EVENT_CAP: Duration = Duration::from_secs(20);
/// W7 appends per second.
pub const LIVE_RATE: u64 = 1_000;
/// W7 length of the paced run.
pub const LIVE_SECONDS: u64 = 10;

/// What a W6 projection writes in the checkpoint's transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// Nothing: the transaction holds only the checkpoint update.
    CheckpointOnly,
    /// One upsert of the counter row per batch, issued on the batch's last
    /// event (the handler counts events; in a catch-up over a quiet log
    /// every batch is full, which the final count verifies).
    PerBatch,
    /// One upsert of the counter row per event.
    PerEvent,
}

impl Write {
    /// Every mode, in report order.
    pub const ALL: [Write; 3] = [Write::CheckpointOnly, Write::PerBatch, Write::PerEvent];

    /// How the report names it.
    pub fn label(self) -> &'static str {
        match self {
            Write::CheckpointOnly => "checkpoint only",
            Write::PerBatch => "upsert per batch",
            Write::PerEvent => "upsert per event",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Write::CheckpointOnly => "ckpt",
            Write::PerBatch => "batch",
            Write::PerEvent => "event",
        }
    }
}

/// One W6 case's result.
#[derive(Debug, Clone, Serialize)]
pub struct CatchUpFigure {
    /// `mink/postgres` or `mink/sqlite`.
    pub system: String,
    /// Events in the log.
    pub log_events: u64,
    /// The projection's batch size.
    pub batch: usize,
    /// What the handler writes ([`Write::label`]).
    pub write: String,
    /// Events applied (the checkpoint's count).
    pub events: u64,
    /// From starting the engine to the checkpoint reaching the head (or to
    /// the stop after the cap).
    pub seconds: f64,
    /// `events / seconds`.
    pub events_per_sec: f64,
    /// Whether it reached the head before its cap.
    pub caught_up: bool,
    /// The raw page SELECT with pages of `batch`, same run (PostgreSQL).
    pub raw_events_per_sec: Option<f64>,
}

/// One W7 case's result. Latencies in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyFigure {
    /// `mink/postgres` or `mink/sqlite`.
    pub system: String,
    /// Who subscribes: the writing store instance or a second one.
    pub case: String,
    /// Appends made (one event each).
    pub appended: u64,
    /// The appends' achieved rate, per second.
    pub append_rate: f64,
    /// Distinct events delivered.
    pub delivered: u64,
    /// Appended events never delivered.
    pub skipped: u64,
    /// Deliveries beyond the first of an event.
    pub duplicated: u64,
    /// Events delivered before their append call had returned (latency 0).
    pub before_return: u64,
    /// Median latency.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

/// The W6 and W7 figures of a run, and their Markdown.
#[derive(Debug, Default, Serialize)]
pub struct ReadSide {
    /// W6 cases, in the order measured.
    pub catch_up: Vec<CatchUpFigure>,
    /// W7 cases, in the order measured.
    pub live: Vec<LatencyFigure>,
}

impl ReadSide {
    /// The two tables, or nothing when neither workload ran.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        if !self.catch_up.is_empty() {
            let _ = writeln!(out, "\n### W6: projection catch-up (events/s)\n");
            let _ = writeln!(
                out,
                "| store | log | batch | handler writes | events/s | raw page SELECT | mink ÷ raw | applied | s |"
            );
            let _ = writeln!(out, "|---|--:|--:|---|--:|--:|--:|--:|--:|");
            for f in &self.catch_up {
                let raw = f.raw_events_per_sec;
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {:.0} | {} | {} | {}{} | {:.1} |",
                    f.system,
                    f.log_events,
                    f.batch,
                    f.write,
                    f.events_per_sec,
                    raw.map_or("–".to_owned(), |r| format!("{r:.0}")),
                    raw.filter(|r| *r > 0.0).map_or("–".to_owned(), |r| format!(
                        "{:.2}x",
                        f.events_per_sec / r
                    )),
                    f.events,
                    if f.caught_up { "" } else { " (cut at cap)" },
                    f.seconds,
                );
            }
        }
        if !self.live.is_empty() {
            let _ = writeln!(out, "\n### W7: live delivery, commit to subscriber (ms)\n");
            let _ = writeln!(
                out,
                "| store | subscriber | appends | rate/s | p50 | p95 | p99 | max | skipped | duplicated | before return |"
            );
            let _ = writeln!(out, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
            for f in &self.live {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} | {} |",
                    f.system,
                    f.case,
                    f.appended,
                    f.append_rate,
                    f.p50_ms,
                    f.p95_ms,
                    f.p99_ms,
                    f.max_ms,
                    f.skipped,
                    f.duplicated,
                    f.before_return,
                );
            }
        }
        out
    }
}

impl ReadSide {
    /// The read side's goals, each met or missed: W6 at least 100k events/s
    /// on PostgreSQL (the cases that write at most once per batch), W7 a
    /// p99 under 20 ms with nothing skipped or duplicated.
    pub fn targets(&self) -> Vec<String> {
        let verdict = |met: bool| if met { "met" } else { "MISSED" };
        let mut lines = Vec::new();
        for f in &self.catch_up {
            if f.system != "mink/postgres" || f.write == Write::PerEvent.label() {
                continue;
            }
            lines.push(format!(
                "W6 {}, batch {}, {}: {:.0} events/s (goal >= 100000) — {}",
                f.system,
                f.batch,
                f.write,
                f.events_per_sec,
                verdict(f.events_per_sec >= 100_000.0)
            ));
        }
        for f in &self.live {
            lines.push(format!(
                "W7 {}, {}: p99 {:.2} ms (goal < 20 ms), {} skipped, {} duplicated (goal 0) — {}",
                f.system,
                f.case,
                f.p99_ms,
                f.skipped,
                f.duplicated,
                verdict(f.p99_ms < 20.0 && f.skipped == 0 && f.duplicated == 0)
            ));
        }
        lines
    }
}

/// Where the W6 counter rows live.
#[derive(Debug, Clone)]
pub enum CounterTable {
    /// `<schema>.w6_counts`, written through [`PostgresTransaction`].
    Postgres(String),
    /// `w6_counts` in the store's file, written through
    /// [`SqliteTransaction`].
    Sqlite,
}

impl CounterTable {
    fn upsert(&self) -> String {
        match self {
            CounterTable::Postgres(schema) => format!(
                "INSERT INTO {schema}.w6_counts AS c (projection, n) VALUES ($1, $2) \
                 ON CONFLICT (projection) DO UPDATE SET n = c.n + EXCLUDED.n"
            ),
            CounterTable::Sqlite => "INSERT INTO w6_counts (projection, n) VALUES ($1, $2) \
                 ON CONFLICT (projection) DO UPDATE SET n = n + excluded.n"
                .to_owned(),
        }
    }

    /// Creates the table on PostgreSQL.
    pub async fn create_postgres(store: &PostgresStore) -> Result<CounterTable, String> {
        let schema = store.schema().to_owned();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE {schema}.w6_counts (projection text PRIMARY KEY, n bigint NOT NULL)"
        )))
        .execute(store.pool())
        .await
        .or_say("creating the W6 counter table")?;
        Ok(CounterTable::Postgres(schema))
    }

    /// Creates the table in the SQLite file at `path`, over a connection of
    /// its own (the store does not lend its pool).
    pub async fn create_sqlite(path: &Path) -> Result<CounterTable, String> {
        use sqlx::Connection as _;
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .or_say("opening the W6 SQLite file")?;
        sqlx::raw_sql("CREATE TABLE w6_counts (projection TEXT PRIMARY KEY, n INTEGER NOT NULL)")
            .execute(&mut conn)
            .await
            .or_say("creating the W6 counter table")?;
        conn.close()
            .await
            .or_say("closing the W6 SQLite connection")?;
        Ok(CounterTable::Sqlite)
    }
}

/// The W6 projection: counts the events it sees into one row.
struct Counter {
    name: String,
    event_type: &'static str,
    batch: usize,
    write: Write,
    upsert: Arc<str>,
    seen: AtomicU64,
}

impl Counter {
    async fn add(&self, ctx: &mut ProjectionContext<'_>, n: i64) -> Result<(), HandlerError> {
        let sql = || sqlx::AssertSqlSafe(Arc::clone(&self.upsert));
        if let Some(tx) = ctx.transaction_as::<PostgresTransaction>() {
            sqlx::query(sql())
                .bind(self.name.as_str())
                .bind(n)
                .execute(tx.connection())
                .await
                .map_err(HandlerError::permanent)?;
        } else if let Some(tx) = ctx.transaction_as::<SqliteTransaction>() {
            sqlx::query(sql())
                .bind(self.name.as_str())
                .bind(n)
                .execute(tx.connection())
                .await
                .map_err(HandlerError::permanent)?;
        } else {
            return Err(HandlerError::permanent(
                "W6 writes through a PostgreSQL or SQLite transaction",
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl Projection for Counter {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ProjectionKind {
        ProjectionKind::Async
    }

    fn event_types(&self) -> Vec<&'static str> {
        vec![self.event_type]
    }

    fn options(&self) -> ProjectionOptions {
        ProjectionOptions {
            batch_size: self.batch,
            ..ProjectionOptions::default()
        }
    }

    async fn handle(
        &self,
        _event: &RecordedEvent,
        ctx: &mut ProjectionContext<'_>,
    ) -> Result<(), HandlerError> {
        let seen = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
        match self.write {
            Write::CheckpointOnly => Ok(()),
            Write::PerEvent => self.add(ctx, 1).await,
            Write::PerBatch if seen.is_multiple_of(self.batch as u64) => {
                self.add(ctx, self.batch as i64).await
            }
            Write::PerBatch => Ok(()),
        }
    }
}

/// The benchmark event's type name, as the store records it.
fn event_type() -> Result<&'static str, String> {
    // Leaked once per case: a projection names its types as `&'static str`.
    Ok(new_event(0)?.event_type.leak())
}

/// The counter row of projection `name` (0 when absent).
async fn counted(log: &CatchUpLog, name: &str) -> Result<u64, String> {
    let n: Option<i64> = match (&log.table, &log.postgres, &log.sqlite) {
        (CounterTable::Postgres(schema), Some(pg), _) => sqlx::query_scalar(sqlx::AssertSqlSafe(
            format!("SELECT n FROM {schema}.w6_counts WHERE projection = $1"),
        ))
        .bind(name)
        .fetch_optional(pg.pool())
        .await
        .or_say("reading the W6 counter")?,
        (CounterTable::Sqlite, _, Some(path)) => {
            use sqlx::Connection as _;
            let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
            let mut conn = sqlx::SqliteConnection::connect_with(&options)
                .await
                .or_say("opening the W6 SQLite file")?;
            let n = sqlx::query_scalar("SELECT n FROM w6_counts WHERE projection = $1")
                .bind(name)
                .fetch_optional(&mut conn)
                .await
                .or_say("reading the W6 counter")?;
            conn.close()
                .await
                .or_say("closing the W6 SQLite connection")?;
            n
        }
        _ => return Err("W6: no connection for the counter table".to_owned()),
    };
    Ok(n.unwrap_or(0).max(0) as u64)
}

/// A store holding the W6 log, and how to reach its counter table.
pub struct CatchUpLog {
    /// The store, as the engine reads it.
    pub store: Arc<dyn EventStore>,
    /// `mink/postgres` or `mink/sqlite`.
    pub system: &'static str,
    /// Events in the log.
    pub events: u64,
    /// The counter table.
    pub table: CounterTable,
    /// The PostgreSQL store, to read the counter.
    pub postgres: Option<PostgresStore>,
    /// The SQLite file, to read the counter.
    pub sqlite: Option<PathBuf>,
}

/// W6, one case: a fresh async projection over the whole log, from the
/// start until its checkpoint reaches the head (or `cap` passes, then the
/// engine is stopped and the rate taken over what it applied). Checks that
/// the counter row matches the events applied.
pub async fn catch_up(
    log: &CatchUpLog,
    batch: usize,
    write: Write,
    cap: Duration,
) -> Result<CatchUpFigure, String> {
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    let name = format!("w6-{}-{batch}-{}", write.key(), &suffix[20..]);
    let counter = Counter {
        name: name.clone(),
        event_type: event_type()?,
        batch,
        write,
        upsert: log.table.upsert().into(),
        seen: AtomicU64::new(0),
    };
    let engine = ProjectionEngine::builder(Arc::clone(&log.store))
        .projection(counter)
        .build()
        .or_say("building the W6 engine")?;
    let started = Instant::now();
    engine.start();
    let waited = engine.wait_caught_up(&name, cap).await;
    let (caught_up, elapsed) = match waited {
        Ok(()) => {
            let elapsed = started.elapsed();
            engine.stop().await;
            (true, elapsed)
        }
        Err(mink::Error::ProjectionLagging { .. }) => {
            // Stopping finishes the batch under way and stores it, so the
            // time is taken after the stop.
            engine.stop().await;
            (false, started.elapsed())
        }
        Err(e) => {
            engine.stop().await;
            return Err(format!("W6 {name}: {e}"));
        }
    };
    let status = engine.status_of(&name).await.or_say("W6 status")?;
    if status.dead_letters > 0 || status.last_error.is_some() {
        return Err(format!(
            "W6 {name}: {} dead letters, last error {:?}",
            status.dead_letters, status.last_error
        ));
    }
    let events = status.events_processed;
    if caught_up && events != log.events {
        return Err(format!(
            "W6 {name}: applied {events} events, the log has {}",
            log.events
        ));
    }
    let rows = counted(log, &name).await?;
    let expected_rows = if write == Write::CheckpointOnly {
        0
    } else {
        events
    };
    if rows != expected_rows {
        return Err(format!(
            "W6 {name}: the counter row says {rows}, expected {expected_rows}"
        ));
    }
    let secs = elapsed.as_secs_f64().max(1e-9);
    Ok(CatchUpFigure {
        system: log.system.to_owned(),
        log_events: log.events,
        batch,
        write: write.label().to_owned(),
        events,
        seconds: secs,
        events_per_sec: events as f64 / secs,
        caught_up,
        raw_events_per_sec: None,
    })
}

/// W7: appends one event every `1/rate` s for `seconds` s, each from its
/// own task at its scheduled time (so a slow append does not delay the
/// next), while a subscription on `reader` started from now receives
/// them. Latency runs from the append call's return to the delivery.
pub async fn live_latency(
    writer: &Arc<dyn EventStore>,
    reader: Arc<dyn EventStore>,
    system: &str,
    case: &str,
    rate: u64,
    seconds: u64,
) -> Result<LatencyFigure, String> {
    let run = &uuid::Uuid::now_v7().simple().to_string()[20..];
    let category = format!("w7x{run}");
    let total = rate * seconds;
    let mut sub = subscribe_all(
        reader,
        StartFrom::Now,
        ReadFilter::all().category(category.as_str()),
    );
    // The subscription is live once it says so: nothing is in its category
    // yet, so the first item is `CaughtUp`.
    match tokio::time::timeout(Duration::from_secs(10), sub.next()).await {
        Ok(Some(Ok(SubscriptionItem::CaughtUp))) => {}
        other => return Err(format!("W7: the subscription did not start: {other:?}")),
    }
    let grace = Duration::from_secs(5);
    let consumer = tokio::spawn(async move {
        let mut got: Vec<(uuid::Uuid, Instant)> = Vec::with_capacity(total as usize);
        let mut deadline =
            tokio::time::Instant::now() + Duration::from_secs(seconds) + grace + grace;
        loop {
            match tokio::time::timeout_at(deadline, sub.next()).await {
                Err(_) | Ok(None) => break,
                Ok(Some(Ok(SubscriptionItem::Event(e)))) => {
                    got.push((e.event_id, Instant::now()));
                    if got.len() as u64 == total {
                        // Linger a little, to see duplicates arrive.
                        deadline = deadline.min(tokio::time::Instant::now() + grace / 10);
                    }
                }
                Ok(Some(Ok(SubscriptionItem::CaughtUp))) => {}
                Ok(Some(Err(e))) => return Err(format!("W7 subscription: {e}")),
            }
        }
        Ok(got)
    });
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut appends = Vec::with_capacity(total as usize);
    let began = Instant::now();
    for i in 0..total {
        let event = new_event(i)?;
        let id = event.event_id;
        let stream = format!("{category}-{i}");
        let store = Arc::clone(writer);
        ticker.tick().await;
        appends.push(tokio::spawn(async move {
            store
                .append_to_stream(&stream, ExpectedVersion::NoStream, vec![event])
                .await
                .map_err(|e| format!("W7 append: {e}"))?;
            Ok::<_, String>((id, Instant::now()))
        }));
    }
    let mut returned: HashMap<uuid::Uuid, Instant> = HashMap::with_capacity(total as usize);
    for a in appends {
        let (id, at) = a.await.map_err(|e| e.to_string())??;
        returned.insert(id, at);
    }
    let append_secs = began.elapsed().as_secs_f64();
    let got = consumer.await.map_err(|e| e.to_string())??;
    let mut seen = HashSet::with_capacity(got.len());
    let (mut duplicated, mut before_return) = (0u64, 0u64);
    let mut hist = histogram();
    for (id, at) in &got {
        if !seen.insert(*id) {
            duplicated += 1;
            continue;
        }
        let Some(sent) = returned.get(id) else {
            return Err(format!("W7: delivered an event it never appended: {id}"));
        };
        if at < sent {
            before_return += 1;
        }
        hist.saturating_record(at.saturating_duration_since(*sent).as_micros().max(1) as u64);
    }
    let skipped = returned.keys().filter(|id| !seen.contains(*id)).count() as u64;
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    Ok(LatencyFigure {
        system: system.to_owned(),
        case: case.to_owned(),
        appended: total,
        append_rate: total as f64 / append_secs.max(1e-9),
        delivered: seen.len() as u64,
        skipped,
        duplicated,
        before_return,
        p50_ms: ms(0.50),
        p95_ms: ms(0.95),
        p99_ms: ms(0.99),
        max_ms: hist.max() as f64 / 1000.0,
    })
}

/// W6 on PostgreSQL: seeds a log of `events` in a schema of its own (as
/// W5 does), runs every batch size and write mode on it, measures the raw
/// page SELECT with pages of each batch size, and drops the schema.
pub async fn w6_postgres(
    url: &str,
    raw: Option<&RawBaseline>,
    plan: &Plan,
    events: u64,
    notes: &mut Vec<String>,
) -> Result<Vec<CatchUpFigure>, String> {
    let store = stores::postgres(url, &stores::fresh_schema("_w6")).await?;
    let result = async {
        let shared: Arc<dyn EventStore> = Arc::new(store.clone());
        let took = catchup::seed_log(&shared, events).await?;
        // A table that just took a million rows has no statistics until
        // autovacuum gets to it; without them the planner guesses that a
        // type filter is selective and sorts the whole log for each page.
        // Production tables are analyzed; so is this one.
        mink::adapters::postgres::sqlx::query(mink::adapters::postgres::sqlx::AssertSqlSafe(
            format!("ANALYZE {}.events", store.schema()),
        ))
        .execute(store.pool())
        .await
        .map_err(|e| format!("W6 analyze: {e}"))?;
        let note = format!(
            "W6 seeding (PostgreSQL): {events} events in batches of 1,000 by 4 writers took {:.1} s, then ANALYZE",
            took.as_secs_f64()
        );
        eprintln!("  {note}");
        notes.push(note);
        let log = CatchUpLog {
            store: shared,
            system: "mink/postgres",
            events,
            table: CounterTable::create_postgres(&store).await?,
            postgres: Some(store.clone()),
            sqlite: None,
        };
        let mut out = cases(&log).await?;
        if let Some(raw) = raw {
            for batch in CATCH_UP_BATCHES {
                let stats = raw.log_page_select(plan, store.schema(), batch).await?;
                eprintln!(
                    "  raw/postgres       W6 pages of {batch:<5} {:>12.0} ev/s",
                    stats.events_per_sec
                );
                for f in out.iter_mut().filter(|f| f.batch == batch) {
                    f.raw_events_per_sec = Some(stats.events_per_sec);
                }
            }
        }
        Ok::<_, String>(out)
    }
    .await;
    stores::drop_schema(&store).await?;
    result
}

/// W6 on SQLite: the same cases on a log of `events` in a new file.
pub async fn w6_sqlite(events: u64, notes: &mut Vec<String>) -> Result<Vec<CatchUpFigure>, String> {
    let path = std::env::temp_dir().join(format!(
        "mink-bench-w6-{}.db",
        uuid::Uuid::now_v7().simple()
    ));
    let result = async {
        let store = SqliteStore::open(&path).await.or_say("opening SQLite")?;
        let shared: Arc<dyn EventStore> = Arc::new(store.clone());
        let took = catchup::seed_log(&shared, events).await?;
        let note = format!(
            "W6 seeding (SQLite): {events} events in batches of 1,000 by 4 writers took {:.1} s",
            took.as_secs_f64()
        );
        eprintln!("  {note}");
        notes.push(note);
        let log = CatchUpLog {
            store: shared,
            system: "mink/sqlite",
            events,
            table: CounterTable::create_sqlite(&path).await?,
            postgres: None,
            sqlite: Some(path.clone()),
        };
        let out = cases(&log).await;
        store.close().await;
        out
    }
    .await;
    for ext in ["", "-wal", "-shm"] {
        let mut name = path.clone().into_os_string();
        name.push(ext);
        // A missing -wal or -shm file is fine.
        let _ = std::fs::remove_file(name);
    }
    result
}

/// Every W6 case on one log, printing each as it finishes.
async fn cases(log: &CatchUpLog) -> Result<Vec<CatchUpFigure>, String> {
    let mut out = Vec::new();
    for batch in CATCH_UP_BATCHES {
        for write in Write::ALL {
            let cap = if write == Write::PerEvent {
                PER_EVENT_CAP
            } else {
                CATCH_UP_CAP
            };
            let f = catch_up(log, batch, write, cap).await?;
            eprintln!(
                "  {:<18} W6 batch {batch:<5} {:<17} {:>12.0} ev/s  {} events in {:.1} s{}",
                f.system,
                f.write,
                f.events_per_sec,
                f.events,
                f.seconds,
                if f.caught_up { "" } else { " (cut at cap)" }
            );
            out.push(f);
        }
    }
    Ok(out)
}

/// W7 on PostgreSQL: the writing instance subscribes, then a second
/// instance on the same schema does (woken by `NOTIFY` only).
pub async fn w7_postgres(url: &str, store: &PostgresStore) -> Result<Vec<LatencyFigure>, String> {
    let writer: Arc<dyn EventStore> = Arc::new(store.clone());
    let same = live_latency(
        &writer,
        Arc::clone(&writer),
        "mink/postgres",
        "same instance",
        LIVE_RATE,
        LIVE_SECONDS,
    )
    .await?;
    print_live(&same);
    let second: Arc<dyn EventStore> = Arc::new(stores::postgres(url, store.schema()).await?);
    let other = live_latency(
        &writer,
        second,
        "mink/postgres",
        "second instance (NOTIFY)",
        LIVE_RATE,
        LIVE_SECONDS,
    )
    .await?;
    print_live(&other);
    Ok(vec![same, other])
}

/// W7 on any store, subscribing through the writing instance.
pub async fn w7_on(store: &Arc<dyn EventStore>, system: &str) -> Result<LatencyFigure, String> {
    let f = live_latency(
        store,
        Arc::clone(store),
        system,
        "same instance",
        LIVE_RATE,
        LIVE_SECONDS,
    )
    .await?;
    print_live(&f);
    Ok(f)
}

fn print_live(f: &LatencyFigure) {
    eprintln!(
        "  {:<18} W7 {:<26} p50 {:.2} ms  p95 {:.2} ms  p99 {:.2} ms  max {:.2} ms  skipped {}  duplicated {}",
        f.system, f.case, f.p50_ms, f.p95_ms, f.p99_ms, f.max_ms, f.skipped, f.duplicated
    );
}
