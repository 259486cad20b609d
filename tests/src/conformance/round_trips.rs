//! Round trips: metadata, timestamps, large and binary payloads and
//! unicode stream ids come back as written; a stored payload that no longer
//! fits its Rust type is a typed error, not a panic.

use std::time::{Duration, SystemTime};

use mink::{
    BoxError, Error, Event, EventMetadata, EventStore, ExpectedVersion, JsonSerializer, NewEvent,
    ReadFilter, Serializer,
};
use serde_json::{Value, json};

use super::harness::Harness;
use super::support::{
    append, event, filtered, ids, numbered, payload_json, whole_log, whole_stream,
};

/// Every metadata field, the custom map, ids, type names and schema
/// versions come back as written, on both read paths.
pub async fn metadata_round_trips(harness: Harness) {
    let store = harness.store();
    let metadata = EventMetadata::default()
        .with_correlation_id("corr-1")
        .with_causation_id("cause-2")
        .with_user_id("user-ü")
        .with_tenant_id("tenant-4")
        .with_custom("region", "eu-west")
        .with_custom("trace", "ça va? {\"quoted\"}");
    let full = event("Registered", json!({ "name": "Ada" }))
        .with_schema_version(3)
        .with_metadata(metadata.clone());
    let partial_meta = EventMetadata::default().with_user_id("user-5");
    let partial = event("Renamed", json!({})).with_metadata(partial_meta.clone());
    let bare = event("Noted", json!(null));
    let written = [full.clone(), partial.clone(), bare.clone()];
    append(
        &*store,
        "user-1",
        ExpectedVersion::NoStream,
        written.to_vec(),
    )
    .await;

    let from_stream = whole_stream(&*store, "user-1").await;
    assert_eq!(from_stream, whole_log(&*store).await);
    for (stored, new) in from_stream.iter().zip(&written) {
        assert_eq!(stored.event_id, new.event_id);
        assert_eq!(stored.event_type, new.event_type);
        assert_eq!(stored.schema_version, new.schema_version);
        assert_eq!(stored.metadata, new.metadata);
        assert_eq!(
            payload_json(stored),
            serde_json::from_slice::<Value>(&new.payload).expect("json")
        );
    }
    assert_eq!(from_stream[0].schema_version, 3);
    assert_eq!(from_stream[0].metadata, metadata);
    assert_eq!(from_stream[1].metadata, partial_meta);
    assert!(from_stream[2].metadata.is_empty());
}

/// Timestamps are the time of the append, the same on both read paths, and
/// what stream info reports.
pub async fn timestamps_round_trip(harness: Harness) {
    let store = harness.store();
    let slack = Duration::from_secs(5);
    let before = SystemTime::now();
    append(
        &*store,
        "clock-1",
        ExpectedVersion::NoStream,
        numbered("E", 2),
    )
    .await;
    let after = SystemTime::now();
    let events = whole_stream(&*store, "clock-1").await;
    for e in &events {
        let at = SystemTime::from(e.timestamp);
        assert!(
            at + slack >= before && at <= after + slack,
            "timestamp {} is not the append's time",
            e.timestamp
        );
    }
    let log = whole_log(&*store).await;
    assert_eq!(
        log.iter().map(|e| e.timestamp).collect::<Vec<_>>(),
        events.iter().map(|e| e.timestamp).collect::<Vec<_>>()
    );
}

/// A 1 MiB payload comes back whole.
pub async fn large_payload_round_trips(harness: Harness) {
    let store = harness.store();
    let text: String = (0..(1 << 20))
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let payload = json!({ "blob": text });
    let e = event("Big", payload.clone());
    assert!(e.payload.len() > 1 << 20);
    append(
        &*store,
        "big-1",
        ExpectedVersion::NoStream,
        vec![e, event("Small", json!({}))],
    )
    .await;
    let events = whole_stream(&*store, "big-1").await;
    assert_eq!(events.len(), 2);
    assert_eq!(payload_json(&events[0]), payload);
    assert_eq!(payload_json(&whole_log(&*store).await[0]), payload);
}

/// Payloads are bytes: a non-JSON, non-UTF-8 payload (another serializer's
/// output), text with a NUL, JSON-like text that PostgreSQL's jsonb cannot
/// hold (a `\u0000` escape, a lone surrogate, a huge exponent), and
/// an empty payload all come back byte for byte, on every adapter.
pub async fn binary_payload_round_trips(harness: Harness) {
    let store = harness.store();
    let binary: Vec<u8> = (0..=255u8).rev().collect();
    let with_nul = b"text\0with nul".to_vec();
    let json_with_nul_escape = br#"{"a":"\u0000"}"#.to_vec();
    let lone_surrogate = br#"["\ud800", 1e200000]"#.to_vec();
    let empty = Vec::new();
    let written = vec![
        NewEvent::new("Binary", binary.clone()),
        NewEvent::new("Nul", with_nul.clone()),
        NewEvent::new("JsonNul", json_with_nul_escape.clone()),
        NewEvent::new("Surrogate", lone_surrogate.clone()),
        NewEvent::new("Empty", empty.clone()),
    ];
    store
        .append_to_stream("bytes-1", ExpectedVersion::NoStream, written)
        .await
        .expect("every payload is stored");
    let payloads: Vec<Vec<u8>> = whole_stream(&*store, "bytes-1")
        .await
        .into_iter()
        .map(|e| e.payload)
        .collect();
    assert_eq!(
        payloads,
        vec![
            binary,
            with_nul,
            json_with_nul_escape,
            lone_surrogate,
            empty
        ]
    );
}

