//! Mistakes in an outbox's configuration are refused when the application
//! is built, naming what to fix.

use std::sync::Arc;

use mink::outbox::{Outbox, Publisher, RelayOptions, Route};
use mink::{Error, EventStore, Mink};

use super::{RECORDER, Recorder};

async fn build(outbox: Outbox) -> Result<Mink, Error> {
    Mink::builder()
        .store(mink::InMemoryStore::new())
        .outbox(outbox)
        .build()
        .await
}

fn recorder() -> Arc<dyn Publisher> {
    Recorder::new()
}

fn refusal(result: Result<Mink, Error>) -> String {
    match result {
        Err(Error::Configuration(message)) => message,
        Err(other) => panic!("expected a configuration error, got {other}"),
        Ok(_) => panic!("expected a configuration error, got an application"),
    }
}

#[tokio::test]
async fn two_routes_of_one_name_are_refused() {
    let message = refusal(
        build(
            Outbox::new()
                .route(Route::for_type("A").named("same").to(RECORDER, "x"))
                .route(Route::for_type("B").named("same").to(RECORDER, "y"))
                .shared_publisher(recorder()),
        )
        .await,
    );
    assert!(message.contains("`same`"), "{message}");
}

#[tokio::test]
async fn a_route_without_a_publisher_is_refused() {
    let message = refusal(build(Outbox::new().route(Route::for_type("A"))).await);
    assert!(message.contains(".to(publisher, destination)"), "{message}");
}

#[tokio::test]
async fn a_route_to_a_publisher_not_given_is_refused() {
    let message = refusal(
        build(
            Outbox::new()
                .route(Route::for_type("A").to("nats", "orders"))
                .shared_publisher(recorder()),
        )
        .await,
    );
    assert!(message.contains("publisher `nats`"), "{message}");
}

#[tokio::test]
async fn relay_options_out_of_range_are_refused() {
    let message = refusal(
        build(
            Outbox::new()
                .route(Route::for_type("A").to(RECORDER, "x"))
                .shared_publisher(recorder())
                .options(RelayOptions {
                    batch_size: 0,
                    ..RelayOptions::default()
                }),
        )
        .await,
    );
    assert!(message.contains("batch_size"), "{message}");
}

#[tokio::test]
async fn an_instance_without_a_relay_only_writes() {
    let app = build(
        Outbox::new()
            .route(Route::for_type("A").to("elsewhere", "x"))
            .run_relay(false),
    )
    .await
    .expect("an application that writes messages for another relay");
    assert!(app.outbox_relay().is_none());
    let store: Arc<dyn EventStore> = Arc::clone(app.store());
    super::append(&store, "a-1", 1).await;
    assert_eq!(
        app.outbox_store().unwrap().counts().await.unwrap().pending,
        0
    );
    let event = mink::NewEvent::new("A", b"{}".to_vec());
    store
        .append_to_stream("a-2", mink::ExpectedVersion::Any, vec![event])
        .await
        .unwrap();
    assert_eq!(
        app.outbox_store().unwrap().counts().await.unwrap().pending,
        1
    );
}
