//! A server restart mid-run, on a throwaway cluster made with `initdb` (the
//! shared server is never touched): calls cut off fail as unavailable, the
//! pool reconnects by itself and every event is stored exactly once.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mink::adapters::postgres::PostgresStore;
use mink::{Error, EventStore, ExpectedVersion, Position};
use uuid::Uuid;

use super::support::{
    Cluster, PATIENCE, assert_each_once, event, follow_until, fresh_schema, ids, server_url,
};

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
            Err(Error::Unavailable(_)) => {
                assert!(start.elapsed() < PATIENCE, "the server did not come back");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("reading {stream}: {e}"),
        }
    }
}

/// Writers keep appending while the server is killed and restarted. The
/// pool reconnects by itself; every call the crash cuts off fails with the
/// typed `Error::Unavailable`, and such an append is settled by looking for
/// its event ids, then retried only if absent. At the end every event is
/// stored exactly once, in order, and the log delivers each once.
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
                            Err(Error::Unavailable(_)) => {
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
