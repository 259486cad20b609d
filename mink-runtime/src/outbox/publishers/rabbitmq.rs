//! The RabbitMQ publisher: each message is published with publisher
//! confirms and the `mandatory` flag, and counts as delivered when the
//! broker confirms it without returning it (feature `rabbitmq`).
//!
//! - **Destination**: `exchange/routing-key`, split at the first `/`
//!   (exchange names cannot hold one; routing keys may). `orders/order.placed`
//!   goes to exchange `orders` with routing key `order.placed`;
//!   `/invoices` goes through the default exchange straight to the queue
//!   `invoices`.
//! - **Properties**: `message_id` is the message's deterministic id (the
//!   same on every attempt, for consumers to deduplicate), `content_type`
//!   the message's, `type` the event type, `timestamp` when it was written,
//!   `delivery_mode` 2 (persistent) unless turned off, and the headers of
//!   [`message_headers`] and the route as AMQP headers.
//! - **Results.**
//!
//!   | outcome | result |
//!   | --- | --- |
//!   | confirmed (`basic.ack`), not returned | delivered |
//!   | returned as unroutable (`basic.return`: no queue bound) | [`PublishError::Permanent`] with [`RabbitMqError::Unroutable`] |
//!   | the exchange does not exist | [`PublishError::Permanent`] with [`RabbitMqError::NoExchange`] |
//!   | a malformed destination, a name over 255 bytes | [`PublishError::Permanent`] |
//!   | `basic.nack`, a closed channel or connection, no connection | [`PublishError::Retry`] |
//!
//! - **Order.** The messages of one key go one after another, each once
//!   the previous one is confirmed; keys are interleaved on one channel.
//!   A nack or a lost channel therefore never lets a key's later message
//!   overtake an earlier one.
//! - **Reconnecting.** One connection and one confirm-mode channel are
//!   kept. When either has closed (the broker restarted, the network
//!   dropped, the broker closed the channel on an error), the next batch
//!   opens new ones; a batch that cannot connect comes back as retries.
//!   Exchanges are checked once (a passive declare on a channel of their
//!   own, since the broker closes a channel that publishes to a missing
//!   exchange, which would fail its neighbours too) and the check is
//!   forgotten whenever the channel is lost.
//!
//! # Examples
//!
//! ```no_run
//! use mink_runtime::outbox::publishers::rabbitmq::RabbitMqPublisher;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let publisher = RabbitMqPublisher::connect("amqp://guest:guest@127.0.0.1:5672/%2f")
//!     .await?
//!     .max_keys_in_flight(128);
//! # let _ = publisher;
//! # Ok(())
//! # }
//! ```

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex as SyncMutex};

use async_trait::async_trait;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ErrorKind,
    ExchangeKind,
};
use tokio::sync::Mutex;

use super::{message_headers, publish_in_key_order};
use crate::outbox::publisher::{OutboxMessage, PublishError, Publisher};

/// The AMQP client this publisher is built on, to declare exchanges and
/// queues without a dependency of your own.
pub use lapin;

/// Why a RabbitMQ delivery failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RabbitMqError {
    /// The broker could not route the message to any queue and returned it
    /// (the publisher always sets `mandatory`).
    #[error(
        "exchange `{exchange}` returned the message for routing key `{routing_key}`: {reply_code} {reply_text}"
    )]
    Unroutable {
        /// The destination's exchange.
        exchange: String,
        /// The destination's routing key.
        routing_key: String,
        /// The broker's reply code (312, NO_ROUTE).
        reply_code: u16,
        /// The broker's explanation.
        reply_text: String,
    },
    /// The destination's exchange does not exist.
    #[error("exchange `{exchange}` does not exist")]
    NoExchange {
        /// The destination's exchange.
        exchange: String,
    },
    /// The broker refused the message (`basic.nack`).
    #[error("the broker refused the message (nack) on exchange `{exchange}`")]
    Nacked {
        /// The destination's exchange.
        exchange: String,
    },
    /// The destination is not `exchange/routing-key`, or a name or property
    /// is longer than AMQP allows (255 bytes).
    #[error("destination {destination:?} is not a valid `exchange/routing-key`")]
    InvalidDestination {
        /// The message's destination.
        destination: String,
    },
    /// A property or header name longer than AMQP allows (255 bytes).
    #[error("{name} is too long for an AMQP short string")]
    TooLong {
        /// What was too long.
        name: String,
    },
    /// Connecting, opening the channel or publishing failed: the
    /// connection or channel is gone.
    #[error("RabbitMQ connection failed")]
    Connection(#[source] lapin::Error),
}

/// Publishes outbox messages to RabbitMQ. See the [module docs](self).
pub struct RabbitMqPublisher {
    uri: String,
    properties: ConnectionProperties,
    link: Mutex<Option<Link>>,
    /// Exchanges a passive declare found, forgotten with the channel.
    known_exchanges: SyncMutex<HashSet<String>>,
    max_keys_in_flight: usize,
    persistent: bool,
}

