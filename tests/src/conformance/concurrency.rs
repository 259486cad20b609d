//! Concurrency: many tasks race to append, to one stream with exact
//! expected versions and to many streams at once; nothing is lost,
//! duplicated or reordered.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use mink::{Error, EventStore, ExpectedVersion, StreamAppend};
use serde_json::json;
use tokio::sync::Barrier;

use super::harness::Harness;
use super::support::{
    assert_conflict, assert_strictly_increasing, event, numbered, payload_json, whole_log,
    whole_stream,
};

/// Many tasks race to append to one stream with exact expected versions:
/// each version has exactly one winner, losers see typed conflicts, and
/// nothing is lost, duplicated or reordered.
pub async fn racing_writers_one_stream(harness: Harness) {
    const TASKS: u64 = 12;
    const ROUNDS: u64 = 4;
    const EACH: u64 = 8;
    let store = harness.store();

    // Lock-step rounds: every task expects the same version.
    for round in 0..ROUNDS {
        let barrier = Arc::new(Barrier::new(TASKS as usize));
        let tasks: Vec<_> = (0..TASKS)
            .map(|task| {
                let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
                tokio::spawn(async move {
                    barrier.wait().await;
                    let e = event("Raced", json!({ "round": round, "task": task }));
                    store
                        .append_to_stream("race-1", ExpectedVersion::Exact(round), vec![e])
                        .await
                })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            match task.await.expect("task panicked") {
                Ok(result) => {
                    winners += 1;
                    assert_eq!(result.streams[0].last_version, round + 1);
                }
                Err(e) => assert_conflict::<()>(
                    Err(e),
                    "race-1",
                    ExpectedVersion::Exact(round),
                    round + 1,
                ),
            }
        }
        assert_eq!(winners, 1, "round {round}: one append per version must win");
    }

    // Free-running: every task retries until it wrote its events in order.
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut seq = 0;
                let mut conflicts = 0u64;
                while seq < EACH {
                    let current = store
                        .stream_info("race-2")
                        .await
                        .expect("info")
                        .map_or(0, |i| i.version);
                    let e = event("Counted", json!({ "task": task, "seq": seq }));
                    match store
                        .append_to_stream("race-2", ExpectedVersion::Exact(current), vec![e])
                        .await
                    {
                        Ok(result) => {
                            assert_eq!(result.last_version_of("race-2"), Some(current + 1));
                            seq += 1;
                        }
                        Err(Error::ConcurrencyConflict { actual, .. }) => {
                            assert!(
                                actual > current,
                                "a conflict went back in time: {actual} <= {current}"
                            );
                            conflicts += 1;
                        }
                        Err(e) => panic!("task {task}: {e}"),
                    }
                }
                conflicts
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task panicked");
    }
    let events = whole_stream(&*store, "race-2").await;
    assert_eq!(
        events.iter().map(|e| e.version).collect::<Vec<_>>(),
        (1..=TASKS * EACH).collect::<Vec<_>>()
    );
    let mut next_seq: HashMap<u64, u64> = HashMap::new();
    for e in &events {
        let p = payload_json(e);
        let (task, seq) = (
            p["task"].as_u64().expect("task"),
            p["seq"].as_u64().expect("seq"),
        );
        let expected_seq = next_seq.entry(task).or_default();
        assert_eq!(
            seq, *expected_seq,
            "task {task}'s events out of order or duplicated"
        );
        *expected_seq += 1;
    }
    assert!(next_seq.values().all(|&n| n == EACH) && next_seq.len() as u64 == TASKS);
    let in_log: Vec<u64> = whole_log(&*store)
        .await
        .into_iter()
        .filter(|e| e.stream_id == "race-2")
        .map(|e| e.version)
        .collect();
    assert_eq!(
        in_log,
        (1..=TASKS * EACH).collect::<Vec<_>>(),
        "the log reorders the stream"
    );
}

/// Many tasks append to many streams at once; every stream and the log
/// hold everything, in order.
pub async fn racing_writers_many_streams(harness: Harness) {
    const TASKS: u64 = 16;
    const CALLS: u64 = 10;
    let store = harness.store();
    let barrier = Arc::new(Barrier::new(TASKS as usize));
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                for call in 0..CALLS {
                    // Calls of two events, and every other one also touches
                    // a stream shared by all tasks.
                    let mut appends = vec![StreamAppend::new(
                        format!("many-{task}"),
                        ExpectedVersion::Exact(call * 2),
                        numbered("Own", 2),
                    )];
                    if call % 2 == 0 {
                        appends.push(StreamAppend::new(
                            "shared-1",
                            ExpectedVersion::Any,
                            numbered("Shared", 1),
                        ));
                    }
                    store
                        .append_to_streams(appends)
                        .await
                        .expect("racing append");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task panicked");
    }
    let log = whole_log(&*store).await;
    assert_eq!(log.len() as u64, TASKS * CALLS * 2 + TASKS * CALLS / 2);
    assert_strictly_increasing(&log);
    let mut seen: HashMap<&str, u64> = HashMap::new();
    for e in &log {
        let last = seen.entry(e.stream_id.as_str()).or_default();
        assert_eq!(
            e.version,
            *last + 1,
            "`{}` skips or repeats a version in the log",
            e.stream_id
        );
        *last = e.version;
    }
    for task in 0..TASKS {
        let stream = format!("many-{task}");
        let versions: Vec<u64> = whole_stream(&*store, &stream)
            .await
            .iter()
            .map(|e| e.version)
            .collect();
        assert_eq!(versions, (1..=CALLS * 2).collect::<Vec<_>>(), "{stream}");
    }
    assert_eq!(
        whole_stream(&*store, "shared-1").await.len() as u64,
        TASKS * CALLS / 2
    );
    let ids: HashSet<_> = log.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), log.len(), "an event was stored twice");
}
