//! The command line with other processes: the embedded entry point of an
//! application (`mink schema`), an engine running in another process
//! paused and resumed, confirmation prompts answered on a pseudo-terminal,
//! and `events --follow` seeing an append. The application is the
//! `ticker` example, which `cargo test` builds beside this test.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mink_runtime::adapters::sqlite::SqliteStore;
use mink_runtime::{EventStore, ExpectedVersion, NewEvent};
use serde_json::{Value, json};

fn skip(reason: &str) {
    eprintln!("skipped: {reason}");
}

/// `target/<profile>/examples/ticker`, next to this test's `deps/`.
fn ticker_path() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile = exe.parent().and_then(Path::parent).unwrap();
    let path = profile
        .join("examples")
        .join(format!("ticker{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: `cargo test -p mink-cli` builds it",
        path.display()
    );
    path
}

fn quiet(mut command: Command) -> Command {
    command
        .env_remove("DATABASE_URL")
        .env_remove("MINK_SCHEMA")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    command
}

/// The standalone binary.
fn mink() -> Command {
    let mut command = quiet(Command::new(env!("CARGO_BIN_EXE_mink")));
    command.arg("--no-dotenv");
    command
}

/// The application's binary running `mink` commands.
fn ticker_mink() -> Command {
    let mut command = quiet(Command::new(ticker_path()));
    command.args(["mink", "--no-dotenv"]);
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn document(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}): {}{}",
            text(&output.stdout),
            text(&output.stderr)
        )
    })
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("mink.db").display())
}

fn tick(n: u32) -> NewEvent {
    NewEvent::json("Ticked", &json!({ "n": n })).unwrap()
}

async fn ticks(store: &dyn EventStore, from: u32, count: u32) {
    let events = (from..from + count).map(tick).collect();
    store
        .append_to_stream("clock-1", ExpectedVersion::Any, events)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_print_generate_and_validate_through_the_application() {
    let output = ticker_mink()
        .args(["schema", "print", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let doc = document(&output);
    let by_type = |name: &str| {
        doc["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["event_type"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} not listed: {doc}"))
    };
    let ticked = by_type("Ticked");
    assert_eq!(ticked["schema"]["properties"]["n"]["type"], "integer");
    assert_eq!(ticked["schema"]["required"], json!(["n"]));
    assert_eq!(by_type("Calibrated")["schema_version"], 2);
    assert_eq!(
        by_type("Calibrated")["schema"]["properties"]["drift_ms"]["type"],
        "integer"
    );
    assert_eq!(by_type("Reset")["schema"]["type"], "object");
    assert!(by_type("Archived")["schema"].is_null());
    assert!(
        text(&output.stderr).contains("no schema: Archived"),
        "{}",
        text(&output.stderr)
    );

    let one = ticker_mink()
        .args(["schema", "print", "--type", "Ticked"])
        .output()
        .unwrap();
    assert_eq!(document(&one), ticked["schema"]);
    let none = ticker_mink()
        .args(["schema", "print", "--type", "Archived"])
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(1));

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("schemas");
    let generated = ticker_mink()
        .args(["schema", "generate", "--json", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(generated.status.success(), "{}", text(&generated.stderr));
    assert_eq!(document(&generated)["without_schema"], json!(["Archived"]));
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["Calibrated.v2.json", "Reset.v1.json", "Ticked.v1.json"]
    );
    let written: Value =
        serde_json::from_slice(&std::fs::read(out.join("Ticked.v1.json")).unwrap()).unwrap();
    assert_eq!(written, ticked["schema"]);

    // Stored events against the schemas.
    let url = sqlite_url(dir.path());
    let store = SqliteStore::open(dir.path().join("mink.db")).await.unwrap();
    let events = vec![
        tick(1),
        NewEvent::json("Ticked", &json!({ "n": "seven" })).unwrap(),
        NewEvent::json("Ticked", &json!({ "n": 2, "note": "noon" })).unwrap(),
        NewEvent::json("Reset", &json!({})).unwrap(),
        NewEvent::json("Calibrated", &json!({ "drift_ms": -4 }))
            .unwrap()
            .with_schema_version(2),
        NewEvent::json("Archived", &json!({ "blob": [1, 2] })).unwrap(),
        NewEvent::json("Unheard", &json!({})).unwrap(),
    ];
    store
        .append_to_stream("clock-1", ExpectedVersion::NoStream, events)
        .await
        .unwrap();
    store
        .append_to_stream("clock-2", ExpectedVersion::NoStream, vec![tick(9)])
        .await
        .unwrap();
    let validate = |args: &[&str]| {
        ticker_mink()
            .args(["-D", &url, "schema", "validate"])
            .args(args)
            .output()
            .unwrap()
    };
    let bad = validate(&["clock-1", "--json"]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad.stderr));
    let doc = document(&bad);
    assert_eq!(doc["checked"], 5, "{doc}");
    assert_eq!(doc["valid"], 4, "{doc}");
    let invalid = doc["invalid"].as_array().unwrap();
    assert_eq!(invalid.len(), 1, "{doc}");
    assert_eq!(invalid[0]["version"], 2);
    assert!(
        invalid[0]["errors"][0].as_str().unwrap().contains("/n"),
        "{doc}"
    );
    let unchecked: Vec<&str> = doc["unchecked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(unchecked, ["Archived", "Unheard"]);
    assert!(text(&bad.stderr).contains("1 event(s) do not match"));
    let plain = validate(&["--all"]);
    assert_eq!(plain.status.code(), Some(1));
    assert!(
        text(&plain.stdout).contains("clock-1@2  Ticked"),
        "{}",
        text(&plain.stdout)
    );
    let good = validate(&["clock-2"]);
    assert!(good.status.success(), "{}", text(&good.stderr));
    assert!(text(&good.stdout).contains("1 event(s) checked: 1 valid, 0 invalid"));

    // The standalone binary does not know the event types, and says where
    // they are.
    let standalone = mink().args(["schema", "print"]).output().unwrap();
    assert_eq!(standalone.status.code(), Some(1));
    assert!(
        text(&standalone.stderr).contains("mink_cli::run"),
        "{}",
        text(&standalone.stderr)
    );
}

/// A child process killed when dropped, so a failing test leaves none.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The lines a child prints, as they come.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line containing `needle`.
fn expect_line(lines: &mpsc::Receiver<String>, needle: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(e) => panic!("no line containing `{needle}` ({e})"),
        }
    }
}

