//! The JetStream publisher against the NATS server of `MINK_TEST_NATS_URL`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use mink::outbox::publishers::HeldBack;
use mink::outbox::publishers::nats::async_nats::jetstream::{self, consumer, stream};
use mink::outbox::publishers::nats::{NatsError, NatsPublisher, async_nats};
use mink::outbox::{OutboxMessage, Publisher};

use super::support::{Outcome, assert_per_key_order, batch, error_of, message, outcomes, unique};

/// The server's URL, or `None` after saying the test is skipped.
pub(super) fn nats_url(test: &str) -> Option<String> {
    let url = std::env::var("MINK_TEST_NATS_URL").ok();
    if url.is_none() {
        mink_tests::skip(&format!("{test} (MINK_TEST_NATS_URL not set)"));
    }
    url
}

/// A memory stream of its own with a two-minute duplicate window, capturing
/// `<prefix>.>`; each test deletes its stream at the end.
pub(super) struct TestStream {
    jetstream: jetstream::Context,
    name: String,
    pub(super) subject: String,
}

impl TestStream {
    pub(super) async fn create(client: &async_nats::Client) -> TestStream {
        let jetstream = jetstream::new(client.clone());
        let id = unique();
        let name = format!("mink_publishers_{id}");
        let prefix = format!("mink-test.{id}");
        jetstream
            .create_stream(stream::Config {
                name: name.clone(),
                subjects: vec![format!("{prefix}.>")],
                storage: stream::StorageType::Memory,
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .unwrap();
        TestStream {
            jetstream,
            name,
            subject: format!("{prefix}.orders"),
        }
    }

    pub(super) async fn stored(&self) -> u64 {
        let mut stream = self.jetstream.get_stream(&self.name).await.unwrap();
        stream.info().await.unwrap().state.messages
    }

    /// Everything in the stream, read by a consumer: (message id, key,
    /// seq), in stream order.
    async fn consume(&self) -> Vec<(String, String, u64)> {
        self.consume_raw()
            .await
            .into_iter()
            .map(|(id, key, payload)| {
                let seq = String::from_utf8_lossy(&payload).parse().unwrap();
                (id, key, seq)
            })
            .collect()
    }

    /// Everything in the stream, read by a consumer: (message id, key,
    /// payload), in stream order.
    pub(super) async fn consume_raw(&self) -> Vec<(String, String, Vec<u8>)> {
        let stream = self.jetstream.get_stream(&self.name).await.unwrap();
        let consumer: consumer::PullConsumer = stream
            .create_consumer(consumer::pull::Config {
                deliver_policy: consumer::DeliverPolicy::All,
                ack_policy: consumer::AckPolicy::None,
                ..Default::default()
            })
            .await
            .unwrap();
        let expected = self.stored().await as usize;
        let mut seen = Vec::with_capacity(expected);
        let mut empty_fetches = 0;
        while seen.len() < expected && empty_fetches < 3 {
            let mut fetched = consumer
                .fetch()
                .max_messages(1_000)
                .expires(Duration::from_secs(2))
                .messages()
                .await
                .unwrap();
            let before = seen.len();
            while let Some(message) = fetched.next().await {
                let message = message.unwrap();
                let headers = message.headers.as_ref().unwrap();
                let header = |name: &str| headers.get(name).unwrap().as_str().to_owned();
                seen.push((
                    header("Nats-Msg-Id"),
                    header("Mink-Key"),
                    message.payload.to_vec(),
                ));
            }
            if seen.len() == before {
                empty_fetches += 1;
            }
        }
        seen
    }

    pub(super) async fn delete(self) {
        let _ = self.jetstream.delete_stream(&self.name).await;
    }
}

#[tokio::test]
async fn a_batch_is_delivered_on_its_acks_and_a_second_send_is_stored_once() {
    let Some(url) = nats_url("NATS publisher: deduplication") else {
        return;
    };
    let client = async_nats::connect(&url).await.unwrap();
    let stream = TestStream::create(&client).await;
    let publisher = NatsPublisher::new(client);
    let messages = batch(&stream.subject, 4, 10);

    let first = publisher.publish(&messages).await;
    let second = publisher.publish(&messages).await;

    assert!(
        outcomes(&first).iter().all(|o| *o == Outcome::Delivered),
        "{first:?}"
    );
    assert!(
        outcomes(&second).iter().all(|o| *o == Outcome::Delivered),
        "{second:?}"
    );
    assert_eq!(stream.stored().await, messages.len() as u64);
    let seen = stream.consume().await;
    let ids: Vec<String> = seen.iter().map(|(id, _, _)| id.clone()).collect();
    let sent: Vec<String> = messages.iter().map(|m| m.id.to_string()).collect();
    let mut sorted_ids = ids.clone();
    sorted_ids.sort();
    let mut sorted_sent = sent;
    sorted_sent.sort();
    assert_eq!(sorted_ids, sorted_sent, "every id exactly once");
    assert_per_key_order(seen.iter().map(|(_, k, s)| (k.as_str(), *s)));
    stream.delete().await;
}

#[tokio::test]
async fn each_message_gets_its_own_result() {
    let Some(url) = nats_url("NATS publisher: per-message results") else {
        return;
    };
    let client = async_nats::connect(&url).await.unwrap();
    let stream = TestStream::create(&client).await;
    let publisher = NatsPublisher::new(client).ack_timeout(Duration::from_secs(5));
    let nowhere = format!("mink-test-nowhere.{}", unique());
    let messages = vec![
        message(&stream.subject, "a", 0),
        message(&nowhere, "b", 0),
        message(&stream.subject, "a", 1),
        message(&stream.subject, "b", 1),
        message("not a subject", "c", 0),
        message("mink-test.*", "d", 0),
    ];

    let results = publisher.publish(&messages).await;

    assert_eq!(
        outcomes(&results),
        [
            Outcome::Delivered,
            Outcome::Retry,
            Outcome::Delivered,
            Outcome::Retry,
            Outcome::Permanent,
            Outcome::Permanent,
        ]
    );
    let no_stream = error_of(&results[1]).downcast_ref::<NatsError>();
    assert!(
        matches!(no_stream, Some(NatsError::NoStream { subject }) if *subject == nowhere),
        "{no_stream:?}"
    );
    let held = error_of(&results[3]).downcast_ref::<HeldBack>().unwrap();
    assert_eq!(
        held.earlier, messages[1].id,
        "b's second waits for its first"
    );
    for invalid in &results[4..] {
        let error = error_of(invalid).downcast_ref::<NatsError>();
        assert!(
            matches!(error, Some(NatsError::InvalidSubject { .. })),
            "{error:?}"
        );
    }
    assert_eq!(stream.stored().await, 2);
    stream.delete().await;
}

#[tokio::test]
async fn a_relay_killed_mid_batch_then_restarted_leaves_each_id_once_in_key_order() {
    let Some(url) = nats_url("NATS publisher: killed mid-batch") else {
        return;
    };
    let client = async_nats::connect(&url).await.unwrap();
    let stream = TestStream::create(&client).await;
    let messages: Arc<Vec<OutboxMessage>> = Arc::new(batch(&stream.subject, 100, 100));
    let total = messages.len() as u64;

    // The first relay: publishing on its own connection, killed once part
    // of the batch is stored.
    let doomed = NatsPublisher::connect(&url).await.unwrap();
    let run = {
        let messages = messages.clone();
        tokio::spawn(async move { doomed.publish(&messages).await })
    };
    while stream.stored().await < 200 && !run.is_finished() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(!run.is_finished(), "the batch finished before the kill");
    run.abort();
    let _ = run.await;
    let stored_at_kill = stream.stored().await;
    assert!(
        (200..total).contains(&stored_at_kill),
        "killed mid-batch: {stored_at_kill} of {total} stored"
    );

    // The restarted relay sends the whole batch again on a new connection.
    let restarted = NatsPublisher::connect(&url).await.unwrap();
    let results = restarted.publish(&messages).await;

    assert!(results.iter().all(Result::is_ok));
    assert_eq!(stream.stored().await, total);
    let seen = stream.consume().await;
    assert_eq!(seen.len() as u64, total);
    let distinct: HashSet<&str> = seen.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(distinct.len() as u64, total, "an id was stored twice");
    let sent: HashSet<String> = messages.iter().map(|m| m.id.to_string()).collect();
    assert!(distinct.iter().all(|id| sent.contains(*id)));
    assert_per_key_order(seen.iter().map(|(_, k, s)| (k.as_str(), *s)));
    stream.delete().await;
}
