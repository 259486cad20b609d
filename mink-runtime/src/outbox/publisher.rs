//! Where outbox messages go: the [`Publisher`] trait and the message it
//! publishes.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::BoxError;
use crate::event::Position;

/// One message of the outbox, as a publisher sends it.
///
/// Its [`id`](Self::id) is deterministic (derived from the event's id and
/// the route's name), so a message sent twice after a crash carries the
/// same id both times: publishers pass it on for the receiver to
/// deduplicate (`Idempotency-Key`, `Nats-Msg-Id`, AMQP `message_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// The message's id, the same on every attempt.
    pub id: Uuid,
    /// The route that wrote it.
    pub route: String,
    /// Where it goes: a URL, a subject, an exchange and routing key; the
    /// publisher of the route reads it.
    pub destination: String,
    /// Messages with the same key are delivered in the order they were
    /// written (the event's stream, unless the route says otherwise).
    pub key: String,
    /// The event it was written for.
    pub event_id: Uuid,
    /// The event's stable type name.
    pub event_type: String,
    /// The event's stream.
    pub stream_id: String,
    /// The event's position in the log.
    pub position: Position,
    /// The body.
    pub payload: Vec<u8>,
    /// The body's media type, such as `application/json`.
    pub content_type: String,
    /// Extra headers the route added.
    pub headers: BTreeMap<String, String>,
    /// Attempts made before this one.
    pub attempts: u32,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

/// Why one message was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Worth trying again later (a timeout, a 5xx, a lost connection): the
    /// message waits with backoff.
    #[error("delivery failed, will retry: {0}")]
    Retry(#[source] BoxError),
    /// Trying again cannot help (a 4xx, an unroutable message): the message
    /// goes to the dead letters at once.
    #[error("delivery refused: {0}")]
    Permanent(#[source] BoxError),
}

impl PublishError {
    /// A failure worth retrying.
    pub fn retry(error: impl Into<BoxError>) -> Self {
        PublishError::Retry(error.into())
    }

    /// A failure retrying cannot fix.
    pub fn permanent(error: impl Into<BoxError>) -> Self {
        PublishError::Permanent(error.into())
    }
}

/// Sends outbox messages to one kind of destination.
///
/// A message counts as delivered only when its own result is `Ok`, which
/// must mean the destination acknowledged it (a 2xx, a JetStream PubAck, an
/// AMQP confirm). A batch is never all-or-nothing: the relay records each
/// message's result on its own.
#[async_trait]
pub trait Publisher: Send + Sync + 'static {
    /// The publisher's name, for routes, logs and metrics (`webhook`,
    /// `nats`, `rabbitmq`, or your own).
    fn name(&self) -> &str;

    /// Sends `messages` and returns one result per message, in the same
    /// order. Implementations may send them concurrently, but messages
    /// with the same key must reach the destination in the given order.
    async fn publish(&self, messages: &[OutboxMessage]) -> Vec<Result<(), PublishError>>;
}
