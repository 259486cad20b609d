//! `mink migrate status|up|down|create`.
//!
//! Two sets of migrations share the store's database:
//!
//! - **mink's own**, embedded in the build (the same ones each store runs
//!   when it opens), recorded by sqlx in `_sqlx_migrations`. They are
//!   forward-only: none has a down script.
//! - **the application's**, in `--source` (default `migrations/`), created
//!   by `mink migrate create` as reversible pairs and recorded in
//!   `_mink_app_migrations`, so the two sets never mistake each other's
//!   rows for unknown migrations.
//!
//! sqlx's migrator applies each migration in its own transaction, under an
//! advisory lock on PostgreSQL (SQLite's single writer serializes them),
//! and records its checksum; `status` compares the checksums.

use std::collections::BTreeMap;
use std::path::Path;

use mink_runtime::adapters::postgres::PostgresStore;
use mink_runtime::adapters::sqlite::SqliteStore;
use serde_json::{Value, json};
use sqlx::AssertSqlSafe;
use sqlx::migrate::{Migration, Migrator};

use super::Ctx;
use crate::args::{MigrateCommand, MigrateCreate, MigrateRun, MigrateSource};
use crate::connect::{Backend, Raw, Target};
use crate::error::{CliError, CliResult};
use crate::output::Tone;

/// Where the application's migrations are recorded.
pub(crate) const APP_TABLE: &str = "_mink_app_migrations";
/// Where sqlx records mink's own migrations.
const MINK_TABLE: &str = "_sqlx_migrations";

/// The state of one migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Applied, with the checksum it has now.
    Applied,
    /// Not applied yet.
    Pending,
    /// Applied, but its file changed since.
    Changed,
    /// Started and failed part-way (sqlx marks it not successful).
    Failed,
    /// Applied, but this build does not know it.
    Missing,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Changed => "changed",
            State::Failed => "failed",
            State::Missing => "missing",
        }
    }
}

/// One migration's line in `status`.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub set: &'static str,
    pub version: i64,
    pub description: String,
    pub state: State,
    pub down_script: bool,
}

/// A set of migrations and the table recording it.
struct Set<'m> {
    name: &'static str,
    migrator: &'m Migrator,
    table: &'static str,
}

pub(crate) async fn run(ctx: &Ctx, command: MigrateCommand) -> CliResult {
    match command {
        MigrateCommand::Status(source) => status(ctx, &source).await,
        MigrateCommand::Up(args) => up(ctx, &args).await,
        MigrateCommand::Down(args) => down(ctx, &args).await,
        MigrateCommand::Create(args) => create(ctx, &args),
    }
}

/// mink's own migrations for the target's adapter.
fn mink_set(target: &Target) -> CliResult<Set<'static>> {
    let embedded = match target.backend_name() {
        "sqlite" => SqliteStore::migrator(),
        "postgres" => PostgresStore::migrator(),
        _ => {
            return Err(
                CliError::new("the in-memory store has no schema to migrate")
                    .hint("use a SQLite or PostgreSQL URL"),
            );
        }
    };
    Ok(Set {
        name: "mink",
        migrator: embedded,
        table: MINK_TABLE,
    })
}

/// The application's migrations, when `source` exists.
async fn app_migrator(source: &MigrateSource) -> CliResult<Option<Migrator>> {
    if !source.source.is_dir() {
        return Ok(None);
    }
    let mut migrator = Migrator::new(source.source.clone()).await.map_err(|e| {
        CliError::new(format!(
            "could not read the migrations in `{}`: {e}",
            source.source.display()
        ))
        .hint("migration files are named `<version>_<name>.up.sql` and `.down.sql` (see `mink migrate create`)")
    })?;
    migrator.dangerous_set_table_name(APP_TABLE);
    Ok(Some(migrator))
}

/// The application's set, over its migrator.
fn app_set(migrator: &Migrator) -> Set<'_> {
    Set {
        name: "app",
        migrator,
        table: APP_TABLE,
    }
}

fn qualified(target: &Target, raw: &Raw, table: &str) -> String {
    match raw {
        Raw::Sqlite(_) => table.to_owned(),
        Raw::Postgres(_) => format!("{}.{table}", target.schema),
    }
}

