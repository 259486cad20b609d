//! A `#[saga]` run by the application's saga manager, end to end on the
//! in-memory store: events appended to the log reach the generated
//! `route` and `handle`, the commands it returns go through the bus to
//! their handlers, and a failing handler has the completed steps undone by
//! the generated compensations. Each test waits on outcomes, with a
//! bound, never on time.

use std::time::{Duration, Instant};

use mink::prelude::*;
use mink::saga::{Saga, SagaOptions};
use mink::store::{SagaQuery, SagaRecord, SagaStatus};

use super::domain::*;

/// How long a test waits for something that must happen.
const PATIENCE: Duration = Duration::from_secs(30);

async fn app() -> Mink {
    Mink::builder()
        .store(InMemoryStore::new())
        .registered_projections(false)
        .saga::<Checkout>()
        .saga_options(SagaOptions {
            poll_interval: Duration::from_millis(10),
            backoff_initial: Duration::from_millis(5),
            backoff_max: Duration::from_millis(20),
            ..SagaOptions::default()
        })
        .build()
        .await
        .expect("an application running the checkout saga")
}

async fn append<E: mink::Event>(app: &Mink, stream: &str, event: E) {
    let new = event
        .to_new_event(&mink::JsonSerializer, EventMetadata::default())
        .expect("an encodable event");
    app.store()
        .append_to_stream(stream, ExpectedVersion::Any, vec![new])
        .await
        .expect("an append");
}

/// Polls until `check` holds, failing after [`PATIENCE`] with `what`.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < PATIENCE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn stock(app: &Mink, sku: &str) -> Option<(u32, u32)> {
    let stock = app.load_aggregate::<Stock>(sku).await.ok()?;
    Some((stock.state().reserved, stock.state().releases))
}

async fn payment(app: &Mink, id: &str) -> Option<(u64, bool)> {
    let payment = app.load_aggregate::<Payment>(id).await.ok()?;
    Some((payment.state().charged_cents, payment.state().refunded))
}

async fn checkout(app: &Mink, order: &str) -> Option<SagaRecord> {
    let sagas = app
        .sagas()
        .list(&SagaQuery {
            saga_type: Some(Checkout::NAME.to_owned()),
            ..SagaQuery::default()
        })
        .await
        .expect("a saga list");
    sagas
        .into_iter()
        .find(|s| serde_json::from_slice::<Checkout>(&s.state).is_ok_and(|c| c.order_id == order))
}

async fn place(app: &Mink, order: &str, sku: &str) {
    append(
        app,
        &format!("saga_macro_order-{order}"),
        OrderPlaced {
            order_id: order.into(),
            sku: sku.into(),
            qty: 2,
            amount_cents: 900,
        },
    )
    .await;
    eventually("the stock to be reserved", || async {
        stock(app, sku).await == Some((2, 0))
    })
    .await;
    append(
        app,
        &format!("saga_macro_warehouse-{sku}"),
        StockReserved {
            order_id: order.into(),
        },
    )
    .await;
    eventually("the payment to be charged", || async {
        payment(app, &format!("pay-{order}")).await == Some((900, false))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manager_runs_the_generated_saga_to_completion() {
    let app = app().await;
    place(&app, "run-e1", "run-lamp").await;
    // The payment event finds the saga by the association its
    // `reserved` handler added.
    append(
        &app,
        "saga_macro_psp-pay-run-e1",
        PaymentEvent::Accepted {
            payment_id: "pay-run-e1".into(),
        },
    )
    .await;
    eventually("the checkout to complete", || async {
        checkout(&app, "run-e1")
            .await
            .is_some_and(|s| s.status == SagaStatus::Completed)
    })
    .await;
    assert!(
        SHIPPED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&"run-e1".to_owned())
    );
    let state: Checkout =
        serde_json::from_slice(&checkout(&app, "run-e1").await.unwrap().state).unwrap();
    assert!(state.paid);
    assert_eq!(
        state.last_stream.as_deref(),
        Some("saga_macro_psp-pay-run-e1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_handler_has_the_completed_steps_compensated() {
    let app = app().await;
    place(&app, "run-e2", "run-desk").await;
    append(
        &app,
        "saga_macro_psp-pay-run-e2",
        PaymentEvent::Declined {
            payment_id: "pay-run-e2".into(),
            reason: "card expired".into(),
        },
    )
    .await;
    eventually("the checkout to be compensated", || async {
        checkout(&app, "run-e2")
            .await
            .is_some_and(|s| s.status == SagaStatus::Compensated)
    })
    .await;
    // Both completed steps are undone by the generated compensations.
    assert_eq!(stock(&app, "run-desk").await, Some((2, 1)));
    assert_eq!(payment(&app, "pay-run-e2").await, Some((900, true)));
    let record = checkout(&app, "run-e2").await.unwrap();
    let error = record.last_error.unwrap_or_default();
    assert!(error.contains("card expired"), "{error}");
}
