//! The NATS JetStream publisher: each message is published to the subject
//! in its destination and counts as delivered on the stream's PubAck
//! (feature `nats`).
//!
//! - **Deduplication.** The message's deterministic id goes in
//!   `Nats-Msg-Id`: a message published again after a crash, within the
//!   stream's duplicate window (`duplicate_window`, two minutes by
//!   default), is acknowledged as a duplicate and stored once. Give the
//!   stream a window longer than the relay's longest retry delay if
//!   consumers must never see a message twice.
//! - **Order.** The messages of one key go one after another: the next is
//!   published once the previous one's PubAck came back. Keys are
//!   interleaved on the one connection (up to
//!   [`max_keys_in_flight`](NatsPublisher::max_keys_in_flight) at once), so
//!   a batch costs about as many round trips as its longest key has
//!   messages. Waiting for each ack, rather than pipelining a key's
//!   messages, is what keeps the order when a connection drops: a
//!   message lost in a dead socket cannot be overtaken by its successor
//!   sent on the new connection, since the successor was never sent.
//! - **Results.**
//!
//!   | outcome | result |
//!   | --- | --- |
//!   | PubAck (also a duplicate's) | delivered |
//!   | no stream listens on the subject (no responders) | [`PublishError::Retry`] with [`NatsError::NoStream`] |
//!   | no PubAck within the ack timeout, lost connection, a stream error (full, …) | [`PublishError::Retry`] |
//!   | larger than the server's `max_payload`, a destination that is not a plain subject, an invalid header | [`PublishError::Permanent`] |
//!
//!   A missing stream is retried rather than dead-lettered: during a
//!   JetStream restart or leader election the server answers "no
//!   responders" for a while, and a stream created after the route is
//!   deployed then receives the waiting messages without a requeue. The
//!   relay's attempt limit still ends in the dead letters when the stream
//!   never comes.
//!
//! Headers: `Nats-Msg-Id`, `Content-Type`, the `Mink-*` headers of
//! [`message_headers`] and the route's headers.
//!
//! # Examples
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use mink_runtime::outbox::publishers::nats::NatsPublisher;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = async_nats::connect("nats://127.0.0.1:4222").await?;
//! let publisher = NatsPublisher::new(client)
//!     .ack_timeout(Duration::from_secs(5))
//!     .max_keys_in_flight(256);
//! # let _ = publisher;
//! # Ok(())
//! # }
//! ```

