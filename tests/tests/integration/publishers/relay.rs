//! End to end: events appended with an outbox route, relayed to NATS
//! JetStream, the relay killed mid-batch and restarted.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use mink::outbox::publishers::nats::{NatsPublisher, async_nats};
use mink::outbox::{
    Outbox, OutboxMessage, PublishError, Publisher, Relay, RelayOptions, Route, message_id,
};
use mink::{EventStore, ExpectedVersion, NewEvent};
use serde_json::json;
use tokio::sync::Notify;

use super::nats::{TestStream, nats_url};
use super::support::assert_per_key_order;

const ROUTE: &str = "to-nats";

/// The first relay's publisher: sends the first half of its first batch
/// to JetStream, then hangs there, as a process does when it is killed
/// after publishing and before recording the results.
struct DiesMidBatch {
    inner: NatsPublisher,
    reached: Arc<Notify>,
}

#[async_trait]
impl Publisher for DiesMidBatch {
    fn name(&self) -> &str {
        "nats"
    }

    async fn publish(&self, messages: &[OutboxMessage]) -> Vec<Result<(), PublishError>> {
        let half = messages.len() / 2;
        let sent = self.inner.publish(&messages[..half]).await;
        assert!(sent.iter().all(Result::is_ok), "{sent:?}");
        self.reached.notify_one();
        std::future::pending().await
    }
}

fn options() -> RelayOptions {
    RelayOptions {
        batch_size: 500,
        concurrency: 1,
        // A dead relay's claims come back after this long.
        claim_ttl: Duration::from_secs(2),
        backoff_min: Duration::from_millis(10),
        backoff_max: Duration::from_millis(100),
        max_attempts: 10,
        poll_interval: Duration::from_millis(20),
        retention: None,
        purge_interval: Duration::from_secs(3600),
    }
}

#[tokio::test]
async fn a_relay_killed_mid_batch_and_restarted_leaves_every_message_once_in_jetstream() {
    let Some(url) = nats_url("outbox relay to NATS, killed mid-batch") else {
        return;
    };
    let client = async_nats::connect(&url).await.unwrap();
    let stream = TestStream::create(&client).await;
    let dir = tempfile::tempdir().unwrap();
    let sqlite = mink::SqliteStore::open(dir.path().join("relay.db"))
        .await
        .unwrap();
    let base: Arc<dyn EventStore> = Arc::new(sqlite);
    let reached = Arc::new(Notify::new());
    let attached = Outbox::new()
        .route(Route::filter(ROUTE, |_| true).to("nats", stream.subject.clone()))
        .publisher(DiesMidBatch {
            inner: NatsPublisher::new(client.clone()),
            reached: reached.clone(),
        })
        .options(options())
        .attach(Arc::clone(&base))
        .unwrap();
    let store = attached.store;

    // 20 streams of 6 events, interleaved.
    let mut expected = Vec::new();
    for n in 0..6u64 {
        for s in 0..20 {
            let stream_id = format!("order-{s}");
            let event = NewEvent::json("Numbered", &json!({ "n": n })).unwrap();
            expected.push(message_id(event.event_id, ROUTE).to_string());
            store
                .append_to_stream(&stream_id, ExpectedVersion::Any, vec![event])
                .await
                .unwrap();
        }
    }

    // The first relay publishes half of its batch, then is killed.
    let doomed = attached.relay.unwrap();
    let run = tokio::spawn(async move { doomed.run_once().await });
    tokio::time::timeout(Duration::from_secs(60), reached.notified())
        .await
        .expect("the first relay never published");
    run.abort();
    let _ = run.await;
    let stored_at_kill = stream.stored().await;
    assert_eq!(stored_at_kill, 10, "half of the first batch (one per key)");

    // A restarted relay, with a fresh connection, takes over once the dead
    // relay's claims expire, and sends everything (the first ten again).
    let restarted = Relay::new(
        base.outbox_store().unwrap(),
        vec![Arc::new(NatsPublisher::connect(&url).await.unwrap())],
        options(),
    )
    .unwrap();
    let total = expected.len() as u64;
    let mut passes = 0;
    loop {
        let pass = restarted.run_once().await.unwrap();
        if pass.claimed == 0 {
            if stream.stored().await >= total {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        passes += 1;
        assert!(
            passes < 3_000,
            "the restarted relay did not drain the outbox"
        );
    }

    assert_eq!(stream.stored().await, total);
    let seen = stream.consume_raw().await;
    let ids: HashSet<&str> = seen.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(ids.len(), seen.len(), "a message was stored twice");
    let expected: HashSet<&str> = expected.iter().map(String::as_str).collect();
    assert_eq!(ids, expected, "every message, by its deterministic id");
    let order: Vec<(String, u64)> = seen
        .iter()
        .map(|(_, key, payload)| {
            let body: serde_json::Value = serde_json::from_slice(payload).unwrap();
            (key.clone(), body["n"].as_u64().unwrap())
        })
        .collect();
    assert_per_key_order(order.iter().map(|(k, n)| (k.as_str(), *n)));
    stream.delete().await;
}