/// The rows of a migrations table: version → (checksum, success). Empty
/// when the table does not exist.
async fn applied(
    target: &Target,
    raw: &Raw,
    table: &str,
) -> CliResult<BTreeMap<i64, (Vec<u8>, bool)>> {
    let context = "could not read the applied migrations";
    let sql = format!(
        "SELECT version, checksum, success FROM {}",
        qualified(target, raw, table)
    );
    let rows: Vec<(i64, Vec<u8>, bool)> = match raw {
        Raw::Sqlite(pool) => {
            let exists: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            )
            .bind(table)
            .fetch_one(pool)
            .await
            .map_err(|e| CliError::sql(context, e))?;
            if exists == 0 {
                return Ok(BTreeMap::new());
            }
            sqlx::query_as(AssertSqlSafe(sql))
                .fetch_all(pool)
                .await
                .map_err(|e| CliError::sql(context, e))?
        }
        Raw::Postgres(pool) => {
            let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
                .bind(qualified(target, raw, table))
                .fetch_one(pool)
                .await
                .map_err(|e| CliError::sql(context, e))?;
            if !exists {
                return Ok(BTreeMap::new());
            }
            sqlx::query_as(AssertSqlSafe(sql))
                .fetch_all(pool)
                .await
                .map_err(|e| CliError::sql(context, e))?
        }
    };
    Ok(rows.into_iter().map(|(v, c, s)| (v, (c, s))).collect())
}

fn ups(migrator: &Migrator) -> impl Iterator<Item = &Migration> {
    migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
}

fn has_down(migrator: &Migrator, version: i64) -> bool {
    migrator
        .iter()
        .any(|m| m.version == version && m.migration_type.is_down_migration())
}

async fn lines_of(target: &Target, raw: &Raw, set: &Set<'_>) -> CliResult<Vec<Line>> {
    let applied = applied(target, raw, set.table).await?;
    let mut lines: Vec<Line> = ups(set.migrator)
        .map(|m| Line {
            set: set.name,
            version: m.version,
            description: m.description.to_string(),
            state: match applied.get(&m.version) {
                None => State::Pending,
                Some((_, false)) => State::Failed,
                Some((checksum, true)) if checksum.as_slice() != &*m.checksum => State::Changed,
                Some(_) => State::Applied,
            },
            down_script: has_down(set.migrator, m.version),
        })
        .collect();
    for version in applied.keys() {
        if !set.migrator.version_exists(*version) {
            lines.push(Line {
                set: set.name,
                version: *version,
                description: String::new(),
                state: State::Missing,
                down_script: false,
            });
        }
    }
    lines.sort_by_key(|l| l.version);
    Ok(lines)
}

/// Every migration of both sets with its state.
pub(crate) async fn lines(
    target: &Target,
    raw: &Raw,
    source: &MigrateSource,
) -> CliResult<Vec<Line>> {
    let mut all = lines_of(target, raw, &mink_set(target)?).await?;
    if let Some(app) = app_migrator(source).await? {
        all.extend(lines_of(target, raw, &app_set(&app)).await?);
    }
    Ok(all)
}

fn line_json(line: &Line) -> Value {
    json!({
        "set": line.set,
        "version": line.version,
        "description": line.description,
        "state": line.state.as_str(),
        "down_script": line.down_script,
    })
}

async fn status(ctx: &Ctx, source: &MigrateSource) -> CliResult {
    let target = ctx.target()?;
    let raw = target.raw(false).await?;
    let lines = lines(&target, &raw, source).await?;
    if ctx.out.json() {
        let list: Vec<Value> = lines.iter().map(line_json).collect();
        ctx.out.document(&json!({ "migrations": list }));
        return Ok(());
    }
    let mut table = ctx
        .out
        .table(&["set", "version", "description", "state", "down"]);
    for l in &lines {
        let tone = match l.state {
            State::Applied => Tone::Good,
            State::Pending => Tone::Warn,
            _ => Tone::Bad,
        };
        table.add_row(vec![
            l.set.to_owned(),
            l.version.to_string(),
            l.description.clone(),
            ctx.out.paint(l.state.as_str(), tone),
            if l.down_script { "yes" } else { "none" }.to_owned(),
        ]);
    }
    ctx.out.print_table(&table, "no migrations");
    if lines
        .iter()
        .any(|l| matches!(l.state, State::Changed | State::Failed))
    {
        ctx.out.text(
            "\nA changed or failed migration was edited or interrupted after it ran; \
             restore its file, or repair the database by hand before `mink migrate up`.",
        );
    }
    Ok(())
}

