//! What the PostgreSQL tests share: the skip check (`skipped: …` when
//! `MINK_TEST_POSTGRES_URL` is not set), the gate that lets one test at a
//! time work on the shared server, stores on fresh schemas, helpers that
//! follow the global log, and throwaway clusters to stop and restart.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use mink::adapters::postgres::sqlx::{self, Connection, PgConnection};
use mink::adapters::postgres::{PostgresStore, PostgresStoreBuilder};
use mink::{
    EventStore, ExpectedVersion, Limits, NewEvent, Position, ReadAll, RecordedEvent, StreamAppend,
};
use serde_json::json;
use uuid::Uuid;

const URL_VAR: &str = "MINK_TEST_POSTGRES_URL";

/// How long a test waits for something that must happen (events becoming
/// readable, a server coming back) before it fails instead of hanging.
pub(super) const PATIENCE: Duration = Duration::from_secs(90);

/// The shared server's URL, or `None` after printing the skip line.
pub(crate) fn server_url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            mink_tests::skip(&format!("{URL_VAR} not set"));
            None
        }
    }
}

// ---------------------------------------------------------------------------
// Taking turns on the shared server

/// Lets one test at a time work on the shared server, across threads and
/// processes, while letting a test open several stores (the conformance
/// harness asks for more than one).
///
/// Inside the process, a test is its thread: `#[tokio::test]` runs the test
/// body on the thread of the test. Across processes, the first entry takes a
/// PostgreSQL advisory lock on a connection kept until the last exit. The
/// holder then drops the schemas earlier tests left behind.
pub(crate) struct Gate;

/// Who holds the gate: the test's thread, how many stores it has open, and
/// the connection holding the advisory lock.
struct GateState {
    owner: ThreadId,
    entries: usize,
    _lock: PgConnection,
}

static GATE: Mutex<Option<GateState>> = Mutex::new(None);

/// The advisory lock key of these tests ("minkpgst").
const GATE_LOCK_KEY: i64 = 0x6d69_6e6b_7067_7374;

/// Prefix of the schemas these tests create.
const SCHEMA_PREFIX: &str = "mink_pgstore_";

fn gate_state() -> std::sync::MutexGuard<'static, Option<GateState>> {
    GATE.lock().unwrap_or_else(|p| p.into_inner())
}

impl Gate {
    async fn enter(url: &str) -> Gate {
        let me = std::thread::current().id();
        loop {
            match reenter(me) {
                Some(true) => return Gate,
                Some(false) => tokio::time::sleep(Duration::from_millis(20)).await,
                None => break,
            }
        }
        // Nobody in this process holds it: take the cross-process lock
        // without holding the in-process one across awaits, then claim.
        let mut conn = PgConnection::connect(url)
            .await
            .expect("connect for the test lock");
        loop {
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(GATE_LOCK_KEY)
                .execute(&mut conn)
                .await
                .expect("take the test lock");
            match claim(me, conn) {
                Ok(()) => break,
                // Another thread of this process got in first: step back.
                Err(mut back) => {
                    sqlx::query("SELECT pg_advisory_unlock($1)")
                        .bind(GATE_LOCK_KEY)
                        .execute(&mut back)
                        .await
                        .expect("release the test lock");
                    conn = back;
                }
            }
            while gate_state().is_some() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        drop_old_schemas(url).await;
        Gate
    }
}

/// Whether `me` already holds the gate (then counted once more), or `None`
/// when nobody does.
fn reenter(me: ThreadId) -> Option<bool> {
    let mut state = gate_state();
    let s = state.as_mut()?;
    if s.owner == me {
        s.entries += 1;
    }
    Some(s.owner == me)
}

/// Makes `me` the holder when nobody holds the gate; otherwise hands the
/// lock connection back.
fn claim(me: ThreadId, lock: PgConnection) -> Result<(), PgConnection> {
    let mut state = gate_state();
    if state.is_some() {
        return Err(lock);
    }
    *state = Some(GateState {
        owner: me,
        entries: 1,
        _lock: lock,
    });
    Ok(())
}

impl Drop for Gate {
    fn drop(&mut self) {
        let mut state = gate_state();
        if let Some(s) = state.as_mut() {
            s.entries -= 1;
            if s.entries == 0 {
                // Dropping the connection ends its session and the lock.
                *state = None;
            }
        }
    }
}

/// Drops the schemas of earlier tests. Only gate holders use them, so none
/// is in use now.
async fn drop_old_schemas(url: &str) {
    let mut conn = PgConnection::connect(url)
        .await
        .expect("connect to clean up");
    let pattern = format!("{}%", SCHEMA_PREFIX.replace('_', "\\_"));
    let schemas: Vec<String> =
        sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE $1")
            .bind(pattern)
            .fetch_all(&mut conn)
            .await
            .expect("list old test schemas");
    for schema in schemas {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE"
        )))
        .execute(&mut conn)
        .await
        .expect("drop an old test schema");
    }
}

