//! A server restart mid-run, on a throwaway cluster made with `initdb` (the
//! shared server is never touched): the pool reconnects by itself and every
//! event is stored exactly once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mink::adapters::postgres::PostgresStore;
use mink::{Error, EventStore, ExpectedVersion, Position};
use uuid::Uuid;

use super::support::{
    PATIENCE, assert_each_once, event, follow_until, fresh_schema, ids, server_url,
};

/// A throwaway PostgreSQL cluster on a free port, stopped and removed when
/// dropped (also when the test fails).
struct Cluster {
    root: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl Cluster {
    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
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
    fn start() -> Option<Cluster> {
        let Some(bin) = server_bin_dir() else {
            println!("skipped: no PostgreSQL server binaries (initdb) found");
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
        let root = cluster.root.to_str().expect("a UTF-8 temp path");
        let server_options = format!("-p {port} -c listen_addresses=127.0.0.1 -k {root}");
        let log = format!("{root}/server.log");
        assert!(
            cluster.pg_ctl(&["-o", &server_options, "-l", &log, "start"]),
            "pg_ctl start failed"
        );
        Some(cluster)
    }

    /// Kills the server without a clean shutdown and starts it again: crash
    /// recovery, every connection gone.
    fn crash_and_restart(&self) {
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

/// Whether the events `ids` are at `version + 1 …` of `stream`: the check
/// that settles an append whose outcome the client never heard. Retries
/// until the server answers.
async fn landed(store: &PostgresStore, stream: &str, version: u64, ids: &[Uuid]) -> bool {
    let start = Instant::now();
    loop {
        match store
            .read_stream_forward(stream, version + 1, ids.len())
            .await
        {
            Ok(events) => {
                let found: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
                assert!(
                    found.is_empty() || found == ids,
                    "{stream}: another writer's events at v{}",
                    version + 1
                );
                return found == ids;
            }
            Err(Error::Backend(_)) => {
                assert!(start.elapsed() < PATIENCE, "the server did not come back");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("reading {stream}: {e}"),
        }
    }
}

/// Writers keep appending while the server is killed and restarted. The
/// pool reconnects by itself; an append cut off mid-flight is settled by
/// looking for its event ids, then retried only if absent. At the end every
/// event is stored exactly once, in order, and the log delivers each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_pool_recovers_from_a_server_restart() {
    const WRITERS: usize = 3;
    const APPENDS: usize = 60;
    if server_url().is_none() {
        return;
    }
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let store = PostgresStore::builder(cluster.url())
        .schema(fresh_schema())
        .acquire_timeout(Duration::from_secs(2))
        .build()
        .await
        .expect("a store on the throwaway cluster");
    let progress = Arc::new(AtomicUsize::new(0));
    let unknown_outcomes = Arc::new(AtomicUsize::new(0));

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (store, progress, unknown) = (
                store.clone(),
                Arc::clone(&progress),
                Arc::clone(&unknown_outcomes),
            );
            tokio::spawn(async move {
                let stream = format!("restart-{w}");
                let mut planned = Vec::new();
                let start = Instant::now();
                for k in 0..APPENDS {
                    let batch = vec![
                        event("Tick", (k * 2) as u64),
                        event("Tock", (k * 2 + 1) as u64),
                    ];
                    let ids: Vec<Uuid> = batch.iter().map(|e| e.event_id).collect();
                    let version = (k * 2) as u64;
                    loop {
                        assert!(
                            start.elapsed() < PATIENCE * 2,
                            "writer {w} made no progress"
                        );
                        match store
                            .append_to_stream(&stream, ExpectedVersion::Any, batch.clone())
                            .await
                        {
                            Ok(r) => {
                                assert_eq!(r.streams[0].last_version, version + 2);
                                break;
                            }
                            Err(Error::Backend(_)) => {
                                unknown.fetch_add(1, Ordering::Relaxed);
                                if landed(&store, &stream, version, &ids).await {
                                    break;
                                }
                            }
                            Err(e) => panic!("writer {w}, append {k}: {e}"),
                        }
                    }
                    planned.extend(ids);
                    progress.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(3)).await;
                }
                (stream, planned)
            })
        })
        .collect();

    while progress.load(Ordering::Relaxed) < WRITERS * APPENDS / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let restarting = tokio::task::spawn_blocking({
        let started = Instant::now();
        move || {
            cluster.crash_and_restart();
            println!("server down and up again in {:?}", started.elapsed());
            cluster
        }
    });
    let cluster = restarting.await.expect("restart task");
    let during = progress.load(Ordering::Relaxed);

    let mut expected: HashMap<String, Vec<Uuid>> = HashMap::new();
    for w in writers {
        let (stream, planned) = w.await.expect("writer panicked");
        expected.insert(stream, planned);
    }
    println!(
        "appends done when the restart finished: {during} of {}; appends cut off by it: {}",
        WRITERS * APPENDS,
        unknown_outcomes.load(Ordering::Relaxed)
    );
    for (stream, planned) in &expected {
        let stored = store
            .read_stream_forward(stream, 1, usize::MAX)
            .await
            .expect("read the stream");
        assert_eq!(&ids(&stored), planned, "{stream}");
        assert_eq!(
            stored.iter().map(|e| e.version).collect::<Vec<_>>(),
            (1..=planned.len() as u64).collect::<Vec<_>>()
        );
    }
    let mut checkpoint = Position::START;
    let mut log = Vec::new();
    follow_until(&store, &mut checkpoint, &mut log, WRITERS * APPENDS * 2).await;
    assert_each_once(&log);
    assert_eq!(log.len(), WRITERS * APPENDS * 2);
    store.pool().close().await;
    drop(cluster);
}
