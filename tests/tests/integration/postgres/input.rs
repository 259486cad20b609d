//! Input this store keeps apart or refuses: JSON payloads go to jsonb and
//! others to bytes, an event id is stored once, and limits set on the
//! builder are enforced.

use mink::{Error, EventStore, ExpectedVersion, Limits, NewEvent};
use serde_json::json;

use super::support::{event, test_store, test_store_with};

/// JSON payloads are stored as jsonb, readable with psql; anything else
/// (not JSON, empty, not UTF-8, or JSON that jsonb cannot hold) is kept
/// byte for byte in `payload_bytes` (docs/adr/009-payload-storage.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_are_jsonb_or_exact_bytes() {
    let Some(store) = test_store().await else {
        return;
    };
    let cases: Vec<Vec<u8>> = vec![
        b"not json".to_vec(),
        Vec::new(),
        vec![0xff, 0xfe, 0x00],
        // Valid JSON, but jsonb cannot hold a NUL character.
        br#"{"a":"\u0000"}"#.to_vec(),
    ];
    for (n, payload) in cases.iter().enumerate() {
        let stream = format!("bytes-{n}");
        store
            .append_to_stream(
                &stream,
                ExpectedVersion::NoStream,
                vec![NewEvent::new("Opaque", payload.clone())],
            )
            .await
            .unwrap_or_else(|e| panic!("{payload:?}: {e}"));
        let stored = &store
            .read_stream_forward(&stream, 1, 1)
            .await
            .expect("read")[0];
        assert_eq!(&stored.payload, payload, "kept byte for byte");
        let in_bytes: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT payload IS NULL AND payload_bytes IS NOT NULL FROM {}.events WHERE stream_id = $1",
            store.schema()
        )))
        .bind(&stream)
        .fetch_one(store.pool())
        .await
        .expect("columns");
        assert!(in_bytes, "{payload:?} is kept in payload_bytes");
    }

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
        Err(Error::DuplicateEventId { event_id }) => assert_eq!(event_id, e.event_id),
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