/// A store on a fresh schema of the shared server, and the turn it holds.
pub(crate) struct TestStore {
    pub(crate) store: PostgresStore,
    pub(crate) _gate: Gate,
}

impl std::ops::Deref for TestStore {
    type Target = PostgresStore;
    fn deref(&self) -> &PostgresStore {
        &self.store
    }
}

pub(super) fn fresh_schema() -> String {
    format!("{SCHEMA_PREFIX}{}", Uuid::now_v7().simple())
}

pub(crate) async fn test_store_with(limits: Limits) -> Option<TestStore> {
    test_store_built(limits, |builder| builder).await
}

/// [`test_store_with`], writing every append in a call of its own.
pub(crate) async fn test_store_without_coalescing(limits: Limits) -> Option<TestStore> {
    test_store_built(limits, PostgresStoreBuilder::no_coalescing).await
}

/// A store on a fresh schema, with `limits` and whatever `adjust` sets.
async fn test_store_built(
    limits: Limits,
    adjust: impl FnOnce(PostgresStoreBuilder) -> PostgresStoreBuilder,
) -> Option<TestStore> {
    let url = server_url()?;
    let gate = Gate::enter(&url).await;
    let builder = PostgresStore::builder(url)
        .schema(fresh_schema())
        .limits(limits)
        .max_connections(16);
    let store = adjust(builder)
        .build()
        .await
        .expect("a store on a fresh schema");
    Some(TestStore { store, _gate: gate })
}

pub(crate) async fn test_store() -> Option<TestStore> {
    test_store_with(Limits::default()).await
}

// ---------------------------------------------------------------------------
// Throwaway clusters

/// A throwaway PostgreSQL cluster made with `initdb` on a free port, for
/// tests that stop or kill the server (the shared server is never
/// touched). Stopped and removed when dropped (also when the test fails).
pub(super) struct Cluster {
    root: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl Cluster {
    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    pub(super) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The path of one of the cluster's client or server programs
    /// (`pg_dump`, `psql`, …), of the same version as its server.
    pub(super) fn program(&self, name: &str) -> PathBuf {
        self.bin.join(name)
    }

    /// Runs a server binary, as the `postgres` OS user when we are root
    /// (PostgreSQL refuses to run as root).
    fn run(&self, program: &str, args: &[&str]) -> bool {
        let program = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command.status().is_ok_and(|s| s.success())
    }

    fn pg_ctl(&self, args: &[&str]) -> bool {
        let data = self.data();
        let data = data.to_str().expect("a UTF-8 temp path");
        let mut all = vec!["-D", data, "-w", "-t", "60"];
        all.extend_from_slice(args);
        self.run("pg_ctl", &all)
    }

    /// Makes and starts a cluster, or `None` (with a skip line) when the
    /// server binaries are not installed.
    pub(super) fn start() -> Option<Cluster> {
        let Some(bin) = server_bin_dir() else {
            mink_tests::skip("no PostgreSQL server binaries (initdb) found");
            return None;
        };
        let as_postgres = is_root();
        let root =
            std::env::temp_dir().join(format!("mink-pg-restart-{}", Uuid::now_v7().simple()));
        std::fs::create_dir_all(&root).expect("make the cluster dir");
        let port = free_port();
        let cluster = Cluster {
            root,
            bin,
            port,
            as_postgres,
        };
        if as_postgres {
            let chowned = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&cluster.root)
                .status()
                .is_ok_and(|s| s.success());
            assert!(chowned, "chown the cluster dir to postgres");
        }
        let data = cluster.data();
        let data = data.to_str().expect("a UTF-8 temp path");
        assert!(
            cluster.run(
                "initdb",
                &[
                    "-D",
                    data,
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-sync"
                ]
            ),
            "initdb failed"
        );
        cluster.start_again();
        Some(cluster)
    }

