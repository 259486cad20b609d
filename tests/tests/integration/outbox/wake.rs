//! On PostgreSQL, a relay in another store instance (another pool, another
//! notifier, as in another process) is woken by the `NOTIFY` the writing
//! instance sends after its commit, not by its poll.

use std::sync::Arc;
use std::time::Duration;

use mink::EventStore;
use mink::adapters::postgres::PostgresStore;
use mink::outbox::{Relay, RelayOptions};

use super::{Backend, PATIENCE, Recorder, all_id, append, quick_options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_relay_elsewhere_is_woken_by_notify() {
    let Some(url) = crate::postgres::support::server_url() else {
        return;
    };
    let Some(backend) = Backend::postgres().await else {
        return;
    };
    let schema = backend.postgres_schema().expect("a schema");
    let elsewhere: Arc<dyn EventStore> = Arc::new(
        PostgresStore::builder(url)
            .schema(schema)
            .build()
            .await
            .expect("a second store instance"),
    );
    let recorder = Recorder::new();
    // Polling once an hour: only a notification delivers in time.
    let options = RelayOptions {
        poll_interval: Duration::from_secs(3600),
        ..quick_options()
    };
    let publisher: Arc<dyn mink::outbox::Publisher> = recorder.clone();
    let relay = Relay::new(
        elsewhere.outbox_store().expect("an outbox"),
        vec![publisher],
        options,
    )
    .expect("a relay");
    let changes = elsewhere.log_changes();
    let running = relay.start(changes);
    // The relay has looked once and found nothing; its listener connects
    // in the background, so append until a message arrives (each append
    // is a new commit and a new notification).
    let store = backend.with_all_routed();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut sent = Vec::new();
    loop {
        sent.push(all_id(append(&store, "wake-pg", sent.len() as u64).await));
        tokio::time::sleep(Duration::from_millis(100)).await;
        if !recorder.delivered_ids().is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the relay elsewhere was never woken"
        );
    }
    // The listener is up now (its first connection may itself wake the
    // relay): one more commit, and only its notification can deliver it.
    let last = all_id(append(&store, "wake-pg", 1000).await);
    while !recorder.delivered_ids().contains(&last) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the relay elsewhere was not woken by the notification"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    running.stop().await;
    let delivered = recorder.delivered_ids();
    assert!(delivered.iter().all(|id| sent.contains(id) || *id == last));
}
