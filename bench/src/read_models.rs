//! R1–R3: read-model repositories against the same SQL written by hand.
//!
//! - **R1** point lookups: `repo.get(id)` against `SELECT … WHERE id = $1`;
//! - **R2** an indexed range of 100 rows: `repo.find(between … order_by …
//!   limit 100)` against the same `SELECT … BETWEEN … ORDER BY … LIMIT 100`;
//! - **R3** upserts: `repo.upsert(&row)` against `INSERT … ON CONFLICT DO
//!   UPDATE`.
//!
//! The baseline runs through the same driver (sqlx) and pool on the same
//! table, with the statement written once by hand and rows decoded into the
//! same struct, so the ratio is mink's own cost: building the statement,
//! binding by column kind, converting rows. Run with
//! `cargo run --release -p mink-bench -- r`.

use std::fmt::Write as _;
use std::sync::Arc;

use mink::ReadModel;
use mink::adapters::postgres::sqlx;
use mink::adapters::sqlite::sqlx as sqlite_sqlx;
use mink::prelude::*;
use mink::read_model::ReadModelRepository;

use crate::OrSay;
use crate::figure::Figure;
use crate::measure::{Done, Op, Plan, Stats, measure};
use crate::stores::{self, Backend};

/// Rows in the table.
pub const ROWS: u64 = 10_000;
/// Rows an R2 query returns.
pub const RANGE: i64 = 100;
/// Concurrent readers (R1, R2) and PostgreSQL writers (R3).
pub const CLIENTS: usize = 4;

/// The benchmark's read model.
#[derive(ReadModel, Debug, Clone, PartialEq)]
#[read_model(table = "bench_orders")]
pub struct BenchOrder {
    /// The order's id.
    #[read_model(id)]
    pub id: String,
    /// Its status.
    #[read_model(index)]
    pub status: String,
    /// Its total; unique per row, so a range of 100 returns 100 rows.
    #[read_model(index)]
    pub total_cents: i64,
    /// Its customer.
    pub customer: String,
    /// A note, on some.
    pub note: Option<String>,
}

fn row(n: u64, version: u64) -> BenchOrder {
    BenchOrder {
        id: format!("order-{n:06}"),
        status: if n.is_multiple_of(3) {
            "paid"
        } else {
            "pending"
        }
        .to_owned(),
        total_cents: n as i64,
        customer: format!("customer-{}", (n + version) % 97),
        note: n.is_multiple_of(5).then(|| format!("note {version}")),
    }
}

/// A pseudo-random row number for writer `w`'s `seq`-th operation.
fn pick(w: usize, seq: u64, below: u64) -> u64 {
    let mut x = seq
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(w as u64 * 0xBF58_476D_1CE4_E5B9);
    x ^= x >> 31;
    x % below
}

/// The database-specific side: raw statements on the same table.
#[derive(Clone)]
enum Raw {
    Postgres(sqlx::PgPool, Arc<str>),
    Sqlite(sqlite_sqlx::SqlitePool, sqlite_sqlx::SqlitePool),
}

/// A row as the raw statements read it.
type Tuple = (String, String, i64, String, Option<String>);

/// The row decoded into the model, as an application would.
fn order_of(r: Tuple) -> BenchOrder {
    BenchOrder {
        id: r.0,
        status: r.1,
        total_cents: r.2,
        customer: r.3,
        note: r.4,
    }
}

const COLUMNS: &str = "id, status, total_cents, customer, note";