/// Creates the PostgreSQL schema, as the store's builder does; switches a
/// SQLite file to WAL, as the store does when it opens it.
async fn ensure_schema(target: &Target, raw: &Raw) -> CliResult {
    if let Raw::Sqlite(pool) = raw
        && matches!(target.backend, Backend::SqliteFile(_))
    {
        sqlx::query("PRAGMA journal_mode = WAL")
            .execute(pool)
            .await
            .map_err(|e| CliError::sql("could not switch the file to WAL", e))?;
    }
    if let Raw::Postgres(pool) = raw {
        let name_ok = target
            .schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !name_ok || target.schema.is_empty() {
            return Err(CliError::new(format!(
                "schema name `{}` must be lowercase ASCII letters, digits or `_`",
                target.schema
            )));
        }
        let created = sqlx::query(AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS {}",
            target.schema
        )))
        .execute(pool)
        .await;
        match created {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23505") => {}
            Err(e) => return Err(CliError::sql("could not create the schema", e)),
        }
    }
    Ok(())
}

async fn run_to(
    raw: &Raw,
    migrator: &Migrator,
    version: i64,
) -> Result<(), sqlx::migrate::MigrateError> {
    match raw {
        Raw::Sqlite(pool) => migrator.run_to(version, pool).await,
        Raw::Postgres(pool) => migrator.run_to(version, pool).await,
    }
}

async fn up(ctx: &Ctx, args: &MigrateRun) -> CliResult {
    let target = ctx.target()?;
    let raw = match &target.backend {
        // A dry run against a file not created yet: every migration is
        // pending, as in an empty private database.
        Backend::SqliteFile(path) if args.dry_run && !path.exists() => {
            Target {
                backend: Backend::SqliteMemory,
                ..target.clone()
            }
            .raw(false)
            .await?
        }
        _ => target.raw(!args.dry_run).await?,
    };
    let lines = lines(&target, &raw, &args.source).await?;
    if let Some(bad) = lines
        .iter()
        .find(|l| matches!(l.state, State::Changed | State::Failed))
    {
        return Err(CliError::new(format!(
            "{} migration {} ({}) is {} since it was applied; nothing was run",
            bad.set,
            bad.version,
            bad.description,
            bad.state.as_str()
        ))
        .hint("restore the migration's file as it was applied, or repair the database by hand; `mink migrate status` lists them"));
    }
    let pending: Vec<&Line> = lines.iter().filter(|l| l.state == State::Pending).collect();
    if args.dry_run || pending.is_empty() {
        if ctx.out.json() {
            let list: Vec<Value> = pending.iter().map(|l| line_json(l)).collect();
            ctx.out
                .document(&json!({ "dry_run": args.dry_run, "applied": [], "pending": list }));
        } else if pending.is_empty() {
            ctx.out.text("the schema is up to date");
        } else {
            for l in &pending {
                ctx.out.text(format!(
                    "would apply {} {} {}",
                    l.set, l.version, l.description
                ));
            }
        }
        return Ok(());
    }
    ensure_schema(&target, &raw).await?;
    let mink = mink_set(&target)?;
    let app_migrator = app_migrator(&args.source).await?;
    let app = app_migrator.as_ref().map(app_set);
    let bar = ctx.out.progress(Some(pending.len() as u64), "migrating");
    let mut done = Vec::new();
    for line in &pending {
        let set = if line.set == "mink" {
            Some(&mink)
        } else {
            app.as_ref()
        };
        let Some(set) = set else { continue };
        bar.set_message(format!("{} {}", line.set, line.description));
        run_to(&raw, set.migrator, line.version).await.map_err(|e| {
            CliError::new(format!(
                "{} migration {} ({}) failed and was rolled back: {}",
                line.set,
                line.version,
                line.description,
                crate::error::chain(&e)
            ))
            .hint("fix the migration (or the database) and run `mink migrate up` again; migrations before it stay applied")
        })?;
        bar.inc(1);
        done.push(line_json(line));
        if !ctx.out.json() {
            bar.suspend(|| {
                println!("applied {} {} {}", line.set, line.version, line.description);
            });
        }
    }
    bar.finish_and_clear();
    if ctx.out.json() {
        ctx.out
            .document(&json!({ "dry_run": false, "applied": done, "pending": [] }));
    }
    Ok(())
}

