//! The RabbitMQ publisher against the broker of `MINK_TEST_AMQP_URL`.

use std::time::Duration;

use futures::StreamExt;
use mink::outbox::Publisher;
use mink::outbox::publishers::rabbitmq::lapin::options::{
    BasicConsumeOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use mink::outbox::publishers::rabbitmq::lapin::types::{AMQPValue, FieldTable};
use mink::outbox::publishers::rabbitmq::lapin::{
    Channel, Connection, ConnectionProperties, ExchangeKind,
};
use mink::outbox::publishers::rabbitmq::{RabbitMqError, RabbitMqPublisher};

use super::support::{Outcome, assert_per_key_order, batch, error_of, message, outcomes, unique};

/// The broker's URL, or `None` after saying the test is skipped.
fn amqp_url(test: &str) -> Option<String> {
    let url = std::env::var("MINK_TEST_AMQP_URL").ok();
    if url.is_none() {
        mink_tests::skip(&format!("{test} (MINK_TEST_AMQP_URL not set)"));
    }
    url
}

/// An exchange of its own with an exclusive queue bound on routing key
/// `bound`, declared on the test's own connection.
struct Topology {
    _connection: Connection,
    channel: Channel,
    exchange: String,
    queue: String,
}

impl Topology {
    async fn declare(url: &str) -> Topology {
        let connection = Connection::connect(url, ConnectionProperties::default())
            .await
            .unwrap();
        let channel = connection.create_channel().await.unwrap();
        let id = unique();
        let topology = Topology {
            _connection: connection,
            channel,
            exchange: format!("mink-publishers-{id}"),
            queue: format!("mink-publishers-{id}"),
        };
        topology.declare_exchange().await;
        topology
            .channel
            .queue_declare(
                topology.queue.as_str().into(),
                QueueDeclareOptions {
                    exclusive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap();
        topology.bind().await;
        topology
    }

    async fn declare_exchange(&self) {
        self.channel
            .exchange_declare(
                self.exchange.as_str().into(),
                ExchangeKind::Direct,
                ExchangeDeclareOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
    }

    async fn bind(&self) {
        self.channel
            .queue_bind(
                self.queue.as_str().into(),
                self.exchange.as_str().into(),
                "bound".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
    }

    fn destination(&self, routing_key: &str) -> String {
        format!("{}/{routing_key}", self.exchange)
    }

    /// How many messages wait in the queue (exact once publishes are
    /// confirmed: a confirm means the queue has the message).
    async fn waiting(&self) -> u32 {
        self.channel
            .queue_declare(
                self.queue.as_str().into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap()
            .message_count()
    }

    /// Consumes `count` messages: (message_id, Mink-Key header, seq).
    async fn consume(&self, count: usize) -> Vec<(String, String, u64)> {
        let mut consumer = self
            .channel
            .basic_consume(
                self.queue.as_str().into(),
                format!("test-{}", unique()).as_str().into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap();
        let mut seen = Vec::with_capacity(count);
        while seen.len() < count {
            let delivery = tokio::time::timeout(Duration::from_secs(30), consumer.next())
                .await
                .expect("a confirmed message never reached the consumer")
                .unwrap()
                .unwrap();
            let properties = &delivery.properties;
            assert_eq!(
                properties.content_type().as_ref().map(|c| c.as_str()),
                Some("text/plain")
            );
            let id = properties.message_id().as_ref().unwrap().to_string();
            let headers = properties.headers().as_ref().unwrap();
            let key = match headers.inner().get("Mink-Key") {
                Some(AMQPValue::LongString(key)) => key.to_string(),
                other => panic!("Mink-Key header: {other:?}"),
            };
            let seq = String::from_utf8_lossy(&delivery.data).parse().unwrap();
            seen.push((id, key, seq));
        }
        seen
    }

    async fn delete_exchange(&self) {
        self.channel
            .exchange_delete(
                self.exchange.as_str().into(),
                ExchangeDeleteOptions::default(),
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn confirmed_messages_reach_the_bound_queue_with_their_id_in_key_order() {
    let Some(url) = amqp_url("RabbitMQ publisher: confirmed delivery") else {
        return;
    };
    let topology = Topology::declare(&url).await;
    let publisher = RabbitMqPublisher::connect(&url).await.unwrap();
    let messages = batch(&topology.destination("bound"), 5, 12);

    let results = publisher.publish(&messages).await;

    assert!(
        outcomes(&results).iter().all(|o| *o == Outcome::Delivered),
        "{results:?}"
    );
    assert_eq!(topology.waiting().await as usize, messages.len());
    let seen = topology.consume(messages.len()).await;
    let mut ids: Vec<&str> = seen.iter().map(|(id, _, _)| id.as_str()).collect();
    ids.sort_unstable();
    let mut sent: Vec<String> = messages.iter().map(|m| m.id.to_string()).collect();
    sent.sort_unstable();
    assert_eq!(ids, sent);
    assert_per_key_order(seen.iter().map(|(_, k, s)| (k.as_str(), *s)));
    topology.delete_exchange().await;
}

#[tokio::test]
async fn an_unroutable_message_or_a_missing_exchange_is_not_delivered() {
    let Some(url) = amqp_url("RabbitMQ publisher: unroutable messages") else {
        return;
    };
    let topology = Topology::declare(&url).await;
    let publisher = RabbitMqPublisher::connect(&url).await.unwrap();
    let missing = format!("mink-publishers-missing-{}", unique());
    let messages = vec![
        message(&topology.destination("nobody-listens"), "a", 0),
        message(&topology.destination("bound"), "b", 0),
        message(&format!("{missing}/bound"), "c", 0),
        message(&topology.destination("bound"), "d", 0),
        message("no-slash-here", "e", 0),
    ];

    let results = publisher.publish(&messages).await;

    assert_eq!(
        outcomes(&results),
        [
            Outcome::Permanent,
            Outcome::Delivered,
            Outcome::Permanent,
            Outcome::Delivered,
            Outcome::Permanent,
        ]
    );
    let unroutable = error_of(&results[0]).downcast_ref::<RabbitMqError>();
    assert!(
        matches!(unroutable, Some(RabbitMqError::Unroutable { routing_key, reply_code: 312, .. }) if routing_key == "nobody-listens"),
        "{unroutable:?}"
    );
    let no_exchange = error_of(&results[2]).downcast_ref::<RabbitMqError>();
    assert!(
        matches!(no_exchange, Some(RabbitMqError::NoExchange { exchange }) if *exchange == missing),
        "{no_exchange:?}"
    );
    let invalid = error_of(&results[4]).downcast_ref::<RabbitMqError>();
    assert!(
        matches!(invalid, Some(RabbitMqError::InvalidDestination { .. })),
        "{invalid:?}"
    );
    assert_eq!(topology.waiting().await, 2, "only the routable messages");
    let seen = topology.consume(2).await;
    let delivered: Vec<&str> = seen.iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(delivered, ["b", "d"]);
    topology.delete_exchange().await;
}

#[tokio::test]
async fn a_channel_the_broker_closed_is_reopened_for_the_next_batch() {
    let Some(url) = amqp_url("RabbitMQ publisher: channel recovery") else {
        return;
    };
    let topology = Topology::declare(&url).await;
    let publisher = RabbitMqPublisher::connect(&url).await.unwrap();
    let destination = topology.destination("bound");
    let first = publisher.publish(&[message(&destination, "k", 0)]).await;
    assert_eq!(outcomes(&first), [Outcome::Delivered]);

    // The exchange disappears after the publisher checked it: the broker
    // closes the publisher's channel on the next publish.
    topology.delete_exchange().await;
    let lost = publisher.publish(&[message(&destination, "k", 1)]).await;
    assert_eq!(outcomes(&lost), [Outcome::Retry], "{lost:?}");

    topology.declare_exchange().await;
    topology.bind().await;
    let again = publisher.publish(&[message(&destination, "k", 1)]).await;
    assert_eq!(outcomes(&again), [Outcome::Delivered], "{again:?}");
    let seen = topology.consume(2).await;
    let seqs: Vec<u64> = seen.iter().map(|(_, _, s)| *s).collect();
    assert_eq!(seqs, [0, 1]);
    topology.delete_exchange().await;
}
