//! The publishers mink ships, each behind a cargo feature, and the helpers a
//! publisher of your own can reuse.
//!
//! | publisher | feature | destination | delivered when |
//! | --- | --- | --- | --- |
//! | `webhook::WebhookPublisher` | `webhook` | a URL (`https://…`) | the server answers 2xx |
//! | `nats::NatsPublisher` | `nats` | a JetStream subject | the stream's PubAck arrives |
//! | `rabbitmq::RabbitMqPublisher` | `rabbitmq` | `exchange/routing-key` | the broker confirms and did not return it |
//!
//! Every one of them sends the messages of one key one after another, and
//! stops sending a key's messages at its first failure in a batch: the
//! later ones come back as [`PublishError::Retry`] with a [`HeldBack`]
//! error, unsent, so a retried message can never arrive after its
//! successor. Messages of different keys go out concurrently, up to a
//! bound. [`publish_in_key_order`] does exactly that for a custom
//! publisher.
//!
//! Every message carries the same metadata, as HTTP headers, NATS headers
//! or AMQP headers (see [`message_headers`]): the deterministic id
//! (`Idempotency-Key`, `Nats-Msg-Id`, AMQP `message_id`) so a receiver
//! deduplicates a message sent again after a crash, and
//! `Mink-Event-Id`, `Mink-Event-Type`, `Mink-Stream-Id`, `Mink-Position`,
//! `Mink-Route`, `Mink-Key`, then the route's own headers.
//!
//! # A custom publisher
//!
//! Implement [`Publisher`] and give each message its own result. Here a
//! publisher appends each message to an in-memory log, keeping per-key
//! order with [`publish_in_key_order`]:
//!
//! ```
//! use std::sync::Mutex;
//!
//! use mink_runtime::outbox::publishers::publish_in_key_order;
//! use mink_runtime::outbox::{OutboxMessage, PublishError, Publisher};
//!
//! #[derive(Default)]
//! struct LogPublisher {
//!     log: Mutex<Vec<(String, uuid::Uuid)>>,
//! }
//!
//! #[async_trait::async_trait]
//! impl Publisher for LogPublisher {
//!     fn name(&self) -> &str {
//!         "log"
//!     }
//!
//!     async fn publish(&self, messages: &[OutboxMessage]) -> Vec<Result<(), PublishError>> {
//!         publish_in_key_order(messages, 8, |message| async move {
//!             if message.payload.is_empty() {
//!                 // Sending it again cannot help: to the dead letters.
//!                 return Err(PublishError::permanent("empty payload"));
//!             }
//!             let mut log = self.log.lock().map_err(|_| PublishError::retry("log poisoned"))?;
//!             log.push((message.destination.clone(), message.id));
//!             Ok(())
//!         })
//!         .await
//!     }
//! }
//! # let _ = LogPublisher::default();
//! ```

use std::collections::HashMap;
use std::future::Future;

use futures::StreamExt;
use uuid::Uuid;

#[cfg(doc)]
use super::publisher::Publisher;
use super::publisher::{OutboxMessage, PublishError};

#[cfg(feature = "nats")]
pub mod nats;
#[cfg(feature = "rabbitmq")]
pub mod rabbitmq;
#[cfg(feature = "webhook")]
pub mod webhook;

/// Why a message was not sent: an earlier message of its key failed in the
/// same batch, and sending this one would let it overtake that one.
///
/// It comes back as [`PublishError::Retry`]; it was not sent at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not sent: message {earlier} of key `{key}` failed earlier in this batch")]
pub struct HeldBack {
    /// The messages' key.
    pub key: String,
    /// The id of the earlier message that failed.
    pub earlier: Uuid,
}

/// Sends `messages` with `send`, one key's messages one after another and
/// up to `max_keys_in_flight` keys at once, and returns one result per
/// message in the order given.
///
/// After a key's first failure, its later messages are not sent: each comes
/// back as [`PublishError::Retry`] holding a [`HeldBack`]. Keys are started
/// in the order of their first message. All sending happens in the calling
/// task (no spawning), so `send` may borrow.
pub async fn publish_in_key_order<'a, F, Fut>(
    messages: &'a [OutboxMessage],
    max_keys_in_flight: usize,
    send: F,
) -> Vec<Result<(), PublishError>>
where
    F: Fn(&'a OutboxMessage) -> Fut,
    Fut: Future<Output = Result<(), PublishError>>,
{
    let send = &send;
    let mut done: Vec<(usize, Result<(), PublishError>)> = futures::stream::iter(by_key(messages))
        .map(|indices| async move {
            let mut results = Vec::with_capacity(indices.len());
            let mut failed: Option<Uuid> = None;
            for index in indices {
                let message = &messages[index];
                let result = match failed {
                    Some(earlier) => Err(PublishError::retry(HeldBack {
                        key: message.key.clone(),
                        earlier,
                    })),
                    None => send(message).await,
                };
                if result.is_err() && failed.is_none() {
                    failed = Some(message.id);
                }
                results.push((index, result));
            }
            results
        })
        .buffer_unordered(max_keys_in_flight.max(1))
        .flat_map(futures::stream::iter)
        .collect()
        .await;
    done.sort_unstable_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, result)| result).collect()
}

