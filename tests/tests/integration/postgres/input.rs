//! Input this store refuses or keeps apart: payloads must be JSON, an event
//! id is stored once, and limits set on the builder are enforced.

use mink::{Error, EventStore, ExpectedVersion, Limits, NewEvent, StreamAppend};
use serde_json::json;

use super::support::{event, test_store, test_store_with};

/// Payloads are stored as jsonb: anything else is refused and nothing of
/// the call is written; JSON comes back as the same JSON value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_must_be_json() {
    let Some(store) = test_store().await else {
        return;
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"not json".to_vec(), "payload"),
        (Vec::new(), "payload"),
        (vec![0xff, 0xfe], "payload"),
        // Valid JSON, but jsonb cannot hold a NUL character.
        (br#"{"a":"\u0000"}"#.to_vec(), "input"),
    ];
    for (payload, field) in cases {
        let result = store
            .append_to_streams(vec![
                StreamAppend::new("json-1", ExpectedVersion::Any, vec![event("Fine", 1)]),
                StreamAppend::new(
                    "json-2",
                    ExpectedVersion::Any,
                    vec![NewEvent::new("Bad", payload.clone())],
                ),
            ])
            .await;
        match result {
            Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field, "{payload:?}"),
            other => panic!("{payload:?}: expected invalid {field}, got {other:?}"),
        }
    }
    assert_eq!(store.stream_info("json-1").await.expect("info"), None);

    let value = json!({ "zeta": [1, 2.5, "three"], "alpha": { "nested": null }, "b": true });
    let spaced =
        b"{ \"zeta\" : [1, 2.5, \"three\"],\n \"alpha\": {\"nested\": null}, \"b\": true }"
            .to_vec();
    store
        .append_to_stream(
            "json-3",
            ExpectedVersion::NoStream,
            vec![NewEvent::new("Spaced", spaced)],
        )
        .await
        .expect("append JSON");
    let stored = &store
        .read_stream_forward("json-3", 1, 1)
        .await
        .expect("read")[0];
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&stored.payload).expect("JSON"),
        value
    );
}

/// Event ids are unique in the store: appending one again is refused and
/// names the id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_id_is_stored_once() {
    let Some(store) = test_store().await else {
        return;
    };
    let e = event("Once", 1);
    store
        .append_to_stream("once-1", ExpectedVersion::Any, vec![e.clone()])
        .await
        .expect("first");
    match store
        .append_to_stream("once-2", ExpectedVersion::Any, vec![e.clone()])
        .await
    {
        Err(Error::InvalidInput {
            field: "event_id",
            reason,
        }) => {
            assert!(reason.contains(&e.event_id.to_string()), "{reason}");
        }
        other => panic!("expected the duplicate id to be refused, got {other:?}"),
    }
    assert_eq!(store.stream_info("once-2").await.expect("info"), None);
}

/// Limits set on the builder are enforced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_limits_are_enforced() {
    let limits = Limits {
        max_event_size: 16,
        ..Limits::default()
    };
    let Some(store) = test_store_with(limits).await else {
        return;
    };
    let big = NewEvent::new("Big", format!("\"{}\"", "x".repeat(20)).into_bytes());
    match store
        .append_to_stream("big-1", ExpectedVersion::Any, vec![big])
        .await
    {
        Err(Error::InvalidInput {
            field: "payload", ..
        }) => {}
        other => panic!("expected the payload to be refused, got {other:?}"),
    }
    assert_eq!(store.limits(), limits);
}
