//! The [`EventStore`] trait every adapter implements, and its request types.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::event::{ExpectedVersion, NewEvent, Position, RecordedEvent, category_of};

/// Events to append to one stream, with the version the caller expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamAppend {
    /// Target stream.
    pub stream_id: String,
    /// The version check to apply.
    pub expected: ExpectedVersion,
    /// Events, in order.
    pub events: Vec<NewEvent>,
}

impl StreamAppend {
    /// Groups the parts of one stream's append.
    pub fn new(
        stream_id: impl Into<String>,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Self {
        StreamAppend {
            stream_id: stream_id.into(),
            expected,
            events,
        }
    }
}

/// What one stream looks like after an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedStream {
    /// The stream.
    pub stream_id: String,
    /// Version of the first event written (or the current version when no
    /// event was given).
    pub first_version: u64,
    /// The stream's version after the append.
    pub last_version: u64,
}

/// The outcome of an append call: one entry per stream, in request order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppendResult {
    /// Per-stream outcome.
    pub streams: Vec<AppendedStream>,
}

impl AppendResult {
    /// The new version of the (first) stream.
    pub fn last_version(&self) -> u64 {
        self.streams.first().map_or(0, |s| s.last_version)
    }
}

/// Which events of the global log a read returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadFilter {
    /// Only these event type names (empty: all).
    pub event_types: Vec<String>,
    /// Only streams in these categories (empty: all).
    pub categories: Vec<String>,
    /// Only these streams (empty: all).
    pub stream_ids: Vec<String>,
}

impl ReadFilter {
    /// No filtering.
    pub fn all() -> Self {
        ReadFilter::default()
    }

    /// Adds an event type to accept.
    pub fn event_type(mut self, name: impl Into<String>) -> Self {
        self.event_types.push(name.into());
        self
    }

    /// Adds a category to accept.
    pub fn category(mut self, name: impl Into<String>) -> Self {
        self.categories.push(name.into());
        self
    }

    /// Adds a stream to accept.
    pub fn stream(mut self, id: impl Into<String>) -> Self {
        self.stream_ids.push(id.into());
        self
    }

    /// True when the filter accepts everything.
    pub fn is_empty(&self) -> bool {
        self.event_types.is_empty() && self.categories.is_empty() && self.stream_ids.is_empty()
    }

    /// Whether `event` passes the filter.
    pub fn matches(&self, event: &RecordedEvent) -> bool {
        (self.event_types.is_empty() || self.event_types.contains(&event.event_type))
            && (self.categories.is_empty()
                || self
                    .categories
                    .iter()
                    .any(|c| c == category_of(&event.stream_id)))
            && (self.stream_ids.is_empty() || self.stream_ids.contains(&event.stream_id))
    }
}

/// A page request on the global log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadAll {
    /// Return events strictly after this position ([`Position::START`]: from
    /// the beginning).
    pub after: Position,
    /// Which events to return.
    pub filter: ReadFilter,
    /// At most this many events.
    pub limit: usize,
}

impl ReadAll {
    /// Reads up to `limit` events after `after`, unfiltered.
    pub fn after(after: Position, limit: usize) -> Self {
        ReadAll {
            after,
            filter: ReadFilter::all(),
            limit,
        }
    }

    /// Sets the filter.
    pub fn filter(mut self, filter: ReadFilter) -> Self {
        self.filter = filter;
        self
    }
}

/// What a store knows about one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// The stream.
    pub stream_id: String,
    /// Its current version (= number of events).
    pub version: u64,
    /// When its first event was stored.
    pub created_at: DateTime<Utc>,
    /// When its last event was stored.
    pub updated_at: DateTime<Utc>,
}

/// Bounds a store enforces on input, so a bad request is refused before
/// anything is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest stream id, in bytes.
    pub max_stream_id_len: usize,
    /// Longest event type name, in bytes.
    pub max_event_type_len: usize,
    /// Largest payload, in bytes.
    pub max_event_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_stream_id_len: 255,
            max_event_type_len: 255,
            max_event_size: 4 * 1024 * 1024,
        }
    }
}

impl Limits {
    /// Checks a stream id.
    pub fn check_stream_id(&self, stream_id: &str) -> Result<()> {
        if stream_id.is_empty() {
            return Err(Error::invalid("stream_id", "must not be empty"));
        }
        if stream_id.len() > self.max_stream_id_len {
            return Err(Error::invalid(
                "stream_id",
                format!(
                    "is {} bytes, longer than the limit of {}",
                    stream_id.len(),
                    self.max_stream_id_len
                ),
            ));
        }
        Ok(())
    }