/// The messages' indices grouped by key, each group in the given order, the
/// groups in the order of their first message.
fn by_key(messages: &[OutboxMessage]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut slot: HashMap<&str, usize> = HashMap::new();
    for (index, message) in messages.iter().enumerate() {
        let at = *slot.entry(message.key.as_str()).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[at].push(index);
    }
    groups
}

/// The metadata headers every mink publisher sends with a message, in this
/// order: `Mink-Message-Id`, `Mink-Event-Id`, `Mink-Event-Type`,
/// `Mink-Stream-Id`, `Mink-Position` (`commit/event`), `Mink-Route`,
/// `Mink-Key`, `Mink-Attempt` (1 on the first attempt), then the route's own
/// headers (a route header with one of these names comes after, so a
/// receiver reading the last value sees the route's).
///
/// The id also goes in each transport's own deduplication field
/// (`Idempotency-Key`, `Nats-Msg-Id`, AMQP `message_id`).
pub fn message_headers(message: &OutboxMessage) -> Vec<(String, String)> {
    let mut headers = vec![
        ("Mink-Message-Id".to_owned(), message.id.to_string()),
        ("Mink-Event-Id".to_owned(), message.event_id.to_string()),
        ("Mink-Event-Type".to_owned(), message.event_type.clone()),
        ("Mink-Stream-Id".to_owned(), message.stream_id.clone()),
        ("Mink-Position".to_owned(), message.position.to_string()),
        ("Mink-Route".to_owned(), message.route.clone()),
        ("Mink-Key".to_owned(), message.key.clone()),
        (
            "Mink-Attempt".to_owned(),
            message.attempts.saturating_add(1).to_string(),
        ),
    ];
    headers.extend(
        message
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), value.clone())),
    );
    headers
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::*;
    use crate::event::Position;

    fn message(key: &str, n: u8) -> OutboxMessage {
        OutboxMessage {
            id: Uuid::from_bytes([n; 16]),
            route: "r".into(),
            destination: "d".into(),
            key: key.into(),
            event_id: Uuid::from_bytes([n; 16]),
            event_type: "Happened".into(),
            stream_id: key.into(),
            position: Position::default(),
            payload: vec![n],
            content_type: "application/octet-stream".into(),
            headers: BTreeMap::new(),
            attempts: 0,
            created_at: chrono::Utc::now(),
        }
    }

    #[tokio::test]
    async fn a_failure_holds_back_the_rest_of_its_key_only() {
        let messages = vec![
            message("a", 1),
            message("b", 2),
            message("a", 3),
            message("b", 4),
            message("a", 5),
        ];
        let sent = Mutex::new(Vec::new());
        let results = publish_in_key_order(&messages, 4, |m| {
            let sent = &sent;
            async move {
                sent.lock().unwrap().push(m.payload[0]);
                if m.payload[0] == 3 {
                    Err(PublishError::retry("boom"))
                } else {
                    Ok(())
                }
            }
        })
        .await;
        let outcome: Vec<_> = results
            .iter()
            .map(|r| match r {
                Ok(()) => "ok",
                Err(PublishError::Retry(e)) if e.is::<HeldBack>() => "held",
                Err(_) => "failed",
            })
            .collect();
        assert_eq!(outcome, ["ok", "ok", "failed", "ok", "held"]);
        let mut sent = sent.into_inner().unwrap();
        sent.sort_unstable();
        assert_eq!(sent, [1, 2, 3, 4], "message 5 was never sent");
    }

    #[test]
    fn groups_keep_first_appearance_and_message_order() {
        let messages = vec![message("b", 1), message("a", 2), message("b", 3)];
        assert_eq!(by_key(&messages), vec![vec![0, 2], vec![1]]);
    }
}
