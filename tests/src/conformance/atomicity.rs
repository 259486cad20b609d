//! Atomicity: one call spans several streams and writes all of them or
//! none; the same stream twice in one call is refused.

use mink::{EventStore, ExpectedVersion, StreamAppend};

use super::harness::Harness;
use super::support::{
    append, assert_conflict, assert_empty_log, assert_invalid, numbered, outcome_shape, whole_log,
};

/// One call spans several streams; a conflict on any writes nothing to any.
pub async fn multi_stream_append_is_atomic(harness: Harness) {
    use ExpectedVersion::*;
    let store = harness.store();
    append(&*store, "account-1", NoStream, numbered("Opened", 1)).await;

    let result = store
        .append_to_streams(vec![
            StreamAppend::new("account-1", Exact(1), numbered("Debited", 2)),
            StreamAppend::new("account-2", NoStream, numbered("Credited", 1)),
        ])
        .await
        .expect("a valid multi-stream append");
    assert_eq!(
        outcome_shape(&result),
        vec![
            ("account-1".to_string(), 2, 3),
            ("account-2".to_string(), 1, 1),
        ]
    );
    let log = whole_log(&*store).await;
    let order: Vec<(&str, u64)> = log
        .iter()
        .map(|e| (e.stream_id.as_str(), e.version))
        .collect();
    assert_eq!(
        order,
        [
            ("account-1", 1),
            ("account-1", 2),
            ("account-1", 3),
            ("account-2", 1)
        ]
    );

    let before = whole_log(&*store).await;
    // The first two streams are fine; the last one conflicts.
    let refused = store
        .append_to_streams(vec![
            StreamAppend::new("account-1", Exact(3), numbered("Debited", 1)),
            StreamAppend::new("account-3", NoStream, numbered("Opened", 1)),
            StreamAppend::new("account-2", Exact(7), numbered("Credited", 1)),
        ])
        .await;
    assert_conflict(refused, "account-2", Exact(7), 1);
    assert_eq!(
        whole_log(&*store).await,
        before,
        "a refused call wrote something"
    );
    assert_eq!(store.stream_info("account-3").await.expect("info"), None);
    assert_eq!(
        store
            .stream_info("account-1")
            .await
            .expect("info")
            .map(|i| i.version),
        Some(3)
    );
}

/// The same stream twice in one call is refused before anything is written.
pub async fn same_stream_twice_is_refused(harness: Harness) {
    let store = harness.store();
    let refused = store
        .append_to_streams(vec![
            StreamAppend::new("twice-1", ExpectedVersion::Any, numbered("E", 1)),
            StreamAppend::new("twice-1", ExpectedVersion::Any, numbered("E", 1)),
        ])
        .await;
    assert_invalid(refused, "stream_id");
    assert_invalid(store.append_to_streams(Vec::new()).await, "appends");
    assert_empty_log(&*store).await;
}