/// Stream ids are any UTF-8 text: reads, info and filters work on them.
pub async fn unicode_stream_ids(harness: Harness) {
    let store = harness.store();
    let streams = [
        "commande-été-🚀",
        "заказ-1",
        "注文-一",
        "it's-100%_done",
        "emoji🙂",
    ];
    for (i, stream) in streams.into_iter().enumerate() {
        append(
            &*store,
            stream,
            ExpectedVersion::NoStream,
            numbered("E", i as u64 + 1),
        )
        .await;
    }
    for (i, stream) in streams.into_iter().enumerate() {
        let events = whole_stream(&*store, stream).await;
        assert_eq!(events.len(), i + 1, "{stream}");
        assert!(events.iter().all(|e| e.stream_id == stream));
        let info = store
            .stream_info(stream)
            .await
            .expect("info")
            .expect("stream exists");
        assert_eq!(
            (info.stream_id.as_str(), info.version),
            (stream, i as u64 + 1)
        );
    }
    assert_eq!(
        filtered(&*store, ReadFilter::all().category("заказ")).await,
        ids(&[("заказ-1", 1), ("заказ-1", 2)])
    );
    assert_eq!(
        filtered(&*store, ReadFilter::all().stream("emoji🙂"))
            .await
            .len(),
        5
    );
    assert_eq!(
        filtered(&*store, ReadFilter::all().category("it's"))
            .await
            .len(),
        4
    );
    assert_eq!(
        filtered(&*store, ReadFilter::all().category("it_s")).await,
        Vec::new()
    );
    assert_eq!(whole_stream(&*store, "заказ-2").await, Vec::new());
}

/// A test event with a hand-written [`Event`] implementation.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Tick {
    count: u64,
}

impl Event for Tick {
    const EVENT_TYPES: &'static [&'static str] = &["Tick"];

    fn event_type(&self) -> &'static str {
        "Tick"
    }

    fn schema_version(&self) -> u32 {
        1
    }

    fn encode<S: Serializer>(&self, serializer: &S) -> Result<Vec<u8>, BoxError> {
        serializer.serialize(self)
    }

    fn decode<S: Serializer>(
        event_type: &str,
        _schema_version: u32,
        payload: &[u8],
        serializer: &S,
    ) -> Result<Option<Self>, BoxError> {
        if event_type != "Tick" {
            return Ok(None);
        }
        serializer.deserialize(payload).map(Some)
    }
}

/// A stored payload that no longer fits its Rust type is a typed error
/// naming the event, not a panic; an unknown type name is another one.
pub async fn undecodable_payload_is_a_typed_error(harness: Harness) {
    let store = harness.store();
    let good = Tick { count: 3 }
        .to_new_event(&JsonSerializer, EventMetadata::default())
        .expect("encode");
    let bad = event("Tick", json!({ "count": "many" }));
    let bad_id = bad.event_id;
    let unknown = event("Tock", json!({ "count": 1 }));
    append(
        &*store,
        "clock-9",
        ExpectedVersion::NoStream,
        vec![good, bad, unknown],
    )
    .await;
    let events = whole_stream(&*store, "clock-9").await;

    assert_eq!(
        Tick::from_recorded(&events[0], &JsonSerializer).expect("decodes"),
        Tick { count: 3 }
    );
    match Tick::from_recorded(&events[1], &JsonSerializer) {
        Err(Error::Deserialization {
            event_type,
            stream,
            version,
            event_id,
            ..
        }) => {
            assert_eq!(
                (event_type.as_str(), stream.as_str(), version, event_id),
                ("Tick", "clock-9", 2, bad_id)
            );
        }
        other => panic!("expected a deserialization error, got {other:?}"),
    }
    match Tick::from_recorded(&events[2], &JsonSerializer) {
        Err(Error::UnknownEventType {
            event_type,
            stream,
            version,
        }) => {
            assert_eq!(
                (event_type.as_str(), stream.as_str(), version),
                ("Tock", "clock-9", 3)
            );
        }
        other => panic!("expected an unknown event type, got {other:?}"),
    }
}