    /// Checks a whole append request: ids, type names, sizes, and that no
    /// stream appears twice.
    pub fn check_appends(&self, appends: &[StreamAppend]) -> Result<()> {
        if appends.is_empty() {
            return Err(Error::invalid("appends", "at least one stream is required"));
        }
        for (i, a) in appends.iter().enumerate() {
            self.check_stream_id(&a.stream_id)?;
            if appends[..i].iter().any(|b| b.stream_id == a.stream_id) {
                return Err(Error::invalid(
                    "stream_id",
                    format!("stream `{}` appears twice in one append", a.stream_id),
                ));
            }
            for e in &a.events {
                if e.event_type.is_empty() {
                    return Err(Error::invalid("event_type", "must not be empty"));
                }
                if e.event_type.len() > self.max_event_type_len {
                    return Err(Error::invalid(
                        "event_type",
                        format!(
                            "`{}…` is {} bytes, longer than the limit of {}",
                            e.event_type.chars().take(32).collect::<String>(),
                            e.event_type.len(),
                            self.max_event_type_len
                        ),
                    ));
                }
                if e.payload.len() > self.max_event_size {
                    return Err(Error::invalid(
                        "payload",
                        format!(
                            "event {} of type `{}` is {} bytes, larger than the limit of {}",
                            e.event_id,
                            e.event_type,
                            e.payload.len(),
                            self.max_event_size
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Stores events in streams and in one global log.
///
/// Every method is safe to call from many tasks at once. Appends are atomic
/// per call: either every event of every stream in the call is written, or
/// none is.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Appends to one or more streams atomically, each with its own expected
    /// version. A mismatch on any stream fails the whole call with
    /// [`Error::ConcurrencyConflict`] and writes nothing.
    async fn append_to_streams(&self, appends: Vec<StreamAppend>) -> Result<AppendResult>;

    /// Appends events to one stream atomically.
    async fn append_to_stream(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult> {
        self.append_to_streams(vec![StreamAppend::new(stream_id, expected, events)])
            .await
    }

    /// Reads up to `limit` events of one stream, starting at version
    /// `from_version` (1 is the first). A missing stream reads as empty.
    async fn read_stream_forward(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>>;

    /// Reads a page of the global log, in log order.
    async fn read_all_forward(&self, request: ReadAll) -> Result<Vec<RecordedEvent>>;

    /// Describes a stream, or `None` when it has no events.
    async fn stream_info(&self, stream_id: &str) -> Result<Option<StreamInfo>>;

    /// The position of the last event a reader of the log can see, or
    /// [`Position::START`] when the log is empty.
    async fn head_position(&self) -> Result<Position>;
}

#[async_trait]
impl<S: EventStore + ?Sized> EventStore for std::sync::Arc<S> {
    async fn append_to_streams(&self, appends: Vec<StreamAppend>) -> Result<AppendResult> {
        (**self).append_to_streams(appends).await
    }
    async fn append_to_stream(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult> {
        (**self).append_to_stream(stream_id, expected, events).await
    }
    async fn read_stream_forward(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        (**self)
            .read_stream_forward(stream_id, from_version, limit)
            .await
    }
    async fn read_all_forward(&self, request: ReadAll) -> Result<Vec<RecordedEvent>> {
        (**self).read_all_forward(request).await
    }
    async fn stream_info(&self, stream_id: &str) -> Result<Option<StreamInfo>> {
        (**self).stream_info(stream_id).await
    }
    async fn head_position(&self) -> Result<Position> {
        (**self).head_position().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_refuse_bad_input() {
        let limits = Limits {
            max_stream_id_len: 8,
            max_event_type_len: 4,
            max_event_size: 10,
        };
        let ok = NewEvent::new("Tick", b"{}".to_vec());
        let cases: Vec<(Vec<StreamAppend>, Option<&str>)> = vec![
            (vec![], Some("appends")),
            (
                vec![StreamAppend::new(
                    "",
                    ExpectedVersion::Any,
                    vec![ok.clone()],
                )],
                Some("stream_id"),
            ),
            (
                vec![StreamAppend::new("123456789", ExpectedVersion::Any, vec![])],
                Some("stream_id"),
            ),
            (
                vec![StreamAppend::new(
                    "s",
                    ExpectedVersion::Any,
                    vec![NewEvent::new("", b"{}".to_vec())],
                )],
                Some("event_type"),
            ),
            (
                vec![StreamAppend::new(
                    "s",
                    ExpectedVersion::Any,
                    vec![NewEvent::new("Toolong", b"{}".to_vec())],
                )],
                Some("event_type"),
            ),
            (
                vec![StreamAppend::new(
                    "s",
                    ExpectedVersion::Any,
                    vec![NewEvent::new("Tick", vec![b' '; 11])],
                )],
                Some("payload"),
            ),
            (
                vec![
                    StreamAppend::new("s", ExpectedVersion::Any, vec![ok.clone()]),
                    StreamAppend::new("s", ExpectedVersion::Any, vec![ok.clone()]),
                ],
                Some("stream_id"),
            ),
            (
                vec![StreamAppend::new(
                    "s",
                    ExpectedVersion::Any,
                    vec![ok.clone()],
                )],
                None,
            ),
        ];
        for (appends, refused) in cases {
            match (limits.check_appends(&appends), refused) {
                (Ok(()), None) => {}
                (Err(Error::InvalidInput { field, .. }), Some(f)) => assert_eq!(field, f),
                (other, want) => panic!("{appends:?}: got {other:?}, wanted refusal of {want:?}"),
            }
        }
    }

    #[test]
    fn filter_matches() {
        let e = RecordedEvent {
            event_id: uuid::Uuid::now_v7(),
            stream_id: "order-1".into(),
            version: 1,
            position: Position::sequential(1),
            event_type: "Created".into(),
            schema_version: 1,
            payload: vec![],
            metadata: Default::default(),
            timestamp: Utc::now(),
        };
        assert!(ReadFilter::all().matches(&e));
        assert!(ReadFilter::all().category("order").matches(&e));
        assert!(!ReadFilter::all().category("customer").matches(&e));
        assert!(ReadFilter::all().event_type("Created").matches(&e));
        assert!(!ReadFilter::all().event_type("Shipped").matches(&e));
        assert!(ReadFilter::all().stream("order-1").matches(&e));
        assert!(
            !ReadFilter::all()
                .stream("order-2")
                .category("order")
                .matches(&e)
        );
    }
}