impl Raw {
    /// Leaves each measurement the same starting point: on SQLite the
    /// write-ahead log folded back into the file (after the seeding or the
    /// previous case's writes, a long log slows every read), on PostgreSQL
    /// fresh statistics.
    async fn settle(&self) -> Result<(), String> {
        match self {
            Raw::Postgres(pool, schema) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "VACUUM ANALYZE {schema}.bench_orders"
                )))
                .execute(pool)
                .await
                .or_say("vacuum")?;
            }
            Raw::Sqlite(_, writer) => {
                sqlite_sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(writer)
                    .await
                    .or_say("checkpoint")?;
            }
        }
        Ok(())
    }

    async fn get(&self, id: String) -> Result<BenchOrder, String> {
        match self {
            Raw::Postgres(pool, schema) => {
                let r: Tuple = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM {schema}.bench_orders WHERE id = $1"
                )))
                .bind(id)
                .fetch_one(pool)
                .await
                .or_say("raw get")?;
                Ok(order_of(r))
            }
            Raw::Sqlite(readers, _) => {
                let r: Tuple = sqlite_sqlx::query_as(
                    "SELECT id, status, total_cents, customer, note FROM bench_orders WHERE id = ?1",
                )
                .bind(id)
                .fetch_one(readers)
                .await
                .or_say("raw get")?;
                Ok(order_of(r))
            }
        }
    }

    async fn range(&self, low: i64) -> Result<usize, String> {
        match self {
            Raw::Postgres(pool, schema) => {
                let rows: Vec<Tuple> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM {schema}.bench_orders WHERE total_cents BETWEEN $1 AND $2 \
                     ORDER BY total_cents ASC, id ASC LIMIT $3"
                )))
                .bind(low)
                .bind(low + RANGE - 1)
                .bind(RANGE)
                .fetch_all(pool)
                .await
                .or_say("raw range")?;
                Ok(rows.into_iter().map(order_of).count())
            }
            Raw::Sqlite(readers, _) => {
                let rows: Vec<Tuple> =
                    sqlite_sqlx::query_as(
                        "SELECT id, status, total_cents, customer, note FROM bench_orders \
                         WHERE total_cents BETWEEN ?1 AND ?2 ORDER BY total_cents ASC, id ASC LIMIT ?3",
                    )
                    .bind(low)
                    .bind(low + RANGE - 1)
                    .bind(RANGE)
                    .fetch_all(readers)
                    .await
                    .or_say("raw range")?;
                Ok(rows.into_iter().map(order_of).count())
            }
        }
    }

    async fn upsert(&self, o: BenchOrder) -> Result<(), String> {
        const SET: &str = "ON CONFLICT (id) DO UPDATE SET status = excluded.status, \
             total_cents = excluded.total_cents, customer = excluded.customer, note = excluded.note";
        match self {
            Raw::Postgres(pool, schema) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO {schema}.bench_orders ({COLUMNS}) VALUES ($1, $2, $3, $4, $5) {SET}"
                )))
                .bind(o.id)
                .bind(o.status)
                .bind(o.total_cents)
                .bind(o.customer)
                .bind(o.note)
                .execute(pool)
                .await
                .or_say("raw upsert")?;
            }
            Raw::Sqlite(_, writer) => {
                sqlite_sqlx::query(sqlite_sqlx::AssertSqlSafe(format!(
                    "INSERT INTO bench_orders ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5) {SET}"
                )))
                .bind(o.id)
                .bind(o.status)
                .bind(o.total_cents)
                .bind(o.customer)
                .bind(o.note)
                .execute(writer)
                .await
                .or_say("raw upsert")?;
            }
        }
        Ok(())
    }
}

fn figure(workload: &str, case: &str, system: String, s: Stats) -> Figure {
    Figure {
        workload: workload.to_owned(),
        case: case.to_owned(),
        system,
        events_per_sec: s.ops_per_sec,
        p50_us: s.p50_us,
        p99_us: s.p99_us,
        conflict_rate: None,
    }
}

/// R1–R3 on one database: mink's repository, then the raw statements.
async fn run_on(
    db: &str,
    repo: ReadModelRepository<BenchOrder>,
    raw: Raw,
    plan: &Plan,
    writers: usize,
) -> Result<Vec<Figure>, String> {
    eprintln!("  seeding {ROWS} rows ({db})");
    for n in 0..ROWS {
        repo.upsert(&row(n, 0)).await.or_say("seeding")?;
    }
    let mut out = Vec::new();
    let repo = Arc::new(repo);

    let r1 = format!("{db}, {CLIENTS} readers");
    let op: Op = {
        let repo = Arc::clone(&repo);
        Arc::new(move |w, seq| {
            let repo = Arc::clone(&repo);
            Box::pin(async move {
                let id = format!("order-{:06}", pick(w, seq, ROWS));
                repo.get(id).await.or_say("get")?;
                Ok(Done::events(1))
            })
        })
    };
    raw.settle().await?;
    out.push(figure(
        "R1",
        &r1,
        format!("mink/{db}"),
        measure(plan, CLIENTS, op).await?,
    ));
    let op: Op = {
        let raw = raw.clone();
        Arc::new(move |w, seq| {
            let raw = raw.clone();
            Box::pin(async move {
                raw.get(format!("order-{:06}", pick(w, seq, ROWS))).await?;
                Ok(Done::events(1))
            })
        })
    };
    raw.settle().await?;
    out.push(figure(
        "R1",
        &r1,
        format!("raw/{db}"),
        measure(plan, CLIENTS, op).await?,
    ));

    let r2 = format!("{db}, {CLIENTS} readers, {RANGE} rows");
    let op: Op = {
        let repo = Arc::clone(&repo);
        Arc::new(move |w, seq| {
            let repo = Arc::clone(&repo);
            Box::pin(async move {
                let f = BenchOrder::fields();
                let low = pick(w, seq, ROWS - RANGE as u64) as i64;
                let rows = repo
                    .find(
                        Query::new()
                            .filter(f.total_cents.between(low, low + RANGE - 1))
                            .order_by(f.total_cents.asc())
                            .limit(RANGE as u64),
                    )
                    .await
                    .or_say("find")?;
                if rows.len() as i64 != RANGE {
                    return Err(format!("R2 returned {} rows", rows.len()));
                }
                Ok(Done::events(1))
            })
        })
    };
    raw.settle().await?;
    out.push(figure(
        "R2",
        &r2,
        format!("mink/{db}"),
        measure(plan, CLIENTS, op).await?,
    ));
    let op: Op = {
        let raw = raw.clone();
        Arc::new(move |w, seq| {
            let raw = raw.clone();
            Box::pin(async move {
                let n = raw.range(pick(w, seq, ROWS - RANGE as u64) as i64).await?;
                if n as i64 != RANGE {
                    return Err(format!("raw R2 returned {n} rows"));
                }
                Ok(Done::events(1))
            })
        })
    };
    raw.settle().await?;
    out.push(figure(
        "R2",
        &r2,
        format!("raw/{db}"),
        measure(plan, CLIENTS, op).await?,
    ));

    let r3 = format!("{db}, {writers} writers");
    let op: Op = {
        let repo = Arc::clone(&repo);
        Arc::new(move |w, seq| {
            let repo = Arc::clone(&repo);
            Box::pin(async move {
                repo.upsert(&row(pick(w, seq, ROWS), seq))
                    .await
                    .or_say("upsert")?;
                Ok(Done::events(1))
            })
        })
    };
    raw.settle().await?;
    out.push(figure(
        "R3",
        &r3,
        format!("mink/{db}"),
        measure(plan, writers, op).await?,
    ));
    let op: Op = {
        let raw = raw.clone();
        Arc::new(move |w, seq| {
            let raw = raw.clone();
            Box::pin(async move {
                raw.upsert(row(pick(w, seq, ROWS), seq)).await?;
                Ok(Done::events(1))
            })
        })
    };
    raw.settle().await?;
    out.push(figure(
        "R3",
        &r3,
        format!("raw/{db}"),
        measure(plan, writers, op).await?,
    ));
    Ok(out)
}

