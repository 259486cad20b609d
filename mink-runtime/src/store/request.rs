//! What callers ask of a store: appends per stream, and pages of the global
//! log with their filters.

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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

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
            content_type: Default::default(),
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
