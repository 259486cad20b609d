//! Expected versions: every [`ExpectedVersion`] against a missing and an
//! existing stream, and appends of no events, which check the expectation
//! and write nothing.

use mink::{EventStore, ExpectedVersion};

use super::harness::Harness;
use super::support::{
    append, assert_conflict, assert_empty_log, numbered, outcome_shape, whole_log, whole_stream,
};

/// Every [`ExpectedVersion`] against a missing and an existing stream:
/// accepted appends report the right versions, refused ones a typed
/// conflict with the stream's actual version, and write nothing.
pub async fn expected_versions(harness: Harness) {
    use ExpectedVersion::*;
    let store = harness.store();
    // (stream's events before, expectation, accepted?)
    let table = [
        (0, Any, true),
        (2, Any, true),
        (0, NoStream, true),
        (2, NoStream, false),
        (0, StreamExists, false),
        (2, StreamExists, true),
        (0, Exact(0), true),
        (0, Exact(1), false),
        (2, Exact(2), true),
        (2, Exact(1), false),
        (2, Exact(3), false),
        (2, Exact(0), false),
        (2, Exact(u64::MAX), false),
    ];
    for (row, (before, expected, accepted)) in table.into_iter().enumerate() {
        let stream = format!("ev{row}-s");
        if before > 0 {
            append(&*store, &stream, NoStream, numbered("Seeded", before)).await;
        }
        let result = store
            .append_to_stream(&stream, expected, numbered("Tried", 2))
            .await;
        if accepted {
            let result = result.unwrap_or_else(|e| panic!("row {row} ({expected}): {e}"));
            assert_eq!(
                outcome_shape(&result),
                vec![(stream.clone().to_string(), before + 1, before + 2)],
                "row {row}"
            );
            assert_eq!(result.last_version_of(&stream), Some(before + 2));
        } else {
            assert_conflict(result, &stream, expected, before);
        }
        let versions: Vec<u64> = whole_stream(&*store, &stream)
            .await
            .iter()
            .map(|e| e.version)
            .collect();
        let want = if accepted { before + 2 } else { before };
        assert_eq!(
            versions,
            (1..=want).collect::<Vec<_>>(),
            "row {row}: versions of `{stream}`"
        );
    }
}

/// Appending no events checks the expected version and writes nothing.
pub async fn appending_zero_events(harness: Harness) {
    use ExpectedVersion::*;
    let store = harness.store();
    let result = append(&*store, "zero-1", NoStream, Vec::new()).await;
    assert_eq!(outcome_shape(&result), vec![("zero-1".to_string(), 0, 0)]);
    assert_empty_log(&*store).await;
    assert_eq!(store.stream_info("zero-1").await.expect("info"), None);
    assert_conflict(
        store
            .append_to_stream("zero-1", StreamExists, Vec::new())
            .await,
        "zero-1",
        StreamExists,
        0,
    );

    append(&*store, "zero-1", NoStream, numbered("E", 2)).await;
    let result = append(&*store, "zero-1", Exact(2), Vec::new()).await;
    assert_eq!(outcome_shape(&result)[0], ("zero-1".to_string(), 2, 2));
    assert_conflict(
        store.append_to_stream("zero-1", Exact(5), Vec::new()).await,
        "zero-1",
        Exact(5),
        2,
    );
    assert_eq!(whole_log(&*store).await.len(), 2);
}
