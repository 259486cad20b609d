//! Reading one stream: a missing stream reads as empty, a stream reads
//! forward from a version within a limit, and its info reports the version
//! and the times of its first and last events.

use std::sync::Arc;
use std::time::Duration;

use mink::{EventStore, ExpectedVersion, ReadFilter, RecordedEvent};
use serde_json::json;

use super::harness::Harness;
use super::support::{append, assert_empty_log, filtered, numbered, payload_json, whole_stream};

/// A stream nobody wrote reads as empty, with no info and no error.
pub async fn missing_stream_reads_empty(harness: Harness) {
    let store = harness.store();
    assert_empty_log(&*store).await;
    append(
        &*store,
        "present-1",
        ExpectedVersion::NoStream,
        numbered("E", 1),
    )
    .await;
    assert_eq!(whole_stream(&*store, "absent-1").await, Vec::new());
    assert_eq!(
        store.stream_info("absent-1").await.expect("stream_info"),
        None
    );
    assert_eq!(
        filtered(&*store, ReadFilter::all().stream("absent-1")).await,
        Vec::new()
    );
    assert_eq!(
        filtered(&*store, ReadFilter::all().category("absent")).await,
        Vec::new()
    );
}

/// A stream reads forward from a version, at most `limit` events.
pub async fn read_stream_from_version(harness: Harness) {
    let store = harness.store();
    append(
        &*store,
        "ten-1",
        ExpectedVersion::NoStream,
        numbered("E", 4),
    )
    .await;
    append(
        &*store,
        "other-1",
        ExpectedVersion::NoStream,
        numbered("E", 3),
    )
    .await;
    append(
        &*store,
        "ten-1",
        ExpectedVersion::Exact(4),
        numbered("F", 6),
    )
    .await;

    let versions =
        |events: Vec<RecordedEvent>| events.iter().map(|e| e.version).collect::<Vec<_>>();
    let read = |from, limit| {
        let store = Arc::clone(&store);
        async move {
            store
                .read_stream_forward("ten-1", from, limit)
                .await
                .expect("read")
        }
    };
    assert_eq!(versions(read(1, 3).await), vec![1, 2, 3]);
    assert_eq!(versions(read(4, 100).await), vec![4, 5, 6, 7, 8, 9, 10]);
    assert_eq!(versions(read(10, 5).await), vec![10]);
    assert_eq!(versions(read(11, 5).await), Vec::<u64>::new());
    assert_eq!(versions(read(u64::MAX, 5).await), Vec::<u64>::new());
    assert_eq!(versions(read(2, 0).await), Vec::<u64>::new());

    let all = read(1, usize::MAX).await;
    assert!(all.iter().all(|e| e.stream_id == "ten-1"));
    let types: Vec<&str> = all.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["E", "E", "E", "E", "F", "F", "F", "F", "F", "F"]);
    assert_eq!(payload_json(&all[4]), json!({ "n": 1 }));
}

/// Stream info: the version, and the times of the first and last events.
pub async fn stream_info_reports_versions_and_times(harness: Harness) {
    let store = harness.store();
    append(
        &*store,
        "info-1",
        ExpectedVersion::NoStream,
        numbered("E", 2),
    )
    .await;
    append(
        &*store,
        "info-2",
        ExpectedVersion::NoStream,
        numbered("E", 5),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    append(
        &*store,
        "info-1",
        ExpectedVersion::Exact(2),
        numbered("E", 1),
    )
    .await;

    let info = store
        .stream_info("info-1")
        .await
        .expect("info")
        .expect("stream exists");
    let events = whole_stream(&*store, "info-1").await;
    assert_eq!(info.stream_id, "info-1");
    assert_eq!(info.version, 3);
    assert_eq!(info.created_at, events[0].timestamp);
    assert_eq!(info.updated_at, events[2].timestamp);
    assert!(
        info.created_at < info.updated_at,
        "20 ms apart, yet {} >= {}",
        info.created_at,
        info.updated_at
    );
    assert_eq!(
        store
            .stream_info("info-2")
            .await
            .expect("info")
            .map(|i| i.version),
        Some(5)
    );
    assert_eq!(store.stream_info("info-3").await.expect("info"), None);
}