use std::str::FromStr;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::header::{HeaderName, HeaderValue, NATS_MESSAGE_ID};
use async_nats::jetstream::context::{Context, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_trait::async_trait;

use super::{message_headers, publish_in_key_order};
use crate::outbox::publisher::{OutboxMessage, PublishError, Publisher};

/// The NATS client this publisher is built on, to connect and to manage
/// streams without a dependency of your own.
pub use async_nats;

/// Why a JetStream delivery failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatsError {
    /// No stream captures the subject: the server answered "no responders".
    #[error("no JetStream stream captures subject `{subject}`")]
    NoStream {
        /// The message's destination.
        subject: String,
    },
    /// Publishing failed or its PubAck did not come (timeout, lost
    /// connection, a stream limit, a payload over `max_payload`).
    #[error("publishing to `{subject}` failed")]
    Publish {
        /// The message's destination.
        subject: String,
        /// What the client reported.
        #[source]
        source: async_nats::jetstream::context::PublishError,
    },
    /// The destination is not a subject one can publish to (empty, with
    /// spaces, a wildcard).
    #[error("destination {subject:?} is not a NATS subject to publish to")]
    InvalidSubject {
        /// The message's destination.
        subject: String,
    },
    /// A header name or value that NATS cannot carry.
    #[error("header {name:?} cannot be sent over NATS")]
    InvalidHeader {
        /// The header's name.
        name: String,
    },
    /// Connecting to the server failed.
    #[error("connecting to NATS failed")]
    Connect(#[source] async_nats::ConnectError),
}

/// Publishes outbox messages to NATS JetStream. See the
/// [module docs](self).
#[derive(Debug, Clone)]
pub struct NatsPublisher {
    client: async_nats::Client,
    jetstream: Context,
    ack_timeout: Duration,
    max_keys_in_flight: usize,
}

impl NatsPublisher {
    /// A publisher on `client`'s connection, with a 5 s ack timeout and 256
    /// keys in flight.
    pub fn new(client: async_nats::Client) -> Self {
        let ack_timeout = Duration::from_secs(5);
        NatsPublisher {
            jetstream: jetstream_with_timeout(&client, ack_timeout),
            client,
            ack_timeout,
            max_keys_in_flight: 256,
        }
    }

    /// Connects to `url` (such as `nats://127.0.0.1:4222`) with the
    /// client's defaults, which reconnect for ever.
    pub async fn connect(url: &str) -> Result<Self, NatsError> {
        let client = async_nats::connect(url).await.map_err(NatsError::Connect)?;
        Ok(Self::new(client))
    }

    /// How long to wait for a message's PubAck before retrying it later.
    #[must_use]
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.ack_timeout = timeout;
        self.jetstream = jetstream_with_timeout(&self.client, timeout);
        self
    }

    /// How many keys are published concurrently (default 256); the
    /// messages of one key always go one after another.
    #[must_use]
    pub fn max_keys_in_flight(mut self, keys: usize) -> Self {
        self.max_keys_in_flight = keys.max(1);
        self
    }

    /// The JetStream context it publishes with.
    pub fn jetstream(&self) -> &Context {
        &self.jetstream
    }

    async fn send(&self, message: &OutboxMessage) -> Result<(), PublishError> {
        let subject = &message.destination;
        if async_nats::Subject::validated(subject).is_err() || subject.contains(['*', '>']) {
            return Err(PublishError::permanent(NatsError::InvalidSubject {
                subject: subject.clone(),
            }));
        }
        let headers = headers_for(message).map_err(PublishError::permanent)?;
        let publish = PublishMessage::build()
            .payload(bytes::Bytes::copy_from_slice(&message.payload))
            .headers(headers);
        let failed = |source: async_nats::jetstream::context::PublishError| {
            let permanent = matches!(source.kind(), PublishErrorKind::MaxPayloadExceeded);
            let error = match source.kind() {
                PublishErrorKind::StreamNotFound => NatsError::NoStream {
                    subject: subject.clone(),
                },
                _ => NatsError::Publish {
                    subject: subject.clone(),
                    source,
                },
            };
            if permanent {
                PublishError::permanent(error)
            } else {
                PublishError::retry(error)
            }
        };
        let ack = self
            .jetstream
            .send_publish(subject.clone(), publish)
            .await
            .map_err(failed)?;
        let ack = ack.await.map_err(failed)?;
        if ack.duplicate {
            tracing::debug!(
                message = %message.id,
                stream = %ack.stream,
                sequence = ack.sequence,
                "JetStream already held this message (deduplicated by Nats-Msg-Id)"
            );
        }
        Ok(())
    }
}

#[async_trait]
impl Publisher for NatsPublisher {
    fn name(&self) -> &str {
        "nats"
    }

    async fn publish(&self, messages: &[OutboxMessage]) -> Vec<Result<(), PublishError>> {
        publish_in_key_order(messages, self.max_keys_in_flight, |message| {
            self.send(message)
        })
        .await
    }
}

fn jetstream_with_timeout(client: &async_nats::Client, timeout: Duration) -> Context {
    let mut jetstream = async_nats::jetstream::new(client.clone());
    jetstream.set_timeout(timeout);
    jetstream
}

fn headers_for(message: &OutboxMessage) -> Result<HeaderMap, NatsError> {
    let mut headers = HeaderMap::new();
    headers.insert(NATS_MESSAGE_ID, message.id.to_string().as_str());
    let pairs = std::iter::once(("Content-Type".to_owned(), message.content_type.clone()))
        .chain(message_headers(message));
    for (name, value) in pairs {
        let invalid = || NatsError::InvalidHeader { name: name.clone() };
        let header = HeaderName::from_str(&name).map_err(|_| invalid())?;
        let value = HeaderValue::from_str(&value).map_err(|_| invalid())?;
        headers.append(header, value);
    }
    Ok(headers)
}