    /// Starts the server of a made cluster, on its port; waits until it
    /// accepts connections.
    pub(super) fn start_again(&self) {
        let root = self.root.to_str().expect("a UTF-8 temp path");
        let server_options = format!("-p {} -c listen_addresses=127.0.0.1 -k {root}", self.port);
        let log = format!("{root}/server.log");
        assert!(
            self.pg_ctl(&["-o", &server_options, "-l", &log, "start"]),
            "pg_ctl start failed"
        );
    }

    /// Stops the server the way an operator does (`pg_ctl stop`, fast
    /// mode: sessions are ended, nothing is lost); waits until it is down.
    pub(super) fn stop(&self) {
        assert!(self.pg_ctl(&["-m", "fast", "stop"]), "pg_ctl stop failed");
    }

    /// Kills the server without a clean shutdown and starts it again: crash
    /// recovery, every connection gone.
    pub(super) fn crash_and_restart(&self) {
        assert!(
            self.pg_ctl(&["-m", "immediate", "restart"]),
            "pg_ctl restart failed"
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.pg_ctl(&["-m", "immediate", "stop"]);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn server_bin_dir() -> Option<PathBuf> {
    let has_initdb = |dir: &Path| dir.join("initdb").is_file();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_initdb(&dir) {
            return Some(dir);
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|d| has_initdb(d))
        .collect();
    versions.sort();
    versions.pop()
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

// ---------------------------------------------------------------------------
// Helpers

pub(super) fn event(event_type: &str, n: u64) -> NewEvent {
    NewEvent::json(event_type, &json!({ "n": n })).expect("a JSON payload")
}

pub(super) fn one(stream: &str, expected: ExpectedVersion, e: NewEvent) -> Vec<StreamAppend> {
    vec![StreamAppend::new(stream, expected, vec![e])]
}

/// Reads the log after `checkpoint` in pages of `page` until a page comes
/// back empty, moving `checkpoint` along. Positions must strictly increase.
pub(super) async fn read_pass(
    store: &dyn EventStore,
    checkpoint: &mut Position,
    page: usize,
) -> Vec<RecordedEvent> {
    let mut out = Vec::new();
    loop {
        let events = store
            .read_all_forward(ReadAll::after(*checkpoint, page))
            .await
            .expect("read the log");
        if events.is_empty() {
            return out;
        }
        for e in events {
            assert!(
                e.position > *checkpoint,
                "{} delivered after {}",
                e.position,
                checkpoint
            );
            *checkpoint = e.position;
            out.push(e);
        }
    }
}

/// Follows the log from `checkpoint` until `seen` holds `want` events.
pub(super) async fn follow_until(
    store: &dyn EventStore,
    checkpoint: &mut Position,
    seen: &mut Vec<RecordedEvent>,
    want: usize,
) {
    let start = Instant::now();
    while seen.len() < want {
        seen.extend(read_pass(store, checkpoint, 5).await);
        assert!(
            start.elapsed() < PATIENCE,
            "only {} of {want} events became readable",
            seen.len()
        );
        if seen.len() < want {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

pub(super) fn ids(events: &[RecordedEvent]) -> Vec<Uuid> {
    events.iter().map(|e| e.event_id).collect()
}

#[track_caller]
pub(super) fn assert_each_once(events: &[RecordedEvent]) {
    let mut seen = HashSet::new();
    for e in events {
        assert!(
            seen.insert(e.event_id),
            "event {} delivered twice",
            e.event_id
        );
    }
}