/// `mink projection status ticks --json` from the standalone binary.
async fn status(url: &str, schema: &str) -> Value {
    let (url, schema) = (url.to_owned(), schema.to_owned());
    tokio::task::spawn_blocking(move || {
        let output = mink()
            .args([
                "-D",
                &url,
                "--schema",
                &schema,
                "projection",
                "status",
                "ticks",
                "--json",
            ])
            .output()
            .unwrap();
        if output.status.success() {
            document(&output)
        } else {
            Value::Null
        }
    })
    .await
    .unwrap()
}

/// Polls the projection's status until `done` holds.
async fn wait_status(url: &str, schema: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let doc = status(url, schema).await;
        if done(&doc) {
            return doc;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {doc}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn control(url: &str, schema: &str, verb: &str) -> Output {
    let (url, schema, verb) = (url.to_owned(), schema.to_owned(), verb.to_owned());
    tokio::task::spawn_blocking(move || {
        mink()
            .args([
                "-D",
                &url,
                "--schema",
                &schema,
                "projection",
                &verb,
                "ticks",
                "--timeout",
                "20",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// The ticker serves its `ticks` projection in another process; the CLI
/// pauses it (appends then leave its checkpoint where it was) and resumes
/// it (it catches up).
async fn pause_and_resume_another_process(url: &str, schema: &str, store: Arc<dyn EventStore>) {
    let mut child = Command::new(ticker_path())
        .args(["serve", url, "--schema", schema])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = lines_of(&mut child);
    let child = Running(child);
    expect_line(&lines, "ready", Duration::from_secs(60));
    let owner = format!("ticker-{}", child.0.id());

    ticks(&*store, 1, 3).await;
    // The state reads `stopped` from taking the lease until the first
    // heartbeat reports the running worker.
    let running = wait_status(url, schema, "3 ticks processed", |d| {
        d["events_processed"] == 3 && d["state"] == "running"
    })
    .await;
    assert_eq!(running["owner"], owner.as_str());
    assert_eq!(running["state"], "running", "{running}");

    let paused = control(url, schema, "pause").await;
    assert!(paused.status.success(), "{}", text(&paused.stderr));
    assert!(
        text(&paused.stdout).contains("confirmed"),
        "{}",
        text(&paused.stdout)
    );
    let before = status(url, schema).await;
    assert_eq!(before["state"], "paused");

    ticks(&*store, 4, 2).await;
    // Two heartbeats of the ticker (its lease is 3 s): a running engine would have
    // handled the new ticks by now.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let after = status(url, schema).await;
    assert_eq!(after["state"], "paused", "{after}");
    assert_eq!(after["checkpoint"], before["checkpoint"], "{after}");
    assert_eq!(after["events_processed"], 3, "{after}");
    assert!(after["lag_events"].as_u64().unwrap() >= 2, "{after}");

    let resumed = control(url, schema, "resume").await;
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    let caught_up = wait_status(url, schema, "5 ticks processed", |d| {
        d["events_processed"] == 5
    })
    .await;
    assert_eq!(caught_up["state"], "running");
    assert_eq!(caught_up["lag_events"], 0, "{caught_up}");
    assert_ne!(caught_up["checkpoint"], before["checkpoint"]);
    drop(child);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume_reach_an_engine_in_another_process_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let store = SqliteStore::open(dir.path().join("mink.db")).await.unwrap();
    pause_and_resume_another_process(&url, "mink", Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume_reach_an_engine_in_another_process_on_postgres() {
    let Ok(base) = std::env::var("MINK_TEST_POSTGRES_URL") else {
        skip(
            "MINK_TEST_POSTGRES_URL is not set: pause and resume across processes on PostgreSQL did not run",
        );
        return;
    };
    let schema = format!("mink_cli_proc_{}", std::process::id());
    let store = mink_runtime::adapters::postgres::PostgresStore::builder(base.clone())
        .schema(schema.clone())
        .build()
        .await
        .unwrap();
    let pool = store.pool().clone();
    pause_and_resume_another_process(&base, &schema, Arc::new(store)).await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&pool)
        .await
        .unwrap();
}

/// Runs `mink args…` on a pseudo-terminal (util-linux `script`), typing
/// `answer` at it.
fn on_a_terminal(args: &[String], answer: &str) -> Output {
    let quoted: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_mink").to_owned())
        .chain(["--no-dotenv".to_owned()])
        .chain(args.iter().cloned())
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    let mut child = quiet(Command::new("script"))
        .args(["-qec", &quoted.join(" "), "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(answer.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn destructive_commands_ask_on_a_terminal() {
    if Command::new("script").arg("--version").output().is_err() {
        skip("util-linux `script` is not installed: the prompt test did not run");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let source = dir.path().join("migrations").display().to_string();
    let with = |args: &[&str]| -> Vec<String> {
        ["-D", &url]
            .iter()
            .chain(args)
            .chain(["--source", &source].iter())
            .map(|s| s.to_string())
            .collect()
    };
    let run = |args: &[&str]| {
        let output = mink().args(with(args)).output().unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            text(&output.stderr)
        );
        output
    };
    run(&["migrate", "up"]);
    run(&["migrate", "create", "notes"]);
    for entry in std::fs::read_dir(dir.path().join("migrations")).unwrap() {
        let path = entry.unwrap().path();
        let sql = if path.to_string_lossy().ends_with(".up.sql") {
            "CREATE TABLE notes (body TEXT);"
        } else {
            "DROP TABLE notes;"
        };
        std::fs::write(path, sql).unwrap();
    }
    run(&["migrate", "up"]);
    // The state of the application's migration, from its row.
    let applied = |output: &Output| {
        text(&output.stdout)
            .lines()
            .find(|line| line.contains("notes"))
            .is_some_and(|line| line.contains("applied"))
    };

    let no = on_a_terminal(&with(&["migrate", "down"]), "n\n");
    let shown = text(&no.stdout);
    assert_eq!(no.status.code(), Some(1), "{shown}");
    assert!(shown.contains("Continue? [y/N]"), "{shown}");
    assert!(shown.contains("cancelled: nothing was changed"), "{shown}");
    let status = run(&["migrate", "status"]);
    assert!(applied(&status), "{}", text(&status.stdout));

    let yes = on_a_terminal(&with(&["migrate", "down"]), "y\n");
    let shown = text(&yes.stdout);
    assert!(yes.status.success(), "{shown}");
    assert!(shown.contains("reverted app"), "{shown}");
    let status = run(&["migrate", "status"]);
    assert!(!applied(&status), "{}", text(&status.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_follow_prints_an_append() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let store = SqliteStore::open(dir.path().join("mink.db")).await.unwrap();
    ticks(&store, 1, 1).await;
    let mut child = mink()
        .args(["-D", &url, "events", "-f", "--json", "--type", "Ticked"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = lines_of(&mut child);
    let _child = Running(child);
    let first = expect_line(&lines, "Ticked", Duration::from_secs(20));
    assert_eq!(
        serde_json::from_str::<Value>(&first).unwrap()["payload"]["n"],
        1
    );
    store
        .append_to_stream("clock-2", ExpectedVersion::NoStream, vec![tick(42)])
        .await
        .unwrap();
    let live = expect_line(&lines, "clock-2", Duration::from_secs(20));
    let live: Value = serde_json::from_str(&live).unwrap();
    assert_eq!(live["payload"]["n"], 42);
    assert_eq!(live["event_type"], "Ticked");
}
