//! Real processes: two workers of `projection-worker` run one projection on
//! one database; the owner is killed with SIGKILL in the middle of a batch;
//! the survivor takes over and the read model ends exactly right. And an
//! operator's pause and resume, sent from another process, reach an engine
//! running in this one.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mink::adapters::postgres::sqlx::{self as pgx};
use mink::adapters::sqlite::sqlx::{self as sqlx_sqlite, SqlitePool};
use mink::projection::ProjectionEngine;
use mink::store::ProjectionState;
use mink::{EventStore, SqliteStore};

use super::scenarios::until_status;
use super::{Counting, Harness, PATIENCE, append_ticks, rows_of_ticks};
use crate::postgres::support;

const WORKER: &str = env!("CARGO_BIN_EXE_projection-worker");
const EVENTS: u64 = 300;
const BATCH: u64 = 20;

/// A worker process, its output read on a thread.
struct Worker {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Worker {
    fn spawn(database: &str, schema: &str, instance: &str) -> Worker {
        let mut child = Command::new(WORKER)
            .args(["run", database, schema, instance, &EVENTS.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start a worker process");
        let stdout: ChildStdout = child.stdout.take().expect("its output");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Worker { child, lines }
    }

    /// Waits for a line that `want` accepts; returns it.
    fn expect(&self, what: &str, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if want(&line) => return line,
                Ok(_) => {}
                Err(e) => panic!("waited for {what}: {e}"),
            }
        }
    }

    fn kill(mut self) {
        // SIGKILL: no stop, no release, no rollback by the process itself.
        self.child.kill().expect("kill the worker");
        self.child.wait().expect("reap the worker");
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The owner of `kill-counter` as the store records it.
async fn owner(store: &dyn EventStore) -> Option<String> {
    let record = store
        .projection_store()
        .unwrap()
        .record("kill-counter")
        .await
        .unwrap()?;
    let live = record
        .lease_expires_at
        .is_some_and(|t| t > chrono::Utc::now());
    record.owner.filter(|_| live)
}

/// Two workers, the owner killed mid-batch, the survivor finishing.
async fn kill_the_owner_mid_batch(
    store: Arc<dyn EventStore>,
    database: &str,
    schema: &str,
    rows: impl AsyncFn() -> (u64, u64),
) {
    append_ticks(&*store, 0, EVENTS, |_| None).await;
    let a = Worker::spawn(database, schema, "worker-a");
    a.expect("worker a ready", |l| l == "ready");
    // Let `a` take the lease before `b` starts.
    let started = Instant::now();
    while owner(&*store).await.as_deref() != Some("worker-a") {
        assert!(
            started.elapsed() < PATIENCE,
            "worker a never took the lease"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let b = Worker::spawn(database, schema, "worker-b");
    b.expect("worker b ready", |l| l == "ready");
    // Kill `a` while it applies the 11th event of its 4th batch: the
    // batch's transaction is open, with ten rows written in it.
    let target = 3 * BATCH + 11;
    a.expect("the middle of a batch", |l| {
        l == format!("applying {}", target - 1)
    });
    a.kill();
    let killed_at = Instant::now();

    b.expect("worker b to finish", |l| l == "done");
    let record = store
        .projection_store()
        .unwrap()
        .record("kill-counter")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.owner.as_deref(), Some("worker-b"));
    assert_eq!(record.events_processed, EVENTS, "{record:?}");
    assert!(record.generation >= 2, "{record:?}");
    let (total, distinct) = rows().await;
    assert_eq!(distinct, EVENTS, "every event applied");
    assert_eq!(total, EVENTS, "no event applied twice");
    assert!(
        killed_at.elapsed() < PATIENCE,
        "the survivor took {:?}",
        killed_at.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_survivor_takes_over_a_killed_owner_exactly_once() {
    let Some(test) = support::test_store().await else {
        return;
    };
    let Some(url) = support::server_url() else {
        return;
    };
    let schema = test.schema().to_owned();
    let pool = test.pool().clone();
    pgx::query(pgx::AssertSqlSafe(format!(
        "CREATE TABLE \"{schema}\".kill_applied (event_id text NOT NULL)"
    )))
    .execute(&pool)
    .await
    .unwrap();
    let database = url;
    let store: Arc<dyn EventStore> = Arc::new(test.store.clone());
    kill_the_owner_mid_batch(store, &database, &schema, async || {
        pgx::query_as::<_, (i64, i64)>(pgx::AssertSqlSafe(format!(
            "SELECT count(*), count(DISTINCT event_id) FROM \"{schema}\".kill_applied"
        )))
        .fetch_one(&pool)
        .await
        .map(|(t, d)| (t as u64, d as u64))
        .unwrap()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survivor_takes_over_a_killed_owner_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let pool = sqlite_pool(&path).await;
    sqlx_sqlite::query("CREATE TABLE kill_applied (event_id TEXT NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    let database = path.display().to_string();
    kill_the_owner_mid_batch(Arc::new(store), &database, "", async || {
        sqlx_sqlite::query_as::<_, (i64, i64)>(
            "SELECT count(*), count(DISTINCT event_id) FROM kill_applied",
        )
        .fetch_one(&pool)
        .await
        .map(|(t, d)| (t as u64, d as u64))
        .unwrap()
    })
    .await;
}

async fn sqlite_pool(path: &Path) -> SqlitePool {
    SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap()
}

/// Runs the `control` command of the worker program.
fn control(database: &str, schema: &str, verb: &str, name: &str) {
    let out = Command::new(WORKER)
        .args(["control", database, schema, verb, name])
        .output()
        .expect("run the control command");
    assert!(
        out.status.success(),
        "control {verb} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An engine runs here; another process pauses and resumes it.
async fn pause_and_resume_from_another_process(h: Harness, database: &str, schema: &str) {
    append_ticks(&*h.store, 0, 5, |_| None).await;
    let engine = ProjectionEngine::builder(Arc::clone(&h.store))
        .instance_id("here")
        .projection(Counting::new("remote-control", &h.model))
        .build()
        .unwrap();
    engine.start();
    engine
        .wait_caught_up("remote-control", PATIENCE)
        .await
        .unwrap();

    control(database, schema, "pause", "remote-control");
    until_status(&engine, "remote-control", "the pause", |s| {
        s.state == ProjectionState::Paused
    })
    .await;
    append_ticks(&*h.store, 5, 5, |_| None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.model.rows("remote-control").await, rows_of_ticks(0, 5));

    control(database, schema, "resume", "remote-control");
    engine
        .wait_caught_up("remote-control", PATIENCE)
        .await
        .unwrap();
    assert_eq!(h.model.rows("remote-control").await, rows_of_ticks(0, 10));
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_pause_and_resume_from_another_process() {
    let Some(h) = Harness::postgres().await else {
        return;
    };
    let Some(url) = support::server_url() else {
        return;
    };
    let super::Model::Postgres(_, schema) = h.model.clone() else {
        unreachable!("a PostgreSQL harness has a PostgreSQL model")
    };
    pause_and_resume_from_another_process(h, &url, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_pause_and_resume_from_another_process() {
    let h = Harness::sqlite().await;
    let database = h.path.clone().expect("a SQLite harness has a file");
    pause_and_resume_from_another_process(h, &database, "").await;
}
