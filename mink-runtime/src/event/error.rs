//! Typed errors of the runtime.

use std::time::Duration;

use super::{ExpectedVersion, Position};

/// A boxed error from a backend or a user type, kept as the source of an [`Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong while storing, reading or rebuilding events.
///
/// Every variant names what failed and with which ids, so callers can match on
/// it instead of parsing messages.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The stream was not at the version the caller expected. Nothing from the
    /// append call that raised it was written.
    #[error(
        "concurrency conflict on stream `{stream}`: expected {expected}, actual version {actual}"
    )]
    ConcurrencyConflict {
        /// The stream whose version did not match.
        stream: String,
        /// What the caller expected.
        expected: ExpectedVersion,
        /// The stream's version when the append was refused (0: no stream).
        actual: u64,
    },

    /// A stream that must exist has no events.
    #[error("stream `{stream}` not found")]
    StreamNotFound {
        /// The missing stream.
        stream: String,
    },

    /// A stored event has a type name no registered Rust type knows.
    #[error(
        "unknown event type `{event_type}` (stream `{stream}`, version {version}); register it with #[event]"
    )]
    UnknownEventType {
        /// The stored type name.
        event_type: String,
        /// The stream holding the event.
        stream: String,
        /// The event's version in its stream.
        version: u64,
    },

    /// An event could not be turned into bytes.
    #[error("could not serialize event `{event_type}`: {source}")]
    Serialization {
        /// The event's type name.
        event_type: String,
        /// What the serializer said.
        #[source]
        source: BoxError,
    },

    /// A stored event could not be turned back into its Rust type.
    #[error(
        "could not deserialize event `{event_type}` (stream `{stream}`, version {version}, id {event_id}): {source}"
    )]
    Deserialization {
        /// The stored type name.
        event_type: String,
        /// The stream holding the event.
        stream: String,
        /// The event's version in its stream.
        version: u64,
        /// The event's id.
        event_id: uuid::Uuid,
        /// What the serializer said.
        #[source]
        source: BoxError,
    },

    /// A stored event is in a format this application has no serializer
    /// for: its content type is neither the application serializer's nor a
    /// built-in format enabled here (docs/adr/019-payload-formats.md).
    #[error(
        "event `{event_type}` (stream `{stream}`, version {version}) is stored as `{content_type}`, a format this application does not read; enable its cargo feature or configure its serializer"
    )]
    UnsupportedContentType {
        /// The stored content type.
        content_type: String,
        /// The stored type name.
        event_type: String,
        /// The stream holding the event.
        stream: String,
        /// The event's version in its stream.
        version: u64,
    },

    /// The caller passed something the store refuses (empty stream id, event
    /// too large, …). Nothing was written.
    #[error("invalid input: {field}: {reason}")]
    InvalidInput {
        /// Which argument or field was refused.
        field: &'static str,
        /// Why, in words a user can act on.
        reason: String,
    },

    /// An event id of the append is already stored, or appears twice in
    /// the call. Nothing was written.
    #[error("event id {event_id} is already stored or appears twice in one append")]
    DuplicateEventId {
        /// The repeated id.
        event_id: uuid::Uuid,
    },

    /// Two Rust types registered the same event type name.
    #[error(
        "event type name `{event_type}` is registered by both `{first}` ({first_declared_at}) and `{second}` ({second_declared_at}); give one of them #[event(name = \"…\")]"
    )]
    DuplicateEventType {
        /// The clashing name.
        event_type: String,
        /// The first Rust type using it.
        first: &'static str,
        /// Where the first type is declared (`file:line`).
        first_declared_at: &'static str,
        /// The second Rust type using it.
        second: &'static str,
        /// Where the second type is declared (`file:line`).
        second_declared_at: &'static str,
    },

    /// Work run inside the append transaction failed: the transaction was
    /// rolled back, so neither the events nor the work's writes are stored.
    #[error("the unit of work inside the append transaction failed: {0}")]
    UnitOfWork(#[source] BoxError),

    /// [`crate::EventStore::wait_until_visible`] gave up: the position was
    /// not yet readable in the global log.
    #[error("position {position} was not visible in the global log after {waited:?}")]
    NotVisible {
        /// The position waited for.
        position: Position,
        /// How long the caller waited.
        waited: Duration,
    },

    /// The builder was used without a required part.
    #[error("configuration error: {0}")]
    Configuration(String),

    /// A stored row could not be turned into a [`crate::RecordedEvent`]
    /// (a column written by hand with an unexpected shape or value). Reads
    /// of the global log return the rows before it, then this error, so a
    /// reader can report it and skip it by reading after `position`.
    #[error(
        "the stored event at position {position} (stream `{stream}`, version {version}) cannot be read: {reason}"
    )]
    Undecodable {
        /// The stream holding the row (as stored).
        stream: String,
        /// The row's version in its stream (as stored; 0 when unreadable).
        version: u64,
        /// The row's place in the global log.
        position: Position,
        /// What is wrong with it.
        reason: String,
    },

    /// No connection to the store could be had within the configured wait
    /// (the server is down, restarting or saturated). Nothing was written
    /// by this call, or, for an append whose commit was under way, it may
    /// have been: retry with the same event ids, which the store refuses as
    /// [`Error::DuplicateEventId`] if they landed.
    #[error("the store is unavailable: {0}")]
    Unavailable(#[source] BoxError),

    /// A projection worker no longer holds its lease: another instance took
    /// the projection over (its generation moved on) or the checkpoint moved
    /// under it. The batch was rolled back; nothing of it is stored.
    #[error(
        "projection `{projection}` is no longer owned by this worker (lease generation {generation}); its batch was rolled back"
    )]
    LeaseLost {
        /// The projection.
        projection: String,
        /// The generation this worker held.
        generation: u64,
    },

    /// A projection did not reach the head of the log in time.
    #[error("projection `{projection}` reached {checkpoint}, not {target}, within {waited:?}")]
    ProjectionLagging {
        /// The projection.
        projection: String,
        /// Where it got to.
        checkpoint: Position,
        /// The head it was waited for.
        target: Position,
        /// How long the caller waited.
        waited: Duration,
    },

    /// A named projection is not known to the store or the engine.
    #[error("no projection named `{0}` is registered")]
    UnknownProjection(String),

    /// The storage backend failed (I/O, connection, SQL error).
    #[error("backend error: {0}")]
    Backend(#[source] BoxError),
}

impl Error {
    /// Wraps any backend error.
    pub fn backend(err: impl Into<BoxError>) -> Self {
        Error::Backend(err.into())
    }

    /// Builds an [`Error::InvalidInput`].
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field,
            reason: reason.into(),
        }
    }

    /// Builds an [`Error::ConcurrencyConflict`]: `stream` was at `actual`
    /// when the caller expected `expected`.
    pub fn conflict(stream: impl Into<String>, expected: ExpectedVersion, actual: u64) -> Self {
        Error::ConcurrencyConflict {
            stream: stream.into(),
            expected,
            actual,
        }
    }

    /// True for errors that may pass by themselves: the store was
    /// unavailable, or a position was not yet visible. Retrying later is
    /// the right answer to them.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Unavailable(_) | Error::NotVisible { .. })
    }

    /// True for [`Error::ConcurrencyConflict`].
    pub fn is_concurrency_conflict(&self) -> bool {
        matches!(self, Error::ConcurrencyConflict { .. })
    }
}

/// Shorthand for results of the runtime.
pub type Result<T, E = Error> = std::result::Result<T, E>;
