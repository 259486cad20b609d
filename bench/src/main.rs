//! The benchmark driver: `cargo run --release -p mink-bench -- <workload>|all`.
//!
//! Runs the workloads on mink's stores, the raw PostgreSQL baseline
//! (pgbench) and the peer (postgres-es), prints Markdown tables with ratios
//! and writes every figure as JSON. See `docs/benchmarks.md`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mink::Mink;
use mink::adapters::postgres::sqlx;
use mink_bench::figure::Figure;
use mink_bench::measure::{Plan, Stats};
use mink_bench::projections;
use mink_bench::raw::RawBaseline;
use mink_bench::report::Report;
use mink_bench::stores::{self, Backend, Target};
use mink_bench::{OrSay, append, catchup, hot, load, memory_use, peer, raw, shape, soak};

const USAGE: &str = "usage: mink-bench [w1|w2|w3|w4|w5|indexes|all]... [--runs N] [--warmup-ms MS] \
[--window-ms MS] [--out FILE] [--no-peer] [--no-raw] [--stores memory,sqlite,postgres] \
[--soak] [--soak-minutes N]";

/// Command-line settings.
struct Args {
    workloads: Vec<&'static str>,
    url: String,
    plan: Plan,
    out: Option<PathBuf>,
    peer: bool,
    raw: bool,
    backends: Vec<Backend>,
    soak_minutes: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        workloads: Vec::new(),
        url: std::env::var("MINK_BENCH_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned()),
        plan: Plan {
            warmup: Duration::from_millis(1_000),
            window: Duration::from_millis(3_000),
            runs: 3,
        },
        out: None,
        peer: true,
        raw: true,
        backends: vec![Backend::Postgres, Backend::Memory, Backend::Sqlite],
        soak_minutes: 10,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value\n{USAGE}"));
        let millis = |v: String, name: &str| v.parse().map(Duration::from_millis).or_say(name);
        match arg.as_str() {
            "all" => a
                .workloads
                .extend(["w1", "w2", "w3", "w4", "w5", "indexes"]),
            "indexes" => a.workloads.push("indexes"),
            "--soak" => a.workloads.push("soak"),
            "--soak-minutes" => {
                a.soak_minutes = value("--soak-minutes")?.parse().or_say("--soak-minutes")?
            }
            "w1" => a.workloads.push("w1"),
            "w2" => a.workloads.push("w2"),
            "w3" => a.workloads.push("w3"),
            "w4" => a.workloads.push("w4"),
            "w5" => a.workloads.push("w5"),
            "r" | "r1" | "r2" | "r3" => a.workloads.push("r"),
            "w6" => a.workloads.push("w6"),
            "w7" => a.workloads.push("w7"),
            "--runs" => a.plan.runs = value("--runs")?.parse().or_say("--runs")?,
            "--warmup-ms" => a.plan.warmup = millis(value("--warmup-ms")?, "--warmup-ms")?,
            "--window-ms" => a.plan.window = millis(value("--window-ms")?, "--window-ms")?,
            "--out" => a.out = Some(value("--out")?.into()),
            "--no-peer" => a.peer = false,
            "--no-raw" => a.raw = false,
            "--stores" => {
                a.backends = value("--stores")?
                    .split(',')
                    .map(|s| match s {
                        "memory" => Ok(Backend::Memory),
                        "sqlite" => Ok(Backend::Sqlite),
                        "postgres" => Ok(Backend::Postgres),
                        other => Err(format!("unknown store `{other}`\n{USAGE}")),
                    })
                    .collect::<Result<_, _>>()?
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    if a.workloads.is_empty() {
        return Err(USAGE.to_owned());
    }
    Ok(a)
}

#[tokio::main]
async fn main() {
    if std::env::args().nth(1).as_deref() == Some("outbox") {
        let outbox = mink_bench::outbox::Settings::parse(std::env::args().skip(2))
            .map(mink_bench::outbox::run);
        if let Err(e) = match outbox {
            Ok(run) => run.await,
            Err(e) => Err(e),
        } {
            eprintln!("mink-bench: {e}");
            std::process::exit(1);
        }
        return;
    }
    if std::env::args().nth(1).as_deref() == Some("sagas") {
        if let Err(e) = mink_bench::sagas::run(std::env::args().skip(2)).await {
            eprintln!("mink-bench: {e}");
            std::process::exit(1);
        }
        return;
    }
    let result = match parse_args() {
        Ok(args) => run(args).await,
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        eprintln!("mink-bench: {e}");
        std::process::exit(1);
    }
}

/// The plan for the in-memory store: shorter windows, because it keeps
/// every event of a window in memory (about 400 bytes each).
fn memory_plan(plan: &Plan) -> Plan {
    Plan {
        warmup: plan.warmup.min(Duration::from_millis(500)),
        window: plan.window.min(Duration::from_millis(1_000)),
        runs: plan.runs,
    }
}

fn figure(workload: &str, case: String, system: &str, stats: Stats) -> Figure {
    Figure {
        workload: workload.to_owned(),
        case,
        system: system.to_owned(),
        events_per_sec: stats.events_per_sec,
        p50_us: stats.p50_us,
        p99_us: stats.p99_us,
        conflict_rate: (workload == "W3").then_some(stats.conflict_rate),
    }
}

/// Everything a run shares: the PostgreSQL store and its raw baseline.
struct Session {
    args: Args,
    postgres: Option<Target>,
    raw: Option<RawBaseline>,
    report: Report,
}

impl Session {
    fn record(&mut self, f: Figure) {
        eprintln!(
            "  {:<18} {:<3} {:<22} {:>12.0} ev/s  p50 {:>9.3} ms  p99 {:>9.3} ms",
            f.system,
            f.workload,
            f.case,
            f.events_per_sec,
            f.p50_us / 1000.0,
            f.p99_us / 1000.0
        );
        self.report.figures.push(f);
    }

    /// A store to run a case on: the shared PostgreSQL store, or a fresh
    /// memory or SQLite store (so each case starts empty and memory is freed).
    async fn with_target<F>(&mut self, backend: Backend, f: F) -> Result<(), String>
    where
        F: AsyncFnOnce(&Target, &Plan) -> Result<Vec<Figure>, String>,
    {
        let figures = if backend == Backend::Postgres {
            let target = self.postgres.as_ref().ok_or("no PostgreSQL store")?;
            f(target, &self.args.plan).await?
        } else {
            let target = Target::open(backend, &self.args.url).await?;
            let plan = if backend == Backend::Memory {
                memory_plan(&self.args.plan)
            } else {
                self.args.plan
            };
            let figures = f(&target, &plan).await;
            target.close().await?;
            figures?
        };
        for f in figures {
            self.record(f);
        }
        Ok(())
    }

    async fn peer(&mut self, workload: &str) -> Result<(), String> {
        if !self.args.peer {
            return Ok(());
        }
        eprintln!("peer: {workload} (cqrs-es + postgres-es, a subprocess)");
        for f in peer::run(workload, &self.args.url, &self.args.plan).await? {
            self.record(f);
        }
        Ok(())
    }

    async fn w1(&mut self) -> Result<(), String> {
        eprintln!("W1: single appends with an expected version");
        let url = self.args.url.clone();
        for backend in self.args.backends.clone() {
            self.with_target(backend, async |t: &Target, plan: &Plan| {
                let mut out = Vec::new();
                for writers in shape::SINGLE_WRITERS {
                    let stats = append::single_appends(&t.store, plan, writers).await?;
                    out.push(figure(
                        "W1",
                        shape::single_case(writers),
                        backend.system(),
                        stats,
                    ));
                }
                // The same appends with every append in a transaction of
                // its own: the SQL stores coalesce concurrent appends by
                // default, and this is what they gain by it.
                if let Some(alone) = t.uncoalesced(&url).await? {
                    for writers in shape::SINGLE_WRITERS {
                        let stats = append::single_appends(&alone, plan, writers).await?;
                        out.push(figure(
                            "W1",
                            format!("{}, no coalescing", shape::single_case(writers)),
                            backend.system(),
                            stats,
                        ));
                    }
                }
                Ok(out)
            })
            .await?;
        }
        if let (Some(raw), Some(store)) =
            (&self.raw, self.postgres.as_ref().and_then(Target::postgres))
        {
            let mut out = Vec::new();
            for writers in shape::SINGLE_WRITERS {
                let stats = raw.single_inserts(&self.args.plan, writers).await?;
                out.push(figure(
                    "W1",
                    shape::single_case(writers),
                    raw::SYSTEM,
                    stats,
                ));
                let stats = raw
                    .minimal_single_inserts(store, &self.args.plan, writers)
                    .await?;
                out.push(figure(
                    "W1",
                    shape::single_case(writers),
                    raw::MINIMAL,
                    stats,
                ));
            }
            out.into_iter().for_each(|f| self.record(f));
        }
        self.peer("w1").await
    }

    async fn w2(&mut self) -> Result<(), String> {
        eprintln!("W2: batched appends");
        for backend in self.args.backends.clone() {
            self.with_target(backend, async |t: &Target, plan: &Plan| {
                let mut out = Vec::new();
                for batch in shape::BATCH_SIZES {
                    for writers in shape::BATCH_WRITERS {
                        let stats = append::batch_appends(&t.store, plan, batch, writers).await?;
                        out.push(figure(
                            "W2",
                            shape::batch_case(batch, writers),
                            backend.system(),
                            stats,
                        ));
                    }
                }
                Ok(out)
            })
            .await?;
        }
        if let Some(raw) = &self.raw {
            let mut out = Vec::new();
            for batch in shape::BATCH_SIZES {
                for writers in shape::BATCH_WRITERS {
                    let stats = raw.batch_inserts(&self.args.plan, batch, writers).await?;
                    out.push(figure(
                        "W2",
                        shape::batch_case(batch, writers),
                        raw::SYSTEM,
                        stats,
                    ));
                }
            }
            out.into_iter().for_each(|f| self.record(f));
        }
        self.peer("w2").await
    }

    async fn w3(&mut self) -> Result<(), String> {
        eprintln!("W3: hot stream, load-decide-append with retries");
        if let Some((app, store)) = self
            .postgres
            .as_ref()
            .map(|t| (t.app.clone(), Arc::clone(&t.store)))
        {
            // As before the aggregate cache: every attempt replays the
            // stream, and a loser retries at once.
            let stats = hot::hot_stream(&app, &self.args.plan, shape::HOT_WRITERS, false).await?;
            let case = format!("{} writers", shape::HOT_WRITERS);
            self.record(figure("W3", case, Backend::Postgres.system(), stats));
            // With the aggregate cache (a load reads only the events after
            // the cached version) and the retry layer's jittered backoff.
            let cached = Mink::builder()
                .shared_store(Arc::clone(&store))
                .build()
                .await
                .map_err(|e| format!("building the cached application: {e}"))?;
            let stats = hot::hot_stream(&cached, &self.args.plan, shape::HOT_WRITERS, true).await?;
            let case = format!("{} writers, cache + backoff", shape::HOT_WRITERS);
            self.record(figure("W3", case, Backend::Postgres.system(), stats));
            // And with the aggregate's commands queued in this instance:
            // they take turns instead of racing.
            let queued = Mink::builder()
                .shared_store(Arc::clone(&store))
                .queue_commands_per_aggregate(256)
                .build()
                .await
                .map_err(|e| format!("building the queued application: {e}"))?;
            let stats = hot::hot_stream(&queued, &self.args.plan, shape::HOT_WRITERS, true).await?;
            let case = format!("{} writers, cache + queue", shape::HOT_WRITERS);
            self.record(figure("W3", case, Backend::Postgres.system(), stats));
        }
        Ok(())
    }

    async fn w4(&mut self) -> Result<(), String> {
        eprintln!("W4: loading an aggregate");
        for backend in self.args.backends.clone() {
            self.with_target(backend, async |t: &Target, plan: &Plan| {
                let mut out = Vec::new();
                for size in shape::LOAD_SIZES {
                    load::seed_cart(&t.store, size).await?;
                    let stats = load::load_cart(&t.app, plan, size).await?;
                    out.push(figure(
                        "W4",
                        shape::load_case(size),
                        backend.system(),
                        stats,
                    ));
                }
                Ok(out)
            })
            .await?;
        }
        // The baseline reads the carts W4 seeded in the store's table.
        if let (Some(raw), true) = (&self.raw, self.args.backends.contains(&Backend::Postgres)) {
            let mut out = Vec::new();
            for size in shape::LOAD_SIZES {
                let stats = raw.stream_select(&self.args.plan, size).await?;
                out.push(figure("W4", shape::load_case(size), raw::SYSTEM, stats));
            }
            out.into_iter().for_each(|f| self.record(f));
        }
        self.peer("w4").await
    }

    async fn w5(&mut self) -> Result<(), String> {
        eprintln!("W5: reading the global log of {} events", shape::LOG_EVENTS);
        if self.postgres.is_none() {
            return Ok(());
        }
        let store = stores::postgres(&self.args.url, &stores::fresh_schema("_log")).await?;
        let shared: std::sync::Arc<dyn mink::EventStore> = std::sync::Arc::new(store.clone());
        let result = async {
            let took = catchup::seed_log(&shared, shape::LOG_EVENTS).await?;
            let note = format!(
                "W5 seeding: {} events in batches of 1,000 by 4 writers took {:.1} s",
                shape::LOG_EVENTS,
                took.as_secs_f64()
            );
            eprintln!("  {note}");
            self.report.notes.push(note);
            let mut figures = Vec::new();
            for page in [catchup::PAGE, catchup::BIG_PAGE] {
                for reading in [catchup::Reading::Pages, catchup::Reading::Subscription] {
                    let stats = catchup::read_log(
                        &shared,
                        &self.args.plan,
                        shape::LOG_EVENTS,
                        reading,
                        page,
                    )
                    .await?;
                    let case = reading.case(shape::LOG_EVENTS, page);
                    figures.push(figure("W5", case, Backend::Postgres.system(), stats));
                }
                if let Some(raw) = &self.raw {
                    let case = catchup::Reading::Pages.case(shape::LOG_EVENTS, page);
                    let stats = raw
                        .log_page_select(&self.args.plan, store.schema(), page)
                        .await?;
                    figures.push(figure("W5", case.clone(), raw::SYSTEM, stats));
                    let stats =
                        catchup::lean_pages(&store, &self.args.plan, shape::LOG_EVENTS, page)
                            .await?;
                    figures.push(figure("W5", case, catchup::RAW_SQLX, stats));
                }
            }
            Ok::<_, String>(figures)
        }
        .await;
        stores::drop_schema(&store).await?;
        for f in result? {
            self.record(f);
        }
        Ok(())
    }
}

/// What the events table's indexes cost, and the soak.
impl Session {
    async fn indexes(&mut self) -> Result<(), String> {
        eprintln!("Index costs: W1's single-row INSERT at 16 connections into copies of the table");
        let (Some(raw), Some(store)) =
            (&self.raw, self.postgres.as_ref().and_then(Target::postgres))
        else {
            return Ok(());
        };
        let figures = raw.index_costs(store, &self.args.plan, 16).await?;
        for (case, stats) in figures {
            self.record(figure("indexes", case, raw::SYSTEM, stats));
        }
        Ok(())
    }

    async fn soak(&mut self) -> Result<(), String> {
        let minutes = self.args.soak_minutes;
        eprintln!(
            "Soak: W1 at {} writers for {minutes} minutes per store",
            soak::WRITERS
        );
        for backend in self.args.backends.clone() {
            if backend == Backend::Memory {
                // The in-memory store keeps every event: its memory grows
                // with the log by design.
                continue;
            }
            let target = if backend == Backend::Postgres {
                None
            } else {
                Some(Target::open(backend, &self.args.url).await?)
            };
            let t = match &target {
                Some(t) => t,
                None => self.postgres.as_ref().ok_or("no PostgreSQL store")?,
            };
            let samples = soak::run(&t.store, backend.system(), minutes).await;
            if let Some(t) = target {
                t.close().await?;
            }
            self.report.soak.extend(samples?);
        }
        Ok(())
    }
}

/// W6 and W7, the read side (`bench/src/projections.rs`).
impl Session {
    async fn w6(&mut self) -> Result<(), String> {
        eprintln!("W6: an async projection catching up on the log");
        let notes = &mut self.report.notes;
        if self.postgres.is_some() {
            let raw = self.raw.as_ref();
            let f = projections::w6_postgres(
                &self.args.url,
                raw,
                &self.args.plan,
                shape::LOG_EVENTS,
                notes,
            )
            .await?;
            self.report.read_side.catch_up.extend(f);
        }
        if self.args.backends.contains(&Backend::Sqlite) {
            let f = projections::w6_sqlite(projections::SQLITE_LOG_EVENTS, notes).await?;
            self.report.read_side.catch_up.extend(f);
        }
        Ok(())
    }

    async fn w7(&mut self) -> Result<(), String> {
        eprintln!(
            "W7: live delivery of {} appends/s for {} s",
            projections::LIVE_RATE,
            projections::LIVE_SECONDS
        );
        if let Some(store) = self.postgres.as_ref().and_then(Target::postgres) {
            let f = projections::w7_postgres(&self.args.url, store).await?;
            self.report.read_side.live.extend(f);
        }
        if self.args.backends.contains(&Backend::Sqlite) {
            let t = Target::open(Backend::Sqlite, &self.args.url).await?;
            let f = projections::w7_on(&t.store, Backend::Sqlite.system()).await;
            t.close().await?;
            self.report.read_side.live.push(f?);
        }
        Ok(())
    }
}

async fn run(args: Args) -> Result<(), String> {
    let mut report = Report {
        machine: machine(&args.url).await,
        ..Report::default()
    };
    report.machine.push(("load at start".into(), load_now()));
    let postgres = if args.backends.contains(&Backend::Postgres) {
        Some(Target::open(Backend::Postgres, &args.url).await?)
    } else {
        None
    };
    let raw = match (&postgres, args.raw) {
        (Some(t), true) => {
            let store = t.postgres().ok_or("the PostgreSQL target has no store")?;
            Some(RawBaseline::create(&args.url, store).await?)
        }
        _ => None,
    };
    let mut session = Session {
        args,
        postgres,
        raw,
        report,
    };
    let result = async {
        for w in session.args.workloads.clone() {
            match w {
                "w1" => session.w1().await?,
                "w2" => session.w2().await?,
                "w3" => session.w3().await?,
                "w4" => session.w4().await?,
                "r" => {
                    let (figures, table) = mink_bench::read_models::run(
                        &session.args.url,
                        &session.args.plan,
                        &session.args.backends,
                    )
                    .await?;
                    println!("{table}");
                    session.report.figures.extend(figures);
                }
                "w6" => session.w6().await?,
                "w7" => session.w7().await?,
                "indexes" => session.indexes().await?,
                "soak" => session.soak().await?,
                _ => session.w5().await?,
            }
            let note = format!("after {w}: {}", memory_use::describe());
            eprintln!("  {note}");
            session.report.notes.push(note);
        }
        Ok::<_, String>(())
    }
    .await;
    let Session {
        args,
        postgres,
        raw,
        mut report,
    } = session;
    if let (Some(raw), Some(store)) = (raw, postgres.as_ref().and_then(Target::postgres)) {
        raw.drop(store).await?;
    }
    if let Some(t) = postgres {
        t.close().await?;
    }
    result?;
    report.machine.push(("load at end".into(), load_now()));
    report
        .machine
        .push(("memory of mink-bench".into(), memory_use::describe()));
    println!("{}", report.markdown());
    let out = args.out.unwrap_or_else(|| {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        PathBuf::from(format!("target/mink-bench/results-{secs}.json"))
    });
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).or_say("creating the results directory")?;
    }
    let json = serde_json::to_string_pretty(&report).or_say("encoding the results")?;
    std::fs::write(&out, json).or_say(&format!("writing {}", out.display()))?;
    eprintln!("results written to {}", out.display());
    Ok(())
}

/// The load averages and the compilers running right now.
fn load_now() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let busy = std::fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| std::fs::read_to_string(e.path().join("comm")).ok())
                .filter(|c| matches!(c.trim(), "rustc" | "cargo"))
                .count()
        })
        .unwrap_or(0);
    format!(
        "load average {} ; {busy} rustc/cargo processes running",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    )
}

