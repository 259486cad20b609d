//! Real processes: two `saga-worker`s run the checkout saga on one
//! database; the one holding the saga type's lease is killed with SIGKILL
//! while it handles events and sends commands; the survivor takes over,
//! and every command ran exactly once: each order's ledger holds each of
//! its steps once, none missing.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mink::saga::Saga;
use mink::store::{SagaCommandStatus, SagaQuery};
use mink::{EventStore, ExpectedVersion, NewEvent, SqliteStore};
use mink_tests::saga_domain::{Checkout, OrderPlaced, ledger_stream};

use super::PATIENCE;
use crate::postgres::support;

const WORKER: &str = env!("CARGO_BIN_EXE_saga-worker");
const ORDERS: usize = 60;
const STEPS: usize = 3;

/// A worker process, its output read on a thread.
struct Worker {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Worker {
    fn spawn(database: &str, schema: &str, instance: &str) -> Worker {
        let mut child = Command::new(WORKER)
            .args(["run", database, schema, instance, &ORDERS.to_string()])
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

    /// Waits for the line `want`.
    fn expect(&self, want: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line == want => return,
                Ok(_) => {}
                Err(e) => panic!("waited for `{want}`: {e}"),
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

fn note(order: usize, step: usize) -> String {
    format!("k{order}-{step}")
}

/// The live owner of the checkout's lease.
async fn owner(store: &dyn EventStore) -> Option<String> {
    let record = store
        .projection_store()
        .unwrap()
        .record("saga:sagas.checkout")
        .await
        .unwrap()?;
    let live = record
        .lease_expires_at
        .is_some_and(|t| t > chrono::Utc::now());
    record.owner.filter(|_| live)
}

/// Ledger entries recorded so far, over every order.
async fn recorded(store: &dyn EventStore) -> usize {
    let mut n = 0;
    for order in 0..ORDERS {
        n += store
            .read_stream_forward(&ledger_stream(&format!("k{order}")), 1, 100)
            .await
            .unwrap()
            .len();
    }
    n
}

async fn kill_the_owner_mid_run(store: Arc<dyn EventStore>, database: &str, schema: &str) {
    for order in 0..ORDERS {
        let event = OrderPlaced {
            order_id: format!("k{order}"),
            steps: (0..STEPS).map(|s| note(order, s)).collect(),
            timeout_secs: None,
        };
        store
            .append_to_stream(
                &format!("order-k{order}"),
                ExpectedVersion::Any,
                vec![NewEvent::json("sagas.OrderPlaced", &event).unwrap()],
            )
            .await
            .unwrap();
    }
    let a = Worker::spawn(database, schema, "worker-a");
    a.expect("ready");
    let started = Instant::now();
    while owner(&*store).await.as_deref() != Some("worker-a") {
        assert!(
            started.elapsed() < PATIENCE,
            "worker a never took the lease"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let b = Worker::spawn(database, schema, "worker-b");
    b.expect("ready");
    // Kill `a` once it has done some of the work, not all of it.
    let started = Instant::now();
    loop {
        let n = recorded(&*store).await;
        if n >= 20 {
            assert!(n < ORDERS * STEPS, "worker a finished before it was killed");
            break;
        }
        assert!(started.elapsed() < PATIENCE, "worker a did not get going");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    a.kill();

    b.expect("done");
    assert_eq!(
        owner(&*store).await,
        None,
        "b released the lease on stopping"
    );
    let record = store
        .projection_store()
        .unwrap()
        .record("saga:sagas.checkout")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.owner.as_deref(), Some("worker-b"));
    assert!(record.generation >= 2, "{record:?}");
    for order in 0..ORDERS {
        let entries: Vec<String> = store
            .read_stream_forward(&ledger_stream(&format!("k{order}")), 1, 100)
            .await
            .unwrap()
            .iter()
            .map(|e| {
                let body: serde_json::Value = serde_json::from_slice(&e.payload).unwrap();
                body["note"].as_str().unwrap().to_owned()
            })
            .collect();
        let expected: Vec<String> = (0..STEPS).map(|s| note(order, s)).collect();
        assert_eq!(entries, expected, "order k{order}: each step exactly once");
    }
    let sagas = store.saga_store().unwrap();
    let all = sagas
        .list(&SagaQuery {
            saga_type: Some(Checkout::NAME.to_owned()),
            ..SagaQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), ORDERS, "one checkout per order");
    for saga in all {
        for command in sagas.commands(saga.id).await.unwrap() {
            assert_eq!(command.status, SagaCommandStatus::Sent, "{command:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_survivor_sends_every_command_exactly_once() {
    let Some(test) = support::test_store().await else {
        return;
    };
    let Some(url) = support::server_url() else {
        return;
    };
    let schema = test.schema().to_owned();
    let store: Arc<dyn EventStore> = Arc::new(test.store.clone());
    kill_the_owner_mid_run(store, &url, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survivor_sends_every_command_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sagas.db");
    let store = SqliteStore::open(&path).await.unwrap();
    kill_the_owner_mid_run(Arc::new(store), &path.display().to_string(), "").await;
}
