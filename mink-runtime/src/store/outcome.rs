//! What a store answers: the outcome of an append, and what it knows about
//! a stream.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::event::Position;

/// One event as an append wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrittenEvent {
    /// The event's id.
    pub event_id: Uuid,
    /// Its version in its stream.
    pub version: u64,
    /// Its place in the global log.
    pub position: Position,
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
    /// The events written to this stream, in order.
    pub events: Vec<WrittenEvent>,
}

impl AppendedStream {
    /// The outcome for a stream that was at `current` and received
    /// `events`, in order (their versions follow `current`).
    pub fn after(stream_id: impl Into<String>, current: u64, events: Vec<WrittenEvent>) -> Self {
        let written = events.len() as u64;
        AppendedStream {
            stream_id: stream_id.into(),
            first_version: if written > 0 { current + 1 } else { current },
            last_version: current + written,
            events,
        }
    }
}

/// The outcome of an append call: one entry per stream, in request order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppendResult {
    /// Per-stream outcome.
    pub streams: Vec<AppendedStream>,
}

impl AppendResult {
    /// The outcome of `stream_id`, if the call appended to it.
    pub fn stream(&self, stream_id: &str) -> Option<&AppendedStream> {
        self.streams.iter().find(|s| s.stream_id == stream_id)
    }

    /// The version of `stream_id` after the append, if the call appended to
    /// it.
    pub fn last_version_of(&self, stream_id: &str) -> Option<u64> {
        self.stream(stream_id).map(|s| s.last_version)
    }

    /// Every event written, stream by stream, in request order.
    pub fn events(&self) -> impl Iterator<Item = &WrittenEvent> {
        self.streams.iter().flat_map(|s| s.events.iter())
    }

    /// The highest position written, or `None` when nothing was written.
    /// Wait for it with [`crate::EventStore::wait_until_visible`] to read
    /// your own write in the global log.
    pub fn last_position(&self) -> Option<Position> {
        self.events().map(|e| e.position).max()
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