/// What the figures depend on: CPU, memory, PostgreSQL and its settings.
async fn machine(url: &str) -> Vec<(String, String)> {
    let mut m = Vec::new();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    m.push(("cpu".into(), format!("{cores} cores, {model}")));
    let mem = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    if let Some(total) = mem.lines().find(|l| l.starts_with("MemTotal")) {
        m.push((
            "memory".into(),
            total.trim_start_matches("MemTotal:").trim().to_owned(),
        ));
    }
    if let Ok(pool) = sqlx::PgPool::connect(url).await {
        let version: Result<String, _> = sqlx::query_scalar("SHOW server_version")
            .fetch_one(&pool)
            .await;
        if let Ok(v) = version {
            m.push(("PostgreSQL".into(), v));
        }
        let settings: Vec<(String, String)> = sqlx::query_as(
            "SELECT name, setting || coalesce(' ' || unit, '') FROM pg_settings WHERE name IN \
             ('synchronous_commit', 'fsync', 'wal_sync_method', 'shared_buffers', 'commit_delay', \
              'max_wal_size', 'full_page_writes') ORDER BY name",
        )
        .fetch_all(&pool)
        .await
        .unwrap_or_default();
        let settings: Vec<String> = settings
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        m.push(("PostgreSQL settings".into(), settings.join(", ")));
        pool.close().await;
    }
    m
}
