//! The outbox's own errors.

use uuid::Uuid;

use crate::error::BoxError;

/// Why the outbox failed an append. It reaches the caller as the source of
/// [`crate::Error::UnitOfWork`]; nothing of the append is stored.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// A route's transform failed (or panicked) on an event.
    #[error(
        "outbox route `{route}` could not build a message for `{event_type}` (event {event_id}, stream `{stream}`, version {version}): {source}"
    )]
    TransformFailed {
        /// The route.
        route: String,
        /// The event's type name.
        event_type: String,
        /// The event's id.
        event_id: Uuid,
        /// The event's stream.
        stream: String,
        /// The event's version in its stream.
        version: u64,
        /// The transform's error.
        #[source]
        source: BoxError,
    },
    /// The append ran in a transaction of another database than the
    /// outbox's, so its messages could not commit with its events.
    #[error(
        "the outbox cannot write in a `{backend}` transaction of another store; give the application the store the outbox lives in"
    )]
    ForeignTransaction {
        /// The transaction's adapter.
        backend: &'static str,
    },
}
