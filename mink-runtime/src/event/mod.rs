//! The event model: what is appended, what is stored, and where it sits.
//!
//! This is the bottom layer of the runtime, the vocabulary, with the typed
//! [`error`]s (also at `crate::error`): it imports nothing else of mink.

mod content_type;
pub mod error;
#[cfg(feature = "msgpack")]
mod msgpack;
#[cfg(feature = "protobuf")]
mod protobuf;
mod registration;
mod serializer;

pub use content_type::ContentType;
#[cfg(feature = "msgpack")]
pub use msgpack::MessagePackSerializer;
#[cfg(feature = "protobuf")]
pub use protobuf::ProtobufSerializer;
pub use registration::EventRegistration;
pub use serializer::{JsonSerializer, Serializer};

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What the caller believes about a stream's version when appending to it.
///
/// A mismatch is refused with [`crate::Error::ConcurrencyConflict`] and
/// nothing from that append is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// No check: append whatever the stream's state.
    Any,
    /// The stream must not exist yet (version 0).
    NoStream,
    /// The stream must already hold at least one event.
    StreamExists,
    /// The stream must be exactly at this version (0 means "no stream").
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream currently at `actual` (0: missing) satisfies this
    /// expectation.
    pub fn accepts(self, actual: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::StreamExists => actual > 0,
            ExpectedVersion::Exact(v) => actual == v,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any version"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::StreamExists => f.write_str("an existing stream"),
            ExpectedVersion::Exact(v) => write!(f, "version {v}"),
        }
    }
}

/// Where an event sits in the global log.
///
/// The log is ordered by `(commit, event)`. `event` is unique per event and
/// allocated when it is written; `commit` orders the transaction that wrote
/// it. Stores with a single writer (memory, SQLite) use the same number for
/// both. PostgreSQL records the writing transaction in `commit`, so a reader
/// that resumes after a position never skips an event whose transaction
/// committed late (see `docs/adr/004-global-ordering.md`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Position {
    /// Orders the writing transaction.
    pub commit: u64,
    /// Unique number of the event, allocated at write time.
    pub event: u64,
}

impl Position {
    /// Before the first event: reading after it reads the whole log.
    pub const START: Position = Position {
        commit: 0,
        event: 0,
    };

    /// A position whose commit and event numbers are the same, as in
    /// single-writer stores.
    pub const fn sequential(n: u64) -> Position {
        Position {
            commit: n,
            event: n,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.commit, self.event)
    }
}

/// Context stored with every event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMetadata {
    /// Ties together everything caused by one original request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// The id of the command or event that directly caused this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<String>,
    /// Who acted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The tenant the event belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Anything else, as strings.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom: BTreeMap<String, String>,
}

impl EventMetadata {
    /// The custom entry holding what caused the *command* that produced an
    /// event (for example the event a saga reacted to), while
    /// [`EventMetadata::causation_id`] holds the command itself.
    pub const COMMAND_CAUSATION_ID: &'static str = "command_causation_id";

    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        self.correlation_id.is_none()
            && self.causation_id.is_none()
            && self.user_id.is_none()
            && self.tenant_id.is_none()
            && self.custom.is_empty()
    }

    /// Sets the correlation id.
    pub fn with_correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }

    /// Sets the causation id.
    pub fn with_causation_id(mut self, id: impl Into<String>) -> Self {
        self.causation_id = Some(id.into());
        self
    }

    /// Sets the user id.
    pub fn with_user_id(mut self, id: impl Into<String>) -> Self {
        self.user_id = Some(id.into());
        self
    }

    /// Sets the tenant id.
    pub fn with_tenant_id(mut self, id: impl Into<String>) -> Self {
        self.tenant_id = Some(id.into());
        self
    }

    /// Adds one custom entry.
    pub fn with_custom(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.custom.insert(key.into(), value.into());
        self
    }
}

/// An event ready to be appended: serialized, not yet positioned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Unique id (UUIDv7 by default, so ids sort by creation time).
    pub event_id: Uuid,
    /// Stable type name, as registered with `#[event]`.
    pub event_type: String,
    /// Schema version of the payload.
    pub schema_version: u32,
    /// Serialized payload (JSON by default).
    pub payload: Vec<u8>,
    /// The payload's format, stored with it (JSON by default).
    pub content_type: ContentType,
    /// Correlation, causation, user, tenant and custom entries.
    pub metadata: EventMetadata,
}

