//! Input this store keeps apart or refuses: JSON payloads go to jsonb and
//! others to bytes, an event id is stored once, and limits set on the
//! builder are enforced, within what the schema can index.

use mink::adapters::postgres::{PostgresStore, PostgresStoreBuilder};
use mink::{Error, EventMetadata, EventStore, ExpectedVersion, Limits, NewEvent};
use rand::Rng;
use serde_json::json;

use super::support::{event, fresh_schema, server_url, test_store, test_store_with};

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

/// Stream ids up to the longest the `(stream_id, version)` index can hold
/// are stored; a store with a longer limit is refused when it is built, so a
/// longer id is refused as invalid input before PostgreSQL sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_ids_are_bounded_by_what_the_index_holds() {
    let max = PostgresStoreBuilder::MAX_STREAM_ID_LEN;
    let limits = Limits {
        max_stream_id_len: max,
        ..Limits::default()
    };
    let Some(store) = test_store_with(limits).await else {
        return;
    };
    // Random text, so PostgreSQL cannot compress the index entry.
    let random_id = |len: usize| -> String {
        rand::rng()
            .sample_iter(rand::distr::Alphanumeric)
            .take(len)
            .map(char::from)
            .collect()
    };
    let longest = random_id(max);
    store
        .append_to_stream(&longest, ExpectedVersion::NoStream, vec![event("Long", 1)])
        .await
        .expect("the longest stream id is stored");
    assert_eq!(
        store
            .read_stream_forward(&longest, 1, 1)
            .await
            .expect("read")
            .len(),
        1
    );
    match store
        .append_to_stream(
            &random_id(max + 1),
            ExpectedVersion::Any,
            vec![event("Long", 2)],
        )
        .await
    {
        Err(Error::InvalidInput {
            field: "stream_id", ..
        }) => {}
        other => panic!("expected the stream id to be refused, got {other:?}"),
    }

    let url = server_url().expect("set, since the store above was built");
    let raised = Limits {
        max_stream_id_len: 10_000,
        ..Limits::default()
    };
    match PostgresStore::builder(url)
        .schema(fresh_schema())
        .limits(raised)
        .build()
        .await
    {
        Err(Error::Configuration(message)) => {
            assert!(message.contains(&max.to_string()), "{message}")
        }
        other => panic!("expected the limits to be refused, got {other:?}"),
    }
}

/// Metadata beyond the limits is refused before anything is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_metadata_is_refused() {
    let Some(store) = test_store().await else {
        return;
    };
    let limits = store.limits();
    let mut huge_value = event("Traced", 1);
    huge_value.metadata =
        EventMetadata::default().with_custom("trace", "x".repeat(limits.max_metadata_size + 1));
    let mut many_entries = event("Traced", 2);
    many_entries.metadata.custom = (0..=limits.max_metadata_entries)
        .map(|i| (format!("k{i}"), String::new()))
        .collect();
    for e in [huge_value, many_entries] {
        match store
            .append_to_stream("traced-1", ExpectedVersion::Any, vec![e])
            .await
        {
            Err(Error::InvalidInput {
                field: "metadata", ..
            }) => {}
            other => panic!("expected the metadata to be refused, got {other:?}"),
        }
    }
    assert_eq!(store.stream_info("traced-1").await.expect("info"), None);
}
