//! `mink diagnose` (alias `doctor`): each check says ok, warn or fail,
//! with a hint; the command exits non-zero when any check fails.

use serde_json::{Value, json};
use sqlx::AssertSqlSafe;

use super::Ctx;
use super::migrate::{self, State};
use super::projection::views;
use crate::args::{DiagnoseArgs, MigrateSource};
use crate::connect::{Raw, Target};
use crate::error::{CliError, CliResult};
use crate::output::Tone;
use mink_runtime::store::{Desired, ProjectionState};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone)]
struct Check {
    name: &'static str,
    status: Status,
    detail: String,
    hint: Option<String>,
}

impl Check {
    fn new(name: &'static str, status: Status, detail: impl Into<String>) -> Self {
        Check {
            name,
            status,
            detail: detail.into(),
            hint: None,
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

pub(crate) async fn run(ctx: &Ctx, args: DiagnoseArgs) -> CliResult {
    let mut checks = Vec::new();
    let target = ctx.target()?;
    match target.raw(false).await {
        Err(e) => checks.push(Check {
            name: "connectivity",
            status: Status::Fail,
            detail: e.message,
            hint: e.hint,
        }),
        Ok(raw) => {
            checks.push(connectivity(&target, &raw).await);
            run_checks(ctx, &args, &target, &raw, &mut checks).await;
        }
    }
    report(ctx, &checks)
}

async fn run_checks(
    ctx: &Ctx,
    args: &DiagnoseArgs,
    target: &Target,
    raw: &Raw,
    checks: &mut Vec<Check>,
) {
    if checks.iter().any(|c| c.status == Status::Fail) {
        return;
    }
    let current = migrations(target, raw).await;
    let schema_current = current.status != Status::Fail;
    checks.push(current);
    if let Raw::Sqlite(pool) = raw {
        checks.push(journal_mode(pool).await);
    }
    if !schema_current {
        checks.push(
            Check::new(
                "projections",
                Status::Warn,
                "skipped: the schema is not up to date",
            )
            .hint("run `mink migrate up`, then diagnose again"),
        );
        return;
    }
    if let Raw::Postgres(pool) = raw {
        checks.push(restored_log(target, pool).await);
        checks.push(long_transactions(pool, args.transaction_warn).await);
    }
    checks.push(idempotency(target, raw).await);
    checks.push(projections(ctx, target, args.lag_warn).await);
}

async fn connectivity(target: &Target, raw: &Raw) -> Check {
    let version = match raw {
        Raw::Sqlite(pool) => {
            sqlx::query_scalar::<_, String>("SELECT 'SQLite ' || sqlite_version()")
                .fetch_one(pool)
                .await
        }
        Raw::Postgres(pool) => {
            sqlx::query_scalar::<_, String>("SELECT version()")
                .fetch_one(pool)
                .await
        }
    };
    match version {
        Ok(version) => Check::new(
            "connectivity",
            Status::Ok,
            format!("{}: {version}", target.display_url()),
        ),
        Err(e) => {
            let e = CliError::sql(&format!("{} does not answer", target.display_url()), e);
            Check {
                name: "connectivity",
                status: Status::Fail,
                detail: e.message,
                hint: e.hint,
            }
        }
    }
}

async fn migrations(target: &Target, raw: &Raw) -> Check {
    let source = MigrateSource {
        source: "migrations".into(),
    };
    let lines = match migrate::lines(target, raw, &source).await {
        Ok(lines) => lines,
        Err(e) => return Check::new("migrations", Status::Fail, e.message),
    };
    let count = |state| lines.iter().filter(|l| l.state == state).count();
    let (pending, changed, failed, missing) = (
        count(State::Pending),
        count(State::Changed),
        count(State::Failed),
        count(State::Missing),
    );
    if pending + changed + failed > 0 {
        Check::new(
            "migrations",
            Status::Fail,
            format!("{pending} pending, {changed} changed, {failed} failed"),
        )
        .hint(if changed + failed > 0 {
            "see `mink migrate status`: restore changed migration files or repair failed ones"
        } else {
            "apply them with `mink migrate up`"
        })
    } else if missing > 0 {
        Check::new(
            "migrations",
            Status::Warn,
            format!("{missing} applied migration(s) unknown to this build"),
        )
        .hint("the database was migrated by a newer mink or application; upgrade this tool")
    } else {
        Check::new(
            "migrations",
            Status::Ok,
            format!("{} applied, none pending", lines.len()),
        )
    }
}

async fn journal_mode(pool: &sqlx::SqlitePool) -> Check {
    match sqlx::query_scalar::<_, String>("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
    {
        Ok(mode) if mode.eq_ignore_ascii_case("wal") => Check::new(
            "sqlite journal",
            Status::Ok,
            "WAL: readers never block the writer",
        ),
        Ok(mode) => Check::new(
            "sqlite journal",
            Status::Warn,
            format!("journal mode {mode}"),
        )
        .hint("open the file with mink's SQLite store once: it switches the file to WAL"),
        Err(e) => Check::new("sqlite journal", Status::Warn, e.to_string()),
    }
}

async fn restored_log(target: &Target, pool: &sqlx::PgPool) -> Check {
    let sql = format!(
        "SELECT COALESCE(max(transaction_id) >= pg_snapshot_xmax(pg_current_snapshot()), false) \
         FROM {}.events",
        target.schema
    );
    match sqlx::query_scalar::<_, bool>(AssertSqlSafe(sql)).fetch_one(pool).await {
        Ok(false) => Check::new("restored log", Status::Ok, "transaction ids belong to this cluster"),
        Ok(true) => Check::new(
            "restored log",
            Status::Fail,
            "the events carry transaction ids this cluster has not reached: the log was restored from another cluster, and readers see none of it",
        )
        .hint("repair it once with `PostgresStore::repair_restored_log` (see docs/adr/004-global-ordering.md)"),
        Err(e) => Check::new("restored log", Status::Warn, e.to_string()),
    }
}

async fn long_transactions(pool: &sqlx::PgPool, warn_after: u64) -> Check {
    let rows = sqlx::query_as::<_, (i32, f64, Option<String>, Option<String>)>(
        "SELECT pid, EXTRACT(EPOCH FROM now() - xact_start)::float8, state, left(query, 120) \
         FROM pg_stat_activity \
         WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid() \
           AND now() - xact_start > make_interval(secs => $1) \
         ORDER BY xact_start",
    )
    .bind(warn_after as f64)
    .fetch_all(pool)
    .await;
    match rows {
        Ok(rows) if rows.is_empty() => Check::new(
            "long transactions",
            Status::Ok,
            format!("none open longer than {warn_after} s"),
        ),
        Ok(rows) => {
            let list: Vec<String> = rows
                .iter()
                .map(|(pid, age, state, query)| {
                    format!(
                        "pid {pid}, {age:.0} s, {}: {}",
                        state.as_deref().unwrap_or("?"),
                        query.as_deref().unwrap_or("")
                    )
                })
                .collect();
            Check::new("long transactions", Status::Warn, list.join("; ")).hint(
                "a long transaction holds back the log's visibility horizon (docs/adr/004-global-ordering.md): readers of the log wait for it; end it, or `SELECT pg_terminate_backend(pid)`",
            )
        }
        Err(e) => Check::new("long transactions", Status::Warn, e.to_string()),
    }
}

async fn idempotency(target: &Target, raw: &Raw) -> Check {
    let counted = match raw {
        Raw::Sqlite(pool) => sqlx::query_as::<_, (i64, i64)>(
            "SELECT count(*), coalesce(sum(expires_at < CAST(unixepoch('subsec') * 1000 AS INTEGER)), 0) \
             FROM mink_idempotency",
        )
        .fetch_one(pool)
        .await,
        Raw::Postgres(pool) => sqlx::query_as::<_, (i64, i64)>(AssertSqlSafe(format!(
            "SELECT count(*), count(*) FILTER (WHERE expires_at < now()) FROM {}.idempotency",
            target.schema
        )))
        .fetch_one(pool)
        .await,
    };
    match counted {
        Ok((total, expired)) => {
            let check = Check::new(
                "idempotency records",
                Status::Ok,
                format!("{total} stored, {expired} expired"),
            );
            if expired > 10_000 && expired * 2 > total {
                Check {
                    status: Status::Warn,
                    ..check
                }
                .hint("expired records are claimed again when their key returns; delete old ones in a maintenance window")
            } else {
                check
            }
        }
        Err(e) => Check::new("idempotency records", Status::Warn, e.to_string()),
    }
}

async fn projections(ctx: &Ctx, target: &Target, lag_warn: u64) -> Check {
    let store = match target.open_store().await {
        Ok(store) => store,
        Err(e) => return Check::new("projections", Status::Fail, e.message),
    };
    let views = match views(ctx, &store).await {
        Ok(views) => views,
        Err(e) => return Check::new("projections", Status::Fail, e.message),
    };
    let faulted: Vec<String> = views
        .iter()
        .filter(|v| v.state == ProjectionState::Faulted)
        .map(|v| {
            format!(
                "{} ({})",
                v.name,
                v.last_error.as_deref().unwrap_or("no error stored")
            )
        })
        .collect();
    if !faulted.is_empty() {
        return Check::new(
            "projections",
            Status::Fail,
            format!("faulted: {}", faulted.join(", ")),
        )
        .hint("fix the cause, then `mink projection resume <name>`; `mink projection status <name>` shows the error");
    }
    let lagging: Vec<String> = views
        .iter()
        .filter(|v| v.lag_events > lag_warn && v.desired == Desired::Running)
        .map(|v| {
            format!(
                "{} ({} events, {:.0} s)",
                v.name, v.lag_events, v.lag_seconds
            )
        })
        .collect();
    let parked: usize = views.iter().map(|v| v.dead_letters).sum();
    if !lagging.is_empty() {
        Check::new(
            "projections",
            Status::Warn,
            format!("behind: {}", lagging.join(", ")),
        )
        .hint("check that an engine runs them: `mink projection list` shows owners")
    } else if parked > 0 {
        Check::new(
            "projections",
            Status::Warn,
            format!("{} projection(s), {parked} parked event(s)", views.len()),
        )
        .hint("see them with `mink projection dead-letters list <name>`")
    } else {
        Check::new(
            "projections",
            Status::Ok,
            format!("{} projection(s), none faulted or behind", views.len()),
        )
    }
}

fn report(ctx: &Ctx, checks: &[Check]) -> CliResult {
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    if ctx.out.json() {
        let list: Vec<Value> = checks
            .iter()
            .map(|c| json!({ "check": c.name, "status": c.status.as_str(), "detail": c.detail, "hint": c.hint }))
            .collect();
        ctx.out
            .document(&json!({ "ok": failed == 0, "checks": list }));
    } else {
        for c in checks {
            let tone = match c.status {
                Status::Ok => Tone::Good,
                Status::Warn => Tone::Warn,
                Status::Fail => Tone::Bad,
            };
            ctx.out.text(format!(
                "{:<5} {:<20} {}",
                ctx.out.paint(c.status.as_str(), tone),
                c.name,
                c.detail
            ));
            if let Some(hint) = &c.hint {
                ctx.out.text(format!("{:<26} hint: {hint}", ""));
            }
        }
    }
    if failed > 0 {
        return Err(CliError::new(format!("{failed} check(s) failed"))
            .hint("each failed check above says how to fix it"));
    }
    Ok(())
}
