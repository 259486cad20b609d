//! Events as tests compare them, assertions on stored events, and logs of
//! given events with positions.

use std::collections::HashMap;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::diff::{self, Item};
use crate::aggregate::{Aggregate, Event};
use crate::event::{EventMetadata, JsonSerializer, Position, RecordedEvent};

/// An event as the assertions compare it: its stable type name, its schema
/// version and its payload as a JSON value.
///
/// Two events are equal when all three are, so a test needs neither
/// `PartialEq` nor `Debug` on the event type, and a failure names the field
/// that differs.
#[derive(Debug, Clone, PartialEq)]
pub struct EventView {
    /// The stable type name (`OrderItemAdded`).
    pub event_type: String,
    /// The payload's schema version.
    pub schema_version: u32,
    /// The payload, as JSON.
    pub data: Value,
}

impl EventView {
    /// The view of a typed event, encoded with [`JsonSerializer`]. A payload
    /// that JSON cannot hold shows as a string naming the error.
    pub fn of<E: Event>(event: &E) -> EventView {
        let data = match event.encode(&JsonSerializer) {
            Ok(bytes) => payload_json(&bytes),
            Err(e) => Value::String(format!("<not encodable as JSON: {e}>")),
        };
        EventView {
            event_type: event.event_type().to_owned(),
            schema_version: event.schema_version(),
            data,
        }
    }

    /// The view of a stored event; a payload that is not JSON shows as its
    /// bytes, read as (lossy) UTF-8.
    pub fn of_recorded(event: &RecordedEvent) -> EventView {
        EventView {
            event_type: event.event_type.clone(),
            schema_version: event.schema_version,
            data: payload_json(&event.payload),
        }
    }

    pub(crate) fn item(self) -> Item {
        Item {
            kind: self.event_type,
            version: Some(self.schema_version),
            data: self.data,
        }
    }
}

fn payload_json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// Panics, with the differences and a coloured diff, unless `actual` holds
/// the same events as `expected`, in the same order: same types, schema
/// versions and fields.
///
/// # Examples
///
/// ```should_panic
/// # use mink_runtime::testing::{EventView, assert_event_views_eq};
/// # use serde_json::json;
/// let view = |qty| EventView {
///     event_type: "ItemAdded".into(),
///     schema_version: 1,
///     data: json!({ "sku": "book", "qty": qty }),
/// };
/// // Fails with "event #0 `ItemAdded`: field `qty`: expected 2, got 3".
/// assert_event_views_eq(&[view(2)], &[view(3)]);
/// ```
#[track_caller]
pub fn assert_event_views_eq(expected: &[EventView], actual: &[EventView]) {
    let expected: Vec<Item> = expected.iter().cloned().map(EventView::item).collect();
    let actual: Vec<Item> = actual.iter().cloned().map(EventView::item).collect();
    if let Some(message) = diff::compare("event", &expected, &actual) {
        panic!("the events differ:\n{message}");
    }
}

/// Panics, with a diff, unless the typed events are the same, in order, by
/// type, schema version and fields.
#[track_caller]
pub fn assert_events_eq<E: Event>(expected: &[E], actual: &[E]) {
    let expected: Vec<EventView> = expected.iter().map(EventView::of).collect();
    let actual: Vec<EventView> = actual.iter().map(EventView::of).collect();
    assert_event_views_eq(&expected, &actual);
}

/// Assertions on events as a store holds them: their count, types,
/// payloads and metadata. Each method panics with a readable message, and
/// returns `self` so that checks chain.
///
/// # Examples
///
/// ```
/// # use mink_runtime::testing::{assert_recorded, EventLog};
/// # use mink_runtime::EventMetadata;
/// let log = EventLog::new()
///     .with_metadata(EventMetadata::default().with_correlation_id("checkout-1"))
///     .append_json("account-a1", "AccountOpened", serde_json::json!({ "owner": "ada" }))
///     .append_json("account-a1", "AccountDeposited", serde_json::json!({ "amount": 5 }));
/// assert_recorded(log.events())
///     .count(2)
///     .types(["AccountOpened", "AccountDeposited"])
///     .each_metadata(|m| m.correlation_id.as_deref() == Some("checkout-1"));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RecordedAssertions<'a> {
    events: &'a [RecordedEvent],
}

/// Starts assertions on stored events (read from a store, or given to a
/// projection).
pub fn assert_recorded(events: &[RecordedEvent]) -> RecordedAssertions<'_> {
    RecordedAssertions { events }
}