/// Runs R1–R3 on PostgreSQL and SQLite (as `backends` ask), returning the
/// figures and a Markdown table of them.
pub async fn run(
    url: &str,
    plan: &Plan,
    backends: &[Backend],
) -> Result<(Vec<Figure>, String), String> {
    let mut figures = Vec::new();
    if backends.contains(&Backend::Postgres) {
        eprintln!("R1–R3 on PostgreSQL");
        let schema = stores::fresh_schema("_rm");
        let store = stores::postgres(url, &schema).await?;
        let repo = ReadModelRepository::<BenchOrder>::open(store.read_models())
            .await
            .or_say("opening the repository")?;
        let raw = Raw::Postgres(store.pool().clone(), schema.clone().into());
        let result = run_on("postgres", repo, raw, plan, CLIENTS).await;
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(store.pool())
            .await
            .or_say("dropping the bench schema")?;
        store.pool().close().await;
        figures.extend(result?);
    }
    if backends.contains(&Backend::Sqlite) {
        eprintln!("R1–R3 on SQLite");
        let dir = std::env::temp_dir().join(format!("mink-bench-rm-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).or_say("a temp dir")?;
        let path = dir.join("mink.db");
        let store = SqliteStore::open(&path).await.or_say("opening SQLite")?;
        let repo = ReadModelRepository::<BenchOrder>::open(store.read_models())
            .await
            .or_say("opening the repository")?;
        let connect = sqlite_sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .busy_timeout(std::time::Duration::from_secs(5));
        let readers = sqlite_sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(CLIENTS as u32)
            .connect_with(connect.clone())
            .await
            .or_say("raw SQLite readers")?;
        let writer = sqlite_sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(connect)
            .await
            .or_say("raw SQLite writer")?;
        let result = run_on("sqlite", repo, Raw::Sqlite(readers, writer), plan, 1).await;
        store.close().await;
        let _ = std::fs::remove_dir_all(&dir);
        figures.extend(result?);
    }
    let shown = table(&figures);
    Ok((figures, shown))
}

/// The figures as a Markdown table, mink beside the raw statement.
pub fn table(figures: &[Figure]) -> String {
    let mut out = String::from(
        "| workload | case | mink (ops/s) | p50 ms | p99 ms | raw (ops/s) | p50 ms | mink ÷ raw |\n|---|---|--:|--:|--:|--:|--:|--:|\n",
    );
    for m in figures.iter().filter(|f| f.system.starts_with("mink/")) {
        let raw = figures
            .iter()
            .find(|f| f.workload == m.workload && f.case == m.case && f.system.starts_with("raw/"));
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.3} | {:.3} | {} | {} | {} |",
            m.workload,
            m.case,
            m.events_per_sec,
            m.p50_us / 1000.0,
            m.p99_us / 1000.0,
            raw.map_or("–".to_owned(), |r| format!("{:.0}", r.events_per_sec)),
            raw.map_or("–".to_owned(), |r| format!("{:.3}", r.p50_us / 1000.0)),
            raw.map_or("–".to_owned(), |r| format!(
                "{:.0}%",
                100.0 * m.events_per_sec / r.events_per_sec
            )),
        );
    }
    out
}
