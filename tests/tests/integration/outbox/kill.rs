//! Real processes: a relay (`outbox-relay`) is killed with SIGKILL in the
//! middle of a batch; a second relay process takes over once the dead one's
//! claims expire. Every message arrives at least once, each under its own
//! id, and each key's messages arrive in order (a message re-sent after the
//! crash only repeats the last one its key received).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Instant;

use mink::EventStore;
use uuid::Uuid;

use super::{Backend, PATIENCE, all_id, append, nothing_pending};
use mink::outbox::Route;

const RELAY: &str = env!("CARGO_BIN_EXE_outbox-relay");
const STREAMS: u64 = 3;
const EVENTS: u64 = 15;

struct RelayProcess {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl RelayProcess {
    fn spawn(database: &str, schema: &str, file: &str) -> RelayProcess {
        let mut child = Command::new(RELAY)
            .args([database, schema, file])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start a relay process");
        let stdout = child.stdout.take().expect("its output");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        RelayProcess { child, lines }
    }

    /// Waits for the `count`-th line starting with `prefix`.
    fn expect(&self, prefix: &str, count: usize) {
        let deadline = Instant::now() + PATIENCE;
        let mut seen = 0;
        while seen < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => seen += 1,
                Ok(_) => {}
                Err(e) => panic!("waited for `{prefix}` #{count}: {e}"),
            }
        }
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn a_killed_relay_is_taken_over(backend: Backend, database: &str, schema: &str) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("delivered.txt");
    let file = file.to_str().expect("a UTF-8 path").to_owned();
    let store: Arc<dyn EventStore> =
        backend.with_routes(vec![Route::filter("all", |_| true).to("file", "a file")]);
    let mut expected: HashMap<Uuid, (String, u64)> = HashMap::new();
    for n in 1..=EVENTS {
        for s in 0..STREAMS {
            let stream = format!("kill-{s}");
            let id = all_id(append(&store, &stream, n).await);
            expected.insert(id, (stream, n));
        }
    }

    let first = RelayProcess::spawn(database, schema, &file);
    first.expect("publishing", 8);
    // SIGKILL mid-batch: no release, nothing recorded for the message under
    // way.
    drop(first);

    let second = RelayProcess::spawn(database, schema, &file);
    second.expect("ready", 1);
    let outbox = backend.outbox();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !nothing_pending(&outbox).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the second relay did not finish"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    drop(second);

    let text = std::fs::read_to_string(&file).expect("the delivered file");
    let mut per_key: HashMap<String, Vec<u64>> = HashMap::new();
    let mut times: HashMap<Uuid, usize> = HashMap::new();
    for line in text.lines() {
        let id: Uuid = line.split(' ').next().unwrap().parse().expect("an id");
        let (stream, n) = expected
            .get(&id)
            .expect("a message that was written")
            .clone();
        *times.entry(id).or_default() += 1;
        let seq = per_key.entry(stream).or_default();
        // A re-send after the crash repeats the key's last message only.
        if seq.last() != Some(&n) {
            seq.push(n);
        }
    }
    assert_eq!(times.len(), expected.len(), "every message arrived");
    for (stream, seq) in &per_key {
        assert_eq!(seq, &(1..=EVENTS).collect::<Vec<_>>(), "order of {stream}");
    }
    let resent = times.values().filter(|t| **t > 1).count();
    assert!(
        resent <= 5,
        "at most the dead relay's batch is sent again: {resent}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_killed_relay_process_is_taken_over() {
    let backend = Backend::sqlite().await;
    let path = backend
        .sqlite_path()
        .expect("a SQLite file")
        .to_str()
        .unwrap()
        .to_owned();
    a_killed_relay_is_taken_over(backend, &path, "-").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_killed_relay_process_is_taken_over() {
    let Some(url) = crate::postgres::support::server_url() else {
        return;
    };
    let Some(backend) = Backend::postgres().await else {
        return;
    };
    let schema = backend.postgres_schema().expect("a schema");
    a_killed_relay_is_taken_over(backend, &url, &schema).await;
}