impl std::fmt::Debug for RabbitMqPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RabbitMqPublisher")
            .field("max_keys_in_flight", &self.max_keys_in_flight)
            .field("persistent", &self.persistent)
            .finish_non_exhaustive()
    }
}

struct Link {
    connection: Arc<Connection>,
    channel: Channel,
}

impl Link {
    fn is_open(&self) -> bool {
        self.connection.status().connected() && self.channel.status().connected()
    }
}

impl RabbitMqPublisher {
    /// Connects to `uri` (such as `amqp://guest:guest@127.0.0.1:5672/%2f`)
    /// and opens a channel in confirm mode; 256 keys in flight, persistent
    /// messages.
    pub async fn connect(uri: &str) -> Result<Self, RabbitMqError> {
        Self::connect_with(uri, ConnectionProperties::default()).await
    }

    /// Connects with the given connection properties (a connection name,
    /// TLS settings, …).
    pub async fn connect_with(
        uri: &str,
        properties: ConnectionProperties,
    ) -> Result<Self, RabbitMqError> {
        let link = open(uri, &properties).await?;
        Ok(RabbitMqPublisher {
            uri: uri.to_owned(),
            properties,
            link: Mutex::new(Some(link)),
            known_exchanges: SyncMutex::new(HashSet::new()),
            max_keys_in_flight: 256,
            persistent: true,
        })
    }

    /// How many keys are published concurrently (default 256); the
    /// messages of one key always go one after another.
    #[must_use]
    pub fn max_keys_in_flight(mut self, keys: usize) -> Self {
        self.max_keys_in_flight = keys.max(1);
        self
    }

    /// Whether messages are published persistent (`delivery_mode` 2, the
    /// default) so a durable queue keeps them across a broker restart.
    #[must_use]
    pub fn persistent(mut self, persistent: bool) -> Self {
        self.persistent = persistent;
        self
    }

    /// The open connection and channel, reopened if either has closed.
    async fn link(&self) -> Result<(Arc<Connection>, Channel), RabbitMqError> {
        let mut link = self.link.lock().await;
        if let Some(open) = link.as_ref().filter(|l| l.is_open()) {
            return Ok((open.connection.clone(), open.channel.clone()));
        }
        self.forget_exchanges();
        let reusable = link
            .take()
            .map(|l| l.connection)
            .filter(|c| c.status().connected());
        let fresh = match reusable {
            Some(connection) => {
                let channel = confirm_channel(&connection).await?;
                Link {
                    connection,
                    channel,
                }
            }
            None => open(&self.uri, &self.properties).await?,
        };
        let handles = (fresh.connection.clone(), fresh.channel.clone());
        *link = Some(fresh);
        Ok(handles)
    }

    fn forget_exchanges(&self) {
        if let Ok(mut known) = self.known_exchanges.lock() {
            known.clear();
        }
    }

    fn is_known(&self, exchange: &str) -> bool {
        exchange.is_empty()
            || self
                .known_exchanges
                .lock()
                .is_ok_and(|known| known.contains(exchange))
    }

    /// Checks each exchange not yet known with a passive declare on a
    /// channel of its own, and returns why the missing ones failed.
    async fn check_exchanges(
        &self,
        connection: &Connection,
        messages: &[OutboxMessage],
    ) -> HashMap<String, RabbitMqError> {
        let mut failed = HashMap::new();
        let unknown: HashSet<&str> = messages
            .iter()
            .filter_map(|m| split_destination(&m.destination).ok())
            .map(|(exchange, _)| exchange)
            .filter(|exchange| !self.is_known(exchange))
            .collect();
        for exchange in unknown {
            let Ok(name) = ShortString::try_new(exchange) else {
                continue;
            };
            let checked = match connection.create_channel().await {
                Ok(channel) => {
                    let declared = channel
                        .exchange_declare(
                            name,
                            ExchangeKind::Direct,
                            ExchangeDeclareOptions {
                                passive: true,
                                ..ExchangeDeclareOptions::default()
                            },
                            FieldTable::default(),
                        )
                        .await;
                    if channel.status().connected() {
                        let _ = channel.close(200, "exchange checked".into()).await;
                    }
                    declared
                }
                Err(error) => Err(error),
            };
            match checked {
                Ok(()) => {
                    if let Ok(mut known) = self.known_exchanges.lock() {
                        known.insert(exchange.to_owned());
                    }
                }
                Err(error) if is_not_found(&error) => {
                    failed.insert(
                        exchange.to_owned(),
                        RabbitMqError::NoExchange {
                            exchange: exchange.to_owned(),
                        },
                    );
                }
                Err(error) => {
                    failed.insert(exchange.to_owned(), RabbitMqError::Connection(error));
                }
            }
        }
        failed
    }

