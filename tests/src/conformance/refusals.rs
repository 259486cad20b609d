//! Refused input: an event over `max_event_size`, and empty or too long
//! stream ids and event types, are refused, and nothing is written.

use mink::{EventStore, ExpectedVersion, Limits, NewEvent, StreamAppend};
use serde_json::json;

use super::harness::Harness;
use super::support::{append, assert_empty_log, assert_invalid, event, numbered, whole_stream};

/// An event larger than `max_event_size` is refused, alone or inside a
/// multi-stream call, and nothing is written; the limit itself is allowed.
pub async fn oversized_event_is_refused(harness: Harness) {
    let limits = Limits {
        max_event_size: 1024,
        ..Limits::default()
    };
    let store = harness.fresh_store(limits).await;
    let sized = |n: usize| NewEvent::new("Sized", vec![b'7'; n]);

    assert_invalid(
        store
            .append_to_stream("size-1", ExpectedVersion::Any, vec![sized(1025)])
            .await,
        "payload",
    );
    let mixed = store
        .append_to_streams(vec![
            StreamAppend::new("size-1", ExpectedVersion::Any, vec![sized(10)]),
            StreamAppend::new("size-2", ExpectedVersion::Any, vec![sized(1), sized(4096)]),
        ])
        .await;
    assert_invalid(mixed, "payload");
    assert_empty_log(&*store).await;

    append(
        &*store,
        "size-1",
        ExpectedVersion::NoStream,
        vec![sized(1024)],
    )
    .await;
    let stored = whole_stream(&*store, "size-1").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].payload.len(), 1024);
}

/// Empty or too long stream ids and event types are refused, and nothing is
/// written.
pub async fn bad_stream_ids_and_event_types_are_refused(harness: Harness) {
    let store = harness.store();
    let limits = Limits::default();
    let long_id = "s".repeat(limits.max_stream_id_len + 1);
    // Within the limit in characters, over it in bytes.
    let long_unicode_id = "é".repeat(limits.max_stream_id_len / 2 + 1);
    let long_type = "T".repeat(limits.max_event_type_len + 1);
    let ok = || numbered("E", 1);
    let cases: Vec<(&str, Vec<NewEvent>, &str)> = vec![
        ("", ok(), "stream_id"),
        (&long_id, ok(), "stream_id"),
        (&long_unicode_id, ok(), "stream_id"),
        ("fine-1", vec![event("", json!({}))], "event_type"),
        (
            "fine-1",
            vec![event("Fine", json!({})), event(&long_type, json!({}))],
            "event_type",
        ),
    ];
    for (stream, events, field) in cases {
        assert_invalid(
            store
                .append_to_stream(stream, ExpectedVersion::Any, events)
                .await,
            field,
        );
    }
    let empty_id_among_others = store
        .append_to_streams(vec![
            StreamAppend::new("fine-2", ExpectedVersion::Any, ok()),
            StreamAppend::new("", ExpectedVersion::Any, ok()),
        ])
        .await;
    assert_invalid(empty_id_among_others, "stream_id");
    assert_empty_log(&*store).await;

    let longest_id = "s".repeat(limits.max_stream_id_len);
    let longest_type = "T".repeat(limits.max_event_type_len);
    append(
        &*store,
        &longest_id,
        ExpectedVersion::NoStream,
        vec![event(&longest_type, json!({}))],
    )
    .await;
    assert_eq!(
        whole_stream(&*store, &longest_id).await[0].event_type,
        longest_type
    );
}