impl RecordedAssertions<'_> {
    /// There are exactly `n` events.
    #[track_caller]
    pub fn count(self, n: usize) -> Self {
        if self.events.len() != n {
            panic!(
                "expected {n} event(s), got {}: {:?}",
                self.events.len(),
                self.type_names()
            );
        }
        self
    }

    /// The events' type names are these, in order.
    #[track_caller]
    pub fn types<'t>(self, expected: impl IntoIterator<Item = &'t str>) -> Self {
        let expected: Vec<&str> = expected.into_iter().collect();
        let actual = self.type_names();
        if expected != actual {
            let summary = [format!("expected types {expected:?}, got {actual:?}")];
            panic!(
                "the event types differ:\n{}",
                diff::report(
                    &summary,
                    &lines(expected.iter().copied()),
                    &lines(actual.iter().copied())
                )
            );
        }
        self
    }

    /// The events are these typed events, in order: same types, schema
    /// versions and fields (compared as JSON).
    #[track_caller]
    pub fn events<E: Event>(self, expected: impl IntoIterator<Item = E>) -> Self {
        let expected: Vec<EventView> = expected.into_iter().map(|e| EventView::of(&e)).collect();
        let actual: Vec<EventView> = self.events.iter().map(EventView::of_recorded).collect();
        assert_event_views_eq(&expected, &actual);
        self
    }

    /// Every event's metadata passes `check`.
    #[track_caller]
    pub fn each_metadata(self, check: impl Fn(&EventMetadata) -> bool) -> Self {
        for (at, e) in self.events.iter().enumerate() {
            if !check(&e.metadata) {
                panic!(
                    "event #{at} `{}` (stream {} version {}) has metadata that fails the check: {:#?}",
                    e.event_type, e.stream_id, e.version, e.metadata
                );
            }
        }
        self
    }

    /// Every event's metadata is exactly `expected`.
    #[track_caller]
    pub fn metadata_eq(self, expected: &EventMetadata) -> Self {
        for (at, e) in self.events.iter().enumerate() {
            if &e.metadata != expected {
                let want = format!("{expected:#?}\n");
                let got = format!("{:#?}\n", e.metadata);
                panic!(
                    "event #{at} `{}` has other metadata:\n{}",
                    e.event_type,
                    diff::report(&[], &want, &got)
                );
            }
        }
        self
    }

    /// The events' stream ids are these, in order.
    #[track_caller]
    pub fn streams<'t>(self, expected: impl IntoIterator<Item = &'t str>) -> Self {
        let expected: Vec<&str> = expected.into_iter().collect();
        let actual: Vec<&str> = self.events.iter().map(|e| e.stream_id.as_str()).collect();
        if expected != actual {
            panic!("expected streams {expected:?}, got {actual:?}");
        }
        self
    }

    fn type_names(&self) -> Vec<&str> {
        self.events.iter().map(|e| e.event_type.as_str()).collect()
    }
}

fn lines<'t>(items: impl Iterator<Item = &'t str>) -> String {
    items.map(|s| format!("{s}\n")).collect()
}

/// A log of given events, as a store would have recorded them: each with
/// its stream, version, position, metadata and timestamp. Feed it to a
/// [`ProjectionFixture`](super::ProjectionFixture), or use its events
/// wherever a test needs [`RecordedEvent`]s.
///
/// Positions follow one another from 1 ([`Position::sequential`]) unless
/// [`at`](Self::at) moves them on; versions count per stream from 1. Every
/// event carries the metadata set by [`with_metadata`](Self::with_metadata)
/// (none at first) and the timestamp set by [`at_time`](Self::at_time)
/// ([`EventLog::default_timestamp`] at first), so that tests can state
/// read models exactly.
///
/// # Examples
///
/// ```
/// # use mink_runtime::testing::EventLog;
/// # use mink_runtime::Position;
/// let log = EventLog::new()
///     .append_json("order-o1", "OrderCreated", serde_json::json!({ "customer_id": "c7" }))
///     .at(Position::sequential(10))
///     .append_json("order-o1", "OrderShipped", serde_json::json!({ "tracking": "T-1" }));
/// let events = log.events();
/// assert_eq!(events[1].version, 2);
/// assert_eq!(events[1].position, Position::sequential(10));
/// ```
#[derive(Debug, Clone)]
pub struct EventLog {
    events: Vec<RecordedEvent>,
    next: Option<Position>,
    versions: HashMap<String, u64>,
    metadata: EventMetadata,
    timestamp: DateTime<Utc>,
}

