//! Concurrency control: writers racing with exact versions are told the
//! stream's real version, `Any` writers all succeed, and a mismatch on one
//! stream of a call writes nothing to any.

use std::collections::HashSet;
use std::sync::Arc;

use mink::{Error, EventStore, ExpectedVersion, StreamAppend};

use super::support::{event, ids, test_store};

/// Writers racing on one stream with exact versions: each version is won
/// once, the losers are told the stream's real version, and the stream ends
/// gap-free with every event once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_exact_writers_get_the_real_version() {
    const TASKS: usize = 8;
    const EACH: usize = 5;
    let Some(store) = test_store().await else {
        return;
    };
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut mine = Vec::new();
                let mut conflicts = 0;
                while mine.len() < EACH {
                    let version = store
                        .stream_info("race-1")
                        .await
                        .expect("info")
                        .map_or(0, |i| i.version);
                    let e = event("Raced", (t * 100 + mine.len()) as u64);
                    let id = e.event_id;
                    match store
                        .append_to_stream("race-1", ExpectedVersion::Exact(version), vec![e])
                        .await
                    {
                        Ok(r) => {
                            assert_eq!(r.streams[0].last_version, version + 1);
                            mine.push(id);
                        }
                        Err(Error::ConcurrencyConflict {
                            stream,
                            expected,
                            actual,
                        }) => {
                            assert_eq!(
                                (stream.as_str(), expected),
                                ("race-1", ExpectedVersion::Exact(version))
                            );
                            assert!(
                                actual > version,
                                "conflict reports {actual}, not past {version}"
                            );
                            conflicts += 1;
                        }
                        Err(e) => panic!("unexpected error: {e}"),
                    }
                }
                (mine, conflicts)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut conflicts = 0;
    for t in tasks {
        let (mine, c) = t.await.expect("task panicked");
        all.extend(mine);
        conflicts += c;
    }
    println!("{conflicts} conflicts");
    let stream = store
        .read_stream_forward("race-1", 1, usize::MAX)
        .await
        .expect("read");
    assert_eq!(
        stream.iter().map(|e| e.version).collect::<Vec<_>>(),
        (1..=(TASKS * EACH) as u64).collect::<Vec<_>>()
    );
    assert_eq!(
        ids(&stream).into_iter().collect::<HashSet<_>>(),
        all.into_iter().collect::<HashSet<_>>()
    );
}

/// `Any` appends that lose the race on the version constraint retry inside
/// the store: none fails, none is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_any_writers_all_succeed() {
    const TASKS: usize = 10;
    const EACH: usize = 10;
    let Some(store) = test_store().await else {
        return;
    };
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut mine = Vec::new();
                for i in 0..EACH {
                    let e = event("Any", (t * 100 + i) as u64);
                    mine.push(e.event_id);
                    store
                        .append_to_stream("crowded-1", ExpectedVersion::Any, vec![e])
                        .await
                        .expect("an Any append never conflicts");
                }
                mine
            })
        })
        .collect();
    let mut all = HashSet::new();
    for t in tasks {
        all.extend(t.await.expect("task panicked"));
    }
    let stream = store
        .read_stream_forward("crowded-1", 1, usize::MAX)
        .await
        .expect("read");
    assert_eq!(stream.len(), TASKS * EACH);
    assert_eq!(ids(&stream).into_iter().collect::<HashSet<_>>(), all);
    assert_eq!(
        stream.last().map(|e| e.version),
        Some((TASKS * EACH) as u64)
    );
}

/// A mismatch on any stream of a call writes nothing to any of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mismatch_on_one_stream_writes_nothing() {
    let Some(store) = test_store().await else {
        return;
    };
    store
        .append_to_stream("a-1", ExpectedVersion::NoStream, vec![event("E", 1)])
        .await
        .expect("seed a-1");
    let refused = store
        .append_to_streams(vec![
            StreamAppend::new("a-1", ExpectedVersion::Exact(1), vec![event("E", 2)]),
            StreamAppend::new("b-1", ExpectedVersion::Exact(5), vec![event("E", 3)]),
        ])
        .await;
    match refused {
        Err(Error::ConcurrencyConflict { stream, actual, .. }) => {
            assert_eq!((stream.as_str(), actual), ("b-1", 0))
        }
        other => panic!("expected a conflict on b-1, got {other:?}"),
    }
    assert_eq!(
        store
            .stream_info("a-1")
            .await
            .expect("info")
            .map(|i| i.version),
        Some(1)
    );
    assert_eq!(store.stream_info("b-1").await.expect("info"), None);
}