impl NewEvent {
    /// A new event with a fresh UUIDv7 id, schema version 1, no metadata
    /// and a JSON payload (see [`NewEvent::with_content_type`] for others).
    pub fn new(event_type: impl Into<String>, payload: impl Into<Vec<u8>>) -> Self {
        NewEvent {
            event_id: Uuid::now_v7(),
            event_type: event_type.into(),
            schema_version: 1,
            payload: payload.into(),
            content_type: ContentType::JSON,
            metadata: EventMetadata::default(),
        }
    }

    /// A new event whose payload is `value` as JSON.
    pub fn json<T: Serialize + ?Sized>(
        event_type: impl Into<String>,
        value: &T,
    ) -> crate::Result<Self> {
        let event_type = event_type.into();
        let payload = serde_json::to_vec(value).map_err(|e| crate::Error::Serialization {
            event_type: event_type.clone(),
            source: Box::new(e),
        })?;
        Ok(NewEvent::new(event_type, payload))
    }

    /// Sets the schema version.
    pub fn with_schema_version(mut self, version: u32) -> Self {
        self.schema_version = version;
        self
    }

    /// Sets the metadata.
    pub fn with_metadata(mut self, metadata: EventMetadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// Sets the payload's content type.
    pub fn with_content_type(mut self, content_type: impl Into<ContentType>) -> Self {
        self.content_type = content_type.into();
        self
    }
}

/// An event as stored: with its stream, version, position and timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// Unique id.
    pub event_id: Uuid,
    /// The stream it belongs to.
    pub stream_id: String,
    /// 1-based, gap-free version within the stream.
    pub version: u64,
    /// Place in the global log.
    pub position: Position,
    /// Stable type name.
    pub event_type: String,
    /// Schema version of the payload.
    pub schema_version: u32,
    /// Serialized payload.
    pub payload: Vec<u8>,
    /// The payload's format, as appended ([`ContentType::JSON`] for rows
    /// stored before content types were recorded).
    pub content_type: ContentType,
    /// Correlation, causation, user, tenant and custom entries.
    pub metadata: EventMetadata,
    /// When the store accepted it.
    pub timestamp: DateTime<Utc>,
}

impl RecordedEvent {
    /// The stored form of `event`: appended to `stream_id` at `version`,
    /// placed at `position`, accepted at `timestamp`.
    pub fn recorded(
        event: NewEvent,
        stream_id: impl Into<String>,
        version: u64,
        position: Position,
        timestamp: DateTime<Utc>,
    ) -> RecordedEvent {
        RecordedEvent {
            event_id: event.event_id,
            stream_id: stream_id.into(),
            version,
            position,
            event_type: event.event_type,
            schema_version: event.schema_version,
            payload: event.payload,
            content_type: event.content_type,
            metadata: event.metadata,
            timestamp,
        }
    }

    /// The category of the event's stream (see [`category_of`]).
    pub fn category(&self) -> &str {
        category_of(&self.stream_id)
    }
}

/// The category of a stream id: the part before the first `-`, or the whole
/// id when it has none. `order-42` is in category `order`.
pub fn category_of(stream_id: &str) -> &str {
    stream_id.split_once('-').map_or(stream_id, |(c, _)| c)
}

/// The stream id of an aggregate: `category-id`.
pub fn stream_id_for(category: &str, id: &str) -> String {
    let mut s = String::with_capacity(category.len() + 1 + id.len());
    s.push_str(category);
    s.push('-');
    s.push_str(id);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_version_table() {
        use ExpectedVersion::*;
        let cases = [
            (Any, 0, true),
            (Any, 7, true),
            (NoStream, 0, true),
            (NoStream, 1, false),
            (StreamExists, 0, false),
            (StreamExists, 3, true),
            (Exact(0), 0, true),
            (Exact(2), 2, true),
            (Exact(2), 3, false),
            (Exact(2), 1, false),
        ];
        for (expected, actual, ok) in cases {
            assert_eq!(expected.accepts(actual), ok, "{expected:?} vs {actual}");
        }
    }

    #[test]
    fn categories() {
        assert_eq!(category_of("order-42"), "order");
        assert_eq!(category_of("order-42-x"), "order");
        assert_eq!(category_of("plain"), "plain");
        assert_eq!(stream_id_for("order", "42"), "order-42");
    }

    #[test]
    fn positions_order_by_commit_then_event() {
        let a = Position {
            commit: 1,
            event: 9,
        };
        let b = Position {
            commit: 2,
            event: 3,
        };
        assert!(a < b);
        assert!(Position::START < Position::sequential(1));
    }
}