    async fn send(&self, channel: &Channel, message: &OutboxMessage) -> Result<(), PublishError> {
        let (exchange, routing_key) =
            split_destination(&message.destination).map_err(PublishError::permanent)?;
        let properties = self
            .properties_for(message)
            .map_err(PublishError::permanent)?;
        let short = |s: &str| {
            ShortString::try_new(s).map_err(|_| {
                PublishError::permanent(RabbitMqError::InvalidDestination {
                    destination: message.destination.clone(),
                })
            })
        };
        let confirm = channel
            .basic_publish(
                short(exchange)?,
                short(routing_key)?,
                BasicPublishOptions {
                    mandatory: true,
                    immediate: false,
                },
                &message.payload,
                properties,
            )
            .await
            .map_err(|e| PublishError::retry(RabbitMqError::Connection(e)))?;
        let confirmation = confirm
            .await
            .map_err(|e| PublishError::retry(RabbitMqError::Connection(e)))?;
        match confirmation {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => {
                Err(PublishError::permanent(RabbitMqError::Unroutable {
                    exchange: exchange.to_owned(),
                    routing_key: routing_key.to_owned(),
                    reply_code: returned.reply_code,
                    reply_text: returned.reply_text.to_string(),
                }))
            }
            Confirmation::Nack(None) | Confirmation::NotRequested => {
                Err(PublishError::retry(RabbitMqError::Nacked {
                    exchange: exchange.to_owned(),
                }))
            }
        }
    }

    fn properties_for(&self, message: &OutboxMessage) -> Result<BasicProperties, RabbitMqError> {
        let short = |name: &str, value: &str| {
            ShortString::try_new(value).map_err(|_| RabbitMqError::TooLong {
                name: name.to_owned(),
            })
        };
        let mut headers = FieldTable::default();
        for (name, value) in message_headers(message) {
            headers.insert(
                short("a header name", &name)?,
                AMQPValue::LongString(LongString::from(value)),
            );
        }
        let timestamp = u64::try_from(message.created_at.timestamp()).unwrap_or_default();
        Ok(BasicProperties::default()
            .with_message_id(short("message_id", &message.id.to_string())?)
            .with_content_type(short("content_type", &message.content_type)?)
            .with_type(short("type", &message.event_type)?)
            .with_timestamp(timestamp)
            .with_delivery_mode(if self.persistent { 2 } else { 1 })
            .with_headers(headers))
    }
}

#[async_trait]
impl Publisher for RabbitMqPublisher {
    fn name(&self) -> &str {
        "rabbitmq"
    }

    async fn publish(&self, messages: &[OutboxMessage]) -> Vec<Result<(), PublishError>> {
        let (connection, channel) = match self.link().await {
            Ok(link) => link,
            Err(error) => {
                let reason = error.to_string();
                return messages
                    .iter()
                    .map(|_| Err(PublishError::retry(reason.clone())))
                    .collect();
            }
        };
        let missing = self.check_exchanges(&connection, messages).await;
        let channel = &channel;
        let missing = &missing;
        publish_in_key_order(messages, self.max_keys_in_flight, |message| async move {
            if let Ok((exchange, _)) = split_destination(&message.destination)
                && let Some(error) = missing.get(exchange)
            {
                return Err(match error {
                    RabbitMqError::NoExchange { exchange } => {
                        PublishError::permanent(RabbitMqError::NoExchange {
                            exchange: exchange.clone(),
                        })
                    }
                    other => PublishError::retry(other.to_string()),
                });
            }
            self.send(channel, message).await
        })
        .await
    }
}

async fn open(uri: &str, properties: &ConnectionProperties) -> Result<Link, RabbitMqError> {
    let connection = Connection::connect(uri, properties.clone())
        .await
        .map_err(RabbitMqError::Connection)?;
    let channel = confirm_channel(&connection).await?;
    Ok(Link {
        connection: Arc::new(connection),
        channel,
    })
}

async fn confirm_channel(connection: &Connection) -> Result<Channel, RabbitMqError> {
    let channel = connection
        .create_channel()
        .await
        .map_err(RabbitMqError::Connection)?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(RabbitMqError::Connection)?;
    Ok(channel)
}

fn split_destination(destination: &str) -> Result<(&str, &str), RabbitMqError> {
    destination
        .split_once('/')
        .filter(|(exchange, key)| exchange.len() <= 255 && key.len() <= 255)
        .ok_or_else(|| RabbitMqError::InvalidDestination {
            destination: destination.to_owned(),
        })
}

fn is_not_found(error: &lapin::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::ProtocolError(amqp)
            if matches!(amqp.kind(), AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_split_at_the_first_slash() {
        assert_eq!(
            split_destination("orders/order.placed").unwrap(),
            ("orders", "order.placed")
        );
        assert_eq!(split_destination("/invoices").unwrap(), ("", "invoices"));
        assert_eq!(split_destination("events/a/b").unwrap(), ("events", "a/b"));
        assert!(matches!(
            split_destination("no-slash"),
            Err(RabbitMqError::InvalidDestination { .. })
        ));
    }
}