async fn down(ctx: &Ctx, args: &MigrateRun) -> CliResult {
    let target = ctx.target()?;
    let raw = target.raw(false).await?;
    let forward_only = || {
        let mink = mink_set(&target)
            .map(|s| {
                ups(s.migrator)
                    .map(|m| format!("{} {}", m.version, m.description))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        format!("mink's own migrations ({mink}) are forward-only: they have no down scripts")
    };
    let Some(app) = app_migrator(&args.source).await? else {
        return Err(CliError::new(format!(
            "nothing to revert: there are no application migrations in `{}`, and {}",
            args.source.source.display(),
            forward_only()
        ))
        .hint("point --source at the application's migrations; to undo a change to mink's schema, restore a backup"));
    };
    let applied: Vec<i64> = applied(&target, &raw, APP_TABLE)
        .await?
        .into_iter()
        .filter(|(_, (_, ok))| *ok)
        .map(|(v, _)| v)
        .collect();
    let Some(&last) = applied.last() else {
        return Err(CliError::new(format!(
            "nothing to revert: no application migration is applied, and {}",
            forward_only()
        )));
    };
    let description = ups(&app)
        .find(|m| m.version == last)
        .map(|m| m.description.to_string())
        .unwrap_or_default();
    if !has_down(&app, last) {
        return Err(CliError::new(format!(
            "application migration {last} ({description}) has no down script"
        ))
        .hint(format!(
            "add `{last}_<name>.down.sql` beside its up script in `{}`",
            args.source.source.display()
        )));
    }
    let target_version = applied.iter().rev().nth(1).copied().unwrap_or(0);
    if args.dry_run {
        if ctx.out.json() {
            ctx.out.document(&json!({ "dry_run": true, "reverted": [{ "set": "app", "version": last, "description": description }] }));
        } else {
            ctx.out
                .text(format!("would revert app {last} {description}"));
        }
        return Ok(());
    }
    ctx.out.confirm(
        &format!("This will run the down script of application migration {last} ({description})"),
        ctx.global.yes,
    )?;
    let result = match &raw {
        Raw::Sqlite(pool) => app.undo(pool, target_version).await,
        Raw::Postgres(pool) => app.undo(pool, target_version).await,
    };
    result.map_err(|e| {
        CliError::new(format!(
            "reverting application migration {last} ({description}) failed and was rolled back: {}",
            crate::error::chain(&e)
        ))
    })?;
    if ctx.out.json() {
        ctx.out.document(&json!({ "dry_run": false, "reverted": [{ "set": "app", "version": last, "description": description }] }));
    } else {
        ctx.out.text(format!("reverted app {last} {description}"));
    }
    Ok(())
}

fn create(ctx: &Ctx, args: &MigrateCreate) -> CliResult {
    let name: String = args
        .name
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.trim_matches('_').is_empty() {
        return Err(
            CliError::new("a migration needs a name made of letters or digits")
                .hint("for example `mink migrate create add_orders_index`"),
        );
    }
    let dir: &Path = &args.source.source;
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::io(&format!("could not create `{}`", dir.display()), e))?;
    let version = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string();
    let mut written = Vec::new();
    for (suffix, body) in [
        ("up", "-- Applied by `mink migrate up`, in a transaction.\n"),
        (
            "down",
            "-- Applied by `mink migrate down`: undo what the up script did.\n",
        ),
    ] {
        let path = dir.join(format!("{version}_{name}.{suffix}.sql"));
        if path.exists() {
            return Err(CliError::new(format!(
                "`{}` exists already",
                path.display()
            )));
        }
        std::fs::write(&path, body)
            .map_err(|e| CliError::io(&format!("could not write `{}`", path.display()), e))?;
        written.push(path.display().to_string());
    }
    if ctx.out.json() {
        ctx.out
            .document(&json!({ "version": version, "files": written }));
    } else {
        for path in &written {
            ctx.out.text(format!("created {path}"));
        }
    }
    Ok(())
}
