//! The `mink` binary end to end: against a real SQLite file always, and
//! against PostgreSQL (a schema of its own) when `MINK_TEST_POSTGRES_URL`
//! is set. Exit codes, `--json` documents, confirmation prompts, pause and
//! resume of an engine running in this process, diagnose failing, help
//! golden files, and one scaffold that builds and passes its test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use mink_runtime::adapters::sqlite::SqliteStore;
use mink_runtime::projection::{
    HandlerError, PoisonPolicy, Projection, ProjectionContext, ProjectionEngine, ProjectionKind,
    ProjectionOptions,
};
use mink_runtime::store::ProjectionState;
use mink_runtime::{EventStore, ExpectedVersion, NewEvent, RecordedEvent};
use serde_json::Value;

/// Prints why a test did nothing, as the workspace's test helpers do.
fn skip(reason: &str) {
    eprintln!("skipped: {reason}");
}

/// The binary, with no `.env`, DATABASE_URL or colours from outside.
fn mink() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mink"));
    command
        .env_remove("DATABASE_URL")
        .env_remove("MINK_SCHEMA")
        .env("NO_COLOR", "1")
        .arg("--no-dotenv")
        .stdin(Stdio::null());
    command
}

/// Runs `mink args…` against `url`.
fn run(url: &str, args: &[&str]) -> Output {
    mink()
        .arg("-D")
        .arg(url)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs and expects success; returns the JSON document printed.
fn json(url: &str, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let output = run(url, &all);
    assert!(
        output.status.success(),
        "mink {args:?} failed: {}",
        stderr(&output)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("mink {args:?} printed no JSON ({e}): {}", stdout(&output)))
}

/// Runs and expects failure with exit code 1 and a message containing
/// `needle`.
fn fails(url: &str, args: &[&str], needle: &str) -> Output {
    let output = run(url, args);
    assert_eq!(
        output.status.code(),
        Some(1),
        "mink {args:?} should fail: {}{}",
        stdout(&output),
        stderr(&output)
    );
    let text = format!("{}{}", stdout(&output), stderr(&output));
    assert!(
        text.contains(needle),
        "mink {args:?}: `{needle}` not in {text}"
    );
    output
}

fn event(kind: &str) -> NewEvent {
    NewEvent::new(kind, br#"{"n":1}"#.to_vec())
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("mink.db").display())
}

async fn seed(store: &dyn EventStore) {
    store
        .append_to_stream(
            "order-1",
            ExpectedVersion::NoStream,
            vec![
                event("OrderCreated"),
                event("ItemAdded"),
                event("ItemAdded"),
            ],
        )
        .await
        .unwrap();
    store
        .append_to_stream(
            "order-2",
            ExpectedVersion::NoStream,
            vec![event("OrderCreated")],
        )
        .await
        .unwrap();
    store
        .append_to_stream(
            "customer-7",
            ExpectedVersion::NoStream,
            vec![event("Registered")],
        )
        .await
        .unwrap();
}

/// Reading commands: JSON documents, NDJSON, exit codes, error hints.
fn reading_commands(url: &str) {
    let streams = json(url, &["stream", "list"]);
    let ids: Vec<&str> = streams["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stream_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["order-1", "order-2", "customer-7"]);
    let orders = json(
        url,
        &["stream", "list", "--category", "order", "--limit", "1"],
    );
    assert_eq!(orders["streams"].as_array().unwrap().len(), 1);
    let prefixed = json(url, &["stream", "list", "--prefix", "cust"]);
    assert_eq!(prefixed["streams"][0]["stream_id"], "customer-7");

    let shown = json(url, &["stream", "show", "order-1"]);
    assert_eq!(shown["version"], 3);
    assert_eq!(shown["category"], "order");
    let missing = fails(
        url,
        &["stream", "show", "order-9"],
        "there is no stream `order-9`",
    );
    assert!(stderr(&missing).contains("hint:"));

    let lines = run(
        url,
        &["stream", "events", "order-1", "--from", "2", "--json"],
    );
    assert!(lines.status.success(), "{}", stderr(&lines));
    let events: Vec<Value> = stdout(&lines)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON event per line"))
        .collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["version"], 2);
    assert_eq!(events[0]["payload"]["n"], 1);

    let typed = run(url, &["events", "--type", "OrderCreated", "--json"]);
    assert_eq!(stdout(&typed).lines().count(), 2);
    let limited = run(
        url,
        &["events", "--category", "order", "--limit", "3", "--json"],
    );
    assert_eq!(stdout(&limited).lines().count(), 3);

    let stats = json(url, &["stream", "stats", "--top", "1"]);
    assert_eq!(stats["events"], 5);
    assert_eq!(stats["streams"], 3);
    assert_eq!(stats["top_streams"][0]["name"], "order-1");
    assert_eq!(stats["top_streams"].as_array().unwrap().len(), 1);
    assert_eq!(stats["categories"][0]["name"], "order");
    assert_eq!(stats["categories"][0]["events"], 4);

    let export = run(url, &["stream", "export", "--category", "order"]);
    assert!(export.status.success(), "{}", stderr(&export));
    assert_eq!(stdout(&export).lines().count(), 4);

    let migrations = json(url, &["migrate", "status"]);
    let states: Vec<&str> = migrations["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap())
        .collect();
    assert!(
        !states.is_empty() && states.iter().all(|s| *s == "applied"),
        "{states:?}"
    );

    fails(url, &["events", "--from", "x/y"], "is not a log position");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_commands_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let store = SqliteStore::open(dir.path().join("mink.db")).await.unwrap();
    seed(&store).await;
    let url2 = url.clone();
    tokio::task::spawn_blocking(move || reading_commands(&url2))
        .await
        .unwrap();
    store.close().await;
}

#[test]
fn no_database_url_and_bad_urls_fail_with_the_fix() {
    let output = mink()
        .args(["stream", "list"])
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("no database URL given"));
    assert!(stderr(&output).contains("DATABASE_URL"));
    fails("mysql://h/db", &["stream", "list"], "not a database URL");
    fails(
        "sqlite:///no/such/dir/x.db",
        &["stream", "list"],
        "no SQLite database",
    );
}

#[test]
fn dotenv_supplies_the_database_url_unless_told_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("env.db");
    std::fs::write(
        dir.path().join(".env"),
        format!("DATABASE_URL=sqlite://{}\n", db.display()),
    )
    .unwrap();
    let mut with_env = Command::new(env!("CARGO_BIN_EXE_mink"));
    let output = with_env
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .args(["migrate", "up"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(db.exists());
    let output = mink()
        .current_dir(dir.path())
        .args(["migrate", "status"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn diagnose_fails_when_the_database_is_unreachable() {
    let output = run("sqlite:///no/such/dir/x.db", &["diagnose", "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["checks"][0]["check"], "connectivity");
    assert_eq!(doc["checks"][0]["status"], "fail");
    let output = run("sqlite:///no/such/dir/x.db", &["doctor"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("fail"));
}

/// Counts events; fails every event when `poison` is set.
struct Counter {
    name: &'static str,
    seen: Arc<AtomicU64>,
    poison: bool,
}

#[async_trait]
impl Projection for Counter {
    fn name(&self) -> &str {
        self.name
    }
    fn kind(&self) -> ProjectionKind {
        ProjectionKind::Async
    }
    fn event_types(&self) -> Vec<&'static str> {
        vec!["Tick"]
    }
    fn options(&self) -> ProjectionOptions {
        ProjectionOptions {
            lease_ttl: Duration::from_millis(600),
            poll_interval: Duration::from_millis(50),
            max_attempts: 1,
            on_poison: PoisonPolicy::Pause,
            backoff_initial: Duration::from_millis(10),
            ..ProjectionOptions::default()
        }
    }
    async fn handle(
        &self,
        _event: &RecordedEvent,
        _ctx: &mut ProjectionContext<'_>,
    ) -> Result<(), HandlerError> {
        if self.poison {
            return Err(HandlerError::permanent("the tick was malformed"));
        }
        self.seen.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

async fn ticks(store: &dyn EventStore, n: usize) {
    let events = (0..n).map(|_| event("Tick")).collect();
    store
        .append_to_stream("clock-1", ExpectedVersion::Any, events)
        .await
        .unwrap();
}

async fn cli(url: &str, args: &[&str]) -> Output {
    let url = url.to_owned();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&url, &args)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume_from_the_cli_reach_a_running_engine() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let store = SqliteStore::open(dir.path().join("mink.db")).await.unwrap();
    let store: Arc<dyn EventStore> = Arc::new(store);
    let seen = Arc::new(AtomicU64::new(0));
    let engine = ProjectionEngine::builder(store.clone())
        .instance_id("test-engine")
        .projection(Counter {
            name: "ticks",
            seen: seen.clone(),
            poison: false,
        })
        .build()
        .unwrap();
    engine.start();
    ticks(&*store, 3).await;
    engine
        .wait_caught_up("ticks", Duration::from_secs(20))
        .await
        .unwrap();

    let paused = cli(&url, &["projection", "pause", "ticks", "--timeout", "20"]).await;
    assert!(paused.status.success(), "{}", stderr(&paused));
    assert!(stdout(&paused).contains("confirmed"), "{}", stdout(&paused));
    let status = cli(&url, &["projection", "status", "ticks", "--json"]).await;
    let doc: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(doc["state"], "paused");
    assert_eq!(doc["owner"], "test-engine");
    assert_eq!(doc["events_processed"], 3);

    // Paused: new events wait, and the checkpoint stays put.
    ticks(&*store, 2).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(seen.load(Ordering::SeqCst), 3);
    let list = cli(&url, &["projection", "list", "--json"]).await;
    let doc: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(doc["projections"][0]["name"], "ticks");
    assert_eq!(doc["projections"][0]["lag_events"], 2);
    assert_eq!(doc["projections"][0]["state"], "paused");

    let resumed = cli(&url, &["projection", "resume", "ticks", "--json"]).await;
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let doc: Value = serde_json::from_slice(&resumed.stdout).unwrap();
    assert_eq!(doc["outcome"], "confirmed");
    engine
        .wait_caught_up("ticks", Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 5);

    // Destructive commands ask first; without a terminal they refuse.
    let refused = cli(&url, &["projection", "rebuild", "ticks"]).await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("-y/--yes"),
        "{}",
        stderr(&refused)
    );
    let dry = cli(&url, &["projection", "rebuild", "ticks", "--dry-run"]).await;
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert_eq!(seen.load(Ordering::SeqCst), 5);
    let rebuilt = cli(
        &url,
        &["projection", "rebuild", "ticks", "-y", "--timeout", "30"],
    )
    .await;
    assert!(rebuilt.status.success(), "{}", stderr(&rebuilt));
    assert_eq!(
        seen.load(Ordering::SeqCst),
        10,
        "the rebuild replays every tick"
    );
    let unknown = cli(&url, &["projection", "pause", "nope"]).await;
    assert_eq!(unknown.status.code(), Some(1));
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnose_fails_on_a_faulted_projection() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let store = SqliteStore::open(dir.path().join("mink.db")).await.unwrap();
    let healthy = cli(&url, &["diagnose", "--json"]).await;
    assert!(healthy.status.success(), "{}", stdout(&healthy));
    let store: Arc<dyn EventStore> = Arc::new(store);
    let engine = ProjectionEngine::builder(store.clone())
        .instance_id("test-engine")
        .projection(Counter {
            name: "broken",
            seen: Arc::new(AtomicU64::new(0)),
            poison: true,
        })
        .build()
        .unwrap();
    engine.start();
    ticks(&*store, 1).await;
    let mut state = ProjectionState::Running;
    for _ in 0..200 {
        state = engine.status_of("broken").await.unwrap().state;
        if state == ProjectionState::Faulted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state, ProjectionState::Faulted);
    // The fault reaches the stored record with the next heartbeat.
    let mut doc = Value::Null;
    for _ in 0..100 {
        let output = cli(&url, &["diagnose", "--json"]).await;
        doc = serde_json::from_slice(&output.stdout).unwrap();
        if output.status.code() == Some(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(doc["ok"], false, "{doc}");
    let check = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "projections")
        .unwrap();
    assert_eq!(check["status"], "fail");
    assert!(check["detail"].as_str().unwrap().contains("broken"));
    engine.stop().await;
}

#[test]
fn application_migrations_go_up_and_down() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let source = dir.path().join("migrations");
    let source_arg = source.display().to_string();
    let created = json(
        &url,
        &["migrate", "create", "add notes", "--source", &source_arg],
    );
    let files: Vec<PathBuf> = created["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| PathBuf::from(f.as_str().unwrap()))
        .collect();
    assert_eq!(files.len(), 2);
    std::fs::write(&files[0], "CREATE TABLE notes (id INTEGER PRIMARY KEY);").unwrap();
    std::fs::write(&files[1], "DROP TABLE notes;").unwrap();

    let dry = json(
        &url,
        &["migrate", "up", "--source", &source_arg, "--dry-run"],
    );
    // mink's own SQLite migrations, then the application's one.
    let own = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../mink-runtime/migrations/sqlite"
    ))
    .unwrap()
    .count();
    assert_eq!(dry["pending"].as_array().unwrap().len(), own + 1);
    assert!(
        !dir.path().join("mink.db").exists(),
        "a dry run creates nothing"
    );
    let up = json(&url, &["migrate", "up", "--source", &source_arg]);
    assert_eq!(up["applied"].as_array().unwrap().len(), own + 1);
    let status = json(&url, &["migrate", "status", "--source", &source_arg]);
    let app: Vec<&Value> = status["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["set"] == "app")
        .collect();
    assert_eq!(app.len(), 1);
    assert_eq!(app[0]["state"], "applied");
    assert_eq!(app[0]["down_script"], true);

    // A changed file is reported, and `up` refuses to run past it.
    std::fs::write(&files[0], "CREATE TABLE notes (id INTEGER);").unwrap();
    let status = json(&url, &["migrate", "status", "--source", &source_arg]);
    assert!(status.to_string().contains("\"changed\""));
    fails(&url, &["migrate", "up", "--source", &source_arg], "changed");
    std::fs::write(&files[0], "CREATE TABLE notes (id INTEGER PRIMARY KEY);").unwrap();

    fails(
        &url,
        &["migrate", "down", "--source", &source_arg],
        "needs confirmation",
    );
    let down = json(&url, &["migrate", "down", "--source", &source_arg, "-y"]);
    assert_eq!(down["reverted"][0]["set"], "app");
    fails(
        &url,
        &["migrate", "down", "--source", &source_arg, "-y"],
        "forward-only",
    );
}

/// The help of every command, against `tests/help/*.txt`; regenerate
/// them with `MINK_BLESS=1 cargo test -p mink-cli --test cli`.
#[test]
fn help_golden_files() {
    let commands: &[&[&str]] = &[
        &[],
        &["init"],
        &["generate"],
        &["migrate"],
        &["migrate", "up"],
        &["stream"],
        &["stream", "events"],
        &["stream", "export"],
        &["events"],
        &["projection"],
        &["projection", "pause"],
        &["projection", "rebuild"],
        &["projection", "dead-letters"],
        &["saga"],
        &["saga", "list"],
        &["diagnose"],
        &["schema"],
        &["schema", "validate"],
        &["completions"],
    ];
    let bless = std::env::var_os("MINK_BLESS").is_some();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/help");
    let mut stale = Vec::new();
    for command in commands {
        let output = mink()
            .env("COLUMNS", "100")
            .args(command.iter())
            .arg("--help")
            .output()
            .unwrap();
        assert!(output.status.success());
        // The default of --mink-path is where this checkout lives.
        let text = stdout(&output).replace(env!("CARGO_MANIFEST_DIR"), "<mink-cli>");
        let name = if command.is_empty() {
            "mink".to_owned()
        } else {
            format!("mink-{}", command.join("-"))
        };
        let file = dir.join(format!("{name}.txt"));
        if bless {
            std::fs::write(&file, &text).unwrap();
        } else if std::fs::read_to_string(&file).ok().as_deref() != Some(text.as_str()) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "help changed for {stale:?}; review and bless with MINK_BLESS=1"
    );
}

#[test]
fn completions_print_a_script() {
    let output = mink().args(["completions", "bash"]).output().unwrap();
    assert!(output.status.success());
    assert!(stdout(&output).contains("_mink()"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_schema_of_its_own() {
    let Ok(base) = std::env::var("MINK_TEST_POSTGRES_URL") else {
        skip("MINK_TEST_POSTGRES_URL is not set: the PostgreSQL CLI test did not run");
        return;
    };
    let schema = format!("mink_cli_{}", std::process::id());
    let url = base.clone();
    let s = schema.clone();
    tokio::task::spawn_blocking(move || {
        let with = |args: &[&str]| {
            let mut all = vec!["--schema", s.as_str()];
            all.extend_from_slice(args);
            all.iter().map(|a| a.to_string()).collect::<Vec<_>>()
        };
        let run_with = |args: &[&str]| {
            let args = with(args);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run(&url, &args)
        };
        let pending = run_with(&["migrate", "status", "--json"]);
        assert!(pending.status.success(), "{}", stderr(&pending));
        assert!(stdout(&pending).contains("\"pending\""));
        let diagnosed = run_with(&["diagnose", "--json"]);
        assert_eq!(
            diagnosed.status.code(),
            Some(1),
            "pending migrations fail diagnose"
        );
        let up = run_with(&["migrate", "up", "--json"]);
        assert!(up.status.success(), "{}", stderr(&up));
        let diagnosed = run_with(&["diagnose", "--json"]);
        assert!(diagnosed.status.success(), "{}", stdout(&diagnosed));
        let doc: Value = serde_json::from_slice(&diagnosed.stdout).unwrap();
        let names: Vec<&str> = doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["check"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"restored log") && names.contains(&"long transactions"));
    })
    .await
    .unwrap();
    let store = mink_runtime::adapters::postgres::PostgresStore::builder(base.clone())
        .schema(schema.clone())
        .build()
        .await
        .unwrap();
    seed(&store).await;
    let url = base.clone();
    let s = schema.clone();
    tokio::task::spawn_blocking(move || {
        let args = ["--schema", s.as_str(), "stream", "list", "--json"];
        let output = run(&url, &args);
        assert!(output.status.success(), "{}", stderr(&output));
        let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(doc["streams"].as_array().unwrap().len(), 3);
        let stats = run(&url, &["--schema", s.as_str(), "stream", "stats", "--json"]);
        let doc: Value = serde_json::from_slice(&stats.stdout).unwrap();
        assert_eq!(doc["events"], 5);
    })
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(store.pool())
        .await
        .unwrap();
}

/// `mink init` writes an application that builds and whose test passes,
/// and `mink generate` adds modules that compile in it. Slow: it builds
/// mink; the build directory is kept under the test's target directory so
/// later runs reuse it.
#[test]
fn init_then_generate_then_cargo_test() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("shop");
    let app_arg = app.display().to_string();
    let init = mink()
        .args(["init", &app_arg, "--name", "shop", "--store", "sqlite"])
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", stderr(&init));
    for args in [
        &[
            "generate",
            "aggregate",
            "Order",
            "--events",
            "Placed,Shipped",
        ][..],
        &["g", "command", "CancelOrder", "--aggregate", "Order"],
        &["g", "projection", "OrderTotals", "--aggregate", "Order"],
        &["g", "event", "Audit", "--events", "Seen,Checked"],
    ] {
        let output = mink()
            .args(args)
            .args(["--dir", &app_arg])
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    }
    let again = mink()
        .args(["g", "event", "Audit", "--dir", &app_arg])
        .output()
        .unwrap();
    assert_eq!(
        again.status.code(),
        Some(1),
        "an existing module needs --force"
    );

    // The workspace's lock file pins the versions already built.
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::copy(workspace.join("Cargo.lock"), app.join("Cargo.lock")).unwrap();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_mink"));
    let target = bin
        .parent()
        .and_then(Path::parent)
        .map(|t| t.join("mink-cli-scaffold"))
        .unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .current_dir(&app)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .args(["test", "--offline"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the scaffold's cargo test failed:\n{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    let out = stdout(&output);
    assert!(
        out.contains("deposits_add_up_in_the_balance ... ok"),
        "{out}"
    );
    // The aggregate's own tests use the `mink::testing` fixtures.
    for fixture_test in [
        "account::tests::a_deposit_into_an_open_account_is_recorded ... ok",
        "account::tests::an_account_opens_once ... ok",
        "account::tests::deposits_need_an_open_account_and_money ... ok",
    ] {
        assert!(out.contains(fixture_test), "{fixture_test} missing:\n{out}");
    }
}

/// `mink saga list|show|retry` on a failed saga stored in a SQLite file:
/// the retry stores its failed command as pending again, for the manager
/// wherever it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saga_list_show_retry() {
    use mink_runtime::store::{
        SagaCommandKind, SagaCommandRecord, SagaCommandStatus, SagaRecord, SagaStatus, SagaStore,
        SagaUpsert, SagaWrite,
    };
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let store = SqliteStore::open(dir.path().join("mink.db")).await.unwrap();
    let now = chrono::Utc::now();
    let id = uuid::Uuid::now_v7();
    let message_id = uuid::Uuid::now_v7();
    store
        .sagas()
        .write(&SagaWrite {
            sagas: vec![SagaUpsert {
                record: SagaRecord {
                    id,
                    saga_type: "checkout".into(),
                    state: br#"{"order_id":"o-1"}"#.to_vec(),
                    status: SagaStatus::Failed,
                    version: 1,
                    commands_issued: 1,
                    created_at: now,
                    updated_at: now,
                    last_error: Some("`ReserveStock` failed: out of stock".into()),
                },
                expected: None,
            }],
            commands: vec![SagaCommandRecord {
                message_id,
                saga_id: id,
                saga_type: "checkout".into(),
                seq: 0,
                kind: SagaCommandKind::Step,
                compensates: None,
                name: "ReserveStock".into(),
                payload: br#"{"sku":"tea"}"#.to_vec(),
                aggregate_id: Some("tea".into()),
                correlation_id: None,
                causation_id: None,
                user_id: None,
                tenant_id: None,
                status: SagaCommandStatus::Failed,
                attempts: 1,
                next_attempt_at: now,
                last_error: Some("out of stock".into()),
                result: None,
                created_at: now,
            }],
            ..SagaWrite::default()
        })
        .await
        .unwrap();

    let listed = json(&url, &["saga", "list", "--status", "failed"]);
    assert_eq!(listed["sagas"][0]["id"], id.to_string());
    assert_eq!(listed["sagas"][0]["saga_type"], "checkout");
    let none = json(&url, &["saga", "list", "--type", "other"]);
    assert_eq!(none["sagas"].as_array().unwrap().len(), 0);
    let shown = json(&url, &["saga", "show", &id.to_string()]);
    assert_eq!(shown["status"], "failed");
    assert_eq!(shown["state"]["order_id"], "o-1");
    assert_eq!(shown["commands"][0]["status"], "failed");
    let text = stdout(&run(&url, &["saga", "show", &id.to_string()]));
    assert!(text.contains("ReserveStock"), "{text}");

    let retried = json(&url, &["saga", "retry", &id.to_string()]);
    assert_eq!(retried["status"], "running");
    assert_eq!(retried["pending_commands"], 1);
    let command = store.sagas().commands(id).await.unwrap().remove(0);
    assert_eq!(command.status, SagaCommandStatus::Pending);
    assert_eq!(command.attempts, 0);

    fails(&url, &["saga", "show", "not-an-id"], "is not a saga id");
    fails(
        &url,
        &["saga", "show", &uuid::Uuid::now_v7().to_string()],
        "no saga has id",
    );
    fails(
        &url,
        &["saga", "list", "--status", "stuck"],
        "is not a saga status",
    );
}