impl Default for EventLog {
    fn default() -> Self {
        EventLog::new()
    }
}

impl EventLog {
    /// An empty log.
    pub fn new() -> Self {
        EventLog {
            events: Vec::new(),
            next: None,
            versions: HashMap::new(),
            metadata: EventMetadata::default(),
            timestamp: EventLog::default_timestamp(),
        }
    }

    /// The timestamp of given events unless [`at_time`](Self::at_time)
    /// says otherwise: 2025-01-01T00:00:00Z.
    pub fn default_timestamp() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default()
    }

    /// Appends a typed event to `stream_id`, encoded as JSON.
    ///
    /// # Panics
    ///
    /// When the event cannot be encoded as JSON.
    #[track_caller]
    pub fn append<E: Event>(self, stream_id: impl Into<String>, event: E) -> Self {
        let payload = event
            .encode(&JsonSerializer)
            .unwrap_or_else(|e| panic!("encoding a given `{}`: {e}", event.event_type()));
        let mut log = self.push(
            stream_id.into(),
            event.event_type().to_owned(),
            event.schema_version(),
            payload,
        );
        // A type with a format of its own (protobuf) was encoded in it.
        if let (Some(own), Some(last)) = (E::CONTENT_TYPE, log.events.last_mut()) {
            last.content_type = own;
        }
        log
    }

    /// Appends events of aggregate `A` to the stream of the aggregate with
    /// id `id` (`category-id`).
    #[track_caller]
    pub fn aggregate<A: Aggregate>(
        mut self,
        id: &str,
        events: impl IntoIterator<Item = A::Event>,
    ) -> Self {
        let stream = A::stream_id(id);
        for event in events {
            self = self.append(stream.clone(), event);
        }
        self
    }

    /// Appends an event by type name with a JSON payload: for events of
    /// types the test does not define, or payloads no type accepts.
    pub fn append_json(
        self,
        stream_id: impl Into<String>,
        event_type: &str,
        payload: Value,
    ) -> Self {
        let bytes = serde_json::to_vec(&payload).unwrap_or_default();
        self.push(stream_id.into(), event_type.to_owned(), 1, bytes)
    }

    /// Appends an event exactly as given (its position must still come
    /// after the last one's); later events continue after its position and,
    /// on its stream, after its version.
    #[track_caller]
    pub fn recorded(mut self, event: RecordedEvent) -> Self {
        self.check_order(event.position);
        self.versions.insert(event.stream_id.clone(), event.version);
        self.next = None;
        self.events.push(event);
        self
    }

    /// The next event gets `position`, and those after it follow on.
    pub fn at(mut self, position: Position) -> Self {
        self.next = Some(position);
        self
    }

    /// Events appended from now on carry `metadata`.
    pub fn with_metadata(mut self, metadata: EventMetadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// Events appended from now on carry `timestamp`.
    pub fn at_time(mut self, timestamp: DateTime<Utc>) -> Self {
        self.timestamp = timestamp;
        self
    }

    /// The events, in log order.
    pub fn events(&self) -> &[RecordedEvent] {
        &self.events
    }

    /// The events, in log order.
    pub fn into_events(self) -> Vec<RecordedEvent> {
        self.events
    }

    #[track_caller]
    fn push(
        mut self,
        stream_id: String,
        event_type: String,
        schema: u32,
        payload: Vec<u8>,
    ) -> Self {
        let position = match self.next.take() {
            Some(p) => p,
            None => {
                let last = self.events.last().map_or(0, |e| e.position.event);
                Position::sequential(last + 1)
            }
        };
        self.check_order(position);
        let version = self.versions.entry(stream_id.clone()).or_insert(0);
        *version += 1;
        self.events.push(RecordedEvent {
            event_id: Uuid::now_v7(),
            stream_id,
            version: *version,
            position,
            event_type,
            schema_version: schema,
            payload,
            content_type: crate::event::ContentType::JSON,
            metadata: self.metadata.clone(),
            timestamp: self.timestamp,
        });
        self
    }

    #[track_caller]
    fn check_order(&self, position: Position) {
        if let Some(last) = self.events.last() {
            assert!(
                position > last.position,
                "given events must be in log order: position {position} comes after {}",
                last.position
            );
        }
    }
}

impl IntoIterator for EventLog {
    type Item = RecordedEvent;
    type IntoIter = std::vec::IntoIter<RecordedEvent>;

    fn into_iter(self) -> Self::IntoIter {
        self.events.into_iter()
    }
}
